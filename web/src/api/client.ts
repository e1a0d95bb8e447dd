// The one GraphQL client (@urql/core). Always POST (the API answers GraphQL
// only on POST), same-origin cookies, and the CSRF double-submit header that
// cookie-authenticated writes need (server/middleware/installCsrf.ts).
import { Client, fetchExchange, type AnyVariables } from '@urql/core';
import { errorFromResult, networkError, type AppError } from './errors.ts';

export function csrfToken(): string | undefined {
  const cookie = document.cookie.split('; ').find((c) => c.startsWith('sms_csrf='));
  return cookie ? decodeURIComponent(cookie.slice('sms_csrf='.length)) : undefined;
}

export function csrfHeaders(): Record<string, string> {
  const token = csrfToken();
  return token ? { 'x-csrf-token': token } : {};
}

/** Who re-reads the session when an answer says it is over (session.ts); kept here, which session.ts imports. */
let sessionEnded: (() => void) | null = null;

/** `handler` runs when an answer says this browser is no longer signed in: HTTP 401, SMA15 or SMA08. */
export function whenSessionEnds(handler: () => void): void {
  sessionEnded = handler;
}

/**
 * The API's non-GraphQL refusals (CSRF 403, CORS 403, a stale bearer 401)
 * answer {"error": {code, message}}; reshape them as GraphQL errors so every
 * failure reaches the page the same way.
 */
async function apiFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  if (res.status === 401) sessionEnded?.();
  if (res.ok || !res.headers.get('content-type')?.includes('json')) return res;
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  if (!body?.error?.code) return res;
  const errors = [{ message: body.error.message ?? '', extensions: { code: body.error.code } }];
  return new Response(JSON.stringify({ data: null, errors }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

export const client = new Client({
  url: '/graphql',
  exchanges: [fetchExchange],
  preferGetMethod: false,
  requestPolicy: 'network-only',
  fetch: apiFetch,
  fetchOptions: () => ({ credentials: 'same-origin', headers: csrfHeaders() }),
});

export type Result<T> = { data: T; error: null } | { data: null; error: AppError };

/** Runs a query or mutation; a GraphQL or network error becomes an AppError with a sentence for people. */
export async function run<T, V extends AnyVariables = AnyVariables>(
  document: string,
  variables?: V,
  mutation = false,
  retried = false,
): Promise<Result<T>> {
  const op = mutation ? client.mutation<T, V>(document, variables as V) : client.query<T, V>(document, variables as V);
  const result = await op.toPromise();
  if (result.error) {
    const error = errorFromResult(result.error);
    // Revoked or expired elsewhere (a password reset, a session signed out): the header must say so too.
    if (error.code === 'SMA15' || error.code === 'SMA08') sessionEnded?.();
    // The API cleared the dead cookie with that answer: a read is asked again as the visitor
    // this browser now is (a search still shows spots); a write is not, its author must know.
    if (error.code === 'SMA15' && !mutation && !retried) return run<T, V>(document, variables, mutation, true);
    return { data: null, error };
  }
  if (!result.data) return { data: null, error: networkError() };
  return { data: result.data, error: null };
}

export const mutate = <T, V extends AnyVariables = AnyVariables>(document: string, variables?: V) =>
  run<T, V>(document, variables, true);
