// `npm run bench -- booking [--seconds N]`
// Reservations per second through the GraphQL API (guest `reserve` mutations,
// wrk as the C load generator) against pgbench calling the same SQL function,
// app_public.reserve, with the same random draw and the same request settings
// (client address, web URL, holds per address), in the same run; and against
// what the guarantee alone costs: the same row inserted into a copy of the
// table with the same constraints (the exclusion constraint included) and no
// triggers, after the same per-spot lock ("bare insert").
//   distinct: 2,000 spots, 5-minute slots over 88 days (almost never a conflict);
//   hot:      3 spots, 30-minute slots over 88 days (every writer queues on 3 spot
//             locks; "spot taken" grows as the slots fill);
//   hot, one day: 3 spots, 48 slots: nearly every attempt ends "spot taken".
// Every booking comes from its own guest email and client address (wrk sends
// X-Forwarded-For, the API trusts one proxy hop; pgbench sets app.client_ip),
// so the per-email and per-address hold limits are checked as in production
// without every booking queuing on one address's lock.
// Clients: BENCH_CLIENTS (default 8,32,128); the bare inserts run at 32 clients
// at most. A pgbench run needs as many connections as clients, so the bench
// runs on a PostgreSQL cluster of its own (bench/helpers.ts); with
// --shared-server it uses ROOT_DATABASE_URL's, and a pgbench run that
// server's max_connections cannot give is skipped and says so. Each
// measurement starts from an empty reservations table. Last, where one
// booking's time goes inside PostgreSQL, statement by statement, for reserve()
// and the bare insert (pg_stat_statements, loaded by the bench's own cluster;
// skipped on a shared server that does not load it). 127.0.0.1 only;
// bounded by --seconds per measurement (default 5), plus pgbench's warm-up
// (pgbenchWarmUp).
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import {
  benchDatabase,
  fmt,
  freeConnections,
  pgbenchPath,
  pgbenchTiming,
  pgbenchWarmRate,
  pgbenchWarmUp,
  privateBenchDatabase,
  run,
  startApiProcess,
  ROOT_DIR,
} from './helpers.ts';
import { BenchReport } from './report.ts';

const args = process.argv.slice(2);
const secondsArg = args.indexOf('--seconds');
const SECONDS = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 5;
const CLIENTS = (process.env.BENCH_CLIENTS ?? '8,32,128').split(',').map(Number);
/** The bare insert is the goals' baseline at 8 and 32 clients. */
const BARE_MAX_CLIENTS = 32;
const API_WORKERS = Number(process.env.API_WORKERS ?? 2);
const DAYS = 88;

interface Scenario {
  name: string;
  spotBase: number;
  spots: number;
  slotMinutes: number;
  slots: number;
}
interface Outcome {
  attempts: number;
  perSecond: number;
  ok: number;
  taken: number;
  other: number;
  p50?: number;
  p99?: number;
}

const report = new BenchReport('booking');
const points: Array<{ clients: number; perSecond: number; series: string }> = [];
// A cluster of the bench's own unless --shared-server: pgbench at 128 clients needs 128 connections.
const SHARED_SERVER = args.includes('--shared-server');
// Its cluster loads pg_stat_statements, tracking nothing until the cost
// breakdown (costBreakdown) turns it on for its own runs.
const urls = SHARED_SERVER
  ? await benchDatabase('booking')
  : await privateBenchDatabase('booking', [
      'shared_preload_libraries=pg_stat_statements',
      'pg_stat_statements.track=none',
    ]);
const owner = new pg.Pool({ connectionString: urls.owner, max: 2 });

// Inventory and the bench-only helpers (this database only, never a migration).
await owner.query(
  `insert into app_public.rates (code, name, hourly_price, billing_increment) values ('bench', 'Bench', 450, '5 minutes')`,
);
await owner.query(`
  insert into app_public.spots (location, street, rate_id, max_stay)
  select st_setsrid(st_makepoint(-74.0 + random() * 0.1, 40.7 + random() * 0.1), 4326)::geography,
         'Bench St', (select id from app_public.rates where code = 'bench'), interval '4 hours'
  from generate_series(1, 2003)`);
