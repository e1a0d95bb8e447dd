// Analysts see the analytics views, and nothing personal or secret.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { createTestDb, sqlstateOf, type TestDb } from './helpers/db.ts';
import { createSpot } from './helpers/spots.ts';

let db: TestDb;
const VIEWS = ['spots', 'reservations', 'charges', 'daily_revenue'];
// An analyst's own login, a member of app_analyst, as ops would create it.
const ANALYST = `sms_analyst_${process.pid}`;

async function asRoot(sql: string): Promise<void> {
  const root = new pg.Client({ connectionString: db.urls.root });
  await root.connect();
  try {
    await root.query(sql);
  } finally {
    await root.end();
  }
}

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  await asRoot(`drop role if exists ${ANALYST}; create role ${ANALYST} login in role app_analyst`);
});

test.after(async () => {
  await db?.close();
  await asRoot(`drop role if exists ${ANALYST}`);
});

async function asAnalyst<T>(fn: (q: (sql: string) => Promise<any[]>) => Promise<T>): Promise<T> {
  const url = new URL(db.urls.owner);
  url.username = ANALYST;
  url.password = '';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const {
      rows: [who],
    } = await client.query('select current_user');
    assert.is(who.current_user, ANALYST);
    return await fn(async (sql) => (await client.query(sql)).rows);
  } finally {
    await client.end();
  }
}

test('a completed, charged and partly refunded reservation shows in every view', async () => {
  // Setup: written as the owner, as the booking and payment code would leave it.
  const spot = await createSpot(db, { lat: 40.75, lng: -73.99 });
  const {
    rows: [r],
  } = await db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, status, amount, currency)
     values ($1, 'secret.driver@example.test', tstzrange('2026-11-20 15:00Z', '2026-11-20 17:00Z'), 'completed', 900, 'USD')
     returning id`,
    [spot],
  );
  const {
    rows: [c],
  } = await db.owner.query(
    `insert into app_private.charges (reservation_id, amount, currency, idempotency_key, status, succeeded_at)
     values ($1, 900, 'USD', 'charge-key', 'succeeded', '2026-11-20 17:00:05Z') returning id`,
    [r.id],
  );
  await db.owner.query(
    `insert into app_private.refunds (charge_id, amount, idempotency_key, status) values ($1, 200, 'refund-key', 'succeeded')`,
    [c.id],
  );

  // Action + Assertions
  await asAnalyst(async (q) => {
    const [res] = await q(`select * from analytics.reservations`);
    assert.is(res.status, 'completed');
    assert.is(res.is_guest, true);
    assert.is(res.amount, 900);
    const [day] = await q(
      `select day::text, charges::int, charged::int, refunded::int, net::int from analytics.daily_revenue`,
    );
    assert.equal(day, { day: '2026-11-20', charges: 1, charged: 900, refunded: 200, net: 700 });
    const [s] = await q(`select lat, lng from analytics.spots`);
    assert.ok(Math.abs(s.lat - 40.75) < 1e-9 && Math.abs(s.lng + 73.99) < 1e-9);
  });
});

test('no view has a column that identifies a person or holds a secret', async () => {
  const { rows } = await db.owner.query(
    `select table_name, column_name from information_schema.columns where table_schema = 'analytics'`,
  );
  assert.ok(rows.length > 20);
  const suspicious = rows.filter(
    (c) =>
      /email|name$|token|hash|secret|password|stripe|idempotency|ip/.test(c.column_name) && c.column_name !== 'street',
  );
  assert.equal(suspicious, []);
});

test('analysts read nothing outside analytics, and write nothing', async () => {
  for (const table of [
    'app_public.reservations',
    'app_public.users',
    'app_private.sessions',
    'app_private.charges',
    'app_private.emails',
  ]) {
    assert.is(await sqlstateOf(asAnalyst((q) => q(`select 1 from ${table} limit 1`))), '42501', table);
  }
  for (const view of VIEWS) {
    const [p] = await asAnalyst((q) =>
      q(`select has_table_privilege('analytics.${view}', 'insert, update, delete, truncate') as w`),
    );
    assert.is(p.w, false, view);
    // Refused: views PostgreSQL could write through say 42501 (no privilege); the
    // others (joins, aggregates) cannot take writes at all (55000).
    const expected = { spots: '55000', reservations: '42501', charges: '42501', daily_revenue: '55000' }[view];
    assert.is(await sqlstateOf(asAnalyst((q) => q(`delete from analytics.${view}`))), expected, view);
  }
});

test.run();
