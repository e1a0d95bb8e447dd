// README's driver path, followed literally over HTTP — paymentConfig, spotsNear, register (or a
// guest), reserve, setupReservationPayment, the browser's card set-up through the emulator's
// Stripe.js (loaded from paymentConfig.stripeJsUrl), confirmReservationPayment — then the
// worker ends the stay, charges it off-session and the receipt email arrives. A 2-minute stay
// (a guest, the card element) and a 2-hour one (a signed-in driver, a test card id). The stay's
// end is brought to now in SQL (its whole period moved back, its length kept), as time passing would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { startEmulator, startTestWorker, useEmulatorInEnv, waitFor, type TestWorker } from './helpers/payments.ts';
import { loadStripeJs } from './helpers/stripe_js.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { closeMailTransports } from '../lib/mail_transport.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;
let smtp: SmtpSink;
let worker: TestWorker;
const [LAT, LNG] = [40.7527, -73.9772];

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  smtp = await startSmtpSink();
  emulator = await startEmulator();
  useEmulatorInEnv(emulator);
  Object.assign(process.env, {
    SMTP_HOST: smtp.host,
    SMTP_PORT: String(smtp.port),
    WEB_URL: 'https://app.example.test',
  });
  delete process.env.STRIPE_JS_URL; // the emulator's, as under npm start
  api = await startApi(db);
  emulator.setWebhook(`${api.url}/webhooks/stripe`);
  worker = await startTestWorker(db);
  // 6.00 an hour: two minutes would be 20¢, below Stripe's 50¢.
  const rate = await createRate(db, { hourlyPrice: 600 });
  await createSpot(db, { lat: LAT, lng: LNG, rateId: rate, street: 'E 42 St' });
});

test.after(async () => {
  await worker?.stop();
  await api?.close();
  closeMailTransports();
  await emulator?.close();
  await smtp?.close();
  await db?.close();
});

