// The browser's session: a signed HttpOnly cookie holding the session token,
// and a readable CSRF cookie whose value the SPA echoes in X-CSRF-Token
// (double submit). The CSRF value is an HMAC of the session id, so it cannot
// be forged without the server's secret and dies with the session.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CookieOptions, Response } from 'express';
import type { ServerConfig } from './config.ts';

export const SESSION_COOKIE = 'sms_session';
export const CSRF_COOKIE = 'sms_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const OAUTH_COOKIE = 'sms_oauth';

/** The cookie outlives no session: the database decides expiry; this is the absolute maximum. */
const SESSION_COOKIE_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

function base(config: ServerConfig): CookieOptions {
  return { secure: config.cookieSecure, sameSite: 'lax', path: '/' };
}

export function csrfTokenFor(config: ServerConfig, sessionId: string): string {
  return createHmac('sha256', config.cookieSecret).update(`csrf:${sessionId}`).digest('base64url');
}

export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Sets the session and CSRF cookies; returns the CSRF token for the response body. */
export function setSessionCookies(res: Response, config: ServerConfig, sessionId: string, token: string): string {
  const csrf = csrfTokenFor(config, sessionId);
  res.cookie(SESSION_COOKIE, token, {
    ...base(config),
    httpOnly: true,
    signed: true,
    maxAge: SESSION_COOKIE_MAX_AGE_MS,
  });
  res.cookie(CSRF_COOKIE, csrf, { ...base(config), httpOnly: false, maxAge: SESSION_COOKIE_MAX_AGE_MS });
  return csrf;
}

export function clearSessionCookies(res: Response, config: ServerConfig): void {
  res.clearCookie(SESSION_COOKIE, { ...base(config), httpOnly: true });
  res.clearCookie(CSRF_COOKIE, base(config));
}

export function oauthCookieOptions(config: ServerConfig): CookieOptions {
  // Lax: the provider's redirect back is a top-level GET from another site.
  return {
    secure: config.cookieSecure,
    sameSite: 'lax',
    path: '/auth',
    httpOnly: true,
    signed: true,
    maxAge: 10 * 60 * 1000,
  };
}
