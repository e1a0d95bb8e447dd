// First in the chain: gives each request an id (the caller's X-Request-Id when
// it is a plain token, else a new UUID), returns it in the X-Request-Id
// header, runs the rest of the request with a logger carrying it
// (server/request_context.ts), and writes one access line when the response
// is finished: method, path (never the query string: OAuth codes and states
// travel there), status, duration, and the GraphQL operation's name.
import { randomUUID } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { loggerFor } from '../../lib/logger.ts';
import { graphqlOperationName } from '../graphql_operation.ts';
import { runInRequest } from '../request_context.ts';

const CALLER_ID = /^[A-Za-z0-9._-]{8,64}$/;
const log = loggerFor('api');

export function installRequestLog(app: Express): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const caller = req.get('x-request-id');
    const id = caller && CALLER_ID.test(caller) ? caller : randomUUID();
    res.set('X-Request-Id', id);
    const requestLog = log.child({ reqId: id });
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const path = req.originalUrl.split('?')[0];
      requestLog.info(
        {
          method: req.method,
          path,
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          ...(path === '/graphql' ? { operation: graphqlOperationName(req.body) } : {}),
        },
        'request',
      );
    });
    runInRequest({ id, log: requestLog }, next);
  });
}
