// Row level security on reservations read directly in SQL, and the bad-input
// matrix: every refusal has its code and writes nothing. Who may call which
// operation is test/access_matrix.test.ts, through the API.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createTestDb,
  createUser,
  identityOf,
  sqlstateOf,
  type Identity,
  type TestDb,
  type TestUser,
  ANON,
  callAs,
} from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { hoursFromNow, reserve, writeCounts, type Reserved } from './helpers/reservations.ts';

let db: TestDb;
let owner: TestUser;
let other: TestUser;
let operator: TestUser;
let rate: number;
const roles: Record<string, () => Identity> = {
  anonymous: () => ANON,
  owner: () => identityOf(owner),
  otherDriver: () => identityOf(other),
  operator: () => identityOf(operator),
};

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  owner = await createUser(db);
  other = await createUser(db);
  operator = await createUser(db, { role: 'operator' });
  rate = await createRate(db, { hourlyPrice: 400 });
});

test.after(async () => {
  await db?.close();
});

interface Fixture {
  spotId: string;
  mine: Reserved;
  started: Reserved;
  guest: Reserved;
}

/** A fresh spot with the owner's future and started reservations and a guest's. */
async function fixture(): Promise<Fixture> {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  return {
    spotId,
    mine: await reserve(db, identityOf(owner), { spotId, startsAt: hoursFromNow(2), durationMinutes: 60 }),
    started: await reserve(db, identityOf(owner), { spotId, durationMinutes: 60 }),
    guest: await reserve(db, ANON, {
      spotId,
      startsAt: hoursFromNow(4),
      durationMinutes: 60,
      email: 'guest@example.test',
    }),
  };
}

// What the API cannot reach but a role's own SQL could: writing the table
// directly, reading secrets and the audit trail, queueing jobs. Each refused
// with 42501 for every API role, and nothing written.
const DIRECT: Record<string, (who: Identity, f: Fixture) => Promise<unknown>> = {
  'insert a row directly': (who, f) =>
    callAs(
      db,
      who,
      `insert into app_public.reservations (spot_id, email, period, amount, currency) values ($1, 'x@example.test', tstzrange(now() + interval '9 hours', now() + interval '10 hours'), 0, 'USD')`,
      [f.spotId],
    ),
  'update a row directly (amount)': (who, f) =>
    callAs(db, who, 'update app_public.reservations set amount = 0 where id = $1', [f.mine.id]),
  'delete a row directly': (who, f) =>
    callAs(db, who, 'delete from app_public.reservations where id = $1', [f.mine.id]),
  'read the audit trail': (who) => callAs(db, who, 'select * from app_private.reservation_events'),
  'read the token hashes': (who) => callAs(db, who, 'select * from app_private.reservation_secrets'),
  'queue a job': (who) => callAs(db, who, `select graphile_worker.add_job('reservation__charge', '{}')`),
};

test('direct SQL writes, secrets, the audit trail and the job queue: 42501 for every API role, nothing written', async () => {
  const f = await fixture();
  const before = await writeCounts(db);
  const failures: string[] = [];
  for (const [name, op] of Object.entries(DIRECT)) {
    for (const [role, who] of Object.entries(roles)) {
      const got = await sqlstateOf(op(who(), f));
      if (got !== '42501') failures.push(`${name} as ${role}: expected 42501, got ${got}`);
    }
  }
  assert.equal(failures, []);
  assert.equal(await writeCounts(db), before);
});

test('a signed-in driver reads only their own rows; staff read all', async () => {
  const f = await fixture();
  const count = async (who: Identity) =>
    (await callAs(db, who, 'select count(*)::int as n from app_public.reservations where spot_id = $1', [f.spotId]))[0]
      .n;
  assert.is(await count(identityOf(owner)), 2, 'the owner’s two; not the guest’s');
  assert.is(await count(identityOf(other)), 0);
  assert.is(await count(identityOf(operator)), 3);
});

