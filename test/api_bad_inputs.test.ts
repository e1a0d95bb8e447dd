// Bad input over GraphQL for the operations no other file sends it to:
// updateUser, inviteStaff, blockSpot windows, unblockSpot, myReservation,
// quote, forgotPassword, revokeSession, resendVerificationEmail and
// confirmReservationPayment. Each answer carries its exact documented code,
// never a 5xx, and nothing is written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb, ANON, callAs } from './helpers/db.ts';
import { writtenState } from './helpers/written_state.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { browserConfirmsSetup, createReservation, startEmulator, stripeConfigFor } from './helpers/payments.ts';
import { hoursFromNow } from './helpers/reservations.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;
type User = Awaited<ReturnType<typeof createSignedInUser>>;
let driver: User;
let unverified: User;
let operator: User;
let admin: User;
let spotId: string;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  api = await startApi(db, { stripe: stripeConfigFor(emulator) });
  driver = await createSignedInUser(db, api, { name: 'Dana' });
  unverified = await createSignedInUser(db, api, { verified: false });
  operator = await createSignedInUser(db, api, { role: 'operator' });
  admin = await createSignedInUser(db, api, { role: 'admin' });
  spotId = await createSpot(db, {
    lat: 40.75,
    lng: -73.99,
    rateId: await createRate(db, { hourlyPrice: 400 }),
    maxStay: '4 hours',
  });
});

test.after(async () => {
  await api?.close();
  await emulator?.close();
  await db?.close();
});

type Case = [
  label: string,
  query: string,
  variables: Record<string, unknown>,
  who: () => Record<string, string>,
  code: string,
  /** What the message must say, where the code alone leaves it open. */
  message?: RegExp,
];

const anonymous = () => ({});
const asDriver = () => driver.headers;
const asOperator = () => operator.headers;
const asAdmin = () => admin.headers;
const at = (h: number) => hoursFromNow(h).toISOString();

const UPDATE_USER = `mutation ($id: BigInt!, $name: String) { updateUser(input: { rowId: $id, patch: { name: $name } }) { user { name } } }`;
const INVITE = `mutation ($e: String!, $n: String, $r: String!) { inviteStaff(input: { email: $e, name: $n, role: $r }) { result { rowId } } }`;
const BLOCK = `mutation ($s: BigInt!, $from: Datetime, $to: Datetime!) { blockSpot(input: { spotId: $s, startsAt: $from, endsAt: $to }) { result { rowId } } }`;
const UNBLOCK = `mutation ($id: BigInt!) { unblockSpot(input: { blockId: $id }) { result { rowId } } }`;
const MY = `query ($id: BigInt!) { myReservation(reservationId: $id) { rowId } }`;
const QUOTE = `query ($s: BigInt!, $from: Datetime, $to: Datetime) { quote(spotId: $s, startsAt: $from, endsAt: $to) { amount currency } }`;
const QUOTE_ANY = QUOTE.replace('$s: BigInt!', '$s: BigInt');
const FORGOT = `mutation ($e: String) { forgotPassword(input: { email: $e }) { result } }`;
const REVOKE = `mutation ($id: UUID!) { revokeSession(input: { sessionId: $id }) { result } }`;
const RESEND = `mutation { resendVerificationEmail(input: {}) { result } }`;
const CONFIRM = `mutation ($id: BigInt!, $t: String) { confirmReservationPayment(input: { reservationId: $id, manageToken: $t }) { reservationStatus } }`;
const SESSIONS = `query { mySessions { nodes { rowId } } }`;
const REMOVE_VEHICLE = `mutation ($id: BigInt!) { removeVehicle(input: { vehicleId: $id }) { result { plate } } }`;
const ZONES = `mutation ($id: BigInt!) { setOperatorZones(input: { userId: $id, boroughs: ["Bronx"] }) { result { borough } } }`;
const LOOKUP = `mutation ($s: BigInt) { enforcementLookup(input: { plate: "ABC123", spotId: $s }) { result { valid } } }`;
const REFUND = `mutation ($id: BigInt!) { refundReservation(input: { reservationId: $id }) { refundId } }`;
const RESERVE = `mutation ($s: BigInt!, $p: String, $st: String) { reserve(input: { spotId: $s, durationMinutes: 30, email: "plate@example.test", plate: $p, plateState: $st }) { result { reservation { rowId } } } }`;

