// Card set-up through the API with the real Stripe SDK against the emulator:
// setupReservationPayment / confirmReservationPayment (idempotent), the signed
// webhook (replays, bad signatures, unknown events), refunds, authorisation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Stripe from 'stripe';
import { asRole, createTestDb, createUser, identityOf, sqlstateOf, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { signatureHeader } from '../stripe-emulator/index.ts';
import {
  browserConfirmsSetup, createReservation, dbAs, startEmulator, stripeConfigFor, waitFor, WEBHOOK_SECRET,
} from './helpers/payments.ts';
import { paymentOperations } from '../server/plugins/payments.ts';
import { stripeClient } from '../lib/stripe_client.ts';
import { captureLogs } from './helpers/logs.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;

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
  api = await startApi(db, { stripe: stripeConfigFor(emulator) });
  emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
});

test.after(async () => {
  await api?.close();
  await emulator?.close();
  await db?.close();
});

const status = async (id: string) =>
  (await db.owner.query('select status::text from app_public.reservations where id = $1', [id])).rows[0].status as string;
const emails = async (id: string, template: string) =>
  (await db.owner.query(`select count(*)::int as n from app_private.emails where template = $1 and (data->>'reservationId') = $2`,
    [template, id])).rows[0].n as number;

test('guest: set-up returns a client secret, twice the same; the signed webhook confirms the reservation', async () => {
  // Setup
  const id = await createReservation(db);
  const before = emulator.state();

  // Action
  const first = await api.gql(SETUP, { id, manageToken: `tok-${id}` });
  const again = await api.gql(SETUP, { id, manageToken: `tok-${id}` });

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
  const { rows: [row] } = await db.owner.query(
    'select status, payment_method from app_private.setup_intents where reservation_id = $1', [id]);
  assert.equal(row.status, 'succeeded');
  assert.match(row.payment_method, /^pm_/);
  assert.equal(await emails(id, 'reservation_confirmed'), 1);
  // confirm afterwards (a client that did not wait) is a no-op that says so.
  const late = await api.gql(CONFIRM, { id, manageToken: `tok-${id}` });
  assert.equal(late.data.confirmReservationPayment.reservationStatus, 'confirmed');
  assert.equal(late.data.confirmReservationPayment.setupIntentStatus, 'succeeded');
  // set-up after confirmation returns the same intent again.
  assert.equal((await api.gql(SETUP, { id, manageToken: `tok-${id}` })).data.setupReservationPayment.setupIntentId, p.setupIntentId);
});

test('confirm mutation without the webhook: re-reads the intent from Stripe; twice is the same', async () => {
  emulator.setWebhook(null);
  try {
    const id = await createReservation(db);
    const p = (await api.gql(SETUP, { id, manageToken: `tok-${id}` })).data.setupReservationPayment;
    const early = await api.gql(CONFIRM, { id, manageToken: `tok-${id}` });
    assert.equal(early.errors?.[0].extensions?.code, 'SMP03', 'not set up yet');
    await browserConfirmsSetup(emulator, p.setupIntentId, 'pm_card_visa');
    assert.equal(await status(id), 'held', 'no webhook');
    const one = await api.gql(CONFIRM, { id, manageToken: `tok-${id}` });
    const two = await api.gql(CONFIRM, { id, manageToken: `tok-${id}` });
    assert.equal(one.errors, undefined, JSON.stringify(one.errors));
    assert.equal(one.data.confirmReservationPayment.reservationStatus, 'confirmed');
    assert.equal(two.data, one.data);
    assert.equal(await emails(id, 'reservation_confirmed'), 1);
  } finally {
    emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
  }
});

