// Password accounts over HTTP and GraphQL: sign-up, sign-in (uniform 401),
// bearer and cookie sessions, CSRF, sign-out, password change, sliding expiry
// with the clock moved in SQL, and the sweep.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createUser, type TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { emailedLink } from './helpers/outbox.ts';
import {
  TEST_PASSWORD,
  cookieHeader,
  cookiesOf,
  postJson,
  signIn,
  signInWithCookie,
  assertRefused,
} from './helpers/auth.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
});

test.after(() => closeAll(api, db));

const ME = `{ currentUser { rowId email role isVerified } }`;
const hashOf = (token: string) => createHash('sha256').update(token).digest();

test('register over HTTP: 201, a bearer token that works, password stored only as bcrypt', async () => {
  const res = await postJson(api, '/auth/register', {
    email: ' New.Driver@Example.com ',
    name: 'Nia',
    password: 'a fine long password',
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  assert.type(res.body.token, 'string');
  assert.equal(
    res.body.user,
    { rowId: res.body.userId, email: 'New.Driver@Example.com', name: 'Nia', role: 'driver', isVerified: false },
    'the new user comes with the token',
  );
  const me = await api.gql(ME, {}, { authorization: `Bearer ${res.body.token}` });
  assert.equal(me.data.currentUser, {
    rowId: res.body.userId,
    email: 'New.Driver@Example.com',
    role: 'driver',
    isVerified: false,
  });
  const {
    rows: [secret],
  } = await db.owner.query(`select password_hash from app_private.user_secrets where user_id = $1`, [res.body.userId]);
  assert.match(secret.password_hash, /^\$2a\$10\$/);
  assert.not.match(secret.password_hash, /fine long/);
  const {
    rows: [session],
  } = await db.owner.query(`select token_hash from app_private.sessions where id = $1`, [res.body.sessionId]);
  assert.equal(session.token_hash, hashOf(res.body.token), "only the token's SHA-256 is stored");
  const { rows: emails } = await db.owner.query(
    `select template, data from app_private.emails where recipient = 'new.driver@example.com'`,
  );
  assert.is(emails.length, 1);
  assert.is(emails[0].template, 'verify_email');
  assert.is(emails[0].data.name, undefined, 'the address is not proved: no name chosen by whoever signed up');
  assert.match(
    emailedLink(emails[0], 'http://127.0.0.1:5173')!,
    /^http:\/\/127\.0\.0\.1:5173\/verify-email\?token=[A-Za-z0-9_-]{43}$/,
  );
});

test('register: the same email in another case is taken (409 SMA06)', async () => {
  await createUser(db, { email: 'taken@example.com' });
  const res = await postJson(api, '/auth/register', {
    email: 'TAKEN@example.com',
    name: 'X',
    password: 'a fine long password',
  });
  assert.is(res.status, 409);
  assert.is(res.body.error.code, 'SMA06');
});

test('register over GraphQL returns the token once, with the new user', async () => {
  const res = await api.gql(
    `mutation ($e: String!, $n: String!, $p: String!) {
    register(input: { email: $e, name: $n, password: $p }) { result { userId sessionId token user { rowId email name role isVerified } } } }`,
    { e: 'gql.reg@example.com', n: 'Gil', p: 'another long password' },
  );
  assert.equal(res.errors, undefined);
  assert.equal(res.data.register.result.user, {
    rowId: res.data.register.result.userId,
    email: 'gql.reg@example.com',
    name: 'Gil',
    role: 'driver',
    isVerified: false,
  });
  const token = res.data.register.result.token;
  const me = await api.gql(ME, {}, { authorization: `Bearer ${token}` });
  assert.is(me.data.currentUser.email, 'gql.reg@example.com');
});

test('sign-in: wrong password and unknown email get the same 401 SMA01', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const wrong = await postJson(api, '/auth/login', { email: user.email, password: 'not the password' });
  const unknown = await postJson(api, '/auth/login', { email: 'nobody@example.com', password: TEST_PASSWORD });
  const empty = await postJson(api, '/auth/login', {});
  for (const res of [wrong, unknown, empty]) {
    assert.is(res.status, 401);
    assert.equal(res.body, { error: { code: 'SMA01', message: 'Wrong email or password' } });
  }
  const ok = await signIn(api, user.email.toUpperCase());
  assert.is(ok.userId, user.id);
});

test('GraphQL login: a token once; wrong credentials SMA01; failures still count toward the limit', async () => {
  const LOGIN = `mutation ($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { userId sessionId token } }`;
  const user = await createUser(db, { password: TEST_PASSWORD });
  const ok = await api.gql(LOGIN, { e: user.email, p: TEST_PASSWORD });
  assert.equal(ok.errors, undefined);
  assert.is(ok.data.login.userId, user.id);
  assert.is(
    (await api.gql(ME, {}, { authorization: `Bearer ${ok.data.login.token}` })).data.currentUser.rowId,
    user.id,
  );
  const wrong = await api.gql(LOGIN, { e: user.email, p: 'nope nope nope' });
  const unknown = await api.gql(LOGIN, { e: 'nobody@example.com', p: TEST_PASSWORD });
  for (const res of [wrong, unknown]) {
    assert.is(res.data?.login ?? null, null);
    assert.equal(
      res.errors?.map((e) => [e.extensions?.code, e.message]),
      [['SMA01', 'Wrong email or password']],
    );
  }
  const {
    rows: [row],
  } = await db.owner.query(
    // The (email, address) pair's count: this address signed in to the account, so the email's
    // own ceiling does not count it (security_sign_in_throttle.test.ts).
    `select hits from app_private.rate_limits where bucket = 'login_pair' and key like lower($1) || ' %'`,
    [user.email],
  );
  assert.is(row.hits, 1, 'the failed attempt was committed (the success before cleared the count)');
  for (let i = 0; i < 9; i += 1) await api.gql(LOGIN, { e: user.email, p: 'nope nope nope' });
  const limited = await api.gql(LOGIN, { e: user.email, p: TEST_PASSWORD });
  assert.is(limited.errors?.[0].extensions?.code, 'SMA02');
  assert.ok((limited.errors![0].extensions as any).retryAfter > 0);
});

test("a bad or revoked bearer token gets 401 SMA15 in GraphQL's response shape, not an anonymous answer", async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const revoked = await signIn(api, user.email);
  await api.gql(`mutation { logout(input: {}) { result } }`, {}, revoked.headers);
  for (const authorization of [
    'Bearer nonsense-token-that-is-long-enough',
    'Basic abc',
    'Bearer ',
    revoked.headers.authorization,
  ]) {
    const res = await api.gql(ME, {}, { authorization });
    assert.is(res.status, 401, authorization);
    assert.equal(
      res.errors?.map((e) => e.extensions?.code),
      ['SMA15'],
      authorization,
    );
    assert.match(res.errors![0].message, /sign in again/);
    // A header that is no bearer token at all says how to send one.
    const shaped = /^Bearer [A-Za-z0-9_-]{16,}/.test(authorization);
    assert.is(/Authorization: Bearer <token>/.test(res.errors![0].message), !shaped, authorization);
    assert.is((res as { data?: unknown }).data, undefined, 'not executed');
  }
  // A client of the GraphQL-over-HTTP spec's own media type gets it back.
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
      authorization: 'Bearer nonsense-token-that-is-long-enough',
    },
    body: JSON.stringify({ query: ME }),
  });
  assert.is(res.status, 401);
  assert.match(res.headers.get('content-type')!, /^application\/graphql-response\+json/);
  assert.match(res.headers.get('www-authenticate')!, /invalid_token/);
  assert.is((await res.json()).errors[0].extensions.code, 'SMA15');
});

