// CORS for the SPA: only configured origins get CORS headers (with
// credentials, so the session cookie travels). A preflight from any other
// origin is refused, and so is any state-changing request whose Origin is
// neither configured nor this server itself — a second wall against
// cross-site form posts, including sign-in CSRF on /auth/login.
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { originRefused } from '../errors.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function installCors(app: Express, config: ServerConfig): void {
  const allowed = new Set(config.corsOrigins);
  const publicOrigin = () => new URL(config.publicUrl).origin;
  app.use((req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (origin === undefined) return next();
    res.vary('Origin');
    const isAllowed = allowed.has(origin);
    // This server's own pages: its configured public URL. Never the Host header, which
    // the client writes: a page elsewhere could send Host to match its own Origin.
    const isSelf = origin === publicOrigin();
    if (isAllowed) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
      // The SPA reads how long to wait after a 429.
      // Retry-After for SMA02; X-Request-Id, the reference an INTERNAL error's message quotes.
      res.set('Access-Control-Expose-Headers', 'Retry-After, X-Request-Id');
    }
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      if (!isAllowed) throw originRefused();
      res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.set('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-CSRF-Token');
      res.set('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    if (!SAFE.has(req.method) && !isAllowed && !isSelf) throw originRefused();
    next();
  });
}
