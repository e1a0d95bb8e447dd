// The smaller holes of issue 9, item 7, each through the API: a reset link dies
// with any password change; names of only invisible characters and guest
// addresses like `x<victim@example.com>` are refused; common and digits-only
// passwords are refused on every path that sets one; the same-origin check
// ignores the Host header; security headers and no-store on token answers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUser, type TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { postJson, signIn, TEST_PASSWORD } from './helpers/auth.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { emailedLink } from './helpers/outbox.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
});

test.after(() => closeAll(api, db));

const code = (res: any) => res.errors?.[0]?.extensions?.code;
const FORGOT = 'mutation ($e: String!) { forgotPassword(input: { email: $e }) { result } }';
const RESET = 'mutation ($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) { result } }';
const CHANGE =
  'mutation ($o: String!, $n: String!) { changePassword(input: { oldPassword: $o, newPassword: $n }) { result } }';

async function resetLinkOf(email: string): Promise<string> {
  const { rows } = await db.owner.query(
    `select template, data from app_private.emails where recipient = $1 and template = 'password_reset' order by id desc limit 1`,
    [email],
  );
  return new URL(emailedLink(rows[0])!).searchParams.get('token')!;
}

test('a reset link asked for before a password change stops working after it', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  assert.equal((await api.gql(FORGOT, { e: user.email })).data, { forgotPassword: { result: true } });
  const token = await resetLinkOf(user.email);
  const session = await signIn(api, user.email);
  assert.equal((await api.gql(CHANGE, { o: TEST_PASSWORD, n: 'a brand new passphrase' }, session.headers)).data, {
    changePassword: { result: true },
  });
  assert.is(code(await api.gql(RESET, { t: token, p: 'the attacker chose this' })), 'SMA07');
  assert.is(
    (await postJson(api, '/auth/login', { email: user.email, password: 'a brand new passphrase' })).status,
    200,
    'the change stands',
  );
});

test('names made only of invisible characters are refused everywhere a name is written', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const session = await signIn(api, user.email);
  const invisible = [
    '\u00AD',
    '\u2060',
    '\u3164',
    '\u2800',
    '\u3000',
    '\u00AD\u2060\u3164\u2800\u3000',
    '\u200B\u200C',
    '\uFFA0',
  ];
  const wrong: string[] = [];
  for (const [i, name] of invisible.entries()) {
    const label = [...name].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
    const viaRoute = await postJson(api, '/auth/register', {
      email: `invisible${i}@example.com`,
      name,
      password: TEST_PASSWORD,
    });
    if (viaRoute.body?.error?.code !== 'SMA05') wrong.push(`register ${label}: ${JSON.stringify(viaRoute.body)}`);
    const viaUpdate = await api.gql(
      'mutation ($id: BigInt!, $n: String) { updateUser(input: { rowId: $id, patch: { name: $n } }) { user { name } } }',
      { id: user.id, n: name },
      session.headers,
    );
    if (code(viaUpdate) !== 'SMA05') wrong.push(`updateUser ${label}: ${JSON.stringify(viaUpdate)}`);
  }
  assert.equal(wrong, []);
  const {
    rows: [u],
  } = await db.owner.query(`select count(*)::int as n from app_public.users where email like 'invisible%'`);
  assert.is(u.n, 0);
});

test('a guest address with a display name or brackets is refused (SMB08), with nothing written or mailed', async () => {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: await createRate(db) });
  const RESERVE =
    'mutation ($s: BigInt!, $e: String) { reserve(input: { spotId: $s, durationMinutes: 30, email: $e }) { result { reservation { rowId } } } }';
  const {
    rows: [before],
  } = await db.owner.query(
    'select (select count(*) from app_public.reservations)::int as r, (select count(*) from app_private.emails)::int as e',
  );
  for (const email of [
    'x<victim@example.com>',
    'Victim <victim@example.com>',
    'victim@example.com, other@example.com',
    '"x"@example.com',
    'victim@example.com\nBcc: a@example.com',
    'ünï@example.com',
  ]) {
    assert.is(code(await api.gql(RESERVE, { s: spotId, e: email })), 'SMB08', email);
  }
  const {
    rows: [after],
  } = await db.owner.query(
    'select (select count(*) from app_public.reservations)::int as r, (select count(*) from app_private.emails)::int as e',
  );
  assert.equal(after, before);
  // The table refuses such an address from any writer (one rule: app_hidden.email_is_valid).
  const direct = await db.owner
    .query(`insert into app_public.users (email, name) values ('x<victim@example.com>', 'X')`)
    .catch((e) => e.code);
  assert.is(direct, '23514');
});

