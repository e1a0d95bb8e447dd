// Live availability through the real API: SSE and GraphQL-over-websocket
// clients get an event when a spot in their area is reserved, when a stay ends
// and when a hold expires, and nothing for spots outside their area; SSE
// resumes with Last-Event-ID; a websocket from a foreign origin carrying the
// victim's cookie is refused; websockets carry no queries or mutations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser, signInWithCookie } from './helpers/auth.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { liveHubOf } from '../server/middleware/installLiveEvents.ts';

// Inside the watched box, outside it but in the same tile, and in another tile.
const BOX = { minLat: 40.7, minLng: -74.0, maxLat: 40.72, maxLng: -73.98 };
const BOX_QUERY = new URLSearchParams(Object.entries(BOX).map(([k, v]) => [k, String(v)])).toString();
let db: TestDb;
let api: TestApi;
let spotIn: string;
let spotIn2: string;
let spotSameTileOutside: string;
let spotFar: string;
let spotFar2: string;
let driver: Awaited<ReturnType<typeof createSignedInUser>>;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  api = await startApi(db, {
    corsOrigins: ['http://app.example.test'],
    live: { maxTiles: 64, maxPerClient: 4, retentionSeconds: 600, heartbeatSeconds: 1 },
  });
  const rate = await createRate(db, { hourlyPrice: 300 });
  spotIn = await createSpot(db, { lat: 40.705, lng: -73.99, rateId: rate });
  spotIn2 = await createSpot(db, { lat: 40.715, lng: -73.985, rateId: rate });
  spotSameTileOutside = await createSpot(db, { lat: 40.745, lng: -73.99, rateId: rate });
  spotFar = await createSpot(db, { lat: 41.5, lng: -73.5, rateId: rate });
  spotFar2 = await createSpot(db, { lat: 41.6, lng: -73.5, rateId: rate });
  driver = await createSignedInUser(db, api, { email: 'live-driver@example.test' });
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

/** An SSE client reading the raw stream: events as they arrive (data parsed, and as sent), plus whether `ready` came. */
function sse(query: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const events: Array<{ id?: string; event?: string; data: any; raw?: string }> = [];
  const waiters: Array<() => void> = [];
  let status = 0;
  let ready = false;
  let heartbeats = 0;
  const done = (async () => {
    const res = await fetch(`${api.url}/live/spots?${query}`, { headers, signal: controller.signal });
    status = res.status;
    if (!res.ok || !res.body) {
      events.push({ event: 'error', data: await res.json() });
      for (const w of waiters.splice(0)) w();
      return;
    }
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const msg: { id?: string; event?: string; data?: string } = {};
        for (const line of block.split('\n')) {
          const m = /^(id|event|data): (.*)$/.exec(line);
          if (m) msg[m[1] as 'id' | 'event' | 'data'] = m[2];
        }
        if (block.split('\n').includes(': heartbeat')) heartbeats++;
        if (msg.event === 'ready') ready = true;
        else if (msg.event)
          events.push({ id: msg.id, event: msg.event, data: JSON.parse(msg.data ?? 'null'), raw: msg.data });
        for (const w of waiters.splice(0)) w();
      }
    }
  })().catch(() => {});
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 20_000; // a bound for a loaded machine, not a timing
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`SSE: timed out waiting for ${what}; got ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return {
    events,
    get status() {
      return status;
    },
    ready: () => until(() => ready || status >= 400, 'ready'),
    next: (n: number) => until(() => events.length >= n, `${n} events`),
    heartbeat: () => until(() => heartbeats > 0, 'a heartbeat'),
    close: async () => {
      controller.abort();
      await done;
    },
  };
}

let guests = 0;

/** A guest's booking over HTTP, each from a new email: a driver may hold only 3 at once (SMB12). */
async function reserveOverHttp(spotId: string, minutes = 60): Promise<string> {
  guests += 1;
  const res = await api.gql(
    `mutation($s: BigInt!, $m: Int, $e: String) { reserve(input: { spotId: $s, durationMinutes: $m, email: $e }) { result { reservation { rowId } } } }`,
    { s: spotId, m: minutes, e: `live.guest${guests}@example.test` },
  );
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data.reserve.result.reservation.rowId;
}

/** A reservation written as the owner whose period (and hold) are already over, for the due-work functions. */
async function pastReservation(spotId: string, status: 'confirmed' | 'held'): Promise<string> {
  const {
    rows: [r],
  } = await db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, amount, currency, status, hold_expires_at)
     values ($1, 'past@example.test', tstzrange(now() - interval '2 hours', now() - interval '1 hour'), 300, 'USD',
       $2::app_public.reservation_status, case when $2::text = 'held' then now() - interval '1 hour' end)
     returning id::text`,
    [spotId, status],
  );
  return r.id;
}

