// What a reservation is: spot, window in the spot's time zone, price (and any refund), status.
import { spotName } from '../api/search.ts';
import { STATUS_TEXT, type Reservation } from '../api/reservations.ts';
import { formatMoney, formatTime, formatWindow } from '../format.ts';

export function StatusBadge({ r }: { r: Reservation }) {
  return (
    <span class={`status status-${r.status}`} data-status={r.status}>
      {STATUS_TEXT[r.status]}
    </span>
  );
}

/**
 * When a hold ended before its booked end (ended now, or its time to add a card ran out): the
 * API keeps the booked window, and the change that expired it is its last one.
 */
export function endedEarlyAt(r: Reservation): string | null {
  if (r.status !== 'expired') return null;
  return new Date(r.updatedAt).getTime() < new Date(r.endsAt).getTime() ? r.updatedAt : null;
}

export function ReservationFacts({ r }: { r: Reservation }) {
  const endedAt = endedEarlyAt(r);
  return (
    <dl class="facts">
      <dt>Spot</dt>
      <dd>{r.spot ? spotName(r.spot) : '—'}</dd>
      <dt>When</dt>
      <dd>{formatWindow(r.startsAt, r.endsAt, r.timeZone)}</dd>
      {endedAt && (
        <>
          <dt>Ended</dt>
          <dd data-ended-at={endedAt}>at {formatTime(endedAt, r.timeZone)}</dd>
        </>
      )}
      <dt>{r.status === 'completed' || r.status === 'payment_failed' ? 'Price' : 'Quoted price'}</dt>
      <dd data-amount={r.amount}>{formatMoney(r.amount, r.currency)}</dd>
      {r.refunded > 0 && (
        <>
          <dt>Refunded</dt>
          <dd data-refunded={r.refunded}>{formatMoney(r.refunded, r.currency)}</dd>
        </>
      )}
      {r.status === 'held' && r.holdExpiresAt && (
        <>
          <dt>Hold ends</dt>
          <dd>{formatTime(r.holdExpiresAt, r.timeZone)}</dd>
        </>
      )}
    </dl>
  );
}
