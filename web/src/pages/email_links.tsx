// The pages emailed links open: verify an email address, choose a new
// password (reset or staff invitation), and asking for a reset link.
import { useEffect, useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { FORGOT_PASSWORD, RESET_PASSWORD, VERIFY_EMAIL } from '../api/account.ts';
import { FormError, focusById, Loading, Notice, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { Link, useLocation } from '../router.tsx';
import { refreshSession } from '../session.ts';

const TOKEN_CODES = { token: ['SMA07'] };

export function VerifyEmailPage() {
  const token = useLocation().searchParams.get('token') ?? '';
  const [state, setState] = useState<'working' | 'done' | AppError>('working');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  // What is wrong with the password field: left empty (found before sending) or not this account's (SMA20 again).
  const [passwordError, setPasswordError] = useState<string | null>(null);

  async function verify(withPassword: string | null): Promise<AppError | null> {
    const r = await mutate<{ verifyEmail: { result: boolean } }>(VERIFY_EMAIL, { token, password: withPassword });
    setState(r.error ?? 'done');
    if (!r.error) refreshSession();
    return r.error;
  }
  // Signed in as the account, the link alone verifies; otherwise the API asks for its password (SMA20).
  useEffect(() => {
    verify(null);
  }, [token]);

  async function submit(event: Event) {
    event.preventDefault();
    const focus = () => setTimeout(() => document.getElementById('password')?.focus());
    if (password === '') {
      setPasswordError('Enter the password of this account.');
      focus();
      return;
    }
    setPasswordError(null);
    setBusy(true);
    const error = await verify(password);
    setBusy(false);
    // SMA20 after a password was sent: that password is not the account's.
    if (error?.code === 'SMA20') {
      setPasswordError("That password is not this account's. Check it and try again, or choose a password instead.");
      focus();
    }
  }

  // The first answer (SMA20) asks for the password: no error next to the field until one was tried.
  const needsPassword = typeof state === 'object' && state.code === 'SMA20';
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Verify your email</h1>
      {state === 'working' && <Loading what="your verification" />}
      {state === 'done' && <Notice>Thank you: your email address is verified.</Notice>}
      {needsPassword && (
        <form onSubmit={submit} noValidate>
          <p>
            Enter the password of the account this address signed up with. Did not sign up with us? Then someone else
            did with your address: <Link href="/forgot-password">choose a password</Link> instead, and the account is
            yours.
          </p>
          <TextField
            id="password"
            label="Password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            error={passwordError ?? undefined}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <SubmitButton busy={busy}>Verify</SubmitButton>
        </form>
      )}
      {typeof state === 'object' && !needsPassword && <FormError message={state.message} />}
      <p>
        <Link href="/">Find a spot</Link>
      </p>
    </div>
  );
}

/** Anyone asks for a new reset link; only an admin invites again. */
const ASK_ADMIN = 'ask the admin who invited you for a new invitation';

/**
 * /reset-password and /accept-invite: both set a password with the emailed token. Whether a token is
 * good is known only when it is used (no API checks one beforehand), but a link without one is
 * incomplete at once; a token refused takes the form away, since no password would be taken.
 */
export function SetPasswordPage({ invitation }: { invitation: boolean }) {
  const token = useLocation().searchParams.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate(RESET_PASSWORD, { token, password });
    setBusy(false);
    setError(r.error);
    setDone(!r.error);
    // The form goes away with its button: the message saying how it went takes the focus.
    if (r.error?.code === 'SMA07') focusById('link-refused');
  }

  const placed = placeError(error, { password: ['SMA04'], ...TOKEN_CODES });
  const refusal = !token
    ? `This link is incomplete: open the whole link from the email, or ${invitation ? ASK_ADMIN : 'ask for a new one'}.`
    : placed.field('token') &&
      (invitation ? `This invitation is unknown, already used or expired: ${ASK_ADMIN}.` : placed.field('token'));
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>{invitation ? 'Accept your invitation' : 'Choose a new password'}</h1>
      {done ? (
        <Notice>
          Your password is set. <Link href="/sign-in">Sign in</Link> with it.
        </Notice>
      ) : refusal ? (
        <FormError id="link-refused" message={refusal} />
      ) : (
        <form onSubmit={submit} noValidate>
          {invitation && <p>You were invited to join the Secure My Spot staff. Choose a password to finish.</p>}
          <TextField
            id="password"
            label="New password"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            hint="At least 10 characters, not one character repeated, not your email."
            error={placed.field('password')}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <FormError message={placed.general} />
          <SubmitButton busy={busy}>Set password</SubmitButton>
        </form>
      )}
      {refusal && !invitation && (
        <p>
          <Link href="/forgot-password">Ask for a new link</Link>
        </p>
      )}
    </div>
  );
}

export const ResetPasswordPage = () => <SetPasswordPage invitation={false} />;
export const AcceptInvitePage = () => <SetPasswordPage invitation={true} />;

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate(FORGOT_PASSWORD, { email });
    setBusy(false);
    setError(r.error);
    setSent(!r.error);
  }

  const placed = placeError(error, { email: ['SMA03'] });
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Forgot your password?</h1>
      {sent ? (
        <Notice>
          If an account has this email, we sent it a link to choose a new password. The link works for an hour.
        </Notice>
      ) : (
        <form onSubmit={submit} noValidate>
          <TextField
            id="email"
            label="Email"
            type="email"
            autoComplete="email"
            required
            value={email}
            error={placed.field('email')}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
          <FormError message={placed.general} />
          <SubmitButton busy={busy}>Email me a link</SubmitButton>
        </form>
      )}
    </div>
  );
}
