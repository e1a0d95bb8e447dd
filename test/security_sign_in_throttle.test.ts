// Sign-in and sign-up limits an attacker cannot turn against the owner or use
// for free (issue 9, item 6): sign-in is counted per (email, client address),
// so failures from one address do not lock out the owner elsewhere; a pair
// that keeps failing waits twice as long each window; the per-email ceiling
// (100) needs many addresses; refused sign-ups (SMA06) count like any other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, createUser, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { postJson, TEST_PASSWORD } from './helpers/auth.ts';

let db: TestDb;
let proxied: TestApi;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  proxied = await startApi(db, { trustProxy: 1 });
});

test.after(async () => {
  await proxied?.close();
  await db?.close();
});

const ATTACKER = { 'x-forwarded-for': '198.51.100.7' };
const OWNER = { 'x-forwarded-for': '203.0.113.8' };
const login = (email: string, password: string, from: Record<string, string>) =>
  postJson(proxied, '/auth/login', { email, password }, from);
const clearLimits = () => db.owner.query('delete from app_private.rate_limits');

test("an attacker's failures lock out only the attacker's address: the owner still signs in from elsewhere", async () => {
  await clearLimits();
  const owner = await createUser(db, { password: TEST_PASSWORD });
  const codes = [];
  for (let i = 0; i < 11; i += 1) codes.push((await login(owner.email, `guess number ${i}`, ATTACKER)).body.error.code);
  assert.equal(codes, [...Array(10).fill('SMA01'), 'SMA02']);
  const stillLocked = await login(owner.email, TEST_PASSWORD, ATTACKER);
  assert.equal(
    [stillLocked.status, stillLocked.body.error.code],
    [429, 'SMA02'],
    "the right password from the attacker's address waits too",
  );
  // Hammering on from the refused address does not use up the email's own ceiling (100).
  for (let i = 0; i < 100; i += 1) await login(owner.email, `more ${i}`, ATTACKER);
  const ok = await login(owner.email, TEST_PASSWORD, OWNER);
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  // GraphQL login goes through the same SQL and the same pairs.
  const viaGraphql = await proxied.gql(
    'mutation ($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { token } }',
    { e: owner.email, p: TEST_PASSWORD },
    ATTACKER,
  );
  assert.is(viaGraphql.errors?.[0]?.extensions?.code, 'SMA02');
});

test('a pair that keeps failing waits twice as long each window: 15 min, then 30 min', async () => {
  await clearLimits();
  const owner = await createUser(db, { password: TEST_PASSWORD });
  for (let i = 0; i < 10; i += 1) await login(owner.email, `guess ${i}`, ATTACKER);
  const first = await login(owner.email, 'guess 10', ATTACKER);
  const firstWait = Number(first.headers.get('retry-after'));
  assert.ok(firstWait > 800 && firstWait <= 900, `first lock ${firstWait} s`);
  // The window passes; the pair goes over again.
  const pair = `${owner.email.toLowerCase()} 198.51.100.7`;
  await db.owner.query(
    `update app_private.rate_limits set window_start = window_start - interval '15 minutes' where bucket = 'login_pair' and key = $1`,
    [pair],
  );
  const codes = [];
  for (let i = 0; i < 11; i += 1) codes.push((await login(owner.email, `again ${i}`, ATTACKER)).body.error.code);
  assert.equal(codes, [...Array(10).fill('SMA01'), 'SMA02']);
  const second = await login(owner.email, 'again 11', ATTACKER);
  const secondWait = Number(second.headers.get('retry-after'));
  assert.ok(secondWait > 1700 && secondWait <= 1800, `second lock ${secondWait} s`);
  const {
    rows: [row],
  } = await db.owner.query(`select strikes from app_private.rate_limits where bucket = 'login_pair' and key = $1`, [
    pair,
  ]);
  assert.is(row.strikes, 1);
  // The owner's success from anywhere clears the email's counts, the attacker's pair keeps its own.
  assert.is((await login(owner.email, TEST_PASSWORD, OWNER)).status, 200);
  assert.is((await login(owner.email, TEST_PASSWORD, ATTACKER)).status, 429);
});

test('the per-email ceiling: 100 attempts from all addresses in 15 minutes, then every address waits but those the owner signed in from', async () => {
  await clearLimits();
  const owner = await createUser(db, { password: TEST_PASSWORD });
  const HOME = { 'x-forwarded-for': '192.0.2.50' };
  assert.is((await login(owner.email, TEST_PASSWORD, HOME)).status, 200, 'signed in from home once');
  // 99 failures already counted from many addresses (each pair under its own limit).
  await db.owner.query(
    `insert into app_private.rate_limits (bucket, key, window_start, hits) values ('login_email', lower($1), now(), 99)`,
    [owner.email],
  );
  assert.is((await login(owner.email, 'the hundredth', { 'x-forwarded-for': '192.0.2.1' })).body.error.code, 'SMA01');
  const limited = await login(owner.email, TEST_PASSWORD, OWNER);
  assert.equal([limited.status, limited.body.error.code], [429, 'SMA02']);
  // A dozen addresses of a stranger's must not keep the owner out at home.
  assert.is((await login(owner.email, TEST_PASSWORD, HOME)).status, 200, 'home is not counted against the ceiling');
});

test('sign-ups refused with SMA06 count against the per-address limit, over HTTP and GraphQL', async () => {
  await clearLimits();
  const taken = await createUser(db, { email: 'taken.address@example.com' });
  const from = { 'x-forwarded-for': '192.0.2.77' };
  const REGISTER = `mutation ($e: String!) { register(input: { email: $e, name: "Probe", password: "${TEST_PASSWORD}" }) { result { userId } } }`;
  const codes: string[] = [];
  for (let i = 0; i < 10; i += 1) {
    codes.push(
      (await postJson(proxied, '/auth/register', { email: taken.email, name: 'Probe', password: TEST_PASSWORD }, from))
        .body.error.code,
    );
    codes.push((await proxied.gql(REGISTER, { e: taken.email }, from)).errors![0].extensions!.code!);
  }
  assert.equal(codes, Array(20).fill('SMA06'));
  const {
    rows: [bucket],
  } = await db.owner.query(
    `select hits from app_private.rate_limits where bucket = 'register_ip' and key = '192.0.2.77'`,
  );
  assert.is(bucket.hits, 20, 'every refused sign-up counted');
  // The 21st attempt, even for a free address, is refused: enumeration is not free.
  const viaHttp = await postJson(
    proxied,
    '/auth/register',
    { email: 'free.address@example.com', name: 'New', password: TEST_PASSWORD },
    from,
  );
  assert.equal([viaHttp.status, viaHttp.body.error.code], [429, 'SMA02']);
  const viaGraphql = await proxied.gql(REGISTER, { e: 'free.address@example.com' }, from);
  assert.is(viaGraphql.errors?.[0]?.extensions?.code, 'SMA02');
  assert.ok((viaGraphql.errors![0].extensions as any).retryAfter > 3500);
  const {
    rows: [u],
  } = await db.owner.query(`select count(*)::int as n from app_public.users where email = 'free.address@example.com'`);
  assert.is(u.n, 0);
  // Input refused as such (SMA03) is answered with its own code and not counted.
  await clearLimits();
  assert.is(
    (await postJson(proxied, '/auth/register', { email: 'not an email', name: 'X', password: TEST_PASSWORD }, from))
      .body.error.code,
    'SMA03',
  );
  const { rows: none } = await db.owner.query(`select hits from app_private.rate_limits where bucket = 'register_ip'`);
  assert.equal(none, []);
});

test.run();
