// Scheduled work, run for real: graphile-worker in this process executes the
// jobs the reservation triggers queued (hold expiry, end, reminder), and the
// spot is free again afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runner } from 'graphile-worker';
import { createTestDb, createUser, identityOf, type TestDb, type TestUser } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { ANON, callAs, emailsOf, eventsOf, hoursFromNow, jobsOf, reserve } from './helpers/reservations.ts';
import { startWorker } from '../worker/runner.ts';
import { taskList } from '../worker/task_list.ts';

const { reservation__end, reservation__remind, hold__expire, holds__sweep } = taskList;

let db: TestDb;
let worker: Runner;
let driver: TestUser;
let rate: number;
const done: string[] = [];
const spot = () => createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
const confirm = (id: string) => db.owner.query('select app_private.confirm_reservation_payment($1)', [id]);
const statusOf = async (id: string) =>
  (await db.owner.query('select status::text from app_public.reservations where id = $1', [id])).rows[0].status as string;

/** Waits until fn() is truthy (polling), or fails after `ms`. */
async function until<T>(what: string, fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  driver = await createUser(db);
  rate = await createRate(db, { hourlyPrice: 600, billingIncrement: '1 minute', minimumCharge: 100 });
  // Only this tasks: the charge and email tasks belong to the payments
  // work, and their jobs must stay queued here for the assertions below.
  worker = await startWorker({
    connectionString: db.urls.owner, crontab: '# none', pollInterval: 200, concurrency: 4,
    taskList: { reservation__end, reservation__remind, hold__expire, holds__sweep },
  });
  worker.events.on('job:success', ({ job }) => { done.push(`${job.task_identifier}:${JSON.stringify(job.payload)}`); });
});

test.after(async () => {
  await worker?.stop();
  await db?.close();
});

test('a hold not confirmed by its deadline expires by its job, and the spot is free again', async () => {
  // Setup: a guest's hold, its deadline brought to now (a test cannot wait 15 minutes).
  const spotId = await spot();
  const g = await reserve(db, ANON, { spotId, startsAt: hoursFromNow(1), durationMinutes: 60, email: 'late@example.test' });
  const blocked = await reserve(db, ANON, { spotId, startsAt: hoursFromNow(1), durationMinutes: 60, email: 'x@example.test' }).catch((e) => e.code);
  assert.is(blocked, 'SMB01');
  const before = await jobsOf(db, g.id);
  await db.owner.query('update app_public.reservations set hold_expires_at = now() where id = $1', [g.id]);
  const moved = await jobsOf(db, g.id);
  assert.is(moved.hold_expiry.id, before.hold_expiry.id, 'the same job, moved');
  // Action: the worker runs hold__expire.
  await until('the hold to expire', async () => (await statusOf(g.id)) === 'expired');
  // Assertions
  // The worker reports success after its own bookkeeping, a moment after the row changed.
  await until('the job to report success', async () => done.includes(`hold__expire:{"reservationId":${g.id}}`));
  assert.equal(await jobsOf(db, g.id), {}, 'no job left for an expired hold');
  const mail = (await emailsOf(db, g.id)).at(-1)!;
  assert.equal([mail.template, mail.data.reason], ['reservation_cancelled', 'hold_expired']);
  assert.equal((await eventsOf(db, g.id)).map((e) => [e.action, e.actor_role]),
    [['reserved', 'app_anonymous'], ['updated', 'system:app_owner'], ['expired', 'system:app_owner']]);
  const again = await reserve(db, ANON, { spotId, startsAt: hoursFromNow(1), durationMinutes: 60, email: 'x@example.test' });
  assert.is(again.status, 'held', 'the spot can be reserved again');
});

test('a confirmed hold does not expire: its hold job was removed at confirmation', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), durationMinutes: 60 });
  await confirm(r.id);
  assert.not.ok((await jobsOf(db, r.id)).hold_expiry);
  const { rows: [direct] } = await db.owner.query('select app_private.hold_expire($1) as o', [r.id]);
  assert.is(direct.o, 'nothing to do', 'even a stray run does nothing');
  assert.is(await statusOf(r.id), 'confirmed');
});

