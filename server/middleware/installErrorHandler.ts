// The last middleware: unknown routes, and every error a route or middleware
// throws, answered as JSON by sendError (server/errors.ts). Unexpected errors
// are logged with a reference and never echoed.
import type { Express, NextFunction, Request, Response } from 'express';
import { BODY_TOO_LARGE, CodedError, internalError, isDocumented, sendError } from '../errors.ts';

export function installErrorHandler(app: Express): void {
  app.use(() => {
    throw new CodedError('NOT_FOUND', 'No such route');
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (isDocumented(err)) return sendError(res, err);
    // Express's own 4xx (a body that does not parse, or is too large: 413).
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500)
      return sendError(
        res,
        new CodedError('BAD_REQUEST', status === 413 ? BODY_TOO_LARGE : 'Malformed request'),
        status,
      );
    sendError(res, internalError(err));
  });
}
