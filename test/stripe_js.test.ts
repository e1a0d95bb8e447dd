// Card set-up as a browser does it, against the emulator: its Stripe.js-compatible script
// (GET /v3/) with a publishable key and the SetupIntent's client secret — test payment method
// ids, typed test card numbers in the card element, declines, 3-D Secure — and what a
// publishable key may not do: another intent's secret, other endpoints, live keys.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../stripe-emulator/index.ts';
import { loadStripeJs } from './helpers/stripe_js.ts';

const PK = 'pk_test_browser';
let emulator: StripeEmulator;
let stripe: Stripe;

test.before(async () => {
  emulator = await startStripeEmulator();
  stripe = new Stripe('sk_test_server', { ...emulator.stripeConfig, maxNetworkRetries: 0 });
});

test.after(async () => {
  await emulator?.close();
});

/** What the server does before the browser's part: a customer and an off-session SetupIntent. */
async function serverSetupIntent(): Promise<Stripe.SetupIntent> {
  const customer = await stripe.customers.create({ email: 'driver@example.test' });
  return stripe.setupIntents.create({ customer: customer.id, usage: 'off_session' });
}

/** A form-encoded call as Stripe.js makes it: the publishable key as the `key` parameter. */
async function browserCall(method: 'GET' | 'POST', path: string, params: Record<string, string>) {
  const body = new URLSearchParams({ key: PK, ...params }).toString();
  const res =
    method === 'GET'
      ? await fetch(`${emulator.url}${path}?${body}`)
      : await fetch(`${emulator.url}${path}`, {
          method,
          body,
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://web.example.test' },
        });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

test('the script is served at /v3/ as JavaScript', async () => {
  const res = await fetch(`${emulator.url}/v3/`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^application\/javascript/);
  assert.match(
    await res.text(),
    new RegExp(`"${emulator.url.replace(/[.]/g, '\\.')}"`),
    'calls go back to the emulator',
  );
});

test('confirmCardSetup with a test payment method id: succeeded, the card is on the intent', async () => {
  const si = await serverSetupIntent();
  const { Stripe: StripeJs } = await loadStripeJs(`${emulator.url}/v3/`);
  const result = await StripeJs(PK).confirmCardSetup(si.client_secret, { payment_method: 'pm_card_visa' });
  assert.is(result.error, undefined, JSON.stringify(result.error));
  assert.is(result.setupIntent.status, 'succeeded');
  const after = await stripe.setupIntents.retrieve(si.id, { expand: ['payment_method'] });
  assert.is(after.status, 'succeeded');
  assert.is((after.payment_method as Stripe.PaymentMethod).card?.last4, '4242');
  assert.is((after.payment_method as Stripe.PaymentMethod).customer, si.customer, 'attached to the customer');
});

test("the card element: a typed test number sets up that card; a declining one answers Stripe's error", async () => {
  const page = await loadStripeJs(`${emulator.url}/v3/`);
  const js = page.Stripe(PK);
  const card = js.elements().create('card');
  const changes: any[] = [];
  card.on('change', (e: unknown) => changes.push(e));
  card.mount('#card');
  const slot = page.cardSlot.children[0];
  slot.input('number').type('4000 0025 0000 3155'); // 3-D Secure on set-up, then off-session payments succeed
  slot.input('expiry').type('12 / 34');
  slot.input('cvc').type('123');
  assert.is(changes.at(-1).complete, true);
  const si = await serverSetupIntent();
  const ok = await js.confirmCardSetup(si.client_secret, { payment_method: { card } });
  assert.is(ok.error, undefined, JSON.stringify(ok.error));
  assert.is(ok.setupIntent.status, 'succeeded', 'authenticated (the person said yes)');
  const pm = await stripe.paymentMethods.retrieve(ok.setupIntent.payment_method);
  assert.equal([pm.card?.last4, pm.card?.exp_month, pm.card?.exp_year], ['3155', 12, 2034]);

  slot.input('number').type('4000 0000 0000 0002');
  const declinedIntent = await serverSetupIntent();
  const declined = await js.confirmCardSetup(declinedIntent.client_secret, { payment_method: { card } });
  assert.equal([declined.error?.type, declined.error?.code], ['card_error', 'card_declined']);
  assert.is(declined.error.setup_intent.status, 'requires_payment_method');

  slot.input('number').type('4242 4242 4242 4241');
  const typo = await js.confirmCardSetup(declinedIntent.client_secret, { payment_method: { card } });
  assert.is(typo.error?.code, 'incorrect_number');
  assert.is((await stripe.setupIntents.retrieve(declinedIntent.id)).status, 'requires_payment_method', 'unchanged');
});

test("3-D Secure refused by the person → Stripe's authentication failure, nothing set up", async () => {
  const si = await serverSetupIntent();
  const { Stripe: StripeJs } = await loadStripeJs(`${emulator.url}/v3/`, () => false);
  const result = await StripeJs(PK).confirmCardSetup(si.client_secret, {
    payment_method: 'pm_card_authenticationRequiredOnSetup',
  });
  assert.is(result.error?.code, 'setup_intent_authentication_failure');
  assert.is((await stripe.setupIntents.retrieve(si.id)).status, 'requires_payment_method');
});

test('a publishable key works only with the intent whose client secret it presents', async () => {
  const mine = await serverSetupIntent();
  const theirs = await serverSetupIntent();
  // My secret against their intent: refused, their intent untouched.
  const confirm = await browserCall('POST', `/v1/setup_intents/${theirs.id}/confirm`, {
    client_secret: mine.client_secret!,
    payment_method: 'pm_card_visa',
  });
  assert.is(confirm.status, 400);
  assert.equal([confirm.body.error.type, confirm.body.error.param], ['invalid_request_error', 'client_secret']);
  const read = await browserCall('GET', `/v1/setup_intents/${theirs.id}`, { client_secret: mine.client_secret! });
  assert.is(read.status, 400);
  const bare = await browserCall('GET', `/v1/setup_intents/${theirs.id}`, {});
  assert.is(bare.status, 400, 'no secret at all');
  // The script, handed a secret made up from their id and my secret part.
  const { Stripe: StripeJs } = await loadStripeJs(`${emulator.url}/v3/`);
  const forged = `${theirs.id}_secret_${mine.client_secret!.split('_secret_')[1]}`;
  const result = await StripeJs(PK).confirmCardSetup(forged, { payment_method: 'pm_card_visa' });
  assert.is(result.error?.param, 'client_secret');
  const after = await stripe.setupIntents.retrieve(theirs.id);
  assert.equal([after.status, after.payment_method], ['requires_payment_method', null]);
  // With the right secret, the browser's call goes through, with a CORS header for the page.
  const right = await browserCall('POST', `/v1/setup_intents/${mine.id}/confirm`, {
    client_secret: mine.client_secret!,
    payment_method: 'pm_card_visa',
  });
  assert.is(right.status, 200);
  assert.is(right.body.status, 'succeeded');
  assert.is(right.headers.get('access-control-allow-origin'), '*');
});

test("CORS: Stripe's routes answer a page of another origin; the /_emulator/ helpers do not", async () => {
  const origin = { origin: 'http://evil.example.test' };
  // Stripe.js's calls, and a preflight for other clients (as Stripe answers them).
  const preflight = await fetch(`${emulator.url}/v1/setup_intents/seti_x/confirm`, {
    method: 'OPTIONS',
    headers: { ...origin, 'access-control-request-method': 'POST' },
  });
  assert.is(preflight.status, 204);
  assert.is(preflight.headers.get('access-control-allow-origin'), '*');
  const api = await fetch(`${emulator.url}/v1/setup_intents/seti_x?key=${PK}`, { headers: origin });
  assert.is(api.headers.get('access-control-allow-origin'), '*');
  // The helpers: state (every object's id), reset, faults, webhook endpoint, the 3-D Secure step.
  const before = emulator.state().customers;
  for (const [method, path] of [
    ['GET', '/_emulator/state'],
    ['GET', '/_emulator/faults'],
    ['POST', '/_emulator/setup_intents/seti_x/authenticate'],
    ['OPTIONS', '/_emulator/reset'],
    ['OPTIONS', '/_emulator/webhook'],
  ] as const) {
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      headers: { ...origin, ...(method === 'OPTIONS' ? { 'access-control-request-method': 'POST' } : {}) },
    });
    await res.arrayBuffer();
    const allowed = [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));
    assert.equal(allowed, [], `${method} ${path}`);
  }
  assert.is(emulator.state().customers, before, 'no reset ran');
});