const {
  rows: [ids],
} = await owner.query(`select min(id)::int as lo from app_public.spots`);
await owner.query(`
  drop schema if exists bench cascade;
  create schema bench;
  grant usage on schema bench to app_anonymous;
  -- What the API runs for a guest booking: the request's settings (as the API
  -- sets them for every mutation), then reserve(). Only "spot taken" (SMB01)
  -- becomes a result instead of an error: pgbench stops a client at its first error.
  create function bench.reserve(spot_id bigint, starts_at timestamptz, minutes int, guest int, address int) returns text
    language plpgsql volatile as $$
  begin
    perform set_config('app.client_ip', host(('10.0.0.0'::inet + address)), true),
            set_config('app.web_url', 'http://127.0.0.1:5173', true),
            set_config('app.holds_per_address', '10', true);
    perform app_public.reserve(spot_id, starts_at, null, minutes, 'bench' || guest || '@example.test');
    return 'ok';
  exception when sqlstate 'SMB01' then
    return 'taken';
  end $$;
  grant execute on function bench.reserve(bigint, timestamptz, int, int, int) to app_anonymous;
  -- What the guarantee alone costs: the row reserve() writes, priced, into a
  -- copy of the table with the same constraints and indexes (the exclusion
  -- constraint included) and none of its triggers, with or without
  -- app_hidden.lock_spot first (what the per-spot lock costs or buys).
  create table bench.reservations (like app_public.reservations including all);
  create function bench.insert_row(spot_id bigint, starts_at timestamptz, minutes int, take_lock boolean) returns text
    language plpgsql volatile as $$
  declare
    v_window tstzrange := tstzrange(starts_at, starts_at + make_interval(mins => minutes), '[)');
    v_quote app_public.price_quote;
  begin
    if take_lock then
      perform app_hidden.lock_spot(spot_id);
    end if;
    v_quote := app_hidden.quote_rate((select s.rate_id from app_public.spots s where s.id = spot_id), v_window);
    insert into bench.reservations (spot_id, email, period, status, amount, currency, hold_expires_at)
    values (spot_id, 'bench@example.test', v_window, 'held', v_quote.amount, v_quote.currency, now() + interval '15 minutes');
    return 'ok';
  exception when exclusion_violation then
    return 'taken';
  end $$;`);

/**
 * Where one booking's time goes inside PostgreSQL: pgbench at one client on
 * distinct spots, with pg_stat_statements tracking nested statements too
 * (so a statement's time includes the statements and triggers it runs), read
 * after pgbench's warm-up. The same for the bare insert. Statements run at
 * least once every two bookings, by time; µs and WAL bytes per booking.
 */
async function costBreakdown(s: Scenario): Promise<void> {
  const inBenchDatabase = new URL(urls.root);
  inBenchDatabase.pathname = `/${urls.database}`;
  const root = new pg.Client({ connectionString: inBenchDatabase.href });
  await root.connect();
  try {
    const loaded = (await root.query(`select current_setting('shared_preload_libraries') ~ 'pg_stat_statements' as on`))
      .rows[0].on;
    report.line(
      `\nwhere one booking's time goes in PostgreSQL (pgbench, 1 client, ${s.name}; nested statements include what they run)`,
    );
    if (!loaded) {
      report.line("  skipped: this server does not load pg_stat_statements (the bench's own cluster does)");
      return;
    }
    await root.query('create extension if not exists pg_stat_statements');
    const db = pg.escapeIdentifier(urls.database);
    await root.query(`alter database ${db} set pg_stat_statements.track = 'all'`);
    try {
      for (const [label, url, file] of [
        ['reserve()', urls.authenticator, 'booking.sql'],
        ['bare insert + spot lock', urls.owner, 'booking_insert.sql'],
      ] as const) {
        await reset();
        const running = viaPgbench(url, file, s, 1);
        await new Promise((r) => setTimeout(r, pgbenchWarmUp(1) * 1000));
        await root.query('select pg_stat_statements_reset()');
        await running;
        const { rows } = await root.query(
          `with s as (select * from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())),
                n as (select max(calls) as bookings from s where query ~ '^select bench\\.')
           select round(s.total_exec_time * 1000 / n.bookings)::int as us, round(s.wal_bytes / n.bookings)::int as wal,
                  n.bookings, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 100) as query
           from s, n where s.calls * 2 >= n.bookings order by s.total_exec_time desc limit 16`,
        );
        report.line(`  ${label} (${rows[0]?.bookings ?? 0} bookings): µs a booking, WAL bytes a booking, statement`);
        for (const r of rows) report.line(`  ${String(r.us).padStart(6)} ${String(r.wal).padStart(6)}  ${r.query}`);
      }
    } finally {
      await root.query(`alter database ${db} reset pg_stat_statements.track`);
    }
  } finally {
    await root.end();
  }
}

