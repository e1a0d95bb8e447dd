// The booking API over HTTP (requests are anonymous until sign-in lands): a
// guest reserves, reads, changes, ends and cancels with the manage token; bad
// input gets a coded 4xx-class GraphQL error and writes nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { emailsOf, hoursFromNow, scheduledOf, writeCounts } from './helpers/reservations.ts';
import { ERROR_CODES } from '../server/error_codes.ts';
import { poolsOf } from '../server/middleware/installDatabasePools.ts';

let db: TestDb;
let api: TestApi;
let rate: number;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  rate = await createRate(db, { hourlyPrice: 400, minimumCharge: 100 });
  api = await startApi(db);
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

const RESERVATION = 'rowId status amount currency startsAt endsAt timeZone holdExpiresAt spot { rowId description }';
const RESERVE = `mutation ($spotId: BigInt, $startsAt: Datetime, $endsAt: Datetime, $durationMinutes: Int, $email: String) {
  reserve(input: { spotId: $spotId, startsAt: $startsAt, endsAt: $endsAt, durationMinutes: $durationMinutes, email: $email }) {
    result { manageToken reservation { ${RESERVATION} } }
  }
}`;
const GUEST = `query ($id: BigInt, $manageToken: String) { guestReservation(reservationId: $id, manageToken: $manageToken) { ${RESERVATION} } }`;
// Every reservation mutation answers the same shape as reserve: result { reservation manageToken }.
const CHANGE = `mutation ($id: BigInt, $endsAt: Datetime, $manageToken: String) {
  changeReservationEnd(input: { reservationId: $id, endsAt: $endsAt, manageToken: $manageToken }) { result { manageToken reservation { ${RESERVATION} } } }
}`;
const END = `mutation ($id: BigInt, $manageToken: String) { endReservation(input: { reservationId: $id, manageToken: $manageToken }) { result { manageToken reservation { ${RESERVATION} } } } }`;
const CANCEL = `mutation ($id: BigInt, $manageToken: String) { cancelReservation(input: { reservationId: $id, manageToken: $manageToken }) { result { manageToken reservation { ${RESERVATION} } } } }`;

