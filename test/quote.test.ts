// Prices: operating hours read in the rate's time zone (whatever the session's),
// billing increments, the minimum charge and the payment provider's, DST
// windows priced by real elapsed time, and the amount locked onto a
// reservation when it is made.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, createUser, identityOf, sqlstateOf, withAnonDb, type TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { hoursFromNow, reserve } from './helpers/reservations.ts';

let db: TestDb;
const spots: Record<string, string> = {};

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  const mk = async (name: string, props: Parameters<typeof createRate>[1]) => {
    spots[name] = await createSpot(db, {
      lat: 40.75,
      lng: -73.99,
      rateId: await createRate(db, props),
      maxStay: '7 days',
    });
  };
  await mk('clock', { hourlyPrice: 360 }); // 6 a minute, around the clock
  await mk('weekdays', {
    hourlyPrice: 360,
    hours: [1, 2, 3, 4, 5, 6].map((d) => [d, '09:00', '19:00'] as [number, string, string]),
  });
  await mk('nightSunday', { hourlyPrice: 360, hours: [[7, '01:00', '04:00']] });
  await mk('midnight', {
    hourlyPrice: 360,
    hours: [
      [6, '20:00', '24:00'],
      [7, '00:00', '02:00'],
    ],
  });
  await mk('increments', { hourlyPrice: 600, billingIncrement: '15 minutes', minimumCharge: 150 });
});

test.after(async () => {
  await db?.close();
});

/** quote() as an anonymous visitor, in the given session time zone. */
const quote = (spot: string, from: string, to: string, timeZone = 'UTC') =>
  withAnonDb(db, async (c) => {
    await c.query(`select set_config('timezone', $1, true)`, [timeZone]);
    const {
      rows: [q],
    } = await c.query(
      `select amount, currency, extract(epoch from metered)::int as metered from app_public.quote($1, $2, $3)`,
      [spot, from, to],
    );
    return q as { amount: number; currency: string; metered: number };
  });

test('spring forward: six local hours across the change are five real hours', async () => {
  // 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT.
  const q = await quote(spots.clock, '2026-03-08T00:00:00-05:00', '2026-03-08T06:00:00-04:00');
  assert.equal(q, { amount: 1800, currency: 'USD', metered: 5 * 3600 });
});

test('fall back: six local hours across the change are seven real hours', async () => {
  // 2026-11-01 in New York: 02:00 EDT falls back to 01:00 EST.
  const q = await quote(spots.clock, '2026-11-01T00:00:00-04:00', '2026-11-01T06:00:00-05:00');
  assert.equal(q, { amount: 2520, currency: 'USD', metered: 7 * 3600 });
});

test('metered hours that span a DST change count the real time in them', async () => {
  // Sundays 01:00-04:00 local: 2 real hours on spring-forward day, 4 on fall-back day.
  const spring = await quote(spots.nightSunday, '2026-03-07T12:00:00-05:00', '2026-03-08T12:00:00-04:00');
  assert.is(spring.metered, 2 * 3600);
  assert.is(spring.amount, 720);
  const fall = await quote(spots.nightSunday, '2026-10-31T12:00:00-04:00', '2026-11-01T12:00:00-05:00');
  assert.is(fall.metered, 4 * 3600);
  assert.is(fall.amount, 1440);
});

test('operating hours are read in the rate’s zone, whatever the session’s time zone', async () => {
  // Saturday 2026-11-28 18:00 to Monday 2026-11-30 10:00 New York: 1 h Saturday + 1 h Monday.
  for (const tz of ['UTC', 'America/New_York', 'Asia/Tokyo', 'Pacific/Kiritimati', 'America/Los_Angeles']) {
    const q = await quote(spots.weekdays, '2026-11-28T18:00:00-05:00', '2026-11-30T10:00:00-05:00', tz);
    assert.equal([q.metered, q.amount], [2 * 3600, 720], `session time zone ${tz}`);
    const sunday = await quote(spots.nightSunday, '2026-11-29T00:30:00-05:00', '2026-11-29T01:30:00-05:00', tz);
    assert.is(sunday.metered, 30 * 60, `Sunday 01:00 local, session ${tz}`);
  }
});

test('outside operating hours parking is free, minimum charge included', async () => {
  const q = await quote(spots.weekdays, '2026-11-29T10:00:00-05:00', '2026-11-29T12:00:00-05:00'); // a Sunday
  assert.equal([q.metered, q.amount], [0, 0]);
  const evening = await quote(spots.weekdays, '2026-11-27T18:30:00-05:00', '2026-11-27T21:00:00-05:00');
  assert.is(evening.metered, 30 * 60, 'until 19:00 only');
});

test('hours to midnight (24:00) and from midnight join across the day boundary', async () => {
  // Saturday 20:00-24:00 and Sunday 00:00-02:00: 23:00 Sat to 01:00 Sun is two metered hours.
  const q = await quote(spots.midnight, '2026-11-28T23:00:00-05:00', '2026-11-29T01:00:00-05:00');
  assert.is(q.metered, 2 * 3600);
});

