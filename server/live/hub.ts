// One API process's live availability events: a single LISTEN connection for
// every SSE client and GraphQL subscription of the process. A client watches
// an area (a box, or a point and radius); the hub LISTENs to the channels of
// the 0.05° tiles it covers ('live:<tile>', see migrations/fixtures/live_events.sql)
// and records them in app_private.live_watched_tiles, refreshed every 30 s,
// so the database NOTIFYs only for tiles some process watches. Each event is
// delivered to the watchers whose area contains it.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CodedError } from '../errors.ts';
import { loggerFor } from '../../lib/logger.ts';
import { ClientBound, tooManyLiveStreams } from './client_bound.ts';

const log = loggerFor('live');
const TILE = 0.05;
/** How often the watched tiles are refreshed (the SQL side forgets a tile after 90 s). */
const REFRESH_MS = 30_000;
/**
 * A tile stays watched this long after its last watcher left, so a client
 * whose connection dropped finds what it missed when it resumes (SSE
 * Last-Event-ID) instead of a gap.
 */
const LINGER_MS = 120_000;

export interface LiveEvent {
  /** Increasing event id (SSE's id; resume after it with Last-Event-ID). */
  id: string;
  spotId: string;
  lat: number;
  lng: number;
  /** taken, freed, changed, out_of_service or in_service. */
  reason: string;
  startsAt: string | null;
  endsAt: string | null;
}

export interface Area {
  minLat: number;
  minLng: number;
  maxLat: number;
  maxLng: number;
  /** Point and radius: events farther than radiusMetres from (lat, lng) are left out. */
  circle?: { lat: number; lng: number; radiusMetres: number };
}

export interface LiveSettings {
  /** Tiles one area may cover at most (LIVE_MAX_TILES). */
  maxTiles: number;
  /** Watchers (SSE streams and subscriptions) one client address, and one account, may hold at once (LIVE_MAX_PER_CLIENT). */
  maxPerClient: number;
  /** Seconds events are kept for resuming (LIVE_EVENT_RETENTION). */
  retentionSeconds: number;
  /** Seconds between SSE heartbeats (LIVE_HEARTBEAT). */
  heartbeatSeconds: number;
}

const badArea = (why: string) => new CodedError('SMV01', `Bad live area: ${why}`);
const num = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : Number.NaN;
};

const BOX = ['minLat', 'minLng', 'maxLat', 'maxLng'] as const;
const CIRCLE = ['lat', 'lng', 'radius'] as const;

/**
 * An area from {minLat, minLng, maxLat, maxLng} or {lat, lng, radius (km)};
 * SMV01 unless exactly one of them is given, whole (a part of one, or parts of
 * both, would leave the client guessing which area it watches), and sane.
 */
export function areaOf(args: Record<string, unknown>, maxTiles: number): Area {
  const given = <K extends string>(keys: readonly K[]) => keys.filter((k) => num(args[k]) !== undefined);
  const [inBox, inCircle] = [given(BOX), given(CIRCLE)];
  if (inBox.length > 0 && inCircle.length > 0) {
    throw badArea(
      `give a box (minLat, minLng, maxLat, maxLng) or a circle (lat, lng, radius in km), not both: got ${[...inBox, ...inCircle].join(', ')}`,
    );
  }
  if (inBox.length > 0 && inBox.length < BOX.length) {
    throw badArea(
      `a box needs minLat, minLng, maxLat and maxLng: missing ${BOX.filter((k) => !inBox.includes(k)).join(', ')}`,
    );
  }
  if (inCircle.length > 0 && inCircle.length < CIRCLE.length) {
    throw badArea(
      `a circle needs lat, lng and radius (km): missing ${CIRCLE.filter((k) => !inCircle.includes(k)).join(', ')}`,
    );
  }
  const [minLat, minLng, maxLat, maxLng, lat, lng, radius] = [...BOX, ...CIRCLE].map((k) => num(args[k]));
  let area: Area;
  if (inBox.length > 0) {
    area = { minLat: minLat!, minLng: minLng!, maxLat: maxLat!, maxLng: maxLng! };
  } else if (inCircle.length > 0) {
    if (!(radius! > 0 && radius! <= 50)) throw badArea('radius must be above 0 and at most 50 km');
    const dLat = (radius! * 1000) / 111_195;
    const dLng = dLat / Math.max(Math.cos((lat! * Math.PI) / 180), 0.01);
    area = {
      minLat: lat! - dLat,
      maxLat: lat! + dLat,
      minLng: lng! - dLng,
      maxLng: lng! + dLng,
      circle: { lat: lat!, lng: lng!, radiusMetres: radius! * 1000 },
    };
  } else {
    throw badArea('give minLat, minLng, maxLat and maxLng, or lat, lng and radius (km)');
  }
  const { minLat: a, minLng: b, maxLat: c, maxLng: d } = area;
  if (![a, b, c, d].every(Number.isFinite) || a < -90 || c > 90 || b < -180 || d > 180 || a > c || b > d) {
    throw badArea('coordinates off the globe, or a minimum above its maximum');
  }
  if (tilesOf(area).length > maxTiles) throw badArea(`more than ${maxTiles} tiles of 0.05°: watch a smaller area`);
  return area;
}

