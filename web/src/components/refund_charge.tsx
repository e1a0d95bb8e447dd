// Operators and admins: refund a successful charge in full or in part. The
// amount (dollars, defaulting to what remains refundable) is reviewed in a
// confirmation step before refundReservation runs; the API's codes land next
// to the amount field.
import { useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { REFUND_RESERVATION } from '../api/staff.ts';
import { formatMoney } from '../format.ts';
import { FormError, placeError, SubmitButton, TextField } from './fields.tsx';

const AMOUNT_CODES = { amount: ['SMP05', 'SMP06', 'SMP07'] };

/** Minor units from what was typed; 0 (which the API refuses with SMP06) when it is no amount. */
function toMinorUnits(text: string): number {
  const cents = Math.round(Number(text.replace(/[$,\s]/g, '')) * 100);
  return Number.isSafeInteger(cents) ? cents : 0;
}

export function RefundCharge({
  reservationId,
  remaining,
  currency,
  onRefunded,
}: {
  reservationId: string;
  /** Minor units still refundable. */
  remaining: number;
  currency: string;
  onRefunded: (message: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState((remaining / 100).toFixed(2));
  const [review, setReview] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const placed = placeError(error, AMOUNT_CODES);
  const id = `refund-${reservationId}`;
  if (!open)
    return (
      <button
        type="button"
        onClick={() => {
          setText((remaining / 100).toFixed(2));
          setError(null);
          setOpen(true);
        }}
      >
        Refund reservation #{reservationId}…
      </button>
    );
  async function refund(amount: number) {
    setBusy(true);
    const r = await mutate(REFUND_RESERVATION, { id: reservationId, amount });
    setBusy(false);
    setReview(null);
    setError(r.error);
    if (!r.error) {
      setOpen(false);
      onRefunded(`Refunded ${formatMoney(amount, currency)} of reservation #${reservationId}.`);
    }
  }
  if (review !== null)
    return (
      <form
        class="refund-confirm"
        onSubmit={(e) => {
          e.preventDefault();
          refund(review);
        }}
      >
        <p>
          Refund {formatMoney(review, currency)} of reservation #{reservationId} to the customer's card? This cannot be
          undone.
        </p>
        <div class="button-row">
          <SubmitButton busy={busy}>Refund {formatMoney(review, currency)}</SubmitButton>
          <button type="button" disabled={busy} onClick={() => setReview(null)}>
            Back
          </button>
        </div>
      </form>
    );
  return (
    <form
      class="refund-form"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        setReview(toMinorUnits(text));
      }}
      noValidate
    >
      <TextField
        id={id}
        label={`Amount to refund of reservation #${reservationId} (${currency})`}
        hint={`At most ${formatMoney(remaining, currency)}.`}
        inputMode="decimal"
        value={text}
        error={placed.field('amount')}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <FormError message={placed.general} />
      <div class="button-row">
        <button type="submit" class="primary">
          Review refund
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