test('a card needing 3-D Secure confirms only after authentication; a declined card leaves it held', async () => {
  const id = await createReservation(db);
  const p = (await api.gql(SETUP, { id, manageToken: `tok-${id}` })).data.setupReservationPayment;
  const si = await browserConfirmsSetup(emulator, p.setupIntentId, 'pm_card_authenticationRequired') as Stripe.SetupIntent;
  assert.equal(si.status, 'requires_action');
  assert.equal((await api.gql(CONFIRM, { id, manageToken: `tok-${id}` })).errors?.[0].extensions?.code, 'SMP03');
  await fetch(`${emulator.url}/_emulator/setup_intents/${p.setupIntentId}/authenticate`, { method: 'POST' });
  await waitFor(async () => (await status(id)) === 'confirmed', 10_000, 'confirmed after 3DS');

  const declined = await createReservation(db);
  const d = (await api.gql(SETUP, { id: declined, manageToken: `tok-${declined}` })).data.setupReservationPayment;
  const err = await browserConfirmsSetup(emulator, d.setupIntentId, 'pm_card_chargeDeclined');
  assert.ok(err instanceof Stripe.errors.StripeCardError);
  await emulator.waitForWebhooks();
  assert.equal(await status(declined), 'held');
  assert.equal((await api.gql(CONFIRM, { id: declined, manageToken: `tok-${declined}` })).errors?.[0].extensions?.code, 'SMP03');
});

test('who may set up: no token, a wrong token, or someone else → SMB06 (as every reservation operation); a cancelled reservation → SMP02', async () => {
  const id = await createReservation(db);
  for (const manageToken of [null, 'tok-0', `tok-${id}x`]) {
    const res = await api.gql(SETUP, { id, manageToken });
    assert.equal(res.errors?.[0].extensions?.code, 'SMB06', String(manageToken));
  }
  assert.equal((await api.gql(SETUP, { id: '999999', manageToken: 'tok-999999' })).errors?.[0].extensions?.code, 'SMB06');
  const cancelled = await createReservation(db, { status: 'cancelled' });
  assert.equal((await api.gql(SETUP, { id: cancelled, manageToken: `tok-${cancelled}` })).errors?.[0].extensions?.code, 'SMP02');

  // Signed-in drivers: their own reservation yes, another's no (SQL as the role).
  const owner = await createUser(db);
  const other = await createUser(db);
  const mine = await createReservation(db, { userId: owner.id, email: owner.email });
  const stripe = stripeClient(stripeConfigFor(emulator));
  const ok = await paymentOperations.setupReservationPayment(stripe, dbAs(db.auth, identityOf(owner)), mine, null);
  assert.match(ok.clientSecret!, /_secret_/);
  assert.equal(await sqlstateOf(paymentOperations.setupReservationPayment(stripe, dbAs(db.auth, identityOf(other)), mine, null)), 'SMB06');
  // The API roles cannot read any payment table.
  for (const table of ['stripe_customers', 'setup_intents', 'charges', 'refunds', 'stripe_webhook_events']) {
    assert.equal(await sqlstateOf(asRole(db.auth, identityOf(owner), (c) => c.query(`select * from app_private.${table}`))), '42501', table);
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
  // Setup: a held reservation whose card Stripe has set up, webhook delivery off.
  emulator.setWebhook(null);
  const id = await createReservation(db);
  const p = (await api.gql(SETUP, { id, manageToken: `tok-${id}` })).data.setupReservationPayment;
  const si = await browserConfirmsSetup(emulator, p.setupIntentId, 'pm_card_visa') as Stripe.SetupIntent;
  emulator.setWebhook(`${api.url}/webhooks/stripe`, WEBHOOK_SECRET);
  const event = {
    id: `evt_replay_${id}`, object: 'event', type: 'setup_intent.succeeded', api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000), livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null },
    data: { object: si },
  };
  const body = JSON.stringify(event);

  // Action: the same event three times (and concurrently).
  const answers = await Promise.all([1, 2, 3].map(() => signedPost(body, signatureHeader(body, WEBHOOK_SECRET))));

  // Assertions
  assert.equal(answers.map((a) => a.status), [200, 200, 200]);
  const bodies = await Promise.all(answers.map((a) => a.json() as Promise<{ duplicate: boolean }>));
  assert.equal(bodies.filter((b) => !b.duplicate).length, 1);
  assert.equal(await status(id), 'confirmed');
  assert.equal(await emails(id, 'reservation_confirmed'), 1);
  const { rows: [inbox] } = await db.owner.query(
    'select count(*)::int as n from app_private.stripe_webhook_events where id = $1', [event.id]);
  assert.equal(inbox.n, 1);
});

