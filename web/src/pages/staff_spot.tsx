// Operators and admins: one spot — street and maximum stay, its rate's hourly
// price, out of service (with the reservations that keeps), and its week on a
// calendar where maintenance blocks are added and lifted. Zones are the API's rule: outside them every change answers SMO02.
// Every time on the page, shown or typed, is on the spot's clock (its rate's
// time zone), as drivers and street signs read it, not the browser's.
// Numbers typed are checked next to their field before anything is sent (a
// blank price is not 0, a blank street or block end is no street or end), and a new hourly price, which every spot on the rate
// charges, is confirmed first with the price and the number of spots.
// A field's error lasts until its value changes or another change succeeds
// (which reads the spot again and puts its values back in the fields).
import { useEffect, useState } from 'preact/hooks';
import { mutate, run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import {
  BLOCK_SPOT,
  SET_SPOT_STATUS,
  STAFF_SPOT,
  type StaffSpot,
  UNBLOCK_SPOT,
  UPDATE_RATE,
  UPDATE_SPOT,
} from '../api/staff.ts';
import { FormError, Loading, Notice, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { RequireStaff } from '../components/require_staff.tsx';
import { SpotWeek } from '../components/spot_week.tsx';
import { formatMoney, formatWindow, intervalMinutes, moneyInput, parseMoney } from '../format.ts';
import { fromLocalInput, toLocalInput, zoneName } from '../zoned_time.ts';
import { STAFF_ROLES } from './staff_customers.tsx';

const FIELD_CODES = {
  street: ['SMO11'],
  maxStay: ['SMO05'],
  price: ['SMO08'],
  // A refused maintenance block: an overlap concerns its whole window (said at its start), a bad or too long one its end.
  blockFrom: ['SMB01'],
  blockTo: ['SMB03', 'SMB04'],
};

/** The block form's refusals in an operator's words (the shared sentences are written for drivers). */
const BLOCK_SENTENCES: Record<string, string> = {
  SMB01:
    'This time overlaps a reservation or another block on this spot. Choose another time, or lift that block first.',
  SMB03: 'A block must end after it starts, and after now.',
  SMB04: 'A block lasts at most 366 days.',
};

/** Whole minutes from what was typed, or why it is not a maximum stay. */
function maxStayMinutes(text: string): { minutes: number } | { error: string } {
  const plain = text.trim();
  if (!/^\d+$/.test(plain)) return { error: 'Enter the maximum stay as a whole number of minutes, such as 120.' };
  const minutes = Number(plain);
  if (minutes < 1 || minutes > 7 * 24 * 60) return { error: 'A maximum stay is 1 minute to 7 days (10080 minutes).' };
  return { minutes };
}

/** The street trimmed, or why it is not one (the API's rule, SMO11: 1 to 200 characters). */
function streetName(text: string): { street: string } | { error: string } {
  const street = text.trim();
  if (street === '') return { error: 'Enter the street of the spot.' };
  if (street.length > 200) return { error: `A street is at most 200 characters (this one is ${street.length}).` };
  return { street };
}

/** The field each placed API error belongs to, which takes the focus when the error lands there. */
const FIELD_IDS: Record<string, string> = {
  street: 'street',
  maxStay: 'max-stay',
  price: 'hourly-price',
  blockFrom: 'block-from',
  blockTo: 'block-to',
};

const focusField = (id: string) => setTimeout(() => document.getElementById(id)?.focus());

type Affected = Array<{ rowId: string; status: string; startsAt: string; endsAt: string }>;

const spotCount = (n: number) => (n === 1 ? '1 spot' : `${n} spots`);

function useAction(reload: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  async function act(document: string, variables: Record<string, unknown>, message: string) {
    setBusy(true);
    setDone(null);
    const r = await mutate(document, variables);
    setBusy(false);
    setError(r.error);
    if (!r.error) {
      setDone(message);
      reload();
    }
  }
  return { busy, error, done, act, clearError: () => setError(null) };
}

type TypedErrors = {
  street?: string;
  maxStay?: string;
  price?: string;
  blockFrom?: string;
  blockTo?: string;
};

function Spot({ id }: { id: string }) {
  const [data, setData] = useState<{ spot: StaffSpot | null; affected: Affected } | null>(null);
  const [loadError, setLoadError] = useState<AppError | null>(null);
  const [version, setVersion] = useState(0);
  const [street, setStreet] = useState('');
  const [maxStay, setMaxStay] = useState('');
  const [price, setPrice] = useState('');
  // Errors of what was typed, found before sending; a new price awaiting confirmation.
  const [typed, setTyped] = useState<TypedErrors>({});
  const [newPrice, setNewPrice] = useState<number | null>(null);
  // What was typed (null: the default, from 1 to 3 hours after the page opened, on the spot's clock once known).
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const [opened] = useState(() => Date.now());
  // A change that succeeded reads the spot again, which puts its values back in the fields: what was
  // said about what had been typed in them no longer holds.
  const { busy, error, done, act, clearError } = useAction(() => {
    setTyped({});
    setVersion((v) => v + 1);
  });
  /** A field's value changed: its error (found before sending, or the API's placed there) no longer holds. */
  const edited = (name: keyof TypedErrors) => {
    setTyped((now) => (now[name] ? { ...now, [name]: undefined } : now));
    if (error && FIELD_CODES[name].includes(error.code)) clearError();
  };
  useEffect(() => {
    run<{ spot: StaffSpot | null; spotAffectedReservations: { nodes: Affected } }>(STAFF_SPOT, { id }).then((r) => {
      setLoadError(r.error);
      if (!r.data) return;
      setData({ spot: r.data.spot, affected: r.data.spotAffectedReservations.nodes });
      setStreet(r.data.spot?.street ?? '');
      setMaxStay(String(intervalMinutes(r.data.spot?.maxStay)));
      const rate = r.data.spot?.rate;
      setPrice(rate ? moneyInput(rate.hourlyPrice, rate.currency) : '');
    });
  }, [id, version]);
  // An API error placed next to a field moves the focus there, as the errors found before sending do.
  useEffect(() => {
    if (!error) return;
    const owner = Object.keys(FIELD_CODES).find((name) =>
      FIELD_CODES[name as keyof typeof FIELD_CODES].includes(error.code),
    );
    if (owner) focusField(FIELD_IDS[owner]!);
  }, [error]);
  if (loadError) return <FormError message={loadError.message} />;
  if (!data) return <Loading what="the spot" />;
  const { spot, affected } = data;
  if (!spot) return <p role="alert">There is no such spot.</p>;
  const outOfService = spot.status === 'out_of_service';
  const placed = placeError(error, FIELD_CODES);
  const blockError = (name: 'blockFrom' | 'blockTo') =>
    placed.field(name) && error ? (BLOCK_SENTENCES[error.code] ?? error.message) : undefined;
  const rate = spot.rate;
  const zone = spot.rate?.timeZone ?? null;
  const fromValue = from ?? toLocalInput(new Date(opened + 3600e3), zone);
  const toValue = to ?? toLocalInput(new Date(opened + 3 * 3600e3), zone);
  return (
    <>
      <p class="spot-facts">
        {spot.description} · {spot.borough ?? 'no borough'} ·{' '}
        <span class="spot-status">{outOfService ? 'Out of service' : 'Active'}</span>
        {spot.rate && (
          <>
            {' '}
            · {formatMoney(spot.rate.hourlyPrice, spot.rate.currency)} an hour ({spot.rate.code})
          </>
        )}
      </p>
      <p class="hint spot-zone">
        Times on this page are in {zoneName(zone)},{' '}
        {zone ? "the spot's time zone" : "this browser's (the spot has no rate)"}.
      </p>
      <FormError message={placed.general} />
      {done && <Notice>{done}</Notice>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const named = streetName(street);
          const checked = maxStayMinutes(maxStay);
          if ('error' in named || 'error' in checked) {
            setTyped({
              street: 'error' in named ? named.error : undefined,
              maxStay: 'error' in checked ? checked.error : undefined,
            });
            focusField('error' in named ? 'street' : 'max-stay');
            return;
          }
          setTyped({});
          act(UPDATE_SPOT, { id, street: named.street, maxStay: checked.minutes }, 'Spot saved.');
        }}
        noValidate
      >
        <TextField
          id="street"
          label="Street"
          value={street}
          error={typed.street ?? placed.field('street')}
          onInput={(e) => {
            setStreet(e.currentTarget.value);
            edited('street');
          }}
        />
        <TextField
          id="max-stay"
          label="Maximum stay (minutes)"
          inputMode="numeric"
          value={maxStay}
          error={typed.maxStay ?? placed.field('maxStay')}
          onInput={(e) => {
            setMaxStay(e.currentTarget.value);
            edited('maxStay');
          }}
        />
        <div class="button-row">
          <SubmitButton busy={busy}>Save spot</SubmitButton>
        </div>
      </form>
      {rate && newPrice === null && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const checked = parseMoney(price, rate.currency);
            if ('error' in checked) {
              setTyped({ price: checked.error });
              focusField('hourly-price');
              return;
            }
            setTyped({});
            setNewPrice(checked.amount);
            focusField('rate-confirm-text');
          }}
          noValidate
        >
          <TextField
            id="hourly-price"
            label={`Hourly price of rate ${rate.code} (${rate.currency}, every spot on it)`}
            inputMode="decimal"
            value={price}
            error={typed.price ?? placed.field('price')}
            hint={`Now ${formatMoney(rate.hourlyPrice, rate.currency)} an hour at ${spotCount(rate.spots.totalCount)}. Decimals after a point; a comma only between thousands.`}
            onInput={(e) => {
              setPrice(e.currentTarget.value);
              edited('price');
            }}
          />
          <div class="button-row">
            <SubmitButton busy={busy}>Save rate</SubmitButton>
          </div>
        </form>
      )}
      {rate && newPrice !== null && (
        <form
          class="rate-confirm"
          onSubmit={async (e) => {
            e.preventDefault();
            await act(UPDATE_RATE, { id: rate.rowId, hourlyPrice: newPrice }, 'Rate saved.');
            setNewPrice(null);
            focusField('hourly-price');
          }}
        >
          <p id="rate-confirm-text" tabIndex={-1}>
            Change the hourly price of rate {rate.code} from {formatMoney(rate.hourlyPrice, rate.currency)} to{' '}
            {formatMoney(newPrice, rate.currency)}? Every spot on the rate charges it:{' '}
            {spotCount(rate.spots.totalCount)}.
          </p>
          <div class="button-row">
            <SubmitButton busy={busy}>
              Charge {formatMoney(newPrice, rate.currency)} an hour at {spotCount(rate.spots.totalCount)}
            </SubmitButton>
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                setNewPrice(null);
                focusField('hourly-price');
              }}
            >
              Back
            </button>
          </div>
        </form>
      )}
      <section aria-labelledby="service-title">
        <h2 id="service-title">Service</h2>
        <p>Reservations already made stay valid when a spot goes out of service; it only takes no new ones.</p>
        <ul class="plain affected">
          {affected.map((r) => (
            <li key={r.rowId}>
              #{r.rowId} · {r.status} · {formatWindow(r.startsAt, r.endsAt, zone)}
            </li>
          ))}
        </ul>
        {affected.length === 0 && <p class="empty">No upcoming reservations.</p>}
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            act(
              SET_SPOT_STATUS,
              { id, status: outOfService ? 'active' : 'out_of_service' },
              outOfService ? 'Back in service.' : 'Out of service.',
            )
          }
        >
          {outOfService ? 'Put back in service' : 'Take out of service'}
        </button>
      </section>
      <SpotWeek
        bookings={spot.reservations.nodes}
        timeZone={zone}
        busy={busy}
        onLift={(blockId) => act(UNBLOCK_SPOT, { id: blockId }, 'Block lifted.')}
      />
      <section aria-labelledby="block-title">
        <h2 id="block-title">New maintenance block</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            // A field left blank or half typed is refused next to it; the API judges the times themselves (SMB03).
            const [starts, ends] = [fromLocalInput(fromValue, zone), fromLocalInput(toValue, zone)];
            if (!starts || !ends) {
              setTyped({
                blockFrom: starts ? undefined : 'Enter when the block starts: a date and a time.',
                blockTo: ends ? undefined : 'Enter when the block ends: a date and a time.',
              });
              focusField(starts ? 'block-to' : 'block-from');
              return;
            }
            setTyped({});
            act(
              BLOCK_SPOT,
              { id, from: starts.toISOString(), to: ends.toISOString(), reason: 'Maintenance' },
              'Blocked.',
            );
          }}
          noValidate
        >
          <TextField
            id="block-from"
            label="From"
            type="datetime-local"
            value={fromValue}
            error={typed.blockFrom ?? blockError('blockFrom')}
            onInput={(e) => {
              setFrom(e.currentTarget.value);
              edited('blockFrom');
            }}
          />
          <TextField
            id="block-to"
            label="Until"
            type="datetime-local"
            value={toValue}
            error={typed.blockTo ?? blockError('blockTo')}
            onInput={(e) => {
              setTo(e.currentTarget.value);
              edited('blockTo');
            }}
          />
          <div class="button-row">
            <SubmitButton busy={busy}>Block</SubmitButton>
          </div>
        </form>
      </section>
    </>
  );
}

export function StaffSpotPage({ params }: { params: Record<string, string> }) {
  return (
    <RequireStaff title="Spot" roles={STAFF_ROLES} refusal="SMO01">
      {() => (
        <div class="page narrow">
          <h1 tabIndex={-1}>Spot #{params.id}</h1>
          <Spot id={params.id!} />
        </div>
      )}
    </RequireStaff>
  );
}
