// Makes a database ready for the app: PostgreSQL reachable, PostGIS present,
// login roles made, schema migrated. Idempotent: safe on every `npm start`.

import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { dbUrls, migrateEnv, DEFAULT_ROOT_URL, type DbUrls } from '../lib/db_urls.ts';
import { loggerFor } from '../lib/logger.ts';

const provisionLog = loggerFor('provision');

const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT_DIR, 'node_modules', '.bin');
/**
 * Debian's Unix socket. The host part only keeps the URL parseable (WHATWG
 * URLs refuse `postgres://user@/db`); libpq and node-postgres connect to the
 * folder in ?host, and every URL derived from this one keeps it.
 */
export const SOCKET_ROOT_URL = 'postgres://postgres@localhost/postgres?host=/var/run/postgresql';

export class ProvisionError extends Error {}

type Log = (line: string) => void;

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  return client;
}

/** A superuser connection: the configured one, else local TCP, else the Unix socket. */
async function connectRoot(env: NodeJS.ProcessEnv): Promise<{ client: pg.Client; url: string }> {
  const candidates = env.ROOT_DATABASE_URL ? [env.ROOT_DATABASE_URL] : [DEFAULT_ROOT_URL, SOCKET_ROOT_URL];
  const failures: string[] = [];
  for (const url of candidates) {
    try {
      return { client: await connect(url), url };
    } catch (err) {
      const where = new URL(url);
      failures.push(`${where.searchParams.get('host') ?? where.host}: ${(err as Error).message}`);
    }
  }
  throw new ProvisionError(
    `Cannot reach PostgreSQL as a superuser (${failures.join('; ')}). ` +
      'Start it (Debian: `pg_ctlcluster 15 main start`), or run `docker compose up db`, ' +
      'or set ROOT_DATABASE_URL.',
  );
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: Log): void {
  log(`$ ${cmd} ${args.join(' ')}`);
  const res = spawnSync(cmd, args, {
    cwd: ROOT_DIR,
    env: { ...process.env, ...env, PATH: `${BIN}:${process.env.PATH ?? ''}` },
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    throw new ProvisionError(`${cmd} ${args.join(' ')} failed:\n${res.stdout ?? ''}${res.stderr ?? ''}`);
  }
}

async function ensurePostgis(root: pg.Client, log: Log): Promise<void> {
  const has = async () =>
    (await root.query(`select 1 from pg_available_extensions where name = 'postgis'`)).rowCount === 1;
  if (await has()) return;
  const major = Math.floor(Number((await root.query('show server_version_num')).rows[0].server_version_num) / 10000);
  const pkg = `postgresql-${major}-postgis-3`;
  const isDebian = existsSync('/etc/debian_version');
  const isRoot = process.getuid?.() === 0;
  if (!isDebian || !isRoot) {
    throw new ProvisionError(
      `PostGIS is not installed for PostgreSQL ${major}. Install it (Debian/Ubuntu: ` +
        `\`sudo apt-get install ${pkg}\`; macOS: \`brew install postgis\`), ` +
        'or run `docker compose up db` and point ROOT_DATABASE_URL at it.',
    );
  }
  log(`PostGIS missing: installing ${pkg} with apt-get`);
  run('apt-get', ['update', '-q'], {}, log);
  run('apt-get', ['install', '-y', '-q', pkg], { DEBIAN_FRONTEND: 'noninteractive' }, log);
  if (!(await has())) throw new ProvisionError(`${pkg} installed but PostGIS is still unavailable`);
}

function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

/** How long one API statement may run (app_authenticator's statement_timeout). */
export const API_STATEMENT_TIMEOUT = '15s';

async function ensureLoginRoles(root: pg.Client, urls: DbUrls): Promise<void> {
  const roles: Array<[string, string, string]> = [
    ['app_owner', passwordOf(urls.owner), 'login'],
    ['app_authenticator', passwordOf(urls.authenticator), 'login noinherit'],
  ];
  for (const [name, password, attributes] of roles) {
    const exists = (await root.query('select 1 from pg_roles where rolname = $1', [name])).rowCount === 1;
    const pw = password ? ` password ${pg.escapeLiteral(password)}` : '';
    await root.query(`${exists ? 'alter' : 'create'} role ${name} ${attributes}${pw}`);
  }
  // No API statement holds a connection for long: the last of the query cost limits
  // (server/query_limits.ts), answered as 57014. 15 s, not less: bookings on one hot
  // spot queue on its advisory lock, and under load a correct wait of several seconds
  // must not turn into an error. Here, not in afterReset.sql, so that a database
  // made before this setting gets it at its next start.
  await root.query(`alter role app_authenticator set statement_timeout to '${API_STATEMENT_TIMEOUT}'`);
  // Every documented refusal (a spot taken, a bad argument, a wrong password) is an
  // ERROR in PostgreSQL's log, and its STATEMENT line copied the whole generated
  // statement there: about 2 KB a refusal for `reserve`, so a burst of refused
  // bookings, or anyone sending bad input on purpose, filled the server's log disk.
  // The ERROR line with its DETAIL and CONTEXT stays (a deadlock keeps its
  // processes); the API's log has the request (server/mask_error.ts).
  await root.query('alter role app_authenticator set log_min_error_statement to panic');
}

function currentMigrationIsEmpty(): boolean {
  const current = readFileSync(join(ROOT_DIR, 'migrations', 'current.sql'), 'utf8');
  // `--!include file.sql` is content, not a comment: a current.sql of includes only is not empty.
  return current
    .split('\n')
    .every((line) => line.trim() === '' || (line.trim().startsWith('--') && !/^--!\s*include\b/.test(line.trim())));
}

export interface ProvisionOptions {
  env?: NodeJS.ProcessEnv;
  /** Database name; defaults to DATABASE_URL's, else secure_my_spot. */
  database?: string;
  /** Drop and rebuild the database from the migrations. */
  reset?: boolean;
  /** Also run the uncommitted migrations/current.sql (development). */
  applyCurrent?: boolean;
  log?: Log;
}

/** The advisory lock key (any constant; the root connection's session holds it). */
const PROVISION_LOCK = 727_300_001;

export async function provisionDatabase(options: ProvisionOptions = {}): Promise<DbUrls> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => provisionLog.info(line));
  const { client: root, url: rootUrl } = await connectRoot(env);
  const urls = dbUrls({ ...env, ROOT_DATABASE_URL: rootUrl }, options.database);
  try {
    // Two starts on one server at once (two `npm start`s, parallel test files) would
    // otherwise alter the same roles together, which PostgreSQL refuses with
    // "tuple concurrently updated": one provisioning at a time per server.
    await root.query('select pg_advisory_lock($1)', [PROVISION_LOCK]);
    await ensurePostgis(root, log);
    await ensureLoginRoles(root, urls);
    const exists = (await root.query('select 1 from pg_database where datname = $1', [urls.database])).rowCount === 1;
    const gm = join(BIN, 'graphile-migrate');
    if (options.reset || !exists) {
      run(gm, ['reset', '--erase'], migrateEnv(urls), log);
    } else {
      run(gm, ['migrate'], migrateEnv(urls), log);
    }
    if (options.applyCurrent && !currentMigrationIsEmpty()) {
      run(gm, ['watch', '--once'], migrateEnv(urls), log);
    }
  } finally {
    await root.end();
  }
  return urls;
}
