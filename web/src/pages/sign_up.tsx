// Sign up as a driver; the API emails a link to verify the address.
import { useState } from 'preact/hooks';
import type { AppError } from '../api/errors.ts';
import { FormError, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { signUp } from '../session.ts';
import { nextPath } from './sign_in.tsx';

const FIELD_CODES = { email: ['SMA03', 'SMA06', '23505'], name: ['SMA05'], password: ['SMA04'] };

export function SignUpPage() {
  const next = nextPath(useLocation());
  const [form, setForm] = useState({ email: '', name: '', password: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const failure = await signUp(form.email, form.name, form.password);
    setBusy(false);
    if (failure) {
      setError(failure);
      return;
    }
    navigate(next === '/' ? '/account?welcome=1' : next, { replace: true });
  }

  const placed = placeError(error, FIELD_CODES);
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Create an account</h1>
      <form onSubmit={submit} noValidate>
        <TextField
          id="name"
          label="Name"
          autoComplete="name"
          required
          value={form.name}
          error={placed.field('name')}
          onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
        />
        <TextField
          id="email"
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={form.email}
          error={placed.field('email')}
          onInput={(e) => setForm({ ...form, email: e.currentTarget.value })}
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          value={form.password}
          hint="At least 10 characters, not one character repeated, not your email."
          error={placed.field('password')}
          onInput={(e) => setForm({ ...form, password: e.currentTarget.value })}
        />
        <FormError message={placed.general} />
        <SubmitButton busy={busy}>Create account</SubmitButton>
      </form>
      <p>
        Already have an account?{' '}
        <Link href={`/sign-in${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`}>Sign in</Link>.
      </p>
    </div>
  );
}
