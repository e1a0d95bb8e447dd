// CORS: only configured origins get CORS headers; other origins' preflights
// and state-changing requests are refused; requests without Origin (API
// clients) and from the server's own origin pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUser, type TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { TEST_PASSWORD } from './helpers/auth.ts';

const SPA = 'https://app.example.test';
let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename, { corsOrigins: [SPA] }));
});

test.after(() => closeAll(api, db));

const preflight = (origin: string, path = '/graphql') =>
  fetch(`${api.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, x-csrf-token',
    },
  });
const post = (origin: string | undefined, path: string, body: unknown) =>
  fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
    body: JSON.stringify(body),
  });

test('a configured origin: preflight 204 with credentials and the CSRF header allowed', async () => {
  const res = await preflight(SPA);
  assert.is(res.status, 204);
  assert.is(res.headers.get('access-control-allow-origin'), SPA);
  assert.is(res.headers.get('access-control-allow-credentials'), 'true');
  assert.match(res.headers.get('access-control-allow-headers')!, /X-CSRF-Token/i);
  assert.match(res.headers.get('vary')!, /Origin/);
  const gql = await post(SPA, '/graphql', { query: '{ currentUser { rowId } }' });
  assert.is(gql.status, 200);
  assert.is(gql.headers.get('access-control-allow-origin'), SPA);
  assert.is(gql.headers.get('access-control-expose-headers'), 'Retry-After, X-Request-Id');
});

test('another origin: preflight 403, no CORS headers; its POSTs refused (SMA18), so no cross-site sign-in', async () => {
  for (const origin of [
    'https://evil.example',
    'https://app.example.test.evil.example',
    'null',
    'http://app.example.test',
  ]) {
    const res = await preflight(origin);
    assert.is(res.status, 403, origin);
    assert.is(res.headers.get('access-control-allow-origin'), null, origin);
  }
  const user = await createUser(db, { password: TEST_PASSWORD });
  const login = await post('https://evil.example', '/auth/login', {
    email: user.email,
    password: TEST_PASSWORD,
    session: 'cookie',
  });
  assert.is(login.status, 403);
  assert.is((await login.json()).error.code, 'SMA18');
  assert.equal(login.headers.getSetCookie(), []);
  const { rows } = await db.owner.query('select 1 from app_private.sessions where user_id = $1', [user.id]);
  assert.is(rows.length, 1, "only the helper's own session");
});

test("no Origin (API clients, curl) and the server's own origin pass; GETs from anywhere get no CORS headers", async () => {
  assert.is((await post(undefined, '/graphql', { query: '{ currentUser { rowId } }' })).status, 200);
  assert.is((await post(api.url, '/graphql', { query: '{ currentUser { rowId } }' })).status, 200);
  const get = await fetch(`${api.url}/health`, { headers: { origin: 'https://evil.example' } });
  assert.is(get.headers.get('access-control-allow-origin'), null);
});

test.run();
