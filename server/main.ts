// `npm run api`: the API alone (the worker runs apart with `npm run worker`).
// API_WORKERS=N forks N processes sharing the port (node:cluster): one Node
// process saturates one core long before PostgreSQL does. METRICS_PORT serves
// the metrics of all of them apart (server/metrics_server.ts).
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { makeApp, listen } from './app.ts';
import { loadConfig } from './config.ts';
import { serveMetrics } from './metrics_server.ts';
import { metricsOf } from './middleware/installMetrics.ts';
import { loggerFor } from '../lib/logger.ts';
import { configOrExit, intVar } from '../lib/env.ts';

const env = process.env;
// Checked once, before any process is forked.
const { config, workers, metricsPort } = configOrExit(() => ({
  config: loadConfig(env),
  workers: intVar(env, 'API_WORKERS', 1, 1, 256),
  metricsPort: env.METRICS_PORT ? intVar(env, 'METRICS_PORT', 0, 0, 65535) : undefined,
}));
const metricsHost = env.METRICS_HOST ?? '127.0.0.1';
const metricsToken = env.METRICS_TOKEN || null;

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  if (metricsPort !== undefined) {
    const aggregator = new AggregatorRegistry();
    await serveMetrics(
      metricsPort,
      metricsHost,
      metricsToken,
      () => aggregator.clusterMetrics(),
      aggregator.contentType,
    );
  }
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
} else {
  const handle = await makeApp(config);
  const port = await listen(handle, config.port, config.host);
  loggerFor('api').info({ url: `http://${config.host}:${port}` }, 'listening');
  if (metricsPort !== undefined && !cluster.isWorker) {
    const metrics = metricsOf(handle.app);
    await serveMetrics(metricsPort, metricsHost, metricsToken, () => metrics.render(), metrics.registry.contentType);
  }
  const stop = async () => {
    await handle.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
