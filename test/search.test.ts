// Spot search: ordering, units, radius edge, availability, prices, bad input,
// index use, and the same over HTTP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, withAnonDb, sqlstateOf, type TestDb } from './helpers/db.ts';
import { createRate, createSpot, north } from './helpers/spots.ts';
import { startApi, type TestApi } from './helpers/api.ts';

const LAT = 40.75;
const LNG = -73.99;
let db: TestDb;
let api: TestApi;
const spots: Record<string, string> = {};

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  const rate = await createRate(db, { hourlyPrice: 600 });
  spots.at100 = await createSpot(db, { lat: north(LAT, 100), lng: LNG, rateId: rate, street: 'W 36 St' });
  spots.at300 = await createSpot(db, { lat: north(LAT, 300), lng: LNG, rateId: rate });
  spots.at50 = await createSpot(db, { lat: north(LAT, 50), lng: LNG, rateId: rate });
  spots.at2000 = await createSpot(db, { lat: north(LAT, 2000), lng: LNG, rateId: rate });
  spots.closed = await createSpot(db, { lat: north(LAT, 20), lng: LNG, rateId: rate, status: 'out_of_service' });
  api = await startApi(db);
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

type Row = { id: string; distance: number; amount: number };
const near = (sql: string, params: unknown[]) =>
  withAnonDb(
    db,
    async (c) =>
      (
        await c.query<Row>(
          `select (m.spot).id::text as id, m.distance, (m.price).amount as amount from ${sql} m`,
          params,
        )
      ).rows,
  );

test('nearest first, only within the radius, out-of-service spots left out', async () => {
  const rows = await near(`app_public.spots_near($1, $2, 0.5)`, [LAT, LNG]);
  assert.equal(
    rows.map((r) => r.id),
    [spots.at50, spots.at100, spots.at300],
  );
  assert.ok(Math.abs(rows[0].distance - 0.05) < 0.001, `50 m is 0.05 km, got ${rows[0].distance}`);
});

test('miles: distance reported in miles, radius read in miles', async () => {
  const rows = await near(`app_public.spots_near($1, $2, 1.3, 'mi')`, [LAT, LNG]);
  assert.equal(rows.length, 4, 'the 2 km spot lies within 1.3 mi (2.09 km)');
  assert.ok(Math.abs(rows[3].distance / (2000 / 1609.344) - 1) < 0.005, `${rows[3].distance} mi`);
  assert.equal((await near(`app_public.spots_near($1, $2, 1.2, 'mi')`, [LAT, LNG])).length, 3, '1.2 mi is 1.93 km');
});

test('radius edge: a spot just inside counts, just outside does not', async () => {
  assert.equal((await near(`app_public.spots_near($1, $2, 0.301)`, [LAT, LNG])).length, 3);
  assert.equal((await near(`app_public.spots_near($1, $2, 0.299)`, [LAT, LNG])).length, 2);
});

