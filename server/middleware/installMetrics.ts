// GET /metrics: Prometheus metrics (server/metrics.ts), and the timing of every
// request that feeds them. Not public in production: with METRICS_TOKEN set
// the scraper must send `Authorization: Bearer <METRICS_TOKEN>` (else 401
// SMH01); without it the route is open in development and absent (404) in
// production. Installed before the session middleware, which would take the
// bearer token for a session's.
import { timingSafeEqual } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { graphqlOperationName } from '../graphql_operation.ts';
import { Metrics } from '../metrics.ts';
import { CodedError } from '../errors.ts';
import { ownerPoolOf, poolsOf } from './installDatabasePools.ts';

/** Paths served without an Express route (grafserv mounts GraphQL itself). */
const MOUNTED = new Set(['/graphql', '/graphiql']);

function sameToken(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(`Bearer ${expected}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function installMetrics(app: Express, config: ServerConfig): void {
  const metrics = new Metrics(poolsOf(app));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A matched route's pattern, never the raw path: unmatched paths would make a label per URL.
      const route = (req.route?.path as string | undefined) ?? (MOUNTED.has(req.originalUrl.split('?')[0]) ? req.originalUrl.split('?')[0] : 'unmatched');
      const operation = route === '/graphql' ? graphqlOperationName(req.body) : undefined;
      metrics.observeRequest(req.method, route, res.statusCode, seconds, operation);
    });
    next();
  });

  app.get('/metrics', async (req: Request, res: Response, next: NextFunction) => {
    if (config.metricsToken === null) {
      if (!config.isDev) return next(); // production without a token: no such route
    } else if (!sameToken(req.get('authorization'), config.metricsToken)) {
      res.set('WWW-Authenticate', 'Bearer');
      throw new CodedError('SMH01', 'Metrics need the METRICS_TOKEN bearer token');
    }
    res.type(metrics.registry.contentType).send(await metrics.render(ownerPoolOf(app)));
  });
}
