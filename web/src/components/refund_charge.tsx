// Operators and admins: refund a successful charge in full or in part. The
// amount (in the charge's currency, with its own number of decimals: none for
// JPY; defaulting to what remains refundable) is checked next to the field
// (a plain positive amount, at most what remains), then reviewed in a
// confirmation step (Back to the amount, Cancel to close) before
// refundReservation runs; the API's codes land next
// to the amount field too.
import { useEffect, useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { REFUND_RESERVATION } from '../api/staff.ts';
import { formatMoney, moneyInput, parseMoney } from '../format.ts';
import { FormError, placeError, SubmitButton, TextField } from './fields.tsx';

const AMOUNT_CODES = { amount: ['SMP05', 'SMP06', 'SMP07'] };

/** Minor units from what was typed, or why it cannot be refunded. */
function refundAmount(text: string, remaining: number, currency: string): { amount: number } | { error: string } {
  const parsed = parseMoney(text, currency);
  if ('error' in parsed) return parsed;
  if (parsed.amount <= 0) return { error: 'Enter an amount above 0.' };
  if (parsed.amount > remaining)
    return { error: `At most ${formatMoney(remaining, currency)} is left to refund on this charge.` };
  return parsed;
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
  const [text, setText] = useState(moneyInput(remaining, currency));
  const [typed, setTyped] = useState<string | null>(null);
  const [review, setReview] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const placed = placeError(error, AMOUNT_CODES);
  const id = `refund-${reservationId}`;
  // Each step takes the focus: the question when it is asked, the amount when back at the form.
  useEffect(() => {
    if (open) document.getElementById(review !== null ? `${id}-question` : id)?.focus();
  }, [open, review !== null]);
  if (!open)
    return (
      <button
        type="button"
        onClick={() => {
          setText(moneyInput(remaining, currency));
          setError(null);
          setTyped(null);
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
        key="confirm"
        class="refund-confirm"
        onSubmit={(e) => {
          e.preventDefault();
          refund(review);
        }}
      >
        <p id={`${id}-question`} tabIndex={-1}>
          Refund {formatMoney(review, currency)} of reservation #{reservationId} to the customer's card? This cannot be
          undone.
        </p>
        <div class="button-row">
          <SubmitButton busy={busy}>Refund {formatMoney(review, currency)}</SubmitButton>
          <button key="back" type="button" disabled={busy} onClick={() => setReview(null)}>
            Back
          </button>
          <button
            key="cancel-confirm"
            type="button"
            disabled={busy}
            onClick={() => {
              setReview(null);
              setOpen(false);
            }}
          >
            Cancel
          </button>
        </div>
      </form>
    );
  return (
    <form
      key="amount"
      class="refund-form"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        const checked = refundAmount(text, remaining, currency);
        if ('error' in checked) {
          setTyped(checked.error);
          document.getElementById(id)?.focus();
          return;
        }
        setTyped(null);
        setReview(checked.amount);
      }}
      noValidate
    >
      <TextField
        id={id}
        label={`Amount to refund of reservation #${reservationId} (${currency})`}
        hint={`At most ${formatMoney(remaining, currency)}.`}
        inputMode="decimal"
        value={text}
        error={typed ?? placed.field('amount')}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <FormError message={placed.general} />
      <div class="button-row">
        <button key="review" type="submit" class="primary">
          Review refund
        </button>
        <button key="cancel" type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