const base = Math.ceil(Date.now() / 3600e3) * 3600 + 86400; // epoch seconds: a whole hour, tomorrow
const scenarios: Scenario[] = [
  { name: 'distinct spots', spotBase: ids.lo - 1, spots: 2000, slotMinutes: 5, slots: DAYS * 24 * 12 },
  { name: '3 hot spots', spotBase: ids.lo - 1 + 2000, spots: 3, slotMinutes: 30, slots: DAYS * 48 },
  // One day of 30-minute slots: full after 144 bookings, then nearly every
  // attempt is "spot taken" -- where failed inserts made others wait without the lock.
  { name: '3 hot spots, one day', spotBase: ids.lo - 1 + 2000, spots: 3, slotMinutes: 30, slots: 48 },
];

/** Bookings already in the tables when a measurement starts (the past month's, and holds after the draw's days). */
const HISTORY = 20_000;
const HELD = 1_000;

/**
 * Every measurement starts from the same tables: a city's recent history
 * (other emails and addresses, outside the draw's days) written in bulk with
 * the row triggers off, and fresh statistics, as a running system has. From
 * empty tables, plpgsql would cache plans made for empty tables (a sequential
 * scan is cheapest there) for the whole run, while the tables grow by
 * thousands of rows a second: production re-plans when autovacuum analyzes.
 */
async function reset(): Promise<void> {
  // Requests still in flight when wrk stopped finish first.
  await new Promise((r) => setTimeout(r, 1000));
  await owner.query(
    `truncate app_public.reservations, app_private.emails, app_public.customers, bench.reservations cascade`,
  );
  await owner.query(`delete from graphile_worker._private_jobs`);
  await owner.query('alter table app_public.reservations disable trigger user');
  try {
    await owner.query(
      `insert into app_public.reservations (spot_id, email, period, status, amount, currency, hold_expires_at)
       select $1::bigint + 1 + g % 2003, 'history' || g || '@example.test', r.period, r.status, 450, 'USD',
              case when r.status = 'held' then now() + interval '15 minutes' end
       from generate_series(1, $2::int + $3::int) g,
       lateral (select case when g <= $2 then tstzrange(now() - interval '30 days' + g * interval '1 minute',
                                                        now() - interval '30 days' + g * interval '1 minute' + interval '1 hour')
                            else tstzrange(to_timestamp($4) + interval '89 days' + g * interval '1 hour',
                                           to_timestamp($4) + interval '89 days' + g * interval '1 hour' + interval '30 minutes')
                       end as period,
                       case when g <= $2 then 'completed' else 'held' end::app_public.reservation_status as status) r`,
      [ids.lo - 1, HISTORY, HELD, base],
    );
  } finally {
    await owner.query('alter table app_public.reservations enable trigger user');
  }
  await owner.query(`insert into app_private.reservation_origins (reservation_id, client_ip)
    select id, '192.168.0.0'::inet + (id % 65536) from app_public.reservations on conflict do nothing`);
  await owner.query(
    `insert into app_public.customers (email) select email from app_public.reservations on conflict do nothing`,
  );
  await owner.query(`insert into bench.reservations overriding system value select * from app_public.reservations`);
  await owner.query(
    `select setval(pg_get_serial_sequence('bench.reservations', 'id'), (select max(id) from bench.reservations))`,
  );
  await owner.query(
    'analyze app_public.reservations, app_private.reservation_origins, app_public.customers, app_private.emails, bench.reservations',
  );
}

/** Reservations the measurement wrote (the history excluded). */
async function written(table = 'app_public.reservations'): Promise<number> {
  return (await owner.query(`select count(*)::int - $1 as n from ${table}`, [HISTORY + HELD])).rows[0].n;
}

