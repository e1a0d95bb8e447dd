// Mounts the GraphQL API (POST /graphql) and, in development, the Ruru IDE.
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import { postgraphile } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import { makePreset } from '../graphile.config.ts';
import { identityOf, pgSettingsFor } from '../request_identity.ts';
import { makeWebsocketGuard, websocketClientKeyOf, websocketIdentityOf } from '../live/websocket_guard.ts';
import { liveClientKey, liveHubOf } from './installLiveEvents.ts';
import { sessionLookupOf } from './installSession.ts';
import { clientAddress } from './installRequestSettings.ts';
import type { ServerConfig } from '../config.ts';
import { makePaymentConfigPlugin } from '../plugins/payment_config.ts';
import { makePaymentsPlugin } from '../plugins/payments.ts';
import { makeSignInProvidersPlugin } from '../plugins/sign_in_providers.ts';
import { markGraphqlReady } from './installHealth.ts';
import { makePool } from './installDatabasePools.ts';
import { metricsOf } from './installMetrics.ts';
import { makeReadRouting, mayReadFromReplica, type ReadRouting } from '../read_routing.ts';

/** The schema plugins that need this server's configuration (also used by `npm run db:schema`). */
export function configuredPlugins(config: ServerConfig): GraphileConfig.Plugin[] {
  return [makePaymentsPlugin(config.stripe), makePaymentConfigPlugin(config.stripe), makeSignInProvidersPlugin(config)];
}

export async function installPostGraphile(
  app: Express,
  httpServer: Server,
  config: ServerConfig,
  onClose: (fn: () => Promise<void>) => void,
): Promise<void> {
  // Pipelined: a request's settings, its statement and the commit go in one round trip (server/pg_adaptor.ts).
  const pool = makePool(
    app,
    'graphql',
    { connectionString: config.db.authenticator, max: config.poolSize, pipeline: true },
    onClose,
  );
  const metrics = metricsOf(app);
  // READ_DATABASE_URL: anonymous search on a streaming replica (server/read_routing.ts).
  // A short connect timeout: an unreachable replica costs a request 2 s, then it is backed off.
  let reads: ReadRouting | undefined;
  if (config.readDatabaseUrl) {
    const replicaPool = makePool(
      app,
      'graphql_read',
      {
        connectionString: config.readDatabaseUrl,
        max: config.poolSize,
        connectionTimeoutMillis: 2_000,
        pipeline: true,
      },
      onClose,
    );
    reads = makeReadRouting(pool, replicaPool, () => metrics.observeReplicaFallback());
  }
  const pgl = postgraphile(
    makePreset({
      pool,
      rootUrl: config.db.root,
      isDev: config.isDev,
      ide: config.graphqlIde,
      introspection: config.graphqlIntrospection,
      pgSettings: pgSettingsFor,
      websocketPgSettings: (request): Record<string, string> => {
        const identity = websocketIdentityOf(request);
        return identity ? { role: identity.dbRole, 'app.session_id': identity.sessionId } : {};
      },
      liveContext: (rc) => ({
        liveHub: liveHubOf(app),
        liveClientKey: rc.ws
          ? websocketClientKeyOf(rc.ws.request)
          : liveClientKey(
              rc.expressv4?.res ? identityOf(rc.expressv4.res)?.userId : undefined,
              rc.expressv4 ? clientAddress(app, rc.expressv4.req) : undefined,
            ),
      }),
      readWithPgClient: (req, document, operation) => {
        const replica =
          reads && mayReadFromReplica(identityOf(req.res!) !== undefined, document, operation)
            ? reads.forReplicaRead()
            : undefined;
        metrics.observeRead(replica ? 'replica' : 'primary');
        return replica;
      },
      plugins: configuredPlugins(config),
    }),
  );
  // Bodies parsed here, before grafserv (which uses req.body when present), so
  // pgSettingsFor can tell an anonymous mutation from a query. The limit is grafserv's.
  app.use('/graphql', express.json({ limit: '100kb' }));
  const serv = pgl.createServ(grafserv);
  // Websocket upgrades go through the guard (origin, identity, bound) first.
  await serv.addTo(app, httpServer, false);
  const upgrade = await serv.getUpgradeHandler();
  if (upgrade) {
    const guard = makeWebsocketGuard(config, sessionLookupOf(app), '/graphql', upgrade, (req) =>
      clientAddress(app, req),
    );
    httpServer.on('upgrade', guard.onUpgrade);
    app.locals.beforeClose = [...(app.locals.beforeClose ?? []), () => guard.closeAll()];
  }
  markGraphqlReady(app);
  onClose(async () => {
    await pgl.release();
  });
}
