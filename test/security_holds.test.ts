// Active holds are bounded (issue 9, item 5): at most 3 held reservations at
// once per guest email address, 3 per signed-in driver (their own), 10 per
// client address, and 10 guest reservations an hour per email (SMB12), through
// the API; a refused hold writes nothing and mails nobody.
// Confirming, cancelling or the hold's expiry makes room again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser, signIn } from './helpers/auth.ts';
import { createRate, createSpot } from './helpers/spots.ts';

let db: TestDb;
let api: TestApi;
let proxied: TestApi;
let spotId: string;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  proxied = await startApi(db, { trustProxy: 1 });
  spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: await createRate(db), maxStay: '4 hours' });
});

test.after(() => closeAll(proxied, api, db));

const RESERVE = `mutation ($s: BigInt!, $at: Datetime!, $e: String) {
  reserve(input: { spotId: $s, startsAt: $at, durationMinutes: 30, email: $e }) { result { reservation { rowId } manageToken } } }`;
let slot = 0;
/** A window of its own on the one spot: holds never collide (SMB01), so only the limit can refuse. */
const nextWindow = () => new Date(Date.now() + (2 + slot++) * 3600e3).toISOString();

async function hold(target: TestApi, email: string | null, headers: Record<string, string> = {}) {
  const res = await target.gql(RESERVE, { s: spotId, at: nextWindow(), e: email }, headers);
  return {
    code: res.errors?.[0]?.extensions?.code,
    id: res.data?.reserve?.result?.reservation?.rowId as string | undefined,
    token: res.data?.reserve?.result?.manageToken,
  };
}

async function written() {
  const {
    rows: [w],
  } = await db.owner.query(`select (select count(*) from app_public.reservations)::int as reservations,
    (select count(*) from app_private.emails)::int as emails, (select count(*) from app_private.reservation_events)::int as events`);
  return w;
}

test('per email: a guest address gets 3 holds, the 4th is SMB12 and writes nothing; a cancelled one makes room', async () => {
  const held = [];
  for (let i = 0; i < 3; i += 1) held.push(await hold(api, 'Holder@Example.com'));
  assert.equal(
    held.map((h) => h.code),
    [undefined, undefined, undefined],
  );
  const before = await written();
  const fourth = await hold(api, 'holder@example.com');
  assert.is(fourth.code, 'SMB12', 'the same address in another case is the same address');
  assert.equal(await written(), before, 'no row, no email, no event');
  const cancel = await api.gql(
    'mutation ($id: BigInt!, $t: String) { cancelReservation(input: { reservationId: $id, manageToken: $t }) { result { reservation { status } } } }',
    { id: held[0].id, t: held[0].token },
  );
  assert.is(cancel.data.cancelReservation.result.reservation.status, 'cancelled');
  assert.is((await hold(api, 'holder@example.com')).code, undefined);
  // An expired hold does not count either (the sweep may not have marked it yet).
  await db.owner.query(
    `update app_public.reservations set hold_expires_at = now() - interval '1 second' where id = $1`,
    [held[1].id],
  );
  assert.is((await hold(api, 'holder@example.com')).code, undefined);
  assert.is((await hold(api, 'holder@example.com')).code, 'SMB12');
});

test('per signed-in driver: 3 holds, then SMB12; a confirmed reservation is no longer a hold', async () => {
  const driver = await createSignedInUser(db, proxied);
  const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'];
  const held = [];
  for (const ip of ips.slice(0, 3)) held.push(await hold(proxied, null, { ...driver.headers, 'x-forwarded-for': ip }));
  assert.equal(
    held.map((h) => h.code),
    [undefined, undefined, undefined],
  );
  assert.is(
    (await hold(proxied, null, { ...driver.headers, 'x-forwarded-for': ips[3] })).code,
    'SMB12',
    'from any address',
  );
  // A guest hold on the driver's own address counts against the same 3.
  assert.is((await hold(proxied, driver.email, { 'x-forwarded-for': ips[3] })).code, 'SMB12');
  await db.owner.query('select app_private.confirm_held_reservation($1)', [held[0].id]);
  assert.is((await hold(proxied, null, { ...driver.headers, 'x-forwarded-for': ips[3] })).code, undefined);
});

