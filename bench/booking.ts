// `npm run bench -- booking [--seconds N]`
// Reservations per second through the GraphQL API (guest `reserve` mutations,
// wrk as the C load generator) against pgbench calling the same SQL function,
// app_public.reserve, with the same random draw, in the same run:
//   distinct: 2,000 spots, 5-minute slots over 88 days (almost never a conflict);
//   hot:      3 spots, 30-minute slots over 88 days (every writer queues on 3 spot
//             locks; "spot taken" grows as the slots fill);
//   hot, one day: 3 spots, 48 slots: nearly every attempt ends "spot taken".
// For the hot cases it also runs the bare insert with and without the per-spot
// lock (the exclusion constraint alone) to show what the lock costs or buys. Each measurement
// starts from an empty reservations table. 127.0.0.1 only; bounded by
// --seconds per measurement (default 5; ~14 measurements).
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { benchDatabase, fmt, startApiProcess, ROOT_DIR } from './helpers.ts';
import { BenchReport } from './report.ts';

const args = process.argv.slice(2);
const secondsArg = args.indexOf('--seconds');
const SECONDS = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 5;
const CLIENTS = (process.env.BENCH_CLIENTS ?? '8,32').split(',').map(Number);
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
const urls = await benchDatabase('booking');
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
  create function bench.reserve(spot_id bigint, starts_at timestamptz, minutes int) returns text
    language plpgsql volatile as $$
  begin
    perform app_public.reserve(spot_id, starts_at, null, minutes, 'bench@example.test');
    return 'ok';
  exception when sqlstate 'SMB01' then
    return 'taken';
  end $$;
  grant execute on function bench.reserve(bigint, timestamptz, int) to app_anonymous;
  -- The same row reserve() writes, bare (no validation, no guest token), with
  -- or without app_hidden.lock_spot: what the per-spot lock costs or buys.
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
    insert into app_public.reservations (spot_id, email, period, status, amount, currency, hold_expires_at)
    values (spot_id, 'bench@example.test', v_window, 'held', v_quote.amount, v_quote.currency, now() + interval '15 minutes');
    return 'ok';
  exception when exclusion_violation then
    return 'taken';
  end $$;`);

const base = Math.ceil(Date.now() / 3600e3) * 3600 + 86400; // epoch seconds: a whole hour, tomorrow
const scenarios: Scenario[] = [
  { name: 'distinct spots', spotBase: ids.lo - 1, spots: 2000, slotMinutes: 5, slots: DAYS * 24 * 12 },
  { name: '3 hot spots', spotBase: ids.lo - 1 + 2000, spots: 3, slotMinutes: 30, slots: DAYS * 48 },
  // One day of 30-minute slots: full after 144 bookings, then nearly every
  // attempt is "spot taken" -- where failed inserts made others wait without the lock.
  { name: '3 hot spots, one day', spotBase: ids.lo - 1 + 2000, spots: 3, slotMinutes: 30, slots: 48 },
];

async function reset(): Promise<void> {
  await owner.query(`truncate app_public.reservations, app_private.emails cascade`);
  await owner.query(`delete from graphile_worker._private_jobs`);
}

async function written(): Promise<number> {
  return (await owner.query(`select count(*)::int as n from app_public.reservations`)).rows[0].n;
}

function run(cmd: string, argv: string[]): Promise<string> {
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
  const out = await run('pgbench', [
    '-n',
    '-f',
    join(ROOT_DIR, 'sql/bench', file),
    '-c',
    String(clients),
    '-j',
    '2',
    '-D',
    `lock=${lock}`,
    '-T',
    String(SECONDS),
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
  const tps = out.match(/tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/);
  const tx = out.match(/number of transactions actually processed: (\d+)/);
  const failed = out.match(/number of failed transactions: (\d+)/);
  if ((!tps || !tx) && tries > 1 && /connection slots|too many clients/.test(out)) {
    // A shared database server: wait for other clients' connections to go.
    await new Promise((r) => setTimeout(r, 5000));
    await reset();
    return viaPgbench(url, file, s, clients, tries - 1, lock);
  }
  if (!tps || !tx) throw new Error(`pgbench failed:\n${out}`);
  const ok = await written();
  // Transactions still running at the deadline commit but are not counted: never below 0.
  // A client that hits an error other than the caught "spot taken" (e.g. a deadlock) is aborted.
  const aborted = (out.match(/aborted in command/g) ?? []).length;
  if (aborted > 0)
    console.log(
      `  (${aborted} pgbench clients aborted: ${out.match(/aborted in command[^\n]*ERROR:\s*([^\n]*)/)?.[1] ?? '?'})`,
    );
  return {
    attempts: +tx[1],
    perSecond: +tps[1],
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
  // and pgbench needs its 32 while the API's pool sits idle (max_connections 100).
  API_WORKERS: String(API_WORKERS),
  API_POOL_SIZE: process.env.API_POOL_SIZE ?? '8',
  COOKIE_SECRET: randomBytes(24).toString('hex'), // production mode insists on one
  HOLDS_PER_ADDRESS: '1000000', // wrk books from one address; the limit is not what is measured
});
report.line(
  `booking bench: ${SECONDS} s per measurement, API with ${API_WORKERS} processes, wrk vs pgbench, same draw, same function`,
);
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
      await reset();
      const direct = await viaPgbench(urls.authenticator, 'booking.sql', s, clients);
      line(`API, ${clients} clients:`, viaHttp);
      line(`pgbench reserve(), ${clients} clients:`, direct);
      report.line(`  ratio API / pgbench: ${fmt(viaHttp.perSecond / direct.perSecond)}x`);
      points.push(
        { clients, perSecond: viaHttp.perSecond, series: `API, ${s.name}` },
        { clients, perSecond: direct.perSecond, series: `pgbench, ${s.name}` },
      );
      if (s.spots < 10) {
        await reset();
        const locked = await viaPgbench(urls.owner, 'booking_insert.sql', s, clients, 12, 'true');
        await reset();
        const bare = await viaPgbench(urls.owner, 'booking_insert.sql', s, clients, 12, 'false');
        line(`bare insert + spot lock:`, locked);
        line(`bare insert, no lock:`, bare);
        report.line(`  ratio lock / no lock: ${fmt(locked.perSecond / bare.perSecond)}x`);
      }
    }
  }
  report.chart('throughput', 'Booking: attempts/s vs clients (API vs pgbench of reserve())', points, {
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
