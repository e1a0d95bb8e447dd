// Operators' spots, rates and blocks: zones enforced by row level security
// (not only by the functions' checks), a spot out of service with the
// reservations it affects kept, and maintenance blocks under the same
// exclusion constraint as reservations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asRole, identityOf, sqlstateOf, callAs } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { useStaffApi, ZONE } from './helpers/staff.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { hoursFromNow, reserve } from './helpers/reservations.ts';

const ctx = useStaffApi(import.meta.filename, test);

const asOperator = (who: 'operator in zone' | 'operator out of zone') => identityOf(ctx.callers[who].user!);
let n = 0;
const zoneSpot = async (borough = ZONE) => createSpot(ctx.db, { lat: 40.6 + (n += 1) * 1e-3, lng: -73.95, borough });

test('row level security keeps an operator to their zones, whatever SQL they run', async () => {
  const spot = await zoneSpot();
  const rate = await createRate(ctx.db);
  const update = `update app_public.spots set street = 'Direct' where id = $1`;
  // The out-of-zone operator's direct update sees no row; the in-zone one's changes it.
  const outside = await asRole(
    ctx.db,
    asOperator('operator out of zone'),
    async (c) => (await c.query(update, [spot])).rowCount,
  );
  const inside = await asRole(
    ctx.db,
    asOperator('operator in zone'),
    async (c) => (await c.query(update, [spot])).rowCount,
  );
  assert.equal([outside, inside], [0, 1]);
  const insert = `insert into app_public.spots (location, street, rate_id, borough)
    values (st_setsrid(st_makepoint(-73.9, 40.6), 4326)::geography, 'New', $1, $2)`;
  assert.is(
    await sqlstateOf(asRole(ctx.db, asOperator('operator out of zone'), (c) => c.query(insert, [rate, ZONE]))),
    '42501',
  );
  assert.is(
    await sqlstateOf(asRole(ctx.db, asOperator('operator in zone'), (c) => c.query(insert, [rate, ZONE]))),
    undefined,
  );
  // A borough is free text: its case and surrounding spaces do not take it out of the zone.
  assert.is(
    await sqlstateOf(
      asRole(ctx.db, asOperator('operator in zone'), (c) => c.query(insert, [rate, ` ${ZONE.toUpperCase()} `])),
    ),
    undefined,
  );
  // Moving a spot out of one's zones is refused too (with check).
  assert.is(
    await sqlstateOf(
      asRole(ctx.db, asOperator('operator in zone'), (c) =>
        c.query(`update app_public.spots set borough = 'Queens' where id = $1`, [spot]),
      ),
    ),
    '42501',
  );
  // Drivers have no write grant at all.
  assert.is(
    await sqlstateOf(asRole(ctx.db, identityOf(ctx.callers.driver.user!), (c) => c.query(update, [spot]))),
    '42501',
  );
});

test('a spot out of service takes no new reservation and keeps the ones it has', async () => {
  const spot = await zoneSpot();
  const kept = await reserve(ctx.db, identityOf(ctx.callers.driver.user!), {
    spotId: spot,
    startsAt: hoursFromNow(2),
    durationMinutes: 60,
  });
  const affected = await ctx.api.gql(
    `query ($id: BigInt!) { spotAffectedReservations(spotId: $id) { nodes { rowId status } } }`,
    { id: spot },
    ctx.callers['operator in zone'].headers,
  );
  assert.equal(affected.data.spotAffectedReservations.nodes, [{ rowId: kept.id, status: 'held' }]);

  const res = await ctx.api.gql(
    `mutation ($id: BigInt!) { setSpotStatus(input: { spotId: $id, status: "out_of_service" }) { result { status } } }`,
    { id: spot },
    ctx.callers['operator in zone'].headers,
  );
  assert.is(res.data.setSpotStatus.result.status, 'out_of_service');

  const again = await sqlstateOf(
    reserve(ctx.db, identityOf(ctx.callers.driver.user!), {
      spotId: spot,
      startsAt: hoursFromNow(5),
      durationMinutes: 30,
    }),
  );
  assert.is(again, 'SMB02');
  const {
    rows: [row],
  } = await ctx.db.owner.query('select status::text from app_public.reservations where id = $1', [kept.id]);
  assert.is(row.status, 'held', 'the reservation made before is kept');
  // Kept as made: it may be shortened, not extended (more time on the spot would be a new use).
  const CHANGE = `mutation ($id: BigInt!, $end: Datetime!) { changeReservationEnd(input: { reservationId: $id, endsAt: $end }) { result { reservation { endsAt } } } }`;
  const longer = await ctx.api.gql(
    CHANGE,
    { id: kept.id, end: hoursFromNow(3.5).toISOString() },
    ctx.callers.driver.headers,
  );
  assert.is(longer.errors?.[0]?.extensions?.code, 'SMB02');
  const shorter = await ctx.api.gql(
    CHANGE,
    { id: kept.id, end: hoursFromNow(2.5).toISOString() },
    ctx.callers.driver.headers,
  );
  assert.is(shorter.errors, undefined, JSON.stringify(shorter.errors));
  const tooShort = await ctx.api.gql(
    CHANGE,
    { id: kept.id, end: new Date(hoursFromNow(2).getTime() + 30e3).toISOString() },
    ctx.callers.driver.headers,
  );
  assert.is(tooShort.errors?.[0]?.extensions?.code, 'SMB03', 'a reservation lasts a minute at least');
  const bad = await ctx.api.gql(
    `mutation ($id: BigInt!) { setSpotStatus(input: { spotId: $id, status: "closed" }) { clientMutationId } }`,
    { id: spot },
    ctx.callers['operator in zone'].headers,
  );
  assert.is(bad.errors?.[0]?.extensions?.code, 'SMO07');
});

