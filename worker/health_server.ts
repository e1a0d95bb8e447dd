// The worker's own probes on WORKER_HEALTH_PORT (off when unset), for a
// container orchestrator: GET /health (the process serves HTTP) and GET /ready
// (the job runner is running and its database is ready: lib/readiness.ts;
// while the database has not answered at start-up, the runner is not started
// yet and /ready says so),
// and GET /metrics (worker/metrics.ts) for a scraper, behind METRICS_TOKEN's
// bearer token when it is set (like the API's METRICS_PORT: a private port).
import { createServer, type Server } from 'node:http';
import type pg from 'pg';
import type { Runner } from 'graphile-worker';
import type client from 'prom-client';
import { checkReadiness } from '../lib/readiness.ts';
import { isScraper } from '../server/metrics.ts';
import type { PendingRunner } from './runner.ts';

export interface WorkerMetricsRoute {
  registry: client.Registry;
  /** METRICS_TOKEN: required as a bearer token when not null. */
  token: string | null;
}

export async function startHealthServer(
  port: number,
  host: string,
  pool: pg.Pool,
  runner: Runner | PendingRunner,
  metrics: WorkerMetricsRoute,
): Promise<Server> {
  // A PendingRunner (startWorkerWhenReachable) has no runner until the database answers.
  let current: Runner | undefined;
  let stopped = false;
  const watch = (r: Runner) => {
    current = r;
    r.promise.then(
      () => {
        stopped = true;
      },
      () => {
        stopped = true;
      },
    );
  };
  if ('started' in runner) void runner.started.then((r) => r && watch(r));
  else watch(runner);
  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { error: { code: 'BAD_REQUEST', message: 'GET only' } });
    if (req.url === '/health') return reply(200, { status: 'ok' });
    if (req.url === '/ready') {
      const { ready, checks } = await checkReadiness(pool, {
        runner: current === undefined ? 'not started (waiting for the database)' : !stopped || 'stopped',
      });
      return reply(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks });
    }
    if (req.url === '/metrics') {
      if (metrics.token !== null && !isScraper(req.headers.authorization, metrics.token)) {
        res.setHeader('www-authenticate', 'Bearer');
        return reply(401, { error: { code: 'SMH01', message: 'Metrics need the METRICS_TOKEN bearer token' } });
      }
      const text = await metrics.registry.metrics();
      return res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    }
    reply(404, { error: { code: 'NOT_FOUND', message: 'No such route' } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
