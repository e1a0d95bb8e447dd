// Sign in with email and password, or with Google / Facebook when the API has them configured.
import { useEffect, useState } from 'preact/hooks';
import { run } from '../api/client.ts';
import { makeError, type AppError } from '../api/errors.ts';
import { SIGN_IN_PROVIDERS, type SignInProvidersData } from '../api/account.ts';
import { FormError, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { signIn } from '../session.ts';

const FIELD_CODES = { email: ['SMA03'], password: ['SMA04'] };
const PROVIDER_NAMES: Record<string, string> = { google: 'Google', facebook: 'Facebook' };

/** Only a path inside the app (never another site) is followed after signing in. */
export function nextPath(url: URL): string {
  const next = url.searchParams.get('next') ?? '/';
  return /^\/(?![/\\])/.test(next) ? next : '/';
}

export function SignInPage() {
  const url = useLocation();
  const next = nextPath(url);
  const oauthError = url.searchParams.get('error');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(oauthError ? makeError(oauthError) : null);
  const [providers, setProviders] = useState<string[]>([]);

  useEffect(() => {
    run<SignInProvidersData>(SIGN_IN_PROVIDERS).then((r) => setProviders(r.data?.signInProviders ?? []));
  }, []);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const failure = await signIn(email, password);
    setBusy(false);
    if (failure) {
      setError(failure);
      return;
    }
    navigate(next, { replace: true });
  }

  const placed = placeError(error, FIELD_CODES);
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Sign in</h1>
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
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          error={placed.field('password')}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <FormError message={placed.general} />
        <div class="button-row">
          <SubmitButton busy={busy}>Sign in</SubmitButton>
          <Link href="/forgot-password">Forgot your password?</Link>
        </div>
      </form>
      {providers.length > 0 && (
        <section aria-labelledby="other-ways">
          <h2 id="other-ways">Or sign in with</h2>
          <div class="button-row">
            {providers.map((p) => (
              <a key={p} class="button" href={`/auth/${p}?redirect=${encodeURIComponent(next)}`}>
                {PROVIDER_NAMES[p] ?? p}
              </a>
            ))}
          </div>
        </section>
      )}
      <p>
        New here?{' '}
        <Link href={`/sign-up${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`}>Create an account</Link>.
      </p>
    </div>
  );
}