test('SSE: events after a reservation is made, after it ends, after a hold expires; none outside the area', async () => {
  const stream = sse(BOX_QUERY);
  await stream.ready();
  // Outside the box (same tile, and another tile): nothing delivered
  await reserveOverHttp(spotSameTileOutside);
  await reserveOverHttp(spotFar);
  // Reserve inside
  await reserveOverHttp(spotIn);
  await stream.next(1);
  assert.equal(stream.events[0].data.spotId, spotIn);
  assert.is(stream.events[0].data.reason, 'taken');
  assert.equal(
    Object.keys(stream.events[0].data).sort(),
    ['endsAt', 'id', 'lat', 'lng', 'reason', 'spotId', 'startsAt'],
    'ids and positions only',
  );
  // A stay that ends (the due-work sweep's function)
  await pastReservation(spotIn2, 'confirmed');
  await db.owner.query('select app_private.reservations_end_due(500)');
  // A hold that expires
  const held = await pastReservation(spotIn2, 'held');
  await db.owner.query(
    `update app_public.reservations set period = tstzrange(now() + interval '1 hour', now() + interval '2 hours') where id = $1`,
    [held],
  );
  await db.owner.query('select app_private.holds_expire_due(500)');
  await stream.next(6);
  assert.equal(
    stream.events.map((e) => [e.data.spotId, e.data.reason]),
    [
      [spotIn, 'taken'],
      [spotIn2, 'taken'],
      [spotIn2, 'freed'], // the ended stay: written, then completed
      [spotIn2, 'taken'],
      [spotIn2, 'changed'],
      [spotIn2, 'freed'], // the hold: written, moved, expired
    ],
  );
  assert.ok(stream.events.every((e) => e.data.spotId !== spotFar && e.data.spotId !== spotSameTileOutside));
  const {
    rows: [far],
  } = await db.owner.query(`select count(*)::int as n from app_private.live_events where spot_id = $1`, [spotFar]);
  assert.is(far.n, 0, 'an unwatched tile records and NOTIFYs nothing');
  await stream.close();
});

test('SSE: resume after a dropped connection with Last-Event-ID, each missed event as it was sent live; heartbeats', async () => {
  const live = sse(BOX_QUERY); // connected throughout
  await live.ready();
  const first = sse(BOX_QUERY);
  await first.ready();
  await db.owner.query(`update app_public.spots set status = 'out_of_service' where id = $1`, [spotIn]);
  await first.next(1);
  const lastId = first.events[0].id!;
  await first.close();
  // Missed while disconnected: a window to the microsecond, as reservations have.
  await db.owner.query(`update app_public.spots set status = 'active' where id = $1`, [spotIn]);
  await db.owner.query(`update app_public.spots set status = 'out_of_service' where id = $1`, [spotIn2]);
  await db.owner.query(
    `select app_private.live_events_record(array[$1::bigint], array['taken'],
       array[tstzrange(date_trunc('second', now()) + interval '1 hour 0.123456 seconds', now() + interval '2 hours')])`,
    [spotIn2],
  );
  const again = sse(BOX_QUERY, { 'last-event-id': lastId });
  await again.ready();
  assert.equal(
    again.events.map((e) => [e.data.spotId, e.data.reason]),
    [
      [spotIn, 'in_service'],
      [spotIn2, 'out_of_service'],
      [spotIn2, 'taken'],
    ],
  );
  assert.ok(again.events.every((e) => BigInt(e.id!) > BigInt(lastId)));
  // The same JSON, byte for byte, as the live stream got for the same ids: same keys, same timestamps.
  await live.next(4);
  assert.equal(
    again.events.map((e) => [e.id, e.raw]),
    live.events.slice(1).map((e) => [e.id, e.raw]),
  );
  // (A whole second plus .123456: PostgreSQL drops a fraction's trailing zeros, so now()'s own would not always show six digits.)
  assert.match(again.events[2].data.startsAt, /:\d{2}\.123456\+00:00$/, 'to the microsecond');
  await live.close();
  await db.owner.query(`update app_public.spots set status = 'active' where id = $1`, [spotIn2]);
  await again.next(4);
  assert.equal(again.events[3].data.reason, 'in_service');
  await again.heartbeat(); // LIVE_HEARTBEAT is 1 s here
  await again.close();
});

