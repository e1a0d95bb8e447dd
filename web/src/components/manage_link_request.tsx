// For a guest on a reservation page this browser has no manage token for (a
// link from an email opened elsewhere): sendManageLink mails a fresh link to
// the address the reservation was made with. The answer is the same whether
// or not the address matches, so the form reveals nothing about the booking.
import { useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { SEND_MANAGE_LINK } from '../api/reservations.ts';
import { FormError, Notice, placeError, SubmitButton, TextField } from './fields.tsx';

export function ManageLinkRequest({ reservationId }: { reservationId: string }) {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate(SEND_MANAGE_LINK, { id: reservationId, email });
    setBusy(false);
    setError(r.error);
    if (!r.error) setSent(true);
  }

  if (sent) return <Notice>If {email} made this reservation, a link to manage it is on its way there.</Notice>;
  const placed = placeError(error, { email: ['SMA03', 'SMB08'] });
  return (
    <form class="manage-link-request" onSubmit={submit} noValidate aria-labelledby="manage-link-title">
      <h2 id="manage-link-title">Booked as a guest?</h2>
      <TextField
        id="manage-email"
        label="The email you booked with"
        type="email"
        autoComplete="email"
        required
        value={email}
        error={placed.field('email')}
        onInput={(e) => setEmail(e.currentTarget.value)}
      />
      <FormError message={placed.general} />
      <SubmitButton busy={busy}>Email me a link to manage it</SubmitButton>
    </form>
  );
}