test('a stale bearer token does not stop signing in again at /auth/login', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const res = await postJson(
    api,
    '/auth/login',
    { email: user.email, password: TEST_PASSWORD },
    { authorization: 'Bearer revoked-or-expired-token-value' },
  );
  assert.is(res.status, 200);
});

test('sign-out over GraphQL (bearer) revokes that session only', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const a = await signIn(api, user.email);
  const b = await signIn(api, user.email);
  const out = await api.gql(`mutation { logout(input: {}) { result } }`, {}, a.headers);
  assert.is(out.data.logout.result, true);
  assertRefused(await api.gql(ME, {}, a.headers), 401, 'SMA15');
  assert.is((await api.gql(ME, {}, b.headers)).data.currentUser.rowId, user.id);
});

test('cookie session: HttpOnly signed cookie, CSRF cookie; every POST needs X-CSRF-Token', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const res = await postJson(api, '/auth/login', { email: user.email, password: TEST_PASSWORD, session: 'cookie' });
  assert.is(res.status, 200);
  assert.is(res.body.token, undefined, 'no bearer token is handed to a browser');
  const lines = res.headers.getSetCookie();
  const session = lines.find((l) => l.startsWith('sms_session='))!;
  assert.match(session, /HttpOnly/);
  assert.match(session, /SameSite=Lax/);
  assert.match(decodeURIComponent(session), /^sms_session=s:/, 'signed');
  const csrf = lines.find((l) => l.startsWith('sms_csrf='))!;
  assert.not.match(csrf, /HttpOnly/, 'the SPA must read it');
  const jar = cookiesOf(res.headers);
  const cookie = cookieHeader(jar);

  assertRefused(await api.gql(ME, {}, { cookie }), 403, 'SMA14', 'GraphQL POST (even a query) without the header');
  assert.is((await api.gql(ME, {}, { cookie, 'x-csrf-token': jar.sms_csrf })).data.currentUser.rowId, user.id);
  const rename = `mutation ($id: BigInt!) { updateUser(input: { rowId: $id, patch: { name: "Renamed" } }) { user { name } } }`;
  const noHeader = await api.gql(rename, { id: user.id }, { cookie });
  assert.is(noHeader.status, 403);
  assert.is(noHeader.errors?.[0].extensions?.code, 'SMA14', "in GraphQL's response shape");
  const wrongHeader = await api.gql(rename, { id: user.id }, { cookie, 'x-csrf-token': 'guess' });
  assertRefused(wrongHeader, 403, 'SMA14');
  const noCookie = await api.gql(
    rename,
    { id: user.id },
    { cookie: cookieHeader({ sms_session: jar.sms_session }), 'x-csrf-token': jar.sms_csrf },
  );
  assertRefused(noCookie, 403, 'SMA14', 'double submit: the header alone is not enough');
  const {
    rows: [before],
  } = await db.owner.query('select name from app_public.users where id = $1', [user.id]);
  assert.is.not(before.name, 'Renamed', 'nothing written without the header');
  const ok = await api.gql(rename, { id: user.id }, { cookie, 'x-csrf-token': res.body.csrfToken });
  assert.equal(ok.errors, undefined);
  assert.is(ok.data.updateUser.user.name, 'Renamed');
});

