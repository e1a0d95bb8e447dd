// `npm run worker`: the worker on its own, for deployments that scale it apart
// from the API. WORKER_HEALTH_PORT (and WORKER_HEALTH_HOST, default 127.0.0.1)
// serve its /health and /ready probes (worker/health_server.ts).
import { dbUrls } from '../lib/db_urls.ts';
import { makeWorkerPool, startWorker } from './runner.ts';
import { startHealthServer } from './health_server.ts';

const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 10);
const pgPool = makeWorkerPool(dbUrls().owner, concurrency + 2);
const runner = await startWorker({ connectionString: dbUrls().owner, concurrency, pgPool });
const healthPort = process.env.WORKER_HEALTH_PORT;
const health = healthPort
  ? await startHealthServer(Number(healthPort), process.env.WORKER_HEALTH_HOST ?? '127.0.0.1', pgPool, runner)
  : undefined;
const stop = async () => {
  health?.close();
  await runner.stop();
  await pgPool.end();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
await runner.promise;
