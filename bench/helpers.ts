// Shared pieces of the benchmarks: a bench database, an API child process,
// HTTP load loops and percentile arithmetic. Benchmarks print ratios against
// baselines measured in the same run; they never assert.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { provisionDatabase } from '../cli/db__provision.ts';
import { migrateEnv, type DbUrls } from '../lib/db_urls.ts';
import { createCluster } from '../test/helpers/pg_cluster.ts';
import { freePort } from '../test/helpers/free_port.ts';

export const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A bench's own database, recreated: `<prefix>_bench_<bench>`, the prefix from
 * BENCH_DB_PREFIX or TEST_DB_PREFIX (default sms), so runs of several
 * checkouts on one cluster never share one.
 */
export async function benchDatabase(bench: string, env: NodeJS.ProcessEnv = process.env): Promise<DbUrls> {
  const prefix = env.BENCH_DB_PREFIX ?? env.TEST_DB_PREFIX ?? 'sms';
  return provisionDatabase({
    env,
    database: `${prefix}_bench_${bench}`,
    reset: true,
    applyCurrent: true,
    log: () => {},
  });
}

/**
 * The bench's database on a PostgreSQL cluster of its own (initdb in a temp
 * folder, max_connections 200, default settings otherwise, plus `settings` as
 * `name=value`), removed when the bench exits: a pgbench of 128 clients needs
 * more connections than a shared server has free. Every figure of the run is
 * then measured on it.
 */
export async function privateBenchDatabase(bench: string, settings: string[] = []): Promise<DbUrls> {
  const cluster = createCluster(await freePort(), settings);
  process.once('exit', () => cluster.destroy());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));
  return benchDatabase(bench, { ...process.env, ROOT_DATABASE_URL: cluster.rootUrl });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface ApiProcess {
  url: string;
  stop(): Promise<void>;
}

/** The API as `npm run api` runs it, in its own process, so load and server don't share a core's event loop. */
export async function startApiProcess(urls: DbUrls, extraEnv: NodeJS.ProcessEnv = {}): Promise<ApiProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [join(ROOT_DIR, 'server/main.ts')], {
    env: {
      ...process.env,
      ...migrateEnv(urls),
      AUTH_DATABASE_URL: urls.authenticator,
      PORT: String(port),
      NODE_ENV: 'production',
      GRAPHILE_ENV: 'production',
      COOKIE_SECRET: randomBytes(32).toString('hex'),
      STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
      // One access line per request would flood the terminal the bench prints to.
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // Never left behind, even when the bench is stopped (stopAfterMaxSeconds).
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('API did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Runs `clients` loops of `once` for `seconds`; times each call. */
export async function load(
  clients: number,
  seconds: number,
  once: (i: number) => Promise<boolean>,
): Promise<LoadResult> {
  const times: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const ok = await once(i++).catch(() => false);
        times.push(performance.now() - t);
        if (!ok) errors += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return {
    requests: times.length,
    errors,
    perSecond: times.length / elapsed,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
  };
}

/** Runs a command to its end; resolves with what it printed (stdout and stderr together). */
export function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('close', () => resolve(out));
  });
}

export function pgbenchPath(): string {
  const majors = readdirSync('/usr/lib/postgresql')
    .map(Number)
    .filter(Boolean)
    .sort((a, b) => b - a);
  return `/usr/lib/postgresql/${majors[0]}/bin/pgbench`;
}

/**
 * Seconds a pgbench run warms up before its rate is read: 2 s and 50 ms a client.
 * Every new PostgreSQL connection pays once for what its script reaches (functions
 * compiled, plans made, the catalog read, PostGIS loaded): about 70 ms a
 * connection for reserve() on a 2-core machine, so 128 fresh clients spent all of
 * a 5 s run warming up (17 tx/s against hundreds once warm), while the API's
 * pooled connections were warm and it looked 12x faster than pgbench.
 */
export const pgbenchWarmUp = (clients: number) => Math.ceil(2 + clients * 0.05);

/**
 * pgbench's arguments for `seconds` measured after its warm-up, reporting progress
 * every second. One second more: pgbench prints no report for the second it stops in.
 */
export function pgbenchTiming(clients: number, seconds: number): string[] {
  return ['-c', String(clients), '-j', '2', '-T', String(pgbenchWarmUp(clients) + seconds + 1), '-P', '1'];
}

/** The mean of pgbench's per-second rates over the `seconds` after its warm-up; null if it printed none of them. */
export function pgbenchWarmRate(out: string, clients: number, seconds: number): number | null {
  const warm = pgbenchWarmUp(clients);
  const rates = [...out.matchAll(/^progress: ([\d.]+) s, ([\d.]+) tps/gm)]
    .filter((m) => +m[1] > warm && +m[1] <= warm + seconds)
    .map((m) => +m[2]);
  return rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : null;
}

/** pgbench's transactions per second for a script, once its connections are warm (pgbenchWarmUp). */
export async function pgbench(url: string, script: string, clients: number, seconds: number): Promise<number> {
  const out = await run(pgbenchPath(), ['-n', '-f', script, ...pgbenchTiming(clients, seconds), url]);
  const rate = pgbenchWarmRate(out, clients, seconds);
  if (rate === null) throw new Error(`pgbench failed:\n${out}`);
  return rate;
}

/**
 * wrk (a C HTTP load generator, like pgbench on the SQL side) with a Lua
 * script; undefined when wrk is not installed (`apt-get install wrk`).
 * Note: the response() hook runs per request in one wrk thread's Lua state;
 * `errors` covers the thread that reports, enough to notice failures.
 */
export function wrk(url: string, script: string, clients: number, seconds: number): Promise<LoadResult | undefined> {
  return new Promise((resolve) => {
    const child = spawn('wrk', ['-t', '1', '-c', String(clients), '-d', `${seconds}s`, '-s', script, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.on('error', () => resolve(undefined));
    child.on('close', () => {
      const m = out.match(/WRK_RESULT requests=(\d+) rps=([\d.]+) p50=([\d.]+) p99=([\d.]+) errors=(\d+)/);
      resolve(m ? { requests: +m[1], perSecond: +m[2], p50: +m[3], p95: NaN, p99: +m[4], errors: +m[5] } : undefined);
    });
  });
}

export const fmt = (n: number, digits = 2) => n.toFixed(digits);

/**
 * Waits (up to `waitSeconds`) until the database server can give `needed`
 * more connections (max_connections less those in use and the superusers'
 * reserve): a pgbench of N clients needs N, and the server may be shared with
 * other work. Returns how many it could give at the end: fewer than `needed`
 * means the measurement is skipped, and the report says so.
 */
export async function freeConnections(url: string, needed = 0, waitSeconds = 30): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const {
        rows: [r],
      } = await client.query<{ free: number; most: number }>(
        `select current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
           - (select count(*) from pg_stat_activity)::int as free,
           current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int as most`,
      );
      // The connection asking counts as in use; never wait for more than the server has.
      if (r.free + 1 >= needed || needed > r.most || Date.now() > deadline) return r.free + 1;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  } finally {
    await client.end();
  }
}

/** Ends the bench after BENCH_MAX_S seconds (default 600) whatever it is doing: a bench never runs on unattended. */
export function stopAfterMaxSeconds(bench: string): void {
  const seconds = Number(process.env.BENCH_MAX_S ?? 600);
  setTimeout(() => {
    console.error(`${bench}: stopped after BENCH_MAX_S (${seconds} s)`);
    process.exit(1);
  }, seconds * 1000).unref();
}
