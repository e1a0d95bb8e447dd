// Find: a search (where, how far, when), the spots as markers and as a list
// nearest first with the price for the window, and spots turning "taken"
// when they are booked meanwhile (pushed by the live stream; polled without it).
// A chosen start is read on the clock of the spots found (their rates' time
// zone, named next to the field), kept in the address as tz=; before any spot
// is known it is the browser's, and the search runs again once the area's
// zone turns out to differ (a search moved to an area on another clock keeps
// the instant asked for and shows it on the new area's clock).
import { useEffect, useRef, useState } from 'preact/hooks';
import { run } from '../api/client.ts';
import { makeError, type AppError } from '../api/errors.ts';
import {
  SPOTS_NEAR,
  SPOTS_NEAR_IDS,
  spotName,
  spotTitle,
  type SpotMatch,
  type SpotsNearData,
  type SpotsNearIdsData,
  type SpotsNearVars,
} from '../api/search.ts';
import { FormError, Loading, placeError, SelectField, SubmitButton, TextField } from '../components/fields.tsx';
import { SpotMap } from '../components/spot_map.tsx';
import { WindowFields } from '../components/window_fields.tsx';
import { formatDistance, formatMinutes, formatMoney, intervalMinutes, type Unit } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { convertReading, windowFromParams, windowParams, windowRange, type TimeWindow } from '../window.ts';
import { zoneLabel, zoneName } from '../zoned_time.ts';

/** Midtown Manhattan, where the demo data's meters are. */
const DEFAULT_CENTER = { lat: 40.7536, lng: -73.9832 };
const POLL_MS = 5000;
const KM_PER_MILE = 1.609344;
const PAGE = 20;
/** Phones see the results first; the search form folds into one line. */
const WIDE = () => window.matchMedia('(min-width: 900px)').matches;

interface Search {
  lat: number;
  lng: number;
  radius: number;
  unit: Unit;
  window: TimeWindow;
  /** The zone the window's start is read in (the area's spots'); null: not known yet. */
  tz: string | null;
}

function knownZone(name: string | null): string | null {
  if (!name) return null;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name;
  } catch {
    return null;
  }
}

/** The clock of the spots found: the nearest one's, and whether others keep another. */
function areaZone(matches: SpotMatch[]): { zone: string | null; mixed: boolean } {
  const zones = new Set(matches.flatMap((m) => (m.spot.rate ? [m.spot.rate.timeZone] : [])));
  const nearest = matches.find((m) => m.spot.rate)?.spot.rate?.timeZone ?? null;
  return { zone: nearest, mixed: zones.size > 1 };
}

function searchFromUrl(url: URL): Search {
  const p = url.searchParams;
  const num = (name: string, fallback: number) => {
    const v = p.get(name);
    return v !== null && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;
  };
  return {
    lat: num('lat', DEFAULT_CENTER.lat),
    lng: num('lng', DEFAULT_CENTER.lng),
    radius: num('radius', 0.5),
    unit: p.get('unit') === 'mi' ? 'mi' : 'km',
    window: windowFromParams(p),
    tz: knownZone(p.get('tz')),
  };
}

function searchUrl(s: Search): string {
  const params = new URLSearchParams({
    lat: s.lat.toFixed(5),
    lng: s.lng.toFixed(5),
    radius: String(s.radius),
    unit: s.unit,
    ...windowParams(s.window),
    ...(s.window.start !== 'now' && s.tz ? { tz: s.tz } : {}),
  });
  return `/?${params}`;
}

const FIELD_CODES = { coordinates: ['SMS01'], radius: ['SMS02'], window: ['SMS03'] };

interface Results {
  search: Search;
  /** The zone the search's start was read in (null: the browser's). */
  zone: string | null;
  vars: SpotsNearVars;
  total: number;
  matches: SpotMatch[];
}