test('common and digits-only passwords are refused on sign-up, change and reset (SMA04)', async () => {
  const weak = [
    '1234567890',
    'password12',
    'qwertyuiop',
    'Password123',
    'basketball1!',
    // Shorter common words with digits or symbols appended.
    'password!!!!',
    'password12345!',
    'Password12345',
    'iloveyou1234',
    'letmein12345',
    'dragon 2024!!',
    '20261202123456',
    '0123456789',
  ];
  const user = await createUser(db, { password: TEST_PASSWORD });
  const session = await signIn(api, user.email);
  await api.gql(FORGOT, { e: user.email });
  const token = await resetLinkOf(user.email);
  const wrong: string[] = [];
  for (const [i, password] of weak.entries()) {
    const signUp = await postJson(api, '/auth/register', { email: `weak${i}@example.com`, name: 'Weak', password });
    if (signUp.body?.error?.code !== 'SMA04') wrong.push(`register ${password}: ${JSON.stringify(signUp.body)}`);
    // More than changePassword's 10 attempts in 15 minutes: each starts a new window.
    await db.owner.query(`delete from app_private.rate_limits where bucket = 'password_check'`);
    if (code(await api.gql(CHANGE, { o: TEST_PASSWORD, n: password }, session.headers)) !== 'SMA04')
      wrong.push(`change ${password}`);
    if (code(await api.gql(RESET, { t: token, p: password })) !== 'SMA04') wrong.push(`reset ${password}`);
  }
  assert.equal(wrong, []);
  // A passphrase is fine.
  assert.is(
    (
      await postJson(api, '/auth/register', {
        email: 'strong@example.com',
        name: 'Strong',
        password: 'violet kettle under nine bridges',
      })
    ).status,
    201,
  );
});

test('the same-origin check does not trust Host: a foreign Origin with a matching Host is refused (SMA18)', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  // fetch will not forge Host; a raw request does what a hostile client can.
  const { request } = await import('node:http');
  const url = new URL(api.url);
  const body = JSON.stringify({ email: user.email, password: TEST_PASSWORD });
  const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/auth/login',
        method: 'POST',
        headers: {
          host: 'evil.example',
          origin: 'http://evil.example',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal([status.status, JSON.parse(status.body).error.code], [403, 'SMA18']);
  // The API's own public origin is still allowed.
  assert.is(
    (
      await postJson(
        api,
        '/auth/login',
        { email: user.email, password: TEST_PASSWORD },
        { origin: new URL(api.url).origin },
      )
    ).status,
    200,
  );
});

test('security headers on every response; no-store on the answers that carry tokens', async () => {
  const health = await fetch(`${api.url}/health`);
  assert.is(health.headers.get('x-content-type-options'), 'nosniff');
  assert.is(health.headers.get('content-security-policy'), "frame-ancestors 'none'");
  assert.is(health.headers.get('x-frame-options'), 'DENY');
  assert.is(health.headers.get('x-powered-by'), null);
  const user = await createUser(db, { password: TEST_PASSWORD });
  const login = await postJson(api, '/auth/login', { email: user.email, password: TEST_PASSWORD });
  assert.ok(login.body.token);
  assert.is(login.headers.get('cache-control'), 'no-store');
  const gql = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `mutation { login(input: { email: "${user.email}", password: "${TEST_PASSWORD}" }) { token } }`,
    }),
  });
  assert.is(gql.headers.get('cache-control'), 'no-store');
  assert.is(gql.headers.get('x-content-type-options'), 'nosniff');
});

test.run();
