// `npm run worker`: the worker on its own, for deployments that scale it apart from the API.
import { dbUrls } from '../lib/db_urls.ts';
import { startWorker } from './runner.ts';

const runner = await startWorker({ connectionString: dbUrls().owner });
const stop = async () => {
  await runner.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
await runner.promise;