test('SSE: an event committed after a later-numbered one still reaches a live stream and a resumed one', async () => {
  // Two writers in one watched area: the first takes its event id, the second
  // takes the next id and commits first.
  const record = (client: { query: typeof db.owner.query }, spot: string) =>
    client.query(
      `select app_private.live_events_record(array[$1::bigint], array['out_of_service'], array[null::tstzrange])`,
      [spot],
    );
  const outOfOrder = async () => {
    const slow = await db.owner.connect();
    try {
      await slow.query('begin');
      await record(slow, spotIn);
      await record(db.owner, spotIn2); // its own transaction: commits at once, with the higher id
      return { commitSlow: () => slow.query('commit') };
    } finally {
      slow.release();
    }
  };
  const idsOf = (events: Array<{ id?: string; data: any }>) => events.map((e) => [e.data.spotId, BigInt(e.id!)]);
  // An unrelated transaction open throughout, as other work on a busy server:
  // it keeps every snapshot's xmin old, so only the snapshot itself tells
  // which earlier events a resumed client may have missed.
  const bystander = await db.owner.connect();
  await bystander.query('begin');
  await bystander.query('select pg_current_xact_id()');
  const streams: Array<ReturnType<typeof sse>> = [];
  const open = (headers?: Record<string, string>) => {
    const stream = sse(BOX_QUERY, headers);
    streams.push(stream);
    return stream;
  };
  try {
    // Connected throughout: both arrive, the lower id second.
    const live = open();
    await live.ready();
    const first = await outOfOrder();
    await live.next(1);
    await first.commitSlow();
    await live.next(2);
    const [[fast, fastId], [slow, slowId]] = idsOf(live.events) as Array<[string, bigint]>;
    assert.equal([fast, slow], [spotIn2, spotIn]);
    assert.ok(slowId! < fastId!, 'the later event has the lower id');
    await live.close();

    // Disconnected between the two commits: the resume sends the lower id
    // too, and none of the events committed before the last one seen.
    const before = open();
    await before.ready();
    const second = await outOfOrder();
    await before.next(1);
    const lastId = before.events[0]!.id!;
    await before.close();
    await second.commitSlow();
    const again = open({ 'last-event-id': lastId });
    await again.ready();
    assert.equal(
      again.events.map((e) => e.data.spotId),
      [spotIn],
      'the event that committed late, once',
    );
    assert.ok(BigInt(again.events[0]!.id!) < BigInt(lastId));
  } finally {
    await Promise.all(streams.map((stream) => stream.close()));
    await bystander.query('rollback');
    bystander.release();
  }
});