test('a tampered cookie is ignored (anonymous) and cleared', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const s = await signInWithCookie(api, user.email);
  const forged = s.cookie.replace(/sms_session=s%3A([^.;]+)/, 'sms_session=s%3AXX$1');
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: forged },
    body: JSON.stringify({ query: ME }),
  });
  assert.is(res.status, 200);
  assert.is((await res.json()).data.currentUser, null);
  assert.ok(
    res.headers.getSetCookie().some((l) => /^sms_session=;/.test(l)),
    'cleared',
  );
});

test("a cookie session ended elsewhere: a page that sends the CSRF header (it believes it is signed in) gets 401 SMA15, not a visitor's answer", async () => {
  const user = await createUser(db, { password: TEST_PASSWORD, name: 'Before' });
  const s = await signInWithCookie(api, user.email);
  const other = await signIn(api, user.email);
  const revoked = await api.gql(
    `mutation ($id: UUID!) { revokeSession(input: { sessionId: $id }) { clientMutationId } }`,
    { id: s.sessionId },
    other.headers,
  );
  assert.is(revoked.errors, undefined);
  const rename = `mutation ($id: BigInt!) { updateUser(input: { rowId: $id, patch: { name: "After" } }) { user { name } } }`;
  assertRefused(
    await api.gql(rename, { id: user.id }, s.headers),
    401,
    'SMA15',
    'a write with the dead cookie and its CSRF header',
  );
  const raw = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...s.headers },
    body: JSON.stringify({ query: ME }),
  });
  assert.is(raw.status, 401);
  assert.ok(
    raw.headers.getSetCookie().some((l) => /^sms_session=;/.test(l)),
    'the dead cookie is cleared',
  );
  assertRefused(await api.gql(ME, {}, s.headers), 401, 'SMA15', 'a read from the same page');
  const {
    rows: [row],
  } = await db.owner.query('select name from app_public.users where id = $1', [user.id]);
  assert.is(row.name, 'Before', 'nothing written');
  // Without the header (a link followed, a script), the request is a visitor's; /auth/* stays open.
  assert.is((await api.gql(ME, {}, { cookie: s.cookie })).data.currentUser, null);
  const again = await postJson(
    api,
    '/auth/login',
    { email: user.email, password: TEST_PASSWORD, session: 'cookie' },
    s.headers,
  );
  assert.is(again.status, 200);
});

