// The inventory sync's guards in SQL: a snapshot that would take most of the
// map out of service fails and changes nothing, and a run a dead worker left
// "running" is closed when the next run of its source begins.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createRate } from './helpers/spots.ts';

let db: TestDb;
const SOURCE = 'http://127.0.0.1:1/meters.csv';

test.before(async () => {
  db = await createTestDb(import.meta.filename);
});
test.after(async () => {
  await db?.close();
});

/** `n` active meters of the city feed (external ids), replacing any before. */
async function meters(n: number) {
  await db.owner.query(`update app_public.spots set status = 'out_of_service' where external_id is not null`);
  const rate = await createRate(db);
  await db.owner.query(
    `insert into app_public.spots (location, street, rate_id, external_id)
     select st_setsrid(st_makepoint(-73.95, 40.6 + g * 1e-4), 4326)::geography, 'FEED STREET', $1, 'guard-' || $2 || '-' || g
     from generate_series(1, $2) g`,
    [rate, n],
  );
}
const active = async () =>
  (
    await db.owner.query(
      `select count(*)::int as n from app_public.spots where external_id is not null and status = 'active'`,
    )
  ).rows[0].n as number;

/** A run whose snapshot lists none of the meters: what spots_sync_finish answers. */
async function emptySnapshot(): Promise<{ removed?: number; error?: string }> {
  const client = await db.owner.connect();
  try {
    const {
      rows: [{ run_id }],
    } = await client.query('select run_id from app_private.spots_sync_begin($1)', [SOURCE]);
    await client.query('begin');
    await client.query(`select set_config('app.sync_run_id', $1, true)`, [String(run_id)]);
    await client.query(`select * from app_private.spots_sync_batch($1, '[]')`, [run_id]);
    const {
      rows: [{ removed }],
    } = await client.query(`select app_private.spots_sync_finish($1, null, null, 0, 0, 0, 0, 0, '[]') as removed`, [
      run_id,
    ]);
    await client.query('commit');
    return { removed };
  } catch (err) {
    await client.query('rollback');
    return { error: (err as Error).message };
  } finally {
    client.release();
  }
}

test('a snapshot leaving out more than 20 % of the active meters (and over 50) fails and changes nothing', async () => {
  await meters(300);
  const refused = await emptySnapshot();
  assert.match(
    refused.error ?? '',
    /leaves out 300 of the 300 active meters; one run may take at most 60 out of service/,
  );
  assert.is(await active(), 300, 'nothing went out of service');
  // 50 is the least that may go, however small the inventory.
  await meters(50);
  assert.equal(await emptySnapshot(), { removed: 50 });
  assert.is(await active(), 0);
});

test('a run a dead worker left running is closed as failed when the next run of its source begins', async () => {
  const {
    rows: [stale],
  } = await db.owner.query(`insert into app_public.spot_sync_runs (source_url) values ($1) returning id, outcome`, [
    SOURCE,
  ]);
  assert.is(stale.outcome, 'running');
  const {
    rows: [other],
  } = await db.owner.query(
    `insert into app_public.spot_sync_runs (source_url) values ('http://127.0.0.1:2/other.csv') returning id`,
  );
  await db.owner.query('select app_private.spots_sync_begin($1)', [SOURCE]);
  const { rows } = await db.owner.query(
    `select id, outcome, error, finished_at is not null as finished from app_public.spot_sync_runs where id in ($1, $2) order by id`,
    [stale.id, other.id],
  );
  assert.equal(rows, [
    {
      id: stale.id,
      outcome: 'failed',
      error: 'interrupted: the worker stopped during the run; nothing was changed',
      finished: true,
    },
    { id: other.id, outcome: 'running', error: null, finished: false },
  ]);
});

test.run();