test('a guest reserves over HTTP, reads it back with the token, extends it and cancels it', async () => {
  // Setup
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate, street: 'W 36 St' });
  // Action
  const res = await api.gql(RESERVE, {
    spotId,
    startsAt: hoursFromNow(1).toISOString(),
    durationMinutes: 90,
    email: 'guest@example.test',
  });
  // Assertions
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const { manageToken, reservation } = res.data.reserve.result;
  assert.match(manageToken, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(
    {
      status: reservation.status,
      amount: reservation.amount,
      currency: reservation.currency,
      tz: reservation.timeZone,
    },
    { status: 'held', amount: 600, currency: 'USD', tz: 'America/New_York' },
  );
  assert.is(new Date(reservation.endsAt).getTime() - new Date(reservation.startsAt).getTime(), 90 * 60e3);
  assert.is(reservation.spot.description, 'W 36 St');
  const id = reservation.rowId;

  const read = await api.gql(GUEST, { id, manageToken });
  assert.is(read.data.guestReservation.rowId, id);
  const wrong = await api.gql(GUEST, { id, manageToken: 'nope' });
  assert.is(wrong.errors?.[0].extensions?.code, 'SMB06');
  assert.is(wrong.status < 500, true);

  const changed = await api.gql(CHANGE, { id, endsAt: hoursFromNow(3).toISOString(), manageToken });
  assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
  assert.is(changed.data.changeReservationEnd.result.reservation.amount, 800);
  assert.is((await scheduledOf(db, id)).reservation_end.run_at.getTime(), hoursFromNow(3).getTime());

  // The vehicle, named after booking (or changed): normalised, and refused without the token.
  const VEHICLE = `mutation ($id: BigInt, $p: String, $s: String, $manageToken: String) {
    setReservationVehicle(input: { reservationId: $id, plate: $p, plateState: $s, manageToken: $manageToken }) {
      result { reservation { plate plateState } } } }`;
  const named = await api.gql(VEHICLE, { id, p: 'abc-123', s: 'ny', manageToken });
  assert.equal(named.data?.setReservationVehicle.result.reservation, { plate: 'ABC123', plateState: 'NY' });
  const refusals = [
    [{ id, p: 'XYZ9', s: 'NJ' }, 'SMB06'],
    [{ id, p: null, s: 'NJ', manageToken }, 'SME01'],
    [{ id, p: 'not a plate!', s: null, manageToken }, 'SME01'],
  ] as const;
  for (const [vars, code] of refusals)
    assert.is((await api.gql(VEHICLE, vars)).errors?.[0].extensions?.code, code, JSON.stringify(vars));
  const { rows: events } = await db.owner.query(
    `select old_plate, new_plate from app_private.reservation_events where reservation_id = $1 and action = 'vehicle_changed'`,
    [id],
  );
  assert.equal(
    events,
    [{ old_plate: null, new_plate: 'ABC123 NY' }],
    'audited once, with the plates; the refusals changed nothing',
  );
  // A hold that has started keeps its vehicle until a card confirms it: a plate swapped off a hold about
  // to lapse would dodge enforcement's lapsed-hold rule.
  const started = (await api.gql(RESERVE, { spotId, durationMinutes: 30, email: 'started@example.test' })).data.reserve
    .result;
  const swap = await api.gql(VEHICLE, {
    id: started.reservation.rowId,
    p: 'NEW1',
    s: null,
    manageToken: started.manageToken,
  });
  assert.is(swap.errors?.[0].extensions?.code, 'SMB09');

  const noToken = await api.gql(CANCEL, { id });
  assert.is(noToken.errors?.[0].extensions?.code, 'SMB06');
  const cancelled = await api.gql(CANCEL, { id, manageToken });
  assert.is(cancelled.data.cancelReservation.result.reservation.status, 'cancelled');
  assert.is(cancelled.data.cancelReservation.result.reservation.amount, 0);
  assert.equal(
    (await emailsOf(db, id)).map((m) => m.template),
    ['reservation_held', 'reservation_changed', 'reservation_cancelled'],
  );
});

test('a guest ends a started reservation now over HTTP: charged the minimum for a moment', async () => {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  const res = await api.gql(RESERVE, { spotId, durationMinutes: 60, email: 'now@example.test' });
  const { manageToken, reservation } = res.data.reserve.result;
  await db.owner.query('select app_private.confirm_held_reservation($1)', [reservation.rowId]);
  const ended = await api.gql(END, { id: reservation.rowId, manageToken });
  assert.equal(ended.errors, undefined, JSON.stringify(ended.errors));
  assert.equal(
    [ended.data.endReservation.result.reservation.status, ended.data.endReservation.result.reservation.amount],
    ['completed', 100],
  );
});

