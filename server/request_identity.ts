// Who a request is, as decided by the session middleware, and the pgSettings
// that carry it into SQL. A request without a valid session is anonymous.
import type { Request, Response } from 'express';
import type { OperationTypeNode } from 'postgraphile/graphql';

export interface RequestIdentity {
  sessionId: string;
  /** The database role the request runs as. */
  dbRole: 'app_user' | 'app_operator';
  userId: string;
  /** How the request proved it: an Authorization header, or the browser's cookie (then CSRF applies). */
  via: 'bearer' | 'cookie';
}

export function identityOf(res: Response): RequestIdentity | undefined {
  return res.locals.identity as RequestIdentity | undefined;
}

/** Request facts SQL may use besides identity: client address (rate limits), web app origin (emailed links). */
export function requestSettingsOf(res: Response): Record<string, string> {
  return (res.locals.requestSettings as Record<string, string> | undefined) ?? {};
}

/**
 * Anonymous requests get no settings: app_authenticator's connections already
 * run as app_anonymous (migrations/afterReset.sql), and without settings
 * PostGraphile sends the query alone instead of wrapping it in a transaction.
 * Anonymous mutations are the exception: they carry the client address and
 * the web app's origin (rate limits, links in emails).
 */
export function pgSettingsFor(req: Request, operation: OperationTypeNode | undefined): Record<string, string> {
  const identity = req.res ? identityOf(req.res) : undefined;
  // `operation` is read from the parsed document (server/graphile.config.ts), so every body
  // type (JSON, application/graphql) and every way of naming the operation is seen alike.
  if (!identity) return req.res && operation === 'mutation' ? requestSettingsOf(req.res) : {};
  return { role: identity.dbRole, 'app.session_id': identity.sessionId, ...requestSettingsOf(req.res!) };
}
