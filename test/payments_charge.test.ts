// The final charge (tasks/reservation__charge.ts) with the real SDK against
// the emulator and a real SMTP listener: hold → set-up → end → charge →
// receipt; declines, authentication_required and the retry schedule; Stripe
// failing (500 before/after doing it, timing out) → same key, one charge; a
// reservation changed twice → one charge of the final amount.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type Stripe from 'stripe';
import { createTestDb, createUser, identityOf, type TestDb, ANON, callAs } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import type { SmtpSink } from './helpers/smtp_sink.ts';
import {
  browserConfirmsSetup,
  completeAtEnd,
  confirmedReservation as confirmedCard,
  createReservation,
  dbAs,
  startTestWorker,
  useEmulatorInEnv,
  waitFor,
  type TestWorker,
  startPaymentWorld,
  type PaymentWorld,
} from './helpers/payments.ts';
import { paymentOperations, type Db } from '../server/plugins/payments.ts';

let db: TestDb;
let world: PaymentWorld;
let emulator: StripeEmulator;
let smtp: SmtpSink;
let worker: TestWorker;
let staffDb: Db;
let stripe: Stripe;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  world = await startPaymentWorld(db);
  ({ emulator, smtp, staffDb, stripe } = world);
  worker = await startTestWorker(db);
});

test.after(async () => {
  await worker?.stop();
  await world?.close();
  await db?.close();
});

/** A guest's hour started now, its card confirmed (test/helpers/payments.ts). */
const confirmedReservation = (card: string, hourlyPrice = 1250, currency = 'USD', spotId?: string) =>
  confirmedCard({ db, emulator, stripe, staffDb }, card, hourlyPrice, { currency, spotId });

/** The reservation's time is up: booking completes it at the quoted amount and queues its charge. */
const complete = (id: string) => completeAtEnd(db, id);

const charge = async (id: string) =>
  (await db.owner.query('select * from app_private.charges where reservation_id = $1', [id])).rows[0];
const reservationStatus = async (id: string) =>
  (await db.owner.query('select status::text from app_public.reservations where id = $1', [id])).rows[0]
    .status as string;
const intentsOf = (id: string) => emulator.store.paymentIntents.all.filter((pi) => pi.metadata?.reservation_id === id);
/** Emails of a reservation that reached the SMTP listener (matched by the outbox id header). */
const emailIds = new Map<string, string>();
async function refreshEmailIds() {
  const { rows } = await db.owner.query(
    `select id::text, template || ':' || (data->>'reservationId') as k from app_private.emails`,
  );
  for (const r of rows) emailIds.set(r.id, r.k);
}
const mailsOf = (id: string, template: string) =>
  smtp.messages.filter((m) => m.emailId && emailIds.get(m.emailId) === `${template}:${id}`);
const chargeJob = async (id: string) =>
  (
    await db.owner.query(`select run_at, attempts, last_error from graphile_worker.jobs where key = $1`, [
      `reservation_charge:${id}`,
    ])
  ).rows[0];

async function settled(id: string, statuses = ['succeeded', 'failed', 'not_required']) {
  return waitFor(
    async () => {
      const c = await charge(id);
      return c && statuses.includes(c.status) && !(await chargeJob(id))?.attempts ? c : null;
    },
    20_000,
    `charge of ${id} settled`,
  );
}

/** After a decline: the driver gives a working card on the set-up asked for, and the charge retried at once succeeds. */
async function paysWithNewCard(id: string, setupIntentId: string) {
  await browserConfirmsSetup(emulator, setupIntentId, 'pm_card_visa');
  await paymentOperations.confirmReservationPayment(stripe, staffDb, id, null);
  return waitFor(
    async () => {
      const x = await charge(id);
      return x.status === 'succeeded' ? x : null;
    },
    15_000,
    'paid with the new card',
  );
}

test('happy path: hold → card set up → end → one off-session charge → receipt email', async () => {
  const id = await confirmedReservation('pm_card_visa', 1250);
  await complete(id);
  const c = await settled(id);

  assert.equal([c.status, c.amount, c.attempt], ['succeeded', 1250, 1]);
  assert.match(c.idempotency_key, new RegExp(`^smp-res-${id}-\\d+-charge-1$`));
  const intents = intentsOf(id);
  assert.equal(intents.length, 1);
  assert.equal(
    [intents[0].status, intents[0].amount, intents[0].currency, intents[0].id],
    ['succeeded', 1250, 'usd', c.stripe_payment_intent_id],
  );
  assert.equal(await reservationStatus(id), 'completed');
  await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'receipt').length === 1), 10_000, 'receipt');
  assert.match(mailsOf(id, 'receipt')[0].decoded, /\$12\.50/);
});

