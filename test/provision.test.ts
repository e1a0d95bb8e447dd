// Provisioning (what `npm start` and `npm run db:migrate` run first) makes a
// usable database from nothing, is safe to run again, and explains failures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { provisionDatabase, ProvisionError, SOCKET_ROOT_URL } from '../cli/db__provision.ts';
import { dbUrls } from '../lib/db_urls.ts';

const NAME = `${process.env.TEST_DB_PREFIX ?? 'sms_test'}_provision_${process.pid}`;
const urls = dbUrls(process.env, NAME);

async function rootQuery(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: urls.root });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

test.after(async () => {
  await rootQuery(`drop database if exists ${NAME} with (force)`);
  await rootQuery(`drop database if exists ${NAME}_shadow with (force)`);
});

test('from nothing: database, roles, extensions and migrations', async () => {
  await rootQuery(`drop database if exists ${NAME} with (force)`);
  await provisionDatabase({ database: NAME, log: () => {} });
  const client = new pg.Client({ connectionString: urls.authenticator });
  await client.connect();
  try {
    const { rows: ext } = await client.query(`select extname from pg_extension order by 1`);
    for (const name of ['btree_gist', 'citext', 'pgcrypto', 'postgis']) {
      assert.ok(
        ext.some((r) => r.extname === name),
        `${name} installed`,
      );
    }
    const {
      rows: [owner],
    } = await client.query(
      `select pg_catalog.pg_get_userbyid(datdba) as owner from pg_database where datname = current_database()`,
    );
    assert.is(owner.owner, 'app_owner');
    // The API login starts as the anonymous role, which can search but has nothing more.
    const {
      rows: [who],
    } = await client.query(`select current_user, session_user`);
    assert.equal(who, { current_user: 'app_anonymous', session_user: 'app_authenticator' });
    const { rows } = await client.query(`select count(*)::int as n from app_public.spots`);
    assert.is(rows[0].n, 0);
    // What the API shows it may read, under row level security (which leaves it no reservation
    // row); the private schema not at all.
    assert.equal(
      (
        await client.query(
          `select has_table_privilege('app_public.reservations', 'select') as reads,
                  (select relrowsecurity from pg_class where oid = 'app_public.reservations'::regclass) as rls,
                  has_schema_privilege('app_private', 'usage') as private`,
        )
      ).rows[0],
      { reads: true, rls: true, private: false },
    );
  } finally {
    await client.end();
  }
});

test('several at once on one server (two npm starts): every one succeeds', async () => {
  // Each alters the same login roles; unserialised, PostgreSQL refused all but one
  // with "tuple concurrently updated" (a browser test's npm start failed so in CI).
  const results = await Promise.allSettled(
    Array.from({ length: 4 }, () => provisionDatabase({ database: NAME, log: () => {} })),
  );
  assert.equal(
    results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
    [],
  );
});

test('again: nothing to do, data kept', async () => {
  const owner = new pg.Client({ connectionString: urls.owner });
  await owner.connect();
  await owner.query(`insert into app_public.rates (code, name, hourly_price) values ('keep-me', 'Keep', 100)`);
  await owner.end();
  const lines: string[] = [];
  await provisionDatabase({ database: NAME, log: (l) => lines.push(l) });
  assert.ok(
    lines.some((l) => l.includes('graphile-migrate migrate')),
    'second run migrates, never resets',
  );
  const rows = await rootQuery(`select 1 from pg_database where datname = $1`, [NAME]);
  assert.is(rows.length, 1);
  const check = new pg.Client({ connectionString: urls.owner });
  await check.connect();
  const { rowCount } = await check.query(`select 1 from app_public.rates where code = 'keep-me'`);
  await check.end();
  assert.is(rowCount, 1);
});

test('over a Unix socket: every derived URL keeps the socket, and provisioning works through it', async () => {
  // The fallback when nothing listens on 127.0.0.1 (same user, same port as the test server).
  const root = new URL(SOCKET_ROOT_URL);
  const tcp = new URL(urls.root);
  root.username = tcp.username;
  root.port = tcp.port;
  const socketUrls = dbUrls({ ROOT_DATABASE_URL: root.toString() }, NAME);
  for (const url of [socketUrls.owner, socketUrls.shadow, socketUrls.authenticator]) {
    assert.is(new URL(url).searchParams.get('host'), '/var/run/postgresql', url);
  }
  await provisionDatabase({
    database: NAME,
    env: { ...process.env, ROOT_DATABASE_URL: root.toString() },
    log: () => {},
  });
  const client = new pg.Client({ connectionString: socketUrls.authenticator });
  await client.connect();
  try {
    // No server address: the connection came through the socket.
    const { rows } = await client.query(`select inet_server_addr() as addr, current_user`);
    assert.equal(rows[0], { addr: null, current_user: 'app_anonymous' });
  } finally {
    await client.end();
  }
});

test('PostgreSQL unreachable: one clear message, no stack of internals', async () => {
  try {
    await provisionDatabase({
      database: NAME,
      env: { ...process.env, ROOT_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' },
      log: () => {},
    });
    assert.unreachable('should have failed');
  } catch (err) {
    assert.instance(err, ProvisionError);
    assert.match((err as Error).message, /Cannot reach PostgreSQL.*docker compose up db.*ROOT_DATABASE_URL/s);
  }
});

test.run();
