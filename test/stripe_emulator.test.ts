// The in-repo Stripe emulator, driven only through the official `stripe` SDK (plus its
// /_emulator helper routes), so that switching to real Stripe stays configuration only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startStripeEmulator, type StripeEmulator } from '../stripe-emulator/index.ts';
import { parseForm } from '../stripe-emulator/form.ts';

const WEBHOOK_SECRET = 'whsec_test_emulator_suite';

// ---- fixtures ------------------------------------------------------------------------------

type Received = { raw: string; signature: string };

/** A tiny webhook endpoint: records raw bodies; answers 500 to the next `failNext` requests. */
class WebhookReceiver {
  received: Received[] = [];
  failNext = 0;
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.failNext > 0) {
        this.failNext--;
        res.writeHead(500).end('try later');
        return;
      }
      this.received.push({
        raw: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['stripe-signature']),
      });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks/stripe`;
  }

  /** Deliveries (parsed) whose data.object.id is `objectId`. */
  eventsFor(objectId: string): { event: Stripe.Event; raw: Received }[] {
    return this.received
      .map((raw) => ({ raw, event: JSON.parse(raw.raw) as Stripe.Event }))
      .filter(({ event }) => (event.data.object as { id?: string }).id === objectId);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const receiver = new WebhookReceiver();
let emulator: StripeEmulator;
/** No automatic retries: each call is exactly one request. */
let stripe: Stripe;

function client(options: Stripe.StripeConfig = {}): Stripe {
  return new Stripe('sk_test_emulator_suite', {
    host: '127.0.0.1',
    port: emulator.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    ...options,
  });
}

async function helper(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${emulator.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

/** A customer with a card saved off-session through a SetupIntent. */
async function customerWithCard(
  testPm = 'pm_card_visa',
): Promise<{ customer: Stripe.Customer; paymentMethod: string }> {
  const customer = await stripe.customers.create({ email: 'driver@example.test' });
  const si = await stripe.setupIntents.create({
    customer: customer.id,
    usage: 'off_session',
    allowed_payment_method_types: ['card'],
  });
  const confirmed = await stripe.setupIntents.confirm(si.id, { payment_method: testPm });
  return { customer, paymentMethod: confirmed.payment_method as string };
}

function offSessionCharge(customer: string, paymentMethod: string, amount = 1500, options?: Stripe.RequestOptions) {
  return stripe.paymentIntents.create(
    {
      amount,
      currency: 'usd',
      customer,
      payment_method: paymentMethod,
      off_session: true,
      confirm: true,
      metadata: { reservation: '42' },
    },
    options,
  );
}

test.before(async () => {
  await receiver.start();
  emulator = await startStripeEmulator({
    port: 0,
    webhookUrl: receiver.url,
    webhookSecret: WEBHOOK_SECRET,
    webhook: { retryDelayMs: 20 },
  });
  stripe = client();
});

test.after(async () => {
  await emulator?.close();
  await receiver.close();
});

// ---- form encoding -------------------------------------------------------------------------

test('form bodies: nested brackets, indexed and appended arrays, percent-encoding', () => {
  // Action
  const params = parseForm(
    'metadata[reservation]=42&payment_method_types[0]=card&expand[]=a&expand[]=b.c&confirm=true&name=A%20B+C&x[y][z]=1',
  );
  // Assertions
  assert.equal(params, {
    metadata: { reservation: '42' },
    payment_method_types: ['card'],
    expand: ['a', 'b.c'],
    confirm: 'true',
    name: 'A B C',
    x: { y: { z: '1' } },
  });
});

test('raw form request: legacy payment_method_types[0], metadata[…], expand[] and unknown parameters', async () => {
  // Setup
  const headers = { Authorization: 'Bearer sk_test_raw', 'Content-Type': 'application/x-www-form-urlencoded' };
  const customer = await stripe.customers.create({});
  // Action
  const ok = await fetch(`${emulator.url}/v1/setup_intents`, {
    method: 'POST',
    headers,
    body: `customer=${customer.id}&usage=off_session&payment_method_types[0]=card&metadata[reservation]=42&payment_method=pm_card_visa&confirm=true&expand[]=payment_method`,
  });
  const unknown = await fetch(`${emulator.url}/v1/setup_intents`, { method: 'POST', headers, body: 'colour=blue' });
  // Assertions
  const si = (await ok.json()) as {
    status: string;
    metadata: object;
    payment_method: { object: string; customer: string };
  };
  assert.is(ok.status, 200);
  assert.is(si.status, 'succeeded');
  assert.equal(si.metadata, { reservation: '42' });
  assert.is(si.payment_method.object, 'payment_method');
  assert.is(si.payment_method.customer, customer.id);
  assert.is(unknown.status, 400);
  assert.equal(((await unknown.json()) as { error: object }).error, {
    type: 'invalid_request_error',
    message: 'Received unknown parameter: colour',
    code: 'parameter_unknown',
    doc_url: 'https://stripe.com/docs/error-codes/parameter-unknown',
    param: 'colour',
  });
});

// ---- customers -----------------------------------------------------------------------------

test('customers: create, retrieve, update merges metadata', async () => {
  // Setup
  const created = await stripe.customers.create({
    email: 'ann@example.test',
    name: 'Ann',
    metadata: { user_id: '7', plan: 'x' },
  });
  // Action
  const fetched = await stripe.customers.retrieve(created.id);
  const updated = await stripe.customers.update(created.id, { name: 'Ann B', metadata: { plan: '' } });
  // Assertions
  assert.match(created.id, /^cus_[A-Za-z0-9]{24}$/);
  assert.is(created.object, 'customer');
  assert.is(created.livemode, false);
  assert.type(created.created, 'number');
  assert.equal(fetched, created);
  assert.is(updated.name, 'Ann B');
  assert.equal(updated.metadata, { user_id: '7' });
});

// ---- setup intents -------------------------------------------------------------------------

test('SetupIntent with pm_card_visa: requires_payment_method → succeeded, card attached as a concrete pm_', async () => {
  // Setup
  const customer = await stripe.customers.create({ email: 'bo@example.test' });
  const si = await stripe.setupIntents.create({
    customer: customer.id,
    usage: 'off_session',
    allowed_payment_method_types: ['card'],
    metadata: { reservation: '42' },
  });
  // Action
  const confirmed = await stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_visa' });
  // Assertions
  assert.match(si.id, /^seti_/);
  assert.is(si.status, 'requires_payment_method');
  assert.ok(si.client_secret!.startsWith(`${si.id}_secret_`));
  assert.is(si.usage, 'off_session');
  assert.equal(si.allowed_payment_method_types, ['card']);
  assert.equal(si.payment_method_types, ['card']);
  assert.equal(si.metadata, { reservation: '42' });
  assert.is(confirmed.status, 'succeeded');
  const pmId = confirmed.payment_method as string;
  assert.match(pmId, /^pm_[A-Za-z0-9]{24}$/);
  const pm = await stripe.paymentMethods.retrieve(pmId);
  assert.is(pm.customer, customer.id);
  assert.is(pm.card!.last4, '4242');
  assert.is(pm.card!.brand, 'visa');
  assert.equal((await stripe.setupIntents.retrieve(si.id)).status, 'succeeded');
});

test('SetupIntent with pm_card_chargeDeclined: 402 StripeCardError, intent back to requires_payment_method', async () => {
  // Setup
  const customer = await stripe.customers.create({});
  const si = await stripe.setupIntents.create({ customer: customer.id, usage: 'off_session' });
  // Action
  const err = await rejection(stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_chargeDeclined' }));
  // Assertions
  assert.instance(err, Stripe.errors.StripeCardError);
  assert.is(err.statusCode, 402);
  assert.is(err.rawType, 'card_error');
  assert.is(err.code, 'card_declined');
  assert.is(err.decline_code, 'generic_decline');
  assert.is(err.setup_intent.id, si.id);
  assert.is(err.setup_intent.status, 'requires_payment_method');
  const after = await stripe.setupIntents.retrieve(si.id);
  assert.is(after.status, 'requires_payment_method');
  assert.is(after.payment_method, null);
  assert.is(after.last_setup_error!.code, 'card_declined');
  assert.is(after.last_setup_error!.payment_method!.customer, null);
});

test('pm_card_authenticationRequired: requires_action → authenticate → succeeded; off-session charge then fails authentication_required', async () => {
  // Setup
  const customer = await stripe.customers.create({});
  const si = await stripe.setupIntents.create({
    customer: customer.id,
    usage: 'off_session',
    payment_method: 'pm_card_authenticationRequired',
    confirm: true,
  });
  assert.is(si.status, 'requires_action');
  assert.is(si.next_action!.type, 'use_stripe_sdk');
  // Action: the browser's 3-D Secure step
  const auth = await helper('POST', `/_emulator/setup_intents/${si.id}/authenticate`);
  const setUp = await stripe.setupIntents.retrieve(si.id);
  const err = await rejection(offSessionCharge(customer.id, setUp.payment_method as string));
  // Assertions
  assert.is(auth.status, 200);
  assert.is(setUp.status, 'succeeded');
  assert.is(setUp.next_action, null);
  assert.instance(err, Stripe.errors.StripeCardError);
  assert.is(err.statusCode, 402);
  assert.is(err.code, 'authentication_required');
  assert.is(err.payment_intent.status, 'requires_payment_method');
  assert.is(err.payment_intent.last_payment_error.code, 'authentication_required');
  const pi = await stripe.paymentIntents.retrieve(err.payment_intent.id);
  assert.is(pi.status, 'requires_payment_method');
});

test('pm_card_chargeCustomerFail: setup succeeds, the later charge is declined', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard('pm_card_chargeCustomerFail');
  // Action
  const err = await rejection(offSessionCharge(customer.id, paymentMethod));
  // Assertions
  assert.instance(err, Stripe.errors.StripeCardError);
  assert.is(err.code, 'card_declined');
  assert.is(err.decline_code, 'generic_decline');
  assert.match(err.charge, /^ch_/);
  assert.is(err.payment_intent.status, 'requires_payment_method');
  const charge = await stripe.charges.retrieve(err.charge);
  assert.is(charge.status, 'failed');
  assert.is(charge.failure_code, 'card_declined');
});

// ---- payment intents -----------------------------------------------------------------------

test('off-session PaymentIntent: succeeded with a latest_charge; listed per customer', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  // Action
  const pi = await offSessionCharge(customer.id, paymentMethod, 2350);
  const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
  const list = await stripe.paymentIntents.list({ customer: customer.id, limit: 10 });
  // Assertions
  assert.match(pi.id, /^pi_/);
  assert.is(pi.status, 'succeeded');
  assert.is(pi.amount, 2350);
  assert.is(pi.amount_received, 2350);
  assert.is(pi.currency, 'usd');
  assert.is(pi.customer, customer.id);
  assert.is(pi.payment_method, paymentMethod);
  assert.equal(pi.metadata, { reservation: '42' });
  assert.match(pi.latest_charge as string, /^ch_/);
  const charge = expanded.latest_charge as Stripe.Charge;
  assert.is(charge.id, pi.latest_charge);
  assert.is(charge.status, 'succeeded');
  assert.is(charge.amount_captured, 2350);
  assert.is(list.object, 'list');
  assert.is(list.url, '/v1/payment_intents');
  assert.is(list.has_more, false);
  assert.equal(
    list.data.map((p) => p.id),
    [pi.id],
  );
});

test('validation: 400 invalid_request_error with param (missing amount, amount too small)', async () => {
  // Action
  const missing = await rejection(
    stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams),
  );
  const small = await rejection(stripe.paymentIntents.create({ amount: 10, currency: 'usd' }));
  // Assertions
  assert.instance(missing, Stripe.errors.StripeInvalidRequestError);
  assert.is(missing.statusCode, 400);
  assert.is(missing.param, 'amount');
  assert.is(small.code, 'amount_too_small');
});

test('on-session 3-D Secure: requires_action with redirect_to_url; opening the URL succeeds and redirects to return_url', async () => {
  // Setup
  const customer = await stripe.customers.create({});
  const pi = await stripe.paymentIntents.create({
    amount: 700,
    currency: 'usd',
    customer: customer.id,
    payment_method: 'pm_card_authenticationRequired',
    confirm: true,
    return_url: 'http://127.0.0.1:5173/pay/return',
  });
  assert.is(pi.status, 'requires_action');
  assert.is(pi.next_action!.type, 'redirect_to_url');
  // Action: what the driver's browser does
  const res = await fetch(pi.next_action!.redirect_to_url!.url!, { redirect: 'manual' });
  const after = await stripe.paymentIntents.retrieve(pi.id);
  // Assertions
  assert.is(res.status, 302);
  const location = new URL(res.headers.get('location')!);
  assert.is(location.pathname, '/pay/return');
  assert.is(location.searchParams.get('payment_intent'), pi.id);
  assert.is(location.searchParams.get('redirect_status'), 'succeeded');
  assert.is(after.status, 'succeeded');
  assert.match(after.latest_charge as string, /^ch_/);
});

test('3-D Secure failed on a SetupIntent: back to requires_payment_method with setup_intent_authentication_failure', async () => {
  // Setup
  const customer = await stripe.customers.create({});
  const si = await stripe.setupIntents.create({
    customer: customer.id,
    payment_method: 'pm_card_authenticationRequired',
    confirm: true,
  });
  // Action
  const res = await helper('POST', `/_emulator/setup_intents/${si.id}/authenticate`, { outcome: 'fail' });
  // Assertions
  assert.is(res.status, 200);
  const after = await stripe.setupIntents.retrieve(si.id);
  assert.is(after.status, 'requires_payment_method');
  assert.is(after.last_setup_error!.code, 'setup_intent_authentication_failure');
  const again = await helper('POST', `/_emulator/setup_intents/${si.id}/authenticate`);
  assert.is(again.status, 400);
});

test('pm_card_authenticationRequiredOnSetup: once set up off-session, off-session charges succeed', async () => {
  // Setup
  const customer = await stripe.customers.create({});
  const si = await stripe.setupIntents.create({
    customer: customer.id,
    usage: 'off_session',
    payment_method: 'pm_card_authenticationRequiredOnSetup',
    confirm: true,
  });
  await helper('POST', `/_emulator/setup_intents/${si.id}/authenticate`);
  const pmId = (await stripe.setupIntents.retrieve(si.id)).payment_method as string;
  // Action
  const pi = await offSessionCharge(customer.id, pmId);
  // Assertions
  assert.is(pi.status, 'succeeded');
});

// ---- idempotency ---------------------------------------------------------------------------

test('idempotency: the same key twice gives the same PaymentIntent and one charge; another body is an error', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  const before = emulator.state().charges.total;
  // Action
  const first = await offSessionCharge(customer.id, paymentMethod, 1500, { idempotencyKey: 'charge-res-1' });
  const second = await offSessionCharge(customer.id, paymentMethod, 1500, { idempotencyKey: 'charge-res-1' });
  const conflict = await rejection(
    offSessionCharge(customer.id, paymentMethod, 9900, { idempotencyKey: 'charge-res-1' }),
  );
  // Assertions
  assert.is(second.id, first.id);
  assert.is(second.latest_charge, first.latest_charge);
  assert.is(emulator.state().charges.total - before, 1);
  assert.instance(conflict, Stripe.errors.StripeIdempotencyError);
  assert.is(conflict.statusCode, 400);
});

test('idempotency: a replayed card error is the same 402 and charges nothing more', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard('pm_card_chargeCustomerFail');
  const before = emulator.state().charges.total;
  // Action
  const a = await rejection(offSessionCharge(customer.id, paymentMethod, 1500, { idempotencyKey: 'decline-1' }));
  const b = await rejection(offSessionCharge(customer.id, paymentMethod, 1500, { idempotencyKey: 'decline-1' }));
  // Assertions
  assert.is(b.statusCode, 402);
  assert.is(b.payment_intent.id, a.payment_intent.id);
  assert.is(emulator.state().charges.total - before, 1);
});

// ---- faults --------------------------------------------------------------------------------

test('fault error_before: 500 api_error and nothing created', async () => {
  // Setup
  const before = emulator.state().customers;
  await helper('POST', '/_emulator/faults', { method: 'POST', path: '/v1/customers', mode: 'error_before', count: 1 });
  // Action
  const err = await rejection(stripe.customers.create({ email: 'x@example.test' }));
  // Assertions
  assert.instance(err, Stripe.errors.StripeAPIError);
  assert.is(err.statusCode, 500);
  assert.is(emulator.state().customers, before);
});

test('fault error_after: the SDK retries with its key and gets the original result; one charge', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  const before = emulator.state();
  const { status } = await helper('POST', '/_emulator/faults', {
    method: 'POST',
    path: '/v1/payment_intents',
    mode: 'error_after',
    count: 1,
  });
  const retrying = client({ maxNetworkRetries: 1 });
  // Action
  const pi = await retrying.paymentIntents.create(
    {
      amount: 1800,
      currency: 'usd',
      customer: customer.id,
      payment_method: paymentMethod,
      off_session: true,
      confirm: true,
    },
    { idempotencyKey: 'reservation-99-final' },
  );
  // Assertions
  assert.is(status, 200);
  assert.is(pi.status, 'succeeded');
  const after = emulator.state();
  assert.is(after.faults.fired - before.faults.fired, 1);
  assert.is(after.charges.total - before.charges.total, 1);
  assert.is(after.payment_intents.total - before.payment_intents.total, 1);
});

test('fault error_after without SDK retries: the caller sees 500, a retry with the same key gets the stored result', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  emulator.addFault({ method: 'POST', path: '/v1/payment_intents', mode: 'error_after' });
  const before = emulator.state().charges.total;
  // Action
  const err = await rejection(offSessionCharge(customer.id, paymentMethod, 1500, { idempotencyKey: 'manual-retry-1' }));
  const retried = await offSessionCharge(customer.id, paymentMethod, 1500, { idempotencyKey: 'manual-retry-1' });
  // Assertions
  assert.instance(err, Stripe.errors.StripeAPIError);
  assert.is(retried.status, 'succeeded');
  assert.is(emulator.state().charges.total - before, 1);
  const list = await stripe.paymentIntents.list({ customer: customer.id });
  assert.equal(
    list.data.map((p) => p.id),
    [retried.id],
  );
});

test('fault timeout: the SDK gives up (StripeConnectionError) although the charge happened; the same key then returns it', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  emulator.addFault({ method: 'POST', path: '/v1/payment_intents', mode: 'timeout' });
  const impatient = client({ timeout: 300 });
  const before = emulator.state().charges.total;
  // Action
  const err = await rejection(
    impatient.paymentIntents.create(
      {
        amount: 1500,
        currency: 'usd',
        customer: customer.id,
        payment_method: paymentMethod,
        off_session: true,
        confirm: true,
      },
      { idempotencyKey: 'timeout-1' },
    ),
  );
  const retried = await impatient.paymentIntents.create(
    {
      amount: 1500,
      currency: 'usd',
      customer: customer.id,
      payment_method: paymentMethod,
      off_session: true,
      confirm: true,
    },
    { idempotencyKey: 'timeout-1' },
  );
  // Assertions
  assert.instance(err, Stripe.errors.StripeConnectionError);
  assert.is(retried.status, 'succeeded');
  assert.is(emulator.state().charges.total - before, 1);
});

test('close() returns while a timeout fault holds a socket', async () => {
  // Setup
  const other = await startStripeEmulator();
  other.addFault({ path: '/v1/customers', mode: 'timeout' });
  const pending = fetch(`${other.url}/v1/customers`, {
    method: 'POST',
    headers: { Authorization: 'Bearer sk_test_x' },
  }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 100));
  // Action
  const started = Date.now();
  await other.close();
  // Assertions
  assert.ok(Date.now() - started < 1000);
  assert.instance(await pending, Error);
  assert.is(other.state().customers, 1);
});

// ---- refunds -------------------------------------------------------------------------------

test('refunds: partial, then the rest; more than remains is a 400; the charge shows amount_refunded', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  const pi = await offSessionCharge(customer.id, paymentMethod, 3000);
  // Action
  const partial = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
  const tooMuch = await rejection(stripe.refunds.create({ payment_intent: pi.id, amount: 2500 }));
  const rest = await stripe.refunds.create({ payment_intent: pi.id });
  const again = await rejection(stripe.refunds.create({ payment_intent: pi.id }));
  const charge = await stripe.charges.retrieve(pi.latest_charge as string);
  // Assertions
  assert.match(partial.id, /^re_/);
  assert.is(partial.amount, 1000);
  assert.is(partial.status, 'succeeded');
  assert.is(partial.payment_intent, pi.id);
  assert.equal(await stripe.refunds.retrieve(partial.id), partial);
  assert.instance(tooMuch, Stripe.errors.StripeInvalidRequestError);
  assert.is(tooMuch.statusCode, 400);
  assert.is(tooMuch.param, 'amount');
  assert.is(tooMuch.code, 'amount_too_large');
  assert.is(rest.amount, 2000);
  assert.is(again.code, 'charge_already_refunded');
  assert.is(charge.amount_refunded, 3000);
  assert.is(charge.refunded, true);
});

// ---- webhooks and events -------------------------------------------------------------------

test('webhooks: signed events verify with stripe.webhooks.constructEvent; a tampered payload does not', async () => {
  // Setup
  const { customer, paymentMethod } = await customerWithCard();
  const pi = await offSessionCharge(customer.id, paymentMethod);
  // Action
  await emulator.waitForWebhooks();
  const [delivery] = receiver.eventsFor(pi.id).filter(({ event }) => event.type === 'payment_intent.succeeded');
  // Assertions
  assert.ok(delivery, 'payment_intent.succeeded was delivered');
  const event = stripe.webhooks.constructEvent(delivery!.raw.raw, delivery!.raw.signature, WEBHOOK_SECRET);
  assert.match(event.id, /^evt_/);
  assert.is(event.type, 'payment_intent.succeeded');
  assert.is(event.api_version, '2026-10-28.endive');
  assert.is((event.data.object as Stripe.PaymentIntent).status, 'succeeded');
  assert.equal(await stripe.events.retrieve(event.id), { ...event, pending_webhooks: 0 });
  const tampered = delivery!.raw.raw.replace('"succeeded"', '"canceled"');
  assert.throws(
    () => stripe.webhooks.constructEvent(tampered, delivery!.raw.signature, WEBHOOK_SECRET),
    (e: unknown) => e instanceof Stripe.errors.StripeSignatureVerificationError,
  );
  assert.throws(() => stripe.webhooks.constructEvent(delivery!.raw.raw, delivery!.raw.signature, 'whsec_wrong'));
});

test('webhooks: setup_intent.succeeded / setup_failed and payment_intent.payment_failed are sent', async () => {
  // Setup
  const customer = await stripe.customers.create({});
  const ok = await stripe.setupIntents.create({ customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
  const bad = await stripe.setupIntents.create({ customer: customer.id });
  await rejection(stripe.setupIntents.confirm(bad.id, { payment_method: 'pm_card_chargeDeclined' }));
  const failed = await rejection(
    stripe.paymentIntents.create({
      amount: 900,
      currency: 'eur',
      customer: customer.id,
      payment_method: 'pm_card_chargeDeclined',
      off_session: true,
      confirm: true,
    }),
  );
  // Action
  await emulator.waitForWebhooks();
  // Assertions
  assert.equal(
    receiver.eventsFor(ok.id).map(({ event }) => event.type),
    ['setup_intent.succeeded'],
  );
  assert.equal(
    receiver.eventsFor(bad.id).map(({ event }) => event.type),
    ['setup_intent.setup_failed'],
  );
  assert.equal(
    receiver.eventsFor(failed.payment_intent.id).map(({ event }) => event.type),
    ['payment_intent.payment_failed'],
  );
  const listed = await stripe.events.list({ type: 'setup_intent.setup_failed', limit: 1 });
  assert.is((listed.data[0]!.data.object as Stripe.SetupIntent).id, bad.id);
});

test('webhooks: a failing endpoint is retried; resend re-delivers the same event', async () => {
  // Setup
  await emulator.waitForWebhooks();
  receiver.failNext = 2;
  const customer = await stripe.customers.create({});
  const si = await stripe.setupIntents.create({ customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
  await emulator.waitForWebhooks();
  const [first] = receiver.eventsFor(si.id);
  // Action
  const resend = await helper('POST', `/_emulator/events/${first!.event.id}/resend`);
  await emulator.waitForWebhooks();
  const deliveries = await helper('GET', `/_emulator/events/${first!.event.id}/deliveries`);
  // Assertions
  assert.is(resend.status, 200);
  assert.equal(
    deliveries.json.data.map((d: { status: number }) => d.status),
    [500, 500, 200, 200],
  );
  const received = receiver.eventsFor(si.id);
  assert.is(received.length, 2);
  assert.is(received[1]!.event.id, first!.event.id);
  stripe.webhooks.constructEvent(received[1]!.raw.raw, received[1]!.raw.signature, WEBHOOK_SECRET);
});

// ---- errors --------------------------------------------------------------------------------

test('unknown ids: 404 resource_missing', async () => {
  // Action
  const cus = await rejection(stripe.customers.retrieve('cus_doesnotexist'));
  const pi = await rejection(stripe.paymentIntents.retrieve('pi_doesnotexist'));
  const pmParam = await rejection(stripe.setupIntents.create({ payment_method: 'pm_doesnotexist', confirm: true }));
  // Assertions
  assert.instance(cus, Stripe.errors.StripeInvalidRequestError);
  assert.is(cus.statusCode, 404);
  assert.is(cus.code, 'resource_missing');
  assert.is(cus.message, "No such customer: 'cus_doesnotexist'");
  assert.is(pi.statusCode, 404);
  assert.is(pmParam.statusCode, 400);
  assert.is(pmParam.param, 'payment_method');
});

test('API key: missing → 401; not a test key → StripeAuthenticationError', async () => {
  // Action
  const res = await fetch(`${emulator.url}/v1/customers`);
  const body = (await res.json()) as { error: { type: string; message: string } };
  const err = await rejection(
    new Stripe('sk_live_nope', { ...emulator.stripeConfig, maxNetworkRetries: 0 }).customers.list(),
  );
  // Assertions
  assert.is(res.status, 401);
  assert.is(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, 'You did not provide an API key');
  assert.instance(err, Stripe.errors.StripeAuthenticationError);
  assert.is(err.statusCode, 401);
});

test('state and reset', async () => {
  // Setup
  const other = await startStripeEmulator();
  const s = new Stripe('sk_test_x', { ...other.stripeConfig, maxNetworkRetries: 0 });
  await s.customers.create({});
  // Action
  const before = (await fetch(`${other.url}/_emulator/state`).then((r) => r.json())) as { customers: number };
  await fetch(`${other.url}/_emulator/reset`, { method: 'POST' });
  const after = other.state();
  await other.close();
  // Assertions
  assert.is(before.customers, 1);
  assert.is(after.customers, 0);
  assert.is(after.events.total, 0);
});

test.run();