test('end to end with booking: a guest reserves, sets up a card, ends early → charged the used time, receipt', async () => {
  // Setup: a spot at 6.00/h with a 3.00 minimum; the guest reserves it from now for an hour.
  const rate = await createRate(db, { hourlyPrice: 600, minimumCharge: 300 });
  const spot = await createSpot(db, { lat: 40.71, lng: -74.0, rateId: rate, street: 'Greenwich St' });
  const [{ id, token }] = await callAs<{ id: string; token: string }>(
    db,
    ANON,
    `select (x.reservation).id::text as id, x.manage_token as token
     from app_public.reserve($1, null, null, 60, 'e2e.guest@example.test') x`,
    [spot],
  );
  assert.equal(await reservationStatus(id), 'held');

  // The guest sets up a card (as the SPA: setupReservationPayment with the token, Stripe.js, confirm).
  const guestDb = dbAs(db, ANON);
  const p = await paymentOperations.setupReservationPayment(stripe, guestDb, id, token);
  await browserConfirmsSetup(emulator, p.setupIntentId!, 'pm_card_visa');
  assert.equal(
    (await paymentOperations.confirmReservationPayment(stripe, guestDb, id, token)).reservationStatus,
    'confirmed',
  );

  // The guest ends it early: booking completes it at the used time and queues the charge.
  await callAs(db, ANON, 'select app_public.end_reservation($1, $2)', [id, token]);
  const c = await settled(id);
  assert.equal([c.status, c.amount], ['succeeded', 300], 'a few seconds used: the minimum charge');
  assert.equal(
    intentsOf(id).map((pi) => [pi.amount, pi.status]),
    [[300, 'succeeded']],
  );
  await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'receipt').length === 1), 10_000, 'receipt');
  for (const template of ['reservation_held', 'reservation_confirmed', 'reservation_ended']) {
    await waitFor(async () => (await refreshEmailIds(), mailsOf(id, template).length === 1), 10_000, template);
  }
  assert.match(mailsOf(id, 'receipt')[0].decoded, /Greenwich St/);
});

