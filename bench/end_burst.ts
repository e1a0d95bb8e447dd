// `npm run bench -- end_burst [--count N] [--phases noop,stripe,burst,live,charges,minute] [--spread S]`
// N reservations ending at the same instant, charged by the worker (the
// due-work sweep ends them and queues their charges in batch jobs →
// reservation__charge → Stripe emulator; receipt and "ended" emails to a real
// SMTP listener). Measured in one run, on one machine, 127.0.0.1 only:
//   noop     the worker process draining N no-op jobs due at once (the baseline);
//   stripe   N PaymentIntents sent straight from the SDK (the worker's client,
//            64 at a time: its sockets), no database, no job: the most
//            charges/s this machine can make while it also runs the
//            emulator, the ceiling every charge phase is read against;
//   burst    N ending at one instant, the emulator unlimited;
//   live     N ending at one instant against Stripe's live-mode limit (the
//            emulator at 100 requests/s), two worker processes sharing the
//            budget (STRIPE_RATE_LIMIT = BENCH_BUDGET, default 95);
//   charges  N completed reservations whose keyed charge jobs fall due at
//            once (one job a reservation: the path of ends one at a time);
//   minute   N ending spread over --spread seconds (default 60).
// Default phases: noop,stripe,burst,live. Prints charge lateness after the end
// (p50/p99/max), charges/s against no-op jobs/s or the limit, 429s, emails
// and duplicates (PaymentIntents and charges at the emulator beyond one per
// reservation, emails sent twice; must be 0). Appends to bench/RESULTS.md and
// draws bench/charts/end_burst_*.svg. Stops itself after BENCH_MAX_S (600).
// Worker settings: BENCH_CONCURRENCY (24: on 2 cores, 48 charged a third slower
// and 6 or 12 no faster), BENCH_LOCAL_QUEUE (500), BENCH_POOL (≤ 30
// connections, to leave the shared cluster's slots to others).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import Stripe from 'stripe';
import { benchDatabase, fmt, ROOT_DIR, stopAfterMaxSeconds } from './helpers.ts';
import { stripeClient, stripeConfigFromEnv } from '../lib/stripe_client.ts';
import { chargeIntentParams } from '../tasks/reservation__charge.ts';
import { BenchReport } from './report.ts';
import { startSmtpSink } from '../test/helpers/smtp_sink.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = arg('count', 10_000);
const SPREAD_S = arg('spread', 60);
const TIMEOUT_S = arg('timeout', 600);
const phasesArg = args.indexOf('--phases');
const PHASES = (phasesArg >= 0 ? args[phasesArg + 1]! : 'noop,stripe,burst,live').split(',');
const LIVE_LIMIT = 100;
const BUDGET = Number(process.env.BENCH_BUDGET ?? 95);
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', cleanup);
stopAfterMaxSeconds('end_burst');

