// GET /metrics: Prometheus metrics (server/metrics.ts), and the timing of every
// request that feeds them. Not public in production: with METRICS_TOKEN set
// the scraper must send `Authorization: Bearer <METRICS_TOKEN>` (else 401
// SMH01); without it the route is open in development and absent (404) in
// production. Installed before the session middleware, which would take the
// bearer token for a session's. (METRICS_PORT serves the same apart: server/main.ts.)
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { executedOperationOf } from '../graphql_operation.ts';
import { isScraper, Metrics } from '../metrics.ts';
import { CodedError } from '../errors.ts';
import { poolsOf } from './installDatabasePools.ts';

/** Paths served without an Express route (grafserv mounts GraphQL itself). */
const MOUNTED = new Set(['/graphql', '/graphiql']);

export function metricsOf(app: Express): Metrics {
  return app.locals.metrics as Metrics;
}

export function installMetrics(app: Express, config: ServerConfig): void {
  const metrics = new Metrics(poolsOf(app));
  app.locals.metrics = metrics;

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A matched route's pattern, never the raw path: unmatched paths would make a label per URL.
      const path = req.originalUrl.split('?')[0];
      const route = (req.route?.path as string | undefined) ?? (MOUNTED.has(path) ? path : 'unmatched');
      // What ran, by root fields (graphql_operation.ts); "none" when nothing did (refused, unparsable, invalid).
      const operation = route === '/graphql' ? (executedOperationOf(res) ?? 'none') : undefined;
      metrics.observeRequest(req.method, route, res.statusCode, seconds, operation);
    });
    next();
  });

  app.get('/metrics', async (req: Request, res: Response, next: NextFunction) => {
    if (config.metricsToken === null) {
      if (!config.isDev) return next(); // production without a token: no such route
    } else if (!isScraper(req.get('authorization'), config.metricsToken)) {
      res.set('WWW-Authenticate', 'Bearer');
      throw new CodedError('SMH01', 'Metrics need the METRICS_TOKEN bearer token');
    }
    res.type(metrics.registry.contentType).send(await metrics.render());
  });
}
