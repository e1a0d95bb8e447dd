// Signing in over HTTP, for API tests: a user made with createUser({password})
// (or registered) gets a bearer token or a browser-like cookie jar.
import type { TestApi } from './api.ts';
import { createUser, type TestDb, type TestUser } from './db.ts';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface BearerSession {
  userId: string;
  sessionId: string;
  token: string;
  /** Headers for api.gql(…, …, headers) or fetch. */
  headers: Record<string, string>;
}

export interface CookieSession {
  userId: string;
  sessionId: string;
  csrfToken: string;
  /** The Cookie header a browser would send (session + CSRF cookies). */
  cookie: string;
  /** Cookie + X-CSRF-Token: what the SPA sends on a mutation. */
  headers: Record<string, string>;
}

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Asserts a refusal at the HTTP level (auth routes, CSRF, bearer tokens): the
 * status and the documented code, from a route's {"error": {"code"}} answer
 * (postJson: res.body.error) or a GraphQL answer (api.gql: res.errors[0].extensions).
 */
export function assertRefused(
  res: { status: number; body?: any; errors?: any },
  status: number,
  code: string,
  label = '',
): void {
  const got = res.body?.error?.code ?? res.errors?.[0]?.extensions?.code;
  if (res.status !== status || got !== code) {
    throw new Error(
      `${label ? `${label}: ` : ''}expected ${status} ${code}, got ${res.status} ${got ?? JSON.stringify(res.body ?? res)}`,
    );
  }
}

/** POST JSON to a path of the API. */
export async function postJson<T = any>(
  api: TestApi,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  const res = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** The name=value pairs of a response's Set-Cookie headers, ready for a Cookie header. */
export function cookiesOf(headers: Headers): Record<string, string> {
  const jar: Record<string, string> = {};
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    jar[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1));
  }
  return jar;
}

export function cookieHeader(jar: Record<string, string>): string {
  return Object.entries(jar)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('; ');
}

/** Signs in with email and password; returns a bearer token. Throws unless the API says 200. */
export async function signIn(api: TestApi, email: string, password = TEST_PASSWORD): Promise<BearerSession> {
  const res = await postJson(api, '/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`sign-in of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body, headers: { authorization: `Bearer ${res.body.token}` } };
}

/** Signs in as a browser would: session cookie + CSRF cookie, and the headers a mutation needs. */
export async function signInWithCookie(api: TestApi, email: string, password = TEST_PASSWORD): Promise<CookieSession> {
  const res = await postJson(api, '/auth/login', { email, password, session: 'cookie' });
  if (res.status !== 200) throw new Error(`sign-in of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  const cookie = cookieHeader(cookiesOf(res.headers));
  return { ...res.body, cookie, headers: { cookie, 'x-csrf-token': res.body.csrfToken } };
}

/** A new user of the given role, signed in over HTTP with a bearer token. */
export async function createSignedInUser(
  db: TestDb,
  api: TestApi,
  props: { role?: string; email?: string; verified?: boolean; name?: string } = {},
): Promise<TestUser & BearerSession> {
  const user = await createUser(db, { ...props, password: TEST_PASSWORD });
  const session = await signIn(api, user.email);
  return { ...user, ...session };
}
