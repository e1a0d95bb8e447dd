// Fixtures for payment and email tests: reservations made by booking's own
// reserve() (a guest's gets the manage token reserve() returns; the price is
// the rate's quote), the end of a reservation as booking does it, the Stripe
// emulator wired to the API's webhook route, the browser's part of a card
// set-up, and polling helpers.
import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../stripe-emulator/index.ts';
import { stripeClient, type StripeConfig } from '../../lib/stripe_client.ts';
import { closeMailTransports } from '../../lib/mail_transport.ts';
import { startSmtpSink, type SmtpSink } from './smtp_sink.ts';
import { TEST_WEB_URL } from './outbox.ts';
import type { Runner } from 'graphile-worker';
import * as assert from 'uvu/assert';
import { paymentOperations, type Db } from '../../server/plugins/payments.ts';
import { ownerTx } from '../../server/owner_sql.ts';
import { makeWorkerPool, startWorker, type WorkerOptions } from '../../worker/runner.ts';
import { createRate, createSpot } from './spots.ts';
import { ANON, createUser, identityOf, type Identity, type TestDb } from './db.ts';
import { reserve } from './reservations.ts';

export const WEBHOOK_SECRET = 'whsec_test_payments';

export async function waitFor<T>(
  check: () => Promise<T | false | null | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ReservationProps {
  /** Who reserves: a guest (the default, with `email`) or a signed-in user's identity. */
  as?: Identity;
  email?: string;
  spotId?: string;
  /** The rate of a new spot (minor units per hour), when no spotId is given. */
  hourlyPrice?: number;
  minimumCharge?: number;
  currency?: string;
  /** Minutes from now to the start; 0 (the default) starts now. */
  startsIn?: number;
  durationMinutes?: number;
}

export interface Made {
  id: string;
  manageToken: string | null;
}

let counter = 0;

/**
 * A held reservation made by app_public.reserve as the caller, priced by the
 * spot's rate (a fresh spot at `hourlyPrice`, 60 minutes by default, so the
 * quote is the hourly price).
 */
export async function createReservation(db: TestDb, props: ReservationProps = {}): Promise<Made> {
  counter += 1;
  const spotId =
    props.spotId ??
    (await createSpot(db, {
      lat: 40.7 + counter * 0.001,
      lng: -73.99,
      rateId: await createRate(db, {
        hourlyPrice: props.hourlyPrice ?? 1250,
        minimumCharge: props.minimumCharge ?? 0,
        currency: props.currency,
      }),
    }));
  const identity = props.as ?? ANON;
  const r = await reserve(db, identity, {
    spotId,
    startsAt: props.startsIn ? new Date(Date.now() + props.startsIn * 60e3) : null,
    durationMinutes: props.durationMinutes ?? 60,
    email: identity === ANON ? (props.email ?? `guest${counter}.${process.pid}@example.test`) : null,
  });
  return { id: r.id, manageToken: r.manage_token };
}

/**
 * The end of a reservation as booking does it when its time is up
 * (app_private.complete_reservation at its end): completed at the quoted
 * amount, its charge queued.
 */
export async function completeAtEnd(db: TestDb, id: string): Promise<void> {
  await db.owner.query(
    'select app_private.complete_reservation(r.id, upper(r.period)) from app_public.reservations r where r.id = $1',
    [id],
  );
}

export function stripeConfigFor(emulator: StripeEmulator, overrides: Partial<StripeConfig> = {}): StripeConfig {
  return {
    secretKey: 'sk_test_payments',
    host: emulator.host,
    port: emulator.port,
    protocol: 'http',
    webhookSecret: WEBHOOK_SECRET,
    timeoutMs: 5000,
    maxNetworkRetries: 2,
    publishableKey: 'pk_test_payments',
    jsUrl: `${emulator.url}/v3/`,
    ...overrides,
  };
}

/** Points the task code's Stripe client (configured from the environment) at the emulator. */
export function useEmulatorInEnv(emulator: StripeEmulator, overrides: Record<string, string> = {}): void {
  Object.assign(process.env, {
    STRIPE_SECRET_KEY: 'sk_test_payments',
    STRIPE_API_HOST: emulator.host,
    STRIPE_API_PORT: String(emulator.port),
    STRIPE_API_PROTOCOL: 'http',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_TIMEOUT_MS: '3000',
    STRIPE_MAX_NETWORK_RETRIES: '2',
    ...overrides,
  });
}

export async function startEmulator(webhookUrl?: string): Promise<StripeEmulator> {
  return startStripeEmulator({ webhookUrl, webhookSecret: WEBHOOK_SECRET, webhook: { retryDelayMs: 50 } });
}

/** The browser's part: Stripe.js confirming the SetupIntent with a test card. */
export async function browserConfirmsSetup(
  emulator: Pick<StripeEmulator, 'stripeConfig'>,
  setupIntentId: string,
  paymentMethod: string,
): Promise<Stripe.SetupIntent | Stripe.errors.StripeError> {
  // A browser gives up on a request Stripe never answers (the emulator's `timeout`
  // fault) long before the SDK's default 80 s.
  const stripe = new Stripe('sk_test_browser', { ...emulator.stripeConfig, maxNetworkRetries: 0, timeout: 5_000 });
  try {
    return await stripe.setupIntents.confirm(setupIntentId, { payment_method: paymentMethod });
  } catch (err) {
    return err as Stripe.errors.StripeError;
  }
}

export async function emulatorState(emulator: StripeEmulator) {
  return emulator.state();
}

/** What PostGraphile gives the payments plugin, for an identity on the test database's API pool. */
export function dbAs(db: TestDb, identity: Identity): Db {
  const pgSettings = {
    role: identity.role,
    'app.session_id': identity.sessionId ?? '',
    // Tests set up dozens of reservations with the same test card (pm_card_visa): the per-card bound
    // (SMP09, 10 in production) would refuse them; test/payments_setup.test.ts covers it.
    'app.card_upcoming_max': '1000000',
  };
  return {
    pgSettings,
    withPgClient(settings, callback) {
      const values = Object.fromEntries(Object.entries(settings ?? {}).map(([k, v]) => [k, v ?? '']));
      return ownerTx(db.auth, values, (client) =>
        callback({ query: (q) => client.query(q.text, q.values as unknown[]) as never }),
      );
    },
  };
}

/** dbAs for a new operator (staff may set up payment for and refund any reservation). */
export async function newOperatorDb(db: TestDb): Promise<Db> {
  return dbAs(db, identityOf(await createUser(db, { role: 'operator' })));
}

/** A payment test file's outside world (startPaymentWorld). */
export interface PaymentWorld extends CardContext {
  smtp: SmtpSink;
  /** Ends the mail transports, the emulator and the SMTP sink (stop any worker first). */
  close(): Promise<void>;
}

/**
 * The Stripe emulator and an SMTP sink for a test file, put in process.env where the worker and
 * the SDK read them (with `emulatorEnv` over the emulator's defaults, and WEB_URL for the emails'
 * links), with an SDK client and an operator's database access.
 */
export async function startPaymentWorld(db: TestDb, emulatorEnv: Record<string, string> = {}): Promise<PaymentWorld> {
  const emulator = await startEmulator();
  const smtp = await startSmtpSink();
  useEmulatorInEnv(emulator, emulatorEnv);
  Object.assign(process.env, { SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port), WEB_URL: TEST_WEB_URL });
  return {
    db,
    emulator,
    smtp,
    stripe: stripeClient(stripeConfigFor(emulator)),
    staffDb: await newOperatorDb(db),
    async close() {
      closeMailTransports();
      await emulator.close();
      await smtp.close();
    },
  };
}

