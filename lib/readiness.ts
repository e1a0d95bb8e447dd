// Readiness, shared by the API (/ready) and the worker (its health port): the
// database answers within a deadline, and every migration in
// migrations/committed has run (graphile-migrate's own table), which also
// says the schema the code expects is loaded. Liveness (/health) checks none
// of this on purpose: a database outage must make the service unready, not
// get its processes restarted.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

const COMMITTED_DIR = join(import.meta.dirname, '..', 'migrations', 'committed');
const DEADLINE_MS = 2000;

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

/** Numbers of the committed migrations this code ships (000001-foundation.sql → 1). */
let shipped: number[] | undefined;
function shippedMigrations(): number[] {
  shipped ??= readdirSync(COMMITTED_DIR)
    .map((f) => /^(\d{6})[-.].*sql$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  return shipped;
}

function withDeadline<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The database checks; `extra` adds the caller's own (true = ok, a string = why not). */
export async function checkReadiness(pool: pg.Pool, extra: Record<string, true | string> = {}): Promise<Readiness> {
  const checks: Record<string, string> = {};
  try {
    // graphile-migrate records a committed migration as 000014.sql.
    const { rows } = await withDeadline(
      pool.query<{ n: number }>(`select substring(filename from '^\\d+')::int as n from graphile_migrate.migrations`),
    );
    checks.database = 'ok';
    const applied = new Set(rows.map((r) => r.n));
    const pending = shippedMigrations().filter((n) => !applied.has(n));
    checks.migrations =
      pending.length === 0 ? 'ok' : `${pending.length} pending (from ${String(pending[0]).padStart(6, '0')})`;
  } catch (err) {
    checks.database = `unavailable: ${(err as Error).message}`;
    checks.migrations = 'unknown';
  }
  for (const [name, state] of Object.entries(extra)) checks[name] = state === true ? 'ok' : state;
  return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
}