test('maintenance blocks and reservations exclude each other', async () => {
  const spot = await zoneSpot();
  const op = asOperator('operator in zone');
  await reserve(ctx.db, identityOf(ctx.callers.driver.user!), {
    spotId: spot,
    startsAt: hoursFromNow(2),
    durationMinutes: 60,
  });
  assert.is(
    await sqlstateOf(
      callAs(ctx.db, op, 'select app_public.block_spot($1, $2, $3)', [spot, hoursFromNow(2.5), hoursFromNow(4)]),
    ),
    'SMB01',
  );
  await callAs(ctx.db, op, 'select app_public.block_spot($1, $2, $3)', [spot, hoursFromNow(4), hoursFromNow(6)]);
  assert.is(
    await sqlstateOf(
      reserve(ctx.db, identityOf(ctx.callers.driver.user!), {
        spotId: spot,
        startsAt: hoursFromNow(5),
        durationMinutes: 30,
      }),
    ),
    'SMB01',
  );
});

test('spot and rate input: codes, and nothing written', async () => {
  const rate = await createRate(ctx.db);
  const spot = await zoneSpot();
  const op = ctx.callers['operator in zone'].headers;
  const cases: Array<[query: string, code: string, message?: RegExp]> = [
    [
      `mutation { createSpot(input: { lat: 95, lng: 0, street: "X", rateId: ${rate}, borough: "${ZONE}" }) { clientMutationId } }`,
      'SMS01',
    ],
    [
      `mutation { createSpot(input: { lat: 40, lng: -73, street: "X", rateId: 999999, borough: "${ZONE}" }) { clientMutationId } }`,
      'SMO06',
    ],
    [
      `mutation { createSpot(input: { lat: 40, lng: -73, street: "X", rateId: ${rate}, borough: "${ZONE}", maxStayMinutes: 0 }) { clientMutationId } }`,
      'SMO05',
    ],
    [`mutation { updateSpot(input: { spotId: "999999", street: "X" }) { clientMutationId } }`, 'SMO03'],
    // A blank street left a spot without a name on the map and in the list.
    [`mutation { updateSpot(input: { spotId: "${spot}", street: "   " }) { clientMutationId } }`, 'SMO11'],
    [
      `mutation { updateSpot(input: { spotId: "${spot}", street: "${'x'.repeat(201)}" }) { clientMutationId } }`,
      'SMO11',
    ],
    [`mutation { updateSpot(input: { spotId: "${spot}", borough: "Queens" }) { clientMutationId } }`, 'SMO02'],
    [`mutation { createRate(input: { code: "x", name: "X", hourlyPrice: -1 }) { clientMutationId } }`, 'SMO08'],
    [
      `mutation { createRate(input: { code: "x", name: "X", hourlyPrice: 100, currency: "XXX" }) { clientMutationId } }`,
      'SMO08',
    ],
    [
      `mutation { createRate(input: { code: "x", name: "X", hourlyPrice: 100, billingIncrementMinutes: 61 }) { clientMutationId } }`,
      'SMO08',
    ],
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 8, opens: "09:00", closes: "10:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 1, opens: "10:00", closes: "09:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    // Overlapping windows of one day would meter the same time twice.
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 1, opens: "09:00", closes: "12:00" }, { isodow: 1, opens: "11:00", closes: "13:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 3, opens: "00:00", closes: "24:00" }, { isodow: 3, opens: "00:00", closes: "24:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    // Prices a long stay could not be charged at (7 days at 2^31-1 overflowed every search over the spot).
    [`mutation { createRate(input: { code: "x", name: "X", hourlyPrice: 500001 }) { clientMutationId } }`, 'SMO08'],
    [
      `mutation { createRate(input: { code: "x", name: "X", hourlyPrice: 100, minimumCharge: 500001 }) { clientMutationId } }`,
      'SMO08',
    ],
    [`mutation { updateRate(input: { rateId: ${rate}, hourlyPrice: 2147483647 }) { clientMutationId } }`, 'SMO08'],
    [`mutation { updateRate(input: { rateId: ${rate}, minimumCharge: 500001 }) { clientMutationId } }`, 'SMO08'],
    [`mutation { updateRate(input: { rateId: ${rate}, name: "  " }) { clientMutationId } }`, 'SMO08', /name/],
    // A time left out is no time: it was let through, and the insert failed as INTERNAL.
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 1, opens: "09:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 1, opens: null, closes: "10:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    [`mutation { setRateHours(input: { rateId: ${rate}, hours: [1] }) { clientMutationId } }`, 'SMO08'],
    [
      `mutation { createSpot(input: { lat: 40, lng: -73, rateId: ${rate}, borough: "${ZONE}" }) { clientMutationId } }`,
      'SMO11',
    ],
    [
      `mutation { createSpot(input: { lat: 40, lng: -73, street: " ", rateId: ${rate}, borough: "${ZONE}" }) { clientMutationId } }`,
      'SMO11',
    ],
    // An id left out is named as such, not as <NULL>.
    [
      `mutation { createSpot(input: { lat: 40, lng: -73, street: "X", borough: "${ZONE}" }) { clientMutationId } }`,
      'SMO06',
      /^There is no rate \(none given\)$/,
    ],
    // Not a time of day: a code of ours, not PostgreSQL's 22008.
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 1, opens: "09:00", closes: "25:00" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    [
      `mutation { setRateHours(input: { rateId: ${rate}, hours: [{ isodow: 1, opens: "09:00", closes: "24:30" }] }) { clientMutationId } }`,
      'SMO08',
    ],
    // Each refusal names what is wrong.
    [
      `mutation { createRate(input: { code: "x", name: "X", hourlyPrice: 100, timeZone: "Mars/Base" }) { clientMutationId } }`,
      'SMO08',
      /Unknown time zone Mars\/Base/,
    ],
    [
      `mutation { createRate(input: { code: " ", name: "X", hourlyPrice: 100 }) { clientMutationId } }`,
      'SMO08',
      /code/,
    ],
  ];
  const digest = async () =>
    (
      await ctx.db.owner.query(`select (select count(*) from app_public.spots) || '/' || (select count(*) from app_public.rates)
    || '/' || (select count(*) from app_public.rate_hours) || '/' || (select count(*) from app_public.audit_log) as d`)
    ).rows[0].d;
  for (const [query, code, message] of cases) {
    const before = await digest();
    const res = await ctx.api.gql(query, {}, op);
    assert.is(res.errors?.[0]?.extensions?.code, code, query);
    if (message) assert.match(res.errors?.[0]?.message ?? '', message, query);
    assert.is(await digest(), before, query);
  }
  const taken = await ctx.api.gql(
    `mutation { createRate(input: { code: "dup", name: "D", hourlyPrice: 1 }) { clientMutationId } }`,
    {},
    op,
  );
  assert.is(taken.errors, undefined);
  const dup = await ctx.api.gql(
    `mutation { createRate(input: { code: "dup", name: "D", hourlyPrice: 1 }) { clientMutationId } }`,
    {},
    op,
  );
  assert.is(dup.errors?.[0]?.extensions?.code, 'SMO09');
});

