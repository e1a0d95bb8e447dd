// `npm run bench -- end_burst [--count N] [--spread S]`
// 10,000 reservations ending in the same minute, charged by the worker
// (the due-work sweep ends them → reservation__charge → Stripe emulator,
// receipt and "ended" emails to a real SMTP listener). Measured in one run, on one
// machine, 127.0.0.1 only:
//   baseline   the same worker process draining N no-op jobs due at once;
//   charges    N completed reservations whose charge jobs fall due at once
//              (payments' part alone: charge, receipt email);
//   burst      N reservations ending at the same instant (the worst minute);
//   minute     N reservations ending spread over 60 s.
// Prints charge lateness after each end (p50/p99/max), charges/s against
// no-op jobs/s, emails, and duplicates (PaymentIntents and charges at the
// emulator beyond one per reservation; must be 0).
// Worker settings: BENCH_CONCURRENCY (48), BENCH_LOCAL_QUEUE (500), BENCH_POOL (≤ 30
// connections, to leave the shared cluster's slots to others).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import Stripe from 'stripe';
import { benchDatabase, fmt, ROOT_DIR } from './helpers.ts';
import { startSmtpSink } from '../test/helpers/smtp_sink.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = arg('count', 10_000);
const SPREAD_S = arg('spread', 60);
const TIMEOUT_S = arg('timeout', 600);
const children: ChildProcess[] = [];
const cleanup = () => { for (const c of children) c.kill('SIGKILL'); };
process.on('exit', cleanup);

