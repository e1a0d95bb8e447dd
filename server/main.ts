// `npm run api`: the API alone (the worker runs apart with `npm run worker`).
// API_WORKERS=N forks N processes sharing the port (node:cluster): one Node
// process saturates one core long before PostgreSQL does.
import cluster from 'node:cluster';
import { makeApp, listen } from './app.ts';
import { loadConfig } from './config.ts';
import { loggerFor } from '../lib/logger.ts';

const workers = Number(process.env.API_WORKERS ?? 1);

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
} else {
  const config = loadConfig();
  const handle = await makeApp(config);
  const port = await listen(handle, config.port, config.host);
  loggerFor('api').info({ url: `http://${config.host}:${port}` }, 'listening');
  const stop = async () => {
    await handle.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
