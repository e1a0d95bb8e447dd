// The worker process of bench/end_burst.ts: the project's worker (every task,
// plus a no-op task for the baseline) with the burst settings given by the
// environment: BENCH_CONCURRENCY, BENCH_LOCAL_QUEUE (0 = off), BENCH_POOL.
import { Logger } from 'graphile-worker';
import { makeWorkerPool, startWorker } from '../worker/runner.ts';
import { taskList } from '../worker/task_list.ts';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 24);
const localQueue = Number(process.env.BENCH_LOCAL_QUEUE ?? 500);
const pool = makeWorkerPool(process.env.DATABASE_URL!, Number(process.env.BENCH_POOL ?? Math.min(concurrency + 2, 30)));
// Per-job INFO lines would cost more than the jobs: warnings and errors only.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning' || process.env.BENCH_WORKER_LOG)
    console.error(`[worker ${level}] ${message}`);
});
const runner = await startWorker({
  connectionString: process.env.DATABASE_URL!,
  pgPool: pool,
  concurrency,
  pollInterval: 500,
  crontab: '# none',
  taskList: { ...taskList, bench__noop: async () => {} },
  logger,
  preset: { worker: { ...(localQueue > 0 ? { localQueue: { size: localQueue } } : {}) } } as GraphileConfig.Preset,
});
console.log('worker ready');
process.once('SIGTERM', () => {
  void runner
    .stop()
    .then(() => pool.end())
    .then(() => process.exit(0));
});
await runner.promise;