test('a page cannot run the /_emulator/ helpers: a request with an Origin header is refused 403', async () => {
  const page = { origin: 'http://evil.example.test' };
  const clock = async () => ((await (await fetch(`${emulator.url}/_emulator/clock`)).json()) as { now: number }).now;
  const before = await clock();
  // A "simple" request (text/plain, no preflight): the browser sends it, the answer is unread.
  const advance = await fetch(`${emulator.url}/_emulator/clock`, {
    method: 'POST',
    headers: { ...page, 'content-type': 'text/plain' },
    body: JSON.stringify({ advance_seconds: 86_400 }),
  });
  assert.is(advance.status, 403);
  assert.is(((await advance.json()) as any).error.type, 'invalid_request_error');
  assert.is(advance.headers.get('access-control-allow-origin'), null);
  assert.ok((await clock()) - before < 3_600, 'the clock did not move a day');
  const customers = emulator.state().customers;
  const limits = emulator.state().rate_limits.limits;
  assert.ok(customers > 0);
  for (const [method, path, body] of [
    ['POST', '/_emulator/reset', ''],
    ['POST', '/_emulator/faults', '{"path":"/v1/customers","mode":"error_before"}'],
    ['POST', '/_emulator/rate_limits', '{"profile":"live"}'],
    ['POST', '/_emulator/webhook', '{"url":"http://evil.example.test/hook"}'],
    ['GET', '/_emulator/state', ''],
  ] as const) {
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      headers: { ...page, 'content-type': 'text/plain' },
      ...(method === 'POST' ? { body } : {}),
    });
    await res.arrayBuffer();
    assert.is(res.status, 403, `${method} ${path}`);
  }
  const state = emulator.state();
  assert.is(state.customers, customers, 'no reset ran');
  assert.is(state.faults.pending, 0, 'no fault was added');
  assert.equal(state.rate_limits.limits, limits, 'the rate limits are unchanged');
  assert.is(state.webhooks.endpoint, null, 'no webhook endpoint was set');
  // The same helpers still answer a client without an Origin (tests, the CLI).
  const ok = await fetch(`${emulator.url}/_emulator/clock`, { method: 'POST', body: '{"advance_seconds":0}' });
  assert.is(ok.status, 200);
});