test('SSE: a bad area, a bad Last-Event-ID and too many streams are refused with codes', async () => {
  const bad = sse('minLat=1');
  await bad.ready();
  assert.equal([bad.status, bad.events[0].data.error.code], [400, 'SMV01']);
  const huge = sse('minLat=40&minLng=-75&maxLat=42&maxLng=-73');
  await huge.ready();
  assert.equal([huge.status, huge.events[0].data.error.code], [400, 'SMV01']);
  const badId = sse(BOX_QUERY, { 'last-event-id': 'abc' });
  await badId.ready();
  assert.equal([badId.status, badId.events[0].data.error.code], [400, 'SMV04']);
  // Ids come from the events' identity sequence: one above the newest issued was never sent.
  const newest = async () =>
    BigInt(
      (
        await db.owner.query(
          `select pg_sequence_last_value(pg_get_serial_sequence('app_private.live_events', 'id'))::text as id`,
        )
      ).rows[0].id,
    );
  for (const id of ['99999999', String((await newest()) + 1n)]) {
    const unknown = sse(BOX_QUERY, { 'last-event-id': id });
    await unknown.ready();
    assert.equal([id, unknown.status, unknown.events[0]?.data.error.code], [id, 400, 'SMV04']);
  }
  // An issued id stays good after its event aged out of retention (or its transaction rolled back).
  await db.owner.query(
    `select app_private.live_events_record(array[$1::bigint], array['in_service'], array[null::tstzrange])`,
    [spotIn],
  );
  const agedOut = await newest();
  await db.owner.query('delete from app_private.live_events where id = $1', [agedOut]);
  const resumed = sse(BOX_QUERY, { 'last-event-id': String(agedOut) });
  await resumed.ready();
  assert.is(resumed.status, 200);
  await resumed.close();
  // The bound is per client: a signed-in user of their own here.
  const other = await createSignedInUser(db, api, { email: 'live-many@example.test' });
  const open = [];
  for (let i = 0; i < 4; i++) {
    const s = sse(BOX_QUERY, other.headers);
    await s.ready();
    open.push(s);
  }
  const fifth = sse(BOX_QUERY, other.headers);
  await fifth.ready();
  assert.equal([fifth.status, fifth.events[0]?.data.error.code], [429, 'SMV02']);
  for (const s of open) await s.close();
});

function wsClient(headers: Record<string, string>): Client {
  return createClient({
    url: `${api.url.replace('http', 'ws')}/graphql`,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    webSocketImpl: class extends WebSocket {
      constructor(url: string, protocols: string | string[]) {
        super(url, protocols, { headers });
      }
    },
  });
}

