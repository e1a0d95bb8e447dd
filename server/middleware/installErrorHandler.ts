// Uniform JSON errors for the non-GraphQL routes: {"error": {"code", "message"}}.
// Unexpected errors are logged with a reference and never echoed.
import { randomBytes } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';

export class HttpError extends Error {
  status: number;
  code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function installErrorHandler(app: Express): void {
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such route' } });
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message } });
      return;
    }
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: 'BAD_REQUEST', message: 'Malformed request' } });
      return;
    }
    const reference = randomBytes(6).toString('hex');
    console.error(`[error ${reference}]`, err);
    res.status(500).json({ error: { code: 'INTERNAL', message: `Internal error (reference ${reference})` } });
  });
}