test('POST /auth/logout with the cookie: needs CSRF, revokes, clears cookies', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const s = await signInWithCookie(api, user.email);
  const refused = await postJson(api, '/auth/logout', {}, { cookie: s.cookie });
  assert.is(refused.status, 403);
  assert.is(refused.body.error.code, 'SMA14');
  const out = await postJson(api, '/auth/logout', {}, s.headers);
  assert.is(out.status, 204);
  assert.ok(out.headers.getSetCookie().some((l) => /^sms_session=;/.test(l)));
  const {
    rows: [row],
  } = await db.owner.query('select revoked_at from app_private.sessions where id = $1', [s.sessionId]);
  assert.ok(row.revoked_at, 'revoked in the database');
  assert.is((await api.gql(ME, {}, { cookie: s.cookie })).data.currentUser, null, 'the old cookie signs in no one');
});

test('change password: needs the old one (SMA09), keeps this session, revokes the others', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const keep = await signIn(api, user.email);
  const other = await signIn(api, user.email);
  const CHANGE = `mutation ($o: String!, $n: String!) { changePassword(input: { oldPassword: $o, newPassword: $n }) { result } }`;
  const wrong = await api.gql(CHANGE, { o: 'not my password', n: 'brand new password' }, keep.headers);
  assert.is(wrong.errors?.[0].extensions?.code, 'SMA09');
  const weak = await api.gql(CHANGE, { o: TEST_PASSWORD, n: 'short' }, keep.headers);
  assert.is(weak.errors?.[0].extensions?.code, 'SMA04');
  assert.is((await api.gql(ME, {}, other.headers)).status, 200, 'failed attempts revoke nothing');
  const ok = await api.gql(CHANGE, { o: TEST_PASSWORD, n: 'brand new password' }, keep.headers);
  assert.is(ok.data.changePassword.result, true);
  assert.is((await api.gql(ME, {}, keep.headers)).data.currentUser.rowId, user.id);
  assertRefused(await api.gql(ME, {}, other.headers), 401, 'SMA15');
  assertRefused(await postJson(api, '/auth/login', { email: user.email, password: TEST_PASSWORD }), 401, 'SMA01');
  await signIn(api, user.email, 'brand new password');
  const { rows } = await db.owner.query(`select template from app_private.emails where recipient = $1`, [user.email]);
  assert.equal(
    rows.map((r) => r.template),
    ['password_changed'],
  );
  const anon = await api.gql(CHANGE, { o: 'x', n: 'brand new password 2' });
  assert.is(anon.errors?.[0].extensions?.code, 'SMA08');
});

test("my sessions: lists live ones; revokeSession ends one of mine, not someone else's", async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const a = await signIn(api, user.email);
  const b = await signIn(api, user.email);
  const stranger = await createUser(db, { password: TEST_PASSWORD });
  const s = await signIn(api, stranger.email);
  const list = await api.gql(`{ mySessions { nodes { rowId method isCurrent expiresAt } } }`, {}, a.headers);
  const nodes = list.data.mySessions.nodes;
  assert.is(nodes.length, 3, 'createUser’s session and the two sign-ins, nothing of the stranger’s');
  assert.ok(nodes.some((n: any) => n.rowId === a.sessionId && n.isCurrent && n.method === 'password'));
  assert.ok(nodes.some((n: any) => n.rowId === b.sessionId && !n.isCurrent));
  assert.not.ok(nodes.some((n: any) => n.rowId === s.sessionId));
  const REVOKE = `mutation ($id: UUID!) { revokeSession(input: { sessionId: $id }) { result } }`;
  assert.is((await api.gql(REVOKE, { id: s.sessionId }, a.headers)).data.revokeSession.result, null);
  assert.is((await api.gql(ME, {}, s.headers)).status, 200);
  assert.is((await api.gql(REVOKE, { id: b.sessionId }, a.headers)).data.revokeSession.result, true);
  assertRefused(await api.gql(ME, {}, b.headers), 401, 'SMA15');
});

// The clock: SQL reads app.test_now (app_hidden.clock_now()). Over HTTP the
// server's look-up runs in its own connections, so those tests move the
// session's timestamps instead — the same thing seen from the session.
const lookup = async (token: string, now: string) => {
  const client = await db.owner.connect();
  try {
    await client.query(`select set_config('app.test_now', $1, false)`, [now]);
    const { rows } = await client.query('select * from app_private.session_lookup($1)', [hashOf(token)]);
    return rows[0];
  } finally {
    await client.query(`reset app.test_now`);
    client.release();
  }
};