test('bad or missing signature → 400 and nothing changed; unknown events → 200', async () => {
  const id = await createReservation(db);
  const event = { id: `evt_forged_${id}`, object: 'event', type: 'setup_intent.succeeded',
    data: { object: { id: 'seti_forged', object: 'setup_intent', status: 'succeeded', metadata: { reservation_id: id } } } };
  const body = JSON.stringify(event);
  const count = async () => (await db.owner.query('select count(*)::int as n from app_private.stripe_webhook_events')).rows[0].n;
  const before = await count();
  const { lines } = await captureLogs(async () => {
    for (const header of [signatureHeader(body, 'whsec_wrong'), signatureHeader(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3600), 'garbage', undefined]) {
      const res = await signedPost(body, header);
      assert.equal(res.status, 400, String(header));
    }
    // Signed for another body.
    assert.equal((await signedPost(body.replace('succeeded', 'canceled'), signatureHeader(body, WEBHOOK_SECRET))).status, 400);
  });
  assert.equal(await count(), before);
  assert.equal(await status(id), 'held');
  const rejected = lines.filter((l) => l.msg.startsWith('stripe webhook rejected'));
  assert.equal(rejected.length, 5);
  assert.ok(lines.every((l) => !JSON.stringify(l).includes(WEBHOOK_SECRET) && !JSON.stringify(l).includes('seti_forged')));

  const unknown = JSON.stringify({ id: `evt_unknown_${id}`, object: 'event', type: 'customer.tax_id.created', data: { object: {} } });
  const res = await signedPost(unknown, signatureHeader(unknown, WEBHOOK_SECRET));
  assert.equal(res.status, 200);
  assert.equal(await count(), before + 1);
});

test('refunds: operators only, full or partial, never more than charged, same answer on retry', async () => {
  // Setup: a completed reservation charged 2000 (charge row and PaymentIntent made directly).
  const stripe = stripeClient(stripeConfigFor(emulator));
  const staff = await createUser(db, { role: 'operator' });
  const driver = await createUser(db);
  const staffDb = dbAs(db.auth, identityOf(staff, 'operator'));
  const id = await createReservation(db, { userId: driver.id, email: driver.email, amount: 2000 });
  const p = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
  await browserConfirmsSetup(emulator, p.setupIntentId!, 'pm_card_visa');
  await waitFor(async () => (await status(id)) === 'confirmed');
  await db.owner.query(`update app_public.reservations set status = 'completed' where id = $1`, [id]);
  const { rows: [prep] } = await db.owner.query('select app_private.charge_prepare($1) as p', [id]);
  const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', customer: prep.p.customer,
    payment_method: prep.p.paymentMethod, off_session: true, confirm: true }, { idempotencyKey: prep.p.idempotencyKey });
  await db.owner.query('select app_private.charge_succeeded($1, 1, $2)', [prep.p.chargeId, pi.id]);

  // A driver (or anonymous) cannot refund.
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(stripe, dbAs(db.auth, identityOf(driver)), id, null)), 'SMP05');
  assert.equal((await api.gql(REFUND, { id })).errors?.[0].extensions?.code, 'SMP05');

  // Partial, then the rest; then nothing is left.
  const part = await paymentOperations.refundReservation(stripe, staffDb, id, 500);
  assert.equal([part.amount, part.status, part.refundedTotal], [500, 'succeeded', 500]);
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(stripe, staffDb, id, 1600)), 'SMP06');
  const rest = await paymentOperations.refundReservation(stripe, staffDb, id, null);
  assert.equal([rest.amount, rest.refundedTotal], [1500, 2000]);
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(stripe, staffDb, id, null)), 'SMP06');
  const refunds = await stripe.refunds.list({ payment_intent: pi.id });
  assert.equal(refunds.data.map((r) => r.amount).sort(), [1500, 500]);

  // Stripe answers 500 after refunding: the retry re-sends the same key, one refund.
  const id2 = await createReservation(db, { userId: driver.id, email: driver.email, amount: 900 });
  const p2 = await paymentOperations.setupReservationPayment(stripe, staffDb, id2, null);
  await browserConfirmsSetup(emulator, p2.setupIntentId!, 'pm_card_visa');
  await waitFor(async () => (await status(id2)) === 'confirmed');
  await db.owner.query(`update app_public.reservations set status = 'completed' where id = $1`, [id2]);
  const { rows: [prep2] } = await db.owner.query('select app_private.charge_prepare($1) as p', [id2]);
  const pi2 = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', customer: prep2.p.customer,
    payment_method: prep2.p.paymentMethod, off_session: true, confirm: true }, { idempotencyKey: prep2.p.idempotencyKey });
  await db.owner.query('select app_private.charge_succeeded($1, 1, $2)', [prep2.p.chargeId, pi2.id]);
  emulator.addFault({ method: 'POST', path: '/v1/refunds', mode: 'error_after', count: 3 });
  const failing = stripeClient(stripeConfigFor(emulator, { maxNetworkRetries: 0 }));
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(failing, staffDb, id2, null)), 'SMP04');
  assert.equal(await sqlstateOf(paymentOperations.refundReservation(failing, staffDb, id2, 100)), 'SMP07', 'another amount while one is in flight');
  emulator.clearFaults();
  const retried = await paymentOperations.refundReservation(failing, staffDb, id2, null);
  assert.equal([retried.amount, retried.status], [900, 'succeeded']);
  assert.equal((await stripe.refunds.list({ payment_intent: pi2.id })).data.length, 1);
});

