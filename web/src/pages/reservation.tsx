// One reservation: /reservations/:id (signed-in drivers' emails),
// /reservations/:id/manage (guests' emails; the manage token comes in the
// link as #manageToken=… (or token=…, in the fragment or the query), or was
// kept by this browser when booking or once a link's token was accepted;
// without one, or with one refused, the guest can have a fresh link emailed) and
// /reservations/:id/pay (a payment that failed). Shows the status as it
// changes (held → confirmed), card set-up while one is needed, and the
// changes a driver can still make. "Your spot is reserved" is said when this
// page saw it turn confirmed (the card just added), not on later visits; after
// an action whose form goes away, the focus goes to what says how it went.
import { useEffect, useRef, useState } from 'preact/hooks';
import { run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import {
  forgetManageToken,
  GUEST_RESERVATION,
  MY_RESERVATION,
  rememberedManageToken,
  rememberManageToken,
  type GuestReservationData,
  type MyReservationData,
  type Reservation,
  type ReservationStatus,
} from '../api/reservations.ts';
import { CardSetup } from '../components/card_setup.tsx';
import { FormError, focusById, Loading, Notice } from '../components/fields.tsx';
import { ManageActions } from '../components/manage_actions.tsx';
import { ManageLinkRequest } from '../components/manage_link_request.tsx';
import { ReservationFacts, StatusBadge } from '../components/reservation_summary.tsx';
import { Link, useLocation } from '../router.tsx';
import { session } from '../session.ts';
import { ERROR_SENTENCES } from '../error_messages.ts';
import { formatMoney } from '../format.ts';

const WATCH_MS = 2000;
/** How long a reservation ended here is watched: its charge runs after the answer, and may fail. */
const SETTLE_MS = 60_000;

/** The guest's token in the link, taken out of the address bar (it is kept only once the API accepts it). */
function tokenFromLink(url: URL): string | null {
  const fragment = new URLSearchParams(url.hash.slice(1));
  const fromLink =
    fragment.get('manageToken') ??
    fragment.get('token') ??
    url.searchParams.get('manageToken') ??
    url.searchParams.get('token');
  if (fromLink) history.replaceState(null, '', url.pathname);
  return fromLink;
}

async function fetchReservation(
  id: string,
  token: string | null,
): Promise<{ r: Reservation | null; error: AppError | null }> {
  if (token) {
    const res = await run<GuestReservationData>(GUEST_RESERVATION, { id, token });
    return { r: res.data?.guestReservation ?? null, error: res.error };
  }
  const res = await run<MyReservationData>(MY_RESERVATION, { id });
  return { r: res.data?.myReservation ?? null, error: res.error };
}

export function ReservationPage({ params }: { params: Record<string, string> }) {
  const id = params.id!;
  const url = useLocation();
  const sessionState = session.use();
  const [token, setToken] = useState(() => tokenFromLink(url) ?? rememberedManageToken(id));
  // Whether a token was refused here (replaced by a newer link, or never valid): the page says why it offers a new one.
  const [refused, setRefused] = useState(false);
  // A fresh manage link opened in this same tab changes only the fragment: no reload.
  useEffect(() => {
    const fromLink = tokenFromLink(url);
    if (fromLink && fromLink !== token) setToken(fromLink);
  }, [url.hash]);
  const [r, setR] = useState<Reservation | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [changed, setChanged] = useState<string | null>(null);
  // Whether this page saw the reservation turn confirmed (a card just added): then, and only then, it says so.
  const [justConfirmed, setJustConfirmed] = useState(false);
  // Likewise paid: a card just added on the pay page settled it.
  const [justPaid, setJustPaid] = useState(false);
  const [settling, setSettling] = useState(false);
  const seen = useRef<{ id: string; status: ReservationStatus } | null>(null);
  const changedHere = useRef(false);

  const load = async () => {
    const got = await fetchReservation(id, token);
    if (token && got.error?.code === 'SMB06') {
      // A dead token kept would shut this browser out for good: drop it, and try the one kept (if another) or none.
      forgetManageToken(id, token);
      setRefused(true);
      setToken(rememberedManageToken(id));
      return;
    }
    if (token && got.r) rememberManageToken(id, token);
    setR(got.r);
    setError(got.error);
    setLoaded(true);
  };

  useEffect(() => {
    if (!token && sessionState.status === 'loading') return;
    load();
  }, [id, token, sessionState.status]);

  useEffect(() => {
    if (!settling) return;
    const timer = setTimeout(() => setSettling(false), SETTLE_MS);
    return () => clearTimeout(timer);
  }, [settling]);

  // While the reservation waits on the payment provider, watch it change.
  const waiting = r?.status === 'held' || r?.status === 'payment_failed' || settling;
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(load, WATCH_MS);
    return () => clearInterval(timer);
  }, [waiting]);

  // Out of waiting for a card (the card form is gone): say so, and move the focus from where the
  // form was to the message (a change made here focuses its own message).
  useEffect(() => {
    const before = seen.current?.id === r?.rowId ? seen.current?.status : null;
    seen.current = r ? { id: r.rowId, status: r.status } : null;
    if (!r || !before || before === r.status) return;
    const confirmedNow = before === 'held' && r.status === 'confirmed';
    const paidNow = before === 'payment_failed' && r.status === 'completed';
    if (confirmedNow) setJustConfirmed(true);
    if (paidNow) setJustPaid(true);
    if (changedHere.current) {
      changedHere.current = false;
      return;
    }
    if (before !== 'held' && before !== 'payment_failed') return;
    if (document.activeElement && document.activeElement !== document.body) return;
    focusById(confirmedNow ? 'reserved-notice' : paidNow ? 'paid-notice' : 'status-line');
  }, [r?.rowId, r?.status]);

  const title = `Reservation #${id}`;
  if (!loaded)
    return (
      <div class="page narrow">
        <h1 tabIndex={-1}>{title}</h1>
        <Loading what="the reservation" />
      </div>
    );
  if (!r) {
    const here = location.pathname;
    // A link from an email opened in a browser that never saw the reservation: not an error
    // of the person's (the API's "open the link from your email" is what they just did).
    const elsewhere = !token && sessionState.status === 'anonymous';
    return (
      <div class="page narrow">
        <h1 tabIndex={-1}>{title}</h1>
        {elsewhere ? (
          <>
            <p class="elsewhere">
              {refused && 'That link to manage it no longer works: each link we email replaces the one before. '}
              This browser cannot show this reservation yet. If you booked it as a guest, we email you a link that opens
              it here. If you booked it with your account,{' '}
              <Link href={`/sign-in?next=${encodeURIComponent(here)}`}>sign in</Link>.
            </p>
            <ManageLinkRequest reservationId={id} />
          </>
        ) : (
          <FormError message={error?.message ?? ERROR_SENTENCES.SMB06} />
        )}
      </div>
    );
  }

  const open = r.status === 'held' || r.status === 'confirmed';
  const over = new Date(r.endsAt).getTime() <= Date.now();
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>{r.status === 'payment_failed' ? `Pay for reservation #${id}` : title}</h1>
      <p aria-live="polite" class="status-line" id="status-line" tabIndex={-1}>
        Status: <StatusBadge r={r} />
      </p>
      <ReservationFacts r={r} />
      {r.status === 'held' && (
        <CardSetup
          reservationId={id}
          manageToken={token}
          onDone={load}
          submitLabel="Save card and confirm"
          note="Your card is charged when the reservation ends, for the time you used."
        />
      )}
      {r.status === 'payment_failed' && (
        <>
          <p>Charging your card failed. Add a card: we charge it for this reservation right away.</p>
          <CardSetup
            reservationId={id}
            manageToken={token}
            onDone={load}
            submitLabel="Pay with this card"
            note={`This card is charged ${formatMoney(r.amount, r.currency)} at once, for the reservation that ${over ? 'ended' : 'is under way'}.`}
          />
        </>
      )}
      {r.status === 'confirmed' && justConfirmed && !changed && (
        <Notice id="reserved-notice">Your spot is reserved. We emailed you the details.</Notice>
      )}
      {r.status === 'completed' && justPaid && <Notice id="paid-notice">Paid. We emailed you the receipt.</Notice>}
      {changed && <Notice id="change-notice">{changed}</Notice>}
      {open && !over && (
        <ManageActions
          r={r}
          manageToken={token}
          onChanged={(next) => {
            changedHere.current = next.status !== r.status;
            if (next.status === 'completed') setSettling(true);
            setR(next);
            setChanged(
              next.status === 'cancelled'
                ? 'Reservation cancelled.'
                : next.status === 'completed'
                  ? // The charge is not known yet: a refused card is told how to pay, not sent a receipt.
                    'Reservation ended. We charge your card and email you the receipt or, if the charge fails, how to pay.'
                  : next.status === 'expired'
                    ? 'Reservation ended. No card was set up, so nothing is charged.'
                    : 'New end saved.',
            );
            // The button that made the change is gone: the message saying how it went takes the focus.
            focusById('change-notice');
          }}
        />
      )}
      <p>
        {sessionState.status === 'signed-in' ? (
          <Link href="/reservations">All my reservations</Link>
        ) : (
          <Link href="/">Find another spot</Link>
        )}
      </p>
    </div>
  );
}
