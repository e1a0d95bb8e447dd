// A read replica (issue 17, item 6): a PostgreSQL cluster of the test's own
// (the shared server is never stopped), provisioned with db:migrate, and a
// streaming replica of it made with pg_basebackup -R, both on free ports.
// The API runs with READ_DATABASE_URL on the replica. Shown: anonymous search
// is answered by the replica (its pg_stat_activity ran it; with replay paused
// it still shows a spot the primary has booked), while writes, a signed-in
// driver's search and a guest's read of the reservation just made answer from
// the primary; a booking leaves replica search within the replication lag
// (measured and printed); with the replica stopped, search answers from the
// primary, trying the replica again only after a back-off, and returns to it
// when it is back.
//
// Size: npm test measures the lag over a few bookings; RELIABILITY_SIZE=full
// (npm run test:reliability) over many, with concurrent searches as load.
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { createCluster, createReplica, type Cluster } from './helpers/pg_cluster.ts';
import { dbUrls } from '../lib/db_urls.ts';
import { freePort } from './helpers/free_port.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createUser, type TestDb } from './helpers/db.ts';
import { signIn, TEST_PASSWORD } from './helpers/auth.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { codeOf, gqlAt, reserveGuest } from './helpers/driver_client.ts';
import { waitFor } from './helpers/payments.ts';
import { metricsOf } from '../server/middleware/installMetrics.ts';
import { isReplicaUnavailable, mayReadFromReplica } from '../server/read_routing.ts';
import { getOperationAST, parse } from 'postgraphile/graphql';

const FULL = process.env.RELIABILITY_SIZE === 'full';
const BOOKINGS = FULL ? 200 : 8;
/** Searches running beside the measured bookings (full size only), as load on both databases. */
const SEARCHERS = FULL ? 4 : 0;

const LAT = 40.75;
const LNG = -73.98;

let primary: Cluster;
let replica: Cluster;
let db: TestDb;
/** A superuser on the replica: replay control and pg_stat_activity. */
let replicaRoot: pg.Pool;
let api: TestApi;
let rate: number;

test.before(async () => {
  primary = createCluster(await freePort());
  const urls = dbUrls({ ROOT_DATABASE_URL: primary.rootUrl }, 'sms_read');
  // The project's provisioning and committed migrations, as npm run db:migrate runs them.
  execFileSync(process.execPath, [new URL('../cli/main.ts', import.meta.url).pathname, 'db:migrate'], {
    env: { ...process.env, ROOT_DATABASE_URL: primary.rootUrl, DATABASE_URL: urls.owner, LOG_LEVEL: 'warn' },
    stdio: 'pipe',
  });
  replica = createReplica(primary, await freePort());
  const owner = new pg.Pool({ connectionString: urls.owner, max: 4 });
  const auth = new pg.Pool({ connectionString: urls.authenticator, max: 2 });
  db = { urls, owner, auth, close: async () => void (await Promise.all([owner.end(), auth.end()])) };
  replicaRoot = new pg.Pool({ connectionString: replica.rootUrl.replace(/\/postgres$/, '/sms_read'), max: 2 });
  replicaRoot.on('error', () => {});
  const readUrl = new URL(urls.authenticator);
  readUrl.port = String(replica.port);
  // Every booking comes from 127.0.0.1: the per-address hold limit (SMB12) is not what is tested here.
  api = await startApi(db, { readDatabaseUrl: readUrl.toString(), holdsPerAddress: 100_000 });
  rate = await createRate(db, { hourlyPrice: 600 });
});

test.after(async () => {
  await api?.close();
  await replicaRoot?.end().catch(() => {});
  await db?.close();
  replica?.destroy();
  primary?.destroy();
});

/** Resolves once the replica has replayed everything the primary has written so far. */
async function replayed(): Promise<void> {
  const {
    rows: [{ lsn }],
  } = await db.owner.query('select pg_current_wal_lsn()::text as lsn');
  await waitFor(
    async () =>
      (await replicaRoot.query('select pg_last_wal_replay_lsn() >= $1::pg_lsn as done', [lsn])).rows[0].done === true,
    30_000,
    'replica replayed the primary',
  );
}

function hoursAhead(h: number): Date {
  return new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + h * 3_600_000);
}

