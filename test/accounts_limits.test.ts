// The documented limits, each driven past its edge: sign-ups per client
// address (20 an hour), password resets per client address across emails
// (20 an hour), verification emails per user (3 an hour), changePassword's
// check of the current password per user (10 in 15 minutes); the client address
// read from X-Forwarded-For only behind a trusted proxy (TRUST_PROXY).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUser, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { postJson, signIn, TEST_PASSWORD } from './helpers/auth.ts';

let db: TestDb;
let api: TestApi;
let proxied: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  proxied = await startApi(db, { trustProxy: 1 });
});

test.after(() => closeAll(proxied, api, db));

const code = (res: any) => res.errors?.[0]?.extensions?.code;
const count = async (sql: string, params: unknown[] = []) => (await db.owner.query(sql, params)).rows[0].n as number;
const usersLike = (pattern: string) =>
  count('select count(*)::int as n from app_public.users where email like $1', [pattern]);
/** Each test starts with no window open, whatever ran before it. */
const clearLimits = () => db.owner.query('delete from app_private.rate_limits');

test('sign-up: 20 an hour from one address, the 21st is 429 SMA02 with Retry-After and writes nothing; another address is not held back', async () => {
  await clearLimits();
  for (let i = 1; i <= 20; i += 1) {
    const res = await postJson(api, '/auth/register', {
      email: `signup${i}@example.com`,
      name: `S ${i}`,
      password: TEST_PASSWORD,
    });
    assert.is(res.status, 201, `sign-up ${i}: ${JSON.stringify(res.body)}`);
  }
  const limited = await postJson(api, '/auth/register', {
    email: 'signup21@example.com',
    name: 'S 21',
    password: TEST_PASSWORD,
  });
  assert.is(limited.status, 429);
  assert.is(limited.body.error.code, 'SMA02');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
  const viaGraphql = await api.gql(
    `mutation { register(input: { email: "signup22@example.com", name: "S", password: "${TEST_PASSWORD}" }) { result { userId } } }`,
  );
  assert.is(code(viaGraphql), 'SMA02', 'GraphQL shares the bucket');
  assert.is(await usersLike('signup%@example.com'), 20);

  // Behind a trusted proxy, the address is the forwarded one: another client signs up.
  const other = await postJson(
    proxied,
    '/auth/register',
    { email: 'signup23@example.com', name: 'S', password: TEST_PASSWORD },
    { 'x-forwarded-for': '203.0.113.7' },
  );
  assert.is(other.status, 201, JSON.stringify(other.body));
  assert.is(await usersLike('signup%@example.com'), 21);
});

test('X-Forwarded-For is ignored unless TRUST_PROXY says so: a spoofed header does not escape the limit', async () => {
  await clearLimits();
  await db.owner.query(
    `insert into app_private.rate_limits (bucket, key, window_start, hits) values ('register_ip', '127.0.0.1', now(), 20)`,
  );
  const spoofed = await postJson(
    api,
    '/auth/register',
    { email: 'spoof@example.com', name: 'Spoof', password: TEST_PASSWORD },
    { 'x-forwarded-for': '198.51.100.9' },
  );
  assert.is(spoofed.status, 429);
  assert.is(spoofed.body.error.code, 'SMA02');
  assert.is(await usersLike('spoof@example.com'), 0);
  // Behind the trusted proxy, each forwarded address has its own window.
  await db.owner.query(
    `insert into app_private.rate_limits (bucket, key, window_start, hits) values ('register_ip', '198.51.100.9', now(), 20)`,
  );
  const held = await postJson(
    proxied,
    '/auth/register',
    { email: 'spoof2@example.com', name: 'Spoof', password: TEST_PASSWORD },
    { 'x-forwarded-for': '198.51.100.9' },
  );
  assert.equal([held.status, held.body.error?.code], [429, 'SMA02']);
});