test("a spot joins a rate only when that takes the rate from no other zone's operator (SMO12)", async () => {
  const brooklyn = ctx.callers['operator in zone'].headers;
  const rateOf = async (...boroughs: Array<string | null>) => {
    const rate = await createRate(ctx.db);
    for (const borough of boroughs)
      await createSpot(ctx.db, {
        lat: 40.62 + (n += 1) * 1e-3,
        lng: -73.9,
        rateId: rate,
        borough: borough ?? undefined,
      });
    return rate;
  };
  const CREATE = `mutation ($rate: Int!, $b: String) { createSpot(input: { lat: 40.65, lng: -73.95, street: "Fulton Street", rateId: $rate, borough: $b }) { result { rowId } } }`;
  const MOVE = `mutation ($id: BigInt!, $rate: Int, $b: String) { updateSpot(input: { spotId: $id, rateId: $rate, borough: $b }) { result { rowId rateId borough } } }`;
  const codeOf = (res: any) => res.errors?.[0]?.extensions?.code ?? null;
  const spotsOn = async (rate: number) =>
    (await ctx.db.owner.query('select count(*)::int as n from app_public.spots where rate_id = $1', [rate])).rows[0].n;

  // Refused: the Queens operator manages these rates today and would lose them.
  for (const spelled of [['Queens'], ['queens', ' QUEENS ']]) {
    const rate = await rateOf(...spelled);
    assert.is(codeOf(await ctx.api.gql(CREATE, { rate, b: ZONE }, brooklyn)), 'SMO12', spelled.join());
    const mine = await zoneSpot();
    assert.is(codeOf(await ctx.api.gql(MOVE, { id: mine, rate }, brooklyn)), 'SMO12', spelled.join());
    assert.is(await spotsOn(rate), spelled.length, 'nothing joined');
  }
  // Allowed: a rate no spot uses, one already in the caller's borough (any spelling), one across zones
  // (no zoned operator can change it), one with a spot of no borough (only admins and unzoned operators can).
  for (const boroughs of [[], ['brooklyn'], ['Queens', ZONE], [null]]) {
    const rate = await rateOf(...boroughs);
    const made = await ctx.api.gql(CREATE, { rate, b: ZONE }, brooklyn);
    assert.is(codeOf(made), null, JSON.stringify(boroughs));
    const moved = await ctx.api.gql(MOVE, { id: await zoneSpot(), rate }, brooklyn);
    assert.is(codeOf(moved), null, JSON.stringify(boroughs));
    assert.is(await spotsOn(rate), boroughs.length + 2);
  }
  // Moving a spot to another borough joins its rate anew. An operator of both boroughs may not take a
  // Brooklyn-only rate from the Brooklyn operator, but may move a spot of a rate already in both; admins
  // decide for everyone.
  const both = await createSignedInUser(ctx.db, ctx.api, { role: 'operator' });
  await ctx.db.owner.query(`insert into app_public.operator_zones (user_id, borough) values ($1, $2), ($1, 'Queens')`, [
    both.id,
    ZONE,
  ]);
  const brooklynOnly = await rateOf(ZONE);
  const spot = await createSpot(ctx.db, { lat: 40.61, lng: -73.91, rateId: brooklynOnly, borough: ZONE });
  assert.is(codeOf(await ctx.api.gql(MOVE, { id: spot, b: 'Queens' }, both.headers)), 'SMO12');
  const shared = await rateOf('Queens');
  const sharedSpot = await createSpot(ctx.db, { lat: 40.611, lng: -73.91, rateId: shared, borough: ZONE });
  const moved = await ctx.api.gql(MOVE, { id: sharedSpot, b: 'Queens' }, both.headers);
  assert.equal(moved.data?.updateSpot.result, { rowId: sharedSpot, rateId: shared, borough: 'Queens' });
  const byAdmin = await ctx.api.gql(MOVE, { id: spot, b: 'Queens' }, ctx.callers.admin.headers);
  assert.equal(byAdmin.data?.updateSpot.result, { rowId: spot, rateId: brooklynOnly, borough: 'Queens' });
});

