// `npm run bench -- api_floor [--seconds N]`
// The floor every other ratio sits on: the cheapest request through the
// whole stack against the cheapest round trip to PostgreSQL, in one run:
//   pgbench SELECT 1      PostgreSQL alone, a C client (the ceiling);
//   pg SELECT 1           node-postgres from this process (a driver round trip);
//   API GET /health       HTTP and Express, no database;
//   API GraphQL           `{ currentUser { id } }` as a guest: HTTP, the session
//                         middleware, PostGraphile's parse/validate/plan and one
//                         SQL statement as app_anonymous (answers null).
// The HTTP load comes from wrk, a C client like pgbench, so the load generator
// does not take the cores the API needs (Node's fetch loops cost about as much
// CPU per request as the API's /health; they are the fallback without wrk).
// Clients: BENCH_CLIENTS (default 1,8,32). The API runs as `npm run api` does,
// API_WORKERS processes (default 2: one per core), production mode.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  benchDatabase,
  fmt,
  freeConnections,
  load,
  pgbench,
  ROOT_DIR,
  startApiProcess,
  stopAfterMaxSeconds,
  wrk,
} from './helpers.ts';
import { BenchReport } from './report.ts';

const args = process.argv.slice(2);
const secondsArg = args.indexOf('--seconds');
const SECONDS = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 5;
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8,32').split(',').map(Number);
const API_WORKERS = Number(process.env.API_WORKERS ?? 2);

stopAfterMaxSeconds('api_floor');
const report = new BenchReport('api_floor');
const urls = await benchDatabase('api_floor');
const script = join(mkdtempSync(join(tmpdir(), 'sms-bench-floor-')), 'select1.sql');
writeFileSync(script, 'select 1;\n');
const api = await startApiProcess(urls, { API_WORKERS: String(API_WORKERS), API_POOL_SIZE: '8' });
const graphql = () =>
  fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: '{ currentUser { id } }' }),
  }).then(async (r) => r.ok && ((await r.json()) as { data?: { currentUser: null } }).data?.currentUser === null);
const health = () =>
  fetch(`${api.url}/health`).then(async (r) => {
    await r.arrayBuffer();
    return r.ok;
  });

report.line(
  `api_floor: ${SECONDS} s per measurement; API with ${API_WORKERS} processes; wrk for HTTP, a Node loop for pg, pgbench for PostgreSQL`,
);
const points: Array<{ clients: number; perSecond: number; series: string }> = [];
try {
  await load(4, 1, graphql); // warm up: schema, plans, pools
  for (const clients of CLIENTS) {
    const free = await freeConnections(urls.owner, clients + 2);
    // NaN when the server cannot give pgbench its connections (said in the report, left out of the chart).
    const pgbenchTps = free >= clients + 2 ? await pgbench(urls.authenticator, script, clients, SECONDS) : NaN;
    // Its own pool, ended before the API's turn: the server's connections are shared with the API's pools.
    const pool = new pg.Pool({ connectionString: urls.authenticator, max: clients });
    const driver = await load(clients, SECONDS, () => pool.query('select 1').then(() => true));
    await pool.end();
    const http =
      (await wrk(`${api.url}/health`, `${ROOT_DIR}/bench/api_health.lua`, clients, SECONDS)) ??
      (await load(clients, SECONDS, health));
    const api1 =
      (await wrk(`${api.url}/graphql`, `${ROOT_DIR}/bench/api_floor.lua`, clients, SECONDS)) ??
      (await load(clients, SECONDS, graphql));
    report.line(`\n${clients} client(s)`);
    report.line(
      Number.isNaN(pgbenchTps)
        ? `  pgbench SELECT 1:     skipped (the server has ${free} connections free)`
        : `  pgbench SELECT 1:     ${fmt(pgbenchTps, 0).padStart(7)} /s`,
    );
    report.line(
      `  pg SELECT 1 (Node):   ${fmt(driver.perSecond, 0).padStart(7)} /s  p50 ${fmt(driver.p50)} ms, p99 ${fmt(driver.p99)} ms`,
    );
    report.line(
      `  API GET /health:      ${fmt(http.perSecond, 0).padStart(7)} /s  p50 ${fmt(http.p50)} ms, p99 ${fmt(http.p99)} ms (${http.errors} errors)`,
    );
    report.line(
      `  API GraphQL trivial:  ${fmt(api1.perSecond, 0).padStart(7)} /s  p50 ${fmt(api1.p50)} ms, p99 ${fmt(api1.p99)} ms (${api1.errors} errors)`,
    );
    report.line(
      `  ratios: GraphQL / pgbench SELECT 1 = ${fmt(api1.perSecond / pgbenchTps, 3)}x; GraphQL / pg SELECT 1 = ${fmt(api1.perSecond / driver.perSecond)}x; GraphQL / GET /health = ${fmt(api1.perSecond / http.perSecond)}x`,
    );
    points.push(
      ...(Number.isNaN(pgbenchTps) ? [] : [{ clients, perSecond: pgbenchTps, series: 'pgbench SELECT 1' }]),
      { clients, perSecond: driver.perSecond, series: 'pg SELECT 1 (Node)' },
      { clients, perSecond: http.perSecond, series: 'API GET /health' },
      { clients, perSecond: api1.perSecond, series: 'API GraphQL trivial' },
    );
  }
  report.chart('throughput', 'The floor: requests/s vs clients (whole stack vs SELECT 1)', points, {
    x: 'clients',
    y: 'perSecond',
    series: 'series',
    xLabel: 'clients',
    yLabel: 'per second',
    xType: 'log',
    yType: 'log',
    dots: true,
  });
  report.save();
} finally {
  await api.stop();
}
