// Scheduled work, run for real: graphile-worker in this process runs the
// due-work sweep, which finds what fell due in the reservation rows (hold
// expiry, end, reminder), and the spot is free again afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runner } from 'graphile-worker';
import { createTestDb, createUser, identityOf, type TestDb, type TestUser, ANON, callAs } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { emailsOf, eventsOf, hoursFromNow, scheduledOf, reserve } from './helpers/reservations.ts';
import { startWorker } from '../worker/runner.ts';
import { taskList } from '../worker/task_list.ts';

const { due_work__sweep } = taskList;

let db: TestDb;
let worker: Runner;
let driver: TestUser;
let rate: number;
const spot = () => createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
const confirm = (id: string) => db.owner.query('select app_private.confirm_held_reservation($1)', [id]);
const statusOf = async (id: string) =>
  (await db.owner.query('select status::text from app_public.reservations where id = $1', [id])).rows[0]
    .status as string;

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
  // Only the sweep: the charge and email jobs it queues must stay queued here
  // for the assertions below.
  worker = await startWorker({
    connectionString: db.urls.owner,
    crontab: '# none',
    pollInterval: 200,
    concurrency: 4,
    taskList: { due_work__sweep },
  });
});

test.after(async () => {
  await worker?.stop();
  await db?.close();
});

test('a hold not confirmed by its deadline expires by the sweep, and the spot is free again', async () => {
  // Setup: a guest's hold, its deadline brought to now (a test cannot wait 15 minutes).
  const spotId = await spot();
  const g = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(1),
    durationMinutes: 60,
    email: 'late@example.test',
  });
  const blocked = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(1),
    durationMinutes: 60,
    email: 'x@example.test',
  }).catch((e) => e.code);
  assert.is(blocked, 'SMB01');
  const {
    rows: [{ deadline }],
  } = await db.owner.query(
    'update app_public.reservations set hold_expires_at = now() where id = $1 returning hold_expires_at as deadline',
    [g.id],
  );
  assert.is(
    (await scheduledOf(db, g.id)).hold_expiry.run_at.getTime(),
    deadline.getTime(),
    'the hold expiry moved with the deadline',
  );
  // Action: the worker's sweep finds it.
  await until('the hold to expire', async () => (await statusOf(g.id)) === 'expired');
  // Assertions
  assert.equal(await scheduledOf(db, g.id), {}, 'nothing left scheduled for an expired hold');
  const {
    rows: [{ amount }],
  } = await db.owner.query('select amount from app_public.reservations where id = $1', [g.id]);
  assert.is(amount, 0, 'nothing due: its amount reads 0, as a cancelled one');
  const mail = (await emailsOf(db, g.id)).at(-1)!;
  assert.equal([mail.template, mail.data.reason], ['reservation_expired', undefined]);
  assert.equal(
    (await eventsOf(db, g.id)).map((e) => [e.action, e.actor_role]),
    [
      ['reserved', 'app_anonymous'],
      ['updated', 'system:app_owner'],
      ['expired', 'system:app_owner'],
    ],
  );
  const again = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(1),
    durationMinutes: 60,
    email: 'x@example.test',
  });
  assert.is(again.status, 'held', 'the spot can be reserved again');
});

test('a confirmed hold does not expire: its hold deadline was cleared at confirmation', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), durationMinutes: 60 });
  await confirm(r.id);
  assert.not.ok((await scheduledOf(db, r.id)).hold_expiry);
  const {
    rows: [direct],
  } = await db.owner.query('select app_private.holds_expire_due(1000) as n');
  assert.is(direct.n, 0, 'even a sweep run right now expires nothing');
  assert.is(await statusOf(r.id), 'confirmed');
});

test('at its end the reservation completes by the sweep: amount fixed, charge queued, spot free', async () => {
  // Setup: a reservation running now, its end moved to two seconds from now.
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, durationMinutes: 60 });
  await confirm(r.id);
  const end = new Date(Date.now() + 2000);
  const [changed] = await callAs(
    db,
    identityOf(driver),
    'select amount from app_public.change_reservation_end($1, $2) x, lateral (select (x.reservation).*) r',
    [r.id, end],
  );
  const moved = await scheduledOf(db, r.id);
  assert.is(moved.reservation_end.run_at.getTime(), end.getTime(), 'the end moved');
  assert.is(changed.amount, 100, 'two seconds: the minimum charge');
  // Action: the worker's sweep ends it when it is due.
  await until('the reservation to complete', async () => (await statusOf(r.id)) === 'completed');
  // Assertions
  const jobs = await scheduledOf(db, r.id);
  assert.equal(Object.keys(jobs), ['reservation_charge']);
  assert.is(jobs.reservation_charge.task_identifier, 'reservation__charge');
  const {
    rows: [row],
  } = await db.owner.query('select amount, upper(period) as e from app_public.reservations where id = $1', [r.id]);
  assert.equal([row.amount, row.e.getTime()], [100, end.getTime()]);
  assert.is((await emailsOf(db, r.id)).at(-1)!.template, 'reservation_ended');
  const next = await reserve(db, ANON, { spotId, durationMinutes: 30, email: 'next@example.test' });
  assert.is(next.status, 'held');
});