test('each reservation mutation answers from its own statement: none sends the reservation back to be read', async () => {
  // Setup: an API whose GraphQL pool has one connection, so whatever it prepares is on that one.
  const single = await startApi(db, { poolSize: 1 });
  try {
    const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate, street: 'W 37 St' });
    const later = await single.gql(RESERVE, {
      spotId,
      startsAt: hoursFromNow(2).toISOString(),
      durationMinutes: 60,
      email: 'one-statement@example.test',
    });
    const now = await single.gql(RESERVE, { spotId, durationMinutes: 30, email: 'one-statement@example.test' });
    const token = (r: typeof later) => r.data.reserve.result.manageToken;
    const idOf = (r: typeof later) => r.data.reserve.result.reservation.rowId;
    // Action
    const answers = [
      later,
      now,
      await single.gql(CHANGE, { id: idOf(later), endsAt: hoursFromNow(4).toISOString(), manageToken: token(later) }),
      await single.gql(CANCEL, { id: idOf(later), manageToken: token(later) }),
      await single.gql(END, { id: idOf(now), manageToken: token(now) }),
    ];
    // Assertions: every answer whole (columns, computed columns, the spot relation, the token) ...
    for (const a of answers) assert.equal(a.errors, undefined, JSON.stringify(a.errors));
    const results = answers.map((a) => Object.values(a.data as Record<string, { result: any }>)[0].result);
    assert.equal(
      results.map((r) => [
        r.reservation.status,
        r.reservation.timeZone,
        r.reservation.spot.description,
        !!r.manageToken,
      ]),
      [
        ['held', 'America/New_York', 'W 37 St', true],
        ['held', 'America/New_York', 'W 37 St', true],
        ['held', 'America/New_York', 'W 37 St', false],
        ['cancelled', 'America/New_York', 'W 37 St', false],
        ['expired', 'America/New_York', 'W 37 St', false],
      ],
    );
    assert.is(new Date(results[2].reservation.endsAt).getTime(), hoursFromNow(4).getTime());
    // ... and no statement that decodes a reservation record sent back by the API
    // (PostGraphile's second statement, `select … from (select ($1::"app_public"."reservations").*)`).
    const pool = poolsOf(single.handle.app).get('graphql')!;
    const { rows } = await pool.query<{ statement: string }>('select statement from pg_prepared_statements');
    assert.ok(
      rows.some((r) => r.statement.includes('"app_public"."reserve"(')),
      `the mutations were prepared on this connection: ${rows.map((r) => r.statement.slice(0, 80)).join(' | ')}`,
    );
    const decoding = rows.filter((r) => r.statement.includes('::"app_public"."reservations").*'));
    assert.equal(decoding.length, 0, decoding.map((r) => r.statement).join('\n'));
  } finally {
    await single.close();
  }
});

test('over HTTP: spot taken, bad windows and malformed values get coded errors, never a 500, and write nothing', async () => {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  const first = await api.gql(RESERVE, {
    spotId,
    startsAt: hoursFromNow(1).toISOString(),
    durationMinutes: 60,
    email: 'a@example.test',
  });
  assert.equal(first.errors, undefined);
  const before = await writeCounts(db);
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      'spot taken',
      { spotId, startsAt: hoursFromNow(1).toISOString(), durationMinutes: 30, email: 'b@example.test' },
      'SMB01',
    ],
    [
      'unknown spot',
      { spotId: '987654321', startsAt: hoursFromNow(1).toISOString(), durationMinutes: 30, email: 'b@example.test' },
      'SMB02',
    ],
    // Not ISO 8601: refused before SQL sees it (server/plugins/strict_datetime.ts).
    [
      'malformed timestamp',
      { spotId, startsAt: 'tomorrow at noon', durationMinutes: 30, email: 'b@example.test' },
      'GRAPHQL_VALIDATION_FAILED',
    ],
    [
      'impossible date',
      { spotId, startsAt: '2026-02-30T10:00:00Z', durationMinutes: 30, email: 'b@example.test' },
      '22008',
    ],
    [
      'start in the past',
      { spotId, startsAt: '2020-01-01T10:00:00Z', durationMinutes: 30, email: 'b@example.test' },
      'SMB03',
    ],
    ['zero duration', { spotId, durationMinutes: 0, email: 'b@example.test' }, 'SMB03'],
    ['negative duration', { spotId, durationMinutes: -5, email: 'b@example.test' }, 'SMB03'],
    ['huge duration', { spotId, durationMinutes: 2147483647, email: 'b@example.test' }, 'SMB04'],
    ['duration not an Int', { spotId, durationMinutes: 1e12, email: 'b@example.test' }, 'GRAPHQL_VALIDATION_FAILED'],
    [
      'spot id not a number',
      { spotId: '1; drop table app_public.spots', durationMinutes: 30, email: 'b@example.test' },
      '22P02',
    ],
    ['no email', { spotId, durationMinutes: 30 }, 'SMB08'],
    ['SQL-looking email', { spotId, durationMinutes: 30, email: "' or 1=1 --" }, 'SMB08'],
  ];
  const failures: string[] = [];
  for (const [name, variables, code] of cases) {
    const res = await api.gql(RESERVE, variables);
    const got = res.errors?.[0]?.extensions?.code;
    if (got !== code || res.status >= 500) failures.push(`${name}: ${res.status} ${got} ${res.errors?.[0]?.message}`);
    // PostgreSQL's own codes carry the documented message, never PostgreSQL's wording.
    if (/^\d\d/.test(code) && res.errors?.[0]?.message !== ERROR_CODES[code])
      failures.push(`${name}: message ${res.errors?.[0]?.message}`);
  }
  assert.equal(failures, []);
  assert.equal(await writeCounts(db), before);
  const taken = await api.gql(RESERVE, cases[0][1]);
  assert.match(taken.errors![0].message, /already taken/);
});

