// Pages for signed-in drivers: a sign-in link (coming back here) for everyone else, and a way to
// try again when the server could not say who is signed in.
import type { ComponentChildren } from 'preact';
import { Link } from '../router.tsx';
import { refreshSession, session, type CurrentUser } from '../session.ts';
import { FormError, Loading } from './fields.tsx';
import { ERROR_SENTENCES } from '../error_messages.ts';

export function RequireSignIn({
  title,
  children,
}: {
  title: string;
  children: (user: CurrentUser) => ComponentChildren;
}) {
  const state = session.use();
  if (state.status === 'loading')
    return (
      <div class="page">
        <h1 tabIndex={-1}>{title}</h1>
        <Loading what="your account" />
      </div>
    );
  if (state.status === 'unknown')
    return (
      <div class="page narrow">
        <h1 tabIndex={-1}>{title}</h1>
        <FormError message={state.error.message} />
        <button type="button" onClick={refreshSession}>
          Try again
        </button>
      </div>
    );
  if (state.status === 'anonymous') {
    const here = location.pathname + location.search;
    return (
      <div class="page narrow">
        <h1 tabIndex={-1}>{title}</h1>
        <p>
          {ERROR_SENTENCES.SMA08} <Link href={`/sign-in?next=${encodeURIComponent(here)}`}>Sign in</Link> or{' '}
          <Link href={`/sign-up?next=${encodeURIComponent(here)}`}>create an account</Link>.
        </p>
      </div>
    );
  }
  return <>{children(state.user)}</>;
}
