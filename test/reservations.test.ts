// Booking core in SQL: reserve (driver and guest), read, confirm, change the
// end, end now, cancel, operator blocks; with the audit rows, emails and scheduled work
// each change leaves behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createTestDb,
  createUser,
  identityOf,
  sqlstateOf,
  withUserDb,
  type TestDb,
  type TestUser,
  ANON,
  callAs,
} from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { emailedLink, TEST_WEB_URL } from './helpers/outbox.ts';
import { emailsOf, eventsOf, hoursFromNow, scheduledOf, reserve, writeCounts } from './helpers/reservations.ts';

let db: TestDb;
let driver: TestUser;
let rate: number;
const LAT = 40.75;
const LNG = -73.99;
const spot = () => createSpot(db, { lat: LAT, lng: LNG, rateId: rate, street: 'W 36 St' });
const confirm = (id: string) => db.owner.query('select app_private.confirm_held_reservation($1)', [id]);
const statusOf = async (id: string) =>
  (
    await db.owner.query(
      'select status::text, amount, lower(period) as s, upper(period) as e from app_public.reservations where id = $1',
      [id],
    )
  ).rows[0];

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  driver = await createUser(db);
  // 600/h billed per 15 min, at least 150: round the clock (no hours rows).
  rate = await createRate(db, { hourlyPrice: 600, billingIncrement: '15 minutes', minimumCharge: 150 });
});

test.after(async () => {
  await db?.close();
});

test('a driver reserves by start and end: held, priced, audited, emailed, end and hold expiry scheduled', async () => {
  // Setup
  const spotId = await spot();
  // Action
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(2), endsAt: hoursFromNow(3) });
  // Assertions
  assert.is(r.status, 'held');
  assert.is(r.amount, 600);
  assert.is(r.currency, 'USD');
  assert.is(r.manage_token, null, 'signed-in drivers get no token');
  const holdMs = r.hold_expires_at!.getTime() - Date.now();
  assert.ok(holdMs > 14 * 60e3 && holdMs <= 15 * 60e3, `hold lasts 15 min, got ${holdMs} ms`);
  const {
    rows: [row],
  } = await db.owner.query('select user_id::text, email::text from app_public.reservations where id = $1', [r.id]);
  assert.equal(row, { user_id: driver.id, email: driver.email });
  assert.equal(
    (await eventsOf(db, r.id)).map((e) => [e.action, e.actor_role, e.actor_user_id]),
    [['reserved', 'app_user', driver.id]],
  );
  const [mail] = await emailsOf(db, r.id);
  assert.is(mail.template, 'reservation_held');
  assert.is(mail.recipient, driver.email);
  assert.equal(
    Object.keys(mail.data).sort(),
    [
      'amount',
      'currency',
      'endsAt',
      'holdExpiresAt',
      'isGuest',
      'reservationId',
      'spot',
      'spotId',
      'startsAt',
      'status',
      'timeZone',
    ].sort(),
  );
  assert.is(mail.data.startsAt, hoursFromNow(2).toISOString().replace('.000', ''));
  assert.is(mail.data.timeZone, 'America/New_York');
  assert.is(mail.data.spot, 'W 36 St');
  const jobs = await scheduledOf(db, r.id);
  assert.equal(Object.keys(jobs).sort(), ['hold_expiry', 'reservation_end']);
  assert.is(jobs.reservation_end.run_at.getTime(), hoursFromNow(3).getTime());
  assert.is(jobs.hold_expiry.run_at.getTime(), r.hold_expires_at!.getTime());
  const {
    rows: [queued],
  } = await db.owner.query('select count(*)::int as n from graphile_worker.jobs');
  assert.is(queued.n, 0, 'booking queues no job: the due-work sweep finds the row');
});

