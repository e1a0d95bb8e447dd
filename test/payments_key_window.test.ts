// Stripe's 24-hour idempotency window (issue 17, item 4). Stripe forgets an
// idempotency key 24 hours after first seeing it; a charge whose answer was
// lost and that is re-sent after that would be charged twice. The worker
// looks the PaymentIntent up first and adopts it. Tested with the emulator's
// clock moved 25 hours ahead (its key store forgets the key) and the charge
// row's first send moved 25 hours back (the database's view of the same time).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Stripe from 'stripe';
import { createTestDb, type TestDb } from './helpers/db.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import {
  completeAtEnd,
  confirmedReservation,
  startTestWorker,
  waitFor,
  type TestWorker,
  startPaymentWorld,
  type PaymentWorld,
} from './helpers/payments.ts';

const DAY_AND_HOUR = 25 * 3600;

let db: TestDb;
let emulator: StripeEmulator;
let ctx: PaymentWorld;
let worker: TestWorker | undefined;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  // The SDK's own retries off: the job's retry is the re-send under test.
  ctx = await startPaymentWorld(db, { STRIPE_MAX_NETWORK_RETRIES: '0', STRIPE_TIMEOUT_MS: '700' });
  ({ emulator } = ctx);
});

test.after(async () => {
  await worker?.stop();
  await ctx?.close();
  await db?.close();
});

const chargeRow = async (id: string) =>
  (await db.owner.query('select * from app_private.charges where reservation_id = $1', [id])).rows[0];
const intentsOf = (id: string) => emulator.store.paymentIntents.all.filter((pi) => pi.metadata?.reservation_id === id);
const chargesOf = (id: string) =>
  emulator.store.charges.all.filter((ch) => intentsOf(id).some((pi) => pi.id === ch.payment_intent));
const advanceEmulatorClock = async (seconds: number) =>
  (
    await fetch(`${emulator.url}/_emulator/clock`, {
      method: 'POST',
      body: JSON.stringify({ advance_seconds: seconds }),
    })
  ).json();

/**
 * The first attempt fails with `mode` (the worker running), then the worker is
 * stopped, 25 hours pass for Stripe and for the charge row, and the job is
 * run again by a new worker; resolves with the charge row once it settled.
 */
async function chargeRetriedAfterADay(id: string, mode: 'error_before' | 'error_after' | 'timeout') {
  emulator.addFault({ method: 'POST', path: '/v1/payment_intents', mode, count: 1 });
  worker = await startTestWorker(db);
  await completeAtEnd(db, id);
  await waitFor(
    async () =>
      (
        await db.owner.query(
          `select 1 from graphile_worker.jobs where key = $1 and attempts = 1 and last_error is not null`,
          [`reservation_charge:${id}`],
        )
      ).rowCount,
    15_000,
    'first attempt failed',
  );
  await worker.stop();
  worker = undefined;
  const first = await chargeRow(id);
  assert.equal([first.status, first.attempt], ['pending', 1], 'the lost answer left the charge pending');
  assert.ok(first.key_first_sent_at, 'the first send is recorded before the call');

  await advanceEmulatorClock(DAY_AND_HOUR);
  await db.owner.query(
    `update app_private.charges set key_first_sent_at = key_first_sent_at - make_interval(secs => $2)
    where reservation_id = $1`,
    [id, DAY_AND_HOUR],
  );
  await db.owner.query(`update graphile_worker._private_jobs set run_at = now() where key = $1`, [
    `reservation_charge:${id}`,
  ]);
  worker = await startTestWorker(db);
  const settled = await waitFor(
    async () => {
      const c = await chargeRow(id);
      return c.status !== 'pending' ? c : null;
    },
    15_000,
    'charge settled',
  );
  await worker.stop();
  worker = undefined;
  return settled;
}

test('the emulator forgets an idempotency key after 24 hours: the same request then makes a second PaymentIntent', async () => {
  const stripe = new Stripe('sk_test_payments', { ...emulator.stripeConfig, maxNetworkRetries: 0 });
  const params = { amount: 700, currency: 'usd', metadata: { probe: 'key-window' } };
  const a = await stripe.paymentIntents.create(params, { idempotencyKey: 'probe-key-window' });
  const replay = await stripe.paymentIntents.create(params, { idempotencyKey: 'probe-key-window' });
  assert.is(replay.id, a.id, 'within the window the key replays');
  const clock = await advanceEmulatorClock(DAY_AND_HOUR);
  assert.ok(clock.offset_seconds >= DAY_AND_HOUR);
  const after = await stripe.paymentIntents.create(params, { idempotencyKey: 'probe-key-window' });
  assert.is.not(after.id, a.id, 'after 24 hours the key is forgotten');
  assert.ok(after.created >= a.created + DAY_AND_HOUR, 'created follows the emulator clock');
});

