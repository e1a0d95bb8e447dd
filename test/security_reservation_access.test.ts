// Issue 9.1: every operation on one reservation (read, change end, end, cancel,
// card set-up, confirm, refund), tried over HTTP by every caller who has no
// right to it (anonymous, anonymous with another reservation's real manage
// token, another driver, an analyst) against a signed-in driver's
// reservation, a guest's and an operator's block: each answers its documented
// refusal and nothing is written — not in the database, not at Stripe.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, createUser, identityOf, type TestDb, ANON, callAs } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { browserConfirmsSetup, dbAs, startEmulator, stripeConfigFor } from './helpers/payments.ts';
import { hoursFromNow, reserve, writeCounts } from './helpers/reservations.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { paymentOperations } from '../server/plugins/payments.ts';
import { stripeClient } from '../lib/stripe_client.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  api = await startApi(db, { stripe: stripeConfigFor(emulator) });
  // No webhooks: a card set up at Stripe stays unconfirmed until someone calls
  // confirmReservationPayment, which is what an attacker would call.
  emulator.setWebhook(null);
});

test.after(async () => {
  await api?.close();
  await emulator?.close();
  await db?.close();
});

const READ = `query ($id: BigInt, $manageToken: String) { guestReservation(reservationId: $id, manageToken: $manageToken) { rowId } }`;
const CHANGE = `mutation ($id: BigInt, $endsAt: Datetime, $manageToken: String) {
  changeReservationEnd(input: { reservationId: $id, endsAt: $endsAt, manageToken: $manageToken }) { result { reservation { rowId } } } }`;
const END = `mutation ($id: BigInt, $manageToken: String) {
  endReservation(input: { reservationId: $id, manageToken: $manageToken }) { result { reservation { rowId } } } }`;
const CANCEL = `mutation ($id: BigInt, $manageToken: String) {
  cancelReservation(input: { reservationId: $id, manageToken: $manageToken }) { result { reservation { rowId } } } }`;
const SETUP = `mutation ($id: BigInt!, $manageToken: String) {
  setupReservationPayment(input: { reservationId: $id, manageToken: $manageToken }) { clientSecret } }`;
const CONFIRM = `mutation ($id: BigInt!, $manageToken: String) {
  confirmReservationPayment(input: { reservationId: $id, manageToken: $manageToken }) { reservationStatus } }`;
const REFUND = `mutation ($id: BigInt!) { refundReservation(input: { reservationId: $id }) { refundId } }`;

/** One kind of row, in the states the operations need: upcoming (with a card set up at Stripe, unconfirmed), started, charged. */
interface Target {
  upcoming: string;
  started: string;
  charged: string;
}

/** Everything a refused operation must leave alone: booking's rows, payment rows, Stripe's objects. */
async function everything(): Promise<unknown> {
  const {
    rows: [payments],
  } = await db.owner.query(`select
    (select count(*) from app_private.stripe_customers)::int as customers,
    (select coalesce(sum(hashtext(si::text)), 0) from app_private.setup_intents si)::bigint::text as setup_intents,
    (select count(*) from app_private.charges)::int as charges,
    (select count(*) from app_private.refunds)::int as refunds`);
  const { requests, customers, setup_intents, payment_intents, refunds } = emulator.state();
  return {
    booking: await writeCounts(db),
    payments,
    stripe: { requests, customers, setup_intents, payment_intents, refunds },
  };
}

async function charge(id: string): Promise<void> {
  await db.owner.query(
    `update app_public.reservations set status = 'completed', hold_expires_at = null where id = $1`,
    [id],
  );
  await db.owner.query(
    `insert into app_private.charges (reservation_id, amount, currency, idempotency_key, stripe_payment_intent_id, status, succeeded_at)
     values ($1::bigint, 500, 'USD', 'test-charge-' || $1::text, 'pi_test_' || $1::text, 'succeeded', now())`,
    [id],
  );
}