test('a guest reserves by start and duration: one-time token, only its hash stored', async () => {
  const spotId = await spot();
  const r = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(1),
    durationMinutes: 90,
    email: ' Guest@Example.test ',
  });
  assert.is(r.ends_at.getTime() - r.starts_at.getTime(), 90 * 60e3);
  assert.is(r.amount, 900);
  assert.match(r.manage_token!, /^[A-Za-z0-9_-]{32}$/);
  const {
    rows: [secret],
  } = await db.owner.query(
    `select encode(manage_token_hash, 'hex') as h, position($2::bytea in manage_token_hash) as found
     from app_private.reservation_secrets where reservation_id = $1`,
    [r.id, Buffer.from(r.manage_token!)],
  );
  assert.is(secret.h.length, 64, 'a sha-256');
  assert.is(secret.found, 0, 'the token itself is nowhere in the row');
  const [mail] = await emailsOf(db, r.id);
  assert.is(mail.recipient, 'Guest@Example.test');
  assert.is(emailedLink(mail), `${TEST_WEB_URL}/reservations/${r.id}/manage`);
  assert.is(mail.data.isGuest, true);
  // The guest reads it back with id + token, and only so.
  const [read] = await callAs(db, ANON, 'select id::text, status::text from app_public.guest_reservation($1, $2)', [
    r.id,
    r.manage_token,
  ]);
  assert.equal(read, { id: r.id, status: 'held' });
  assert.is(
    await sqlstateOf(callAs(db, ANON, 'select * from app_public.guest_reservation($1, $2)', [r.id, 'x'.repeat(32)])),
    'SMB06',
  );
  assert.is(
    await sqlstateOf(callAs(db, ANON, 'select * from app_public.guest_reservation($1, null)', [r.id])),
    'SMB06',
  );
});

test('start now: no start means now, a start a minute ago reads as now', async () => {
  const spotA = await spot();
  const r = await reserve(db, identityOf(driver), { spotId: spotA, durationMinutes: 30 });
  const {
    rows: [made],
  } = await db.owner.query('select lower(period) = created_at as now from app_public.reservations where id = $1', [
    r.id,
  ]);
  assert.ok(made.now, 'starts at the instant of the booking transaction');
  const spotB = await spot();
  const late = await reserve(db, identityOf(driver), {
    spotId: spotB,
    startsAt: new Date(Date.now() - 60e3),
    durationMinutes: 30,
  });
  assert.ok(late.starts_at.getTime() > Date.now() - 5000, 'clamped to now');
  const {
    rows: [r1],
  } = await db.owner.query(
    'select hold_expires_at = upper(period) as capped from app_public.reservations where id = $1',
    [(await reserve(db, identityOf(driver), { spotId: await spot(), durationMinutes: 10 })).id],
  );
  assert.ok(r1.capped, 'a hold never outlives a 10-minute reservation');
});

test('windows that touch end-to-start do not conflict; overlapping ones get SMB01', async () => {
  const spotId = await spot();
  await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(2), endsAt: hoursFromNow(3) });
  await reserve(db, ANON, { spotId, startsAt: hoursFromNow(3), endsAt: hoursFromNow(4), email: 'a@example.test' });
  await reserve(db, ANON, { spotId, startsAt: hoursFromNow(1), endsAt: hoursFromNow(2), email: 'b@example.test' });
  const before = await writeCounts(db);
  const err = await reserve(db, ANON, {
    spotId,
    startsAt: new Date(hoursFromNow(2).getTime() + 30 * 60e3),
    durationMinutes: 60,
    email: 'c@example.test',
  }).catch((e) => e);
  assert.is(err.code, 'SMB01');
  assert.match(err.message, /already taken/);
  assert.equal(await writeCounts(db), before, 'nothing written');
});