test('per client address: 10 holds from one address with ten emails, the 11th is SMB12; another (forwarded) address is not held back', async () => {
  const from = { 'x-forwarded-for': '203.0.113.50' };
  const codes = [];
  for (let i = 0; i < 11; i += 1) codes.push((await hold(proxied, `addr${i}@example.com`, from)).code);
  assert.equal(codes, [...Array(10).fill(undefined), 'SMB12']);
  assert.is((await hold(proxied, 'addr11@example.com', { 'x-forwarded-for': '203.0.113.51' })).code, undefined);
  const {
    rows: [o],
  } = await db.owner.query(
    `select count(*)::int as n from app_private.reservation_origins where client_ip = '203.0.113.50'`,
  );
  assert.is(o.n, 10, 'each accepted hold recorded where it came from, the refused one not');
});

test("a stranger's guest holds with a driver's email do not lock the signed-in driver out", async () => {
  const victim = await createSignedInUser(db, proxied);
  const stranger = { 'x-forwarded-for': '198.51.100.20' };
  const planted = [];
  for (let i = 0; i < 3; i += 1) planted.push((await hold(proxied, victim.email, stranger)).code);
  assert.equal(planted, [undefined, undefined, undefined]);
  assert.is((await hold(proxied, victim.email, stranger)).code, 'SMB12', 'the email is held for guests');
  // Signed in, only the driver's own holds count.
  const own = await hold(proxied, null, { ...victim.headers, 'x-forwarded-for': '198.51.100.21' });
  assert.is(own.code, undefined);
  // Signing in again claims the stranger's holds into the account; they still are not the driver's own.
  const again = await signIn(proxied, victim.email);
  const {
    rows: [{ claimed }],
  } = await db.owner.query(
    `select count(*)::int as claimed from app_public.reservations where user_id = $1 and status = 'held'`,
    [victim.id],
  );
  assert.is(claimed, 4, "the stranger's three holds and the driver's one");
  const more = [];
  for (let i = 0; i < 3; i += 1) {
    more.push((await hold(proxied, null, { ...again.headers, 'x-forwarded-for': '198.51.100.22' })).code);
  }
  assert.equal(more, [undefined, undefined, 'SMB12'], 'three of their own, then the limit');
});

test('an unverified account is counted by its email, as a guest: nobody proved the address is theirs', async () => {
  const unproved = await createSignedInUser(db, proxied, { verified: false });
  const stranger = { 'x-forwarded-for': '198.51.100.30' };
  for (let i = 0; i < 2; i += 1) assert.is((await hold(proxied, unproved.email, stranger)).code, undefined);
  const own = [];
  for (let i = 0; i < 2; i += 1) {
    own.push((await hold(proxied, null, { ...unproved.headers, 'x-forwarded-for': '198.51.100.31' })).code);
  }
  assert.equal(own, [undefined, 'SMB12']);
});

const CANCEL = `mutation ($id: BigInt!, $t: String) {
  cancelReservation(input: { reservationId: $id, manageToken: $t }) { result { reservation { status } } } }`;

test('per guest email and hour: 10 reservations even if each is cancelled at once (each mails the address), then SMB12', async () => {
  const from = { 'x-forwarded-for': '198.51.100.30' };
  const codes = [];
  for (let i = 0; i < 10; i += 1) {
    const h = await hold(proxied, 'mailbox@example.com', from);
    codes.push(h.code);
    if (h.id) await proxied.gql(CANCEL, { id: h.id, t: h.token }, from);
  }
  assert.equal(codes, Array(10).fill(undefined));
  const before = await written();
  const res = await proxied.gql(RESERVE, { s: spotId, at: nextWindow(), e: 'MAILBOX@example.com' }, from);
  assert.is(res.errors?.[0]?.extensions?.code, 'SMB12');
  assert.match(res.errors?.[0]?.message ?? '', /in the last hour/);
  assert.equal(await written(), before, 'no row, no email, no event');
  // Another email from the same address is not held back by it.
  assert.is((await hold(proxied, 'other.mailbox@example.com', from)).code, undefined);
});

test('concurrent holds for one email cannot slip past the limit together', async () => {
  const results = await Promise.all(Array.from({ length: 8 }, () => hold(api, 'racer@example.com')));
  assert.is(results.filter((r) => r.code === undefined).length, 3, JSON.stringify(results.map((r) => r.code)));
  assert.is(results.filter((r) => r.code === 'SMB12').length, 5);
});

test.run();