/** Waits until the API process delivers to `n` watchers (a subscription is registered once its tiles are watched). */
async function watchers(n: number): Promise<void> {
  const hub = liveHubOf(api.handle.app);
  for (let i = 0; i < 400 && hub.watcherCount !== n; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(hub.watcherCount, n, 'watchers registered');
}

test('GraphQL subscription over a websocket: the event, with the spot read as the subscriber (isSaved)', async () => {
  await api.gql(
    `mutation($s: BigInt!) { saveSpot(input: { spotId: $s }) { clientMutationId } }`,
    { s: spotIn2 },
    driver.headers,
  );
  await watchers(0); // the earlier tests' streams are gone
  const client = wsClient({ authorization: `Bearer ${driver.token}` });
  const got: any[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    const stop = client.subscribe(
      {
        query: `subscription($b: Float!, $c: Float!, $d: Float!, $e: Float!) {
        spotAvailability(minLat: $b, minLng: $c, maxLat: $d, maxLng: $e) { eventId spotId reason spot { rowId isSaved } } }`,
        variables: { b: BOX.minLat, c: BOX.minLng, d: BOX.maxLat, e: BOX.maxLng },
      },
      {
        next: (msg) => {
          got.push(msg);
          if (got.length === 2) {
            stop();
            resolve();
          }
        },
        error: reject,
        complete: () => resolve(),
      },
    );
  });
  finished.catch(() => {}); // raced below; a late error must not go unhandled
  await watchers(1);
  await reserveOverHttp(spotFar2);
  await reserveOverHttp(spotIn2, 30);
  await pastReservation(spotIn, 'confirmed');
  try {
    await Promise.race([
      finished,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(got)}`)), 20_000)),
    ]);
  } finally {
    await client.dispose();
  }
  assert.equal(
    got.map((m) => [
      m.data.spotAvailability.spotId,
      m.data.spotAvailability.reason,
      m.data.spotAvailability.spot.isSaved,
    ]),
    [
      [spotIn2, 'taken', true],
      [spotIn, 'taken', false],
    ],
  );
});

test("websockets: a foreign origin with the victim's cookie is refused; the own origin is not", async () => {
  const victim = await signInWithCookie(api, driver.email);
  const attempt = (origin: string, host?: string) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(`${api.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
        headers: { cookie: victim.cookie, origin, ...(host ? { host } : {}) },
      });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => {
        socket.close();
        resolve(101);
      });
      socket.on('error', () => {});
    });
  assert.is(await attempt('http://evil.example.test'), 403);
  // A page that rebinds its own name to this server sends its own Host: the Host header vouches for nothing.
  assert.is(await attempt('http://evil.example.test', 'evil.example.test'), 403);
  assert.is(await attempt('http://app.example.test'), 101);
  assert.is(await attempt(api.url), 101);
  // A bad bearer token is refused at the door too
  const bad = await new Promise<number>((resolve) => {
    const socket = new WebSocket(`${api.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
      headers: { authorization: 'Bearer not-a-real-token-at-all' },
    });
    socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('error', () => {});
  });
  assert.is(bad, 401);
});

/** A refused websocket upgrade: its status, content type and JSON body (fails when the upgrade is accepted). */
function upgradeRefusal(headers: Record<string, string>): Promise<{ status: number; type?: string; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${api.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers });
    socket.on('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: JSON.parse(text) }),
      );
    });
    socket.on('open', () => {
      socket.terminate();
      reject(new Error(`upgrade with ${JSON.stringify(headers)} accepted`));
    });
    socket.on('error', () => {});
  });
}

test('websocket refusals answer what the HTTP routes answer for the same code (status, code, message)', async () => {
  const asHttp = async (res: Response) => ({
    status: res.status,
    type: res.headers.get('content-type') ?? undefined,
    body: await res.json(),
  });
  const evil = { origin: 'http://evil.example.test' };
  const badToken = { authorization: `Bearer ${'x'.repeat(40)}` };
  const pairs: Array<[string, { status: number; type?: string; body: any }, { status: number; body: any }]> = [
    [
      'SMA18',
      await upgradeRefusal(evil),
      await asHttp(await fetch(`${api.url}/auth/logout`, { method: 'POST', headers: evil })),
    ],
    [
      'SMA15',
      await upgradeRefusal(badToken),
      await asHttp(await fetch(`${api.url}/live/spots?${BOX_QUERY}`, { headers: badToken })),
    ],
  ];
  // SMV02: one past the bound (4 here) of websockets, and of SSE streams, from this address.
  await watchers(0);
  const sockets: WebSocket[] = [];
  const streams: Array<ReturnType<typeof sse>> = [];
  try {
    for (let i = 0; i < 4; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = new WebSocket(`${api.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
        sockets.push(socket);
        socket.on('open', () => resolve());
        socket.on('unexpected-response', (_req, res) => reject(new Error(`socket ${i}: ${res.statusCode}`)));
      });
      const stream = sse(BOX_QUERY);
      streams.push(stream);
      await stream.ready();
      assert.is(stream.status, 200);
    }
    const fifth = sse(BOX_QUERY);
    streams.push(fifth);
    await fifth.ready();
    pairs.push(['SMV02', await upgradeRefusal({}), { status: fifth.status, body: fifth.events[0]?.data }]);
  } finally {
    for (const socket of sockets) socket.terminate();
    await Promise.all(streams.map((s) => s.close()));
  }
  for (const [code, ws, http] of pairs) {
    assert.is(http.body.error.code, code, `${code} over HTTP`);
    assert.equal(ws.body, http.body, `${code}: the websocket's refusal is the HTTP route's`);
    assert.is(ws.status, http.status, code);
    assert.match(ws.type ?? '', /^application\/json/, code);
    // The people-facing sentence, not README's table text with its HTTP status.
    assert.not.match(ws.body.error.message, /HTTP \d{3}|CORS;/, code);
  }
  await watchers(0);
});