test("the spot's maximum stay holds across one driver's back-to-back stays (less than an hour apart), booked or extended", async () => {
  const spotId = await createSpot(db, { lat: 40.74, lng: -73.99, rateId: await createRate(db), maxStay: '2 hours' });
  const other = await createUser(db);
  const mine = identityOf(driver);
  const codeOf = (p: Promise<unknown>) => p.then(() => null).catch((e: { code?: string }) => e.code ?? String(e));
  const first = await reserve(db, mine, { spotId, startsAt: hoursFromNow(10), durationMinutes: 120 });
  const before = await writeCounts(db);
  // Right after, or 59 minutes after: the same stay, 4 h and 3 h 59 min long.
  assert.is(await codeOf(reserve(db, mine, { spotId, startsAt: hoursFromNow(12), durationMinutes: 60 })), 'SMB04');
  assert.is(
    await codeOf(reserve(db, mine, { spotId, startsAt: hoursFromNow(12 + 59 / 60), durationMinutes: 60 })),
    'SMB04',
  );
  // Right before: the same.
  assert.is(await codeOf(reserve(db, mine, { spotId, startsAt: hoursFromNow(9), durationMinutes: 60 })), 'SMB04');
  assert.equal(await writeCounts(db), before, 'nothing written');
  // An hour away it is a new stay; someone else may park right after.
  assert.is(await codeOf(reserve(db, mine, { spotId, startsAt: hoursFromNow(13), durationMinutes: 60 })), null);
  assert.is(
    await codeOf(reserve(db, identityOf(other), { spotId, startsAt: hoursFromNow(12), durationMinutes: 30 })),
    null,
  );
  // A guest email's stays join the same way.
  const guest = { email: 'back.to.back@example.test' };
  await reserve(db, ANON, { spotId, startsAt: hoursFromNow(20), durationMinutes: 90, ...guest });
  assert.is(
    await codeOf(reserve(db, ANON, { spotId, startsAt: hoursFromNow(21.5), durationMinutes: 60, ...guest })),
    'SMB04',
  );
  // Moving an end so that it reaches the next stay is the same.
  const early = await reserve(db, mine, { spotId, startsAt: hoursFromNow(30), durationMinutes: 60 });
  await reserve(db, mine, { spotId, startsAt: hoursFromNow(32), durationMinutes: 60 });
  assert.is(
    await codeOf(callAs(db, mine, 'select app_public.change_reservation_end($1, $2)', [early.id, hoursFromNow(31.5)])),
    'SMB04',
  );
  // So do one vehicle's stays, whoever books them: a second email does not start the limit again.
  const withPlate = (email: string, hours: number, plate: string, state: string | null) =>
    codeOf(
      callAs(db, ANON, 'select app_public.reserve($1, $2, null, 60, $3, $4, $5)', [
        spotId,
        hoursFromNow(hours),
        email,
        plate,
        state,
      ]),
    );
  assert.is(await withPlate('car.one@example.test', 40, 'MAX 123', 'NY'), null);
  assert.is(await withPlate('car.two@example.test', 41, 'max-123', null), null);
  assert.is(await withPlate('car.three@example.test', 42, 'MAX123', 'NY'), 'SMB04', 'the same car, a third hour');
  // The state is the driver's word (enforcement reads the plate): another state joins too.
  assert.is(await withPlate('car.four@example.test', 42, 'MAX123', 'NJ'), 'SMB04', 'the plate alone');
  assert.ok(first.id);
});

test('a stay already over still counts against the maximum: ending early and booking again at once does not reset it', async () => {
  const spotId = await createSpot(db, { lat: 40.741, lng: -73.99, rateId: await createRate(db), maxStay: '2 hours' });
  const mine = identityOf(driver);
  const codeOf = (p: Promise<unknown>) => p.then(() => null).catch((e: { code?: string }) => e.code ?? String(e));
  const r = await reserve(db, mine, { spotId, durationMinutes: 90 });
  await db.owner.query('select app_private.confirm_held_reservation($1)', [r.id]);
  await db.owner.query(
    `update app_public.reservations set period = tstzrange(now() - interval '80 minutes', upper(period)) where id = $1`,
    [r.id],
  );
  await callAs(db, mine, 'select app_public.end_reservation($1)', [r.id]);
  // 80 minutes used: another hour right away is 2 h 20 min in a row.
  assert.is(await codeOf(reserve(db, mine, { spotId, durationMinutes: 60 })), 'SMB04');
  assert.is(
    await codeOf(reserve(db, mine, { spotId, durationMinutes: 35 })),
    null,
    'within what is left of the 2 hours',
  );
});

test('confirm: held -> confirmed, hold expiry gone, reminder scheduled 15 min before the end; idempotent', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), endsAt: hoursFromNow(2) });
  await confirm(r.id);
  await confirm(r.id);
  assert.is((await statusOf(r.id)).status, 'confirmed');
  const jobs = await scheduledOf(db, r.id);
  assert.equal(Object.keys(jobs).sort(), ['reservation_end', 'reservation_reminder']);
  assert.is(jobs.reservation_reminder.run_at.getTime(), hoursFromNow(2).getTime() - 15 * 60e3);
  assert.equal(
    (await emailsOf(db, r.id)).map((m) => m.template),
    ['reservation_held', 'reservation_confirmed'],
  );
  assert.equal(
    (await eventsOf(db, r.id)).map((e) => [e.action, e.actor_role]),
    [
      ['reserved', 'app_user'],
      ['confirmed', 'system:app_owner'],
    ],
  );
  assert.is(
    (await db.owner.query('select hold_expires_at from app_public.reservations where id = $1', [r.id])).rows[0]
      .hold_expires_at,
    null,
  );
});