test('declined card → payment_failed, an email with a pay link, a retry in 1 day; meanwhile that card confirms nothing new (SMP10), even after a new set-up is asked for; a new card charges at once', async () => {
  const id = await confirmedReservation('pm_card_chargeCustomerFail', 900);
  const operator = identityOf(await createUser(db, { role: 'operator' }));
  // Confirmed on the same card before its decline: it may not grow meanwhile.
  const stretched = await confirmedReservation('pm_card_chargeCustomerFail', 900);
  await complete(id);
  const c = await settled(id);

  assert.equal([c.status, c.failure_code, c.attempt], ['failed', 'card_declined', 1]);
  assert.equal(await reservationStatus(id), 'payment_failed');
  const retry = await chargeJob(id);
  // Measured from when the decline was recorded, not from the test's clock.
  const hours = (new Date(retry.run_at).getTime() - new Date(c.updated_at).getTime()) / 3600e3;
  assert.ok(Math.abs(hours - 24) < 0.001, `retry in ${hours} h`);
  await waitFor(
    async () => (await refreshEmailIds(), mailsOf(id, 'payment_failed').length === 1),
    10_000,
    'payment_failed email',
  );
  assert.match(
    mailsOf(id, 'payment_failed')[0].decoded,
    new RegExp(`https://app\\.example\\.test/reservations/${id}/pay`),
  );

  // Unpaid, the same card confirms no other reservation, whoever books it: SMP10, left held.
  const other = await createReservation(db, { hourlyPrice: 900 });
  const po = await paymentOperations.setupReservationPayment(stripe, staffDb, other.id, null);
  await browserConfirmsSetup(emulator, po.setupIntentId!, 'pm_card_chargeCustomerFail');
  const refused = await paymentOperations
    .confirmReservationPayment(stripe, staffDb, other.id, null)
    .catch((err: { code?: string }) => err);
  assert.is((refused as { code?: string }).code, 'SMP10');
  assert.is(await reservationStatus(other.id), 'held');
  // Nor does a reservation the card backed before the decline get longer (SMB13); shorter it may.
  const endOf = async (r: string) =>
    (await db.owner.query('select upper(period) as e from app_public.reservations where id = $1', [r])).rows[0]
      .e as Date;
  const stretchedEnd = await endOf(stretched);
  const changeEnd = (minutes: number) =>
    callAs(db, operator, 'select (app_public.change_reservation_end($1, $2)).reservation', [
      stretched,
      new Date(stretchedEnd.getTime() + minutes * 60e3),
    ]).catch((err: { code?: string; message?: string }) => err);
  const longer = (await changeEnd(30)) as { code?: string; message?: string };
  assert.is(longer.code, 'SMB13');
  assert.not.match(longer.message ?? '', '#', "the card's debt may be someone else's reservation: no number");
  const quoted = await callAs(db, operator, 'select app_public.reservation_end_quote($1, $2)', [
    stretched,
    new Date(stretchedEnd.getTime() + 30 * 60e3),
  ]).catch((err: { code?: string }) => err);
  assert.is((quoted as { code?: string }).code, 'SMB13', 'the quote refuses what the change would');
  assert.equal(await endOf(stretched), stretchedEnd, 'the end did not move');
  assert.not.ok('code' in ((await changeEnd(-10)) as object), 'shortening stays open');

  // Asking for a new set-up on the unpaid one pays nothing: the declined card stays barred.
  const p = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
  const refusedAgain = await paymentOperations
    .confirmReservationPayment(stripe, staffDb, other.id, null)
    .catch((err: { code?: string }) => err);
  assert.is((refusedAgain as { code?: string }).code, 'SMP10', 'a set-up asked for but not given frees no card');
  assert.is(await reservationStatus(other.id), 'held');

  // The driver gives another card: the charge is retried at once with a new key.
  const paid = await paysWithNewCard(id, p.setupIntentId!);
  assert.equal(paid.attempt, 2);
  assert.ok(
    paid.key_first_sent_at > c.key_first_sent_at,
    "the new attempt's key records its own first use (what a re-send after 23 hours reads)",
  );
  assert.equal(await reservationStatus(id), 'completed');
  assert.equal(
    intentsOf(id)
      .map((pi) => pi.status)
      .sort(),
    ['requires_payment_method', 'succeeded'],
  );
  await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'receipt').length === 1), 10_000, 'receipt');
  // Paid: the hold it left is confirmed with it now, as a new reservation is; and it may stretch one.
  await paymentOperations.confirmReservationPayment(stripe, staffDb, other.id, null);
  assert.is(await reservationStatus(other.id), 'confirmed');
  assert.is(await reservationStatus(await confirmedReservation('pm_card_chargeCustomerFail', 900)), 'confirmed');
  assert.not.ok('code' in ((await changeEnd(20)) as object), 'extending works again once paid');
});

test('a charge job that used up its attempts (Stripe unreachable for hours) runs again from the sweep, and charges once', async () => {
  const id = await confirmedReservation('pm_card_visa', 900);
  // Its stay is over and its job gave up: completed by hand (the sweep would queue a job of its
  // own), with a job as graphile-worker leaves one after its last failed attempt.
  await db.owner.query(
    `update app_public.reservations set status = 'completed', period = tstzrange(lower(period), now()) where id = $1`,
    [id],
  );
  const {
    rows: [job],
  } = await db.owner.query(
    `select id from graphile_worker.add_job('reservation__charge', json_build_array(json_build_object('reservationId', $1::bigint)),
       run_at => now() + interval '1 day', max_attempts => 10)`,
    [id],
  );
  await db.owner.query(
    `update graphile_worker._private_jobs set attempts = max_attempts, last_error = 'connection to Stripe failed' where id = $1`,
    [job.id],
  );
  assert.is(await charge(id), undefined, 'nothing charged yet');
  await db.owner.query(`delete from app_private.rate_limits where bucket = 'charges_requeue'`);
  const paid = await waitFor(
    async () => {
      const c = await charge(id);
      return c?.status === 'succeeded' ? c : null;
    },
    15_000,
    'charged after the sweep queued it again',
  );
  assert.is(paid.amount, 900);
  assert.equal(
    intentsOf(id).map((pi) => pi.status),
    ['succeeded'],
  );
  // The next sweeps within 10 minutes do not look again.
  const {
    rows: [{ n }],
  } = await db.owner.query(`select app_private.charges_requeue_exhausted() as n`);
  assert.is(n, 0);
});

