// server/pg_adaptor.ts sends a request's settings, its statement and the commit
// in one round trip. These check what that must never change: the statement
// sees exactly its request's settings, never runs when they could not be set,
// never leaves them on the connection for the next request, and a failed
// statement leaves nothing behind; withTransaction still holds several
// statements in one transaction.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import type { PgClient, WithPgClient } from 'postgraphile/@dataplan/pg';
import { makePipelinedWithPgClient } from '../server/pg_adaptor.ts';
import { createTestDb, createUser, sqlstateOf, type TestDb, type TestUser } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';

let db: TestDb;
let pool: pg.Pool;
let withPgClient: WithPgClient;
let driver: TestUser;

const WHO = `select current_user::text as role, current_setting('app.session_id', true) as session,
  app_public.current_user_id()::text as user_id`;

async function who(client: PgClient): Promise<{ role: string; session: string | null; user_id: string | null }> {
  const { rows } = await client.query<{ role: string; session: string | null; user_id: string | null }>({ text: WHO });
  return rows[0];
}

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  // One connection: every request below reuses the connection the one before it used.
  pool = new pg.Pool({ connectionString: db.urls.authenticator, max: 1, pipeline: true });
  withPgClient = makePipelinedWithPgClient(pool);
  driver = await createUser(db);
});

test.after(async () => {
  await pool?.end();
  await db?.close();
});

test('a statement runs with its request settings, and the next request on the connection has none of them', async () => {
  const settings = { role: 'app_user', 'app.session_id': driver.sessionId };
  const signedIn = await withPgClient(settings, who);
  assert.equal(signedIn, { role: 'app_user', session: driver.sessionId, user_id: driver.id });
  const anonymous = await withPgClient(null, who);
  assert.equal(anonymous.role, 'app_anonymous');
  assert.equal(anonymous.user_id, null);
  assert.ok(!anonymous.session, `the session setting leaked: ${anonymous.session}`);
});

test('settings that cannot be set stop the statement, with their own error', async () => {
  // A session advisory lock outlives a rollback: had the statement run, the lock would still be held.
  const err = await withPgClient({ role: 'no_such_role_here' }, (client) =>
    client.query({ text: 'select pg_advisory_lock(424242)' }),
  ).catch((e: unknown) => e);
  assert.instance(err, Error);
  assert.match((err as Error).message, /no_such_role_here/);
  const { rows } = await db.owner.query(
    `select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = 424242`,
  );
  assert.is(rows[0].n, 0);
  // And the connection is clean for the next request.
  assert.is((await withPgClient(null, who)).role, 'app_anonymous');
});

test('a failed statement rolls back what it wrote and keeps its own error', async () => {
  const spot = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: await createRate(db) });
  const settings = { role: 'app_user', 'app.session_id': driver.sessionId };
  // reserve() writes the reservation, then the division fails: one statement, one transaction.
  const code = await sqlstateOf(
    withPgClient(settings, (client) =>
      client.query({
        text: `select (app_public.reserve($1::bigint, now() + interval '1 hour', null, 60, null)).reservation, 1 / 0`,
        values: [spot],
      }),
    ),
  );
  assert.is(code, '22012');
  const { rows } = await db.owner.query(`select count(*)::int as n from app_public.reservations where spot_id = $1`, [
    spot,
  ]);
  assert.is(rows[0].n, 0);
  assert.is((await withPgClient(settings, who)).user_id, driver.id);
});

test('past the bound of prepared statements per connection, an evicted one is prepared again when used', async () => {
  const settings = { role: 'app_user', 'app.session_id': driver.sessionId };
  const run = (i: number) =>
    withPgClient(settings, (client) =>
      client.query<{ n: number }>({ text: `select ${i}::int as n`, name: `pg_adaptor_test_${i}` }),
    );
  for (let i = 0; i < 110; i++) assert.equal((await run(i)).rows, [{ n: i }]);
  assert.equal((await run(0)).rows, [{ n: 0 }]);
  assert.equal((await run(109)).rows, [{ n: 109 }]);
});

/** The connection's prepared statements whose text matches `like` (the pool has one connection). */
async function preparedLike(like: string): Promise<string[]> {
  const { rows } = await withPgClient(null, (client) =>
    client.query<{ name: string }>({
      text: 'select name from pg_prepared_statements where statement like $1 order by name',
      values: [like],
    }),
  );
  return rows.map((r) => r.name);
}

test('an unnamed statement with parameters (a mutation) is prepared once, and each request still has its own settings and values', async () => {
  const other = await createUser(db);
  const text = `select app_public.current_user_id()::text as user_id, $1::int * 2 as twice /* pg_adaptor_test_unnamed */`;
  const run = (sessionId: string, n: number) =>
    withPgClient({ role: 'app_user', 'app.session_id': sessionId }, (client) =>
      client.query<{ user_id: string; twice: number }>({ text, values: [n] }),
    );
  assert.equal((await run(driver.sessionId, 1)).rows, [{ user_id: driver.id, twice: 2 }]);
  assert.equal((await run(other.sessionId, 2)).rows, [{ user_id: other.id, twice: 4 }]);
  assert.equal((await run(driver.sessionId, 3)).rows, [{ user_id: driver.id, twice: 6 }]);
  const names = await preparedLike('%pg_adaptor_test_unnamed%');
  assert.is(names.length, 1, `prepared as ${JSON.stringify(names)}`);
  assert.match(names[0]!, /^sms_[0-9a-f]{40}$/);
  // The request settings' own statement is prepared once too.
  assert.equal(await preparedLike('select set_config(%'), ['sms_set_config']);
});

test('a statement first sent after settings that failed is prepared on its next use', async () => {
  const text = `select $1::int + 1 as n /* pg_adaptor_test_after_failure */`;
  const err = await withPgClient({ role: 'no_such_role_here' }, (client) => client.query({ text, values: [1] })).catch(
    (e: unknown) => e,
  );
  assert.match((err as Error).message, /no_such_role_here/);
  const settings = { role: 'app_user', 'app.session_id': driver.sessionId };
  const { rows } = await withPgClient(settings, (client) => client.query<{ n: number }>({ text, values: [41] }));
  assert.equal(rows, [{ n: 42 }]);
});

test('a statement without parameters is not prepared', async () => {
  const { rows } = await withPgClient(null, (client) =>
    client.query<{ n: number }>({ text: 'select 41 + 1 as n /* pg_adaptor_test_plain */' }),
  );
  assert.equal(rows, [{ n: 42 }]);
  assert.equal(await preparedLike('%pg_adaptor_test_plain%'), []);
});

test('withTransaction holds several statements in one transaction with the settings', async () => {
  const settings = { role: 'app_user', 'app.session_id': driver.sessionId };
  const [first, second] = await withPgClient(settings, (client) =>
    client.withTransaction(async (tx) => {
      const a = await tx.query<{ xid: string; user_id: string }>({
        text: `select txid_current()::text as xid, app_public.current_user_id()::text as user_id`,
      });
      const b = await tx.query<{ xid: string; user_id: string }>({
        text: `select txid_current()::text as xid, app_public.current_user_id()::text as user_id`,
      });
      return [a.rows[0], b.rows[0]];
    }),
  );
  assert.is(first.xid, second.xid);
  assert.is(first.user_id, driver.id);
  assert.is(second.user_id, driver.id);
});

test.run();
