// A sign-in attempt as SQL answers it (app_private.login_attempt behind POST /auth/login,
// app_hidden.login behind the GraphQL login mutation), and the one way both refuse it.
import { CodedError } from './errors.ts';

export interface LoginAttempt {
  status: string;
  user_id: string | null;
  session_id: string | null;
  token: string | null;
  /** Seconds to wait, when status is 'limited'. */
  retry_after: number;
}

/** Throws unless the attempt signed in: SMA02 (too many attempts, with the seconds to wait) or SMA01. */
export function refuseFailedLogin(attempt: Pick<LoginAttempt, 'status' | 'retry_after'>): void {
  if (attempt.status === 'limited') {
    throw new CodedError(
      'SMA02',
      `Too many attempts. Try again in ${attempt.retry_after} seconds.`,
      String(attempt.retry_after),
    );
  }
  if (attempt.status !== 'ok') throw new CodedError('SMA01', 'Wrong email or password');
}
