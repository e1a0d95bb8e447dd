// `npm run bench -- spots_near [sizes…] [--seconds N]`
// spotsNear through the HTTP API against (a) pgbench calling the same SQL
// function and (b) the original system's method: load every spot with its
// availability and compute distances in application code. Sizes are spot
// counts (default 2400 100000; add 1000000 for the 1M target). The data is
// written in bulk (generate_series, the tables' row triggers off while it is
// written: spots and reservations need none of their side effects here), so
// 1M spots and their 100k reservations set up in minutes.
import pg from 'pg';
import { benchDatabase, fmt, load, pgbench, startApiProcess, stopAfterMaxSeconds, wrk, ROOT_DIR } from './helpers.ts';
import { BenchReport } from './report.ts';

const args = process.argv.slice(2);
const secondsArg = args.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 8;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--seconds').map(Number);
if (sizes.length === 0) sizes.push(2400, 100_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);

const QUERY = `query ($lat: Float!, $lng: Float!) {
  spotsNear(lat: $lat, lng: $lng, radius: 0.5, first: 10) { nodes { distance price { amount } spot { rowId } } }
}`;
const randomPoint = () => ({ lat: 40.6 + Math.random() * 0.25, lng: -74.0 + Math.random() * 0.15 });

async function fillSpots(owner: pg.Pool, count: number): Promise<number> {
  const started = performance.now();
  await owner.query('truncate app_public.reservations, app_public.spots, app_public.rates cascade');
  await owner.query(`insert into app_public.rates (code, name, hourly_price) values ('bench', 'Bench', 450)`);
  await owner.query('alter table app_public.spots disable trigger user');
  await owner.query('alter table app_public.reservations disable trigger user');
  try {
    // Spread over New York City's extent; one in ten spots held right now, so availability filters for real.
    await owner.query(
      `
      insert into app_public.spots (location, street, rate_id, max_stay)
      select st_setsrid(st_makepoint(-74.05 + random() * 0.25, 40.57 + random() * 0.33), 4326)::geography,
             'Bench St', (select id from app_public.rates), interval '4 hours'
      from generate_series(1, $1)`,
      [count],
    );
    await owner.query(`
      insert into app_public.reservations (spot_id, email, period, amount, currency, status)
      select id, 'bench@example.test', tstzrange(now() - interval '1 hour', now() + interval '3 hours'), 0, 'USD', 'confirmed'
      from app_public.spots where id % 10 = 0`);
  } finally {
    await owner.query('alter table app_public.spots enable trigger user');
    await owner.query('alter table app_public.reservations enable trigger user');
  }
  await owner.query('vacuum analyze app_public.spots');
  await owner.query('vacuum analyze app_public.reservations');
  return (performance.now() - started) / 1000;
}

/** The original method: every spot and its availability into memory, haversine, filter, sort. */
async function naiveSearch(owner: pg.Pool, lat: number, lng: number): Promise<number> {
  const { rows } = await owner.query<{ id: string; lat: number; lng: number }>(`
    select s.id, st_y(s.location::geometry) as lat, st_x(s.location::geometry) as lng
    from app_public.spots s
    where s.status = 'active' and not exists (
      select from app_public.reservations r
      where r.spot_id = s.id and r.status in ('held', 'confirmed')
        and r.period && tstzrange(now(), now() + interval '1 hour'))`);
  const rad = Math.PI / 180;
  const near = rows
    .map((r) => {
      const dLat = (r.lat - lat) * rad;
      const dLng = (r.lng - lng) * rad;
      const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat * rad) * Math.cos(r.lat * rad) * Math.sin(dLng / 2) ** 2;
      return { id: r.id, km: 6371.0088 * 2 * Math.asin(Math.sqrt(a)) };
    })
    .filter((r) => r.km <= 0.5)
    .sort((a, b) => a.km - b.km)
    .slice(0, 10);
  return near.length;
}

