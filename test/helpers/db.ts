// Databases for tests. The runner (test/run.ts) migrates one template database
// per run; each test file clones it into a database of its own, so files run
// in parallel and leave nothing behind. Helpers that run a test body as a role
// wrap it in a transaction that is always rolled back.

import { basename } from 'node:path';
import pg from 'pg';
import { dbUrls, type DbUrls } from '../../lib/db_urls.ts';
import { provisionDatabase } from '../../cli/db__provision.ts';

const PREFIX = process.env.TEST_DB_PREFIX ?? 'sms_test';
const TEMPLATE_PREFIX = `${PREFIX}_tpl_`;
/**
 * The template of this run: named after the process that built it (the runner, or
 * a test file run on its own), so a single file run never rebuilds the template a
 * full run is cloning from at the same time.
 */
const TEMPLATE_DB = process.env.SMS_TEST_TEMPLATE ?? `${TEMPLATE_PREFIX}${process.pid}`;

async function withRoot<T>(fn: (root: pg.Client) => Promise<T>): Promise<T> {
  const root = new pg.Client({ connectionString: dbUrls(process.env, TEMPLATE_DB).root });
  await root.connect();
  try {
    return await fn(root);
  } finally {
    await root.end();
  }
}

/**
 * Migrates this run's template database from scratch (committed + current
 * migrations), after dropping the templates of runs whose process is gone.
 * Returns its name, which test processes receive as SMS_TEST_TEMPLATE.
 */
