// Password sign-up, sign-in and sign-out over plain HTTP, because Node must
// act in these requests: set or clear the browser's cookies, answer wrong
// credentials with 401 and rate limits with 429 + Retry-After. The rules
// live in SQL (migrations/fixtures/accounts_password.sql).
//
//   POST /auth/register {email, name, password, session?}  201
//   POST /auth/login    {email, password, session?}        200 | 401 SMA01 | 429 SMA02
//   POST /auth/logout                                       204
//
// session: "cookie" sets the browser cookies and returns {csrfToken};
// otherwise the body carries {token} for `Authorization: Bearer`.
import express, { type Express, type Request, type Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { ownerPoolOf } from './installDatabasePools.ts';
import { ownerTx } from '../owner_sql.ts';
import { clearSessionCookies, setSessionCookies } from '../auth_cookies.ts';
import { identityOf, requestSettingsOf } from '../request_identity.ts';
import { refuseFailedLogin } from '../login_attempt.ts';
import { clientAddress } from './installRequestSettings.ts';
import { signUpLimited } from '../plugins/sign_up_gate.ts';
import { CodedError, sendError } from '../errors.ts';

/** A string field, or null (which SQL refuses with the field's own error): PostgreSQL text cannot hold NUL. */
function str(value: unknown): string | null {
  return typeof value === 'string' && !value.includes('\u0000') ? value : null;
}

/**
 * The JSON body of a sign-up or sign-in, or null once refused: a form post
 * would read as empty fields and answer "wrong email or password" (415, as
 * /graphql answers it), and a `session` other than "cookie" would quietly
 * mean a bearer token (400).
 */
function credentialsBody(req: Request, res: Response): Record<string, unknown> | null {
  if (!req.is('application/json')) {
    sendError(res, new CodedError('BAD_REQUEST', 'Send a JSON body (Content-Type: application/json)'), 415);
    return null;
  }
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (body.session !== undefined && body.session !== 'cookie') {
    sendError(res, new CodedError('BAD_REQUEST', 'session is "cookie" (browser cookies) or left out (a bearer token)'));
    return null;
  }
  return body;
}

export interface NewSession {
  user_id: string;
  session_id: string;
  token: string;
  user?: Record<string, unknown>;
}

/** Answers a new session: cookies for a browser, the bearer token otherwise (and the user, after sign-up). */
export function sendSession(
  res: Response,
  config: ServerConfig,
  session: NewSession,
  asCookie: boolean,
  status = 200,
): void {
  const user = session.user ? { user: session.user } : {};
  if (asCookie) {
    const csrfToken = setSessionCookies(res, config, session.session_id, session.token);
    res.status(status).json({ userId: session.user_id, sessionId: session.session_id, csrfToken, ...user });
  } else {
    res.status(status).json({ userId: session.user_id, sessionId: session.session_id, token: session.token, ...user });
  }
}

export function installAuthRoutes(app: Express, config: ServerConfig): void {
  const pool = ownerPoolOf(app);
  app.use('/auth', express.json({ limit: '16kb' }));

  app.post('/auth/register', async (req: Request, res: Response) => {
    const body = credentialsBody(req, res);
    if (!body) return;
    // Checked, counted and committed first, so a sign-up refused for a taken email counts too (app_private.sign_up_gate).
    const {
      rows: [gate],
    } = await pool.query<{ retry_after: number }>(
      `select app_private.sign_up_gate($1, $2, $3, nullif($4, '')::inet) as retry_after`,
      [str(body.email), str(body.name), str(body.password), clientAddress(req.app, req)],
    );
    if (gate.retry_after > 0) throw signUpLimited(gate.retry_after);
    // SQL's refusals (SMA03…SMA06) reach the client through installErrorHandler.
    const session = await ownerTx(pool, requestSettingsOf(res), async (client) => {
      const {
        rows: [made],
      } = await client.query<NewSession>(
        `select (r).user_id::text, (r).session_id, (r).token
         from (select app_private.register($1, $2, $3, nullif($4, '')::inet) as r) x`,
        [str(body.email), str(body.name), str(body.password), clientAddress(req.app, req)],
      );
      // A statement of its own: the one that made the user cannot see it yet.
      const {
        rows: [{ user }],
      } = await client.query<{ user: Record<string, unknown> }>(
        `select jsonb_build_object('rowId', u.id::text, 'email', u.email, 'name', u.name, 'role', u.role, 'isVerified', u.is_verified) as user
         from app_public.auth_session_user(($1::bigint, $2::uuid, $3)::app_public.auth_session) u`,
        [made.user_id, made.session_id, made.token],
      );
      return { ...made, user };
    });
    sendSession(res, config, session, body.session === 'cookie', 201);
  });

  app.post('/auth/login', async (req: Request, res: Response) => {
    const body = credentialsBody(req, res);
    if (!body) return;
    // One statement, committed whatever the outcome: failed attempts count.
    const {
      rows: [attempt],
    } = await pool.query<NewSession & { status: string; retry_after: number }>(
      `select status, user_id::text, session_id, token, retry_after
       from app_private.login_attempt($1, $2, nullif($3, '')::inet)`,
      [str(body.email), str(body.password), clientAddress(req.app, req)],
    );
    refuseFailedLogin(attempt);
    sendSession(res, config, attempt, body.session === 'cookie');
  });

  app.post('/auth/logout', async (_req: Request, res: Response) => {
    const identity = identityOf(res);
    if (identity) await pool.query('select app_private.session_revoke($1)', [identity.sessionId]);
    clearSessionCookies(res, config);
    res.status(204).end();
  });
}
