// Mounts the GraphQL API (POST /graphql) and, in development, the Ruru IDE.
//
// The schema is built from the database (introspection), so it cannot be
// built while the database is unreachable. makeApp waits for a first attempt
// only; if it fails, the process still starts (and /ready says the schema is
// not built) while the build is retried with backoff (JSON log lines) until it
// succeeds. Until then POST /graphql answers 503 (code INTERNAL, a reference
// and Retry-After), and websocket upgrades are refused: grafserv is mounted
// only on a built schema (on a failed one every request broke with a 500).
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import { makeSchema } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import { CodedError, sendError } from '../errors.ts';
import { currentRequest } from '../request_context.ts';
import { loggerFor } from '../../lib/logger.ts';
import { retryWithBackoff } from '../../lib/retry_with_backoff.ts';
import { makePreset } from '../graphile.config.ts';
import { recordExecutedOperation } from '../graphql_operation.ts';
import { identityOf, pgSettingsFor } from '../request_identity.ts';
import { liveClientKeys } from '../live/client_bound.ts';
import { makeWebsocketGuard, websocketClientKeysOf, websocketIdentityOf } from '../live/websocket_guard.ts';
import { liveHubOf } from './installLiveEvents.ts';
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
  const preset = makePreset({
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
      liveClientKeys: rc.ws
        ? websocketClientKeysOf(rc.ws.request)
        : liveClientKeys(
            rc.expressv4?.res ? identityOf(rc.expressv4.res)?.userId : undefined,
            rc.expressv4 ? clientAddress(app, rc.expressv4.req) : undefined,
          ),
    }),
    onOperation: (req, document, operation) => {
      if (req.res) recordExecutedOperation(req.res, document, operation);
    },
    readWithPgClient: (req, document, operation) => {
      const replica =
        reads && mayReadFromReplica(identityOf(req.res!) !== undefined, document, operation)
          ? reads.forReplicaRead()
          : undefined;
      metrics.observeRead(replica ? 'replica' : 'primary');
      return replica;
    },
    plugins: configuredPlugins(config),
  });
  // Bodies parsed here, before grafserv (which uses req.body when present), so
  // pgSettingsFor can tell an anonymous mutation from a query. The limit is grafserv's.
  app.use('/graphql', express.json({ limit: '100kb' }));
  // grafserv's routes, once the schema is built; until then /graphql is refused cleanly.
  let mounted: RequestHandler | undefined;
  app.use((req, res, next) => {
    if (mounted) return mounted(req, res, next);
    if (req.path !== '/graphql') return next();
    res.set('Retry-After', String(NOT_READY_RETRY_AFTER_S));
    sendError(res, notReadyError(), 503);
  });

  const log = loggerFor('api');
  let closed = false;
  let serv: ReturnType<typeof grafserv> | undefined;

  const build = async (): Promise<void> => {
    const { schema } = await makeSchema(preset);
    if (closed) return;
    const built = grafserv({ preset, schema });
    const router = express.Router();
    // Websocket upgrades go through the guard (origin, identity, bound) first.
    await built.addTo(router as unknown as Express, httpServer, false);
    const upgrade = await built.getUpgradeHandler();
    if (upgrade) {
      const guard = makeWebsocketGuard(config, sessionLookupOf(app), '/graphql', upgrade, (req) =>
        clientAddress(app, req),
      );
      httpServer.on('upgrade', guard.onUpgrade);
      app.locals.beforeClose = [...(app.locals.beforeClose ?? []), () => guard.closeAll()];
    }
    serv = built;
    mounted = router;
    markGraphqlReady(app);
  };

  // Start-up waits for the first attempt only; later ones run in the background.
  let firstFailed: () => void = () => {};
  const firstTried = new Promise<void>((resolve) => {
    firstFailed = resolve;
  });
  const building = retryWithBackoff(
    async (attempt) => {
      await build();
      if (attempt > 1) log.info({ attempt }, 'graphql schema built');
    },
    (err, attempt, retryInMs) => {
      log.error({ err, attempt, retryInMs }, 'graphql schema build failed, retrying');
      if (attempt === 1) firstFailed();
    },
  );
  await Promise.race([building.result, firstTried]);
  onClose(async () => {
    closed = true;
    building.stop();
    await serv?.release();
  });
}

const NOT_READY_RETRY_AFTER_S = 5;

/** What POST /graphql answers before the schema is built: 503, INTERNAL with the request's reference. */
function notReadyError(): CodedError {
  const request = currentRequest();
  const reference = request?.id ?? randomBytes(6).toString('hex');
  (request?.log ?? loggerFor('api')).warn({ reference }, 'graphql refused: schema not built yet');
  return new CodedError('INTERNAL', `Service not ready, retry shortly (reference ${reference})`);
}
