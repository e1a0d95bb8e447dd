// How PostGraphile's queries reach PostgreSQL: @dataplan/pg's node-postgres
// adaptor, except for requests that carry pgSettings (signed-in requests and
// anonymous mutations). For those, @dataplan/pg waits for four round trips per
// statement, `begin`, `set_config(…)`, the statement, `commit`, and every lock
// the statement takes (a spot's, a client address's hold count) stays held
// while the answer travels to Node and `commit` travels back: under load,
// bookings of one spot queued behind the API's event loop instead of behind
// PostgreSQL.
//
// Here the four go in one write on a pipelined connection (node-postgres
// `pipeline: true`) and PostgreSQL runs them back to back: one round trip, and
// locks are released as soon as the statement ends, as for a statement sent
// alone. Nothing else changes: the settings are still local to a transaction
// that holds only that statement (each of @dataplan/pg's statements has always
// run in a transaction of its own), and when `set_config` fails the statement
// after it runs in an aborted transaction and is refused (25P02), so no
// statement ever runs without its request's settings. A caller that needs
// several statements in one transaction asks for it with `withTransaction`
// (cursors, sideEffectWithPgClientTransaction), which opens a real one.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { createWithPgClient as createDataplanWithPgClient } from 'postgraphile/adaptors/pg';
import { makePgService as makeDataplanPgService } from 'postgraphile/adaptors/pg';
import type { PgClient, PgClientQuery, PgClientResult, WithPgClient } from 'postgraphile/@dataplan/pg';

type Settings = Record<string, string | undefined> | null;

const SET_CONFIG = 'select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el';
/** Prepared once per connection, as every request with settings runs it (outside the bound below: it is always in use). */
const SET_CONFIG_NAME = 'sms_set_config';
/** Prepared statements kept per connection (as @dataplan/pg: the least recently used is deallocated). */
const PREPARED_PER_CONNECTION = 100;

/** The settings as set_config's argument, or null when there are none. */
function settingsJson(pgSettings: Settings): string | null {
  const entries: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(pgSettings ?? {})) {
    if (value != null) entries.push([key, String(value)]);
  }
  return entries.length > 0 ? JSON.stringify(entries) : null;
}

interface RawConnection {
  parsedStatements: Record<string, unknown>;
  stream: { cork(): void; uncork(): void };
}

const prepared = new WeakMap<pg.PoolClient, Map<string, true>>();

/**
 * The name a statement is prepared under. @dataplan/pg names its queries (a
 * hash of their text) but sends mutations unnamed, so `reserve`'s 2 KB
 * statement was parsed, analysed and planned at every booking, 0.25–0.33 ms of
 * PostgreSQL's time. A statement with parameters is named by its text here
 * (its values are parameters, so one operation is one text); one without is
 * left unnamed: node-postgres sends those by the simple protocol, which also
 * runs several commands in one text.
 */
function statementName(q: PgClientQuery): string | undefined {
  if (q.name != null) return q.name;
  if (!q.values || q.values.length === 0) return undefined;
  // Hashed at each use, as @dataplan/pg does for its queries: about 2 µs for 2 KB.
  return `sms_${createHash('sha256').update(q.text).digest('hex').slice(0, 40)}`;
}

/**
 * node-postgres's query config for one of @dataplan/pg's statements: named
 * (prepared once per connection) when statementName gives it a name, with the
 * least recently used of a connection's prepared statements deallocated past the bound.
 */
function queryConfig(raw: pg.PoolClient, q: PgClientQuery): pg.QueryConfig {
  const config: pg.QueryConfig & { rowMode?: 'array' } = { text: q.text, values: q.values };
  if (q.arrayMode) config.rowMode = 'array';
  const name = statementName(q);
  if (name !== undefined) {
    let names = prepared.get(raw);
    if (!names) prepared.set(raw, (names = new Map()));
    if (names.has(name)) {
      names.delete(name); // most recently used last
    } else if (names.size >= PREPARED_PER_CONNECTION) {
      const oldest = names.keys().next().value as string;
      names.delete(oldest);
      const connection = (raw as unknown as { connection: RawConnection }).connection;
      if (connection.parsedStatements[oldest] !== undefined) {
        // Forgotten now: statements go out in order, so a later use of the name parses it again after this.
        delete connection.parsedStatements[oldest];
        raw.query(`deallocate ${raw.escapeIdentifier(oldest)}`).catch(() => {}); // a broken connection: the pool drops it
      }
    }
    names.set(name, true);
    config.name = name;
  }
  return config;
}

function resultOf<T>(result: pg.QueryResult): PgClientResult<T> {
  return { rows: result.rows as T[], rowCount: result.rowCount };
}