function spawnNode(
  file: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [join(ROOT_DIR, file)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      process.stderr.write(d);
    });
    child.on('exit', (code) => {
      if (code) reject(new Error(`${file} exited ${code}:\n${out}`));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used so far (/proc/<pid>/stat; clock ticks of 1/100 s). */
function cpuOf(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
/** The whole machine's busy and total CPU seconds so far (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total };
}
/** Where the CPU went while charging: the worker processes, the emulator, the rest of the machine (PostgreSQL, the SMTP sink, this bench). */
function cpuSnapshot(workerPids: Array<number | undefined>) {
  return {
    workers: workerPids.reduce<number>((sum, pid) => sum + cpuOf(pid), 0),
    emulator: cpuOf(emulatorProcess.pid),
    machine: machineCpu(),
  };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_S * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${TIMEOUT_S} s`);
    await sleep(100);
  }
}

// --- set-up ---------------------------------------------------------------
const report = new BenchReport('end_burst');
const urls = await benchDatabase('end_burst');
const owner = new pg.Pool({ connectionString: urls.owner, max: 4 });
const smtp = await startSmtpSink();
const {
  child: emulatorProcess,
  match: [, stripeUrl],
} = await spawnNode(
  'stripe-emulator/main.ts',
  { STRIPE_EMULATOR_PORT: '0', STRIPE_EMULATOR_QUIET: '1', STRIPE_WEBHOOK_URL: '', STRIPE_WEBHOOK_SECRET: '' },
  /listening on (http:\/\/\S+)/,
);
const stripeHost = new URL(stripeUrl);
const stripe = new Stripe('sk_test_bench', {
  host: stripeHost.hostname,
  port: Number(stripeHost.port),
  protocol: 'http',
});
const emulatorState = async () =>
  (await (await fetch(`${stripeUrl}/_emulator/state`)).json()) as {
    requests: number;
    payment_intents: { total: number; by_status: Record<string, number> };
    charges: { total: number; succeeded: number };
    rate_limits: { limited: number; accepted_per_second: Record<string, number> };
  };
const setLimits = (limits: object) =>
  fetch(`${stripeUrl}/_emulator/rate_limits`, { method: 'POST', body: JSON.stringify(limits) });

// One driver and one card set up off-session, used by every reservation.
const customer = await stripe.customers.create({ email: 'bench.driver@example.test' });
const si = await stripe.setupIntents.create({
  customer: customer.id,
  usage: 'off_session',
  confirm: true,
  payment_method: 'pm_card_visa',
});
await owner.query(
  `insert into app_public.rates (code, name, hourly_price, minimum_charge) values ('bench', 'Bench', 600, 100)`,
);
const {
  rows: [driver],
} = await owner.query(
  `insert into app_public.users (email, name, is_verified) values ('bench.driver@example.test', 'Bench Driver', true) returning id`,
);
const {
  rows: [cust],
} = await owner.query(
  `insert into app_private.stripe_customers (user_id, idempotency_key, stripe_customer_id) values ($1, 'bench', $2) returning id`,
  [driver.id, customer.id],
);
await owner.query(
  `
  insert into app_public.spots (location, street, rate_id, max_stay)
  select st_setsrid(st_makepoint(-74.0 + (g % 100) * 0.0005, 40.7 + (g / 100) * 0.0005), 4326)::geography,
         'Bench St', (select id from app_public.rates where code = 'bench'), interval '4 hours'
  from generate_series(1, $1) g`,
  [N],
);

const workerEnv = {
  DATABASE_URL: urls.owner,
  STRIPE_SECRET_KEY: 'sk_test_bench',
  STRIPE_API_HOST: stripeHost.hostname,
  STRIPE_API_PORT: stripeHost.port,
  STRIPE_API_PROTOCOL: 'http',
  STRIPE_TIMEOUT_MS: '20000',
  SMTP_HOST: smtp.host,
  SMTP_PORT: String(smtp.port),
  WORKER_LIVENESS_SWEEP_MS: '600000',
};
const startWorkers = (count: number, env: Record<string, string> = {}) =>
  Promise.all(
    Array.from({ length: count }, () =>
      spawnNode('bench/end_burst_worker.ts', { ...workerEnv, ...env }, /worker ready/),
    ),
  );
const stopWorkers = async (running: Array<{ child: ChildProcess }>) => {
  await Promise.all(
    running.map(
      ({ child }) =>
        new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
};
let workers = await startWorkers(1);
const workerSettings = `concurrency ${process.env.BENCH_CONCURRENCY ?? 24}, localQueue ${process.env.BENCH_LOCAL_QUEUE ?? 500}`;
report.line(`end_burst: ${N} reservations; worker ${workerSettings}; batch jobs of 50 charges`);

const pending = async (task: string) =>
  (await owner.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = $1`, [task])).rows[0]
    .n as number;

// --- baseline: no-op jobs --------------------------------------------------
let noopPerSecond = Number.NaN;
if (PHASES.includes('noop')) {
  await owner.query(
    `select graphile_worker.add_jobs(array(
    select ('bench__noop', '{}'::json, null, now(), null, null, null, null)::graphile_worker.job_spec
    from generate_series(1, $1)))`,
    [N],
  );
  const noopStart = performance.now();
  await until(async () => (await pending('bench__noop')) === 0, 'no-op jobs');
  noopPerSecond = N / ((performance.now() - noopStart) / 1000);
  report.line(`noop     ${N} no-op jobs due at once: ${fmt(noopPerSecond, 0)} jobs/s`);
}

// --- the ceiling: Stripe calls alone -------------------------------------
// The charge's own Stripe call (chargeIntentParams), from this process through the worker's
// client (keep-alive agent, at most 64 sockets: a burst's batches keep them
// all busy), with no database and no job around it. The emulator runs on
// this machine too, so this is the most charges/s the machine can make; what
// the burst loses against it is the product's own cost (ending, preparing,
// recording, queueing).
let stripeCallsPerSecond = Number.NaN;
if (PHASES.includes('stripe')) {
  const client = stripeClient(stripeConfigFromEnv(workerEnv));
  const paymentMethod = si.payment_method as string;
  const run = Date.now();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < N; i = next++) {
      await client.paymentIntents.create(
        chargeIntentParams({
          amount: 600,
          currency: 'usd',
          customer: customer.id,
          paymentMethod,
          reservationId: String(i),
          attempt: 1,
        }),
        { idempotencyKey: `bench-ceiling-${run}-${i}` },
      );
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, lane));
  stripeCallsPerSecond = N / ((performance.now() - started) / 1000);
  report.line(
    `stripe   ${N} PaymentIntents straight from the SDK (no database, no job): ${fmt(stripeCallsPerSecond, 0)} calls/s` +
      (Number.isNaN(noopPerSecond) ? '' : ` = ${fmt(stripeCallsPerSecond / noopPerSecond)} × no-op jobs/s`),
  );
}

