// One kind of client-visible error, and the one way a non-GraphQL route answers it.
//
// A CodedError carries a documented code (server/error_codes.ts, or one of the
// HTTP-only codes below) and a message meant for the person using the app.
// SQL raises the same shape (SQLSTATE in `code`, seconds to wait in `detail`
// for SMA02). GraphQL passes documented errors through (server/mask_error.ts);
// the HTTP routes throw them and installErrorHandler answers with sendError:
// {"error": {"code", "message"}} and the code's HTTP status — except on
// /graphql, where a request refused before GraphQL runs (bad bearer token,
// CSRF, CORS) is answered in GraphQL's own response shape, so a GraphQL client
// reads errors[0].extensions.code instead of seeing a network failure.
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import { ERROR_CODES } from './error_codes.ts';
import { loggerFor } from '../lib/logger.ts';
import { currentRequest } from './request_context.ts';

export class CodedError extends Error {
  readonly code: string;
  /** For SMA02, the seconds to wait (as SQL puts them in an error's detail). */
  readonly detail?: string;
  constructor(code: string, message: string, detail?: string) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

/** HTTP status by code; every other code is 400. */
const HTTP_STATUS: Record<string, number> = {
  SMA01: 401,
  SMA02: 429,
  SMA06: 409,
  SMA12: 403,
  SMA14: 403,
  SMA15: 401,
  SMA18: 403,
  SMH01: 401,
  SMV02: 429,
  NOT_FOUND: 404,
  INTERNAL: 500,
  // Customer photo routes (server/middleware/installCustomerPhotos.ts).
  SMA08: 401,
  SMC01: 403,
  SMC03: 404,
  SMU01: 413,
  SMU02: 415,
  SMU03: 422,
  SMU04: 422,
  SMU05: 404,
};

/** The HTTP status of an error's answer: by its code, 400 for a code not listed. */
export function httpStatusOf(err: CodedError): number {
  return HTTP_STATUS[err.code] ?? 400;
}

// Refusals that two doors answer: Express middleware for HTTP requests, and
// server/live/websocket_guard.ts for websocket upgrades, which Express never
// sees. Each is made here once, so both doors say the same sentence.

/** What a 413 says, whichever parser refused the body (installErrorHandler.ts for JSON, request_shape.ts for grafserv's). */
export const BODY_TOO_LARGE = 'Request body too large';

/** SMA18: an Origin that is neither a CORS_ORIGINS origin nor this server (installCors.ts, websocket_guard.ts). */
export const originRefused = (): CodedError => new CodedError('SMA18', 'This origin may not call the API');

/** SMA15: a session token or cookie that is malformed, unknown, revoked or expired (installSession.ts, websocket_guard.ts). */
export const sessionEnded = (): CodedError =>
  new CodedError('SMA15', 'Your session has expired or is not valid: sign in again');

/** An Authorization header of another scheme (Basic…), or a Bearer without a token's shape. */
export const notABearerToken = (): CodedError =>
  new CodedError(
    'SMA15',
    'Send the session token as "Authorization: Bearer <token>" (login returns it): sign in again if you have none',
  );

/** An error a client may see as it is: ours, or SQL's with a documented SQLSTATE. */
export function isDocumented(err: unknown): err is CodedError {
  if (err instanceof CodedError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * What a client reads of a documented error. The project's own codes (SMS…, SMA…, SMB…, SMP…)
 * keep the message SQL or the server wrote for the person using the app. PostgreSQL's own
 * (SQLSTATEs starting with two digits: 42501, 22P02, 23505, …) get the documented message:
 * theirs is written for developers and names tables, constraints and the offending text
 * ("permission denied for table reservations", "invalid input syntax for type bigint: …").
 */
export function publicMessage(err: CodedError): string {
  return /^\d\d/.test(err.code) ? (ERROR_CODES[err.code] ?? err.message) : err.message;
}

/**
 * Any other error: logged with a reference, replaced by a message that carries
 * only that reference, so nothing about it leaves the server. The reference is
 * the request's id (X-Request-Id; every log line of the request carries it),
 * or a fresh one outside a request.
 */
export function internalError(err: unknown): CodedError {
  const request = currentRequest();
  const reference = request?.id ?? randomBytes(6).toString('hex');
  (request?.log ?? loggerFor('api')).error({ err, reference }, 'internal error');
  return new CodedError('INTERNAL', `Internal error (reference ${reference})`);
}

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

/**
 * The JSON error answer of every route; the status follows the code unless given. On /graphql
 * the body is a GraphQL response, `{"errors": [{"message", "extensions": {"code"}}]}`, with the
 * same status (the GraphQL-over-HTTP spec lets a server refuse a request, e.g. for
 * authentication, with a 4xx), as application/graphql-response+json when the client accepts it.
 */
export function sendError(res: Response, err: CodedError, status = httpStatusOf(err)): void {
  if (err.code === 'SMA02' && err.detail) res.set('Retry-After', err.detail);
  res.status(status);
  const req = res.req;
  if (req?.path !== '/graphql') {
    res.json({ error: { code: err.code, message: publicMessage(err) } });
    return;
  }
  const type =
    req.accepts(['application/json', GRAPHQL_RESPONSE]) === GRAPHQL_RESPONSE ? GRAPHQL_RESPONSE : 'application/json';
  res
    .type(`${type}; charset=utf-8`)
    .send(JSON.stringify({ errors: [{ message: publicMessage(err), extensions: { code: err.code } }] }));
}
