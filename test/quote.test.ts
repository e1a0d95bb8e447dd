// Prices: operating hours read in the rate's time zone (whatever the session's),
// billing increments, the minimum charge and the payment provider's, DST
// windows priced by real elapsed time, and the amount locked onto a
// reservation when it is made.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { callAs, createTestDb, createUser, identityOf, sqlstateOf, withAnonDb, type TestDb } from './helpers/db.ts';
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
  // Meter times the clocks skip or repeat (Sundays), 360 an hour: in New York (one hour) and at Lord Howe
  // Island, whose clocks move by 30 minutes (02:00 → 02:30 on 2026-10-04, 02:00 → 01:30 on 2026-04-05).
  await mk('closesInGap', { hourlyPrice: 360, hours: [[7, '00:00', '02:30']] });
  await mk('opensInGap', { hourlyPrice: 360, hours: [[7, '02:30', '12:00']] });
  for (const [name, opens, closes] of [
    ['lordHoweLate', '02:15', '04:00'],
    ['lordHoweRepeated', '01:45', '04:00'],
    ['lordHoweClosesRepeated', '00:00', '01:45'],
    ['lordHoweOpensInGap', '02:15', '04:00'],
  ] as const) {
    await mk(name, { hourlyPrice: 360, hours: [[7, opens, closes]] });
    await db.owner.query(
      `update app_public.rates set time_zone = 'Australia/Lord_Howe' where id = (select rate_id from app_public.spots where id = $1)`,
      [spots[name]],
    );
  }
});

/** The price spotsNear shows for one spot, searched anonymously within 10 m of it. */
async function searchPrice(lat: number, lng: number, from: Date, to: Date, spot: string): Promise<number> {
  return withAnonDb(
    db,
    async (c) =>
      (
        await c.query(
          `select (m.price).amount from app_public.spots_near($1, $2, 0.01, 'km', $3, $4) m where (m.spot).id = $5`,
          [lat, lng, from, to, spot],
        )
      ).rows[0].amount,
  );
}

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