test('a hold still unconfirmed at its end expires there, without a charge', async () => {
  const spotId = await spot();
  const r = await reserve(db, ANON, { spotId, durationMinutes: 60, email: 'nopay@example.test' });
  await callAs(db, ANON, 'select app_public.change_reservation_end($1, $2, $3)', [
    r.id,
    new Date(Date.now() + 1500),
    r.manage_token,
  ]);
  await until('the hold to expire', async () => (await statusOf(r.id)) === 'expired');
  assert.equal(await scheduledOf(db, r.id), {}, 'no charge for a reservation that was never confirmed');
  const {
    rows: [{ amount }],
  } = await db.owner.query('select amount from app_public.reservations where id = $1', [r.id]);
  assert.is(amount, 0, 'held at its end: expired with nothing due');
});

test('the sweep emails the reminder before the end, once', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, durationMinutes: 60 });
  // A stay that began an hour ago (so it is long enough for the full 15-minute lead).
  await db.owner.query(
    `update app_public.reservations set period = tstzrange(now() - interval '1 hour', upper(period)) where id = $1`,
    [r.id],
  );
  await confirm(r.id);
  // The reminder is due 15 minutes before the end: bring the end to 15 min + 1.5 s from now.
  await callAs(db, identityOf(driver), 'select app_public.change_reservation_end($1, $2)', [
    r.id,
    new Date(Date.now() + 15 * 60e3 + 1500),
  ]);
  const reminder = (await until('the reminder email', async () =>
    (await emailsOf(db, r.id)).find((m) => m.template === 'reservation_reminder'),
  )) as { recipient: string; data: any };
  assert.is(reminder.recipient, driver.email);
  assert.is(reminder.data.reservationId, Number(r.id));
  const {
    rows: [again],
  } = await db.owner.query('select app_private.reminders_send_due(1000) as n');
  assert.is(again.n, 0, 'a sweep run again sends nothing');
  const reminders = (await emailsOf(db, r.id)).filter((m) => m.template === 'reservation_reminder');
  assert.is(reminders.length, 1, 'deduplicated per end time');
  assert.is(await statusOf(r.id), 'confirmed');
});

test('stays under an hour are reminded a quarter of the stay before the end; longer ones 15 minutes before', async () => {
  const leads: Record<number, number> = {};
  for (const minutes of [2, 20, 120]) {
    const r = await reserve(db, identityOf(driver), {
      spotId: await spot(),
      startsAt: hoursFromNow(1),
      durationMinutes: minutes,
    });
    await confirm(r.id);
    const {
      rows: [row],
    } = await db.owner.query(
      `select extract(epoch from upper(r.period) - r.remind_at)::int as lead from app_public.reservations r where r.id = $1`,
      [r.id],
    );
    leads[minutes] = row.lead;
  }
  assert.equal(leads, { 2: 30, 20: 300, 120: 900 }, 'seconds before the end');
});

test('a hold whose sweep was missed for minutes expires at the next one; cancelling leaves nothing scheduled', async () => {
  const spotId = await spot();
  const r = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(2),
    durationMinutes: 60,
    email: 'lost@example.test',
  });
  // A worker down for a while: the deadline went long ago.
  await db.owner.query(
    `update app_public.reservations set hold_expires_at = now() - interval '10 minutes' where id = $1`,
    [r.id],
  );
  await until('the hold to expire', async () => (await statusOf(r.id)) === 'expired');
  const c = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(5), durationMinutes: 60 });
  await confirm(c.id);
  assert.equal(Object.keys(await scheduledOf(db, c.id)).sort(), ['reservation_end', 'reservation_reminder']);
  await callAs(db, identityOf(driver), 'select app_public.cancel_reservation($1)', [c.id]);
  assert.equal(await scheduledOf(db, c.id), {});
});

