// A signed-in driver's reservations: current and upcoming, then past ones.
import { useEffect, useState } from 'preact/hooks';
import { run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { MY_RESERVATIONS, type MyReservationsData, type Reservation } from '../api/reservations.ts';
import { spotName } from '../api/search.ts';
import { FormError, Loading } from '../components/fields.tsx';
import { RequireSignIn } from '../components/require_sign_in.tsx';
import { endedEarlyAt, StatusBadge } from '../components/reservation_summary.tsx';
import { formatMoney, formatTime, formatWindow } from '../format.ts';
import { Link } from '../router.tsx';

function ReservationList({ items, empty }: { items: Reservation[]; empty: string }) {
  if (items.length === 0) return <p class="empty">{empty}</p>;
  return (
    <ul class="plain reservations">
      {items.map((r) => {
        const endedAt = endedEarlyAt(r);
        return (
          <li key={r.rowId} data-reservation-id={r.rowId}>
            <Link href={`/reservations/${r.rowId}`}>Reservation #{r.rowId}</Link> <StatusBadge r={r} />
            <p class="spot-title">{r.spot ? spotName(r.spot) : ''}</p>
            <p class="spot-facts">
              {formatWindow(r.startsAt, r.endsAt, r.timeZone)}
              {endedAt && `, ended at ${formatTime(endedAt, r.timeZone)}`} · {formatMoney(r.amount, r.currency)}
            </p>
          </li>
        );
      })}
    </ul>
  );
}

function Lists() {
  const [data, setData] = useState<MyReservationsData | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    run<MyReservationsData>(MY_RESERVATIONS).then((r) => {
      setData(r.data);
      setError(r.error);
    });
  }, []);
  if (error) return <FormError message={error.message} />;
  if (!data) return <Loading what="your reservations" />;
  return (
    <>
      <section aria-labelledby="current-title">
        <h2 id="current-title">Current and upcoming</h2>
        <ReservationList items={data.myReservations?.nodes ?? []} empty="Nothing booked right now." />
        <p>
          <Link href="/">Find a spot</Link>
        </p>
      </section>
      <section aria-labelledby="past-title">
        <h2 id="past-title">Past</h2>
        <ReservationList items={data.myPastReservations?.nodes ?? []} empty="No past reservations yet." />
      </section>
    </>
  );
}

export function MyReservationsPage() {
  return (
    <RequireSignIn title="My reservations">
      {() => (
        <div class="page narrow">
          <h1 tabIndex={-1}>My reservations</h1>
          <Lists />
        </div>
      )}
    </RequireSignIn>
  );
}
