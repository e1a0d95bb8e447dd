// The worker's own probes on WORKER_HEALTH_PORT (off when unset), for a
// container orchestrator: GET /health (the process serves HTTP) and GET /ready
// (the job runner is running and its database is ready: lib/readiness.ts).
import { createServer, type Server } from 'node:http';
import type pg from 'pg';
import type { Runner } from 'graphile-worker';
import { checkReadiness } from '../lib/readiness.ts';

export async function startHealthServer(port: number, host: string, pool: pg.Pool, runner: Runner): Promise<Server> {
  let stopped = false;
  runner.promise.then(
    () => {
      stopped = true;
    },
    () => {
      stopped = true;
    },
  );
  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { error: { code: 'BAD_REQUEST', message: 'GET only' } });
    if (req.url === '/health') return reply(200, { status: 'ok' });
    if (req.url === '/ready') {
      const { ready, checks } = await checkReadiness(pool, { runner: !stopped || 'stopped' });
      return reply(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks });
    }
    reply(404, { error: { code: 'NOT_FOUND', message: 'No such route' } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