test('a spot held for an overlapping window is not available; a touching one is', async () => {
  const at = (hours: number) => new Date(Math.floor(Date.now() / 3600e3) * 3600e3 + hours * 3600e3);
  await db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, amount, currency)
     values ($1, 'x@example.test', tstzrange($2, $3), 0, 'USD')`,
    [spots.at50, at(2), at(3)],
  );
  const window = (from: number, to: number) =>
    near(`app_public.spots_near($1, $2, 0.5, 'km', $3, $4)`, [LAT, LNG, at(from), at(to)]);
  assert.not.ok((await window(2.5, 4)).some((r) => r.id === spots.at50));
  assert.ok(
    (await window(1, 2)).some((r) => r.id === spots.at50),
    'a window ending as the reservation starts does not overlap',
  );
  assert.ok(
    (await window(3, 4)).some((r) => r.id === spots.at50),
    'nor one starting as it ends',
  );
  await db.owner.query(`update app_public.reservations set status = 'cancelled' where spot_id = $1`, [spots.at50]);
  const afterCancel = await window(2.5, 4);
  assert.ok(
    afterCancel.some((r) => r.id === spots.at50),
    'a cancelled reservation frees the spot',
  );
});

test('price for the window at the spot rate', async () => {
  const rows = await near(`app_public.spots_near($1, $2, 0.5, 'km', now(), now() + interval '90 minutes')`, [LAT, LNG]);
  assert.equal(rows[0].amount, 900, '1.5 h at 600/h');
});

test('a window longer than the spot allows leaves it out', async () => {
  const rows = await near(`app_public.spots_near($1, $2, 0.5, 'km', now(), now() + interval '5 hours')`, [LAT, LNG]);
  assert.equal(rows.length, 0, 'test spots allow 4 hours');
});

test('bad input is refused with a documented code', async () => {
  const cases: Array<[string, unknown[], string]> = [
    [`app_public.spots_near(91, 0, 1)`, [], 'SMS01'],
    [`app_public.spots_near(0, 181, 1)`, [], 'SMS01'],
    [`app_public.spots_near(null, 0, 1)`, [], 'SMS01'],
    [`app_public.spots_near('NaN', 0, 1)`, [], 'SMS01'],
    [`app_public.spots_near(0, 0, -1)`, [], 'SMS02'],
    [`app_public.spots_near(0, 0, 0)`, [], 'SMS02'],
    [`app_public.spots_near(0, 0, 'NaN')`, [], 'SMS02'],
    [`app_public.spots_near(0, 0, 50.001)`, [], 'SMS02'],
    [`app_public.spots_near(0, 0, 31.1, 'mi')`, [], 'SMS02'],
    [`app_public.spots_near(0, 0, 1, 'km', now() + interval '2 hours', now() + interval '1 hour')`, [], 'SMS03'],
    [`app_public.spots_near(0, 0, 1, 'km', now(), now())`, [], 'SMS03'],
    [`app_public.spots_near(0, 0, 1, 'km', now(), now() + interval '8 days')`, [], 'SMS03'],
    [`app_public.spots_near(0, 0, 1, 'km', now() + interval '100 days', null)`, [], 'SMS03'],
  ];
  for (const [sql, params, code] of cases) {
    assert.is(await sqlstateOf(near(sql, params)), code, sql);
  }
  // A value left out is named as missing, not as out of range.
  const messageOf = (sql: string) =>
    near(sql, []).then(
      () => '',
      (err: Error) => err.message,
    );
  assert.is(await messageOf('app_public.spots_near(null, 0, 1)'), 'Give both a latitude and a longitude');
  assert.is(await messageOf('app_public.spots_near(0, null, 1)'), 'Give both a latitude and a longitude');
  assert.is(
    await messageOf('app_public.spots_near(0, 0, null)'),
    'Give a radius: more than 0 and at most 50 km (31 mi)',
  );
  assert.match(await messageOf('app_public.spots_near(91, 0, 1)'), /^Latitude must be between -90 and 90/);
});

test('a dense area: strictly nearest first by the very distance reported, within the radius', async () => {
  // 400 spots scattered (reproducibly) over ~1.5 km around a point 6 km from the others.
  const [lat, lng] = [40.7, -73.93];
  await db.owner.query(
    `
    with seed as (select setseed(0.42))
    insert into app_public.spots (location, street, rate_id, max_stay)
    select st_setsrid(st_makepoint($2 + (random() - 0.5) * 0.018, $1 + (random() - 0.5) * 0.0135), 4326)::geography,
           'Dense St', (select min(id) from app_public.rates), interval '4 hours'
    from seed, generate_series(1, 400)`,
    [lat, lng],
  );
  try {
    const rows = await withAnonDb(
      db,
      async (c) =>
        (
          await c.query<{ distance: number; sphere: number; spheroid: number }>(
            `select m.distance, st_distance((m.spot).location, st_makepoint($2, $1)::geography, false) / 1000 as sphere,
              st_distance((m.spot).location, st_makepoint($2, $1)::geography) / 1000 as spheroid
       from app_public.spots_near($1, $2, 1) m`,
            [lat, lng],
          )
        ).rows,
    );
    assert.ok(rows.length > 250, `${rows.length} spots within 1 km`);
    const outOfOrder = rows.filter((r, i) => i > 0 && !(r.distance > rows[i - 1].distance));
    assert.equal(outOfOrder.length, 0, 'each distance strictly above the one before');
    assert.ok(
      rows.every((r) => r.distance <= 1),
      'all within the radius',
    );
    assert.ok(
      rows.every((r) => Math.abs(r.distance - r.sphere) < 1e-7),
      'the great-circle distance',
    );
    // What the field reported before: the spheroid's distance, which the KNN order does not follow.
    assert.ok(
      rows.some((r, i) => i > 0 && r.spheroid < rows[i - 1].spheroid),
      'the spheroid would be out of order here',
    );

    // Over HTTP, a page as a client gets it.
    const res = await api.gql(SEARCH, { lat, lng, radius: 1, unit: 'km', first: 100 });
    const distances: number[] = res.data.spotsNear.nodes.map((n: { distance: number }) => n.distance);
    assert.equal(
      distances,
      rows.slice(0, 100).map((r) => r.distance),
    );
  } finally {
    await db.owner.query(`delete from app_public.spots where street = 'Dense St'`); // the other tests count spots
  }
});

test('the search uses the GiST index on location', async () => {
  const plan = await withAnonDb(db, async (c) => {
    await c.query('set local enable_seqscan = off'); // 5 rows: make the planner show what it can use
    const { rows } = await c.query(`explain select * from app_public.spots_near(40.75, -73.99, 1) limit 20`);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
  assert.match(plan, /Index Scan using spots_location_idx/);
  assert.match(plan, /Order By: \(location <-> /, 'the KNN order comes from the index');
});

const SEARCH = `query ($lat: Float, $lng: Float, $radius: Float, $unit: DistanceUnit, $first: Int) {
  spotsNear(lat: $lat, lng: $lng, radius: $radius, unit: $unit, first: $first) {
    nodes { distance price { amount currency } spot { rowId lat lng description } }
  }
}`;

test('over HTTP: spotsNear answers with spots, distances, prices', async () => {
  const res = await api.gql(SEARCH, { lat: LAT, lng: LNG, radius: 0.5, unit: 'km', first: 2 });
  assert.equal(res.errors, undefined);
  const nodes = res.data.spotsNear.nodes;
  assert.equal(
    nodes.map((n: any) => n.spot.rowId),
    [spots.at50, spots.at100],
  );
  assert.ok(Math.abs(nodes[1].spot.lat - north(LAT, 100)) < 1e-9);
  assert.is(nodes[1].spot.description, 'W 36 St');
  assert.is(nodes[1].price.currency, 'USD');
});

test('over HTTP: bad input gets a code and message, not a 500', async () => {
  const bad = await api.gql(SEARCH, { lat: 91, lng: 0, radius: 1 });
  assert.is(bad.errors?.[0].extensions?.code, 'SMS01');
  assert.match(bad.errors![0].message, /Latitude/);
  const typed = await api.gql(SEARCH, { lat: 'north', lng: 0, radius: 1 });
  assert.is(typed.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  assert.ok(typed.status < 500);
  const unknownField = await api.gql(`{ spotsNear(lat: 1, lng: 1, radius: 1) { nodes { colour } } }`);
  assert.is(unknownField.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  assert.match(unknownField.errors![0].message, /colour/);
  const unparsable = await api.gql(`{ spotsNear(`);
  assert.is(unparsable.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
});

test('over HTTP: the plain list of spots available now', async () => {
  const res = await api.gql(`{ availableSpots { totalCount nodes { rowId } } }`);
  assert.equal(res.errors, undefined);
  assert.is(res.data.availableSpots.totalCount, 4, 'every active spot: none is held right now');
});

test.run();
