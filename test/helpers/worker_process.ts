// A worker in a process of its own, for tests that kill it (SIGKILL) mid-job.
// Reads DATABASE_URL and the Stripe/SMTP variables like `npm run worker`;
// prints "worker ready" once it is polling. With WORKER_HEALTH_PORT it serves
// its probes and /metrics there too, like `npm run worker` (the soak reads its
// heap after GC; SIGUSR2 makes it run a full GC first, so that the figure is
// fresh when the test reads it).
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeWorkerPool, startWorker } from '../../worker/runner.ts';
import { startHealthServer } from '../../worker/health_server.ts';
import { workerMetrics } from '../../worker/metrics.ts';

// Before the runner: its start-up's full GCs count for the heap figure.
const registry = workerMetrics();
const concurrency = 2;
const pgPool = makeWorkerPool(process.env.DATABASE_URL!, concurrency + 2);
const runner = await startWorker({
  connectionString: process.env.DATABASE_URL!,
  crontab: '# none',
  pollInterval: 100,
  concurrency,
  pgPool,
});
if (process.env.WORKER_HEALTH_PORT) {
  await startHealthServer(Number(process.env.WORKER_HEALTH_PORT), '127.0.0.1', pgPool, runner, {
    registry,
    token: null,
  });
}
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
process.on('SIGUSR2', () => gc());
console.log('worker ready');
process.once('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});
await runner.promise;