test("an operator's zones: a list left out, a null or a blank borough is refused (SMO10) and changes nothing; an empty list means everywhere", async () => {
  const SET = `mutation ($id: BigInt!, $b: [String]) { setOperatorZones(input: { userId: $id, boroughs: $b }) { result { borough } } }`;
  const op = ctx.callers['operator out of zone'].user!.id;
  const zones = async () =>
    (
      await ctx.db.owner.query('select borough from app_public.operator_zones where user_id = $1 order by 1', [op])
    ).rows.map((r) => r.borough);
  const before = await zones();
  assert.ok(before.length > 0, 'the operator has zones to lose');
  for (const b of [undefined, null, [null], [''], ['  '], ['x'.repeat(101)]]) {
    const res = await ctx.api.gql(SET, { id: op, b }, ctx.callers.admin.headers);
    assert.is(res.errors?.[0]?.extensions?.code, 'SMO10', JSON.stringify(b));
    assert.equal(await zones(), before, JSON.stringify(b));
  }
  const everywhere = await ctx.api.gql(SET, { id: op, b: [] }, ctx.callers.admin.headers);
  assert.equal(everywhere.data.setOperatorZones.result, []);
  // One borough in two spellings is one zone, kept as first written; re-sending it in another changes nothing.
  const twice = await ctx.api.gql(SET, { id: op, b: ['Queens', ' queens ', 'QUEENS'] }, ctx.callers.admin.headers);
  assert.equal(twice.data.setOperatorZones.result, [{ borough: 'Queens' }]);
  const respelled = await ctx.api.gql(SET, { id: op, b: ['queens'] }, ctx.callers.admin.headers);
  assert.equal(respelled.data.setOperatorZones.result, [{ borough: 'Queens' }]);
  const back = await ctx.api.gql(SET, { id: op, b: before }, ctx.callers.admin.headers);
  assert.equal(
    back.data.setOperatorZones.result.map((z: { borough: string }) => z.borough),
    before,
  );
});