/** The decline's retry falls due now (time passes). */
async function retryNow(id: string) {
  await db.owner.query('update app_private.charges set next_retry_at = now() where reservation_id = $1', [id]);
  await db.owner.query(
    `select graphile_worker.reschedule_jobs(array[(select id from graphile_worker.jobs where key = $1)], run_at => now())`,
    [`reservation_charge:${id}`],
  );
}

test('a new set-up asked for after a decline (the pay page opening) leaves the retries charging the card on file', async () => {
  const id = await confirmedReservation('pm_card_chargeCustomerFail', 700);
  await complete(id);
  await settled(id);
  const [declined] = intentsOf(id);
  // The driver opens the pay link and leaves without giving a card.
  const asked = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
  assert.is(asked.setupIntentStatus, 'requires_payment_method');
  await retryNow(id);
  const retried = await waitFor(
    async () => {
      const x = await charge(id);
      return x.attempt === 2 && x.status === 'failed' ? x : null;
    },
    15_000,
    'the retry',
  );
  assert.is(retried.failure_code, 'card_declined', 'the retry reached Stripe with a card, not no_payment_method');
  const intents = intentsOf(id);
  assert.is(intents.length, 2);
  assert.equal(
    intents.map((pi) => [pi.customer, pi.payment_method]),
    [
      [declined.customer, declined.payment_method],
      [declined.customer, declined.payment_method],
    ],
  );
  // A card given on that set-up takes over, and pays (which also frees the declined card for the tests after).
  const paid = await paysWithNewCard(id, asked.setupIntentId!);
  assert.is(paid.attempt, 3);
  assert.is(intentsOf(id).at(-1)!.payment_method !== declined.payment_method, true);
});

test('retry schedule: 1 d, 3 d, 7 d after each decline, then none; one payment_failed email per attempt', async () => {
  const id = await confirmedReservation('pm_card_chargeCustomerFail', 700);
  await complete(id);
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 4; attempt++) {
    const c = await waitFor(
      async () => {
        const x = await charge(id);
        return x?.attempt === attempt && x.status === 'failed' ? x : null;
      },
      15_000,
      `attempt ${attempt}`,
    );
    if (c.next_retry_at) {
      const job = await waitFor(
        async () => {
          const j = await chargeJob(id);
          return j && new Date(j.run_at).getTime() === new Date(c.next_retry_at).getTime() ? j : null;
        },
        5_000,
        'retry queued',
      );
      delays.push(
        Math.round(((new Date(c.next_retry_at).getTime() - new Date(c.updated_at).getTime()) / 86400e3) * 1000) / 1000,
      );
      assert.equal(new Date(job.run_at).getTime(), new Date(c.next_retry_at).getTime());
      await retryNow(id);
    } else {
      await waitFor(async () => (await chargeJob(id)) === undefined, 5_000, 'no more retries queued');
    }
  }
  assert.equal(delays, [1, 3, 7]);
  await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'payment_failed').length === 4), 10_000, '4 emails');
  assert.equal(intentsOf(id).length, 4);
  assert.equal(intentsOf(id).filter((pi) => pi.status === 'succeeded').length, 0);
});

test('authentication_required off-session → payment_failed saying the bank wants the driver', async () => {
  const id = await confirmedReservation('pm_card_authenticationRequired', 1100);
  await complete(id);
  const c = await settled(id);
  assert.equal([c.status, c.failure_code], ['failed', 'authentication_required']);
  assert.equal(await reservationStatus(id), 'payment_failed');
  await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'payment_failed').length === 1), 10_000, 'email');
  assert.match(mailsOf(id, 'payment_failed')[0].decoded, /bank asked you to confirm/);
});