test('a Datetime without a UTC offset is refused, as a literal or a variable, in a query and a mutation input', async () => {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  // A New York spot: a client sending 17:00 means 17:00 on the street, which
  // read as UTC would be 12:00 there.
  const startsAt = hoursFromNow(30);
  const wall = (at: Date, offsetHours: number) =>
    new Date(at.getTime() + offsetHours * 3600e3).toISOString().slice(0, 19);
  const start = wall(startsAt, 0);
  const end = wall(hoursFromNow(31), 0);
  const QUOTE = `query ($s: BigInt, $from: Datetime, $to: Datetime) { quote(spotId: $s, startsAt: $from, endsAt: $to) { amount } }`;
  const before = await writeCounts(db);
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['query, literal', `{ quote(spotId: "${spotId}", startsAt: "${start}Z", endsAt: "${end}") { amount } }`, {}],
    ['query, variable', QUOTE, { s: spotId, from: `${start}Z`, to: end }],
    [
      'mutation input, literal',
      `mutation { reserve(input: { spotId: "${spotId}", startsAt: "${start}", durationMinutes: 60, email: "wall@example.test" }) { result { manageToken } } }`,
      {},
    ],
    ['mutation input, variable', RESERVE, { spotId, startsAt: start, durationMinutes: 60, email: 'wall@example.test' }],
    [
      'a date alone',
      RESERVE,
      { spotId, startsAt: start.slice(0, 10), durationMinutes: 60, email: 'wall@example.test' },
    ],
  ];
  const failures: string[] = [];
  for (const [name, query, variables] of cases) {
    const res = await api.gql(query, variables);
    const error = res.errors?.[0];
    if (error?.extensions?.code !== 'GRAPHQL_VALIDATION_FAILED' || !/needs a UTC offset/.test(error.message))
      failures.push(`${name}: ${res.status} ${error?.extensions?.code} ${error?.message}`);
    if (res.data?.quote || res.data?.reserve) failures.push(`${name}: answered ${JSON.stringify(res.data)}`);
  }
  assert.equal(failures, []);
  assert.equal(await writeCounts(db), before, 'nothing written');

  // With the offset, the wall-clock time is the instant meant.
  const quoted = await api.gql(QUOTE, { s: spotId, from: `${wall(startsAt, -5)}-05:00`, to: `${end}Z` });
  assert.equal(quoted.errors, undefined, JSON.stringify(quoted.errors));
  const booked = await api.gql(RESERVE, {
    spotId,
    startsAt: `${wall(startsAt, -5)}-05:00`,
    durationMinutes: 60,
    email: 'wall@example.test',
  });
  assert.equal(booked.errors, undefined, JSON.stringify(booked.errors));
  assert.is(new Date(booked.data.reserve.result.reservation.startsAt).getTime(), startsAt.getTime());
});