test('at its end the reservation completes by its job: amount fixed, charge queued, spot free', async () => {
  // Setup: a reservation running now, its end moved to two seconds from now.
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, durationMinutes: 60 });
  await confirm(r.id);
  const first = await jobsOf(db, r.id);
  const end = new Date(Date.now() + 2000);
  const [changed] = await callAs(db, identityOf(driver),
    'select amount from app_public.change_reservation_end($1, $2) x, lateral (select (x.reservation).*) r', [r.id, end]);
  const moved = await jobsOf(db, r.id);
  assert.is(moved.reservation_end.id, first.reservation_end.id, 'one reservation_end job, moved');
  assert.is(moved.reservation_end.run_at.getTime(), end.getTime());
  assert.is(changed.amount, 100, 'two seconds: the minimum charge');
  // Action: the worker runs reservation__end when it is due.
  await until('the reservation to complete', async () => (await statusOf(r.id)) === 'completed');
  // Assertions
  await until('the job to report success', async () => done.includes(`reservation__end:{"reservationId":${r.id}}`));
  const jobs = await jobsOf(db, r.id);
  assert.equal(Object.keys(jobs), ['reservation_charge']);
  assert.is(jobs.reservation_charge.task_identifier, 'reservation__charge');
  const { rows: [row] } = await db.owner.query('select amount, upper(period) as e from app_public.reservations where id = $1', [r.id]);
  assert.equal([row.amount, row.e.getTime()], [100, end.getTime()]);
  assert.is((await emailsOf(db, r.id)).at(-1)!.template, 'reservation_ended');
  const next = await reserve(db, ANON, { spotId, durationMinutes: 30, email: 'next@example.test' });
  assert.is(next.status, 'held');
});

test('a hold still unconfirmed at its end expires there, without a charge', async () => {
  const spotId = await spot();
  const r = await reserve(db, ANON, { spotId, durationMinutes: 60, email: 'nopay@example.test' });
  await callAs(db, ANON, 'select app_public.change_reservation_end($1, $2, $3)', [r.id, new Date(Date.now() + 1500), r.manage_token]);
  await until('the hold to expire', async () => (await statusOf(r.id)) === 'expired');
  assert.equal(await jobsOf(db, r.id), {}, 'no charge for a reservation that was never confirmed');
});

test('the reminder job emails the driver before the end, once', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, durationMinutes: 60 });
  await confirm(r.id);
  // The reminder is due 15 minutes before the end: bring the end to 15 min + 1.5 s from now.
  await callAs(db, identityOf(driver), 'select app_public.change_reservation_end($1, $2)',
    [r.id, new Date(Date.now() + 15 * 60e3 + 1500)]);
  const reminder = await until('the reminder email', async () =>
    (await emailsOf(db, r.id)).find((m) => m.template === 'reservation_reminder')) as { recipient: string; data: any };
  assert.is(reminder.recipient, driver.email);
  assert.is(reminder.data.reservationId, Number(r.id));
  const { rows: [again] } = await db.owner.query('select app_private.reservation_remind($1) as o', [r.id]);
  assert.is(again.o, 'reminded');
  const reminders = (await emailsOf(db, r.id)).filter((m) => m.template === 'reservation_reminder');
  assert.is(reminders.length, 1, 'deduplicated per end time');
  assert.is(await statusOf(r.id), 'confirmed');
});

test('the sweep expires holds whose job never ran; cancelling removes every job', async () => {
  const spotId = await spot();
  const r = await reserve(db, ANON, { spotId, startsAt: hoursFromNow(2), durationMinutes: 60, email: 'lost@example.test' });
  // A lost job: removed behind the trigger's back, deadline long gone.
  await db.owner.query(`select graphile_worker.remove_job('hold_expiry:' || $1::text)`, [r.id]);
  await db.owner.query(`alter table app_public.reservations disable trigger _600_schedule_jobs`);
  await db.owner.query(`update app_public.reservations set hold_expires_at = now() - interval '2 minutes' where id = $1`, [r.id]);
  await db.owner.query(`alter table app_public.reservations enable trigger _600_schedule_jobs`);
  const { rows: [swept] } = await db.owner.query('select app_private.holds_sweep() as n');
  assert.ok(swept.n >= 1);
  assert.is(await statusOf(r.id), 'expired');
  const c = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(5), durationMinutes: 60 });
  await confirm(c.id);
  assert.equal(Object.keys(await jobsOf(db, c.id)).sort(), ['reservation_end', 'reservation_reminder']);
  await callAs(db, identityOf(driver), 'select app_public.cancel_reservation($1)', [c.id]);
  assert.equal(await jobsOf(db, c.id), {});
});

test.run();