// Requests Stripe refuses as such: the same request gets the same answer, so
// the job ends at once (no graphile-worker retry, no scheduled retry). Each
// case sets up a card of its own: one left unpaid confirms nothing more (SMP10).
const refusals: Array<[string, string, (id: string) => Promise<void>, string]> = [
  // A reservation priced before quotes respected Stripe's minimum (13¢).
  [
    "an amount below the currency's minimum",
    'amount_too_small',
    async (id) => {
      // A row priced before quotes respected the minimum: only such old data can hold 13¢ now.
      await db.owner.query('update app_public.reservations set amount = 13 where id = $1', [id]);
      await complete(id);
    },
    'pm_card_visa_debit',
  ],
  // The card on file no longer exists at Stripe.
  [
    'a card that no longer exists',
    'resource_missing',
    async (id) => {
      await db.owner.query(
        `update app_private.setup_intents set payment_method = 'pm_gone' where reservation_id = $1`,
        [id],
      );
      await complete(id);
    },
    'pm_card_mastercard',
  ],
];
for (const [what, code, arrange, card] of refusals) {
  test(`Stripe refusing the request (${what}) → failed at once, payment_failed, the pay-link email, no retry`, async () => {
    const id = await confirmedReservation(card, 900);
    const requestsBefore = emulator.state().requests;
    await arrange(id);
    const c = await settled(id, ['failed']);
    assert.equal([c.status, c.failure_code, c.attempt, c.next_retry_at], ['failed', code, 1, null]);
    assert.equal(await reservationStatus(id), 'payment_failed');
    assert.equal(await chargeJob(id), undefined, 'no job left to retry');
    assert.equal(emulator.state().requests - requestsBefore, 1, 'Stripe asked once');
    assert.equal(intentsOf(id).length, 0);
    await waitFor(
      async () => (await refreshEmailIds(), mailsOf(id, 'payment_failed').length === 1),
      10_000,
      'payment_failed email',
    );
    const mail = mailsOf(id, 'payment_failed')[0].decoded;
    assert.match(mail, /payment provider refused the charge/);
    assert.match(mail, /will not try your card again automatically/);
    assert.match(mail, new RegExp(`https://app\\.example\\.test/reservations/${id}/pay`));
  });
}

for (const mode of ['error_before', 'error_after', 'timeout'] as const) {
  test(`Stripe ${mode === 'timeout' ? 'timing out' : `answering 500 (${mode})`} on the charge → the job retries with the same key, one charge`, async () => {
    const id = await confirmedReservation('pm_card_visa', 1300);
    // The SDK's own retries off, so the job itself must retry.
    useEmulatorInEnv(emulator, { STRIPE_MAX_NETWORK_RETRIES: '0', STRIPE_TIMEOUT_MS: '700' });
    const fired = emulator.state().faults.fired;
    emulator.addFault({ method: 'POST', path: '/v1/payment_intents', mode, count: 1 });
    try {
      await complete(id);
      const c = await waitFor(
        async () => {
          const x = await charge(id);
          return x?.status === 'succeeded' ? x : null;
        },
        20_000,
        'charged',
      );
      assert.equal(emulator.state().faults.fired, fired + 1);
      assert.equal(c.attempt, 1, 'the same attempt, so the same key');
      const intents = intentsOf(id);
      assert.equal(intents.length, 1, 'one PaymentIntent, whether Stripe failed before or after making it');
      assert.equal(intents[0].status, 'succeeded');
      assert.equal(
        emulator.store.charges.all.filter((ch) => ch.payment_intent === intents[0].id).length,
        1,
        'one charge',
      );
      await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'receipt').length === 1), 10_000, 'receipt');
    } finally {
      useEmulatorInEnv(emulator);
    }
  });
}

test('a reservation changed twice before its end → one charge of the final amount', async () => {
  // An hour at 10.00/h, extended by the guest twice through booking (each change re-quotes).
  const { id, manageToken } = await createReservation(db, { hourlyPrice: 1000 });
  const p = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
  await browserConfirmsSetup(emulator, p.setupIntentId!, 'pm_card_visa');
  await paymentOperations.confirmReservationPayment(stripe, staffDb, id, null);
  const {
    rows: [{ start }],
  } = await db.owner.query('select lower(period) as start from app_public.reservations where id = $1', [id]);
  for (const minutes of [90, 105]) {
    await callAs(db, ANON, 'select app_public.change_reservation_end($1, $2, $3)', [
      id,
      new Date(start.getTime() + minutes * 60e3),
      manageToken,
    ]);
  }
  await complete(id);
  const c = await settled(id);
  assert.equal([c.status, c.amount], ['succeeded', 1750], '105 minutes at 10.00/h');
  assert.equal(
    intentsOf(id).map((pi) => pi.amount),
    [1750],
  );
});