test('search by metadata and customer finds the PaymentIntent; an unsupported clause is refused', async () => {
  const stripe = new Stripe('sk_test_payments', { ...emulator.stripeConfig, maxNetworkRetries: 0 });
  const mine = await stripe.paymentIntents.create({
    amount: 900,
    currency: 'usd',
    metadata: { reservation_id: 'search-1', charge_attempt: '2' },
  });
  await stripe.paymentIntents.create({
    amount: 900,
    currency: 'usd',
    metadata: { reservation_id: 'search-1', charge_attempt: '1' },
  });
  const found = await stripe.paymentIntents.search({
    query: `metadata['reservation_id']:'search-1' AND metadata['charge_attempt']:'2'`,
  });
  assert.equal(
    found.data.map((pi) => pi.id),
    [mine.id],
  );
  assert.equal(
    (await stripe.paymentIntents.search({ query: `metadata['reservation_id']:'search-1' AND amount:900` })).data.length,
    2,
  );
  assert.equal(
    (await stripe.paymentIntents.search({ query: `metadata['reservation_id']:'search-1' AND customer:'cus_none'` }))
      .data.length,
    0,
  );
  const refused = await stripe.paymentIntents
    .search({ query: `metadata['reservation_id']:'search-1' OR amount:900` })
    .catch((e) => e);
  assert.instance(refused, Stripe.errors.StripeInvalidRequestError);
});

test('answer lost (500 after charging), re-sent a day later: the existing PaymentIntent is adopted, one charge of the quoted amount', async () => {
  const id = await confirmedReservation(ctx, 'pm_card_visa', 1450);
  const c = await chargeRetriedAfterADay(id, 'error_after');
  const intents = intentsOf(id);
  assert.equal(intents.length, 1, 'no second PaymentIntent');
  assert.equal(
    chargesOf(id).map((ch) => [ch.status, ch.amount]),
    [['succeeded', 1450]],
  );
  assert.equal([c.status, c.attempt, c.stripe_payment_intent_id], ['succeeded', 1, intents[0].id]);
  await waitFor(
    async () =>
      (
        await db.owner.query(
          `select 1 from app_private.emails where template = 'receipt' and data->>'reservationId' = $1`,
          [id],
        )
      ).rowCount,
    5000,
    'receipt queued',
  );
});

test('answer lost by a timeout, re-sent a day later: adopted, one charge', async () => {
  const id = await confirmedReservation(ctx, 'pm_card_visa', 1550);
  const c = await chargeRetriedAfterADay(id, 'timeout');
  assert.equal(intentsOf(id).length, 1);
  assert.equal(
    chargesOf(id).map((ch) => [ch.status, ch.amount]),
    [['succeeded', 1550]],
  );
  assert.equal(c.status, 'succeeded');
});

test('nothing was made (500 before charging), re-sent a day later: the search finds nothing and the charge is sent once', async () => {
  const id = await confirmedReservation(ctx, 'pm_card_visa', 1650);
  const c = await chargeRetriedAfterADay(id, 'error_before');
  assert.equal(intentsOf(id).length, 1);
  assert.equal(
    chargesOf(id).map((ch) => [ch.status, ch.amount]),
    [['succeeded', 1650]],
  );
  assert.equal(c.status, 'succeeded');
});

test('a declined charge whose answer was lost is adopted as a decline a day later, not charged again with the same attempt', async () => {
  const id = await confirmedReservation(ctx, 'pm_card_chargeCustomerFail', 1750);
  const c = await chargeRetriedAfterADay(id, 'error_after');
  assert.equal(intentsOf(id).length, 1, 'the declined PaymentIntent was adopted, not made again');
  assert.equal([c.status, c.attempt, c.failure_code], ['failed', 1, 'card_declined']);
  const reservation = (await db.owner.query('select status::text from app_public.reservations where id = $1', [id]))
    .rows[0];
  assert.is(reservation.status, 'payment_failed');
});

test.run();