test('over HTTP as signed-in users: the driver sets up their card, another driver cannot, an operator refunds', async () => {
  const driver = await createSignedInUser(db, api);
  const other = await createSignedInUser(db, api);
  const operator = await createSignedInUser(db, api, { role: 'operator' });
  const id = await createReservation(db, { userId: driver.id, email: driver.email, amount: 1600 });

  const mine = await api.gql(SETUP, { id }, driver.headers);
  assert.equal(mine.errors, undefined, JSON.stringify(mine.errors));
  assert.equal((await api.gql(SETUP, { id }, other.headers)).errors?.[0].extensions?.code, 'SMB06');
  await browserConfirmsSetup(emulator, mine.data.setupReservationPayment.setupIntentId, 'pm_card_visa');
  await waitFor(async () => (await status(id)) === 'confirmed', 10_000, 'confirmed by webhook');

  // Charged at the end (as the charge task does), then refunded in part by the operator.
  const stripe = stripeClient(stripeConfigFor(emulator));
  await db.owner.query(`update app_public.reservations set status = 'completed' where id = $1`, [id]);
  const { rows: [prep] } = await db.owner.query('select app_private.charge_prepare($1) as p', [id]);
  const pi = await stripe.paymentIntents.create({ amount: 1600, currency: 'usd', customer: prep.p.customer,
    payment_method: prep.p.paymentMethod, off_session: true, confirm: true }, { idempotencyKey: prep.p.idempotencyKey });
  await db.owner.query('select app_private.charge_succeeded($1, 1, $2)', [prep.p.chargeId, pi.id]);
  assert.equal((await api.gql(REFUND, { id, amount: 600 }, driver.headers)).errors?.[0].extensions?.code, 'SMP05');
  const refund = await api.gql(REFUND, { id, amount: 600 }, operator.headers);
  assert.equal(refund.errors, undefined, JSON.stringify(refund.errors));
  assert.equal([refund.data.refundReservation.amount, refund.data.refundReservation.status, refund.data.refundReservation.refundedTotal],
    [600, 'succeeded', 600]);
});

test.run();
