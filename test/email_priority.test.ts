// Emails queue behind charges: with emails queued first and charges after,
// a single-slot worker still charges every reservation before it sends one
// of those emails (priority 10 against 0, not first-in first-out); each
// send_email job may be tried at most 25 times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import {
  browserConfirmsSetup,
  completeAtEnd,
  createReservation,
  startTestWorker,
  waitFor,
  startPaymentWorld,
  type PaymentWorld,
} from './helpers/payments.ts';
import { paymentOperations } from '../server/plugins/payments.ts';

let db: TestDb;
let world: PaymentWorld;
let emulator: StripeEmulator;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  world = await startPaymentWorld(db);
  ({ emulator } = world);
});

test.after(async () => {
  await world?.close();
  await db?.close();
});

test('a burst of emails queued before a burst of charges: every charge runs first; send_email has 25 attempts', async () => {
  // Setup: 4 guests' hours with cards set up and confirmed (each wrote outbox rows).
  const { stripe, staffDb } = world;
  const ids: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const { id } = await createReservation(db, { hourlyPrice: 900 });
    const p = await paymentOperations.setupReservationPayment(stripe, staffDb, id, null);
    await browserConfirmsSetup(emulator, p.setupIntentId!, 'pm_card_visa');
    await paymentOperations.confirmReservationPayment(stripe, staffDb, id, null);
    ids.push(id);
  }
  // The outbox rows become send_email jobs first, then the reservations end and their charges are queued.
  const {
    rows: [{ queued }],
  } = await db.owner.query('select app_private.emails_queue_due(1000) as queued');
  assert.is(queued, 8, 'reservation_held and reservation_confirmed for each of the 4');
  for (const id of ids) await completeAtEnd(db, id);
  const { rows: jobs } = await db.owner.query(
    `select task_identifier as task, priority, max_attempts from graphile_worker.jobs
     where task_identifier in ('send_email', 'reservation__charge') order by id`,
  );
  assert.equal(
    jobs.map((j) => j.task),
    [...Array(8).fill('send_email'), ...Array(4).fill('reservation__charge')],
    'emails queued first',
  );
  assert.equal(
    new Set(jobs.filter((j) => j.task === 'send_email').map((j) => `${j.priority}/${j.max_attempts}`)),
    new Set(['10/25']),
  );
  assert.equal(new Set(jobs.filter((j) => j.task === 'reservation__charge').map((j) => j.priority)), new Set([0]));

  // Action: one worker slot, so jobs run one at a time in the queue's order.
  const worker = await startTestWorker(db, { concurrency: 1 });
  try {
    await waitFor(
      async () =>
        (
          await db.owner.query(
            `select count(*)::int as n from app_private.emails where sent_at is null and template in ('reservation_held', 'reservation_confirmed')`,
          )
        ).rows[0].n === 0,
      60_000,
      'the 8 emails sent',
    );
  } finally {
    await worker.stop();
  }

  // Assertions: the last charge succeeded before the first of those emails was sent.
  const {
    rows: [t],
  } = await db.owner.query(
    `select (select max(succeeded_at) from app_private.charges where reservation_id = any($1::bigint[])) as last_charge,
            (select min(sent_at) from app_private.emails where template in ('reservation_held', 'reservation_confirmed')) as first_email,
            (select count(*)::int from app_private.charges where reservation_id = any($1::bigint[]) and status = 'succeeded') as charged`,
    [ids],
  );
  assert.is(t.charged, 4);
  assert.ok(
    t.last_charge < t.first_email,
    `last charge ${t.last_charge.toISOString()}, first email ${t.first_email.toISOString()}`,
  );
});

test.run();