/** A GraphQL call that must succeed. */
async function gql<T = any>(
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await api.gql<T>(query, variables, headers);
  assert.equal(res.errors, undefined, `${query.slice(0, 60)}: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

interface Stay {
  minutes: number;
  guest: boolean;
  card: 'element' | 'pm_card_visa';
  expected: string;
}

async function drive({ minutes, guest, card, expected }: Stay): Promise<void> {
  // 0. How this deployment takes cards.
  const { paymentConfig } = await gql(`query { paymentConfig { publishableKey stripeJsUrl testMode } }`);
  assert.equal(paymentConfig.stripeJsUrl, `${emulator.url}/v3/`);
  assert.is(paymentConfig.testMode, true);

  // 1. Search: a window from now.
  const startsAt = new Date();
  const endsAt = new Date(startsAt.getTime() + minutes * 60e3);
  const { spotsNear } = await gql(
    `query ($startsAt: Datetime, $endsAt: Datetime) {
    spotsNear(lat: ${LAT}, lng: ${LNG}, radius: 0.5, unit: km, startsAt: $startsAt, endsAt: $endsAt, first: 10) {
      nodes { distance price { amount currency } spot { rowId lat lng description maxStay { hours } } } } }`,
    { startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString() },
  );
  const found = spotsNear.nodes[0];
  assert.ok(found, 'a spot is free');

  // 2. Sign up, or stay a guest.
  let headers: Record<string, string> = {};
  const email = `${guest ? 'guest' : 'driver'}.${minutes}@example.test`;
  if (!guest) {
    const { register } = await gql(
      `mutation ($email: String!) {
      register(input: { email: $email, name: "Ada", password: "a long passphrase" }) { result { token user { rowId email isVerified } } } }`,
      { email },
    );
    assert.is(register.result.user.email, email);
    headers = { authorization: `Bearer ${register.result.token}` };
  }

  // 3. Hold it.
  const { reserve } = await gql(
    `mutation ($spotId: BigInt!, $minutes: Int!, $email: String) {
    reserve(input: { spotId: $spotId, durationMinutes: $minutes, email: $email }) {
      result { reservation { rowId status amount currency holdExpiresAt } manageToken } } }`,
    { spotId: found.spot.rowId, minutes, email: guest ? email : null },
    headers,
  );
  const reservation = reserve.result.reservation;
  const manageToken: string | null = reserve.result.manageToken;
  assert.equal(
    [reservation.status, reservation.amount, reservation.currency],
    ['held', found.price.amount, found.price.currency],
    'held at the searched price',
  );
  assert.is(manageToken !== null, guest, 'a token for a guest only');

  // 4. Start the card set-up.
  const { setupReservationPayment } = await gql(
    `mutation ($id: BigInt!, $token: String) {
    setupReservationPayment(input: { reservationId: $id, manageToken: $token }) { clientSecret setupIntentStatus } }`,
    { id: reservation.rowId, token: manageToken },
    headers,
  );
  assert.is(setupReservationPayment.setupIntentStatus, 'requires_payment_method');

  // 5. The browser: Stripe.js from stripeJsUrl, the publishable key, the client secret.
  const page = await loadStripeJs(paymentConfig.stripeJsUrl);
  const stripe = page.Stripe(paymentConfig.publishableKey);
  let paymentMethod: unknown = 'pm_card_visa';
  if (card === 'element') {
    const element = stripe.elements().create('card');
    element.mount('#card');
    const inputs = page.cardSlot.children[0];
    inputs.input('number').type('4242 4242 4242 4242');
    inputs.input('expiry').type('12 / 34');
    inputs.input('cvc').type('123');
    paymentMethod = { card: element };
  }
  const { setupIntent, error } = await stripe.confirmCardSetup(setupReservationPayment.clientSecret, {
    payment_method: paymentMethod,
  });
  assert.is(error, undefined, JSON.stringify(error));
  assert.is(setupIntent.status, 'succeeded');

  // 6. Confirm.
  const { confirmReservationPayment } = await gql(
    `mutation ($id: BigInt!, $token: String) {
    confirmReservationPayment(input: { reservationId: $id, manageToken: $token }) { reservationStatus setupIntentStatus } }`,
    { id: reservation.rowId, token: manageToken },
    headers,
  );
  assert.equal(confirmReservationPayment, { reservationStatus: 'confirmed', setupIntentStatus: 'succeeded' });

  // The stay runs its course: the whole period moved back so that it ends now (its length kept);
  // the worker's end job, moved with it, ends it and charges it.
  await db.owner.query(
    `update app_public.reservations set period = tstzrange(lower(period) - (upper(period) - now()), now()) where id = $1`,
    [reservation.rowId],
  );
  const receipt = await waitFor(
    async () => smtp.messages.find((m) => m.template === 'receipt' && m.to.includes(email)),
    60_000,
    `receipt of the ${minutes}-minute stay`,
  );
  assert.match(
    receipt.subject,
    new RegExp(`Receipt for reservation #${reservation.rowId}: ${expected.replace('$', '\\$')}`),
  );
  assert.match(receipt.decoded, /E 42 St/);
  const {
    rows: [charge],
  } = await db.owner.query(
    `select c.status, c.amount, r.status::text as reservation from app_private.charges c
     join app_public.reservations r on r.id = c.reservation_id where c.reservation_id = $1`,
    [reservation.rowId],
  );
  assert.equal(
    charge,
    { status: 'succeeded', amount: found.price.amount, reservation: 'completed' },
    'charged what was quoted',
  );
  const intents = emulator.store.paymentIntents.all.filter(
    (pi) => pi.metadata?.reservation_id === String(reservation.rowId),
  );
  assert.equal(
    intents.map((pi) => [pi.amount, pi.status]),
    [[found.price.amount, 'succeeded']],
  );
}

test('a 2-minute stay, as a guest, card typed into the card element: quoted $0.50, charged $0.50, receipt', async () => {
  await drive({ minutes: 2, guest: true, card: 'element', expected: '$0.50' });
});

test('a 2-hour stay, signed up, a test card id: quoted $12.00, charged $12.00, receipt', async () => {
  await drive({ minutes: 120, guest: false, card: 'pm_card_visa', expected: '$12.00' });
});

test.run();