test("Stripe.js's 3-D Secure step, from the page (Origin, no-cors POST), still runs", async () => {
  const si = await serverSetupIntent();
  const pending = await browserCall('POST', `/v1/setup_intents/${si.id}/confirm`, {
    client_secret: si.client_secret!,
    payment_method: 'pm_card_authenticationRequiredOnSetup',
  });
  assert.is(pending.body.status, 'requires_action');
  const res = await fetch(`${emulator.url}/_emulator/setup_intents/${si.id}/authenticate?outcome=succeed`, {
    method: 'POST',
    headers: { origin: 'http://web.example.test' },
  });
  await res.arrayBuffer();
  assert.is(res.status, 200);
  assert.is(res.headers.get('access-control-allow-origin'), null, 'its answer stays unreadable to the page');
  assert.is((await stripe.setupIntents.retrieve(si.id)).status, 'succeeded');
});

test('a secret key from a web page (Origin header) is refused 403; a publishable key from one works', async () => {
  const page = { origin: 'http://evil.example.test' };
  const before = emulator.state().customers;
  const customer = await stripe.customers.create({ email: 'victim@example.test' });
  for (const [what, init] of [
    ['Bearer header, GET', { headers: { ...page, authorization: 'Bearer sk_test_guessed' } }],
    ['Basic header, GET', { headers: { ...page, authorization: `Basic ${btoa('sk_test_guessed:')}` } }],
    ['restricted key', { headers: { ...page, authorization: 'Bearer rk_test_guessed' } }],
  ] as const) {
    const res = await fetch(`${emulator.url}/v1/customers/${customer.id}`, init);
    const body = (await res.json()) as any;
    assert.is(res.status, 403, what);
    assert.is(body.error.type, 'invalid_request_error', what);
    assert.match(body.error.message, /Secret API keys .* are for servers, not browsers/, what);
    assert.match(body.error.message, /publishable key/, what);
    assert.not.match(JSON.stringify(body), /victim@example\.test/, what);
  }
  // The key as a form parameter, in a text/plain POST (no preflight): refused, nothing made.
  const create = await fetch(`${emulator.url}/v1/customers`, {
    method: 'POST',
    headers: { ...page, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'key=sk_test_guessed&email=x@example.test',
  });
  assert.is(create.status, 403);
  await create.arrayBuffer();
  const refund = await fetch(`${emulator.url}/v1/refunds`, {
    method: 'POST',
    headers: { ...page, authorization: 'Bearer sk_test_guessed', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'charge=ch_x',
  });
  assert.is(refund.status, 403);
  await refund.arrayBuffer();
  assert.is(emulator.state().customers, before + 1, "only the server's customer was made");
  // The publishable key, with an Origin: Stripe.js's calls still go through.
  const si = await serverSetupIntent();
  const read = await fetch(
    `${emulator.url}/v1/setup_intents/${si.id}?key=${PK}&client_secret=${encodeURIComponent(si.client_secret!)}`,
    { headers: page },
  );
  assert.is(read.status, 200);
  assert.is(read.headers.get('access-control-allow-origin'), '*');
  assert.is(((await read.json()) as any).id, si.id);
  // The same secret key without an Origin (a server, the Node SDK) works.
  const server = new Stripe('sk_test_guessed', { ...emulator.stripeConfig, maxNetworkRetries: 0 });
  assert.is((await server.customers.retrieve(customer.id)).id, customer.id);
});

test('a publishable key cannot do what a secret key does; live and malformed keys are refused', async () => {
  const before = emulator.state().customers;
  const customers = await browserCall('POST', '/v1/customers', { email: 'x@example.test' });
  assert.is(customers.status, 401);
  assert.match(customers.body.error.message, /publishable API key/);
  const si = await serverSetupIntent();
  const cancel = await browserCall('POST', `/v1/setup_intents/${si.id}/cancel`, { client_secret: si.client_secret! });
  assert.is(cancel.status, 401);
  const list = await browserCall('GET', '/v1/setup_intents', {});
  assert.is(list.status, 401);
  const live = await fetch(`${emulator.url}/v1/payment_methods`, { method: 'POST', body: 'key=pk_live_abc&type=card' });
  assert.is(live.status, 401);
  assert.is(emulator.state().customers, before + 1, "only the server's customer was made");
});

test.run();
