// Decides who each request is (res.locals.identity): an API client sends
// `Authorization: Bearer <token>`, a browser the signed HttpOnly session
// cookie. The token's SHA-256 is looked up in SQL (app_private.session_lookup),
// which also renews the session at most once a minute (sliding expiry).
// A bad bearer token is refused (401 SMA15) so API clients notice; a dead
// cookie is cleared, and the request carries on anonymously unless it sends
// the CSRF header: then a page believes it is signed in (the web app sends the
// header whenever it holds the CSRF cookie) and is told otherwise (401 SMA15),
// rather than getting a visitor's answer (a write refused as 42501).
import { createHash } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { CSRF_HEADER, SESSION_COOKIE, clearSessionCookies } from '../auth_cookies.ts';
import type { RequestIdentity } from '../request_identity.ts';
import { type CodedError, notABearerToken, sessionEnded } from '../errors.ts';
import { makePool } from './installDatabasePools.ts';

// The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are the same.
/** The bearer token of an Authorization header, or undefined when the header is not one. */
export const BEARER = /^Bearer +([A-Za-z0-9_-]{16,128})$/i;

/** A session token → who it is (undefined: unknown, revoked or expired). */
export type SessionLookup = (token: string, via: RequestIdentity['via']) => Promise<RequestIdentity | undefined>;

/** The look-up installSession made, for requests that skip Express's middleware (websocket upgrades). */
export function sessionLookupOf(app: Express): SessionLookup {
  return app.locals.sessionLookup as SessionLookup;
}

function refused(res: Response, error = sessionEnded()): CodedError {
  res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
  return error;
}

export function installSession(app: Express, config: ServerConfig, onClose: (fn: () => Promise<void>) => void): void {
  // Every signed-in request looks its session up first: a pool of its own, as
  // large as the API's, so look-ups never queue behind the owner pool's few
  // connections. Owner rights: sessions live in app_private.
  const pool = makePool(app, 'session', { connectionString: config.db.owner, max: config.poolSize }, onClose);
  const lookup: SessionLookup = async (token, via) => {
    const hash = createHash('sha256').update(token).digest();
    const {
      rows: [session],
    } = await pool.query<{ session_id: string; user_id: string; db_role: RequestIdentity['dbRole'] }>(
      'select session_id, user_id::text, db_role from app_private.session_lookup($1)',
      [hash],
    );
    return session
      ? { sessionId: session.session_id, dbRole: session.db_role, userId: session.user_id, via }
      : undefined;
  };
  app.locals.sessionLookup = lookup;
  app.use(async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    let token: string | undefined;
    let via: RequestIdentity['via'] = 'bearer';
    // On /auth/* a stale token must not stop the client from signing in again.
    const lenient = req.path.startsWith('/auth/');
    const deadCookie = () => {
      clearSessionCookies(res, config);
      next(!lenient && req.get(CSRF_HEADER) !== undefined ? sessionEnded() : undefined);
    };
    if (header !== undefined) {
      token = BEARER.exec(header)?.[1];
      if (!token) return lenient ? next() : next(refused(res, notABearerToken()));
    } else {
      // false when the signature does not match: treated as no cookie.
      const cookie = req.signedCookies?.[SESSION_COOKIE];
      if (typeof cookie === 'string' && cookie) {
        token = cookie;
        via = 'cookie';
      } else if (cookie === false || req.cookies?.[SESSION_COOKIE] !== undefined) {
        return deadCookie();
      }
    }
    if (!token) return next();
    const identity = await lookup(token, via);
    if (!identity) {
      if (via === 'bearer') return lenient ? next() : next(refused(res));
      return deadCookie();
    }
    res.locals.identity = identity;
    next();
  });
}