const tmp = mkdtempSync(join(tmpdir(), 'sms-bench-booking-'));
const luaBody = readFileSync(join(ROOT_DIR, 'bench/booking.lua'), 'utf8');

async function viaApi(apiUrl: string, s: Scenario, clients: number): Promise<Outcome> {
  const script = join(tmp, `${s.spots}.lua`);
  writeFileSync(
    script,
    `SPOT_BASE, SPOTS, SLOTS, SLOT_MINUTES, BASE = ${s.spotBase}, ${s.spots}, ${s.slots}, ${s.slotMinutes}, ${base}\n` +
      `math.randomseed(${Date.now() % 100000})\n${luaBody}`,
  );
  const out = await run('wrk', [
    '-t',
    '1',
    '-c',
    String(clients),
    '-d',
    `${SECONDS}s`,
    '-s',
    script,
    `${apiUrl}/graphql`,
  ]);
  const r = out.match(/WRK_RESULT requests=(\d+) rps=([\d.]+) p50=([\d.]+) p99=([\d.]+)/);
  const o = out.match(/WRK_OUTCOMES ok=(\d+) taken=(\d+) other=(\d+)/);
  if (!r || !o) throw new Error(`wrk failed:\n${out}`);
  return { attempts: +r[1], perSecond: +r[2], p50: +r[3], p99: +r[4], ok: +o[1], taken: +o[2], other: +o[3] };
}

async function viaPgbench(
  url: string,
  file: string,
  s: Scenario,
  clients: number,
  tries = 12,
  lock = 'true',
): Promise<Outcome> {
  const out = await run(pgbenchPath(), [
    '-n',
    '-f',
    join(ROOT_DIR, 'sql/bench', file),
    ...pgbenchTiming(clients, SECONDS),
    '-D',
    `lock=${lock}`,
    '-D',
    `spot_base=${s.spotBase}`,
    '-D',
    `spots=${s.spots}`,
    '-D',
    `slots=${s.slots}`,
    '-D',
    `slot_minutes=${s.slotMinutes}`,
    '-D',
    `base=${base}`,
    url,
  ]);
  const tx = out.match(/number of transactions actually processed: (\d+)/);
  const failed = out.match(/number of failed transactions: (\d+)/);
  if (!tx && tries > 1 && /connection slots|too many clients/.test(out)) {
    // A shared database server: wait for other clients' connections to go.
    await new Promise((r) => setTimeout(r, 5000));
    await reset();
    return viaPgbench(url, file, s, clients, tries - 1, lock);
  }
  if (!tx) throw new Error(`pgbench failed:\n${out}`);
  const rate = pgbenchWarmRate(out, clients, SECONDS);
  if (rate === null) throw new Error(`pgbench printed no progress after its warm-up:\n${out}`);
  const ok = await written(file === 'booking_insert.sql' ? 'bench.reservations' : 'app_public.reservations');
  // Transactions still running at the deadline commit but are not counted: never below 0.
  // A client that hits an error other than the caught "spot taken" (e.g. a deadlock) is aborted.
  const aborted = (out.match(/aborted in command/g) ?? []).length;
  if (aborted > 0)
    console.log(
      `  (${aborted} pgbench clients aborted: ${out.match(/aborted in command[^\n]*ERROR:\s*([^\n]*)/)?.[1] ?? '?'})`,
    );
  return {
    attempts: +tx[1],
    perSecond: rate,
    ok,
    taken: Math.max(0, +tx[1] - ok),
    other: (failed ? +failed[1] : 0) + aborted,
  };
}

const line = (label: string, o: Outcome) =>
  report.line(
    `  ${label.padEnd(30)} ${fmt(o.perSecond, 0).padStart(6)} attempts/s` +
      `  (${o.ok} booked, ${o.taken} spot taken, ${o.other} other errors` +
      (o.p50 !== undefined ? `; p50 ${fmt(o.p50)} ms, p99 ${fmt(o.p99!)} ms)` : ')'),
  );