export function tilesOf(area: Area): string[] {
  const tiles: string[] = [];
  const [y0, y1] = [Math.floor(area.minLat / TILE), Math.floor(area.maxLat / TILE)];
  const [x0, x1] = [Math.floor(area.minLng / TILE), Math.floor(area.maxLng / TILE)];
  if ((y1 - y0 + 1) * (x1 - x0 + 1) > 10_000) return new Array(10_001).fill('');
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) tiles.push(`${y}:${x}`);
  return tiles;
}

/** Great-circle distance in metres on PostGIS's sphere. */
function metresBetween(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const r = Math.PI / 180;
  const h =
    Math.sin(((lat2 - lat1) * r) / 2) ** 2 +
    Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lng2 - lng1) * r) / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.sqrt(h));
}

export function inArea(e: Pick<LiveEvent, 'lat' | 'lng'>, area: Area): boolean {
  if (e.lat < area.minLat || e.lat > area.maxLat || e.lng < area.minLng || e.lng > area.maxLng) return false;
  return !area.circle || metresBetween(e.lat, e.lng, area.circle.lat, area.circle.lng) <= area.circle.radiusMetres;
}

interface Watcher {
  area: Area;
  tiles: string[];
  /** Gives the watcher's per-client slots back. */
  release: () => void;
  deliver: (e: LiveEvent) => void;
}

export class LiveHub {
  readonly settings: LiveSettings;
  private readonly listener = randomUUID();
  private readonly connectionString: string;
  private readonly pool: pg.Pool;
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly watchers = new Set<Watcher>();
  private readonly tileCounts = new Map<string, number>();
  /** Tiles without watchers still recorded until this time (ms). */
  private readonly lingering = new Map<string, number>();
  private readonly perClient: ClientBound;
  private timer: NodeJS.Timeout | undefined;
  /** Serialises LISTEN/UNLISTEN and the watched-tiles refresh. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(connectionString: string, pool: pg.Pool, settings: LiveSettings) {
    this.connectionString = connectionString;
    this.pool = pool;
    this.settings = settings;
    this.perClient = new ClientBound(settings.maxPerClient);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.connectionString });
      client.on('error', (err) => {
        log.warn({ err: err.message }, 'live: LISTEN connection lost; reconnecting');
        this.client = undefined;
        this.connecting = undefined;
        void this.resync();
      });
      client.on('notification', (msg) => this.dispatch(msg.payload));
      await client.connect();
      this.client = client;
      this.timer ??= setInterval(() => {
        void this.resync();
      }, REFRESH_MS).unref();
      return client;
    })();
    return this.connecting;
  }

  private dispatch(payload: string | undefined): void {
    const e = payload ? eventOf(payload) : undefined;
    if (e) for (const w of this.watchers) if (inArea(e, w.area)) w.deliver(e);
  }

  /** Tiles the database should record: watched now, or lately. */
  private watchedTiles(): string[] {
    return [...new Set([...this.tileCounts.keys(), ...this.lingering.keys()])];
  }

  private saveTiles(): Promise<unknown> {
    return this.pool.query('select app_private.live_watch($1, $2, make_interval(secs => $3))', [
      this.listener,
      this.watchedTiles(),
      this.settings.retentionSeconds,
    ]);
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Writes this process's tiles to the database (and re-LISTENs after a reconnect). */
  private resync(): Promise<void> {
    return this.run(async () => {
      try {
        const fresh = !this.client;
        const client = await this.connection();
        if (fresh)
          for (const tile of this.tileCounts.keys())
            await client.query(`listen ${client.escapeIdentifier(`live:${tile}`)}`);
        const now = Date.now();
        for (const [tile, until] of this.lingering) if (until <= now) this.lingering.delete(tile);
        await this.saveTiles();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'live: could not refresh watched tiles');
      }
    });
  }