test('change the end: extend and shorten re-price, move the end and the reminder', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), endsAt: hoursFromNow(2) });
  await confirm(r.id);
  const [changed] = await callAs(
    db,
    identityOf(driver),
    'select amount, upper(period) as e from app_public.change_reservation_end($1, $2) x, lateral (select (x.reservation).*) r',
    [r.id, hoursFromNow(3)],
  );
  assert.is(changed.amount, 1200);
  assert.is(changed.e.getTime(), hoursFromNow(3).getTime());
  const after = await scheduledOf(db, r.id);
  assert.equal(Object.keys(after).sort(), ['reservation_end', 'reservation_reminder']);
  assert.is(after.reservation_end.run_at.getTime(), hoursFromNow(3).getTime());
  assert.is(after.reservation_reminder.run_at.getTime(), hoursFromNow(3).getTime() - 15 * 60e3);
  const [shorter] = await callAs(
    db,
    identityOf(driver),
    'select amount from app_public.change_reservation_end($1, $2) x, lateral (select (x.reservation).*) r',
    [r.id, new Date(hoursFromNow(1).getTime() + 20 * 60e3)],
  );
  assert.is(shorter.amount, 300, '20 min billed as 30 min (15-min increments) at 600/h');
  assert.equal(
    (await eventsOf(db, r.id)).map((e) => e.action),
    ['reserved', 'confirmed', 'end_changed', 'end_changed'],
  );
  const mails = await emailsOf(db, r.id);
  assert.equal(
    mails.map((m) => m.template),
    ['reservation_held', 'reservation_confirmed', 'reservation_changed', 'reservation_changed'],
  );
  assert.is(mails[2].data.previousAmount, 600);
  assert.is(mails[2].data.amount, 1200);
});

test('change the end: each refusal has its code and writes nothing', async () => {
  const spotId = await createSpot(db, { lat: LAT, lng: LNG, rateId: rate, maxStay: '3 hours' });
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), endsAt: hoursFromNow(2) });
  await reserve(db, ANON, { spotId, startsAt: hoursFromNow(3), endsAt: hoursFromNow(4), email: 'next@example.test' });
  const cancelled = await reserve(db, identityOf(driver), {
    spotId,
    startsAt: hoursFromNow(6),
    endsAt: hoursFromNow(7),
  });
  await callAs(db, identityOf(driver), 'select app_public.cancel_reservation($1)', [cancelled.id]);
  const other = await createUser(db);
  const change = (who: any, id: string, end: unknown) =>
    sqlstateOf(callAs(db, who, 'select app_public.change_reservation_end($1, $2)', [id, end]));
  const before = await writeCounts(db);
  assert.is(await change(identityOf(driver), r.id, hoursFromNow(3.5)), 'SMB01', 'the next reservation starts at +3 h');
  assert.is(await change(identityOf(driver), r.id, new Date(Date.now() - 60e3)), 'SMB09', 'in the past');
  assert.is(
    await change(identityOf(driver), r.id, new Date(hoursFromNow(1).getTime() - 1)),
    'SMB03',
    'before the start',
  );
  assert.is(await change(identityOf(driver), r.id, hoursFromNow(1)), 'SMB03', 'an empty window');
  assert.is(await change(identityOf(driver), r.id, null), 'SMB03');
  assert.is(await change(identityOf(driver), r.id, 'infinity'), 'SMB03');
  assert.is(await change(identityOf(driver), cancelled.id, hoursFromNow(8)), 'SMB07', 'cancelled');
  assert.is(await change(identityOf(other), r.id, hoursFromNow(2.5)), 'SMB06', 'another driver’s');
  assert.is(await change(ANON, r.id, hoursFromNow(2.5)), 'SMB06', 'anonymous without a token');
  const maxStay = await createSpot(db, { lat: LAT, lng: LNG, rateId: rate, maxStay: '2 hours' });
  const r2 = await reserve(db, identityOf(driver), {
    spotId: maxStay,
    startsAt: hoursFromNow(1),
    endsAt: hoursFromNow(2),
  });
  const mid = await writeCounts(db);
  const err = await callAs(db, identityOf(driver), 'select app_public.change_reservation_end($1, $2)', [
    r2.id,
    hoursFromNow(3.5),
  ]).catch((e) => e);
  assert.is(err.code, 'SMB04');
  assert.match(err.message, /at most 2 h/);
  assert.equal(await writeCounts(db), mid);
  assert.is(before.reservations + 1, mid.reservations);
});