test('a meter time the clocks skip is the change itself; one they repeat opens at its first and closes at its last', async () => {
  // New York, 2026-03-08: the clock jumps from 02:00 EST to 03:00 EDT (07:00Z), so 02:30 never shows.
  const night = ['2026-03-08T00:00:00-05:00', '2026-03-08T12:00:00-04:00'] as const;
  const metered = async (spot: string, from: string, to: string) => (await quote(spot, from, to)).metered / 60;
  assert.is(await metered(spots.closesInGap, ...night), 120, 'closing at 02:30: metered 00:00–03:00 EDT, 2 real hours');
  assert.is(await metered(spots.closesInGap, '2026-03-08T03:00:00-04:00', '2026-03-08T03:30:00-04:00'), 0);
  assert.is(await metered(spots.opensInGap, ...night), 9 * 60, 'opening at 02:30: metered from 03:00 EDT to 12:00');
  assert.is(await metered(spots.opensInGap, '2026-03-08T03:00:00-04:00', '2026-03-08T03:30:00-04:00'), 30);
  // Lord Howe, 2026-04-05 (+11 until 15:00Z, then +10:30): 01:30–02:00 shows twice.
  const lhFall = ['2026-04-04T12:00:00Z', '2026-04-05T00:00:00Z'] as const;
  assert.is(await metered(spots.lordHoweLate, ...lhFall), 105, '02:15 +10:30 (15:45Z) to 04:00 +10:30 (17:30Z)');
  assert.is(await metered(spots.lordHoweRepeated, ...lhFall), 165, 'from the first 01:45 (14:45Z)');
  assert.is(await metered(spots.lordHoweClosesRepeated, ...lhFall), 135, 'from 13:00Z to the last 01:45 (15:15Z)');
  // Lord Howe, 2026-10-04 (+10:30 until 15:30Z, then +11): 02:00–02:30 never shows; 02:15 is the change.
  assert.is(
    await metered(spots.lordHoweOpensInGap, '2026-10-03T12:00:00Z', '2026-10-04T00:00:00Z'),
    90,
    '15:30Z to 17:00Z',
  );
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
  assert.is(await searchPrice(40.7512, -73.9912, from, to, cheap), 50, 'spotsNear price');

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

test('ending early or moving the end prices by the terms booked under, whatever became of the rate or the spot', async () => {
  // Setup: the reservation's rate, and an untouched twin with the same terms that prices the expected amounts.
  const terms = {
    hourlyPrice: 600,
    billingIncrement: '15 minutes',
    minimumCharge: 150,
    hours: [1, 2, 3, 4, 5, 6, 7].map((d) => [d, '00:00', '24:00'] as [number, string, string]),
  };
  const twin = await createRate(db, terms);
  const changes: Record<string, (rate: number, spot: string) => Promise<unknown>> = {
    'price raised': (rate) => db.owner.query('update app_public.rates set hourly_price = 60000 where id = $1', [rate]),
    'price lowered': (rate) => db.owner.query('update app_public.rates set hourly_price = 6 where id = $1', [rate]),
    increment: (rate) =>
      db.owner.query(`update app_public.rates set billing_increment = '60 minutes' where id = $1`, [rate]),
    minimum: (rate) => db.owner.query('update app_public.rates set minimum_charge = 50000 where id = $1', [rate]),
    'time zone': (rate) => db.owner.query(`update app_public.rates set time_zone = 'Asia/Tokyo' where id = $1`, [rate]),
    hours: async (rate) => {
      await db.owner.query('delete from app_public.rate_hours where rate_id = $1', [rate]);
      await db.owner.query(
        `insert into app_public.rate_hours (rate_id, isodow, opens, closes) select $1, d, '00:00', '00:01' from generate_series(1, 7) d`,
        [rate],
      );
    },
    'spot on another rate': async (_rate, spot) =>
      db.owner.query('update app_public.spots set rate_id = $1 where id = $2', [
        await createRate(db, { hourlyPrice: 90000 }),
        spot,
      ]),
  };
  const driver = await createUser(db);
  const as = identityOf(driver);
  const ops: Record<string, { startsIn: number; endsAt?: Date }> = {
    'end now': { startsIn: 0 },
    extend: { startsIn: 3, endsAt: hoursFromNow(6) },
    shorten: { startsIn: 3, endsAt: hoursFromNow(3.5) },
  };
  const wrong: string[] = [];
  let differs = 0;
  for (const [change, apply] of Object.entries(changes)) {
    for (const [name, op] of Object.entries(ops)) {
      const rate = await createRate(db, terms);
      const spot = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate, maxStay: '7 days' });
      const r = await reserve(db, as, {
        spotId: spot,
        startsAt: op.startsIn ? hoursFromNow(op.startsIn) : new Date(),
        durationMinutes: 120,
      });
      await db.owner.query('select app_private.confirm_held_reservation($1)', [r.id]);
      // Action: what the driver is shown (reservationEndQuote), then the change itself.
      await apply(rate, spot);
      let shown: number | null = null;
      if (op.endsAt) {
        [{ amount: shown }] = await callAs(db, as, 'select (app_public.reservation_end_quote($1, $2)).amount', [
          r.id,
          op.endsAt,
        ]);
        await callAs(db, as, 'select app_public.change_reservation_end($1, $2)', [r.id, op.endsAt]);
      } else {
        await callAs(db, as, 'select app_public.end_reservation($1)', [r.id]);
      }
      // Assertions
      const {
        rows: [row],
      } = await db.owner.query(
        `select r.amount, (app_hidden.quote_rate($2, r.period)).amount as booked,
                (app_hidden.quote_rate(s.rate_id, r.period)).amount as live
         from app_public.reservations r join app_public.spots s on s.id = r.spot_id where r.id = $1`,
        [r.id, twin],
      );
      if (row.amount !== row.booked) wrong.push(`${change}, ${name}: ${row.amount}, booked terms give ${row.booked}`);
      if (shown !== null && shown !== row.amount)
        wrong.push(`${change}, ${name}: shown ${shown}, charged ${row.amount}`);
      if (row.live !== row.booked) differs += 1;
    }
  }
  assert.equal(wrong, []);
  assert.ok(differs >= 15, `the changes must move the live price for the test to mean anything (${differs} of 21)`);
});

