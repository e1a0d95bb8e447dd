// Analysts' views and reports (sql/reports/*.sql through `npm run cli -- report`)
// against a fixture whose every figure is computed by hand below. Times are
// UTC; New York is UTC−5 in late November 2026.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { asCsv, asTable, runReport } from '../cli/report.ts';

let db: TestDb;
let client: pg.Client;
const MIDTOWN = 'Manhattan, Midtown'; // a comma: the CSV must quote it

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  client = new pg.Client({ connectionString: db.urls.owner });
  await client.connect();
  const one = await createRate(db);
  const two = await createRate(db);
  await db.owner.query(
    `update app_public.rates set code = case id when $1 then 'r-one' else 'r-two' end where id in ($1, $2)`,
    [one, two],
  );
  const a = await createSpot(db, { lat: 40.68, lng: -73.95, rateId: one, borough: 'Brooklyn' });
  // Boroughs are free text: another spelling is the same borough in every report.
  const b = await createSpot(db, { lat: 40.681, lng: -73.95, rateId: one, borough: ' brooklyn' });
  const c = await createSpot(db, { lat: 40.75, lng: -73.98, rateId: two, borough: MIDTOWN });
  // created_at is the booking instant here, so the trigger that stamps it with now() is off while the fixture is written.
  await db.owner.query('alter table app_public.reservations disable trigger _100_timestamps');
  const add = async (
    spot: string,
    created: string,
    from: string,
    to: string,
    statuses: string[],
    amount: number,
    kind = 'reservation',
  ) => {
    const {
      rows: [r],
    } = await db.owner.query(
      `insert into app_public.reservations (kind, spot_id, email, period, status, amount, currency, created_at, updated_at)
      values ($1, $2, 'fixture@example.test', tstzrange($3, $4), $5, $6, 'USD', $7, $7) returning id`,
      [kind, spot, from, to, statuses[0], amount, created],
    );
    for (const status of statuses.slice(1))
      await db.owner.query('update app_public.reservations set status = $2 where id = $1', [r.id, status]);
    return r.id as string;
  };
  const charge = async (reservation: string, amount: number, status: string, at: string | null, refund = 0) => {
    const {
      rows: [ch],
    } = await db.owner.query(
      `insert into app_private.charges (reservation_id, amount, currency, idempotency_key, status, succeeded_at)
      values ($1, $2, 'USD', $5, $3, $4) returning id`,
      [reservation, amount, status, at, `k-${reservation}`],
    );
    if (refund)
      await db.owner.query(
        `insert into app_private.refunds (charge_id, amount, idempotency_key, status) values ($1, $2, $3, 'succeeded')`,
        [ch.id, refund, `rk-${ch.id}`],
      );
  };
  // r1: Brooklyn A, booked 08:00 NY, 10:00–11:30 NY, completed; charged 600, refunded 100.
  const r1 = await add(
    a,
    '2026-11-20T13:00Z',
    '2026-11-20T15:00Z',
    '2026-11-20T16:30Z',
    ['confirmed', 'completed'],
    600,
  );
  await charge(r1, 600, 'succeeded', '2026-11-20T16:30:05Z', 100);
  // r2: Brooklyn B, booked 09:00 NY, 10:30–11:00 NY, completed; charged 200.
  const r2 = await add(
    b,
    '2026-11-20T14:00Z',
    '2026-11-20T15:30Z',
    '2026-11-20T16:00Z',
    ['confirmed', 'completed'],
    200,
  );
  await charge(r2, 200, 'succeeded', '2026-11-20T16:00:05Z');
  // r3: Midtown C, booked 10:00 NY, 10:00–10:45 NY, payment failed.
  const r3 = await add(
    c,
    '2026-11-20T15:00Z',
    '2026-11-20T15:00Z',
    '2026-11-20T15:45Z',
    ['confirmed', 'payment_failed'],
    300,
  );
  await charge(r3, 300, 'failed', null);
  // r4: booked 11:00 NY on the 20th, hold expired.
  await add(a, '2026-11-20T16:00Z', '2026-11-21T15:00Z', '2026-11-21T16:00Z', ['held', 'expired'], 400);
  // r5: booked 09:00 NY on the 21st, confirmed, then cancelled.
  await add(b, '2026-11-21T14:00Z', '2026-11-22T15:00Z', '2026-11-22T16:00Z', ['held', 'confirmed', 'cancelled'], 400);
  // An operator's block counts nowhere.
  await add(c, '2026-11-20T12:00Z', '2026-11-20T17:00Z', '2026-11-20T18:00Z', ['confirmed'], 0, 'block');
  await db.owner.query('alter table app_public.reservations enable trigger _100_timestamps');
});

test.after(async () => {
  await client?.end();
  await db?.close();
});

test('occupancy by hour and borough', async () => {
  const r = await runReport(client, 'occupancy_by_hour', '2026-11-20', '2026-11-21');
  assert.equal(r.columns, ['borough', 'hour', 'reservations', 'reserved_minutes', 'spots', 'occupancy']);
  assert.equal(r.rows, [
    // 10:00 NY: r1 60 min + r2 30 min over 2 spots × 60 = 90/120.
    ['Brooklyn', '2026-11-20 10:00:00', '2', '90.00', '2', '0.7500'],
    // r3 45 min on Midtown's only spot.
    [MIDTOWN, '2026-11-20 10:00:00', '1', '45.00', '1', '0.7500'],
    // 11:00 NY: r1's last 30 min.
    ['Brooklyn', '2026-11-20 11:00:00', '1', '30.00', '2', '0.2500'],
  ]);
});