test('an area is a whole box or a whole circle: a mix or a part is refused with SMV01, on SSE and over the websocket', async () => {
  const CIRCLE = { lat: 40.71, lng: -73.99, radius: 1 };
  const MIX = /box .*or a circle .*not both/;
  const cases: Array<[string, Record<string, number>, RegExp]> = [
    ['a circle and minLat', { ...CIRCLE, minLat: BOX.minLat }, MIX],
    ['a box and lat', { ...BOX, lat: CIRCLE.lat }, MIX],
    ['a box and radius', { ...BOX, radius: 1 }, MIX],
    ['a whole box and a whole circle', { ...BOX, ...CIRCLE }, MIX],
    ['a box without maxLng', { minLat: BOX.minLat, minLng: BOX.minLng, maxLat: BOX.maxLat }, /missing maxLng/],
    ['a circle without radius', { lat: CIRCLE.lat, lng: CIRCLE.lng }, /missing radius/],
    ['radius alone', { radius: 1 }, /missing lat, lng/],
    ['no area', {}, /give minLat, minLng, maxLat and maxLng, or lat, lng and radius/],
  ];
  await watchers(0);
  const client = wsClient({});
  try {
    for (const [what, args, message] of cases) {
      const stream = sse(new URLSearchParams(Object.entries(args).map(([k, v]) => [k, String(v)])).toString());
      await stream.ready();
      await stream.close();
      const refusal = stream.events[0]?.data.error;
      assert.equal([what, stream.status, refusal?.code], [what, 400, 'SMV01']);
      assert.match(refusal.message, message, `${what}: ${refusal.message}`);

      const list = Object.entries(args)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');
      const errors = await new Promise<any[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: no answer over the websocket`)), 20_000);
        client.subscribe(
          { query: `subscription { spotAvailability${list ? `(${list})` : ''} { eventId } }` },
          {
            next: (msg) => {
              clearTimeout(timer);
              resolve((msg.errors as any[]) ?? [msg]);
            },
            error: (err) => {
              clearTimeout(timer);
              resolve(Array.isArray(err) ? err : [err]);
            },
            complete: () => {},
          },
        );
      });
      assert.equal([what, errors.map((e) => e.extensions?.code)], [what, ['SMV01']]);
      assert.is(errors[0].message, refusal.message, `${what}: the same message on both`);
    }
    // Whole, either one is taken.
    for (const area of [BOX, CIRCLE]) {
      const stream = sse(new URLSearchParams(Object.entries(area).map(([k, v]) => [k, String(v)])).toString());
      await stream.ready();
      await stream.close();
      assert.is(stream.status, 200, JSON.stringify(area));
    }
  } finally {
    await client.dispose();
  }
  await watchers(0);
});

test('websockets carry no queries or mutations, whoever sends them (SMV03); nothing is written', async () => {
  const client = wsClient({ authorization: `Bearer ${driver.token}` });
  const run = (query: string) =>
    new Promise<any>((resolve, reject) => {
      client.subscribe({ query }, { next: resolve, error: resolve, complete: () => {} });
      setTimeout(() => reject(new Error(`no answer to ${query}`)), 20_000);
    });
  const {
    rows: [before],
  } = await db.owner.query('select count(*)::int as n from app_public.reservations');
  const mutation = await run(
    `mutation { reserve(input: { spotId: "${spotIn}", durationMinutes: 30 }) { result { reservation { rowId } } } }`,
  );
  const query = await run('{ currentUser { email } }');
  const errs = (r: any) => (Array.isArray(r) ? r : (r.errors ?? [])).map((e: any) => e.extensions?.code);
  assert.equal(errs(mutation), ['SMV03']);
  assert.equal(errs(query), ['SMV03']);
  const {
    rows: [after],
  } = await db.owner.query('select count(*)::int as n from app_public.reservations');
  assert.is(after.n, before.n);
  await client.dispose();
});

test('a subscription over HTTP POST is refused (SMV05) for every caller, and takes no live slot', async () => {
  const SUBSCRIBE = `subscription($b: Float!, $c: Float!, $d: Float!, $e: Float!) {
    spotAvailability(minLat: $b, minLng: $c, maxLat: $d, maxLng: $e) { spotId } }`;
  const variables = { b: BOX.minLat, c: BOX.minLng, d: BOX.maxLat, e: BOX.maxLng };
  const signedIn = await createSignedInUser(db, api, { email: 'live-post@example.test' });
  await watchers(0);
  for (const [who, headers] of [
    ['anonymous', {}],
    ['signed in', signedIn.headers],
  ] as const) {
    // More than the client's bound (4 here): a leaked slot would refuse the stream below.
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: SUBSCRIBE, variables }),
        // Accepted, it would be an endless multipart stream.
        signal: AbortSignal.timeout(10_000),
      });
      const body = await res.json();
      assert.equal([res.status, body.errors?.map((e: any) => e.extensions?.code)], [400, ['SMV05']], who);
    }
    assert.is(liveHubOf(api.handle.app).watcherCount, 0, `${who}: no watcher registered`);
    const stream = sse(BOX_QUERY, headers);
    await stream.ready();
    assert.is(stream.status, 200, `${who}: still free to watch`);
    await stream.close();
  }
});

test('SSE: a client that hangs up before its stream starts gives its slot back', async () => {
  const quitter = await createSignedInUser(db, api, { email: 'live-quit@example.test' });
  await watchers(0);
  const { hostname: host, port } = new URL(api.url);
  // More than the client's bound (4 here): each request is sent and its socket closed at once,
  // while the API is still listening to the area's tiles.
  for (let i = 0; i < 6; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port: Number(port) }, () => {
        socket.end(
          `GET /live/spots?${BOX_QUERY} HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
            `Authorization: ${quitter.headers.authorization}\r\nAccept: text/event-stream\r\n\r\n`,
          () => {
            socket.destroy();
            resolve();
          },
        );
      });
      socket.on('error', reject);
    });
  }
  await watchers(0);
  const stream = sse(BOX_QUERY, quitter.headers);
  await stream.ready();
  assert.is(stream.status, 200, 'still free to watch');
  await stream.close();
});