test('sliding expiry (clock in SQL): renewed while used, at most once a minute; 24 h idle ends it; 30 days is the maximum', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const s = await signIn(api, user.email);
  const {
    rows: [{ created_at: t0 }],
  } = await db.owner.query('select created_at from app_private.sessions where id = $1', [s.sessionId]);
  const at = (ms: number) => new Date(t0.getTime() + ms).toISOString();
  const lastActive = async () =>
    (
      await db.owner.query('select last_active_at from app_private.sessions where id = $1', [s.sessionId])
    ).rows[0].last_active_at.getTime();
  const H = 3600e3;

  assert.ok(await lookup(s.token, at(30e3)));
  assert.is(await lastActive(), t0.getTime(), 'not written within the first minute');
  assert.ok(await lookup(s.token, at(23 * H)));
  assert.is(await lastActive(), t0.getTime() + 23 * H, 'renewed');
  // Used every 23 hours: alive for 29 days and more…
  let t = 23 * H;
  while (t + 23 * H < 30 * 24 * H) {
    t += 23 * H;
    assert.ok(await lookup(s.token, at(t)), `alive at ${t / H} h`);
  }
  // …but never past 30 days, however busy.
  assert.not.ok(await lookup(s.token, at(30 * 24 * H + 1000)));
  // Another session left idle for 24 hours is over.
  const idle = await signIn(api, user.email);
  const {
    rows: [{ created_at: i0 }],
  } = await db.owner.query('select created_at from app_private.sessions where id = $1', [idle.sessionId]);
  assert.ok(await lookup(idle.token, new Date(i0.getTime() + 24 * H - 1000).toISOString()));
  assert.not.ok(await lookup(idle.token, new Date(i0.getTime() + 48 * H).toISOString()));
});

test('sliding expiry over HTTP: a session idle for 24 h gets 401; one used within is renewed', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const used = await signIn(api, user.email);
  const idle = await signIn(api, user.email);
  await db.owner.query(
    `update app_private.sessions set created_at = created_at - interval '23 hours 59 minutes',
    last_active_at = last_active_at - interval '23 hours 59 minutes' where id = any($1)`,
    [[used.sessionId, idle.sessionId]],
  );
  assert.is((await api.gql(ME, {}, used.headers)).data.currentUser.rowId, user.id, 'still alive after 23 h 59 min');
  await db.owner.query(
    `update app_private.sessions set created_at = created_at - interval '2 minutes',
    last_active_at = last_active_at - interval '2 minutes' where id = any($1)`,
    [[used.sessionId, idle.sessionId]],
  );
  assert.is((await api.gql(ME, {}, used.headers)).data.currentUser.rowId, user.id, 'renewed by the previous request');
  assertRefused(await api.gql(ME, {}, idle.headers), 401, 'SMA15', 'idle 24 h 01 min');
});

test('sessions__sweep deletes revoked, idle and too old sessions, dead links and stale rate limit windows', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const live = await signIn(api, user.email);
  const revoked = await signIn(api, user.email);
  const idle = await signIn(api, user.email);
  await api.gql(`mutation { logout(input: {}) { result } }`, {}, revoked.headers);
  await db.owner.query(`update app_private.sessions set last_active_at = now() - interval '25 hours' where id = $1`, [
    idle.sessionId,
  ]);
  const old = await signIn(api, user.email);
  await db.owner.query(`update app_private.sessions set created_at = now() - interval '31 days' where id = $1`, [
    old.sessionId,
  ]);
  await db.owner.query(`insert into app_private.rate_limits (bucket, key, window_start, hits) values
    ('login_email', 'stale@example.com', now() - interval '2 days', 3), ('login_email', 'fresh@example.com', now(), 3)`);
  await db.owner.query(
    `insert into app_private.user_tokens (user_id, kind, token_hash, email, expires_at) values
    ($1, 'password_reset', '\\x01', 'x@example.com', now() - interval '2 days'), ($1, 'password_reset', '\\x02', 'x@example.com', now() + interval '1 hour')`,
    [user.id],
  );
  const {
    rows: [{ swept }],
  } = await db.owner.query('select app_private.sessions_sweep() as swept');
  assert.ok(swept >= 3, `swept ${swept}`);
  const { rows } = await db.owner.query('select id from app_private.sessions where id = any($1)', [
    [live.sessionId, revoked.sessionId, idle.sessionId, old.sessionId],
  ]);
  assert.equal(
    rows.map((r) => r.id),
    [live.sessionId],
  );
  const { rows: limits } = await db.owner.query(
    `select key from app_private.rate_limits where key in ('stale@example.com', 'fresh@example.com')`,
  );
  assert.equal(
    limits.map((r) => r.key),
    ['fresh@example.com'],
  );
  const { rows: tokens } = await db.owner.query(
    `select token_hash from app_private.user_tokens where token_hash in ('\\x01', '\\x02')`,
  );
  assert.is(tokens.length, 1, 'the expired link is gone, the live one kept');
});

test.run();