const api = await startApiProcess(urls, {
  // 8 connections per process: PostgreSQL on 2 cores gains nothing from more,
  // and pgbench needs its clients' connections while the API's pool sits idle.
  API_WORKERS: String(API_WORKERS),
  API_POOL_SIZE: process.env.API_POOL_SIZE ?? '8',
  COOKIE_SECRET: randomBytes(24).toString('hex'), // production mode insists on one
  TRUST_PROXY: '1', // wrk gives each booking its own client address in X-Forwarded-For
});
report.line(
  `booking bench: ${SECONDS} s per measurement (pgbench's after its warm-up; counts include it), API with ${API_WORKERS} processes, wrk vs pgbench, same draw, same function, same settings; ` +
    (SHARED_SERVER
      ? 'the shared PostgreSQL server'
      : "a PostgreSQL cluster of the bench's own (default settings, 200 connections, pg_stat_statements loaded)"),
);
const goals: string[] = [];
const goal = (what: string, ratio: number, target: number) =>
  goals.push(`goal     ${what}: ${fmt(ratio, 3)}x (≥ ${fmt(target)}) ${ratio >= target ? 'met' : 'MISSED'}`);
try {
  await reset();
  await viaApi(api.url, scenarios[0], 4); // warm up: schema, plans, pools
  for (const s of scenarios) {
    report.line(`\n${s.name} (${s.spots} spots, ${s.slots} slots of ${s.slotMinutes} min)`);
    for (const clients of CLIENTS) {
      await reset();
      const viaHttp = await viaApi(api.url, s, clients);
      const apiBooked = await written();
      if (apiBooked !== viaHttp.ok) console.log(`  (note: ${apiBooked} rows written, wrk counted ${viaHttp.ok})`);
      line(`API, ${clients} clients:`, viaHttp);
      points.push({ clients, perSecond: viaHttp.perSecond, series: `API, ${s.name}` });
      const free = await freeConnections(urls.owner, clients + 2);
      if (free < clients + 2) {
        report.line(`  pgbench, ${clients} clients: skipped (the server has ${free} connections free)`);
        continue;
      }
      await reset();
      const direct = await viaPgbench(urls.authenticator, 'booking.sql', s, clients);
      line(`pgbench reserve(), ${clients} clients:`, direct);
      report.line(`  ratio API / pgbench reserve(): ${fmt(viaHttp.perSecond / direct.perSecond)}x`);
      goal(`${s.name}, ${clients} clients: API / pgbench reserve()`, viaHttp.perSecond / direct.perSecond, 0.5);
      points.push({ clients, perSecond: direct.perSecond, series: `pgbench reserve(), ${s.name}` });
      if (clients > BARE_MAX_CLIENTS) continue;
      await reset();
      const bare = await viaPgbench(urls.owner, 'booking_insert.sql', s, clients, 12, 'true');
      line(`bare insert + spot lock:`, bare);
      report.line(
        `  ratios to the bare insert: reserve() ${fmt(direct.perSecond / bare.perSecond)}x, API ${fmt(viaHttp.perSecond / bare.perSecond)}x`,
      );
      points.push({ clients, perSecond: bare.perSecond, series: `bare insert, ${s.name}` });
      if (s === scenarios[0]) {
        goal(`${s.name}, ${clients} clients: pgbench reserve() / bare insert`, direct.perSecond / bare.perSecond, 0.5);
        goal(`${s.name}, ${clients} clients: API / bare insert`, viaHttp.perSecond / bare.perSecond, 0.35);
      }
      if (s.spots < 10) {
        await reset();
        const unlocked = await viaPgbench(urls.owner, 'booking_insert.sql', s, clients, 12, 'false');
        line(`bare insert, no lock:`, unlocked);
        report.line(`  ratio lock / no lock: ${fmt(bare.perSecond / unlocked.perSecond)}x`);
      }
    }
  }
  await costBreakdown(scenarios[0]);
  report.line('');
  for (const g of goals) report.line(g);
  report.chart('throughput', 'Booking: attempts/s vs clients (API, pgbench of reserve(), bare insert)', points, {
    x: 'clients',
    y: 'perSecond',
    series: 'series',
    xLabel: 'clients',
    yLabel: 'attempts/s',
    xType: 'log',
    dots: true,
  });
  report.save();
} finally {
  await api.stop();
  await reset();
  await owner.end();
}
