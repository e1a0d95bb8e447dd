// Security headers on every response, set by helmet (maintained, and it
// knows which headers browsers still honour): nosniff, no framing by other
// sites (CSP frame-ancestors 'none' and X-Frame-Options), no referrer, HSTS
// behind https, and the rest of helmet's defaults. Its default
// Content-Security-Policy is replaced by frame-ancestors alone: the web app
// loads Stripe.js and map tiles from configured hosts, the IDE runs inline
// scripts, and a policy that lists them belongs with the web app's build.
//
// Answers of the API itself (GraphQL, /auth/*) may carry a session token or
// personal data: `Cache-Control: no-store`, so no shared or browser cache keeps them.
import type { Express, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';

const API_PATHS = ['/graphql', '/auth/'];

export function installSecurityHeaders(app: Express): void {
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: helmet.contentSecurityPolicy.dangerouslyDisableDefaultSrc,
          frameAncestors: ["'none'"],
        },
      },
      frameguard: { action: 'deny' },
    }),
  );
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (API_PATHS.some((p) => req.path === p || req.path.startsWith(p))) res.set('Cache-Control', 'no-store');
    next();
  });
}