test('each bad input: its documented code, no 5xx, nothing written', async () => {
  // Setup: rows for the refusals to point at.
  const other = await createSignedInUser(db, api);
  const [block] = await callAs(
    db,
    { role: 'app_operator', sessionId: operator.sessionId },
    'select (app_public.block_spot($1, $2, $3)).id::text as id',
    [spotId, hoursFromNow(50), hoursFromNow(51)],
  );
  const [lifted] = await callAs(
    db,
    { role: 'app_operator', sessionId: operator.sessionId },
    'select (app_public.block_spot($1, $2, $3)).id::text as id',
    [spotId, hoursFromNow(60), hoursFromNow(61)],
  );
  await callAs(db, { role: 'app_operator', sessionId: operator.sessionId }, 'select app_public.unblock_spot($1)', [
    lifted.id,
  ]);
  const held = await createReservation(db, { spotId, startsIn: 120 });
  // Their holds ran out before any card was set up; the second's set-up was started at Stripe.
  const expired = await createReservation(db, { spotId, startsIn: 240 });
  const expiredMidway = await createReservation(db, { spotId, startsIn: 300 });
  await api.gql(
    `mutation ($id: BigInt!, $t: String) { setupReservationPayment(input: { reservationId: $id, manageToken: $t }) { setupIntentId } }`,
    { id: expiredMidway.id, t: expiredMidway.manageToken },
  );
  await db.owner.query(
    `update app_public.reservations set status = 'expired', hold_expires_at = null where id = any($1)`,
    [[expired.id, expiredMidway.id]],
  );
  // A card set up at Stripe, then the reservation cancelled: there is nothing left to confirm.
  const cancelled = await createReservation(db, { spotId, startsIn: 600 });
  const setUp = await api.gql(
    `mutation ($id: BigInt!, $t: String) { setupReservationPayment(input: { reservationId: $id, manageToken: $t }) { setupIntentId } }`,
    { id: cancelled.id, t: cancelled.manageToken },
  );
  await browserConfirmsSetup(emulator, setUp.data.setupReservationPayment.setupIntentId, 'pm_card_visa');
  await callAs(db, ANON, 'select app_public.cancel_reservation($1, $2)', [cancelled.id, cancelled.manageToken]);
  const mine = await createReservation(db, {
    spotId,
    startsIn: 300,
    as: { role: 'app_user', sessionId: driver.sessionId },
  });

  const cases: Case[] = [
    // updateUser
    ['updateUser: name too long', UPDATE_USER, { id: driver.id, name: 'x'.repeat(101) }, asDriver, 'SMA05'],
    ['updateUser: name with a bidi override', UPDATE_USER, { id: driver.id, name: 'Dan\u202Ea' }, asDriver, 'SMA05'],
    ['updateUser: name null', UPDATE_USER, { id: driver.id, name: null }, asDriver, 'SMA05'],
    ['updateUser: NUL in the name', UPDATE_USER, { id: driver.id, name: 'Da\u0000na' }, asDriver, '22021'],
    ['updateUser: rowId not a number', UPDATE_USER, { id: 'abc', name: 'Dana' }, asDriver, '22P02'],
    ['updateUser: signed out', UPDATE_USER, { id: driver.id, name: 'Dana' }, anonymous, '42501'],
    [
      'updateUser: an empty patch',
      `mutation ($id: BigInt!) { updateUser(input: { rowId: $id, patch: {} }) { user { name } } }`,
      { id: driver.id },
      asDriver,
      '23502',
    ],
    [
      'removeVehicle: no id',
      REMOVE_VEHICLE.replace('$id: BigInt!', '$id: BigInt'),
      { id: null },
      asDriver,
      'SME03',
      /none given/,
    ],
    // inviteStaff
    ['inviteStaff: bad email', INVITE, { e: 'not-an-email', n: 'Op', r: 'operator' }, asAdmin, 'SMA03'],
    ['inviteStaff: look-alike email', INVITE, { e: 'оps@example.com', n: 'Op', r: 'operator' }, asAdmin, 'SMA03'],
    ['inviteStaff: unknown role', INVITE, { e: 'new.op@example.com', n: 'Op', r: 'superuser' }, asAdmin, 'SMA16'],
    [
      'inviteStaff: driver is not a staff role',
      INVITE,
      { e: 'new.op@example.com', n: 'Op', r: 'driver' },
      asAdmin,
      'SMA16',
    ],
    ['inviteStaff: taken email', INVITE, { e: driver.email, n: 'Op', r: 'operator' }, asAdmin, 'SMA06'],
    ['inviteStaff: invisible name', INVITE, { e: 'new.op@example.com', n: '\u3164', r: 'operator' }, asAdmin, 'SMA05'],
    [
      'inviteStaff: by an unverified admin',
      INVITE,
      { e: 'new.op@example.com', n: 'Op', r: 'operator' },
      () => ({ authorization: unverifiedAdminToken }),
      'SMA11',
    ],
    // blockSpot windows
    ['blockSpot: end before start', BLOCK, { s: spotId, from: at(10), to: at(9) }, asOperator, 'SMB03'],
    ['blockSpot: end equals start', BLOCK, { s: spotId, from: at(10), to: at(10) }, asOperator, 'SMB03'],
    [
      'blockSpot: end already passed',
      BLOCK,
      { s: spotId, from: null, to: new Date(Date.now() - 60e3).toISOString() },
      asOperator,
      'SMB03',
    ],
    ['blockSpot: longer than 366 days', BLOCK, { s: spotId, from: at(10), to: at(10 + 367 * 24) }, asOperator, 'SMB04'],
    // PostgreSQL's words for instants ('infinity', 'yesterday') are not ISO 8601: refused before SQL sees them.
    [
      'blockSpot: end at infinity',
      BLOCK,
      { s: spotId, from: at(10), to: 'infinity' },
      asOperator,
      'GRAPHQL_VALIDATION_FAILED',
    ],
    ['blockSpot: unknown spot', BLOCK, { s: '99999999', from: at(10), to: at(11) }, asOperator, 'SMB02'],
    ['blockSpot: over a reservation', BLOCK, { s: spotId, from: at(1), to: at(4) }, asOperator, 'SMB01'],
    [
      'blockSpot: over another block',
      BLOCK,
      { s: spotId, from: at(50), to: at(52) },
      asOperator,
      'SMB01',
      /already blocked/,
    ],
    ['blockSpot: by a driver', BLOCK, { s: spotId, from: at(10), to: at(11) }, asDriver, 'SMB10'],
    // unblockSpot
    ['unblockSpot: unknown id', UNBLOCK, { id: '99999999' }, asOperator, 'SMB06'],
    ['unblockSpot: already lifted', UNBLOCK, { id: lifted.id }, asOperator, 'SMB06'],
    ['unblockSpot: a reservation, not a block', UNBLOCK, { id: held.id }, asOperator, 'SMB06'],
    ['unblockSpot: by a driver', UNBLOCK, { id: block.id }, asDriver, 'SMB10'],
    ['unblockSpot: signed out', UNBLOCK, { id: block.id }, anonymous, 'SMB10'],
    // myReservation
    ['myReservation: unknown id', MY, { id: '99999999' }, asDriver, 'SMB06'],
    ['myReservation: someone else’s', MY, { id: mine.id }, () => other.headers, 'SMB06'],
    ['myReservation: signed out', MY, { id: mine.id }, anonymous, 'SMB11'],
    ['myReservation: negative id', MY, { id: '-1' }, asDriver, 'SMB06'],
    // quote over HTTP
    ['quote: unknown spot', QUOTE, { s: '99999999', from: at(1), to: at(2) }, anonymous, 'SMS04'],
    ['quote: no spot', QUOTE_ANY, { s: null, from: at(1), to: at(2) }, anonymous, 'SMS04', /Give the spot/],
    ['quote: no end', QUOTE, { s: spotId, from: at(1), to: null }, anonymous, 'SMS03'],
    ['quote: end before start', QUOTE, { s: spotId, from: at(2), to: at(1) }, anonymous, 'SMS03'],
    ['quote: longer than 7 days', QUOTE, { s: spotId, from: at(1), to: at(1 + 24 * 7 + 1) }, anonymous, 'SMS03'],
    [
      'quote: more than 90 days ahead',
      QUOTE,
      { s: spotId, from: at(24 * 91), to: at(24 * 91 + 1) },
      anonymous,
      'SMS03',
    ],
    ['quote: malformed date', QUOTE, { s: spotId, from: 'soon', to: at(2) }, anonymous, 'GRAPHQL_VALIDATION_FAILED'],
    ['quote: date out of range', QUOTE, { s: spotId, from: '2026-13-45T10:00:00Z', to: at(2) }, anonymous, '22008'],
    // forgotPassword
    ['forgotPassword: bad email', FORGOT, { e: 'nobody' }, anonymous, 'SMA03'],
    ['forgotPassword: no email', FORGOT, { e: null }, anonymous, 'SMA03'],
    ['forgotPassword: header injection', FORGOT, { e: 'a@example.com\r\nBcc: x@example.com' }, anonymous, 'SMA03'],
    // revokeSession
    ['revokeSession: not a UUID', REVOKE, { id: 'not-a-uuid' }, asDriver, 'GRAPHQL_VALIDATION_FAILED'],
    // Signed out, every own-account operation says "sign in first", as one code.
    ['revokeSession: signed out', REVOKE, { id: driver.sessionId }, anonymous, 'SMA08'],
    ['mySessions: signed out', SESSIONS, {}, anonymous, 'SMA08'],
    ['removeVehicle: signed out', REMOVE_VEHICLE, { id: '1' }, anonymous, 'SMA08'],
    // Unknown ids answer the code of their kind.
    ['setOperatorZones: unknown user', ZONES, { id: '99999999' }, asAdmin, 'SMA17'],
    ['setOperatorZones: a driver', ZONES, { id: driver.id }, asAdmin, 'SMO04'],
    ['enforcementLookup: unknown spot', LOOKUP, { s: '99999999' }, asAdmin, 'SMS04'],
    ['refundReservation: unknown reservation', REFUND, { id: '99999999' }, asOperator, 'SMB06'],
    [
      'refundReservation: nothing charged',
      REFUND,
      { id: held.id },
      asOperator,
      'SMP06',
      /USD minor units|no successful charge/,
    ],
    // A state alone names no vehicle.
    ['reserve: a plate state without a plate', RESERVE, { s: spotId, p: null, st: 'NY' }, anonymous, 'SME01'],
    // resendVerificationEmail
    ['resendVerificationEmail: signed out', RESEND, {}, anonymous, 'SMA08'],
    // confirmReservationPayment
    ['confirmReservationPayment: card never set up', CONFIRM, { id: held.id, t: held.manageToken }, anonymous, 'SMP03'],
    [
      'confirmReservationPayment: hold expired',
      CONFIRM,
      { id: expired.id, t: expired.manageToken },
      anonymous,
      'SMP02',
    ],

    [
      'confirmReservationPayment: unknown reservation',
      CONFIRM,
      { id: '99999999', t: held.manageToken },
      anonymous,
      'SMB06',
    ],
    ['confirmReservationPayment: no token', CONFIRM, { id: held.id, t: null }, anonymous, 'SMB06'],
    // The id left out answers as every reservation operation does (a nullable BigInt, as theirs).
    [
      'confirmReservationPayment: no id',
      CONFIRM.replace('$id: BigInt!', '$id: BigInt'),
      { id: null },
      anonymous,
      'SMB06',
    ],
    ['refundReservation: no id', REFUND.replace('$id: BigInt!', '$id: BigInt'), { id: null }, asOperator, 'SMB06'],
  ];
  const unverifiedAdmin = await createSignedInUser(db, api, { role: 'admin', verified: false });
  const unverifiedAdminToken = unverifiedAdmin.headers.authorization;

  const before = await writtenState(db, emulator);
  const wrong: string[] = [];
  for (const [label, query, variables, who, code, message] of cases) {
    const res = await api.gql(query, variables, who());
    const got = res.errors?.[0]?.extensions?.code;
    if (got !== code || res.status >= 500)
      wrong.push(`${label}: expected ${code}, got ${res.status} ${got ?? JSON.stringify(res.data)}`);
    else if (message && !message.test(res.errors?.[0]?.message ?? ''))
      wrong.push(`${label}: message ${res.errors?.[0]?.message}`);
  }
  assert.equal(wrong, []);
  assert.equal(await writtenState(db, emulator), before, 'nothing written by any of them');
  // A set-up started before the hold ran out: Stripe is asked (and its answer recorded), then SMP02, not
  // SMP03's "not finished", which would send the driver to finish it.
  const midway = await api.gql(CONFIRM, { id: expiredMidway.id, t: expiredMidway.manageToken });
  assert.is(midway.errors?.[0]?.extensions?.code, 'SMP02');
  // Confirming a cancelled reservation whose card was set up is no error, and no confirmation: it stays cancelled.
  assert.equal((await api.gql(CONFIRM, { id: cancelled.id, t: cancelled.manageToken })).data, {
    confirmReservationPayment: { reservationStatus: 'cancelled' },
  });
  const {
    rows: [c],
  } = await db.owner.query('select status::text from app_public.reservations where id = $1', [cancelled.id]);
  assert.is(c.status, 'cancelled');
});

test('answers that are not errors: revokeSession of no session is null; resend when verified is false; forgotPassword of an unknown address is true and sends nothing', async () => {
  const before = await writtenState(db, emulator);
  assert.equal((await api.gql(REVOKE, { id: '00000000-0000-0000-0000-000000000000' }, driver.headers)).data, {
    revokeSession: { result: null },
  });
  assert.equal((await api.gql(RESEND, {}, driver.headers)).data, { resendVerificationEmail: { result: false } });
  assert.equal((await api.gql(FORGOT, { e: 'no.such.person@example.com' })).data, { forgotPassword: { result: true } });
  assert.equal(await writtenState(db, emulator), before);
  // The control: an unverified user's resend does send.
  assert.equal((await api.gql(RESEND, {}, unverified.headers)).data, { resendVerificationEmail: { result: true } });
});

test.run();