stopAfterMaxSeconds('spots_near');
const report = new BenchReport('spots_near');
const latency: Array<{ spots: number; ms: number; series: string }> = [];
const urls = await benchDatabase('spots_near');
const owner = new pg.Pool({ connectionString: urls.owner, max: 2 });
const API_WORKERS = Number(process.env.API_WORKERS ?? 1);
const api = await startApiProcess(urls, {
  API_WORKERS: String(API_WORKERS),
  // About two connections per database core in all (this machine: 2 cores).
  // One per client (16) let 16 searches run at once on 2 cores: on 2026-12-02
  // (load 6-10 from other work) p99/p50 at 16 clients was 7.6-10x with 16
  // connections and 2.3-6x with 4, at equal or better throughput.
  API_POOL_SIZE: process.env.API_POOL_SIZE ?? '4',
});
report.line(
  `spots_near bench: ${API_WORKERS} API processes, ${CLIENTS} clients, ${seconds} s per measurement, radius 0.5 km, first 10`,
);
const p50s: number[] = [];
try {
  for (const size of sizes) {
    const setUp = await fillSpots(owner, size);
    const request = () =>
      fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: QUERY, variables: randomPoint() }),
      }).then(async (r) => r.ok && !((await r.json()) as { errors?: unknown }).errors);
    await load(4, 1, request); // warm up: schema, plans, pools
    const single =
      (await wrk(`${api.url}/graphql`, `${ROOT_DIR}/bench/spots_near.lua`, 1, seconds / 2)) ??
      (await load(1, seconds / 2, request));
    // Throughput with a C client when there is one, so the load generator
    // does not take the cores the API and PostgreSQL need (pgbench is C too).
    const many =
      (await wrk(`${api.url}/graphql`, `${ROOT_DIR}/bench/spots_near.lua`, CLIENTS, seconds)) ??
      (await load(CLIENTS, seconds, request));
    const pgTps = await pgbench(urls.authenticator, `${ROOT_DIR}/sql/bench/spots_near.sql`, CLIENTS, seconds);
    const naiveRuns = size >= 500_000 ? 3 : 10;
    const naiveStart = performance.now();
    for (let i = 0; i < naiveRuns; i++) {
      const p = randomPoint();
      await naiveSearch(owner, p.lat, p.lng);
    }
    const naiveMs = (performance.now() - naiveStart) / naiveRuns;
    p50s.push(single.p50);
    report.line(`\n${size.toLocaleString('en')} spots (set up in ${fmt(setUp, 1)} s)`);
    report.line(
      `  API, 1 client:      p50 ${fmt(single.p50)} ms, p99 ${fmt(single.p99)} ms (${single.requests} requests, ${single.errors} errors)`,
    );
    report.line(
      `  API, ${CLIENTS} clients:    ${fmt(many.perSecond, 0)} req/s, p50 ${fmt(many.p50)} ms, p99 ${fmt(many.p99)} ms (${many.errors} errors)`,
    );
    report.line(`  pgbench, same SQL:  ${fmt(pgTps, 0)} tx/s`);
    report.line(`  original method:    ${fmt(naiveMs, 1)} ms/query`);
    report.line(`  p99 / p50 at ${CLIENTS} clients: ${fmt(many.p99 / many.p50, 1)}x (target ≤ 5x)`);
    latency.push(
      { spots: size, ms: single.p50, series: 'p50, 1 client' },
      { spots: size, ms: single.p99, series: 'p99, 1 client' },
      { spots: size, ms: many.p50, series: `p50, ${CLIENTS} clients` },
      { spots: size, ms: many.p99, series: `p99, ${CLIENTS} clients` },
    );
    report.line(
      `  ratios: API throughput / pgbench = ${fmt(many.perSecond / pgTps)}x; original / API p50 = ${fmt(naiveMs / single.p50, 0)}x faster`,
    );
  }
  if (p50s.length > 1)
    report.line(`\np50 growth ${sizes[0]} -> ${sizes.at(-1)} spots: ${fmt(p50s.at(-1)! / p50s[0])}x`);
  report.chart('latency', 'spotsNear through the API: latency vs number of spots', latency, {
    x: 'spots',
    y: 'ms',
    series: 'series',
    xLabel: 'spots',
    yLabel: 'ms',
    xType: 'log',
    yType: 'log',
    dots: true,
  });
  report.save();
} finally {
  await api.stop();
  await owner.end();
}
