// Who is signed in. The browser holds an HttpOnly session cookie set by the
// /auth routes; the app only knows the user from `currentUser`.
import { csrfHeaders, run, whenSessionEnds } from './api/client.ts';
import { errorFromResponse, networkError, type AppError } from './api/errors.ts';
import { createStore } from './store.ts';

export interface CurrentUser {
  rowId: string;
  email: string;
  name: string | null;
  role: string;
  isVerified: boolean;
}

export type SessionState =
  | { status: 'loading' }
  | { status: 'anonymous' }
  | { status: 'signed-in'; user: CurrentUser }
  // Never answered (the API out of reach, a 5xx): who is signed in is not known, so no page says "sign in".
  | { status: 'unknown'; error: AppError };

export const session = createStore<SessionState>({ status: 'loading' });

const CURRENT_USER = `query CurrentUser { currentUser { rowId email name role isVerified } }`;

/** The answers that say this browser's session is over; any other failure says nothing about who is signed in. */
const SESSION_ENDED = ['SMA15', 'SMA08'];

export async function refreshSession(): Promise<SessionState> {
  const result = await run<{ currentUser: CurrentUser | null }>(CURRENT_USER);
  const before = session.get();
  const state: SessionState = result.data?.currentUser
    ? { status: 'signed-in', user: result.data.currentUser }
    : result.data || SESSION_ENDED.includes(result.error.code)
      ? { status: 'anonymous' }
      : before.status === 'signed-in' || before.status === 'anonymous'
        ? before
        : { status: 'unknown', error: result.error };
  session.set(state);
  return state;
}

// An answer saying the session is over (revoked or expired elsewhere): read who is signed in again, once.
let rechecking = false;
whenSessionEnds(() => {
  if (rechecking || session.get().status !== 'signed-in') return;
  rechecking = true;
  refreshSession().finally(() => {
    rechecking = false;
  });
});

async function postAuth(path: string, body: unknown): Promise<AppError | null> {
  try {
    const res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', ...csrfHeaders() },
      body: JSON.stringify(body),
    });
    if (!res.ok) return errorFromResponse(res);
  } catch {
    return networkError();
  }
  await refreshSession();
  return null;
}

/** Signs in with a password; the session arrives as cookies. */
export const signIn = (email: string, password: string) =>
  postAuth('/auth/login', { email, password, session: 'cookie' });

/** Creates a driver account and signs it in; the API emails a verification link. */
export const signUp = (email: string, name: string, password: string) =>
  postAuth('/auth/register', { email, name, password, session: 'cookie' });

export const signOut = () => postAuth('/auth/logout', {});
