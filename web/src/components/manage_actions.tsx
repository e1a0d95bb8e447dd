// Change the end, end now, or cancel a reservation; each shows what it will
// cost (priced at the rate the reservation was booked under, as the change
// itself will be) and waits for the driver to accept it. The question takes
// the focus when it opens; keeping things as they are (its button, or Escape
// as in a dialog) or a refusal gives it back to the button that asked.
import { useState } from 'preact/hooks';
import { mutate, run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { CANCEL, CHANGE_END, END_NOW, END_QUOTE, type EndQuoteData, type Reservation } from '../api/reservations.ts';
import { formatMinutes, formatMoney, formatTime, intervalMinutes } from '../format.ts';
import { FormError, focusById, placeError, SelectField } from './fields.tsx';

type Pending = { kind: 'change'; endsAt: Date; amount: number } | { kind: 'end'; amount: number } | { kind: 'cancel' };

const STEPS = [-60, -30, -15, 15, 30, 60, 120];

/** The button that opens each question, which takes the focus back when the question closes unanswered. */
const OPENER: Record<Pending['kind'], string> = { change: 'see-price', end: 'end-or-cancel', cancel: 'end-or-cancel' };

interface Props {
  r: Reservation;
  manageToken: string | null;
  onChanged(r: Reservation): void;
}

export function ManageActions({ r, manageToken, onChanged }: Props) {
  const [pending, setPending] = useState<Pending | null>(null);
  const [step, setStep] = useState('30');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const now = Date.now();
  const started = new Date(r.startsAt).getTime() <= now;
  const maxMinutes = r.spot ? intervalMinutes(r.spot.maxStay) : Infinity;
  const currentMinutes = (new Date(r.endsAt).getTime() - new Date(r.startsAt).getTime()) / 60_000;
  const steps = STEPS.filter(
    (m) =>
      currentMinutes + m > 0 && currentMinutes + m <= maxMinutes && new Date(r.endsAt).getTime() + m * 60_000 > now,
  );

  /** The price ending at `endsAt`; null: now, by the API's clock (a browser's "now" has passed when it arrives). */
  async function quote(endsAt: Date | null): Promise<number | null> {
    const q = await run<EndQuoteData>(END_QUOTE, { id: r.rowId, token: manageToken, endsAt: endsAt?.toISOString() });
    if (q.error) {
      setError(q.error);
      return null;
    }
    return q.data.reservationEndQuote?.amount ?? null;
  }

  // The chosen step, or the first one on offer when it is not (any more).
  const chosen = steps.includes(Number(step)) ? step : String(steps.find((m) => m > 0) ?? steps[0]);

  async function askChange() {
    setError(null);
    const endsAt = new Date(new Date(r.endsAt).getTime() + Number(chosen) * 60_000);
    const amount = await quote(endsAt);
    if (amount !== null) ask({ kind: 'change', endsAt, amount });
  }

  /** Opens the question; it takes the focus from the button that asked (which goes away). */
  function ask(next: Pending) {
    setPending(next);
    focusById('requote-title');
  }

  /** Closes the question unanswered: the focus goes back to the button that asked. */
  function keep() {
    const opener = pending ? OPENER[pending.kind] : null;
    setPending(null);
    if (opener) focusById(opener);
  }

  async function askEnd() {
    setError(null);
    const amount = await quote(null);
    if (amount !== null) ask({ kind: 'end', amount });
  }

  async function accept() {
    if (!pending) return;
    setBusy(true);
    const vars = { id: r.rowId, token: manageToken };
    const result =
      pending.kind === 'change'
        ? await mutate<Record<string, { result: { reservation: Reservation } }>>(CHANGE_END, {
            ...vars,
            endsAt: pending.endsAt.toISOString(),
          })
        : await mutate<Record<string, { result: { reservation: Reservation } }>>(
            pending.kind === 'end' ? END_NOW : CANCEL,
            vars,
          );
    setBusy(false);
    const opener = OPENER[pending.kind];
    setPending(null);
    if (result.error) {
      setError(result.error);
      focusById(['SMB01', 'SMB04', 'SMB03'].includes(result.error.code) && steps.length > 0 ? 'step' : opener);
      return;
    }
    const payload = Object.values(result.data)[0];
    if (payload?.result?.reservation) onChanged(payload.result.reservation);
  }

  const placed = placeError(error, { step: ['SMB01', 'SMB04', 'SMB03'] });
  return (
    <section class="manage" aria-labelledby="manage-title">
      <h2 id="manage-title">Change this reservation</h2>
      {pending ? (
        <section
          class="requote"
          aria-labelledby="requote-title"
          onKeyDown={(e) => {
            if (e.key === 'Escape' && !busy) keep();
          }}
        >
          <h3 id="requote-title" tabIndex={-1}>
            {pending.kind === 'change'
              ? 'Change the end?'
              : pending.kind === 'end'
                ? 'End it now?'
                : 'Cancel this reservation?'}
          </h3>
          <p class="requote-text">
            {pending.kind === 'change' && (
              <>
                New end {formatTime(pending.endsAt.toISOString(), r.timeZone)}:{' '}
                {formatMoney(pending.amount, r.currency)} instead of {formatMoney(r.amount, r.currency)}.
              </>
            )}
            {pending.kind === 'end' &&
              (r.status === 'held' ? (
                <>No card was set up for it: ending it now releases the spot, and nothing is charged.</>
              ) : (
                <>
                  You pay for the time used: {formatMoney(pending.amount, r.currency)} instead of{' '}
                  {formatMoney(r.amount, r.currency)}, and the spot is free again.
                </>
              ))}
            {pending.kind === 'cancel' && <>It has not started: cancelling costs nothing.</>}
          </p>
          <div class="button-row">
            <button type="button" class="primary" disabled={busy} onClick={accept}>
              {pending.kind === 'change' ? 'Accept new end' : pending.kind === 'end' ? 'End now' : 'Cancel reservation'}
            </button>
            <button type="button" disabled={busy} onClick={keep}>
              Keep it as it is
            </button>
          </div>
        </section>
      ) : (
        <>
          {steps.length > 0 && (
            <div class="change-end">
              <SelectField
                id="step"
                label={`Change the end (now ${formatTime(r.endsAt, r.timeZone)}, longest stay ${formatMinutes(maxMinutes)})`}
                value={chosen}
                error={placed.field('step')}
                onChange={(e) => setStep(e.currentTarget.value)}
              >
                {steps.map((m) => (
                  <option key={m} value={String(m)}>
                    {m > 0 ? `${formatMinutes(m)} later` : `${formatMinutes(-m)} earlier`}
                  </option>
                ))}
              </SelectField>
              <button type="button" id="see-price" onClick={askChange}>
                See the new price
              </button>
            </div>
          )}
          <div class="button-row">
            {started ? (
              <button type="button" id="end-or-cancel" class="danger" onClick={askEnd}>
                End now…
              </button>
            ) : (
              <button
                type="button"
                id="end-or-cancel"
                class="danger"
                onClick={() => {
                  setError(null);
                  ask({ kind: 'cancel' });
                }}
              >
                Cancel reservation…
              </button>
            )}
          </div>
        </>
      )}
      <FormError message={placed.general} />
    </section>
  );
}