test('billing increment rounds up; minimum charge applies to any metered time', async () => {
  const at = '2026-12-01T10:00:00-05:00';
  const plus = (minutes: number) => new Date(new Date(at).getTime() + minutes * 60e3).toISOString();
  assert.is((await quote(spots.increments, at, plus(61))).amount, 750, '61 min -> 75 min at 600/h');
  assert.is((await quote(spots.increments, at, plus(60))).amount, 600);
  assert.is((await quote(spots.increments, at, plus(5))).amount, 150, '5 min -> 15 min = 150, the minimum');
  assert.is((await quote(spots.increments, at, plus(1))).amount, 150, 'the minimum charge');
  assert.is(
    (await quote(spots.clock, at, new Date(new Date(at).getTime() + 9 * 60e3 + 1000).toISOString())).amount,
    60,
    'a second more bills a whole minute: 9 min 1 s at 6 a minute -> 10 min',
  );
});

test("never below the payment provider's minimum for the currency: quote, search, booking, early end", async () => {
  // 4.00/h billed per minute with no minimum of its own: a minute would be 7¢, which Stripe never charges.
  const cheap = await createSpot(db, {
    lat: 40.7512,
    lng: -73.9912,
    rateId: await createRate(db, { hourlyPrice: 400 }),
  });
  const at = '2026-12-01T10:00:00-05:00';
  const plus = (minutes: number) => new Date(new Date(at).getTime() + minutes * 60e3).toISOString();
  assert.is((await quote(cheap, at, plus(1))).amount, 50, 'USD: 50¢');
  assert.is((await quote(cheap, at, plus(8))).amount, 53, 'above the minimum: the metered price');
  const pound = await createRate(db, { hourlyPrice: 400 });
  await db.owner.query(`update app_public.rates set currency = 'GBP' where id = $1`, [pound]);
  const gbp = await createSpot(db, { lat: 40.7512, lng: -73.9912, rateId: pound });
  assert.equal(await quote(gbp, at, plus(1)), { amount: 30, currency: 'GBP', metered: 60 }, 'GBP: 30p');

  // Search shows the same price for the same window.
  const from = hoursFromNow(1);
  const to = new Date(from.getTime() + 2 * 60e3);
  const found = await withAnonDb(
    db,
    async (c) =>
      (
        await c.query(
          `select (m.price).amount from app_public.spots_near(40.7512, -73.9912, 0.01, 'km', $1, $2) m where (m.spot).id = $3`,
          [from, to, cheap],
        )
      ).rows[0],
  );
  assert.is(found.amount, 50, 'spotsNear price');

  // Booking locks it; ending early (a second used) charges it, not 7¢.
  const driver = await createUser(db);
  const r = await reserve(db, identityOf(driver), { spotId: cheap, startsAt: new Date(), durationMinutes: 2 });
  assert.is(r.amount, 50, 'reserve');
  await db.owner.query(
    `update app_public.reservations set status = 'confirmed', hold_expires_at = null where id = $1`,
    [r.id],
  );
  const {
    rows: [ended],
  } = await db.owner.query('select amount from app_private.complete_reservation($1, now())', [r.id]);
  assert.is(ended.amount, 50, 'ended early');
});

test('a rate in a currency the payment provider does not charge is refused', async () => {
  const rate = await createRate(db, { hourlyPrice: 400 });
  assert.is(
    await sqlstateOf(db.owner.query(`update app_public.rates set currency = 'XTS' where id = $1`, [rate])),
    '23503',
  );
});

test('bad quotes are refused with their codes', async () => {
  assert.is(await sqlstateOf(quote('999999', '2026-12-01T10:00:00Z', '2026-12-01T11:00:00Z')), 'SMS04');
  assert.is(await sqlstateOf(quote(spots.clock, '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z')), 'SMS03');
  assert.is(await sqlstateOf(quote(spots.clock, '2026-12-01T10:00:00Z', '2026-12-09T10:00:00Z')), 'SMS03');
  const short = await createSpot(db, { lat: 40.75, lng: -73.99, maxStay: '2 hours' });
  assert.is(
    await sqlstateOf(quote(short, '2026-12-01T10:00:00Z', '2026-12-01T12:00:01Z')),
    'SMB04',
    'beyond the maximum stay',
  );
  assert.is(
    (await quote(short, '2026-12-01T10:00:00Z', '2026-12-01T12:00:00Z')).amount,
    800,
    'exactly the maximum stay',
  );
});

test('the price is locked onto the reservation when it is made', async () => {
  const driver = await createUser(db);
  const r = await reserve(db, identityOf(driver), {
    spotId: spots.increments,
    startsAt: hoursFromNow(1),
    durationMinutes: 61,
  });
  assert.is(r.amount, 750);
  await db.owner.query(
    `update app_public.rates set hourly_price = 6000
    where id = (select rate_id from app_public.spots where id = $1)`,
    [spots.increments],
  );
  const {
    rows: [row],
  } = await db.owner.query('select amount from app_public.reservations where id = $1', [r.id]);
  assert.is(row.amount, 750, 'a later price change does not touch it');
});

test.run();
