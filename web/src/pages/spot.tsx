// Reserve one spot: its details, the window (up to its longest stay; a chosen
// start is read on the spot's clock, its rate's time zone, named next to the
// field), the price for that window, and an email for guests. Then on to the card.
import { useEffect, useState } from 'preact/hooks';
import { mutate, run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { RESERVE, rememberManageToken, type ReserveData } from '../api/reservations.ts';
import { QUOTE, SPOT, spotTitle, type Price, type QuoteData, type SpotData } from '../api/search.ts';
import { FormError, Loading, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { WindowFields } from '../components/window_fields.tsx';
import { formatMinutes, formatMoney, intervalMinutes } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { session } from '../session.ts';
import { windowFromParams, windowRange, type TimeWindow } from '../window.ts';
import { zoneLabel } from '../zoned_time.ts';

const FIELD_CODES = { window: ['SMB03', 'SMB04', 'SMB05', 'SMS03'], email: ['SMB08', 'SMA03'] };

export function SpotPage({ params }: { params: Record<string, string> }) {
  const id = params.id!;
  const url = useLocation();
  const state = session.use();
  const [spot, setSpot] = useState<SpotData['spot'] | undefined>(undefined);
  const [w, setW] = useState<TimeWindow>(() => windowFromParams(url.searchParams));
  const [price, setPrice] = useState<Price | null>(null);
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    run<SpotData>(SPOT, { id }).then((r) => {
      setSpot(r.data?.spot ?? null);
      if (r.error) setError(r.error);
    });
  }, [id]);

  // The spot's clock, once the spot is known (a chosen start is read on it).
  const zone = spot?.rate?.timeZone ?? null;
  const known = spot !== undefined;

  // The price for the window as it is chosen.
  useEffect(() => {
    if (!known && w.start !== 'now') return;
    const { startsAt, endsAt } = windowRange(w, zone);
    let live = true;
    run<QuoteData>(QUOTE, { id, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString() }).then((r) => {
      if (!live) return;
      setPrice(r.data?.quote ?? null);
      setError(r.error);
    });
    return () => {
      live = false;
    };
  }, [id, w.start, w.minutes, zone, known]);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const startsAt = w.start === 'now' ? null : windowRange(w, zone).startsAt.toISOString();
    const r = await mutate<ReserveData>(RESERVE, {
      spotId: id,
      startsAt,
      minutes: w.minutes,
      email: state.status === 'signed-in' ? null : email,
    });
    setBusy(false);
    if (r.error) {
      setError(r.error);
      return;
    }
    const result = r.data.reserve?.result;
    const reservationId = result!.reservation!.rowId;
    if (result!.manageToken) rememberManageToken(reservationId, result!.manageToken);
    navigate(`/reservations/${reservationId}`);
  }

  if (spot === undefined)
    return (
      <div class="page narrow">
        <h1 tabIndex={-1}>Reserve a spot</h1>
        <Loading what="the spot" />
      </div>
    );
  if (spot === null) {
    return (
      <div class="page narrow">
        <h1 tabIndex={-1}>Reserve a spot</h1>
        <FormError message={error?.message ?? 'This spot does not exist.'} />
        <p>
          <Link href="/">Find another spot</Link>
        </p>
      </div>
    );
  }
  const maxMinutes = intervalMinutes(spot.maxStay);
  const placed = placeError(error, FIELD_CODES);
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Reserve a spot</h1>
      <p class="spot-title">
        <strong>{spotTitle(spot)}</strong>
      </p>
      <p class="spot-facts">
        {spot.borough && `${spot.borough} · `}Up to {formatMinutes(maxMinutes)}
        {spot.rate && ` · ${spot.rate.name}`}
        {spot.meterHours && ` · posted: ${spot.meterHours}`}
      </p>
      <form onSubmit={submit} noValidate>
        <WindowFields
          idPrefix="reserve"
          value={w}
          onChange={setW}
          maxMinutes={maxMinutes}
          timeZone={zone}
          zoneHint={
            zone
              ? `In ${zoneLabel(zone)}, the spot's time zone.`
              : `In ${zoneLabel()}, this browser's time zone (the spot has no rate).`
          }
          error={placed.field('window')}
        />
        <p class="price-line" aria-live="polite">
          Price for this time: <strong data-price>{price ? formatMoney(price.amount, price.currency) : '…'}</strong>
        </p>
        {state.status !== 'signed-in' && (
          <>
            <TextField
              id="email"
              label="Your email"
              type="email"
              autoComplete="email"
              required
              value={email}
              error={placed.field('email')}
              hint="We send the reservation and its link there."
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
            <p class="hint">
              Or <Link href={`/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`}>sign in</Link> to keep it
              in your account.
            </p>
          </>
        )}
        <FormError message={placed.general} />
        <SubmitButton busy={busy}>Reserve and add a card</SubmitButton>
      </form>
    </div>
  );
}