// --- a phase: N reservations ending within `spread` seconds ---------------
interface PhaseResult {
  chargesPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  duplicates: number;
  calls: number;
  limited: number;
  maxCallsPerSecond: number;
}
/** Charges completed in each second after the first end, by phase (the charts). */
const progress: Array<{ second: number; charges: number; share: number; phase: string }> = [];

/**
 * mode 'end': the due-work sweep completes each reservation at its end and
 * queues the charges (the product's real path);
 * mode 'charge': the reservations are already completed and their
 * reservation__charge jobs fall due at the end (payments' part alone).
 */
async function phase(label: string, spreadS: number, mode: 'end' | 'charge' = 'end'): Promise<PhaseResult> {
  await owner.query(
    'truncate app_public.reservations, app_private.charges, app_private.setup_intents, app_private.emails cascade',
  );
  await owner.query(`delete from graphile_worker._private_jobs where key is distinct from 'due_work_sweep'`);
  const before = await emulatorState();
  const sentBefore = smtp.messages.length;
  // The state booking leaves behind for N confirmed reservations, written in
  // bulk: booking's triggers are off while the rows are written (their
  // "held" emails are not part of the end burst).
  await owner.query('alter table app_public.reservations disable trigger user');
  try {
    await owner.query(
      `
      insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency)
      select s.id, $1, 'bench.driver@example.test', tstzrange(now(), now() + interval '1 hour'), $2, 600, 'USD'
      from app_public.spots s`,
      [driver.id, mode === 'end' ? 'confirmed' : 'completed'],
    );
    await owner.query(
      `
      insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key, stripe_setup_intent_id, status, payment_method, succeeded_at)
      select r.id, $1, 'bench-setup-' || r.id, 'seti_bench_' || r.id, 'succeeded', $2, now() from app_public.reservations r`,
      [cust.id, si.payment_method],
    );
    // Ends 3 s from now, all at once or spread evenly over spreadS.
    await owner.query(
      `
      update app_public.reservations r
      set period = tstzrange(e.ends_at - interval '1 hour', e.ends_at)
      from (select id, date_trunc('second', now()) + interval '3 seconds'
                       + ($1::float8 * (row_number() over (order by id) - 1) / $2) * interval '1 second' as ends_at
            from app_public.reservations) e
      where e.id = r.id`,
      [spreadS, N],
    );
  } finally {
    await owner.query('alter table app_public.reservations enable trigger user');
  }
  if (mode === 'charge') {
    // Payments' part alone: the charge jobs the end would queue, due at each end.
    await owner.query(`select app_private.queue_reservation_jobs('reservation__charge', array_agg(r.id), max(upper(r.period)))
      from app_public.reservations r`);
  } // mode 'end': the due-work sweep finds the ends in the rows.
  const {
    rows: [{ first_end }],
  } = await owner.query('select min(upper(period)) as first_end from app_public.reservations');
  const firstEnd = new Date(first_end).getTime();
  if (firstEnd < Date.now()) console.warn(`(set-up ran ${fmt((Date.now() - firstEnd) / 1000)} s past the first end)`);

  const charged = async () =>
    (await owner.query(`select count(*)::int as n from app_private.charges where status = 'succeeded'`)).rows[0]
      .n as number;
  const workerPids = workers.map((w) => w.child.pid);
  await sleep(firstEnd - Date.now());
  const cpuBefore = cpuSnapshot(workerPids);
  await until(async () => (await charged()) === N, `${label}: charges`);
  const cpuAfter = cpuSnapshot(workerPids);
  const {
    rows: [t],
  } = await owner.query(`
    select percentile_cont(0.5) within group (order by l) as p50, percentile_cont(0.99) within group (order by l) as p99,
           max(l) as max, extract(epoch from max(c.succeeded_at) - min(upper(r.period))) as span
    from app_private.charges c join app_public.reservations r on r.id = c.reservation_id
    cross join lateral (select extract(epoch from c.succeeded_at - upper(r.period)) as l) x`);
  const span = Number(t.span);
  // Emails: the receipt (and with booking's end, the "ended" email) of each reservation.
  const perReservation = mode === 'end' ? 2 : 1;
  await until(async () => smtp.messages.length - sentBefore >= perReservation * N, `${label}: emails`);
  const emailSpan = (Date.now() - firstEnd) / 1000;
  const after = await emulatorState();
  const intents = after.payment_intents.total - before.payment_intents.total;
  const stripeCharges = after.charges.succeeded - before.charges.succeeded;
  const {
    rows: [db],
  } = await owner.query(
    `select count(*)::int as n, count(distinct stripe_payment_intent_id)::int as pis from app_private.charges where status = 'succeeded'`,
  );
  const ids = new Set(smtp.messages.slice(sentBefore).map((m) => m.emailId));
  const emailDuplicates = smtp.messages.length - sentBefore - ids.size;
  const duplicates = intents - N + (stripeCharges - N) + (db.n - db.pis) + emailDuplicates;
  const chargesPerSecond = N / span;
  const calls = after.requests - before.requests;
  const limited = after.rate_limits.limited - before.rate_limits.limited;
  const perSecond = Object.entries(after.rate_limits.accepted_per_second)
    .map(([second, n]) => n - (before.rate_limits.accepted_per_second[second] ?? 0))
    .filter((n) => n > 0);
  const maxCallsPerSecond = Math.max(0, ...perSecond);
  const { rows: bins } = await owner.query(
    `
    select floor(extract(epoch from c.succeeded_at - $1::timestamptz))::int as second, count(*)::int as charges
    from app_private.charges c group by 1 order by 1`,
    [new Date(firstEnd)],
  );
  let done = 0;
  for (const b of bins) {
    done += b.charges;
    progress.push({ second: b.second, charges: b.charges, share: (100 * done) / N, phase: label });
  }
  report.line(
    `${label.padEnd(8)} ${N} ending ${spreadS ? `over ${spreadS} s` : 'at the same instant'}: ` +
      `lateness p50 ${fmt(Number(t.p50))} s, p99 ${fmt(Number(t.p99))} s, max ${fmt(Number(t.max))} s; ` +
      `${fmt(chargesPerSecond, 0)} charges/s over ${fmt(span, 1)} s; ` +
      `Stripe calls ${calls}, 429s ${limited} (${fmt((100 * limited) / Math.max(1, calls))} %), most accepted in one second ${maxCallsPerSecond}; ` +
      `PaymentIntents ${intents}, Stripe charges ${stripeCharges}; ` +
      `emails ${smtp.messages.length - sentBefore} (${emailDuplicates} twice) all sent ${fmt(emailSpan, 1)} s after the first end; duplicates ${duplicates}`,
  );
  // CPU ms a charge from the first end to the last charge (the first emails are sent in it too).
  const perCharge = (seconds: number) => fmt((1000 * seconds) / N);
  const workerCpu = cpuAfter.workers - cpuBefore.workers;
  const emulatorCpu = cpuAfter.emulator - cpuBefore.emulator;
  const busyTicks = cpuAfter.machine.busy - cpuBefore.machine.busy;
  const totalTicks = cpuAfter.machine.total - cpuBefore.machine.total;
  report.line(
    `${''.padEnd(8)} CPU a charge: worker${workerPids.length > 1 ? 's' : ''} ${perCharge(workerCpu)} ms, Stripe emulator ${perCharge(emulatorCpu)} ms, ` +
      `the rest (PostgreSQL, SMTP sink, bench) ${perCharge(busyTicks / 100 - workerCpu - emulatorCpu)} ms; ` +
      `machine ${fmt((100 * busyTicks) / Math.max(1, totalTicks), 0)} % busy`,
  );
  return {
    chargesPerSecond,
    p50: Number(t.p50),
    p99: Number(t.p99),
    max: Number(t.max),
    duplicates,
    calls,
    limited,
    maxCallsPerSecond,
  };
}

