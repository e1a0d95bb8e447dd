// Bad input to sign-up, over HTTP and GraphQL: each case gets a 4xx-class
// answer with a documented code, and nothing is written (no user, password,
// session, token or email).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUser, type TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { postJson } from './helpers/auth.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  await createUser(db, { email: 'anna@example.com' });
});

test.after(() => closeAll(api, db));

async function written() {
  const {
    rows: [row],
  } = await db.owner.query(`select
    (select count(*)::int from app_public.users) as users,
    (select count(*)::int from app_private.user_secrets) as secrets,
    (select count(*)::int from app_private.sessions) as sessions,
    (select count(*)::int from app_private.user_tokens) as tokens,
    (select count(*)::int from app_private.emails) as emails`);
  return row;
}

const GOOD = { email: 'fresh@example.com', name: 'Fresh', password: 'a good long password' };
const long = (n: number, c = 'a') => c.repeat(n);

const CASES: Array<[string, Record<string, unknown>, string]> = [
  // emails
  ['empty email', { email: '' }, 'SMA03'],
  ['missing email', { email: undefined }, 'SMA03'],
  ['email as a number', { email: 12345 }, 'SMA03'],
  ['no @', { email: 'plain.example.com' }, 'SMA03'],
  ['no domain dot', { email: 'a@localhost' }, 'SMA03'],
  ['two @', { email: 'a@@example.com' }, 'SMA03'],
  ['space inside', { email: 'a b@example.com' }, 'SMA03'],
  ['double dot', { email: 'a..b@example.com' }, 'SMA03'],
  ['leading dot', { email: '.a@example.com' }, 'SMA03'],
  ['domain label starting with -', { email: 'a@-example.com' }, 'SMA03'],
  ['one-letter TLD', { email: 'a@example.c' }, 'SMA03'],
  ['local part of 65', { email: `${long(65)}@example.com` }, 'SMA03'],
  ['email of 255', { email: `a@${long(63)}.${long(63)}.${long(63)}.${long(59)}.com` }, 'SMA03'],
  ['Cyrillic а look-alike', { email: 'аnna@example.com' }, 'SMA03'],
  ['Cyrillic in the domain', { email: 'anna@exаmple.com' }, 'SMA03'],
  ['full-width ａ', { email: 'ａnna@example.com' }, 'SMA03'],
  ['full-width ＠', { email: 'anna＠example.com' }, 'SMA03'],
  ['zero-width space', { email: 'anna\u200b@example.com' }, 'SMA03'],
  ['NUL character', { email: 'anna\u0000@example.com' }, 'SMA03'],
  ['newline inside', { email: 'an\nna@example.com' }, 'SMA03'],
  ['same email, other case', { email: 'ANNA@Example.COM' }, 'SMA06'],
  // names
  ['empty name', { name: '' }, 'SMA05'],
  ['blank name', { name: '    ' }, 'SMA05'],
  ['name of 101', { name: long(101) }, 'SMA05'],
  ['name with a bidi override', { name: 'Bob\u202Egnp.exe' }, 'SMA05'],
  ['name with a control character', { name: 'Bob\u0007' }, 'SMA05'],
  ['name with a zero-width joiner', { name: 'Bo\u200Db' }, 'SMA05'],
  ['name as an object', { name: { first: 'Bob' } }, 'SMA05'],
  // passwords
  ['empty password', { password: '' }, 'SMA04'],
  ['missing password', { password: undefined }, 'SMA04'],
  ['password of 9', { password: 'abcdefghi' }, 'SMA04'],
  ['password of spaces', { password: long(12, ' ') }, 'SMA04'],
  ['one repeated character', { password: long(12, 'x') }, 'SMA04'],
  ['password over 72 bytes', { password: long(37, 'é') }, 'SMA04'],
  ['password = email', { email: 'same@example.com', password: 'SAME@example.com' }, 'SMA04'],
];

test('sign-up over HTTP: every bad field gets 400/409 with its code, nothing written', async () => {
  const before = await written();
  for (const [label, patch, code] of CASES) {
    const res = await postJson(api, '/auth/register', { ...GOOD, ...patch });
    assert.is(res.body?.error?.code, code, label);
    assert.is(res.status, code === 'SMA06' ? 409 : 400, label);
  }
  assert.equal(await written(), before);
});

test('sign-up over GraphQL: the same cases, the same codes, nothing written', async () => {
  const REGISTER = `mutation ($email: String, $name: String, $password: String) {
    register(input: { email: $email, name: $name, password: $password }) { result { userId } } }`;
  const before = await written();
  for (const [label, patch, code] of CASES) {
    const vars = { ...GOOD, ...patch };
    if (typeof vars.email !== 'string' && vars.email !== undefined) continue; // a type error, below
    if (typeof vars.name !== 'string' && vars.name !== undefined) continue;
    const res = await api.gql(REGISTER, vars);
    const expected = label === 'NUL character' ? '22021' : code;
    assert.is(res.errors?.[0].extensions?.code, expected, label);
    assert.ok(res.status < 500, label);
  }
  const typed = await api.gql(REGISTER, { ...GOOD, email: 12345 });
  assert.is(typed.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  assert.equal(await written(), before);
});

test('malformed requests to /auth routes: 4xx, nothing written', async () => {
  const before = await written();
  const raw = (body: string, type = 'application/json', route = '/auth/register') =>
    fetch(`${api.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
  const broken = await raw('{"email": ');
  assert.is(broken.status, 400);
  assert.is((await broken.json()).error.code, 'BAD_REQUEST');
  const huge = await raw(JSON.stringify({ ...GOOD, name: long(20000) }));
  assert.is(huge.status, 413);
  assert.equal((await huge.json()).error, { code: 'BAD_REQUEST', message: 'Request body too large' });
  const hugeLogin = await raw(
    JSON.stringify({ email: GOOD.email, password: long(1_000_000) }),
    undefined,
    '/auth/login',
  );
  assert.is(hugeLogin.status, 413);
  assert.equal((await hugeLogin.json()).error, { code: 'BAD_REQUEST', message: 'Request body too large' });
  const array = await raw('[1, 2]');
  assert.is(array.status, 400);
  // A form (or any body but JSON) is refused as such, not read as empty fields ("wrong password").
  for (const route of ['/auth/register', '/auth/login']) {
    const form = await raw('email=a%40b.com', 'application/x-www-form-urlencoded', route);
    assert.equal([form.status, (await form.json()).error.code], [415, 'BAD_REQUEST'], route);
    // session is "cookie" or left out; anything else would quietly mean a bearer token.
    const bogus = await raw(JSON.stringify({ ...GOOD, session: 'bogus' }), 'application/json', route);
    assert.equal([bogus.status, (await bogus.json()).error.code], [400, 'BAD_REQUEST'], route);
  }
  assert.equal(await written(), before);
});

test('sign-in with bad input: always the uniform 401, never a session', async () => {
  const {
    rows: [{ n: before }],
  } = await db.owner.query('select count(*)::int as n from app_private.sessions');
  for (const body of [
    {},
    { email: 'аnna@example.com', password: 'x' },
    { email: 12, password: [] },
    { email: long(5000), password: long(5000) },
    { email: 'anna@example.com', password: '' },
    { email: 'anna@example.com\u0000', password: 'x' },
  ]) {
    const res = await postJson(api, '/auth/login', body);
    assert.is(res.status, 401, JSON.stringify(body).slice(0, 60));
    assert.is(res.body.error.code, 'SMA01');
  }
  const {
    rows: [{ n: after }],
  } = await db.owner.query('select count(*)::int as n from app_private.sessions');
  assert.is(after, before);
});

test.run();
