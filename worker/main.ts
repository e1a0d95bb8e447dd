// `npm run worker`: the worker on its own, for deployments that scale it apart
// from the API. WORKER_HEALTH_PORT (and WORKER_HEALTH_HOST, default 127.0.0.1)
// serve its /health and /ready probes and /metrics (worker/health_server.ts).
import { dbUrls } from '../lib/db_urls.ts';
import { configOrExit, intVar } from '../lib/env.ts';
import { mailConfigFromEnv } from '../lib/mail_transport.ts';
import { stripeConfigFromEnv } from '../lib/stripe_client.ts';
import { webUrlOf } from '../lib/web_urls.ts';
import { spotsSyncConfigFromEnv } from '../lib/spots_sync_config.ts';
import { makeWorkerPool, startWorkerWhenReachable, workerSettingsFromEnv } from './runner.ts';
import { startHealthServer } from './health_server.ts';
import { workerMetrics } from './metrics.ts';

// Everything the worker and its tasks read, checked once before it starts.
const { db, worker, healthPort } = configOrExit(() => ({
  db: dbUrls(),
  worker: workerSettingsFromEnv(),
  mail: mailConfigFromEnv(),
  stripe: stripeConfigFromEnv(),
  webUrl: webUrlOf(),
  spotsSync: spotsSyncConfigFromEnv(),
  healthPort: intVar(process.env, 'WORKER_HEALTH_PORT', 0, 0, 65535),
}));
// Before the runner: its start-up's full GCs count for the heap figure.
const registry = workerMetrics();
const pgPool = makeWorkerPool(db.owner, worker.concurrency + 2);
// Started once the database answers (retried with backoff meanwhile); the
// health port serves from the start, /ready 503 until the runner runs.
const pending = startWorkerWhenReachable({ connectionString: db.owner, concurrency: worker.concurrency, pgPool });
const health = process.env.WORKER_HEALTH_PORT
  ? await startHealthServer(healthPort, process.env.WORKER_HEALTH_HOST ?? '127.0.0.1', pgPool, pending, {
      registry,
      token: process.env.METRICS_TOKEN || null,
    })
  : undefined;
const stop = async () => {
  health?.close();
  await pending.stop();
  await pgPool.end();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const runner = await pending.started;
await runner?.promise;