test('end now: charged for the time used with the minimum charge, charge queued, nothing else scheduled, spot free', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, durationMinutes: 120 });
  await confirm(r.id);
  const [ended] = await callAs(
    db,
    identityOf(driver),
    'select status::text, amount, upper(period) as e from app_public.end_reservation($1) x, lateral (select (x.reservation).*) r',
    [r.id],
  );
  assert.is(ended.status, 'completed');
  assert.is(ended.amount, 150, 'a moment used: 15 min = 150, and the minimum is 150');
  const {
    rows: [ev],
  } = await db.owner.query(
    `select at from app_private.reservation_events where reservation_id = $1 and new_status = 'completed'`,
    [r.id],
  );
  assert.is(ended.e.getTime(), ev.at.getTime(), 'ends at the instant of the ending transaction');
  const jobs = await scheduledOf(db, r.id);
  assert.equal(Object.keys(jobs), ['reservation_charge'], 'end, reminder and hold expiry gone; the charge queued');
  assert.is(jobs.reservation_charge.task_identifier, 'reservation__charge');
  assert.equal((await emailsOf(db, r.id)).map((m) => m.template).at(-1), 'reservation_ended');
  const again = await reserve(db, ANON, { spotId, durationMinutes: 30, email: 'next@example.test' });
  assert.is(again.status, 'held', 'the spot is free again');
  // A reservation that has not started is cancelled, not ended.
  const future = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(5), durationMinutes: 30 });
  assert.is(
    await sqlstateOf(callAs(db, identityOf(driver), 'select app_public.end_reservation($1)', [future.id])),
    'SMB09',
  );
  assert.is(
    await sqlstateOf(callAs(db, identityOf(driver), 'select app_public.end_reservation($1)', [r.id])),
    'SMB07',
    'already ended',
  );
});

test('ending one still held (no card) expires it, for a driver and a guest: no charge, no debt, amount 0, spot free', async () => {
  for (const who of ['driver', 'guest'] as const) {
    // Setup: a stay that has started and was never given a card.
    const spotId = await spot();
    const as = who === 'driver' ? identityOf(driver) : ANON;
    const r = await reserve(db, as, {
      spotId,
      durationMinutes: 60,
      ...(who === 'guest' ? { email: 'someone-else@example.test' } : {}),
    });
    // Action
    const [ended] = await callAs(
      db,
      as,
      'select status::text, amount, upper(period) as e from app_public.end_reservation($1, $2) x, lateral (select (x.reservation).*) r',
      [r.id, r.manage_token],
    );
    // Assertions: what its end would have made of it, and nothing to charge.
    assert.ok(r.amount > 0, 'it had a price');
    assert.equal([ended.status, ended.amount], ['expired', 0], `${who}: as cancelled, nothing due`);
    assert.is(ended.e.getTime(), r.ends_at.getTime(), `${who}: its end unchanged`);
    assert.equal(Object.keys(await scheduledOf(db, r.id)), [], `${who}: no charge queued, nothing left to do`);
    const {
      rows: [charges],
    } = await db.owner.query('select count(*)::int as n from app_private.charges where reservation_id = $1', [r.id]);
    assert.is(charges.n, 0, `${who}: no charge row`);
    const mails = await emailsOf(db, r.id);
    assert.equal(
      mails.map((m) => m.template),
      ['reservation_held', 'reservation_expired'],
      `${who}: emails`,
    );
    assert.is(mails[1].data.reason, 'ended', `${who}: the email says they ended it, not that it lapsed`);
    const again = await reserve(db, ANON, { spotId, durationMinutes: 30, email: 'next@example.test' });
    assert.is(again.status, 'held', `${who}: the spot is free again`);
    assert.is(
      await sqlstateOf(callAs(db, as, 'select app_public.end_reservation($1, $2)', [r.id, r.manage_token])),
      'SMB07',
      `${who}: already over`,
    );
  }
});

