// `npm run db:schema`: writes the current truth of the database and of the API
// into the repository, for reading and reviewing in one place:
//   data/schema.sql      pg_dump --schema-only of a freshly migrated database
//                        (committed migrations + current.sql)
//   data/schema.graphql  the GraphQL SDL PostGraphile builds from it, sorted
// test/schema.test.ts checks both against a fresh migrate, so a change to the
// SQL or to a schema plugin lands together with its effect on these files.
// A command rather than graphile-migrate's afterAllMigrations hook: the hook
// would also fire while tests build their template and write into the tree.
import './graphile_development.ts';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { makeSchema } from 'postgraphile';
import { lexicographicSortSchema, printSchema } from 'postgraphile/graphql';
import { dbUrls, type DbUrls } from '../lib/db_urls.ts';
import { loadConfig } from '../server/config.ts';
import { makePreset } from '../server/graphile.config.ts';
import { configuredPlugins } from '../server/middleware/installPostGraphile.ts';
import { provisionDatabase } from './db__provision.ts';

const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_SQL = join(ROOT_DIR, 'data', 'schema.sql');
export const SCHEMA_GRAPHQL = join(ROOT_DIR, 'data', 'schema.graphql');
export const REGENERATE = 'npm run db:schema';

/**
 * The database's schema as pg_dump prints it, without what differs between two
 * dumps of the same schema (server version lines, psql's random \restrict key)
 * and without graphile-worker's and graphile-migrate's own schemas.
 */
export function dumpSchema(urls: DbUrls): string {
  const url = new URL(urls.root);
  url.pathname = `/${urls.database}`;
  const res = spawnSync(
    'pg_dump',
    [
      '--schema-only',
      '--no-owner',
      '--restrict-key=schema',
      '--exclude-schema=graphile_worker',
      '--exclude-schema=graphile_migrate',
      url.toString(),
    ],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) throw new Error(`pg_dump failed: ${res.stderr}`);
  return res.stdout
    .split('\n')
    .filter((line) => !/^-- Dumped (from|by) /.test(line) && !/^\\(un)?restrict /.test(line))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}

/** The GraphQL API's SDL as PostGraphile builds it for this database, types and fields sorted. */
export async function printSdl(urls: DbUrls): Promise<string> {
  // The default configuration: the SDL does not depend on its values.
  const config = loadConfig({}, { db: urls });
  const pool = new pg.Pool({ connectionString: urls.authenticator, max: 2, pipeline: true });
  try {
    const { schema } = await makeSchema(
      makePreset({
        pool,
        isDev: false,
        ide: false,
        introspection: true,
        pgSettings: () => ({}),
        plugins: configuredPlugins(config),
      }),
    );
    return `${printSchema(lexicographicSortSchema(schema))}\n`;
  } finally {
    await pool.end();
  }
}

export default async function main(): Promise<void> {
  const urls = dbUrls();
  const scratch = `${urls.database}_schema`;
  const fresh = await provisionDatabase({ database: scratch, reset: true, applyCurrent: true, log: () => {} });
  try {
    writeFileSync(SCHEMA_SQL, dumpSchema(fresh));
    writeFileSync(SCHEMA_GRAPHQL, await printSdl(fresh));
    console.log(`Wrote ${SCHEMA_SQL} and ${SCHEMA_GRAPHQL} from a fresh migrate (database ${scratch}).`);
  } finally {
    const root = new pg.Client({ connectionString: fresh.root });
    await root.connect();
    await root.query(`drop database if exists ${pg.escapeIdentifier(scratch)} with (force)`);
    await root.query(`drop database if exists ${pg.escapeIdentifier(`${scratch}_shadow`)} with (force)`);
    await root.end();
  }
}