/**
 * Runs the project's worker until every one of the completed reservations has a
 * succeeded charge (the real charge task against the emulator), then stops it.
 * Returns each charge's PaymentIntent id, by reservation id.
 */
export async function chargeThroughWorker(db: TestDb, ids: string[]): Promise<Record<string, string>> {
  const worker = await startTestWorker(db);
  try {
    const rows = await waitFor(
      async () => {
        const { rows: charged } = await db.owner.query<{ id: string; pi: string }>(
          `select reservation_id::text as id, stripe_payment_intent_id as pi from app_private.charges
         where status = 'succeeded' and reservation_id = any($1::bigint[])`,
          [ids],
        );
        return charged.length === ids.length ? charged : null;
      },
      60_000,
      `${ids.length} charge(s) by the worker`,
    );
    return Object.fromEntries(rows.map((r) => [r.id, r.pi]));
  } finally {
    await worker.stop();
  }
}

export interface TestWorker {
  runner: Runner;
  stop(): Promise<void>;
}

/** The project's worker on a pool this test owns, so stop() leaves no client behind. */
export async function startTestWorker(db: TestDb, options: Partial<WorkerOptions> = {}): Promise<TestWorker> {
  const concurrency = options.concurrency ?? 4;
  const pool = makeWorkerPool(db.urls.owner, concurrency + 4);
  const runner = await startWorker({
    connectionString: db.urls.owner,
    crontab: '# none',
    pollInterval: 100,
    pgPool: pool,
    ...options,
    concurrency,
  });
  return {
    runner,
    async stop() {
      await runner.stop();
      await pool.end();
    },
  };
}

/** What a charge test needs to make reservations with a card set up. */
export interface CardContext {
  db: TestDb;
  emulator: StripeEmulator;
  stripe: Stripe;
  /** An operator's database access (may set up any reservation's card). */
  staffDb: Db;
}

/**
 * A guest's hour at `hourlyPrice` (so that is its amount; `currency` and `spotId` as for
 * createReservation), whose card was set up as the browser would: confirmed.
 */
export async function confirmedReservation(
  ctx: CardContext,
  card: string,
  hourlyPrice = 1250,
  more: Pick<ReservationProps, 'currency' | 'spotId'> = {},
): Promise<string> {
  const { id } = await createReservation(ctx.db, { hourlyPrice, ...more });
  const p = await paymentOperations.setupReservationPayment(ctx.stripe, ctx.staffDb, id, null);
  const si = (await browserConfirmsSetup(ctx.emulator, p.setupIntentId!, card)) as Stripe.SetupIntent;
  if (si.status === 'requires_action') {
    await fetch(`${ctx.emulator.url}/_emulator/setup_intents/${si.id}/authenticate`, { method: 'POST' });
  }
  const c = await paymentOperations.confirmReservationPayment(ctx.stripe, ctx.staffDb, id, null);
  assert.equal(c.reservationStatus, 'confirmed');
  return id;
}