test('many due at once are ended in batches, each exactly once (one audit row and one email each, written per statement), their charges queued in batch jobs holding each completed reservation once', async () => {
  // Setup: 1,200 confirmed reservations whose end passed (more than two of the
  // sweep's batches), and 300 holds never confirmed, ending in the same statements.
  const { rows: spots } = await db.owner.query(
    `
    insert into app_public.spots (location, street, rate_id, max_stay)
    select st_setsrid(st_makepoint(-73.99 + g * 1e-5, 40.75), 4326)::geography, 'Batch St', $1, interval '4 hours'
    from generate_series(1, 1200) g returning id`,
    [rate],
  );
  await worker.stop(); // so that all of them are due before a sweep sees any
  await db.owner.query(
    `
    insert into app_public.reservations (spot_id, email, period, status, amount, currency)
    select id, 'batch@example.test', tstzrange(now() - interval '1 hour', now() - interval '1 second'), 'confirmed', 600, 'USD'
    from unnest($1::bigint[]) id`,
    [spots.map((s: { id: string }) => s.id)],
  );
  const { rows: heldSpots } = await db.owner.query(
    `
    insert into app_public.spots (location, street, rate_id, max_stay)
    select st_setsrid(st_makepoint(-73.98 + g * 1e-5, 40.75), 4326)::geography, 'Held St', $1, interval '4 hours'
    from generate_series(1, 300) g returning id`,
    [rate],
  );
  await db.owner.query(
    `
    insert into app_public.reservations (spot_id, email, period, status, amount, currency, hold_expires_at)
    select id, 'held@example.test', tstzrange(now() - interval '1 hour', now() - interval '1 second'), 'held', 600, 'USD', now() + interval '1 hour'
    from unnest($1::bigint[]) id`,
    [heldSpots.map((s: { id: string }) => s.id)],
  );
  // Action
  worker = await startWorker({
    connectionString: db.urls.owner,
    crontab: '# none',
    pollInterval: 200,
    concurrency: 4,
    taskList: { due_work__sweep },
  });
  await until(
    'all ended',
    async () =>
      (
        await db.owner.query(
          `select count(*) filter (where email = 'batch@example.test' and status = 'completed')::int
                + count(*) filter (where email = 'held@example.test' and status = 'expired')::int as n
           from app_public.reservations`,
        )
      ).rows[0].n === 1500,
  );
  // Assertions
  const {
    rows: [counts],
  } = await db.owner.query(`
    with charge_batches as (
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where t.identifier = 'reservation__charge' and json_typeof(j.payload) = 'array')
    select
    (select count(distinct e->>'reservationId') from charge_batches j, json_array_elements(j.payload) e
       where (e->>'reservationId')::bigint in (select id from app_public.reservations where email = 'batch@example.test'))::int as charges,
    (select count(*) from charge_batches j, json_array_elements(j.payload) e
       where (e->>'reservationId')::bigint in (select id from app_public.reservations where email = 'batch@example.test'))::int as entries,
    (select max(json_array_length(j.payload)) from charge_batches j)::int as largest,
    (select count(*) from app_private.reservation_events e join app_public.reservations r on r.id = e.reservation_id
       where r.email = 'batch@example.test' and e.action = 'completed')::int as events,
    (select count(*) from app_private.emails where recipient = 'batch@example.test' and template = 'reservation_ended')::int as emails,
    -- Each email is about its own reservation, as it is now.
    (select count(distinct e.data->>'reservationId') from app_private.emails e
       join app_public.reservations r on r.id = (e.data->>'reservationId')::bigint
       where e.recipient = 'batch@example.test' and e.template = 'reservation_ended'
         and e.data->>'status' = 'completed' and e.data->>'spot' = 'Batch St' and r.email = e.recipient)::int as emails_right,
    (select count(*) from app_private.reservation_events e join app_public.reservations r on r.id = e.reservation_id
       where r.email = 'held@example.test' and e.action = 'expired' and e.old_status = 'held')::int as expired_events,
    (select count(*) from app_private.emails where recipient = 'held@example.test' and template = 'reservation_expired')::int as expired_emails,
    (select count(*) from charge_batches j, json_array_elements(j.payload) e
       where (e->>'reservationId')::bigint in (select id from app_public.reservations where email = 'held@example.test'))::int as held_charged`);
  assert.equal(counts, {
    charges: 1200,
    entries: 1200,
    largest: 50,
    events: 1200,
    emails: 1200,
    emails_right: 1200,
    expired_events: 300,
    expired_emails: 300,
    held_charged: 0,
  });
});

test.run();
