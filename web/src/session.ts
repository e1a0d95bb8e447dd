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

export type SessionState = { status: 'loading' } | { status: 'anonymous' } | { status: 'signed-in'; user: CurrentUser };

export const session = createStore<SessionState>({ status: 'loading' });

const CURRENT_USER = `query CurrentUser { currentUser { rowId email name role isVerified } }`;

export async function refreshSession(): Promise<SessionState> {
  const result = await run<{ currentUser: CurrentUser | null }>(CURRENT_USER);
  const state: SessionState = result.data?.currentUser
    ? { status: 'signed-in', user: result.data.currentUser }
    : { status: 'anonymous' };
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