test('createRate: a currency in lower case is refused saying so, not as one that cannot be charged; the import meter- codes are refused', async () => {
  const create = (currency: string) =>
    ctx.api.gql(
      `mutation ($c: String!) { createRate(input: { code: "lc-${process.pid}", name: "Lower", hourlyPrice: 100, currency: $c }) { clientMutationId } }`,
      { c: currency },
      ctx.callers.admin.headers,
    );
  const lower = await create('usd');
  assert.equal(
    [lower.errors?.[0]?.extensions?.code, lower.errors?.[0]?.message],
    ['SMO08', 'Write the currency in capitals: USD rather than usd'],
  );
  // The city import's codes are its own: a rate made ahead under one would take its meters at its price.
  for (const code of ['meter-123-24x7', ' Meter-500-mon-sat ']) {
    const squat = await ctx.api.gql(
      `mutation ($c: String!) { createRate(input: { code: $c, name: "Squat", hourlyPrice: 500000 }) { clientMutationId } }`,
      { c: code },
      ctx.callers['operator in zone'].headers,
    );
    assert.equal(
      [squat.errors?.[0]?.extensions?.code, squat.errors?.[0]?.message],
      ['SMO08', 'Rate codes starting meter- belong to the city import'],
      code,
    );
  }
  const unknown = await create('xyz');
  assert.equal(
    [unknown.errors?.[0]?.extensions?.code, unknown.errors?.[0]?.message],
    ['SMO08', 'Currency xyz cannot be charged'],
  );
});

test('hours to midnight read back as 24:00, and sending them back as read sets the same hours', async () => {
  const op = ctx.callers['operator in zone'].headers;
  const made = await ctx.api.gql(
    `mutation { createRate(input: { code: "late", name: "Late", hourlyPrice: 300 }) { result { rowId } } }`,
    {},
    op,
  );
  assert.is(made.errors, undefined, JSON.stringify(made.errors));
  const rateId = made.data.createRate.result.rowId;
  const SET = `mutation ($r: Int!, $h: JSON!) { setRateHours(input: { rateId: $r, hours: $h }) { clientMutationId } }`;
  const READ = `query ($r: Int!) { rateHours(condition: { rateId: $r }, orderBy: [ISODOW_ASC, OPENS_ASC]) { nodes { isodow opens closes } } }`;
  assert.is(
    (await ctx.api.gql(SET, { r: rateId, h: [{ isodow: 2, opens: '20:00', closes: '24:00' }] }, op)).errors,
    undefined,
  );
  const read = (await ctx.api.gql(READ, { r: rateId }, op)).data.rateHours.nodes;
  assert.equal(read, [{ isodow: 2, opens: '20:00:00.000000', closes: '24:00:00.000000' }]);
  const again = await ctx.api.gql(SET, { r: rateId, h: read }, op);
  assert.is(again.errors, undefined, JSON.stringify(again.errors));
  assert.equal((await ctx.api.gql(READ, { r: rateId }, op)).data.rateHours.nodes, read);
});

test.run();