test('over HTTP, anonymous: my reservations need a sign-in; blocks need an operator', async () => {
  const mine = await api.gql('{ myReservations { nodes { rowId } } }');
  assert.is(mine.errors?.[0].extensions?.code, 'SMB11');
  const block = await api.gql(
    `mutation { blockSpot(input: { spotId: "1", startsAt: "2030-01-01T00:00:00Z", endsAt: "2030-01-02T00:00:00Z" }) { result { rowId } } }`,
  );
  assert.is(block.errors?.[0].extensions?.code, 'SMB10');
  // What a missing grant refuses (signed out, no update on users): the documented words, not PostgreSQL's.
  const users = await api.gql(
    'mutation { updateUser(input: { rowId: "1", patch: { name: "X" } }) { user { email } } }',
  );
  assert.equal(
    users.errors?.map((e) => [e.extensions?.code, e.message]),
    [['42501', ERROR_CODES['42501']]],
  );
  assert.not.match(JSON.stringify(users), /permission denied|table/);
});

test('signed in over HTTP: a driver reserves without a token, lists and reads theirs; others cannot touch it', async () => {
  // Setup
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  const driver = await createSignedInUser(db, api);
  const stranger = await createSignedInUser(db, api);
  const operator = await createSignedInUser(db, api, { role: 'operator' });
  // Action
  const res = await api.gql(
    RESERVE,
    { spotId, startsAt: hoursFromNow(1).toISOString(), endsAt: hoursFromNow(2).toISOString() },
    driver.headers,
  );
  // Assertions
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  assert.is(res.data.reserve.result.manageToken, null);
  const id = res.data.reserve.result.reservation.rowId;
  const mine = await api.gql(`{ myReservations { totalCount nodes { rowId email } } }`, {}, driver.headers);
  assert.equal(mine.data.myReservations.nodes, [{ rowId: id, email: driver.email }]);
  const one = await api.gql(
    `query ($id: BigInt) { myReservation(reservationId: $id) { rowId status } }`,
    { id },
    driver.headers,
  );
  assert.equal(one.data.myReservation, { rowId: id, status: 'held' });
  const peek = await api.gql(
    `query ($id: BigInt) { myReservation(reservationId: $id) { rowId } }`,
    { id },
    stranger.headers,
  );
  assert.is(peek.errors?.[0].extensions?.code, 'SMB06');
  const theirs = await api.gql(`{ myReservations { totalCount } }`, {}, stranger.headers);
  assert.is(theirs.data.myReservations.totalCount, 0);
  const steal = await api.gql(CANCEL, { id }, stranger.headers);
  assert.is(steal.errors?.[0].extensions?.code, 'SMB06');
  const block = await api.gql(
    `mutation ($spotId: BigInt, $s: Datetime, $e: Datetime) {
    blockSpot(input: { spotId: $spotId, startsAt: $s, endsAt: $e, reason: "Crane" }) { result { rowId kind } } }`,
    { spotId, s: hoursFromNow(2).toISOString(), e: hoursFromNow(5).toISOString() },
    operator.headers,
  );
  assert.equal(block.errors, undefined, JSON.stringify(block.errors));
  assert.is(block.data.blockSpot.result.kind, 'block');
  const extend = await api.gql(CHANGE, { id, endsAt: hoursFromNow(3).toISOString() }, driver.headers);
  assert.is(extend.errors?.[0].extensions?.code, 'SMB01', 'the block starts where the reservation ends');
  const cancel = await api.gql(CANCEL, { id }, driver.headers);
  assert.is(cancel.data.cancelReservation.result.reservation.status, 'cancelled');
  const past = await api.gql(`{ myPastReservations { nodes { rowId status } } }`, {}, driver.headers);
  assert.equal(past.data.myPastReservations.nodes, [{ rowId: id, status: 'cancelled' }]);
});

test.run();
