// The worker process is killed (SIGKILL) while Stripe holds the charge
// request, then a worker starts again: the job is unlocked (its process is
// known dead), re-sent with the same idempotency key, and there is exactly one
// charge. Real processes, real SDK, the emulator's `timeout` fault.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import {
  browserConfirmsSetup,
  completeAtEnd,
  createReservation,
  startEmulator,
  stripeConfigFor,
  waitFor,
  newOperatorDb,
} from './helpers/payments.ts';
import { paymentOperations } from '../server/plugins/payments.ts';
import { stripeClient } from '../lib/stripe_client.ts';
import { startLiveness } from '../worker/liveness.ts';
import { childEnv, spawnWorker, type Child } from './helpers/processes.ts';

let db: TestDb;
let emulator: StripeEmulator;
let smtp: SmtpSink;
const children = new Set<Child>();

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  smtp = await startSmtpSink();
});

test.after(async () => {
  for (const child of children) await child.kill('SIGKILL');
  await emulator?.close();
  await smtp?.close();
  await db?.close();
});

/** A worker process with the emulator and the SMTP sink in its environment; resolves once it polls. */
const startWorkerProcess = (extraEnv: Record<string, string> = {}): Promise<Child> =>
  track(spawnWorker(childEnv(db.urls, emulator, smtp, extraEnv)));

/** Remembers a started worker, so that test.after ends whatever a failed test left running. */
async function track(started: Promise<Child>): Promise<Child> {
  const child = await started;
  children.add(child);
  return child;
}

test('worker killed mid-charge and restarted → exactly one charge, nothing left locked', async () => {
  // Setup: a confirmed reservation with a card on file.
  const stripe = stripeClient(stripeConfigFor(emulator));
  const staffDb = await newOperatorDb(db);
  const { id } = await createReservation(db, { hourlyPrice: 1450 });
  const p = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
  await browserConfirmsSetup(emulator, p.setupIntentId!, 'pm_card_visa');
  assert.equal(
    (await paymentOperations.confirmReservationPayment(stripe, staffDb, id, null)).reservationStatus,
    'confirmed',
  );
  const intents = () => emulator.store.paymentIntents.all.filter((pi) => pi.metadata?.reservation_id === id);

  // Stripe will make the charge and then never answer; the worker waits (60 s timeout).
  emulator.addFault({ method: 'POST', path: '/v1/payment_intents', mode: 'timeout', count: 1 });
  const first = await startWorkerProcess({ STRIPE_TIMEOUT_MS: '60000', STRIPE_MAX_NETWORK_RETRIES: '0' });
  await completeAtEnd(db, id);

  // Action: once Stripe has made the charge (the answer is being held), kill -9.
  await waitFor(async () => intents().length === 1, 15_000, 'charge made at Stripe');
  const {
    rows: [pending],
  } = await db.owner.query('select status, idempotency_key from app_private.charges where reservation_id = $1', [id]);
  assert.equal(pending.status, 'pending', 'the key was stored before the call; the outcome is not known yet');
  // A sweep while that process lives unlocks nothing.
  const probe = await startLiveness(db.urls.owner);
  assert.equal(await probe.sweep(), 0, 'a live process is never swept');
  await probe.close();
  await first.kill('SIGKILL');
  const {
    rows: [locked],
  } = await db.owner.query('select locked_by from graphile_worker.jobs where key = $1', [`reservation_charge:${id}`]);
  assert.ok(locked.locked_by, 'the dead worker still holds the job');

  const second = await startWorkerProcess({ STRIPE_TIMEOUT_MS: '5000' });

  // Assertions: the new process unlocked the job, re-sent the same key, got the first charge back.
  const c = await waitFor(
    async () => {
      const {
        rows: [x],
      } = await db.owner.query('select * from app_private.charges where reservation_id = $1', [id]);
      return x.status === 'succeeded' ? x : null;
    },
    20_000,
    'charged after restart',
  );
  assert.equal([c.attempt, c.idempotency_key], [1, pending.idempotency_key]);
  assert.equal(intents().length, 1, 'one PaymentIntent');
  assert.equal(
    emulator.store.charges.all.filter((ch) => ch.payment_intent === intents()[0].id).length,
    1,
    'one charge',
  );
  assert.equal(c.stripe_payment_intent_id, intents()[0].id);
  await waitFor(
    async () =>
      (await db.owner.query('select count(*)::int as n from graphile_worker.jobs')).rows[0].n === 0 ||
      (await db.owner.query(`select count(*)::int as n from graphile_worker.jobs where locked_at is not null`)).rows[0]
        .n === 0,
    10_000,
    'no job left locked',
  );
  await waitFor(async () => smtp.messages.filter((m) => m.template === 'receipt').length === 1, 10_000, 'one receipt');
  const { rows: procs } = await db.owner.query('select pid from app_private.worker_processes');
  assert.equal(
    procs.map((r) => r.pid),
    [second.process.pid],
    'the dead process was forgotten',
  );

  await second.kill('SIGTERM');
});

test.run();
