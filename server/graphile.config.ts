// The PostGraphile preset: app_public becomes the GraphQL API.
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { maskError } from './mask_error.ts';
import { makePipelinedPgService } from './pg_adaptor.ts';
import { LoginPlugin } from './plugins/login.ts';
import { PostgisCodecPlugin } from './plugins/postgis_codec.ts';
import { TimeCodecPlugin } from './plugins/time_codec.ts';
import { ValidationErrorCodePlugin } from './plugins/validation_error_code.ts';
import { StrictDatetimePlugin } from './plugins/strict_datetime.ts';
import { RequestShapePlugin } from './plugins/request_shape.ts';
import { SignUpGatePlugin } from './plugins/sign_up_gate.ts';
import { makeQueryLimitsPlugin, PageSizePlugin } from './query_limits.ts';
import { getOperationAST, type OperationTypeNode } from 'postgraphile/graphql';
import {
  HttpSubscriptionsRefusedPlugin,
  LiveSubscriptionPlugin,
  WebsocketSubscriptionsOnlyPlugin,
} from './plugins/live_subscription.ts';
import { ReservationResultInlinePlugin } from './plugins/reservation_result_inline.ts';
import { NoRowMutationErrorPlugin } from './plugins/no_row_mutation_error.ts';
import { PasswordCheckLimitPlugin } from './plugins/password_check_limit.ts';

export interface PresetOptions {
  /** The pool of app_authenticator connections GraphQL requests run on, made with `pipeline: true` (server/pg_adaptor.ts; the caller owns and ends it). */
  pool: import('pg').Pool;
  /** A superuser's, for watch mode only. */
  rootUrl?: string;
  isDev: boolean;
  /** The in-browser IDE (Ruru at /graphiql), and `extensions.explain` when a request asks for it. */
  ide: boolean;
  /** Whether `__schema`/`__type` are answered (else SMQ06). */
  introspection: boolean;
  /** Turns a request, and the kind of operation it runs, into pgSettings (role, app.session_id, client address). */
  pgSettings: (req: import('express').Request, operation: OperationTypeNode | undefined) => Record<string, string>;
  /**
   * The same for a websocket (GraphQL subscriptions): Express middleware never
   * runs there, so identity comes from the upgrade request (server/live/websocket_guard.ts).
   */
  websocketPgSettings?: (request: import('node:http').IncomingMessage) => Record<string, string>;
  /** What subscriptions need in their context: the live hub and who counts as one client. */
  liveContext?: (requestContext: Partial<Grafast.RequestContext>) => Record<string, unknown>;
  exportSchemaPath?: string;
  /**
   * The database a request reads from when it is not the primary (a read
   * replica, server/read_routing.ts): a withPgClient, or undefined for the primary.
   */
  readWithPgClient?: (
    req: import('express').Request,
    document: import('postgraphile/graphql').DocumentNode | undefined,
    operation: import('postgraphile/graphql').OperationDefinitionNode | null | undefined,
  ) => import('./read_routing.ts').WithPgClient | undefined;
  /** Called for every HTTP request whose operation runs (parsed and valid): the metrics label it (server/graphql_operation.ts). */
  onOperation?: (
    req: import('express').Request,
    document: import('postgraphile/graphql').DocumentNode,
    operation: import('postgraphile/graphql').OperationDefinitionNode,
  ) => void;
  /** Plugins that need run-time configuration (e.g. payments' Stripe client). */
  plugins?: GraphileConfig.Plugin[];
}

export function makePreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    // graphile/starter's names: `spots`, `spot(rowId)`, `spot.rate` instead of
    // `allSpots`, `spotByRowId`, `spot.rateByRateId`.
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
    plugins: [
      PostgisCodecPlugin,
      TimeCodecPlugin,
      ValidationErrorCodePlugin,
      StrictDatetimePlugin,
      RequestShapePlugin,
      PageSizePlugin,
      makeQueryLimitsPlugin({ introspection: options.introspection, explainAllowed: options.ide }),
      LoginPlugin,
      SignUpGatePlugin,
      LiveSubscriptionPlugin,
      WebsocketSubscriptionsOnlyPlugin,
      HttpSubscriptionsRefusedPlugin,
      ReservationResultInlinePlugin,
      NoRowMutationErrorPlugin,
      PasswordCheckLimitPlugin,
      ...(options.plugins ?? []),
    ],
    pgServices: [
      makePipelinedPgService({
        pool: options.pool,
        superuserConnectionString: options.isDev ? options.rootUrl : undefined,
        schemas: ['app_public'],
        // Connections default to app_anonymous; introspect as the login role,
        // whose memberships decide which operations the schema offers.
        pgSettingsForIntrospection: { role: 'app_authenticator' },
      }),
    ],
    grafast: {
      // The operation comes from the parsed document, whatever the body's media type was.
      context(requestContext, args) {
        const req = requestContext.expressv4?.req;
        const ws = requestContext.ws?.request;
        const operationAst = args.document ? getOperationAST(args.document, args.operationName) : undefined;
        const operation = operationAst?.operation;
        if (req && args.document && operationAst) options.onOperation?.(req, args.document, operationAst);
        const pgSettings = req
          ? options.pgSettings(req, operation)
          : ws && options.websocketPgSettings
            ? options.websocketPgSettings(ws)
            : {};
        // grafast merges this over the context the pgServices made (PgContextPlugin's
        // prepareArgs runs first), so a withPgClient here replaces the primary's for this request.
        const withPgClient = req ? options.readWithPgClient?.(req, args.document, operationAst) : undefined;
        return { pgSettings, ...(withPgClient ? { withPgClient } : {}), ...options.liveContext?.(requestContext) };
      },
      // Off unless a request asks for it (server/query_limits.ts).
      explain: false,
    },
    grafserv: {
      graphqlPath: '/graphql',
      graphiql: options.ide,
      graphiqlOnGraphQLGET: options.ide,
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