  /**
   * Starts delivering the area's events; resolves once the database knows the
   * tiles are watched (events after that are delivered). SMV02 when one of the
   * client's keys (liveClientKeys: its address, its account) already holds
   * maxPerClient watchers. Returns the function that stops it.
   */
  async watch(
    area: Area,
    clientKeys: readonly string[],
    deliver: (e: LiveEvent) => void,
  ): Promise<() => Promise<void>> {
    const release = this.perClient.take(clientKeys);
    if (!release) throw tooManyLiveStreams(this.settings.maxPerClient);
    const watcher: Watcher = { area, tiles: tilesOf(area), release, deliver };
    this.watchers.add(watcher);
    try {
      await this.run(async () => {
        const client = await this.connection();
        for (const tile of watcher.tiles) {
          const n = this.tileCounts.get(tile) ?? 0;
          this.tileCounts.set(tile, n + 1);
          this.lingering.delete(tile);
          if (n === 0) await client.query(`listen ${client.escapeIdentifier(`live:${tile}`)}`);
        }
        await this.saveTiles();
      });
    } catch (err) {
      await this.unwatch(watcher);
      throw err;
    }
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      await this.unwatch(watcher);
    };
  }

  private async unwatch(watcher: Watcher): Promise<void> {
    if (!this.watchers.delete(watcher)) return;
    watcher.release();
    const gone: string[] = [];
    for (const tile of watcher.tiles) {
      const n = (this.tileCounts.get(tile) ?? 1) - 1;
      if (n > 0) this.tileCounts.set(tile, n);
      else {
        this.tileCounts.delete(tile);
        this.lingering.set(tile, Date.now() + LINGER_MS);
        gone.push(tile);
      }
    }
    if (!gone.length) return;
    // Stop listening (nobody here to deliver to); the database keeps
    // recording the tile while it lingers (the periodic refresh drops it).
    await this.run(async () => {
      const client = this.client;
      if (client)
        for (const tile of gone)
          if (!this.tileCounts.has(tile)) await client.query(`unlisten ${client.escapeIdentifier(`live:${tile}`)}`);
    }).catch((err) => log.warn({ err: (err as Error).message }, 'live: could not unwatch'));
  }

  /** Live streams and subscriptions this process delivers to now. */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /**
   * The area's events after an event id (what a resuming SSE client missed),
   * oldest first. Each is built by app_private.live_event_json, as the NOTIFY
   * payload was, so a replayed event reads byte for byte as it did live
   * (timestamps in PostgreSQL's JSON form, to the microsecond, not JavaScript's).
   */
  async since(afterId: string, area: Area): Promise<LiveEvent[]> {
    const { rows } = await this.pool.query<{ payload: string }>(
      `select app_private.live_event_json(e) as payload from app_private.live_events_since($1, $2) e order by e.id`,
      [afterId, tilesOf(area)],
    );
    return rows.flatMap((r) => eventOf(r.payload) ?? []).filter((e) => inArea(e, area));
  }

  /**
   * Whether an event id has been handed out: at most the newest id the
   * database issued (its identity sequence, also counting events that rolled
   * back or have since aged out of retention).
   */
  async issued(id: string): Promise<boolean> {
    const {
      rows: [r],
    } = await this.pool.query<{ newest: string | null }>(
      `select pg_sequence_last_value(pg_get_serial_sequence('app_private.live_events', 'id'))::text as newest`,
    );
    return BigInt(id) <= BigInt(r?.newest ?? 0);
  }

  /** An async iterator of the area's events (GraphQL subscriptions); return() stops it. */
  async stream(area: Area, clientKeys: readonly string[]): Promise<AsyncIterableIterator<LiveEvent>> {
    const buffered: LiveEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const stop = await this.watch(area, clientKeys, (e) => {
      buffered.push(e);
      wake?.();
    });
    const iterator: AsyncIterableIterator<LiveEvent> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      async next() {
        while (!done && buffered.length === 0)
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        wake = undefined;
        if (done) return { done: true, value: undefined };
        return { done: false, value: buffered.shift()! };
      },
      async return() {
        done = true;
        wake?.();
        await stop();
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.watchers.clear();
    this.tileCounts.clear();
    this.lingering.clear();
    await this.queue;
    await this.saveTiles().catch(() => {});
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }
}

/** An event from its JSON (a NOTIFY payload, or a replayed row built the same way); undefined when it is not one. */
function eventOf(payload: string): LiveEvent | undefined {
  try {
    const raw = JSON.parse(payload) as LiveEvent & { id: number | string };
    return { ...raw, id: String(raw.id) };
  } catch {
    return undefined;
  }
}
