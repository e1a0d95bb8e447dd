// Fixtures for payment and email tests: reservations written as the owner
// (with a guest manage token "tok-<id>" in booking's reservation_secrets), the Stripe emulator
// wired to the API's webhook route, the browser's part of a card set-up, and
// polling helpers.
import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../stripe-emulator/index.ts';
import type { StripeConfig } from '../../lib/stripe_client.ts';
import type { Identity, TestDb } from './db.ts';
import type pg from 'pg';
import type { Runner } from 'graphile-worker';
import type { Db } from '../../server/plugins/payments.ts';
import { ownerTx } from '../../server/owner_sql.ts';
import { makeWorkerPool, startWorker, type WorkerOptions } from '../../worker/runner.ts';
import { createSpot } from './spots.ts';

export const WEBHOOK_SECRET = 'whsec_test_payments';

export async function waitFor<T>(check: () => Promise<T | false | null | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ReservationProps {
  spotId?: string;
  userId?: string | null;
  email?: string;
  status?: 'held' | 'confirmed' | 'completed' | 'cancelled' | 'expired' | 'payment_failed';
  amount?: number;
  currency?: string;
  /** Minutes from now. */
  startsIn?: number;
  endsIn?: number;
}

let counter = 0;

export async function createReservation(db: TestDb, props: ReservationProps = {}): Promise<string> {
  counter += 1;
  const spotId = props.spotId ?? await createSpot(db, { lat: 40.7 + counter * 0.001, lng: -73.99 });
  const { rows: [r] } = await db.owner.query(
    `insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency)
     values ($1, $2, $3, tstzrange(now() + make_interval(mins => $4), now() + make_interval(mins => $5)), $6, $7, $8)
     returning id::text`,
    [spotId, props.userId ?? null, props.email ?? `guest${counter}.${process.pid}@example.test`,
      props.startsIn ?? 60, props.endsIn ?? 120, props.status ?? 'held', props.amount ?? 1250, props.currency ?? 'USD']);
  // Booking's guest manage token, as reserve() would store it: "tok-<id>".
  await db.owner.query(
    `insert into app_private.reservation_secrets (reservation_id, manage_token_hash)
     values ($1::bigint, app_private.manage_token_hash('tok-' || $1::text))`, [r.id]);
  return r.id;
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
export async function browserConfirmsSetup(emulator: StripeEmulator, setupIntentId: string, paymentMethod: string): Promise<Stripe.SetupIntent | Stripe.errors.StripeError> {
  const stripe = new Stripe('sk_test_browser', { ...emulator.stripeConfig, maxNetworkRetries: 0 });
  try {
    return await stripe.setupIntents.confirm(setupIntentId, { payment_method: paymentMethod });
  } catch (err) {
    return err as Stripe.errors.StripeError;
  }
}

export async function emulatorState(emulator: StripeEmulator) {
  return emulator.state();
}

/** What PostGraphile gives the payments plugin, made from a pool and an identity. */
export function dbAs(pool: pg.Pool, identity: Identity): Db {
  const pgSettings = { role: identity.role, 'app.session_id': identity.sessionId ?? '' };
  return {
    pgSettings,
    withPgClient(settings, callback) {
      const values = Object.fromEntries(Object.entries(settings ?? {}).map(([k, v]) => [k, v ?? '']));
      return ownerTx(pool, values, (client) =>
        callback({ query: (q) => client.query(q.text, q.values as unknown[]) as never }));
    },
  };
}

export interface TestWorker {
  runner: Runner;
  stop(): Promise<void>;
}

/** The project's worker on a pool this test owns, so stop() leaves no client behind. */
export async function startTestWorker(db: TestDb, options: Partial<WorkerOptions> = {}): Promise<TestWorker> {
  const concurrency = options.concurrency ?? 4;
  const pool = makeWorkerPool(db.urls.owner, concurrency + 4);
  const runner = await startWorker({ connectionString: db.urls.owner, crontab: '# none', pollInterval: 100, pgPool: pool, ...options, concurrency });
  return {
    runner,
    async stop() {
      await runner.stop();
      await pool.end();
    },
  };
}