test('revenue by day and rate', async () => {
  const r = await runReport(client, 'revenue_by_day_and_rate', '2026-11-01', '2026-12-01');
  // r1 600 (100 refunded) + r2 200 on r-one; r3's failed charge is not revenue.
  assert.equal(r.rows, [['2026-11-20', 'r-one', 'USD', '2', '800', '100', '700']]);
});

test('booking funnel', async () => {
  const r = await runReport(client, 'booking_funnel', '2026-11-20', '2026-11-22');
  assert.equal(r.columns, [
    'day',
    'held',
    'confirmed',
    'completed',
    'expired',
    'cancelled',
    'payment_failed',
    'confirm_rate',
    'complete_rate',
  ]);
  assert.equal(r.rows, [
    // 20th: r1–r4 held; r1, r2, r3 confirmed; r1, r2 completed; r4 expired; r3 payment failed.
    ['2026-11-20', '4', '3', '2', '1', '0', '1', '0.7500', '0.6667'],
    // 21st: r5 confirmed then cancelled.
    ['2026-11-21', '1', '1', '0', '0', '1', '0', '1.0000', '0.0000'],
  ]);
});

test('length of stay and lead time', async () => {
  const r = await runReport(client, 'stays_by_day', '2026-11-20', '2026-11-21');
  // r1 90 min booked 120 min ahead, r2 30 min booked 90 min ahead.
  assert.equal(r.rows, [['2026-11-20', 'Brooklyn', '2', '60.00', '105.00']]);
  assert.equal((await runReport(client, 'stays_by_day', '2026-11-21', '2026-11-30')).rows, []);
});

test("CSV cells a spreadsheet would run as formulas (an operator's rate code) start with an apostrophe; numbers stay numbers", () => {
  const csv = asCsv({
    columns: ['rate', 'net', 'note'],
    rows: [
      ['=HYPERLINK("http://evil.example","x")', '-250', '+1 555'],
      ['@SUM(A1)', '12.50', 'plain'],
    ],
  });
  assert.is(csv, `rate,net,note\n"'=HYPERLINK(""http://evil.example"",""x"")",-250,'+1 555\n'@SUM(A1),12.50,plain\n`);
});

test('the CLI prints a table or CSV (quoted by the library), and refuses bad arguments', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['cli/main.ts', 'report', ...args], {
      env: { ...process.env, DATABASE_URL: db.urls.owner, LOG_FORMAT: 'json' },
      encoding: 'utf8',
    });
  const csv = cli('occupancy_by_hour', '--from', '2026-11-20', '--to', '2026-11-21', '--format', 'csv');
  assert.is(csv.status, 0, csv.stderr);
  assert.is(
    csv.stdout,
    [
      'borough,hour,reservations,reserved_minutes,spots,occupancy',
      'Brooklyn,2026-11-20 10:00:00,2,90.00,2,0.7500',
      `"${MIDTOWN}",2026-11-20 10:00:00,1,45.00,1,0.7500`,
      'Brooklyn,2026-11-20 11:00:00,1,30.00,2,0.2500',
      '',
    ].join('\n'),
  );
  const table = cli('revenue_by_day_and_rate', '--from', '2026-11-20', '--to', '2026-11-21');
  assert.is(table.status, 0, table.stderr);
  assert.is(
    table.stdout,
    `${[
      'day         rate_code  currency  charges  charged  refunded  net',
      '----------  ---------  --------  -------  -------  --------  ---',
      '2026-11-20  r-one      USD             2      800       100  700',
      '(1 row)',
    ].join('\n')}\n`,
  );
  for (const bad of [
    ['nope', '--from', '2026-11-20', '--to', '2026-11-21'],
    ['booking_funnel', '--from', '2026-11-21', '--to', '2026-11-20'],
    ['booking_funnel', '--from', 'yesterday', '--to', '2026-11-20'],
    ['booking_funnel', '--from', '2026-11-20'],
    ['booking_funnel', '--from', '2026-11-20', '--to', '2026-11-21', '--format', 'xml'],
    ['booking_funnel', '--from', '2026-02-30', '--to', '2026-03-05'],
    ['booking_funnel', '--from', '2026-11-20', '--to', '2026-11-21', '--bogus', '1'],
    ['booking_funnel', '--from', '2026-11-20', '--to', '2026-11-21', '--format'],
    // One report a run: a second one, or a stray word, is not silently dropped.
    ['booking_funnel', 'stays_by_day', '--from', '2026-11-20', '--to', '2026-11-21'],
    ['booking_funnel', '--from', '2026-11-20', '--to', '2026-11-21', 'extra'],
  ]) {
    const res = cli(...bad);
    assert.is(res.status, 2, bad.join(' '));
    assert.is(res.stdout, '', bad.join(' '));
  }
});

test('the table and CSV writers agree on an empty report', () => {
  const empty = { columns: ['a', 'b'], rows: [] };
  assert.is(asCsv(empty), 'a,b\n');
  assert.is(asTable(empty), 'a  b\n-  -\n(0 rows)');
});

test('analysts may read the new views; the API roles may not', async () => {
  for (const view of ['occupancy_by_hour', 'revenue_by_day_and_rate', 'booking_funnel', 'stays_by_day', 'boroughs']) {
    const {
      rows: [p],
    } = await db.owner.query(
      `select has_table_privilege('app_analyst', $1, 'select') as analyst,
      has_table_privilege('app_operator', $1, 'select') as operator, has_table_privilege('app_analyst', $1, 'insert') as writes`,
      [`analytics.${view}`],
    );
    assert.equal(p, { analyst: true, operator: false, writes: false }, view);
  }
});

test.run();