export async function prepareTemplate(): Promise<string> {
  await withRoot(async (root) => {
    const { rows } = await root.query<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, $1)`,
      [TEMPLATE_PREFIX],
    );
    for (const { datname } of rows) {
      const pid = datname.slice(TEMPLATE_PREFIX.length);
      if (/^\d+$/.test(pid) && Number(pid) !== process.pid && !processAlive(Number(pid))) {
        await root.query(`drop database if exists ${datname} with (force)`);
        await root.query(`drop database if exists ${datname}_shadow with (force)`);
      }
    }
  });
  // Roles and grants are cluster-wide: another run resetting its own database at
  // the same moment can make afterReset's role statements fail with "tuple
  // concurrently updated". That says nothing about this code; build again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await provisionDatabase({ database: TEMPLATE_DB, reset: true, applyCurrent: true, log: () => {} });
      return TEMPLATE_DB;
    } catch (err) {
      if (attempt >= 3 || !/tuple concurrently updated/.test((err as Error).message)) throw err;
    }
  }
}

/** Drops this run's template (the runner's last step; a lone file's close()). */
export async function dropTemplate(): Promise<void> {
  await withRoot(async (root) => {
    await root.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await root.query(`drop database if exists ${TEMPLATE_DB}_shadow with (force)`);
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface TestDb {
  urls: DbUrls;
  /** app_owner: bypasses RLS, for setup and for checking what was written. */
  owner: pg.Pool;
  /** app_authenticator: what the API uses; switch roles with asRole(). */
  auth: pg.Pool;
  close(): Promise<void>;
}

function testDbName(file: string): string {
  const stem = basename(file)
    .replace(/\.test\.ts$/, '')
    .replace(/[^a-z0-9]+/gi, '_')
    .toLowerCase();
  return `${PREFIX}_${stem}_${process.pid}`.slice(0, 63);
}

/**
 * A fresh database cloned from the template, named after the calling test file.
 * Outside the runner (a file run on its own) the file builds a template of its own first.
 */
export async function createTestDb(file: string): Promise<TestDb> {
  const ownTemplate = process.env.SMS_TEST_TEMPLATE === undefined;
  if (ownTemplate) await prepareTemplate();
  const name = testDbName(file);
  const urls = dbUrls(process.env, name);
  const root = new pg.Client({ connectionString: urls.root });
  await root.connect();
  try {
    await root.query(`drop database if exists ${name} with (force)`);
    await root.query(`create database ${name} template ${TEMPLATE_DB} owner app_owner`);
  } finally {
    await root.end();
  }
  const owner = new pg.Pool({ connectionString: urls.owner, max: 10 });
  const auth = new pg.Pool({ connectionString: urls.authenticator, max: 10 });
  return {
    urls,
    owner,
    auth,
    async close() {
      // pool.end() resolves before its sockets are closed; the forced drop below
      // may then terminate them, which must not crash the test process.
      owner.on('error', () => {});
      auth.on('error', () => {});
      await Promise.all([owner.end(), auth.end()]);
      const r = new pg.Client({ connectionString: urls.root });
      await r.connect();
      // Pools (ours, a worker's, an API's) end their sockets a moment after they
      // say they are done; give them up to 2 s before forcing the rest out.
      for (let i = 0; i < 40; i++) {
        const {
          rows: [left],
        } = await r.query(
          'select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [name],
        );
        if (left.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await r.query(`drop database if exists ${name} with (force)`);
      await r.end();
      if (ownTemplate) await dropTemplate();
    },
  };
}

export interface Identity {
  role: 'app_anonymous' | 'app_user' | 'app_operator';
  sessionId?: string;
}

/** A signed-out visitor (a guest). */
export const ANON: Identity = { role: 'app_anonymous' };

/**
 * Opens a transaction on client as the API role and session, as PostGraphile does for a
 * request: the one place tests become an API role (asRole for a pooled client; the
 * concurrency tests, which hold their own connections, call it directly).
 */
export async function beginAs(client: pg.ClientBase, identity: Identity): Promise<void> {
  await client.query('begin');
  await client.query(`select set_config('role', $1, true), set_config('app.session_id', $2, true)`, [
    identity.role,
    identity.sessionId ?? '',
  ]);
}

/**
 * Runs fn in one transaction as the API role and session, as PostGraphile runs a
 * request: rolled back afterwards, or committed with `{ commit: true }` (then an
 * error rolls it back), so a test can check what a refusal did or did not write.
 */
export async function asRole<T>(
  db: TestDb,
  identity: Identity,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: { commit?: boolean } = {},
): Promise<T> {
  const client = await db.auth.connect();
  let done = false;
  try {
    await beginAs(client, identity);
    const result = await fn(client);
    if (options.commit) {
      await client.query('commit');
      done = true;
    }
    return result;
  } finally {
    if (!done) await client.query('rollback').catch(() => {});
    client.release();
  }
}

/** asRole for one statement, committed (as a request's mutation would be): its rows. */
export async function callAs<T = any>(
  db: TestDb,
  identity: Identity,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  return asRole(db, identity, async (client) => (await client.query(sql, params)).rows as T[], { commit: true });
}

export interface TestUser {
  id: string;
  email: string;
  sessionId: string;
  /** The user's role in the product (driver, operator, admin, analyst, enforcement). */
  role: string;
}

let userCounter = 0;

/**
 * A user with a live session, written as the owner (committed; each file has its own database).
 * With `password`, the user can also sign in over HTTP (see test/helpers/auth.ts); the hash
 * uses bcrypt cost 4 for speed (production hashes use cost 10).
 */
export async function createUser(
  db: TestDb,
  props: { role?: string; email?: string; verified?: boolean; password?: string; name?: string } = {},
): Promise<TestUser> {
  userCounter += 1;
  const email = props.email ?? `driver${userCounter}.${process.pid}@example.test`;
  const {
    rows: [user],
  } = await db.owner.query(
    `insert into app_public.users (email, name, role, is_verified) values ($1, $2, $3, $4) returning id`,
    [email, props.name ?? `Test ${userCounter}`, props.role ?? 'driver', props.verified ?? true],
  );
  if (props.password !== undefined) {
    await db.owner.query(
      `insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
       values ($1, crypt(normalize($2, NFKC), gen_salt('bf', 4)), now())`,
      [user.id, props.password],
    );
  }
  const {
    rows: [session],
  } = await db.owner.query(
    `insert into app_private.sessions (user_id, token_hash) values ($1, gen_random_bytes(32)) returning id`,
    [user.id],
  );
  return { id: String(user.id), email, sessionId: session.id, role: props.role ?? 'driver' };
}

/** The API role and session a user's requests run as (app_hidden.db_role_for). */
export function identityOf(user: TestUser): Identity {
  return {
    role: user.role === 'operator' || user.role === 'admin' ? 'app_operator' : 'app_user',
    sessionId: user.sessionId,
  };
}

/** Runs fn as a fresh signed-in driver, rolled back afterwards. */
export async function withUserDb<T>(db: TestDb, fn: (client: pg.PoolClient, user: TestUser) => Promise<T>): Promise<T> {
  const user = await createUser(db);
  return asRole(db, identityOf(user), (client) => fn(client, user));
}

/** Runs fn as an anonymous visitor, rolled back afterwards. */
export async function withAnonDb<T>(db: TestDb, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return asRole(db, ANON, fn);
}

/** The SQLSTATE of a rejected promise, for asserting on refusals. */
export async function sqlstateOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'NO_CODE';
  }
}
