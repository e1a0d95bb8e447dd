// What the API answers when something goes wrong: an unexpected error becomes
// INTERNAL with a reference that the server log also has, and nothing else of
// it leaves the server; an unknown route is NOT_FOUND; /ready says 503 when
// the database does not answer; production refuses to start without a
// COOKIE_SECRET.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { loadConfig } from '../server/config.ts';
import { captureLogs } from './helpers/logs.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
});

test.after(() => closeAll(api, db));

test('an unexpected SQL error: INTERNAL with a reference the log has, and not a word of the error in the answer', async () => {
  // Setup: a fault no client can cause on purpose — a trigger failing with an
  // undocumented SQLSTATE and a message full of things that must not leak.
  const driver = await createSignedInUser(db, api);
  const SECRET = 'table app_private.user_secrets, password hunter2, host db-internal.example:5432';
  await db.owner.query(`create or replace function app_private.tg_test_fault() returns trigger language plpgsql as $$
    begin raise exception '${SECRET}' using errcode = 'XX123', detail = 'detail ${SECRET}', hint = 'hint ${SECRET}'; end $$`);
  await db.owner.query(
    `create trigger _999_test_fault before update on app_public.users for each row execute procedure app_private.tg_test_fault()`,
  );
  try {
    // Action
    const { result: res, lines } = await captureLogs(() =>
      api.gql(
        `mutation ($id: BigInt!) { updateUser(input: { rowId: $id, patch: { name: "Whoever" } }) { user { name } } }`,
        { id: driver.id },
        driver.headers,
      ),
    );
    // Assertions
    assert.is(res.errors?.length, 1);
    const [error] = res.errors!;
    assert.is(error.extensions?.code, 'INTERNAL');
    const reference = error.message.match(/^Internal error \(reference (\S+)\)$/)?.[1];
    assert.ok(reference, error.message);
    assert.equal(Object.keys(error.extensions!).sort(), ['code'], 'no other extension (no SQL, no detail, no stack)');
    const body = JSON.stringify(res);
    for (const leak of [
      'hunter2',
      'user_secrets',
      'db-internal',
      'XX123',
      'tg_test_fault',
      'detail',
      'hint',
      'stack',
    ]) {
      assert.not.ok(body.includes(leak), `the answer carries "${leak}": ${body}`);
    }
    const logged = lines.filter((l) => l.reference === reference);
    assert.is(logged.length, 1, 'one log line with the reference');
    assert.match(JSON.stringify(logged[0]), 'hunter2', 'the log has the real error');
    const {
      rows: [u],
    } = await db.owner.query('select name from app_public.users where id = $1', [driver.id]);
    assert.is.not(u.name, 'Whoever');
  } finally {
    await db.owner.query('drop trigger _999_test_fault on app_public.users');
  }
});

test('a route that does not exist: 404 NOT_FOUND, in the uniform JSON shape', async () => {
  for (const [method, path] of [
    ['GET', '/nope'],
    ['POST', '/auth/nope'],
    ['GET', '/graphql/extra'],
    ['DELETE', '/health'],
  ]) {
    const res = await fetch(`${api.url}${path}`, { method });
    assert.is(res.status, 404, `${method} ${path}`);
    assert.equal(await res.json(), { error: { code: 'NOT_FOUND', message: 'No such route' } }, `${method} ${path}`);
  }
});

test('/ready: 200 while the database answers, 503 when it does not (/health stays 200: the process is up)', async () => {
  const ok = await fetch(`${api.url}/ready`);
  assert.is(ok.status, 200);
  assert.is((await ok.json()).status, 'ready');
  // An API whose owner connection points at a database that does not exist.
  const broken = await startApi(db, {
    db: { ...db.urls, owner: db.urls.owner.replace(/\/[^/?]+(\?|$)/, '/sms_no_such_database$1') },
  });
  try {
    const res = await fetch(`${broken.url}/ready`);
    assert.is(res.status, 503);
    assert.is((await res.json()).status, 'unavailable');
    assert.is((await fetch(`${broken.url}/health`)).status, 200);
  } finally {
    await broken.close();
  }
});

test('production without COOKIE_SECRET or STRIPE_WEBHOOK_SECRET does not start; with both it does', () => {
  const env = { NODE_ENV: 'production', DATABASE_URL: db.urls.owner, STRIPE_WEBHOOK_SECRET: 'whsec_x' };
  assert.throws(() => loadConfig(env), /COOKIE_SECRET must be set in production/);
  assert.throws(() => loadConfig({ ...env, COOKIE_SECRET: '' }), /COOKIE_SECRET must be set in production/);
  const withCookie = { ...env, COOKIE_SECRET: 'x'.repeat(32) };
  assert.is(loadConfig(withCookie).cookieSecret, 'x'.repeat(32));
  assert.is(loadConfig(withCookie).stripe.webhookSecret, 'whsec_x');
  // The development default signs webhooks for whoever reads this repository.
  for (const bad of [{ STRIPE_WEBHOOK_SECRET: undefined }, { STRIPE_WEBHOOK_SECRET: '' }]) {
    assert.throws(() => loadConfig({ ...withCookie, ...bad }), /STRIPE_WEBHOOK_SECRET must be set in production/);
  }
  assert.throws(
    () => loadConfig({ DATABASE_URL: db.urls.owner, STRIPE_SECRET_KEY: 'sk_live_abc' }),
    /STRIPE_WEBHOOK_SECRET must be set in production and with a live key/,
  );
  const dev = loadConfig({ DATABASE_URL: db.urls.owner });
  assert.is(dev.isDev, true, 'development keeps its fixed secrets');
  assert.is(dev.stripe.webhookSecret, 'whsec_emulator');
});

test.run();
