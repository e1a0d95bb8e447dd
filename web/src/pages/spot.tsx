// Reserve one spot: its details, the window (up to its longest stay; a chosen
// start is read on the spot's clock, its rate's time zone, named next to the
// field), the price for that window, an email for guests, and the vehicle's
// plate and state (optional; a signed-in driver picks a saved vehicle, the
// first preselected), so that enforcement's plate check finds the booking.
// Then on to the card. Whether the spot is free for the window is read with
// the price, and read again when the page is shown again (Back into a page the
// browser kept, a tab brought back): a spot taken meanwhile, by the driver
// themself too, says so instead of offering to reserve it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { mutate, run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import {
  MY_VEHICLES,
  type MyVehiclesData,
  RESERVE,
  rememberManageToken,
  type ReserveData,
  type Vehicle,
} from '../api/reservations.ts';
import {
  QUOTE,
  SPOT,
  SPOTS_NEAR_IDS,
  spotName,
  type Price,
  type QuoteData,
  type SpotData,
  type SpotsNearIdsData,
} from '../api/search.ts';
import { FormError, Loading, placeError, SelectField, SubmitButton, TextField } from '../components/fields.tsx';
import { WindowFields } from '../components/window_fields.tsx';
import { formatMinutes, formatMoney, intervalMinutes } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { session } from '../session.ts';
import { DURATIONS, windowFromParams, windowRange, type TimeWindow } from '../window.ts';
import { zoneLabel } from '../zoned_time.ts';
import { ERROR_SENTENCES } from '../error_messages.ts';

const FIELD_CODES = { window: ['SMB03', 'SMB04', 'SMB05', 'SMS03'], email: ['SMB08', 'SMA03'], plate: ['SME01'] };

/** A chosen start this far in the past is said to have passed at once, and not priced. */
const PAST_SLACK_MS = 5 * 60_000;
const PAST_START = 'That start has passed: choose a time from now on, or start now.';

/** How far around the spot's own point the search that says whether it is free looks (km): the spot itself. */
const SELF_RADIUS_KM = 0.01;

/** Why a typed state is not one (the API's rule: 2 or 3 letters), or nothing. */
function stateProblem(plate: string, state: string): string | undefined {
  if (state.trim() === '') return undefined;
  if (!/^[A-Za-z]{2,3}$/.test(state.trim())) return "Enter the plate's state as its 2 or 3 letter code, such as NY.";
  if (plate.trim() === '') return 'Enter the plate too, or leave the state empty.';
  return undefined;
}

