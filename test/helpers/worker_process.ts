// A worker in a process of its own, for tests that kill it (SIGKILL) mid-job.
// Reads DATABASE_URL and the Stripe/SMTP variables like `npm run worker`;
// prints "worker ready" once it is polling.
import { startWorker } from '../../worker/runner.ts';

const runner = await startWorker({
  connectionString: process.env.DATABASE_URL!,
  crontab: '# none',
  pollInterval: 100,
  concurrency: 2,
});
console.log('worker ready');
process.once('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});
await runner.promise;
