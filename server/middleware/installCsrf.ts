// CSRF double submit for cookie-authenticated requests: any request that is
// not GET/HEAD/OPTIONS must carry X-CSRF-Token equal to the sms_csrf cookie,
// and both must be this session's token (an HMAC of its id). Bearer requests
// need none: a browser never adds an Authorization header by itself.
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { CSRF_COOKIE, CSRF_HEADER, csrfTokenFor, sameSecret } from '../auth_cookies.ts';
import { identityOf } from '../request_identity.ts';
import { CodedError } from '../errors.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function installCsrf(app: Express, config: ServerConfig): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const identity = identityOf(res);
    if (identity?.via !== 'cookie' || SAFE.has(req.method)) return next();
    const header = req.get(CSRF_HEADER);
    const cookie = req.cookies?.[CSRF_COOKIE] as string | undefined;
    if (!sameSecret(header, cookie) || !sameSecret(header, csrfTokenFor(config, identity.sessionId))) {
      throw new CodedError('SMA14', "Missing or wrong CSRF token: send the sms_csrf cookie's value in X-CSRF-Token");
    }
    next();
  });
}
