// Card set-up through the API with the real Stripe SDK against the emulator:
// setupReservationPayment / confirmReservationPayment (idempotent), the signed
// webhook (replays, bad signatures, unknown events), refunds, authorisation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Stripe from 'stripe';
import { asRole, createTestDb, createUser, identityOf, sqlstateOf, type TestDb, ANON, callAs } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { signatureHeader } from '../stripe-emulator/index.ts';
import {
  browserConfirmsSetup,
  chargeThroughWorker,
  completeAtEnd,
  createReservation,
  dbAs,
  startEmulator,
  stripeConfigFor,
  useEmulatorInEnv,
  waitFor,
  WEBHOOK_SECRET,
} from './helpers/payments.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { closeMailTransports } from '../lib/mail_transport.ts';
import { paymentOperations } from '../server/plugins/payments.ts';
import { stripeClient } from '../lib/stripe_client.ts';
import { captureLogs } from './helpers/logs.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;
let smtp: SmtpSink;

const SETUP = `mutation ($id: BigInt!, $manageToken: String) {
  setupReservationPayment(input: { reservationId: $id, manageToken: $manageToken }) {
    reservationId reservationStatus setupIntentId setupIntentStatus clientSecret } }`;
const CONFIRM = `mutation ($id: BigInt!, $manageToken: String) {
  confirmReservationPayment(input: { reservationId: $id, manageToken: $manageToken }) {
    reservationId reservationStatus setupIntentId setupIntentStatus } }`;
const REFUND = `mutation ($id: BigInt!, $amount: Int) {
  refundReservation(input: { reservationId: $id, amount: $amount }) { refundId amount status refundedTotal } }`;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  // The worker's charge task (refund tests) talks to the emulator and mails through a real listener.
  smtp = await startSmtpSink();
  useEmulatorInEnv(emulator);
  Object.assign(process.env, { SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port) });
  api = await startApi(db, { stripe: stripeConfigFor(emulator) });
  emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
});

test.after(async () => {
  await api?.close();
  closeMailTransports();
  await emulator?.close();
  await smtp?.close();
  await db?.close();
});

const status = async (id: string) =>
  (await db.owner.query('select status::text from app_public.reservations where id = $1', [id])).rows[0]
    .status as string;
const emails = async (id: string, template: string) =>
  (
    await db.owner.query(
      `select count(*)::int as n from app_private.emails where template = $1 and (data->>'reservationId') = $2`,
      [template, id],
    )
  ).rows[0].n as number;

test('guest: set-up returns a client secret, twice the same; the signed webhook confirms the reservation', async () => {
  // Setup
  const { id, manageToken } = await createReservation(db);
  const before = emulator.state();

  // Action
  const first = await api.gql(SETUP, { id, manageToken });
  const again = await api.gql(SETUP, { id, manageToken });

  // Assertions: one customer, one SetupIntent (usage off_session), same answer.
  assert.equal(first.errors, undefined, JSON.stringify(first.errors));
  const p = first.data.setupReservationPayment;
  assert.equal(p.reservationStatus, 'held');
  assert.match(p.clientSecret, /^seti_.+_secret_/);
  assert.equal(again.data.setupReservationPayment, p);
  const after = emulator.state();
  assert.equal(after.customers - before.customers, 1);
  assert.equal(after.setup_intents.total - before.setup_intents.total, 1);
  const si = await stripeClient(stripeConfigFor(emulator)).setupIntents.retrieve(p.setupIntentId);
  assert.equal(si.usage, 'off_session');
  assert.equal(si.metadata?.reservation_id, id);

  // Action: the browser confirms the card; Stripe sends setup_intent.succeeded.
  const confirmed = await browserConfirmsSetup(emulator, p.setupIntentId, 'pm_card_visa');
  assert.equal((confirmed as Stripe.SetupIntent).status, 'succeeded');
  await waitFor(async () => (await status(id)) === 'confirmed', 10_000, 'confirmed by webhook');
  await emulator.waitForWebhooks();

  // Assertions
  const {
    rows: [row],
  } = await db.owner.query('select status, payment_method from app_private.setup_intents where reservation_id = $1', [
    id,
  ]);
  assert.equal(row.status, 'succeeded');
  assert.match(row.payment_method, /^pm_/);
  assert.equal(await emails(id, 'reservation_confirmed'), 1);
  // confirm afterwards (a client that did not wait) is a no-op that says so.
  const late = await api.gql(CONFIRM, { id, manageToken });
  assert.equal(late.data.confirmReservationPayment.reservationStatus, 'confirmed');
  assert.equal(late.data.confirmReservationPayment.setupIntentStatus, 'succeeded');
  // set-up after confirmation returns the same intent again.
  assert.equal((await api.gql(SETUP, { id, manageToken })).data.setupReservationPayment.setupIntentId, p.setupIntentId);
});

