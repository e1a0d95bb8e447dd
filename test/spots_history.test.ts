// The spot change history over the API: only real changes, 50 a page newest
// first with a keyset cursor, filters by borough, street, meter and time
// range; sync runs readable by staff only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { createRate } from './helpers/spots.ts';

let db: TestDb;
let api: TestApi;
let busy: string;
let quiet: string;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  const rate = await createRate(db);
  const insert = `insert into app_public.spots (external_id, location, street, borough, rate_id)
    values ($1, st_setsrid(st_makepoint(-73.99, 40.75), 4326)::geography, $2, $3, $4) returning id::text`;
  busy = (await db.owner.query(insert, ['7000001', 'BROADWAY', 'Manhattan', rate])).rows[0].id;
  quiet = (await db.owner.query(insert, ['7000002', 'COURT STREET', 'Brooklyn', rate])).rows[0].id;
  api = await startApi(db);
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

const HISTORY = `query($borough: String, $street: String, $meter: String, $since: Datetime, $until: Datetime, $before: BigInt) {
  spotChangeHistory(borough: $borough, street: $street, meter: $meter, since: $since, until: $until, beforeId: $before) {
    nodes { rowId spotId field oldValue newValue source } } }`;

test('a write that changes nothing leaves no row; each changed field one row', async () => {
  await db.owner.query(`update app_public.spots set street = street, borough = borough where id = $1`, [busy]);
  await db.owner.query(`update app_public.spots set street = 'BROADWAY ', max_stay = '3 hours' where id = $1`, [busy]);
  const { data, errors } = await api.gql(HISTORY, { meter: '7000001' });
  assert.equal(errors, undefined, JSON.stringify(errors));
  assert.equal(
    data.spotChangeHistory.nodes.map((c: any) => [c.field, c.oldValue, c.newValue, c.source]),
    [
      ['max_stay', '02:00:00', '03:00:00', 'edit'],
      ['street', 'BROADWAY', 'BROADWAY ', 'edit'],
      ['created', null, '7000001', 'edit'],
    ],
  );
});

test('50 a page, newest first, the next page after the last rowId', async () => {
  for (let i = 0; i < 60; i++)
    await db.owner.query(`update app_public.spots set street = $2 where id = $1`, [busy, `BROADWAY ${i}`]);
  const first = (await api.gql(HISTORY, { meter: '7000001' })).data.spotChangeHistory.nodes;
  assert.is(first.length, 50);
  assert.is(first[0].newValue, 'BROADWAY 59');
  const second = (await api.gql(HISTORY, { meter: '7000001', before: first[49].rowId })).data.spotChangeHistory.nodes;
  assert.is(second.length, 63 - 50);
  const ids = [...first, ...second].map((c: any) => Number(c.rowId));
  assert.equal(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first, no repeats',
  );
  assert.is(new Set(ids).size, 63);
});

test('filters: borough, street, meter, time range', async () => {
  const only = async (vars: Record<string, unknown>) =>
    new Set((await api.gql(HISTORY, vars)).data.spotChangeHistory.nodes.map((c: any) => c.spotId));
  assert.equal(await only({ borough: 'brooklyn' }), new Set([quiet]));
  assert.equal(await only({ street: 'court' }), new Set([quiet]));
  assert.equal(await only({ meter: '7000002' }), new Set([quiet]));
  const future = new Date(Date.now() + 3600e3).toISOString();
  assert.equal(await only({ since: future }), new Set());
  assert.equal(await only({ until: future, borough: 'Brooklyn' }), new Set([quiet]));
});

test('sync runs: staff read them, drivers do not', async () => {
  await db.owner.query(
    `insert into app_public.spot_sync_runs (source_url, outcome) values ('http://example.test/m.csv', 'failed')`,
  );
  const operator = await createSignedInUser(db, api, { role: 'operator' });
  const driver = await createSignedInUser(db, api);
  const q = '{ spotSyncRuns { nodes { sourceUrl outcome } } }';
  const staff = await api.gql(q, {}, operator.headers);
  assert.equal(staff.data.spotSyncRuns.nodes, [{ sourceUrl: 'http://example.test/m.csv', outcome: 'failed' }]);
  const other = await api.gql(q, {}, driver.headers);
  assert.equal(other.data, { spotSyncRuns: { nodes: [] } }, 'an empty list, as row level security leaves it');
});

test.run();