test('cancel before the start: free, nothing left scheduled; after the start: refused (end it instead)', async () => {
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), endsAt: hoursFromNow(2) });
  await confirm(r.id);
  assert.equal(Object.keys(await scheduledOf(db, r.id)).length, 2);
  const [c] = await callAs(
    db,
    identityOf(driver),
    'select status::text, amount from app_public.cancel_reservation($1) x, lateral (select (x.reservation).*) r',
    [r.id],
  );
  assert.equal(c, { status: 'cancelled', amount: 0 });
  assert.equal(await scheduledOf(db, r.id), {}, 'nothing of a cancelled reservation remains scheduled');
  const mails = await emailsOf(db, r.id);
  assert.is(mails.at(-1)!.template, 'reservation_cancelled');
  assert.is(mails.at(-1)!.data.reason, 'cancelled');
  assert.is(
    await sqlstateOf(callAs(db, identityOf(driver), 'select app_public.cancel_reservation($1)', [r.id])),
    'SMB07',
  );
  const started = await reserve(db, identityOf(driver), { spotId, durationMinutes: 30 });
  const refused = await callAs(db, identityOf(driver), 'select app_public.cancel_reservation($1)', [started.id]).catch(
    (err: Error & { code?: string }) => err,
  );
  assert.is((refused as { code?: string }).code, 'SMB09');
  // Still held (no card): the advice to end it says that costs nothing.
  assert.match((refused as Error).message, /no card was set up, so nothing is charged/);
  // A held reservation cancels the same way, and its hold expiry goes too.
  const held = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(3), durationMinutes: 30 });
  await callAs(db, identityOf(driver), 'select app_public.cancel_reservation($1)', [held.id]);
  assert.equal(await scheduledOf(db, held.id), {});
});

test('guests change, end and cancel with their token, never without it', async () => {
  const spotId = await spot();
  const g = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(1),
    durationMinutes: 60,
    email: 'g@example.test',
  });
  const [changed] = await callAs(
    db,
    ANON,
    'select amount from app_public.change_reservation_end($1, $2, $3) x, lateral (select (x.reservation).*) r',
    [g.id, hoursFromNow(2.5), g.manage_token],
  );
  assert.is(changed.amount, 900);
  assert.is(
    await sqlstateOf(callAs(db, ANON, 'select app_public.cancel_reservation($1, $2)', [g.id, 'wrong'])),
    'SMB06',
  );
  // A signed-in stranger with the right token? The token is what counts.
  assert.is(
    await sqlstateOf(withUserDb(db, (c) => c.query('select app_public.cancel_reservation($1)', [g.id]))),
    'SMB06',
  );
  const [c] = await callAs(
    db,
    ANON,
    'select status::text from app_public.cancel_reservation($1, $2) x, lateral (select (x.reservation).*) r',
    [g.id, g.manage_token],
  );
  assert.is(c.status, 'cancelled');
  const now = await reserve(db, ANON, { spotId, durationMinutes: 60, email: 'g@example.test' });
  await confirm(now.id);
  const [e] = await callAs(
    db,
    ANON,
    'select status::text from app_public.end_reservation($1, $2) x, lateral (select (x.reservation).*) r',
    [now.id, now.manage_token],
  );
  assert.is(e.status, 'completed');
  // A token opens only its own reservation.
  const g2 = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(5),
    durationMinutes: 60,
    email: 'g@example.test',
  });
  assert.is(
    await sqlstateOf(callAs(db, ANON, 'select app_public.cancel_reservation($1, $2)', [g2.id, g.manage_token])),
    'SMB06',
  );
});