test('the price of ending now is what ending charges: a started hold (no card) is 0, a confirmed one its time used', async () => {
  const driver = await createUser(db);
  const as = identityOf(driver);
  const wrong: string[] = [];
  for (const confirmed of [false, true]) {
    const spot = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: await createRate(db, { hourlyPrice: 600 }) });
    const r = await reserve(db, as, { spotId: spot, startsAt: new Date(), durationMinutes: 60 });
    if (confirmed) await db.owner.query('select app_private.confirm_held_reservation($1)', [r.id]);
    const [{ amount: shown }] = await callAs(db, as, 'select (app_public.reservation_end_quote($1, null)).amount', [
      r.id,
    ]);
    const [{ amount: charged }] = await callAs(db, as, 'select (app_public.end_reservation($1)).reservation.amount', [
      r.id,
    ]);
    if (shown !== charged) wrong.push(`${confirmed ? 'confirmed' : 'held'}: shown ${shown}, charged ${charged}`);
    if (confirmed && !(charged > 0)) wrong.push(`confirmed: charged ${charged}, expected the minimum at least`);
  }
  assert.equal(wrong, []);
});

test("the price of a new end answers as changing the end would: the spot's maximum stay (SMB04), an end not after the start or too soon after it (SMB03), one already passed (SMB09), the spot taken (SMB01)", async () => {
  const driver = await createUser(db);
  const as = identityOf(driver);
  const spot = await createSpot(db, { lat: 40.75, lng: -73.99, maxStay: '2 hours' });
  const r = await reserve(db, as, { spotId: spot, startsAt: hoursFromNow(3), durationMinutes: 60 });
  const codes = async (endsAt: Date | null) => [
    await sqlstateOf(callAs(db, as, 'select app_public.reservation_end_quote($1, $2)', [r.id, endsAt])),
    await sqlstateOf(callAs(db, as, 'select app_public.change_reservation_end($1, $2)', [r.id, endsAt])),
  ];
  assert.equal(await codes(hoursFromNow(5.5)), ['SMB04', 'SMB04'], 'beyond the spot maximum');
  assert.equal(await codes(hoursFromNow(3)), ['SMB03', 'SMB03'], 'at the start');
  assert.equal(await codes(new Date(r.starts_at.getTime() + 30_000)), ['SMB03', 'SMB03'], 'under the least stay');
  // No end: the quote prices ending now, which endReservation refuses before the start; the change needs an end.
  assert.equal(await codes(null), ['SMB09', 'SMB03'], 'no end');
  const [{ amount }] = await callAs(db, as, 'select (app_public.reservation_end_quote($1, $2)).amount', [
    r.id,
    hoursFromNow(5),
  ]);
  assert.ok(amount > r.amount, 'the longest stay is priced');
  // Someone else books the hour after it: a later end would run into theirs.
  const other = await createUser(db);
  await reserve(db, identityOf(other), {
    spotId: spot,
    startsAt: new Date(r.ends_at.getTime() + 600_000),
    durationMinutes: 60,
  });
  assert.equal(await codes(new Date(r.ends_at.getTime() + 1_200_000)), ['SMB01', 'SMB01'], 'the spot taken');
  // Started and confirmed, no end prices ending now: what endReservation would charge.
  const started = await reserve(db, as, { spotId: spot, durationMinutes: 60 });
  await db.owner.query('select app_private.confirm_held_reservation($1)', [started.id]);
  const [{ amount: now }] = await callAs(db, as, 'select (app_public.reservation_end_quote($1, null)).amount', [
    started.id,
  ]);
  const {
    rows: [used],
  } = await db.owner.query(
    `select (app_hidden.reservation_quote(r, tstzrange(lower(r.period), now()))).amount from app_public.reservations r where r.id = $1`,
    [started.id],
  );
  assert.is(now, used.amount);
  // A new end already passed cannot be moved to, so it has no price either.
  const startedCodes = [
    await sqlstateOf(callAs(db, as, 'select app_public.reservation_end_quote($1, $2)', [started.id, new Date()])),
    await sqlstateOf(callAs(db, as, 'select app_public.change_reservation_end($1, $2)', [started.id, new Date()])),
  ];
  assert.equal(startedCodes, ['SMB09', 'SMB09'], 'an end already passed');
});