test('the bound holds per address too: accounts signed in from one address share it (SSE and websockets)', async () => {
  // Every client here comes from 127.0.0.1; the bound is 4.
  const [a, b, c] = await Promise.all(
    ['live-shared-a', 'live-shared-b', 'live-shared-c'].map((name) =>
      createSignedInUser(db, api, { email: `${name}@example.test` }),
    ),
  );
  await watchers(0);
  const streams: Array<ReturnType<typeof sse>> = [];
  const stream = async (headers: Record<string, string>) => {
    const s = sse(BOX_QUERY, headers);
    streams.push(s);
    await s.ready();
    return s;
  };
  try {
    for (const user of [a, a, b, b]) assert.is((await stream(user.headers)).status, 200);
    // A third account, and an anonymous client, from the same address: over the address's bound.
    const third = await stream(c.headers);
    assert.equal([third.status, third.events[0]?.data.error.code], [429, 'SMV02']);
    const anonymous = await stream({});
    assert.equal([anonymous.status, anonymous.events[0]?.data.error.code], [429, 'SMV02']);
    // One given back: the address has room again.
    await streams[0]!.close();
    await watchers(3);
    assert.is((await stream(c.headers)).status, 200);
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
  await watchers(0);

  const sockets: WebSocket[] = [];
  const open = (token: string) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(`${api.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
        headers: { authorization: `Bearer ${token}` },
      });
      sockets.push(socket);
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => {});
    });
  try {
    assert.equal(
      [await open(a.token), await open(a.token), await open(b.token), await open(b.token)],
      [101, 101, 101, 101],
    );
    assert.is(await open(c.token), 429, 'a third account from the same address');
  } finally {
    for (const socket of sockets) socket.terminate();
  }
});

test('websockets behind a proxy (TRUST_PROXY): the bound is per forwarded client, not per proxy', async () => {
  // The peer of every socket here is 127.0.0.1, the "proxy"; X-Forwarded-For names the client.
  const proxied = await startApi(db, {
    trustProxy: 1,
    live: { maxTiles: 64, maxPerClient: 2, retentionSeconds: 600, heartbeatSeconds: 1 },
  });
  const sockets: WebSocket[] = [];
  const open = (forwardedFor: string) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(`${proxied.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
        headers: { 'x-forwarded-for': forwardedFor },
      });
      sockets.push(socket);
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => {});
    });
  try {
    // Two clients at the bound each: before, the second was refused as the proxy's third socket.
    assert.equal([await open('198.51.100.7'), await open('198.51.100.7')], [101, 101]);
    assert.equal([await open('203.0.113.9'), await open('203.0.113.9')], [101, 101]);
    // One client past its bound is still refused, whatever it adds in front of the proxy's entry.
    assert.is(await open('198.51.100.7'), 429);
    assert.is(await open('10.9.9.9, 198.51.100.7'), 429);
    // Not an address: the proxy's own (the peer) counts, as for HTTP requests.
    assert.equal([await open('nonsense'), await open('nonsense'), await open('nonsense')], [101, 101, 429]);
  } finally {
    for (const socket of sockets) socket.terminate();
    await proxied.close();
  }
});

test.run();
