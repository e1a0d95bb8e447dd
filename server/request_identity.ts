// Who a request is, as decided by the session middleware, and the pgSettings
// that carry it into SQL. A request without a valid session is anonymous.
import type { Request, Response } from 'express';

export interface RequestIdentity {
  sessionId: string;
  /** The database role the request runs as. */
  dbRole: 'app_user' | 'app_operator';
}

export function identityOf(res: Response): RequestIdentity | undefined {
  return res.locals.identity as RequestIdentity | undefined;
}

/**
 * Anonymous requests get no settings: app_authenticator's connections already
 * run as app_anonymous (migrations/afterReset.sql), and without settings
 * PostGraphile sends the query alone instead of wrapping it in a transaction.
 */
export function pgSettingsFor(req: Request): Record<string, string> {
  const identity = req.res ? identityOf(req.res) : undefined;
  if (!identity) return {};
  return { role: identity.dbRole, 'app.session_id': identity.sessionId };
}