const results: Record<string, PhaseResult> = {};
if (PHASES.includes('charges')) results.charges = await phase('charges', 0, 'charge');
if (PHASES.includes('burst')) results.burst = await phase('burst', 0);
if (PHASES.includes('minute') && SPREAD_S > 0) results.minute = await phase('minute', SPREAD_S);
if (PHASES.includes('live')) {
  // Stripe's live mode: 100 requests/s; two worker processes share one budget.
  await stopWorkers(workers);
  await setLimits({ profile: 'live' });
  workers = await startWorkers(2, { STRIPE_RATE_LIMIT: String(BUDGET) });
  report.line(
    `live     emulator at Stripe's live-mode limit (${LIVE_LIMIT} requests/s), 2 worker processes, shared budget ${BUDGET}/s`,
  );
  results.live = await phase('live', 0);
  await setLimits({ profile: 'off' });
}

const { burst, live } = results;
const duplicates = Object.values(results).reduce((sum, r) => sum + r.duplicates, 0);
if (burst) {
  report.line(
    `goal     unlimited: ${fmt(burst.chargesPerSecond / noopPerSecond)} × no-op jobs/s (≥ 0.40), ` +
      `p99 lateness ${fmt(burst.p99)} s (≤ 10 s)`,
  );
  if (!Number.isNaN(stripeCallsPerSecond))
    report.line(
      `         against the Stripe calls alone: charges/s ${fmt(burst.chargesPerSecond / stripeCallsPerSecond)} × their calls/s; ` +
        `their ${N} calls alone took ${fmt(N / stripeCallsPerSecond)} s`,
    );
}
if (results.charges)
  report.line(`         a keyed job a charge: ${fmt(results.charges.chargesPerSecond / noopPerSecond)} × no-op jobs/s`);
