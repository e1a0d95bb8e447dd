// The production build served by the API process (WEB_DIST_DIR): the app's
// files, index.html for every page an email links to, JSON 404s for API
// clients. (The browser tests, test/web_*.test.ts, run the app this way.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type TestApi } from './helpers/api.ts';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { buildWebApp } from './helpers/web_stack.ts';

let db: TestDb;
let api: TestApi;
const outDir = mkdtempSync(join(tmpdir(), 'sms-web-dist-'));

test.before(async () => {
  await buildWebApp(outDir);
  db = await createTestDb(import.meta.filename);
  api = await startApi(db, { webDistDir: outDir });
});

test.after(async () => {
  await api?.close();
  await db?.close();
  rmSync(outDir, { recursive: true, force: true });
});

test('every page an email links to answers with the app', async () => {
  for (const path of [
    '/',
    '/verify-email?token=x',
    '/reset-password?token=x',
    '/accept-invite?token=x',
    '/reservations/7/manage',
    '/reservations/7/pay',
  ]) {
    const res = await fetch(api.url + path, { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.is(res.status, 200, path);
    assert.is(res.headers.get('cache-control'), 'no-cache', path);
    assert.match(await res.text(), /<div id="app"><\/div>/, path);
  }
});

test('built assets are served and cached for good; API clients still get JSON 404s', async () => {
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(readFileSync(join(outDir, 'index.html'), 'utf8'))![1]!;
  const res = await fetch(api.url + script);
  assert.is(res.status, 200);
  assert.match(res.headers.get('cache-control') ?? '', /immutable/);
  const missing = await fetch(`${api.url}/assets/nope.js`);
  assert.is(missing.status, 404);
  const route = await fetch(`${api.url}/no/such/route`, { headers: { accept: 'application/json' } });
  assert.is(route.status, 404);
  assert.equal(await route.json(), { error: { code: 'NOT_FOUND', message: 'No such route' } });
  const gql = await api.gql('{ __typename }');
  assert.equal(gql.data, { __typename: 'Query' });
});

test.run();
