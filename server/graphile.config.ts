// The PostGraphile preset: app_public becomes the GraphQL API.
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgService } from 'postgraphile/adaptors/pg';
import { maskError } from './mask_error.ts';
import { LoginPlugin } from './plugins/login.ts';
import { PostgisCodecPlugin } from './plugins/postgis_codec.ts';
import { ValidationErrorCodePlugin } from './plugins/validation_error_code.ts';
import { LiveSubscriptionPlugin, WebsocketSubscriptionsOnlyPlugin } from './plugins/live_subscription.ts';

export interface PresetOptions {
  /** The pool of app_authenticator connections GraphQL requests run on (the caller owns and ends it). */
  pool: import('pg').Pool;
  /** A superuser's, for watch mode only. */
  rootUrl?: string;
  isDev: boolean;
  /** Turns a request into pgSettings (role, app.session_id). */
  pgSettings: (req: import('express').Request) => Record<string, string>;
  /**
   * The same for a websocket (GraphQL subscriptions): Express middleware never
   * runs there, so identity comes from the upgrade request (server/live/websocket_guard.ts).
   */
  websocketPgSettings?: (request: import('node:http').IncomingMessage) => Record<string, string>;
  /** What subscriptions need in their context: the live hub and who counts as one client. */
  liveContext?: (requestContext: Partial<Grafast.RequestContext>) => Record<string, unknown>;
  exportSchemaPath?: string;
  /** Plugins that need run-time configuration (e.g. payments' Stripe client). */
  plugins?: GraphileConfig.Plugin[];
}

export function makePreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    // graphile/starter's names: `spots`, `spot(rowId)`, `spot.rate` instead of
    // `allSpots`, `spotByRowId`, `spot.rateByRateId`.
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
    plugins: [PostgisCodecPlugin, ValidationErrorCodePlugin, LoginPlugin, LiveSubscriptionPlugin,
      WebsocketSubscriptionsOnlyPlugin, ...(options.plugins ?? [])],
    pgServices: [
      makePgService({
        pool: options.pool,
        superuserConnectionString: options.isDev ? options.rootUrl : undefined,
        schemas: ['app_public'],
        // Connections default to app_anonymous; introspect as the login role,
        // whose memberships decide which operations the schema offers.
        pgSettingsForIntrospection: { role: 'app_authenticator' },
      }),
    ],
    grafast: {
      context(requestContext) {
        const req = requestContext.expressv4?.req;
        const ws = requestContext.ws?.request;
        const pgSettings = req ? options.pgSettings(req) : ws && options.websocketPgSettings ? options.websocketPgSettings(ws) : {};
        return { pgSettings, ...options.liveContext?.(requestContext) };
      },
      explain: options.isDev,
    },
    grafserv: {
      graphqlPath: '/graphql',
      graphiql: options.isDev,
      graphiqlOnGraphQLGET: options.isDev,
      graphiqlPath: '/graphiql',
      watch: false,
      maskError,
      // Subscriptions (graphql-ws on graphqlPath); the upgrade is guarded by
      // server/live/websocket_guard.ts and carries subscriptions only.
      websockets: true,
    },
    schema: {
      ...(options.exportSchemaPath ? { exportSchemaSDLPath: options.exportSchemaPath, sortExport: true } : {}),
    },
  };
}
