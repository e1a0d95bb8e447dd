// Staff pages: signed in (RequireSignIn), and one of the roles the page is for;
// everyone else reads why, in the same sentence the API would answer with.
import type { ComponentChildren } from 'preact';
import { ERROR_SENTENCES } from '../error_messages.ts';
import type { CurrentUser } from '../session.ts';
import { RequireSignIn } from './require_sign_in.tsx';

export function RequireStaff({
  title,
  roles,
  refusal,
  children,
}: {
  title: string;
  roles: string[];
  refusal: string;
  children: (user: CurrentUser) => ComponentChildren;
}) {
  return (
    <RequireSignIn title={title}>
      {(user) =>
        roles.includes(user.role) ? (
          children(user)
        ) : (
          <div class="page narrow">
            <h1 tabIndex={-1}>{title}</h1>
            <p role="alert">{ERROR_SENTENCES[refusal]}</p>
          </div>
        )
      }
    </RequireSignIn>
  );
}