function spawnNode(file: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [join(ROOT_DIR, file)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = out.match(ready);
      if (m) { clearTimeout(timer); resolve({ child, match: m }); }
    });
    child.stderr!.on('data', (d: Buffer) => { process.stderr.write(d); });
    child.on('exit', (code) => { if (code) reject(new Error(`${file} exited ${code}:\n${out}`)); });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_S * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${TIMEOUT_S} s`);
    await sleep(100);
  }
}

// --- set-up ---------------------------------------------------------------
const dbName = process.env.BENCH_DB ?? `${process.env.TEST_DB_PREFIX ?? 'sms'}_bench_end_burst`;
console.log(`end_burst: ${N} reservations; database ${dbName}`);
const urls = await benchDatabase(dbName);
const owner = new pg.Pool({ connectionString: urls.owner, max: 4 });
const smtp = await startSmtpSink();
const { match: [, stripeUrl] } = await spawnNode('stripe-emulator/main.ts',
  { STRIPE_EMULATOR_PORT: '0', STRIPE_EMULATOR_QUIET: '1', STRIPE_WEBHOOK_URL: '', STRIPE_WEBHOOK_SECRET: '' },
  /listening on (http:\/\/\S+)/);
const stripeHost = new URL(stripeUrl);
const stripe = new Stripe('sk_test_bench', { host: stripeHost.hostname, port: Number(stripeHost.port), protocol: 'http' });
const emulatorState = async () => (await (await fetch(`${stripeUrl}/_emulator/state`)).json()) as {
  payment_intents: { total: number; by_status: Record<string, number> }; charges: { total: number; succeeded: number };
};

// One driver and one card set up off-session, used by every reservation.
const customer = await stripe.customers.create({ email: 'bench.driver@example.test' });
const si = await stripe.setupIntents.create({ customer: customer.id, usage: 'off_session', confirm: true, payment_method: 'pm_card_visa' });
await owner.query(`insert into app_public.rates (code, name, hourly_price, minimum_charge) values ('bench', 'Bench', 600, 100)`);
const { rows: [driver] } = await owner.query(
  `insert into app_public.users (email, name, is_verified) values ('bench.driver@example.test', 'Bench Driver', true) returning id`);
const { rows: [cust] } = await owner.query(
  `insert into app_private.stripe_customers (user_id, idempotency_key, stripe_customer_id) values ($1, 'bench', $2) returning id`,
  [driver.id, customer.id]);
await owner.query(`
  insert into app_public.spots (location, street, rate_id, max_stay)
  select st_setsrid(st_makepoint(-74.0 + (g % 100) * 0.0005, 40.7 + (g / 100) * 0.0005), 4326)::geography,
         'Bench St', (select id from app_public.rates where code = 'bench'), interval '4 hours'
  from generate_series(1, $1) g`, [N]);

const worker = await spawnNode('bench/end_burst_worker.ts', {
  DATABASE_URL: urls.owner, STRIPE_SECRET_KEY: 'sk_test_bench', STRIPE_API_HOST: stripeHost.hostname,
  STRIPE_API_PORT: stripeHost.port, STRIPE_API_PROTOCOL: 'http', STRIPE_TIMEOUT_MS: '20000',
  SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port), WORKER_LIVENESS_SWEEP_MS: '600000',
}, /worker ready/);
const workerEnv = `concurrency ${process.env.BENCH_CONCURRENCY ?? 48}, localQueue ${process.env.BENCH_LOCAL_QUEUE ?? 500}`;

const pending = async (task: string) => (await owner.query(
  `select count(*)::int as n from graphile_worker.jobs where task_identifier = $1`, [task])).rows[0].n as number;

// --- baseline: no-op jobs --------------------------------------------------
await owner.query(`select graphile_worker.add_jobs(array(
  select ('bench__noop', '{}'::json, null, now(), null, null, null, null)::graphile_worker.job_spec
  from generate_series(1, $1)))`, [N]);
const noopStart = performance.now();
await until(async () => (await pending('bench__noop')) === 0, 'no-op jobs');
const noopPerSecond = N / ((performance.now() - noopStart) / 1000);
console.log(`baseline   ${N} no-op jobs due at once: ${fmt(noopPerSecond, 0)} jobs/s (${workerEnv})`);

// --- a phase: N reservations ending within `spread` seconds ---------------
interface PhaseResult { chargesPerSecond: number; p50: number; p99: number; max: number; duplicates: number; emailsPerSecond: number }

/**
 * mode 'end': the due-work sweep completes each reservation at its end and
 * queues the charges (the product's real path);
 * mode 'charge': the reservations are already completed and their
 * reservation__charge jobs fall due at the end (payments' part alone).
 */
async function phase(label: string, spreadS: number, mode: 'end' | 'charge' = 'end'): Promise<PhaseResult> {
  await owner.query('truncate app_public.reservations, app_private.charges, app_private.setup_intents, app_private.emails cascade');
  await owner.query(`delete from graphile_worker._private_jobs where key is distinct from 'due_work_sweep'`);
  const before = await emulatorState();
  const sentBefore = smtp.messages.length;
  // The state booking leaves behind for N confirmed reservations, written in
  // bulk: booking's triggers are off while the rows are written (their
  // "held" emails are not part of the end burst).
  await owner.query('alter table app_public.reservations disable trigger user');
  try {
    await owner.query(`
      insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency)
      select s.id, $1, 'bench.driver@example.test', tstzrange(now(), now() + interval '1 hour'), $2, 600, 'USD'
      from app_public.spots s`, [driver.id, mode === 'end' ? 'confirmed' : 'completed']);
    await owner.query(`
      insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key, stripe_setup_intent_id, status, payment_method, succeeded_at)
      select r.id, $1, 'bench-setup-' || r.id, 'seti_bench_' || r.id, 'succeeded', $2, now() from app_public.reservations r`,
    [cust.id, si.payment_method]);
    // Ends 3 s from now, all at once or spread evenly over spreadS.
    await owner.query(`
      update app_public.reservations r
      set period = tstzrange(e.ends_at - interval '1 hour', e.ends_at)
      from (select id, date_trunc('second', now()) + interval '3 seconds'
                       + ($1::float8 * (row_number() over (order by id) - 1) / $2) * interval '1 second' as ends_at
            from app_public.reservations) e
      where e.id = r.id`, [spreadS, N]);
  } finally {
    await owner.query('alter table app_public.reservations enable trigger user');
  }
  if (mode === 'charge') {
    // Payments' part alone: the charge jobs the end would queue, due at each end.
    await owner.query(`select app_private.queue_reservation_jobs('reservation__charge', array_agg(r.id), max(upper(r.period)))
      from app_public.reservations r`);
  }  // mode 'end': the due-work sweep finds the ends in the rows.
  const { rows: [{ first_end }] } = await owner.query('select min(upper(period)) as first_end from app_public.reservations');
  const firstEnd = new Date(first_end).getTime();
  if (firstEnd < Date.now()) console.warn(`(set-up ran ${fmt((Date.now() - firstEnd) / 1000)} s past the first end)`);

  const charged = async () => (await owner.query(
    `select count(*)::int as n from app_private.charges where status = 'succeeded'`)).rows[0].n as number;
  await until(async () => (await charged()) === N, `${label}: charges`);
  const { rows: [t] } = await owner.query(`
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
  const { rows: [db] } = await owner.query(
    `select count(*)::int as n, count(distinct stripe_payment_intent_id)::int as pis from app_private.charges where status = 'succeeded'`);
  const duplicates = (intents - N) + (stripeCharges - N) + (db.n - db.pis);
  const ids = new Set(smtp.messages.slice(sentBefore).map((m) => m.emailId));
  const emailDuplicates = smtp.messages.length - sentBefore - ids.size;
  const chargesPerSecond = N / span;
  console.log(`${label.padEnd(10)} ${N} ending ${spreadS ? `over ${spreadS} s` : 'at the same instant'}: ` +
    `lateness p50 ${fmt(Number(t.p50))} s, p99 ${fmt(Number(t.p99))} s, max ${fmt(Number(t.max))} s; ` +
    `${fmt(chargesPerSecond, 0)} charges/s over ${fmt(span, 1)} s; ` +
    `PaymentIntents ${intents}, Stripe charges ${stripeCharges}, duplicates ${duplicates}; ` +
    `emails ${smtp.messages.length - sentBefore} (${emailDuplicates} twice) all sent ${fmt(emailSpan, 1)} s after the first end`);
  return { chargesPerSecond, p50: Number(t.p50), p99: Number(t.p99), max: Number(t.max), duplicates, emailsPerSecond: 0 };
}

const chargeOnly = await phase('charges', 0, 'charge');
const burst = await phase('burst', 0);
const minute = SPREAD_S > 0 ? await phase('minute', SPREAD_S) : undefined;

console.log(`ratio      charge jobs alone: ${fmt(chargeOnly.chargesPerSecond / noopPerSecond)} × no-op jobs/s; ` +
  `through booking's end: ${fmt(burst.chargesPerSecond / noopPerSecond)} × (target ≥ 0.40); ` +
  `p99 lateness ${fmt(burst.p99)} s at once${minute ? `, ${fmt(minute.p99)} s over a minute` : ''} (target ≤ 10 s); ` +
  `duplicates ${chargeOnly.duplicates + burst.duplicates + (minute?.duplicates ?? 0)} (target 0)`);

worker.child.kill('SIGTERM');
await sleep(500);
await owner.end();
await smtp.close();
cleanup();
process.exit(0);