test('password reset: 20 an hour from one address across different emails, then SMA02 and no more emails', async () => {
  await clearLimits();
  const FORGOT = `mutation ($e: String!) { forgotPassword(input: { email: $e }) { result } }`;
  const users = [];
  for (let i = 1; i <= 21; i += 1) users.push(await createUser(db, { email: `reset${i}@example.com` }));
  for (const user of users.slice(0, 20))
    assert.is(code(await api.gql(FORGOT, { e: user.email })), undefined, user.email);
  const limited = await api.gql(FORGOT, { e: users[20].email });
  assert.is(code(limited), 'SMA02');
  assert.ok((limited.errors![0].extensions as any).retryAfter > 3500);
  assert.is(
    await count(
      `select count(*)::int as n from app_private.emails where template = 'password_reset' and recipient like 'reset%@example.com'`,
    ),
    20,
  );
});

test('verification email: 3 an hour per user, the 4th SMA02, exactly 3 sent', async () => {
  await clearLimits();
  const RESEND = `mutation { resendVerificationEmail(input: {}) { result } }`;
  const user = await createUser(db, { password: TEST_PASSWORD, verified: false });
  const session = await signIn(api, user.email);
  for (let i = 1; i <= 3; i += 1)
    assert.equal(
      (await api.gql(RESEND, {}, session.headers)).data,
      { resendVerificationEmail: { result: true } },
      `resend ${i}`,
    );
  const limited = await api.gql(RESEND, {}, session.headers);
  assert.is(code(limited), 'SMA02');
  const retryAfter = (limited.errors![0].extensions as any).retryAfter;
  assert.ok(retryAfter > 3500 && retryAfter <= 3600, `retryAfter ${retryAfter}`);
  assert.is(
    await count(
      `select count(*)::int as n from app_private.emails where template = 'verify_email' and recipient = $1`,
      [user.email],
    ),
    3,
  );
  // The limit is the user's, not the address's: another user from the same address still gets one.
  const other = await createUser(db, { password: TEST_PASSWORD, verified: false });
  assert.equal((await api.gql(RESEND, {}, (await signIn(api, other.email)).headers)).data, {
    resendVerificationEmail: { result: true },
  });
});

test('changePassword: 10 attempts in 15 minutes per user, wrong ones counted too (20 aliases in one request); then SMA02 even for the right password, and nothing changes', async () => {
  await clearLimits();
  const user = await createUser(db, { password: TEST_PASSWORD });
  const session = await signIn(api, user.email);
  const NEW = 'a brand new passphrase 7';
  const guesses = Array.from(
    { length: 20 },
    (_, i) => `g${i}: changePassword(input: { oldPassword: "wrong guess ${i}", newPassword: "${NEW}" }) { result }`,
  );
  const res = await api.gql(`mutation { ${guesses.join(' ')} }`, {}, session.headers);
  const codes = (res.errors ?? []).map((e: any) => e.extensions?.code);
  assert.equal(codes, [...Array(10).fill('SMA09'), ...Array(10).fill('SMA02')]);
  const right = await api.gql(
    `mutation ($old: String!, $new: String!) { changePassword(input: { oldPassword: $old, newPassword: $new }) { result } }`,
    { old: TEST_PASSWORD, new: NEW },
    session.headers,
  );
  assert.is(code(right), 'SMA02', 'the right password waits too');
  assert.ok(Number((right.errors?.[0]?.extensions as { retryAfter?: number } | undefined)?.retryAfter) > 0);
  // Still the old password: signing in with it works.
  assert.ok((await signIn(api, user.email)).token);
  // Another user is not held back.
  const other = await createUser(db, { password: TEST_PASSWORD });
  const otherSession = await signIn(api, other.email);
  const ok = await api.gql(
    `mutation ($old: String!, $new: String!) { changePassword(input: { oldPassword: $old, newPassword: $new }) { result } }`,
    { old: TEST_PASSWORD, new: NEW },
    otherSession.headers,
  );
  assert.equal(ok.data, { changePassword: { result: true } });
});

test.run();