/** Statements inside a transaction this client opened (or none, for requests without settings). */
function plainClient(raw: pg.PoolClient, depth: number): PgClient {
  return {
    async query<T>(q: PgClientQuery) {
      return resultOf<T>(await raw.query(queryConfig(raw, q)));
    },
    withTransaction<R>(callback: (client: PgClient) => Promise<R>) {
      const savepoint = `tx${depth}`;
      return transaction(
        raw,
        depth === 0 ? ['begin'] : [`savepoint ${savepoint}`],
        depth === 0 ? 'commit' : `release savepoint ${savepoint}`,
        depth === 0 ? 'rollback' : `rollback to savepoint ${savepoint}`,
        () => callback(plainClient(raw, depth + 1)),
      );
    },
  } as PgClient;
}

async function transaction<R>(
  raw: pg.PoolClient,
  opening: Array<string | pg.QueryConfig>,
  commit: string,
  rollback: string,
  body: () => Promise<R>,
): Promise<R> {
  // Pipelined: the opening statements and the body's first statement travel together.
  const opened = Promise.all(opening.map((q) => raw.query(q)));
  opened.catch(() => {});
  try {
    const result = await body();
    await opened;
    await raw.query(commit);
    return result;
  } catch (err) {
    await raw.query(rollback).catch(() => {});
    // A failed opening is the cause; the body's error would only say the transaction was aborted.
    await opened;
    throw err;
  }
}

/** A request's settings applied to each statement, in one round trip: begin, set_config, statement, commit. */
function settingsClient(raw: pg.PoolClient, json: string): PgClient {
  const setConfig: pg.QueryConfig = { name: SET_CONFIG_NAME, text: SET_CONFIG, values: [json] };
  return {
    async query<T>(q: PgClientQuery) {
      // Before `begin`: a prepared statement it evicts is deallocated outside the transaction.
      const config = queryConfig(raw, q);
      const stream = (raw as unknown as { connection: RawConnection }).connection.stream;
      stream.cork(); // one write for the four
      let begun: Promise<unknown>, set: Promise<unknown>, statement: Promise<pg.QueryResult>, ended: Promise<unknown>;
      try {
        begun = raw.query('begin');
        set = raw.query(setConfig);
        statement = raw.query(config);
        // Runs whatever happened before it: after an error PostgreSQL answers it with a rollback.
        ended = raw.query('commit');
      } finally {
        stream.uncork();
      }
      const [b, s, r, e] = await Promise.allSettled([begun, set, statement, ended]);
      for (const settled of [b, s, r, e]) if (settled.status === 'rejected') throw settled.reason;
      return resultOf<T>((r as PromiseFulfilledResult<pg.QueryResult>).value);
    },
    withTransaction<R>(callback: (client: PgClient) => Promise<R>) {
      return transaction(raw, ['begin', setConfig], 'commit', 'rollback', () => callback(plainClient(raw, 1)));
    },
  } as PgClient;
}

const configured = new WeakSet<pg.PoolClient>();

/** withPgClient over a pool of pipelined connections (`pipeline: true`). */
export function makePipelinedWithPgClient(pool: pg.Pool): WithPgClient {
  return async (pgSettings, callback) => {
    const raw = await pool.connect();
    try {
      if (!configured.has(raw)) {
        configured.add(raw);
        // As @dataplan/pg does: JIT's optimisation costs short queries more than it saves.
        raw.query('set jit_optimize_above_cost = -1').catch(() => {});
      }
      const json = settingsJson(pgSettings);
      return await callback(json === null ? plainClient(raw, 0) : settingsClient(raw, json));
    } finally {
      raw.release();
    }
  };
}

/**
 * A PostGraphile pg service like `makePgService` from postgraphile/adaptors/pg,
 * whose GraphQL statements go through makePipelinedWithPgClient. The pool must
 * be made with `pipeline: true`; watch mode's superuser connections keep
 * @dataplan/pg's own adaptor.
 */
export function makePipelinedPgService(
  options: Parameters<typeof makeDataplanPgService>[0] & { pool: pg.Pool },
): GraphileConfig.PgServiceConfiguration {
  const service = makeDataplanPgService(options);
  const pool = options.pool;
  return {
    ...service,
    adaptor: {
      ...service.adaptor,
      createWithPgClient(settings, variant) {
        return variant === 'SUPERUSER'
          ? createDataplanWithPgClient(settings, variant)
          : (makePipelinedWithPgClient(pool) as ReturnType<typeof createDataplanWithPgClient>);
      },
    },
  } as GraphileConfig.PgServiceConfiguration;
}