test('no price of a new end for a reservation that can no longer be ended or changed: SMB07, as the mutations answer', async () => {
  const driver = await createUser(db);
  const as = identityOf(driver);
  const spot = await createSpot(db, { lat: 40.75, lng: -73.99 });
  const made = async (startsIn: number) =>
    (await reserve(db, as, { spotId: spot, startsAt: hoursFromNow(startsIn), durationMinutes: 60 })).id;
  const cancelled = await made(3);
  await callAs(db, as, 'select app_public.cancel_reservation($1)', [cancelled]);
  const [completed, expired] = [await made(5), await made(7)];
  await db.owner.query(
    `update app_public.reservations set status = 'completed', hold_expires_at = null where id = $1`,
    [completed],
  );
  await db.owner.query(`update app_public.reservations set status = 'expired', hold_expires_at = null where id = $1`, [
    expired,
  ]);
  for (const [what, id, startsIn] of [
    ['cancelled', cancelled, 3],
    ['completed', completed, 5],
    ['expired', expired, 7],
  ] as const) {
    const codes = [
      await sqlstateOf(
        callAs(db, as, 'select app_public.reservation_end_quote($1, $2)', [id, hoursFromNow(startsIn + 2)]),
      ),
      await sqlstateOf(
        callAs(db, as, 'select app_public.change_reservation_end($1, $2)', [id, hoursFromNow(startsIn + 2)]),
      ),
    ];
    assert.equal(codes, ['SMB07', 'SMB07'], what);
  }
});

test('a rate is bounded so that the longest stay at it is chargeable, and search over it never fails', async () => {
  // The highest price a rate may have, and its minimum charge, over 7 days: 84,000,000, an int and a Stripe charge.
  const top = await createRate(db, { hourlyPrice: 500000, minimumCharge: 500000 });
  const spot = await createSpot(db, { lat: 40.7601, lng: -73.9801, rateId: top, maxStay: '7 days' });
  const from = hoursFromNow(1);
  const to = new Date(from.getTime() + 7 * 86400e3);
  assert.is(await searchPrice(40.7601, -73.9801, from, to, spot), 84_000_000);
  for (const [column, value] of [
    ['hourly_price', 500001],
    ['minimum_charge', 500001],
    ['hourly_price', 2147483647],
  ] as const) {
    assert.is(
      await sqlstateOf(db.owner.query(`update app_public.rates set ${column} = $2 where id = $1`, [top, value])),
      '23514',
      `${column} = ${value}`,
    );
  }
});

test("a day's metered windows never overlap, whoever writes them", async () => {
  const rate = await createRate(db, { hours: [[1, '09:00', '12:00']] });
  for (const [opens, closes] of [
    ['11:00', '13:00'],
    ['08:00', '09:30'],
    ['10:00', '11:00'],
    ['00:00', '24:00'],
  ]) {
    assert.is(
      await sqlstateOf(
        db.owner.query('insert into app_public.rate_hours (rate_id, isodow, opens, closes) values ($1, 1, $2, $3)', [
          rate,
          opens,
          closes,
        ]),
      ),
      '23P01',
      `${opens}-${closes} over 09:00-12:00`,
    );
  }
  // Touching windows and other days are fine.
  await db.owner.query(
    `insert into app_public.rate_hours (rate_id, isodow, opens, closes) values ($1, 1, '12:00', '24:00'), ($1, 2, '09:00', '12:00')`,
    [rate],
  );
});

test.run();