/** The spots spotsNear finds free for [startsAt, +1 h), as a caller with these headers. */
async function freeSpots(startsAt: Date, headers: Record<string, string> = {}): Promise<string[]> {
  const a = await gqlAt(
    api.url,
    `query Search($s: Datetime!, $e: Datetime!) {
      spotsNear(lat: ${LAT}, lng: ${LNG}, radius: 2, startsAt: $s, endsAt: $e, first: 100) { nodes { spot { rowId } } } }`,
    { s: startsAt.toISOString(), e: new Date(startsAt.getTime() + 3_600_000).toISOString() },
    headers,
  );
  assert.is(codeOf(a), null, JSON.stringify(a.errors));
  return a.data.spotsNear.nodes.map((n: { spot: { rowId: string } }) => n.spot.rowId);
}

/** The API's own counts: GraphQL requests per database chosen, and replica calls the primary served. */
async function routed(): Promise<{ primary: number; replica: number; fallbacks: number }> {
  const registry = metricsOf(api.handle.app).registry;
  const reads = (await registry.getSingleMetric('sms_graphql_reads_total')!.get()).values;
  const fallbacks = (await registry.getSingleMetric('sms_read_replica_fallbacks_total')!.get()).values;
  const of = (database: string) => reads.find((v) => v.labels.database === database)?.value ?? 0;
  return { primary: of('primary'), replica: of('replica'), fallbacks: fallbacks[0]?.value ?? 0 };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

test('routing: only anonymous queries of search and catalogue fields (fragments included) may read the replica; only unavailability falls back', () => {
  const may = (query: string, signedIn = false) => {
    const document = parse(query);
    return mayReadFromReplica(signedIn, document, getOperationAST(document));
  };
  assert.ok(may('{ spotsNear(lat: 1, lng: 1, radius: 1) { totalCount } rates { totalCount } }'));
  assert.ok(may('query { ...F } fragment F on Query { spot(id: 1) { id } ... on Query { quote { amount } } }'));
  assert.not.ok(may('{ spotsNear(lat: 1, lng: 1, radius: 1) { totalCount } }', true), 'signed in');
  assert.not.ok(may('{ spots { totalCount } guestReservation(reservationId: 1, manageToken: "t") { id } }'));
  assert.not.ok(may('query { ...F } fragment F on Query { currentUser { id } }'));
  assert.not.ok(may('mutation { logout(input: {}) { clientMutationId } }'));
  // Each fragment is decided once: 80 levels of doubling spreads (never ending if expanded), and a
  // cycle (validation refuses it, maybe after routing), both answer.
  const chain = (leaf: string) =>
    `query { ...A0 } ${Array.from({ length: 80 }, (_, i) => `fragment A${i} on Query { ...A${i + 1} ...A${i + 1} }`).join(' ')} fragment A80 on Query { ${leaf} }`;
  assert.ok(may(chain('rates { totalCount }')));
  assert.not.ok(may(chain('currentUser { id }')));
  assert.ok(may('query { ...A } fragment A on Query { rates { totalCount } ...B } fragment B on Query { ...A }'));
  assert.ok(isReplicaUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
  assert.ok(isReplicaUnavailable(Object.assign(new Error('shutting down'), { code: '57P01' })));
  assert.ok(isReplicaUnavailable(new Error('Connection terminated unexpectedly')));
  assert.not.ok(isReplicaUnavailable(Object.assign(new Error('bad window'), { code: '22023' })));
  assert.not.ok(isReplicaUnavailable(new TypeError('x is undefined')));
});

test('anonymous search runs on the replica; a booking made on the primary leaves it within the replication lag', async () => {
  const spot = await createSpot(db, { lat: LAT, lng: LNG, rateId: rate });
  await replayed();
  const before = await routed();
  assert.ok((await freeSpots(hoursAhead(3))).includes(spot));
  const after = await routed();
  assert.is(after.replica - before.replica, 1, 'the search was routed to the replica');
  const { rows: ran } = await replicaRoot.query(
    `select query from pg_stat_activity where usename = 'app_authenticator' and query like '%spots_near%'`,
  );
  assert.ok(ran.length > 0, 'the replica ran the search');

  let searching = SEARCHERS > 0;
  const load = Array.from({ length: SEARCHERS }, async (_, i) => {
    while (searching) await freeSpots(hoursAhead(100 + i));
  });
  const lags: number[] = [];
  const replayLags: number[] = [];
  try {
    for (let k = 0; k < BOOKINGS; k++) {
      // Each booking its own hour, so each is a fresh disappearance from search.
      const startsAt = hoursAhead(4 + k);
      const booked = await reserveGuest(api.url, spot, startsAt, 60, `lag${k}@example.test`);
      assert.is(codeOf(booked), null, JSON.stringify(booked.errors));
      const answeredAt = performance.now();
      const {
        rows: [{ lsn }],
      } = await db.owner.query('select pg_current_wal_lsn()::text as lsn');
      // Side by side: the booking gone from search through the API, and the replica's replay past the primary's WAL position.
      await Promise.all([
        (async () => {
          while ((await freeSpots(startsAt)).includes(spot)) {
            if (performance.now() - answeredAt > 30_000)
              assert.unreachable(`booking ${k} still in replica search after 30 s`);
          }
          lags.push(performance.now() - answeredAt);
        })(),
        (async () => {
          const q = 'select pg_last_wal_replay_lsn() >= $1::pg_lsn as done';
          while (!(await replicaRoot.query(q, [lsn])).rows[0].done);
          replayLags.push(performance.now() - answeredAt);
        })(),
      ]);
    }
  } finally {
    searching = false;
    await Promise.all(load);
  }
  lags.sort((a, b) => a - b);
  replayLags.sort((a, b) => a - b);
  const f = (ms: number) => ms.toFixed(1);
  console.log(
    `scale_read_replica (${FULL ? 'full' : 'reduced'}): ${BOOKINGS} bookings, ${SEARCHERS} concurrent searchers; ` +
      `booked → gone from replica search (ms, one search request included): min ${f(lags[0]!)}, ` +
      `p50 ${f(percentile(lags, 0.5))}, p99 ${f(percentile(lags, 0.99))}, max ${f(lags.at(-1)!)}; ` +
      `booked → replica replayed past the primary's WAL position (ms): p50 ${f(percentile(replayLags, 0.5))}, ` +
      `p99 ${f(percentile(replayLags, 0.99))}, max ${f(replayLags.at(-1)!)}`,
  );
});

test('with replay paused, anonymous search shows the replica view while writes, a signed-in driver and a guest reading their booking see the primary', async () => {
  const spot = await createSpot(db, { lat: LAT, lng: LNG + 0.001, rateId: rate });
  const user = await createUser(db, { password: TEST_PASSWORD });
  const session = await signIn(api, user.email);
  await replayed();
  await replicaRoot.query('select pg_wal_replay_pause()');
  try {
    const startsAt = hoursAhead(2);
    const booked = await reserveGuest(api.url, spot, startsAt, 60, 'paused@example.test');
    assert.is(codeOf(booked), null, 'a write goes to the primary');
    const { rowId } = booked.data.reserve.result.reservation;
    const before = await routed();
    assert.ok((await freeSpots(startsAt)).includes(spot), 'anonymous search: the replica has not seen the booking');
    assert.not.ok((await freeSpots(startsAt, session.headers)).includes(spot), 'signed-in search: the primary has');
    const guest = await gqlAt(
      api.url,
      'query ($id: BigInt!, $t: String!) { guestReservation(reservationId: $id, manageToken: $t) { rowId } }',
      { id: rowId, t: booked.data.reserve.result.manageToken },
    );
    assert.is(guest.data?.guestReservation?.rowId, rowId, 'a guest reads the booking just made (primary)');
    const after = await routed();
    assert.equal(
      { replica: after.replica - before.replica, primary: after.primary - before.primary },
      { replica: 1, primary: 2 },
    );
  } finally {
    await replicaRoot.query('select pg_wal_replay_resume()');
  }
  await waitFor(async () => !(await freeSpots(hoursAhead(2))).includes(spot), 30_000, 'replica caught up');
});

test('replica stopped: search answers from the primary, backed off instead of trying the replica each time; back to the replica when it returns', async () => {
  const spot = await createSpot(db, { lat: LAT, lng: LNG + 0.002, rateId: rate });
  await replayed();
  const startsAt = hoursAhead(2);
  assert.is(codeOf(await reserveGuest(api.url, spot, startsAt, 60, 'stopped@example.test')), null);
  replica.stop('fast');
  const before = await routed();
  assert.not.ok((await freeSpots(startsAt)).includes(spot), 'answered by the primary, which has the booking');
  assert.not.ok((await freeSpots(startsAt)).includes(spot));
  const after = await routed();
  assert.is(after.fallbacks - before.fallbacks, 1, 'one call fell back; the next went to the primary at once');
  assert.is(after.primary - before.primary, 1);
  replica.start();
  await waitFor(
    async () => {
      await freeSpots(startsAt);
      return (await routed()).replica > after.replica;
    },
    30_000,
    'search back on the replica',
  );
  const back = await routed();
  assert.is(back.fallbacks, after.fallbacks, 'the replica answered again, no fallback');
});

test.run();