test('guests never share a Stripe customer: two reservations with one email get one each', async () => {
  // Setup: the same email books twice; the first one's card is set up.
  const email = `twice.${process.pid}@example.test`;
  const first = await createReservation(db, { email });
  const second = await createReservation(db, { email });
  const one = (await api.gql(SETUP, { id: first.id, manageToken: first.manageToken })).data.setupReservationPayment;
  await browserConfirmsSetup(emulator, one.setupIntentId, 'pm_card_visa');

  // Action
  const two = await api.gql(SETUP, { id: second.id, manageToken: second.manageToken });

  // Assertions: the second set-up is made for another customer at Stripe too.
  assert.equal(two.errors, undefined, JSON.stringify(two.errors));
  const stripe = stripeClient(stripeConfigFor(emulator));
  const customers = await Promise.all(
    [one.setupIntentId, two.data.setupReservationPayment.setupIntentId].map(
      async (id: string) => (await stripe.setupIntents.retrieve(id)).customer,
    ),
  );
  assert.match(String(customers[0]), /^cus_/);
  assert.match(String(customers[1]), /^cus_/);
  assert.is.not(customers[0], customers[1]);
});

test('a returning driver whose Stripe customer is gone at Stripe (deleted there, or an emulator restart) gets a new one', async () => {
  // Setup: a first reservation makes the driver's customer; then Stripe no longer knows that id.
  const driver = await createSignedInUser(db, api);
  const first = await createReservation(db, { as: identityOf(driver) });
  assert.equal((await api.gql(SETUP, { id: first.id }, driver.headers)).errors, undefined);
  await db.owner.query(`update app_private.stripe_customers set stripe_customer_id = 'cus_gone' where user_id = $1`, [
    driver.id,
  ]);
  const second = await createReservation(db, { as: identityOf(driver) });
  const before = emulator.state();

  // Action
  const res = await api.gql(SETUP, { id: second.id }, driver.headers);

  // Assertions: a client secret for a new customer, recorded for the next time.
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  assert.match(res.data.setupReservationPayment.clientSecret, /^seti_.+_secret_/);
  assert.equal(emulator.state().customers - before.customers, 1);
  const {
    rows: [c],
  } = await db.owner.query('select stripe_customer_id from app_private.stripe_customers where user_id = $1', [
    driver.id,
  ]);
  assert.match(c.stripe_customer_id, /^cus_/);
  assert.is.not(c.stripe_customer_id, 'cus_gone');
  const si = await stripeClient(stripeConfigFor(emulator)).setupIntents.retrieve(
    res.data.setupReservationPayment.setupIntentId,
  );
  assert.is(si.customer, c.stripe_customer_id);
});

test('confirm mutation without the webhook: re-reads the intent from Stripe; twice is the same', async () => {
  emulator.setWebhook(null);
  try {
    const { id, manageToken } = await createReservation(db);
    const p = (await api.gql(SETUP, { id, manageToken })).data.setupReservationPayment;
    const early = await api.gql(CONFIRM, { id, manageToken });
    assert.equal(early.errors?.[0].extensions?.code, 'SMP03', 'not set up yet');
    await browserConfirmsSetup(emulator, p.setupIntentId, 'pm_card_visa');
    assert.equal(await status(id), 'held', 'no webhook');
    const one = await api.gql(CONFIRM, { id, manageToken });
    const two = await api.gql(CONFIRM, { id, manageToken });
    assert.equal(one.errors, undefined, JSON.stringify(one.errors));
    assert.equal(one.data.confirmReservationPayment.reservationStatus, 'confirmed');
    assert.equal(two.data, one.data);
    assert.equal(await emails(id, 'reservation_confirmed'), 1);
  } finally {
    emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
  }
});

