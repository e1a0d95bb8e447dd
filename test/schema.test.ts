// The committed schema files (data/schema.sql, data/schema.graphql) are what a
// fresh migrate makes: the database this file clones from the template
// (committed migrations + current.sql) is dumped and its API printed, the same
// way `npm run db:schema` writes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { dumpSchema, printSdl, REGENERATE, SCHEMA_GRAPHQL, SCHEMA_SQL } from '../cli/db__schema.ts';

let db: TestDb;

test.before(async () => {
  db = await createTestDb(import.meta.url);
});

test.after(async () => {
  await db.close();
});

test('data/schema.sql is the database a fresh migrate makes', () => {
  assert.fixture(
    dumpSchema(db.urls),
    readFileSync(SCHEMA_SQL, 'utf8'),
    `data/schema.sql is out of date: run \`${REGENERATE}\` and commit data/`,
  );
});

test('data/schema.graphql is the API PostGraphile builds from it', async () => {
  assert.fixture(
    await printSdl(db.urls),
    readFileSync(SCHEMA_GRAPHQL, 'utf8'),
    `data/schema.graphql is out of date: run \`${REGENERATE}\` and commit data/`,
  );
});

test.run();
