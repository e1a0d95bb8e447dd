// Query.signInProviders names exactly the OAuth providers this server has configured.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi } from './helpers/api.ts';
import { createTestDb, type TestDb } from './helpers/db.ts';

let db: TestDb;
test.before(async () => {
  db = await createTestDb(import.meta.filename);
});
test.after(async () => {
  await db?.close();
});

const oauth = {
  authorizationUrl: 'http://127.0.0.1:1/a',
  tokenUrl: 'http://127.0.0.1:1/t',
  profileUrl: 'http://127.0.0.1:1/p',
  clientId: 'c',
  clientSecret: 's',
};

for (const [label, overrides, expected] of [
  ['none configured', { google: null, facebook: null }, []],
  ['Facebook only', { google: null, facebook: oauth }, ['facebook']],
  [
    'both',
    { google: { issuer: 'http://127.0.0.1:1', clientId: 'c', clientSecret: 's' }, facebook: oauth },
    ['google', 'facebook'],
  ],
] as const) {
  test(`signInProviders: ${label}`, async () => {
    const api = await startApi(db, overrides);
    try {
      const res = await api.gql('{ signInProviders }');
      assert.equal(res.data, { signInProviders: expected });
    } finally {
      await api.close();
    }
  });
}

test.run();