test('bad input: each refusal has its code, and nothing is written', async () => {
  // Setup
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate, maxStay: '4 hours' });
  const closed = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate, status: 'out_of_service' });
  const r = await reserve(db, identityOf(owner), { spotId, startsAt: hoursFromNow(1), durationMinutes: 60 });
  const g = await reserve(db, ANON, {
    spotId,
    startsAt: hoursFromNow(3),
    durationMinutes: 30,
    email: 'g@example.test',
  });
  const start = hoursFromNow(5);
  const reserveSql = 'select app_public.reserve($1, $2, $3, $4, $5)';
  const R = (
    spot: unknown,
    s: unknown,
    e: unknown,
    d: unknown,
    email: unknown = 'bad@example.test',
  ): [string, unknown[]] => [reserveSql, [spot, s, e, d, email]];
  const cases: Array<[string, Identity, [string, unknown[]], string]> = [
    ['unknown spot', ANON, R(99999999, start, null, 60), 'SMB02'],
    ['no spot', ANON, R(null, start, null, 60), 'SMB02'],
    ['negative spot id', ANON, R(-1, start, null, 60), 'SMB02'],
    ['inactive spot', ANON, R(closed, start, null, 60), 'SMB02'],
    ['zero duration', ANON, R(spotId, start, null, 0), 'SMB03'],
    ['negative duration', ANON, R(spotId, start, null, -30), 'SMB03'],
    ['huge duration', ANON, R(spotId, start, null, 2_000_000_000), 'SMB04'],
    ['longer than the max stay', identityOf(owner), R(spotId, start, null, 241), 'SMB04'],
    ['end before start', ANON, R(spotId, start, hoursFromNow(4), null), 'SMB03'],
    ['end equals start', ANON, R(spotId, start, start, null), 'SMB03'],
    [
      'end a microsecond after the start',
      ANON,
      R(spotId, start, start.toISOString().replace(/\.(\d{3})Z$/, '.$1001Z'), null),
      'SMB03',
    ],
    ['end 59 seconds after the start', ANON, R(spotId, start, new Date(start.getTime() + 59e3), null), 'SMB03'],
    ['end and duration', ANON, R(spotId, start, hoursFromNow(6), 60), 'SMB03'],
    ['neither end nor duration', ANON, R(spotId, start, null, null), 'SMB03'],
    ['start in the past', ANON, R(spotId, new Date(Date.now() - 3600e3), null, 60), 'SMB03'],
    ['start 6 minutes ago', ANON, R(spotId, new Date(Date.now() - 6 * 60e3), null, 60), 'SMB03'],
    ['start infinity', ANON, R(spotId, 'infinity', null, 60), 'SMB03'],
    ['start -infinity', ANON, R(spotId, '-infinity', null, 60), 'SMB03'],
    ['end infinity', ANON, R(spotId, start, 'infinity', null), 'SMB03'],
    ['start beyond the horizon', ANON, R(spotId, new Date(Date.now() + 91 * 86400e3), null, 60), 'SMB05'],
    ['malformed start', ANON, R(spotId, 'next tuesday-ish', null, 60), '22007'],
    ['start out of range', ANON, R(spotId, '294277-01-01', null, 60), '22008'],
    ['guest without email', ANON, R(spotId, start, null, 60, null), 'SMB08'],
    ['guest with a blank email', ANON, R(spotId, start, null, 60, '   '), 'SMB08'],
    ['guest with a bad email', ANON, R(spotId, start, null, 60, 'not-an-email'), 'SMB08'],
    ['SQL in the email', ANON, R(spotId, start, null, 60, `x'); delete from app_public.reservations; --`), 'SMB08'],
    ['an email too long', ANON, R(spotId, start, null, 60, `${'a'.repeat(250)}@example.test`), 'SMB08'],
    ['overlap', ANON, R(spotId, hoursFromNow(1.5), null, 60), 'SMB01'],
    ['wrong token', ANON, ['select app_public.cancel_reservation($1, $2)', [g.id, 'A'.repeat(32)]], 'SMB06'],
    ['SQL as the token', ANON, ['select app_public.cancel_reservation($1, $2)', [g.id, `' or '1'='1`]], 'SMB06'],
    [
      'another reservation’s token',
      ANON,
      ['select app_public.change_reservation_end($1, $2, $3)', [r.id, hoursFromNow(2.5), g.manage_token]],
      'SMB06',
    ],
    [
      'another user’s reservation',
      identityOf(other),
      ['select app_public.change_reservation_end($1, $2)', [r.id, hoursFromNow(2.5)]],
      'SMB06',
    ],
    ['unknown reservation', identityOf(owner), ['select app_public.cancel_reservation($1)', [99999999]], 'SMB06'],
    [
      'malformed reservation id',
      identityOf(owner),
      ['select app_public.cancel_reservation($1)', ['1; drop table app_public.spots']],
      '22P02',
    ],
    [
      'new end in the past',
      identityOf(owner),
      ['select app_public.change_reservation_end($1, $2)', [r.id, new Date(Date.now() - 60e3)]],
      'SMB09',
    ],
    [
      'new end malformed',
      identityOf(owner),
      ['select app_public.change_reservation_end($1, $2)', [r.id, 'half past never']],
      '22007',
    ],
  ];
  const before = await writeCounts(db);
  const failures: string[] = [];
  for (const [name, who, [sql, params], code] of cases) {
    // Action
    const got = await sqlstateOf(callAs(db, who, sql, params));
    // Assertions
    if (got !== code) failures.push(`${name}: expected ${code}, got ${got}`);
  }
  assert.equal(failures, []);
  assert.equal(await writeCounts(db), before, 'not one of them wrote anything');
});

test('SQL-looking text that is a valid email is stored as text, nothing more', async () => {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  // Valid under the one email rule (app_hidden.email_is_valid: RFC 5322 atoms, so ' = - but no ; or spaces).
  const email = `o'brien'--or'1'='1@example.test`;
  const r = await reserve(db, ANON, { spotId, startsAt: hoursFromNow(1), durationMinutes: 30, email });
  const { rows } = await db.owner.query('select email::text from app_public.reservations where id = $1', [r.id]);
  assert.is(rows[0].email, email);
  assert.ok((await db.owner.query('select count(*) from app_public.spots')).rows[0].count > 0);
});

test.run();