export function SpotPage({ params }: { params: Record<string, string> }) {
  const id = params.id!;
  const url = useLocation();
  const state = session.use();
  const [spot, setSpot] = useState<SpotData['spot'] | undefined>(undefined);
  const [w, setW] = useState<TimeWindow>(() => windowFromParams(url.searchParams));
  const [price, setPrice] = useState<Price | null>(null);
  const [email, setEmail] = useState('');
  const [plate, setPlate] = useState('');
  const [plateState, setPlateState] = useState('');
  const [stateError, setStateError] = useState<string | undefined>(undefined);
  const [vehicles, setVehicles] = useState<Vehicle[]>([]);
  // Whether the driver touched the vehicle fields (then a saved vehicle is not put in them).
  const vehicleTouched = useRef(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  // Whether the spot is free for the window (null: not known yet, or not checkable).
  const [free, setFree] = useState<boolean | null>(null);
  // Bumped to read availability and price again: the page shown again, or a reservation refused as overlapping.
  const [recheck, setRecheck] = useState(0);

  useEffect(() => {
    run<SpotData>(SPOT, { id }).then((r) => {
      setSpot(r.data?.spot ?? null);
      if (r.error) setError(r.error);
    });
  }, [id]);

  // A stay asked for (?minutes=, from Find) longer than the spot takes: its longest, said so.
  const [shortened, setShortened] = useState<number | null>(null);
  useEffect(() => {
    if (!spot) return;
    const max = intervalMinutes(spot.maxStay);
    const fit = [...DURATIONS].reverse().find((m) => m <= max);
    if (w.minutes > max && fit) {
      setShortened(w.minutes);
      setW((now) => ({ ...now, minutes: fit }));
    }
  }, [spot]);

  // A signed-in driver's saved vehicles, to pick from.
  const signedIn = state.status === 'signed-in';
  // The first saved vehicle (the only one, or the first the API lists) is preselected, unless the
  // driver typed a plate already; "Another vehicle" stays on offer.
  useEffect(() => {
    if (!signedIn) return;
    run<MyVehiclesData>(MY_VEHICLES).then((r) => {
      const list = r.data?.vehicles?.nodes ?? [];
      setVehicles(list);
      const first = list[0];
      if (first && !vehicleTouched.current) {
        setPlate(first.plate);
        setPlateState(first.plateState ?? '');
      }
    });
  }, [signedIn]);

  // Shown again (Back into a page the browser kept, the tab brought back): what it shows may be stale.
  useEffect(() => {
    const again = () => setRecheck((n) => n + 1);
    const onShow = (e: PageTransitionEvent) => {
      if (e.persisted) again();
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') again();
    };
    window.addEventListener('pageshow', onShow);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('pageshow', onShow);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, []);

  // The spot's clock, once the spot is known (a chosen start is read on it).
  const zone = spot?.rate?.timeZone ?? null;
  const known = spot !== undefined;

  /** Whether the chosen start (none when it is "now") is more than `slackMs` in the past, on the spot's clock. */
  const startPassed = (slackMs: number) =>
    w.start !== 'now' && windowRange(w, zone).startsAt.getTime() < Date.now() - slackMs;
  const pastStart = known && startPassed(PAST_SLACK_MS);

  // The price for the window as it is chosen (none for a start that has passed: it is said so instead),
  // and whether the spot is free for it: a search for free spots at the spot's own point lists it or not.
  // Read again for the same window (the page shown again), an error of the form's (a plate) stays.
  const lastWindow = useRef('');
  useEffect(() => {
    const windowKey = `${id} ${w.start} ${w.minutes} ${zone} ${known}`;
    const sameWindow = windowKey === lastWindow.current;
    lastWindow.current = windowKey;
    if (!known && w.start !== 'now') return;
    const { startsAt, endsAt } = windowRange(w, zone);
    if (startsAt.getTime() < Date.now() - PAST_SLACK_MS) {
      setPrice(null);
      setFree(null);
      setError(null);
      return;
    }
    let live = true;
    const range = { startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString() };
    run<QuoteData>(QUOTE, { id, ...range }).then((r) => {
      if (!live) return;
      setPrice(r.data?.quote ?? null);
      setError((now) => (sameWindow ? (r.error ?? now) : r.error));
    });
    // A stay longer than the spot takes is the window's error (SMB04), not the spot being taken.
    if (spot && spot.status === 'active' && w.minutes <= intervalMinutes(spot.maxStay)) {
      const near = { lat: spot.lat, lng: spot.lng, radius: SELF_RADIUS_KM, unit: 'km', ...range };
      run<SpotsNearIdsData>(SPOTS_NEAR_IDS, near).then((r) => {
        if (!live) return;
        setFree(r.data?.spotsNear ? r.data.spotsNear.nodes.some((n) => n.spot.rowId === id) : null);
      });
    } else setFree(null);
    return () => {
      live = false;
    };
  }, [id, w.start, w.minutes, zone, known, recheck]);

  // Taken (found so, or a reservation refused as overlapping): the message takes the focus from the button it replaces.
  const takenMessage = useRef<HTMLParagraphElement>(null);
  const focusTaken = useRef(false);
  useEffect(() => {
    if (free === false && focusTaken.current) takenMessage.current?.focus();
    focusTaken.current = false;
  }, [free]);

  async function submit(event: Event) {
    event.preventDefault();
    if (free === false) {
      takenMessage.current?.focus();
      return;
    }
    const problem = stateProblem(plate, plateState);
    setStateError(problem);
    if (pastStart) {
      document.getElementById('reserve-start')?.focus();
      return;
    }
    if (problem) {
      document.getElementById('plate-state')?.focus();
      return;
    }
    setBusy(true);
    const startsAt = w.start === 'now' ? null : windowRange(w, zone).startsAt.toISOString();
    const r = await mutate<ReserveData>(RESERVE, {
      spotId: id,
      startsAt,
      minutes: w.minutes,
      email: state.status === 'signed-in' ? null : email,
      plate: plate.trim() === '' ? null : plate,
      plateState: plate.trim() === '' || plateState.trim() === '' ? null : plateState.trim(),
    });
    setBusy(false);
    if (r.error) {
      // Taken since the page read it: said in the page's words, with availability read again.
      if (r.error.code === 'SMB01') {
        focusTaken.current = true;
        setFree(false);
        setRecheck((n) => n + 1);
        return;
      }
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
  // A bad window (SMB03) whose chosen start has passed is the start's error, not the length's.
  const startCaused = error?.code === 'SMB03' && startPassed(0);
  const startError = pastStart ? PAST_START : startCaused ? placed.field('window') : undefined;
  return (
    <div class="page narrow">
      <h1 tabIndex={-1}>Reserve a spot</h1>
      <p class="spot-title">
        <strong>{spotName(spot)}</strong>
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
          startError={startError}
          error={startCaused ? undefined : placed.field('window')}
        />
        {shortened !== null && (
          <p class="hint shortened" role="status">
            This spot takes stays of up to {formatMinutes(maxMinutes)}: the {formatMinutes(shortened)} asked for is
            shortened to {formatMinutes(w.minutes)}.
          </p>
        )}
        <p class="price-line" aria-live="polite">
          Price for this time:{' '}
          <strong data-price>{pastStart ? '—' : price ? formatMoney(price.amount, price.currency) : '…'}</strong>
        </p>
        <fieldset class="vehicle-fields">
          <legend>Vehicle (optional)</legend>
          {vehicles.length > 0 && (
            <SelectField
              id="saved-vehicle"
              label="Saved vehicle"
              value={vehicles.find((v) => v.plate === plate && (v.plateState ?? '') === plateState)?.rowId ?? ''}
              onChange={(e) => {
                vehicleTouched.current = true;
                const v = vehicles.find((x) => x.rowId === e.currentTarget.value);
                setPlate(v?.plate ?? '');
                setPlateState(v?.plateState ?? '');
              }}
            >
              <option value="">Another vehicle</option>
              {vehicles.map((v) => (
                <option key={v.rowId} value={v.rowId}>
                  {v.label ? `${v.label}: ` : ''}
                  {v.plate}
                  {v.plateState ? ` (${v.plateState})` : ''}
                </option>
              ))}
            </SelectField>
          )}
          <TextField
            id="plate"
            label="Licence plate"
            autoComplete="off"
            autoCapitalize="characters"
            value={plate}
            error={placed.field('plate')}
            hint="Enforcement officers check plates: give it so that they find this reservation."
            onInput={(e) => {
              vehicleTouched.current = true;
              setPlate(e.currentTarget.value);
            }}
          />
          <TextField
            id="plate-state"
            label="Plate's state or province (e.g. NY)"
            autoComplete="off"
            autoCapitalize="characters"
            maxLength={3}
            value={plateState}
            error={stateError}
            onInput={(e) => {
              vehicleTouched.current = true;
              setPlateState(e.currentTarget.value);
            }}
          />
        </fieldset>
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
        {free === false ? (
          <p class="taken-here" data-availability="taken" role="status" tabIndex={-1} ref={takenMessage}>
            {ERROR_SENTENCES.SMB01} <Link href="/">Find another spot</Link>
          </p>
        ) : spot.status !== 'active' ? (
          <p class="taken-here" data-availability="out-of-service" role="status">
            {ERROR_SENTENCES.SMB02} <Link href="/">Find another spot</Link>
          </p>
        ) : (
          <SubmitButton busy={busy}>Reserve and add a card</SubmitButton>
        )}
      </form>
    </div>
  );
}