export function FindPage() {
  const url = useLocation();
  const search = searchFromUrl(url);
  const [form, setForm] = useState({
    lat: String(search.lat),
    lng: String(search.lng),
    radius: String(search.radius),
    unit: search.unit,
    window: search.window,
  });
  const [results, setResults] = useState<Results | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [taken, setTaken] = useState<Set<string>>(new Set());
  const [live, setLive] = useState(false);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [locating, setLocating] = useState(false);
  const [shown, setShown] = useState(PAGE);
  const mapCenter = useRef(DEFAULT_CENTER);
  // The clock of the last spots found, for a start typed before the next search.
  const lastZone = useRef<string | null>(null);

  // The URL is the search: running one is navigating to it (the back button returns to the last).
  const key = url.search;
  useEffect(() => {
    const s = searchFromUrl(new URL(location.href));
    setForm({ lat: String(s.lat), lng: String(s.lng), radius: String(s.radius), unit: s.unit, window: s.window });
    const zone = s.tz ?? lastZone.current;
    const { startsAt, endsAt } = windowRange(s.window, zone);
    const vars: SpotsNearVars = {
      lat: s.lat,
      lng: s.lng,
      radius: s.radius,
      unit: s.unit,
      startsAt: startsAt.toISOString(),
      endsAt: endsAt.toISOString(),
    };
    let current = true;
    setLoading(true);
    setError(null);
    run<SpotsNearData>(SPOTS_NEAR, vars).then((r) => {
      if (!current) return;
      setLoading(false);
      if (r.error) {
        setError(r.error);
        setResults(null);
        return;
      }
      const matches = r.data.spotsNear?.nodes ?? [];
      const area = areaZone(matches).zone;
      if (area) lastZone.current = area;
      // A start read on another clock than the area's: search again on the area's. A reading
      // given without a zone means the area's clock; one given in another zone (typed while the
      // last area's spots were shown) keeps its instant, shown on the area's clock.
      if (s.window.start !== 'now' && area && area !== zoneName(zone)) {
        const start = s.tz ? convertReading(s.window.start, s.tz, area) : s.window.start;
        navigate(searchUrl({ ...s, window: { ...s.window, start }, tz: area }), { replace: true });
        return;
      }
      setResults({ search: s, zone, vars, total: r.data.spotsNear?.totalCount ?? 0, matches });
      setTaken(new Set());
      setSelectedId(null);
      setShown(PAGE);
    });
    return () => {
      current = false;
    };
  }, [key]);

  // Someone else booking a listed spot takes it out of a fresh search: mark it taken. The
  // server pushes the area's availability events (GET /live/spots, Server-Sent Events); an
  // event about a listed spot re-checks the list at once. Polling stays as the fallback while
  // the stream is not open (an area too big for it, a proxy that drops it, a reconnect).
  useEffect(() => {
    if (!results) return;
    const listed = results.matches.map((m) => m.spot.rowId);
    const recheck = async () => {
      const r = await run<SpotsNearIdsData>(SPOTS_NEAR_IDS, results.vars);
      if (!r.data?.spotsNear) return;
      const free = new Set(r.data.spotsNear.nodes.map((n) => n.spot.rowId));
      setTaken(new Set(listed.filter((id) => !free.has(id))));
    };
    const { lat, lng, radius, unit } = results.search;
    const area = new URLSearchParams({
      lat: String(lat),
      lng: String(lng),
      radius: String(radius * (unit === 'mi' ? KM_PER_MILE : 1)),
    });
    const stream = typeof EventSource === 'function' ? new EventSource(`/live/spots?${area}`) : null;
    let streaming = false;
    let soon: ReturnType<typeof setTimeout> | undefined;
    stream?.addEventListener('ready', () => {
      streaming = true;
      setLive(true);
    });
    stream?.addEventListener('error', () => {
      streaming = false;
      setLive(false);
    });
    stream?.addEventListener('availability', (event) => {
      const { spotId } = JSON.parse((event as MessageEvent<string>).data) as { spotId: string | number };
      if (!listed.includes(String(spotId))) return;
      // Several events at once (a block over many spots) make one re-check.
      clearTimeout(soon);
      soon = setTimeout(recheck, 150);
    });
    const timer = setInterval(() => {
      if (!streaming && !document.hidden) recheck();
    }, POLL_MS);
    return () => {
      stream?.close();
      setLive(false);
      clearInterval(timer);
      clearTimeout(soon);
    };
  }, [results]);

  function submit(event: Event) {
    event.preventDefault();
    const lat = Number(form.lat);
    const lng = Number(form.lng);
    const radius = Number(form.radius);
    // Found before sending: said next to the field (SMS01 sits at the coordinates), which takes the
    // focus as it does when the API finds the error.
    const refuse = (error: AppError, field: string) => {
      setError(error);
      setTimeout(() => document.getElementById(field)?.focus());
    };
    const [latBlank, lngBlank] = [form.lat.trim() === '', form.lng.trim() === ''];
    if (latBlank || lngBlank) {
      const error = {
        ...makeError('SMS01'),
        message: 'Enter the latitude and the longitude, such as 40.7536 and -73.9832.',
      };
      refuse(error, latBlank ? 'lat' : 'lng');
      return;
    }
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) {
      const error = {
        ...makeError('SMS01'),
        message: 'Enter the latitude and the longitude as numbers, such as 40.7536 and -73.9832.',
      };
      refuse(error, Number.isFinite(lat) ? 'lng' : 'lat');
      return;
    }
    if (!Number.isFinite(radius)) {
      refuse(makeError('SMS02'), 'radius');
      return;
    }
    navigate(searchUrl({ lat, lng, radius, unit: form.unit, window: form.window, tz: formZone }));
  }

  const searchAt = (lat: number, lng: number) =>
    navigate(
      searchUrl({
        ...search,
        lat,
        lng,
        radius: Number(form.radius) || search.radius,
        unit: form.unit,
        window: form.window,
        tz: formZone,
      }),
    );

  function nearMe() {
    if (!navigator.geolocation) {
      setError(makeError('GEOLOCATION'));
      return;
    }
    setLocating(true);
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setLocating(false);
        searchAt(pos.coords.latitude, pos.coords.longitude);
      },
      () => {
        setLocating(false);
        setError(makeError('GEOLOCATION'));
      },
      { timeout: 10_000 },
    );
  }

  const placed = placeError(error, FIELD_CODES);
  const area = results ? areaZone(results.matches) : { zone: null, mixed: false };
  const formZone = area.zone ?? results?.zone ?? search.tz;
  const zoneHint = area.zone
    ? area.mixed
      ? `In ${zoneLabel(area.zone)}, the nearest spot's time zone; some spots here keep another clock, and their pages show the start on it.`
      : `In ${zoneLabel(area.zone)}, the time zone of the spots here.`
    : formZone
      ? `In ${zoneLabel(formZone)}.`
      : `In ${zoneLabel()}, this browser's time zone, until spots are found here.`;
  const coordinateError = placed.field('coordinates');
  const matches = results?.matches ?? [];
  // Listed spots booked since the search are free no more.
  const freeCount = Math.max(0, (results?.total ?? 0) - taken.size);
  const unit = results?.search.unit ?? search.unit;
  const radiusKm = (results?.search.radius ?? search.radius) * (unit === 'mi' ? KM_PER_MILE : 1);

  return (
    <div class="find">
      <h1 tabIndex={-1}>Find a spot</h1>
      <details class="search-panel" open={WIDE() || undefined}>
        <summary>
          Search: {search.radius} {search.unit} around {search.lat.toFixed(4)}, {search.lng.toFixed(4)},{' '}
          {search.window.start === 'now' ? 'now' : search.window.start.replace('T', ' ')} for{' '}
          {formatMinutes(search.window.minutes)}
        </summary>
        <form class="search" onSubmit={submit} noValidate aria-label="Search for spots">
          <fieldset class="where">
            <legend>Where</legend>
            <TextField
              id="lat"
              label="Latitude"
              inputMode="decimal"
              value={form.lat}
              error={coordinateError}
              onInput={(e) => setForm({ ...form, lat: e.currentTarget.value })}
            />
            <TextField
              id="lng"
              label="Longitude"
              inputMode="decimal"
              value={form.lng}
              aria-invalid={coordinateError ? 'true' : undefined}
              aria-describedby={coordinateError ? 'lat-error' : undefined}
              onInput={(e) => setForm({ ...form, lng: e.currentTarget.value })}
            />
            <div class="where-buttons">
              <button type="button" onClick={() => searchAt(mapCenter.current.lat, mapCenter.current.lng)}>
                Map centre
              </button>
              <button type="button" onClick={nearMe} disabled={locating}>
                {locating ? 'Locating…' : 'Near me'}
              </button>
            </div>
          </fieldset>
          <fieldset class="how-far">
            <legend>How far</legend>
            <TextField
              id="radius"
              label="Radius"
              inputMode="decimal"
              value={form.radius}
              error={placed.field('radius')}
              onInput={(e) => setForm({ ...form, radius: e.currentTarget.value })}
            />
            <SelectField
              id="unit"
              label="Unit"
              value={form.unit}
              onChange={(e) => setForm({ ...form, unit: e.currentTarget.value as Unit })}
            >
              <option value="km">kilometres</option>
              <option value="mi">miles</option>
            </SelectField>
          </fieldset>
          <WindowFields
            idPrefix="search"
            value={form.window}
            timeZone={formZone}
            zoneHint={zoneHint}
            error={placed.field('window')}
            onChange={(w) => setForm({ ...form, window: w })}
          />
          <FormError message={placed.general} />
          <SubmitButton busy={loading}>Search</SubmitButton>
        </form>
      </details>

      <div class="results">
        <SpotMap
          center={{ lat: results?.search.lat ?? search.lat, lng: results?.search.lng ?? search.lng }}
          radiusKm={radiusKm}
          spots={matches.map((m) => ({
            id: m.spot.rowId,
            lat: m.spot.lat,
            lng: m.spot.lng,
            label: m.price ? formatMoney(m.price.amount, m.price.currency) : spotTitle(m.spot),
            taken: taken.has(m.spot.rowId),
          }))}
          selectedId={selectedId}
          onSelect={(id) => {
            setSelectedId(id);
            document.getElementById(`spot-${id}`)?.scrollIntoView({ block: 'nearest' });
          }}
          onMoveEnd={(c) => {
            mapCenter.current = c;
          }}
        />
        <section class="spot-list" aria-labelledby="spot-list-title">
          <h2 id="spot-list-title">Spots nearest first</h2>
          {loading && <Loading what="spots" />}
          {!loading && results && (
            <p role="status" class="count" data-live={live ? 'on' : 'off'}>
              {freeCount === 0
                ? 'No free spot in this area for that time. Try a larger radius or another time.'
                : `${freeCount} free ${freeCount === 1 ? 'spot' : 'spots'} within ${results.search.radius} ${unit}${results.total > matches.length ? `, the nearest ${matches.length} shown` : ''}.`}
            </p>
          )}
          <ol class="spots">
            {matches.slice(0, shown).map((m) => {
              const isTaken = taken.has(m.spot.rowId);
              // The start as the spot's own clock reads it: its page reads it there.
              const w = results!.search.window;
              const start = convertReading(w.start, results!.zone, m.spot.rate?.timeZone ?? results!.zone);
              const params = new URLSearchParams(windowParams({ ...w, start }));
              return (
                <li
                  key={m.spot.rowId}
                  id={`spot-${m.spot.rowId}`}
                  class={`spot${m.spot.rowId === selectedId ? ' selected' : ''}${isTaken ? ' taken' : ''}`}
                  data-spot-id={m.spot.rowId}
                  data-distance={String(m.distance)}
                  data-state={isTaken ? 'taken' : 'free'}
                >
                  <div class="spot-head">
                    <span class="distance">{formatDistance(m.distance, unit)}</span>
                    <span class="price">{m.price ? formatMoney(m.price.amount, m.price.currency) : ''}</span>
                  </div>
                  <p class="spot-title">{spotName(m.spot)}</p>
                  <p class="spot-facts">
                    Up to {formatMinutes(intervalMinutes(m.spot.maxStay))}
                    {m.spot.isAccessible && ' · accessible'}
                    {m.spot.hasEvCharger && ' · EV charger'}
                  </p>
                  {isTaken ? (
                    <p class="badge-taken">Taken: just booked</p>
                  ) : (
                    <div class="spot-actions">
                      <button
                        type="button"
                        class="link-button"
                        onClick={() => setSelectedId(m.spot.rowId)}
                        aria-pressed={m.spot.rowId === selectedId}
                      >
                        Show on map
                      </button>
                      <Link class="button primary" href={`/spots/${m.spot.rowId}?${params}`}>
                        Reserve
                        <span class="visually-hidden">
                          {' '}
                          {spotName(m.spot)}, {formatDistance(m.distance, unit)} away
                        </span>
                      </Link>
                    </div>
                  )}
                </li>
              );
            })}
          </ol>
          {matches.length > shown && (
            <button type="button" onClick={() => setShown(shown + PAGE)}>
              Show {Math.min(PAGE, matches.length - shown)} more
            </button>
          )}
        </section>
      </div>
    </div>
  );
}