test('my reservations (current and upcoming) and my past ones; anonymous must sign in', async () => {
  const me = await createUser(db);
  const spotId = await spot();
  const up = await reserve(db, identityOf(me), { spotId, startsAt: hoursFromNow(2), durationMinutes: 60 });
  const now = await reserve(db, identityOf(me), { spotId, durationMinutes: 60 });
  const gone = await reserve(db, identityOf(me), { spotId, startsAt: hoursFromNow(5), durationMinutes: 60 });
  await callAs(db, identityOf(me), 'select app_public.cancel_reservation($1)', [gone.id]);
  await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(7), durationMinutes: 60 });
  const current = await callAs(db, identityOf(me), 'select id::text from app_public.my_reservations()');
  assert.equal(
    current.map((r) => r.id),
    [now.id, up.id],
  );
  const past = await callAs(db, identityOf(me), 'select id::text, status::text from app_public.my_past_reservations()');
  assert.equal(past, [{ id: gone.id, status: 'cancelled' }]);
  assert.is(await sqlstateOf(callAs(db, ANON, 'select * from app_public.my_reservations()')), 'SMB11');
  assert.is(await sqlstateOf(callAs(db, ANON, 'select * from app_public.my_past_reservations()')), 'SMB11');
});

test('operator blocks: nothing can be reserved over a block, and a block cannot cover a reservation', async () => {
  const op = await createUser(db, { role: 'operator' });
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), durationMinutes: 60 });
  const opId = identityOf(op);
  assert.is(
    await sqlstateOf(
      callAs(db, opId, 'select app_public.block_spot($1, $2, $3, $4)', [
        spotId,
        hoursFromNow(0),
        hoursFromNow(4),
        'Road works',
      ]),
    ),
    'SMB01',
  );
  const [block] = await callAs(
    db,
    opId,
    `select id::text, kind, status::text from app_public.block_spot($1, $2, $3, 'Road works')`,
    [spotId, hoursFromNow(2), hoursFromNow(30)],
  );
  assert.equal({ kind: block.kind, status: block.status }, { kind: 'block', status: 'confirmed' });
  const before = await writeCounts(db);
  assert.is(
    await sqlstateOf(
      reserve(db, ANON, { spotId, startsAt: hoursFromNow(3), durationMinutes: 30, email: 'x@example.test' }),
    ),
    'SMB01',
  );
  assert.is(
    await sqlstateOf(
      callAs(db, identityOf(driver), 'select app_public.change_reservation_end($1, $2)', [r.id, hoursFromNow(2.5)]),
    ),
    'SMB01',
  );
  assert.equal(await writeCounts(db), before);
  assert.equal(await scheduledOf(db, block.id), {}, 'a block has no scheduled work');
  assert.equal(await emailsOf(db, block.id), []);
  const { rows: near } = await db.owner.query(
    `select (m.spot).id::text as id from app_public.spots_near($1, $2, 1, 'km', $3, $4) m`,
    [LAT, LNG, hoursFromNow(3), hoursFromNow(4)],
  );
  assert.not.ok(
    near.some((n: any) => n.id === spotId),
    'search does not offer a blocked spot',
  );
  assert.is(
    await sqlstateOf(
      callAs(db, identityOf(driver), 'select app_public.block_spot($1, $2, $3)', [
        spotId,
        hoursFromNow(40),
        hoursFromNow(41),
      ]),
    ),
    'SMB10',
  );
  assert.is(
    await sqlstateOf(callAs(db, identityOf(driver), 'select app_public.unblock_spot($1)', [block.id])),
    'SMB10',
  );
  assert.is(
    await sqlstateOf(
      callAs(db, ANON, 'select app_public.block_spot($1, $2, $3)', [spotId, hoursFromNow(40), hoursFromNow(41)]),
    ),
    'SMB10',
  );
  await callAs(db, opId, 'select app_public.unblock_spot($1)', [block.id]);
  const after = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(3),
    durationMinutes: 30,
    email: 'x@example.test',
  });
  assert.is(after.status, 'held');
  assert.equal(
    (await eventsOf(db, block.id)).map((e) => [e.action, e.actor_role, e.actor_user_id]),
    [
      ['blocked', 'app_operator', op.id],
      ['cancelled', 'app_operator', op.id],
    ],
  );
});

test('operators can act on any driver’s reservation; the email says so', async () => {
  const op = await createUser(db, { role: 'operator' });
  const spotId = await spot();
  const r = await reserve(db, identityOf(driver), { spotId, startsAt: hoursFromNow(1), durationMinutes: 60 });
  const [c] = await callAs(
    db,
    identityOf(op),
    'select status::text from app_public.cancel_reservation($1) x, lateral (select (x.reservation).*) r',
    [r.id],
  );
  assert.is(c.status, 'cancelled');
  assert.is((await emailsOf(db, r.id)).at(-1)!.data.reason, 'cancelled_by_operator');
});

test.run();
