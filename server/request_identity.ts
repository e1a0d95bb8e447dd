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

export function pgSettingsFor(req: Request): Record<string, string> {
  const identity = req.res ? identityOf(req.res) : undefined;
  if (!identity) return { role: 'app_anonymous' };
  return { role: identity.dbRole, 'app.session_id': identity.sessionId };
}
