// Emails queue behind charges: with emails queued first and charges after,
// a single-slot worker still charges every reservation before it sends one
// of those emails (priority 10 against 0, not first-in first-out); each
// send_email job may be tried at most 25 times. While charges are behind (the
// end-of-day burst), the burst's own emails are not even queued yet.
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

test('while charges are behind, a reservation ended and its receipt wait in the outbox; other emails go; then they go too', async () => {
  // Setup: no worker runs. One email of each kind waits in the outbox.
  await db.owner.query(`update app_private.emails set queued_at = now() where queued_at is null`);
  await db.owner.query(`delete from graphile_worker._private_jobs`);
  const templates = ['reservation_ended', 'receipt', 'password_reset', 'reservation_held', 'payment_failed'];
  const waiting = ['reservation_ended', 'receipt'];
  for (const template of templates)
    await db.owner.query(`select app_private.email_enqueue($1, 'driver@example.test', '{}', $2)`, [
      template,
      `behind-test:${template}`,
    ]);
  const queuedTemplates = async () =>
    (
      await db.owner.query<{ template: string }>(
        `select template from app_private.emails where dedupe_key like 'behind-test:%' and queued_at is not null order by template`,
      )
    ).rows.map((r) => r.template);
  const addChargeJob = async (runAt: string, attemptsLeft = true) => {
    await db.owner.query(
      `select graphile_worker.add_job('reservation__charge', json_build_object('reservationId', 0), run_at => now() + $1::interval, job_key => 'behind-test')`,
      [runAt],
    );
    if (!attemptsLeft)
      await db.owner.query(
        `update graphile_worker._private_jobs set attempts = max_attempts where key = 'behind-test'`,
      );
  };
  const dropChargeJob = () => db.owner.query(`delete from graphile_worker._private_jobs where key = 'behind-test'`);
  const behind = async () =>
    (await db.owner.query<{ b: boolean }>('select app_private.charges_behind() as b')).rows[0]!.b;

  // Not behind: a charge waiting for its retry (due later), or out of attempts.
  await addChargeJob('10 minutes');
  assert.is(await behind(), false, 'a retry due in 10 minutes');
  await dropChargeJob();
  await addChargeJob('-1 minute', false);
  assert.is(await behind(), false, 'a charge job out of attempts');
  await dropChargeJob();

  // Action 1: a charge due a minute ago is not done: charges are behind.
  await addChargeJob('-1 minute');
  assert.is(await behind(), true);
  await db.owner.query('select app_private.emails_queue_due(1000)');
  assert.equal(
    await queuedTemplates(),
    templates.filter((t) => !waiting.includes(t)).sort(),
    'everything but the ended email and the receipt',
  );
  // Taken by a worker (locked) but still not done: still behind.
  await db.owner.query(
    `update graphile_worker._private_jobs set locked_at = now(), locked_by = 'w' where key = 'behind-test'`,
  );
  await db.owner.query('select app_private.emails_queue_due(1000)');
  assert.equal(await queuedTemplates(), templates.filter((t) => !waiting.includes(t)).sort(), 'still waiting');

  // Stripe's rate limit paces the charges (the shared budget owes turns, or
  // has sent callers away): holding the emails would not charge any sooner.
  const budget = (tokens: number, refusedFor: string | null) =>
    db.owner.query(
      `insert into app_private.rate_budgets (name, per_second, burst, tokens, updated_at, refused_until)
       values ('stripe', 95, 4, $1, now(), now() + $2::interval)
       on conflict (name) do update set tokens = excluded.tokens, updated_at = excluded.updated_at, refused_until = excluded.refused_until`,
      [tokens, refusedFor],
    );
  await budget(-200, null);
  assert.is(await behind(), false, 'the budget owes 200 turns');
  await budget(4, '30 seconds');
  assert.is(await behind(), false, 'callers sent away for 30 s');
  await budget(4, '-1 minute');
  assert.is(await behind(), true, 'the budget has turns to give: the workers are what is short');

  // Action 2: the charge is done (its job row gone): the rest is queued.
  await dropChargeJob();
  assert.is(await behind(), false);
  await db.owner.query('select app_private.emails_queue_due(1000)');
  assert.equal(await queuedTemplates(), [...templates].sort(), 'all queued');
  const {
    rows: [{ n }],
  } = await db.owner.query(
    `select count(*)::int as n from graphile_worker._private_jobs j
     join graphile_worker._private_tasks t on t.id = j.task_id and t.identifier = 'send_email'
     where (j.payload->>'emailId')::bigint in (select id from app_private.emails where dedupe_key like 'behind-test:%')`,
  );
  assert.is(n, templates.length, 'one send_email job each');
});

test("one recipient's emails queued together start a second apart, oldest first (at most 9 s); other recipients' at once", async () => {
  await db.owner.query('select app_private.emails_queue_due(1000)');
  const enqueue = async (to: string) =>
    (await db.owner.query(`select app_private.email_enqueue('password_changed', $1, '{"name": "A"}') as id`, [to]))
      .rows[0].id as string;
  const a = [await enqueue('order.a@example.test'), await enqueue('order.b@example.test')];
  for (let i = 0; i < 11; i += 1) a.push(await enqueue('order.a@example.test'));
  await db.owner.query('select app_private.emails_queue_due(1000)');
  const { rows } = await db.owner.query(
    `select (regexp_replace(key, '^send_email:', ''))::bigint::text as id,
            extract(epoch from run_at - min(run_at) over ())::float as delay
     from graphile_worker.jobs where key = any($1) order by id`,
    [a.map((id) => `send_email:${id}`)],
  );
  const delays = Object.fromEntries(rows.map((r) => [r.id, Math.round(r.delay * 1000) / 1000]));
  const [first, other, ...rest] = a;
  assert.is(delays[first!], 0);
  assert.is(delays[other!], 0, 'another recipient: at once');
  assert.equal(
    rest.map((id) => delays[id]),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9],
  );
});

test.run();
