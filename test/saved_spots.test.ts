// Saved spots: idempotent save, a list with availability and price for a
// window, removal of one's own only, row level security between drivers,
// and isSaved on spots (spotsNear, spot details) over HTTP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  asRole,
  createTestDb,
  createUser,
  identityOf,
  sqlstateOf,
  type TestDb,
  type TestUser,
  ANON,
  callAs,
} from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';

let db: TestDb;
let api: TestApi;
let spotA: string;
let spotB: string;
let ada: TestUser;
let bob: TestUser;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  const rate = await createRate(db, { hourlyPrice: 600 });
  spotA = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  spotB = await createSpot(db, { lat: 40.751, lng: -73.99, rateId: rate });
  ada = await createUser(db);
  bob = await createUser(db);
  api = await startApi(db);
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

const hour = (h: number) => new Date(Math.floor(Date.now() / 3600e3) * 3600e3 + h * 3600e3);

test('saving is idempotent: twice, one row, the same answer', async () => {
  const first = await callAs(db, identityOf(ada), 'select spot_id::text, saved_at from app_public.save_spot($1)', [
    spotA,
  ]);
  const again = await callAs(db, identityOf(ada), 'select spot_id::text, saved_at from app_public.save_spot($1)', [
    spotA,
  ]);
  assert.equal(again, first);
  const {
    rows: [n],
  } = await db.owner.query('select count(*)::int as n from app_public.saved_spots where user_id = $1', [ada.id]);
  assert.is(n.n, 1);
});

test('the list shows availability and price for the window asked', async () => {
  await callAs(db, identityOf(ada), 'select app_public.save_spot($1)', [spotB]);
  await db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, amount, currency) values ($1, 'x@example.test', tstzrange($2, $3), 0, 'USD')`,
    [spotB, hour(2), hour(3)],
  );
  const list = await callAs(
    db,
    identityOf(ada),
    `select (m.spot).id::text as spot, m.available, (m.price).amount from app_public.my_saved_spots($1, $2) m order by 1`,
    [hour(2), hour(4)],
  );
  assert.equal(list, [
    { spot: spotA, available: true, amount: 1200 },
    { spot: spotB, available: false, amount: 1200 },
  ]);
  const later = await callAs(
    db,
    identityOf(ada),
    `select (m.spot).id::text as spot, m.available from app_public.my_saved_spots($1, $2) m order by 1`,
    [hour(3), hour(4)],
  );
  assert.equal(
    later.map((r) => r.available),
    [true, true],
    'free once the reservation is over',
  );
});

test('another driver sees none of them and cannot remove them; the owner can', async () => {
  const seen = await callAs(db, identityOf(bob), 'select count(*)::int as n from app_public.saved_spots');
  assert.is(seen[0].n, 0, 'row level security');
  const list = await callAs(db, identityOf(bob), 'select count(*)::int as n from app_public.my_saved_spots()');
  assert.is(list[0].n, 0);
  const removed = await callAs(db, identityOf(bob), 'select app_public.unsave_spot($1) as removed', [spotA]);
  assert.is(removed[0].removed, false);
  const direct = await sqlstateOf(
    asRole(db, identityOf(bob), (c) => c.query('delete from app_public.saved_spots'), { commit: true }),
  );
  assert.is(direct, '42501', 'no direct writes');
  const {
    rows: [still],
  } = await db.owner.query('select count(*)::int as n from app_public.saved_spots where user_id = $1', [ada.id]);
  assert.is(still.n, 2);
  const own = await callAs(db, identityOf(ada), 'select app_public.unsave_spot($1) as removed', [spotB]);
  assert.is(own[0].removed, true);
});

test('signed out: SMA08 (saving and the list); unknown spot: SMS04; nothing written', async () => {
  assert.is(await sqlstateOf(callAs(db, ANON, 'select app_public.save_spot($1)', [spotA])), 'SMA08');
  assert.is(await sqlstateOf(callAs(db, ANON, 'select * from app_public.my_saved_spots()')), 'SMA08', 'the list too');
  assert.is(await sqlstateOf(callAs(db, identityOf(bob), 'select app_public.save_spot(999999)')), 'SMS04');
  const {
    rows: [n],
  } = await db.owner.query('select count(*)::int as n from app_public.saved_spots where user_id = $1', [bob.id]);
  assert.is(n.n, 0);
});

test('isSaved over HTTP: in spotsNear and spot details, for the signed-in driver only', async () => {
  const carol = await createSignedInUser(db, api);
  const save = await api.gql(
    `mutation($s: BigInt!) { saveSpot(input: { spotId: $s }) { result { spotId } } }`,
    { s: spotA },
    carol.headers,
  );
  assert.equal(save.errors, undefined, JSON.stringify(save.errors));
  const near = `{ spotsNear(lat: 40.75, lng: -73.99, radius: 1) { nodes { spot { rowId isSaved } } } }`;
  const mine = await api.gql(near, {}, carol.headers);
  const flags = Object.fromEntries(mine.data.spotsNear.nodes.map((n: any) => [n.spot.rowId, n.spot.isSaved]));
  assert.equal(flags, { [spotA]: true, [spotB]: false });
  const details = await api.gql(`query($s: BigInt!) { spot(rowId: $s) { isSaved } }`, { s: spotA }, carol.headers);
  assert.is(details.data.spot.isSaved, true);
  const anon = await api.gql(near);
  assert.ok(anon.data.spotsNear.nodes.every((n: any) => n.spot.isSaved === false));
});

test.run();