test('a card needing 3-D Secure confirms only after authentication; a declined card leaves it held (SMP08)', async () => {
  const { id, manageToken } = await createReservation(db);
  const p = (await api.gql(SETUP, { id, manageToken })).data.setupReservationPayment;
  const si = (await browserConfirmsSetup(
    emulator,
    p.setupIntentId,
    'pm_card_authenticationRequired',
  )) as Stripe.SetupIntent;
  assert.equal(si.status, 'requires_action');
  assert.equal((await api.gql(CONFIRM, { id, manageToken })).errors?.[0].extensions?.code, 'SMP03');
  await fetch(`${emulator.url}/_emulator/setup_intents/${p.setupIntentId}/authenticate`, { method: 'POST' });
  await waitFor(async () => (await status(id)) === 'confirmed', 10_000, 'confirmed after 3DS');

  const { id: declined, manageToken: declinedToken } = await createReservation(db);
  const d = (await api.gql(SETUP, { id: declined, manageToken: declinedToken })).data.setupReservationPayment;
  const err = await browserConfirmsSetup(emulator, d.setupIntentId, 'pm_card_chargeDeclined');
  assert.ok(err instanceof Stripe.errors.StripeCardError);
  await emulator.waitForWebhooks();
  assert.equal(await status(declined), 'held');
  const refused = (await api.gql(CONFIRM, { id: declined, manageToken: declinedToken })).errors?.[0];
  assert.equal(refused?.extensions?.code, 'SMP08', "refused, with the bank's reason");
  assert.match(refused?.message ?? '', /declined/i);
});

test('who may set up: no token, a wrong token, or someone else → SMB06 (as every reservation operation); a cancelled reservation → SMP02', async () => {
  const { id, manageToken } = await createReservation(db);
  const someoneElse = await createReservation(db);
  const stripeRequests = emulator.state().requests;
  for (const wrong of [null, '', someoneElse.manageToken, `${manageToken}x`, manageToken!.slice(1)]) {
    const res = await api.gql(SETUP, { id, manageToken: wrong });
    assert.equal(res.errors?.[0].extensions?.code, 'SMB06', String(wrong));
  }
  assert.equal((await api.gql(SETUP, { id: '999999', manageToken })).errors?.[0].extensions?.code, 'SMB06');
  const cancelled = await createReservation(db, { startsIn: 120 });
  await callAs(db, ANON, 'select app_public.cancel_reservation($1, $2)', [cancelled.id, cancelled.manageToken]);
  assert.equal(
    (await api.gql(SETUP, { id: cancelled.id, manageToken: cancelled.manageToken })).errors?.[0].extensions?.code,
    'SMP02',
  );
  assert.equal(emulator.state().requests, stripeRequests, 'no refused call reached Stripe');

  // Signed-in drivers: their own reservation yes, another's no (SQL as the role).
  const owner = await createUser(db);
  const other = await createUser(db);
  const { id: mine } = await createReservation(db, { as: identityOf(owner) });
  const stripe = stripeClient(stripeConfigFor(emulator));
  const ok = await paymentOperations.setupReservationPayment(stripe, dbAs(db, identityOf(owner)), mine, null);
  assert.match(ok.clientSecret!, /_secret_/);
  assert.equal(
    await sqlstateOf(paymentOperations.setupReservationPayment(stripe, dbAs(db, identityOf(other)), mine, null)),
    'SMB06',
  );
  // The API roles cannot read any payment table.
  for (const table of ['stripe_customers', 'setup_intents', 'charges', 'refunds', 'stripe_webhook_events']) {
    assert.equal(
      await sqlstateOf(asRole(db, identityOf(owner), (c) => c.query(`select * from app_private.${table}`))),
      '42501',
      table,
    );
  }
});

