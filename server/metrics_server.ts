// METRICS_PORT: the metrics on a port of their own (METRICS_HOST, default
// 127.0.0.1), for a scraper that should not share the public port. With
// API_WORKERS > 1 the primary process answers it with every worker's figures
// added up (prom-client's AggregatorRegistry asks each worker over IPC), which
// /metrics on the shared port cannot do: there a scrape reaches one worker.
// METRICS_TOKEN, when set, is required here too.
import { createServer, type Server } from 'node:http';
import { isScraper } from './metrics.ts';
import { loggerFor } from '../lib/logger.ts';

export async function serveMetrics(
  port: number,
  host: string,
  token: string | null,
  render: () => Promise<string>,
  contentType: string,
): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'No such route' } }));
      return;
    }
    if (token !== null && !isScraper(req.headers.authorization, token)) {
      res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
        .end(JSON.stringify({ error: { code: 'SMH01', message: 'Metrics need the METRICS_TOKEN bearer token' } }));
      return;
    }
    try {
      const text = await render();
      res.writeHead(200, { 'content-type': contentType }).end(text);
    } catch {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'INTERNAL', message: 'Metrics unavailable' } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  loggerFor('api').info({ url: `http://${host}:${port}/metrics` }, 'metrics listening');
  return server;
}