test('charge jobs racing for one reservation, and a job for a non-completed one → one charge, none', async () => {
  const id = await confirmedReservation('pm_card_visa', 800);
  await complete(id);
  // Three more jobs for the same charge, as a replayed queue or an operator's retry would add.
  for (let i = 0; i < 3; i++) {
    await db.owner.query(
      `select graphile_worker.add_job('reservation__charge', json_build_object('reservationId', $1::bigint))`,
      [id],
    );
  }
  const notEnded = await confirmedReservation('pm_card_visa', 800);
  await db.owner.query(
    `select graphile_worker.add_job('reservation__charge', json_build_object('reservationId', $1::bigint))`,
    [notEnded],
  );
  await waitFor(
    async () =>
      (
        await db.owner.query(
          `select count(*)::int as n from graphile_worker.jobs where task_identifier = 'reservation__charge' and run_at <= now()`,
        )
      ).rows[0].n === 0,
    15_000,
    'jobs drained',
  );
  assert.equal((await charge(id)).status, 'succeeded');
  assert.equal(intentsOf(id).length, 1);
  assert.equal(await charge(notEnded), undefined);
  assert.equal(intentsOf(notEnded).length, 0);
});

for (const [currency, shown] of [
  ['EUR', '€9.00'],
  ['JPY', '¥900'],
  ['GBP', '£9.00'],
] as const) {
  test(`a spot priced in ${currency}: quoted, charged and receipted in ${currency} (${shown} for an hour at 900 minor units)`, async () => {
    const id = await confirmedReservation('pm_card_visa', 900, currency);
    const {
      rows: [r],
    } = await db.owner.query('select amount, currency from app_public.reservations where id = $1', [id]);
    assert.equal(r, { amount: 900, currency });
    await complete(id);
    const c = await settled(id);
    assert.equal([c.status, c.amount, c.currency], ['succeeded', 900, currency]);
    assert.equal(
      intentsOf(id).map((pi) => [pi.amount, pi.currency]),
      [[900, currency.toLowerCase()]],
    );
    await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'receipt').length === 1), 10_000, 'receipt');
    assert.ok(mailsOf(id, 'receipt')[0].decoded.includes(shown), mailsOf(id, 'receipt')[0].decoded);
    assert.not.ok(mailsOf(id, 'receipt')[0].decoded.includes('$'), 'no dollar sign on a non-dollar receipt');
  });
}

test('nothing to charge (no metered minute in the window: amount 0) → no Stripe call, still a receipt', async () => {
  // A rate metered one hour a week, three days from today: the coming hour is free.
  const isoDow = ((((new Date().getUTCDay() + 6) % 7) + 3) % 7) + 1;
  const rate = await createRate(db, { hourlyPrice: 600, hours: [[isoDow, '09:00', '10:00']] });
  const id = await confirmedReservation(
    'pm_card_visa',
    600,
    'USD',
    await createSpot(db, { lat: 40.72, lng: -74.0, rateId: rate }),
  );
  const {
    rows: [r],
  } = await db.owner.query('select amount from app_public.reservations where id = $1', [id]);
  assert.is(r.amount, 0, 'quoted 0: nothing metered');
  await complete(id);
  const c = await settled(id);
  assert.equal(c.status, 'not_required');
  assert.equal(intentsOf(id).length, 0);
  await waitFor(async () => (await refreshEmailIds(), mailsOf(id, 'receipt').length === 1), 10_000, 'receipt');
});

test('no card set up (confirmed without one) → no Stripe call, payment_failed with no_payment_method', async () => {
  // A hold that never got a card, confirmed by the owner's hand (no API path confirms without one).
  const { id } = await createReservation(db, { hourlyPrice: 800 });
  await db.owner.query(
    `update app_public.reservations set status = 'confirmed', hold_expires_at = null where id = $1`,
    [id],
  );
  await complete(id);
  const c = await settled(id);
  assert.equal([c.status, c.failure_code, c.attempt], ['failed', 'no_payment_method', 1]);
  assert.is(c.key_first_sent_at, null, 'no key was about to be sent');
  assert.equal(intentsOf(id).length, 0);
  assert.equal(await reservationStatus(id), 'payment_failed');
});

test.run();