if (live) {
  report.line(
    `goal     live limit: ${fmt(live.chargesPerSecond / LIVE_LIMIT)} × the limit (≥ 0.90), ` +
      `429s ${fmt((100 * live.limited) / Math.max(1, live.calls))} % of calls (≤ 1 %), ` +
      `p99 lateness ${fmt(live.p99)} s against ${fmt(N / LIVE_LIMIT, 0)} s (within 10 %: ≤ ${fmt((1.1 * N) / LIVE_LIMIT, 0)} s)`,
  );
}
report.line(`goal     duplicate charges or emails, all phases: ${duplicates} (0)`);

report.chart('rate', 'End-of-day burst: charges per second after the instant', progress, {
  x: 'second',
  y: 'charges',
  series: 'phase',
  xLabel: 'seconds after the reservations ended',
  yLabel: 'charges/s',
  rules: live ? [{ y: LIVE_LIMIT, label: `Stripe live-mode limit ${LIVE_LIMIT}/s` }] : [],
});
report.chart('lateness', 'End-of-day burst: share charged over time (lateness)', progress, {
  x: 'second',
  y: 'share',
  series: 'phase',
  xLabel: 'seconds after the reservations ended',
  yLabel: '% charged',
});
report.save();

await stopWorkers(workers);
await owner.end();
await smtp.close();
cleanup();
process.exit(0);