function signedPost(body: string, header?: string) {
  return fetch(`${api.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(header === undefined ? {} : { 'stripe-signature': header }) },
    body,
  });
}

test('webhook replayed 3 times → one confirmation', async () => {
  // Setup: a held reservation whose card Stripe has set up, webhook delivery off meanwhile.
  const { id, manageToken } = await createReservation(db);
  const p = (await api.gql(SETUP, { id, manageToken })).data.setupReservationPayment;
  emulator.setWebhook(null);
  let si: Stripe.SetupIntent;
  try {
    si = (await browserConfirmsSetup(emulator, p.setupIntentId, 'pm_card_visa')) as Stripe.SetupIntent;
  } finally {
    emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
  }
  const event = {
    id: `evt_replay_${id}`,
    object: 'event',
    type: 'setup_intent.succeeded',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: si },
  };
  const body = JSON.stringify(event);

  // Action: the same event three times (and concurrently).
  const answers = await Promise.all([1, 2, 3].map(() => signedPost(body, signatureHeader(body, WEBHOOK_SECRET))));

  // Assertions
  assert.equal(
    answers.map((a) => a.status),
    [200, 200, 200],
  );
  const bodies = await Promise.all(answers.map((a) => a.json() as Promise<{ duplicate: boolean }>));
  assert.equal(bodies.filter((b) => !b.duplicate).length, 1);
  assert.equal(await status(id), 'confirmed');
  assert.equal(await emails(id, 'reservation_confirmed'), 1);
  const {
    rows: [inbox],
  } = await db.owner.query('select count(*)::int as n from app_private.stripe_webhook_events where id = $1', [
    event.id,
  ]);
  assert.equal(inbox.n, 1);
});

test('one card backs at most CARD_UPCOMING_MAX confirmed reservations to come, whatever the email: then SMP09, left held, by the API and the webhook alike', async () => {
  // Setup: an API allowing 2 per card, which also receives the emulator's webhooks for the while.
  const capped = await startApi(db, { stripe: stripeConfigFor(emulator), cardUpcomingMax: 2 });
  emulator.setWebhook(`${capped.url}/webhooks/stripe`, WEBHOOK_SECRET);
  const webhookDone = (setupIntentId: string) =>
    waitFor(
      async () => {
        const { rows } = await db.owner.query(
          `select 1 from app_private.stripe_webhook_events
         where type = 'setup_intent.succeeded' and payload->'data'->'object'->>'id' = $1 and processed_at is not null`,
          [setupIntentId],
        );
        return rows.length > 0;
      },
      20_000,
      `webhook of ${setupIntentId}`,
    );
  /** A guest reservation 2 h ahead (each its own email), its card set up in the browser; the API's confirm answer. */
  const book = async (card: string, confirmByApi = true) => {
    const { id, manageToken } = await createReservation(db, { startsIn: 120 });
    const setup = await capped.gql(SETUP, { id, manageToken });
    const setupIntentId = setup.data.setupReservationPayment.setupIntentId;
    await browserConfirmsSetup(emulator, setupIntentId, card);
    await webhookDone(setupIntentId);
    const answer = confirmByApi ? await capped.gql(CONFIRM, { id, manageToken }) : null;
    return { id, manageToken, answer, code: answer?.errors?.[0]?.extensions?.code ?? null, setupIntentId };
  };
  // A card no other test of this file sets up, so its count starts at 0.
  const CARD = 'pm_card_amex';
  try {
    // Action and assertions
    const first = await book(CARD);
    const second = await book(CARD);
    assert.equal([first.code, second.code], [null, null]);
    assert.equal([await status(first.id), await status(second.id)], ['confirmed', 'confirmed']);
    const third = await book(CARD);
    assert.is(third.code, 'SMP09', JSON.stringify(third.answer));
    assert.is(await status(third.id), 'held', 'neither the webhook nor the API confirmed it');
    const {
      rows: [fp],
    } = await db.owner.query(
      'select count(distinct card_fingerprint)::int as cards, count(card_fingerprint)::int as known from app_private.setup_intents where reservation_id = any($1)',
      [[first.id, second.id, third.id]],
    );
    assert.equal(fp, { cards: 1, known: 3 }, 'the same card, known by its fingerprint on every set-up');
    // The webhook alone (the browser closed before confirming) confirms nothing either.
    const unasked = await book(CARD, false);
    assert.is(await status(unasked.id), 'held');
    // The held one takes another card: a new set-up (new key) on the same hold, which confirms.
    const swap = (await capped.gql(SETUP, { id: third.id, manageToken: third.manageToken })).data
      .setupReservationPayment;
    assert.is.not(swap.setupIntentId, third.setupIntentId);
    assert.ok(swap.clientSecret, JSON.stringify(swap));
    await browserConfirmsSetup(emulator, swap.setupIntentId, 'pm_card_visa_debit');
    const swapped = await capped.gql(CONFIRM, { id: third.id, manageToken: third.manageToken });
    assert.equal([swapped.errors, await status(third.id)], [undefined, 'confirmed']);
    // Another card is another card.
    const other = await book('pm_card_mastercard');
    assert.equal([other.code, await status(other.id)], [null, 'confirmed']);
    // One of the two cancelled: room for one more on the first card.
    const cancelled = await capped.gql(
      `mutation ($id: BigInt!, $t: String) { cancelReservation(input: { reservationId: $id, manageToken: $t }) { result { reservation { status } } } }`,
      { id: first.id, t: first.manageToken },
    );
    assert.is(cancelled.data?.cancelReservation.result.reservation.status, 'cancelled');
    // The hold whose card was refused confirms with that card once it passes; then the card is full again.
    const later = await capped.gql(CONFIRM, { id: unasked.id, manageToken: unasked.manageToken });
    assert.equal([later.errors, await status(unasked.id)], [undefined, 'confirmed']);
    const again = await book(CARD);
    assert.equal([again.code, await status(again.id)], ['SMP09', 'held']);
  } finally {
    emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
    await capped.close();
  }
});

test('bad or missing signature → 400 and nothing changed; unknown events → 200', async () => {
  const { id } = await createReservation(db);
  const event = {
    id: `evt_forged_${id}`,
    object: 'event',
    type: 'setup_intent.succeeded',
    data: {
      object: { id: 'seti_forged', object: 'setup_intent', status: 'succeeded', metadata: { reservation_id: id } },
    },
  };
  const body = JSON.stringify(event);
  const count = async () =>
    (await db.owner.query('select count(*)::int as n from app_private.stripe_webhook_events')).rows[0].n;
  const before = await count();
  const { lines } = await captureLogs(async () => {
    for (const header of [
      signatureHeader(body, 'whsec_wrong'),
      signatureHeader(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3600),
      'garbage',
      undefined,
    ]) {
      const res = await signedPost(body, header);
      assert.equal(res.status, 400, String(header));
      assert.equal((await res.json()).error.code, 'BAD_SIGNATURE', String(header));
    }
    // Signed for another body.
    const other = await signedPost(body.replace('succeeded', 'canceled'), signatureHeader(body, WEBHOOK_SECRET));
    assert.equal([other.status, (await other.json()).error.code], [400, 'BAD_SIGNATURE']);
  });
  assert.equal(await count(), before);
  assert.equal(await status(id), 'held');
  const rejected = lines.filter((l) => l.msg.startsWith('stripe webhook rejected'));
  assert.equal(rejected.length, 5);
  assert.ok(
    lines.every((l) => !JSON.stringify(l).includes(WEBHOOK_SECRET) && !JSON.stringify(l).includes('seti_forged')),
  );

  const unknown = JSON.stringify({
    id: `evt_unknown_${id}`,
    object: 'event',
    type: 'customer.tax_id.created',
    data: { object: {} },
  });
  const res = await signedPost(unknown, signatureHeader(unknown, WEBHOOK_SECRET));
  assert.equal(res.status, 200);
  assert.equal(await count(), before + 1);
});

/** An operator, a driver, and a way to give the driver an hour set up, ended and charged by the worker's charge task. */
async function refundSetting() {
  const stripe = stripeClient(stripeConfigFor(emulator));
  const staff = await createUser(db, { role: 'operator' });
  const driver = await createUser(db);
  const staffDb = dbAs(db, identityOf(staff));
  const charged = async (hourlyPrice: number) => {
    const { id } = await createReservation(db, { as: identityOf(driver), hourlyPrice });
    const p = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
    await browserConfirmsSetup(emulator, p.setupIntentId!, 'pm_card_visa');
    await waitFor(async () => (await status(id)) === 'confirmed');
    await completeAtEnd(db, id);
    return { id, pi: (await chargeThroughWorker(db, [id]))[id] };
  };
  return { stripe, staffDb, driver, charged };
}

test('refunds: operators only, full or partial, never more than charged, same answer on retry', async () => {
  // Setup: a driver's hour at 20.00/h.
  const { stripe, staffDb, driver, charged } = await refundSetting();
  const { id, pi } = await charged(2000);
  const {
    rows: [c],
  } = await db.owner.query('select amount from app_private.charges where reservation_id = $1', [id]);
  assert.is(c.amount, 2000, 'an hour at 20.00/h, as booking quoted it');

  // A driver (or anonymous) cannot refund.
  assert.equal(
    await sqlstateOf(paymentOperations.refundReservation(stripe, dbAs(db, identityOf(driver)), id, null)),
    'SMP05',
  );
  assert.equal((await api.gql(REFUND, { id })).errors?.[0].extensions?.code, 'SMP05');

  // Partial, then the rest; then nothing is left.
  const part = await paymentOperations.refundReservation(stripe, staffDb, id, 500);
  assert.equal([part.amount, part.status, part.refundedTotal], [500, 'succeeded', 500]);
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(stripe, staffDb, id, 1600)), 'SMP06');
  const rest = await paymentOperations.refundReservation(stripe, staffDb, id, null);
  assert.equal([rest.amount, rest.refundedTotal], [1500, 2000]);
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(stripe, staffDb, id, null)), 'SMP06');
  const refunds = await stripe.refunds.list({ payment_intent: pi });
  assert.equal(refunds.data.map((r) => r.amount).sort(), [1500, 500]);

  // Stripe answers 500 after refunding, and its webhook has not come (delivery off meanwhile): the
  // retry re-sends the same key, one refund. (With the webhook, it records the refund by itself.)
  const second = await charged(900);
  emulator.addFault({ method: 'POST', path: '/v1/refunds', mode: 'error_after', count: 3 });
  emulator.setWebhook(null);
  const failing = stripeClient(stripeConfigFor(emulator, { maxNetworkRetries: 0 }));
  try {
    assert.equal(await sqlstateOf(paymentOperations.refundReservation(failing, staffDb, second.id, null)), 'SMP04');
    assert.equal(
      await sqlstateOf(paymentOperations.refundReservation(failing, staffDb, second.id, 100)),
      'SMP07',
      'another amount while one is in flight',
    );
  } finally {
    emulator.clearFaults();
  }
  try {
    const retried = await paymentOperations.refundReservation(failing, staffDb, second.id, null);
    assert.equal([retried.amount, retried.status], [900, 'succeeded']);
  } finally {
    emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
  }
  assert.equal((await stripe.refunds.list({ payment_intent: second.pi })).data.length, 1);

  // Amounts that are not a refund: SMP06, nothing sent to Stripe.
  const third = await charged(700);
  const requests = emulator.state().requests;
  for (const amount of [0, -1, -700, 701]) {
    assert.equal(
      await sqlstateOf(paymentOperations.refundReservation(stripe, staffDb, third.id, amount)),
      'SMP06',
      String(amount),
    );
    assert.equal(
      (await api.gql(REFUND, { id: third.id, amount }, {})).errors?.[0].extensions?.code,
      'SMP05',
      'anonymous first',
    );
  }
  assert.is(emulator.state().requests, requests);
  const {
    rows: [{ n }],
  } = await db.owner.query(
    `select count(*)::int as n from app_private.refunds f join app_private.charges c on c.id = f.charge_id where c.reservation_id = $1`,
    [third.id],
  );
  assert.is(n, 0);
});

test('refunds made at Stripe (its dashboard) reach the books and the driver once; one that fails after it was counted comes off', async () => {
  const { stripe, staffDb, charged } = await refundSetting();
  const { id, pi } = await charged(1000);
  const books = async () =>
    (
      await db.owner.query(
        `select r.refunded, (select json_agg(json_build_object('amount', f.amount, 'status', f.status, 'by', f.requested_by) order by f.id)
           from app_private.refunds f join app_private.charges c on c.id = f.charge_id where c.reservation_id = r.id) as refunds
         from app_public.reservations r where r.id = $1`,
        [id],
      )
    ).rows[0];

  // An operator refunds 300 in Stripe's dashboard: Stripe's refund.created webhook tells the app.
  await stripe.refunds.create({ payment_intent: pi, amount: 300 });
  await emulator.waitForWebhooks();
  await waitFor(async () => (await books()).refunded === 300, 10_000, 'refund.created applied');
  assert.equal((await books()).refunds, [{ amount: 300, status: 'succeeded', by: null }]);
  assert.is(await emails(id, 'refund'), 1, 'the driver is told');

  // The app then refunds what is left, not what it would have thought was left.
  const rest = await paymentOperations.refundReservation(stripe, staffDb, id, null);
  assert.equal([rest.amount, rest.status, rest.refundedTotal], [700, 'succeeded', 1000]);
  await emulator.waitForWebhooks();
  assert.is((await books()).refunded, 1000, "the app's own refund, reported by request and by webhook, counts once");
  assert.is(await emails(id, 'refund'), 2);

  // Stripe later fails the 700 (a pending refund the bank would not take), twice over: it comes off once.
  const {
    rows: [own],
  } = await db.owner.query(
    `select f.stripe_refund_id from app_private.refunds f join app_private.charges c on c.id = f.charge_id
     where c.reservation_id = $1 and f.amount = 700`,
    [id],
  );
  for (const n of [1, 2]) {
    const body = JSON.stringify({
      id: `evt_refund_failed_${id}_${n}`,
      object: 'event',
      type: n === 1 ? 'refund.failed' : 'refund.updated',
      data: {
        object: {
          id: own.stripe_refund_id,
          object: 'refund',
          amount: 700,
          payment_intent: pi,
          status: 'failed',
          failure_reason: 'expired_or_canceled_card',
        },
      },
    });
    assert.is((await signedPost(body, signatureHeader(body, WEBHOOK_SECRET))).status, 200);
  }
  const after = await books();
  assert.is(after.refunded, 300);
  assert.equal(after.refunds[1], { amount: 700, status: 'failed', by: after.refunds[1].by });
  // Events for no charge of ours, or not a refund's shape, change nothing.
  for (const object of [
    { id: 're_elsewhere', amount: 50, payment_intent: 'pi_not_ours', status: 'succeeded' },
    { id: 're_odd', amount: '50', payment_intent: pi, status: 'succeeded' },
    { id: 're_big', amount: 1_000_000, payment_intent: pi, status: 'succeeded' },
  ]) {
    const body = JSON.stringify({
      id: `evt_${object.id}_${id}`,
      object: 'event',
      type: 'refund.created',
      data: { object },
    });
    assert.is((await signedPost(body, signatureHeader(body, WEBHOOK_SECRET))).status, 200);
  }
  assert.equal(await books(), after);
});

test('over HTTP as signed-in users: the driver sets up their card, another driver cannot, an operator refunds', async () => {
  const driver = await createSignedInUser(db, api);
  const other = await createSignedInUser(db, api);
  const operator = await createSignedInUser(db, api, { role: 'operator' });
  const { id } = await createReservation(db, { as: identityOf(driver), hourlyPrice: 1600 });

  const mine = await api.gql(SETUP, { id }, driver.headers);
  assert.equal(mine.errors, undefined, JSON.stringify(mine.errors));
  assert.equal((await api.gql(SETUP, { id }, other.headers)).errors?.[0].extensions?.code, 'SMB06');
  await browserConfirmsSetup(emulator, mine.data.setupReservationPayment.setupIntentId, 'pm_card_visa');
  await waitFor(async () => (await status(id)) === 'confirmed', 10_000, 'confirmed by webhook');

  // Charged at the end by the worker, then refunded in part by the operator.
  await completeAtEnd(db, id);
  await chargeThroughWorker(db, [id]);
  assert.equal((await api.gql(REFUND, { id, amount: 600 }, driver.headers)).errors?.[0].extensions?.code, 'SMP05');
  for (const amount of [0, -600, 1601]) {
    assert.equal(
      (await api.gql(REFUND, { id, amount }, operator.headers)).errors?.[0].extensions?.code,
      'SMP06',
      String(amount),
    );
  }
  const refund = await api.gql(REFUND, { id, amount: 600 }, operator.headers);
  assert.equal(refund.errors, undefined, JSON.stringify(refund.errors));
  assert.equal(
    [
      refund.data.refundReservation.amount,
      refund.data.refundReservation.status,
      refund.data.refundReservation.refundedTotal,
    ],
    [600, 'succeeded', 600],
  );
  // The driver sees it on the reservation and is told once, with the amounts.
  const seen = await api.gql(
    'query ($id: BigInt!) { myReservation(reservationId: $id) { amount refunded } }',
    { id },
    driver.headers,
  );
  assert.equal(seen.data.myReservation, { amount: 1600, refunded: 600 });
  const { rows: mails } = await db.owner.query(
    `select recipient::text, data from app_private.emails where template = 'refund' and data->>'reservationId' = $1`,
    [id],
  );
  assert.equal(
    mails.map((m) => [m.recipient, m.data.refundAmount, m.data.refunded, m.data.charged]),
    [[driver.email, 600, 600, 1600]],
  );
});

test.run();