test('no operation on a reservation or block is allowed to a caller without a right to it, and none writes anything', async () => {
  // Setup: a driver's, a guest's and an operator's rows; callers with no right to them.
  const rate = await createRate(db, { hourlyPrice: 300 });
  let spots = 0;
  const spot = () => createSpot(db, { lat: 40.73 + (spots += 1) * 0.001, lng: -73.99, rateId: rate });
  const driver = await createUser(db);
  const operator = await createUser(db, { role: 'operator' });
  const stripe = stripeClient(stripeConfigFor(emulator));

  const driverDb = dbAs(db, identityOf(driver));
  const asDriver = async (a: { startsAt?: Date; durationMinutes: number }) =>
    (await reserve(db, identityOf(driver), { spotId: await spot(), ...a })).id;
  const driverRow: Target = {
    upcoming: await asDriver({ startsAt: hoursFromNow(2), durationMinutes: 60 }),
    started: await asDriver({ durationMinutes: 60 }),
    charged: await asDriver({ durationMinutes: 60 }),
  };
  const setUp = await paymentOperations.setupReservationPayment(stripe, driverDb, driverRow.upcoming, null);
  await browserConfirmsSetup(emulator, setUp.setupIntentId!, 'pm_card_visa');
  await charge(driverRow.charged);

  const guestReserve = async (a: { startsAt?: Date; durationMinutes: number }) =>
    reserve(db, ANON, { spotId: await spot(), email: 'guest@example.test', ...a });
  const guestUpcoming = await guestReserve({ startsAt: hoursFromNow(2), durationMinutes: 60 });
  const guestRow: Target = {
    upcoming: guestUpcoming.id,
    started: (await guestReserve({ durationMinutes: 60 })).id,
    charged: (await guestReserve({ durationMinutes: 60 })).id,
  };
  const guestSetUp = await paymentOperations.setupReservationPayment(
    stripe,
    dbAs(db, ANON),
    guestRow.upcoming,
    guestUpcoming.manage_token,
  );
  await browserConfirmsSetup(emulator, guestSetUp.setupIntentId!, 'pm_card_visa');
  await charge(guestRow.charged);

  const block = async (from: number, to: number) =>
    (
      await callAs(db, identityOf(operator), 'select (app_public.block_spot($1, $2, $3)).id::text as id', [
        await spot(),
        hoursFromNow(from),
        hoursFromNow(to),
      ])
    )[0].id as string;
  const blockRow: Target = { upcoming: await block(2, 3), started: await block(0, 1), charged: await block(0, 1) };

  // Someone else's real token: a guest reservation of the attacker's own.
  const attackerToken = (
    await reserve(db, ANON, {
      spotId: await spot(),
      startsAt: hoursFromNow(5),
      durationMinutes: 30,
      email: 'attacker@example.test',
    })
  ).manage_token!;
  const otherDriver = await createSignedInUser(db, api);
  const analyst = await createSignedInUser(db, api, { role: 'analyst' });
  const callers: Record<string, { headers: Record<string, string>; manageToken: string | null }> = {
    anonymous: { headers: {}, manageToken: null },
    'anonymous with another reservation’s token': { headers: {}, manageToken: attackerToken },
    'another driver': { headers: otherDriver.headers, manageToken: null },
    analyst: { headers: analyst.headers, manageToken: null },
  };
  const operations: Record<string, [string, (t: Target) => Record<string, unknown>, string]> = {
    read: [READ, (t) => ({ id: t.upcoming }), 'SMB06'],
    'change end': [CHANGE, (t) => ({ id: t.upcoming, endsAt: hoursFromNow(4).toISOString() }), 'SMB06'],
    end: [END, (t) => ({ id: t.started }), 'SMB06'],
    cancel: [CANCEL, (t) => ({ id: t.upcoming }), 'SMB06'],
    'card set-up': [SETUP, (t) => ({ id: t.upcoming }), 'SMB06'],
    confirm: [CONFIRM, (t) => ({ id: t.upcoming }), 'SMB06'],
    refund: [REFUND, (t) => ({ id: t.charged }), 'SMP05'],
  };
  const targets: Record<string, Target> = {
    'a driver’s reservation': driverRow,
    'a guest’s reservation': guestRow,
    'a block': blockRow,
  };
  const before = await everything();

  // Action: 7 operations × 4 callers × 3 rows.
  const wrong: string[] = [];
  let tried = 0;
  for (const [opName, [query, args, code]] of Object.entries(operations)) {
    for (const [callerName, caller] of Object.entries(callers)) {
      for (const [targetName, target] of Object.entries(targets)) {
        const res = await api.gql(query, { ...args(target), manageToken: caller.manageToken }, caller.headers);
        tried += 1;
        const got = res.errors?.[0]?.extensions?.code;
        if (got !== code || res.status >= 500)
          wrong.push(`${opName} by ${callerName} on ${targetName}: ${res.status} ${got ?? JSON.stringify(res.data)}`);
      }
    }
  }

  // Assertions
  assert.is(tried, 84);
  assert.equal(wrong, []);
  assert.equal(await everything(), before);
  const { rows } = await db.owner.query(
    `select status::text from app_public.reservations where id = any($1::bigint[]) order by id`,
    [[driverRow.upcoming, guestRow.upcoming]],
  );
  assert.equal(
    rows.map((r) => r.status),
    ['held', 'held'],
    'set up at Stripe but never confirmed by an outsider',
  );

  // Control: the rightful callers get through the same operations.
  const owner = await createSignedInUser(db, api);
  const mine = (
    await reserve(db, identityOf(owner), { spotId: await spot(), startsAt: hoursFromNow(2), durationMinutes: 60 })
  ).id;
  assert.equal((await api.gql(SETUP, { id: mine }, owner.headers)).errors, undefined);
  assert.equal(
    (await api.gql(CONFIRM, { id: guestRow.upcoming, manageToken: guestUpcoming.manage_token })).data
      ?.confirmReservationPayment.reservationStatus,
    'confirmed',
  );
  assert.equal((await api.gql(CANCEL, { id: mine }, owner.headers)).errors, undefined);
});

test.run();
