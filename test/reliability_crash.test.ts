// Restarts and crashes during a mixed load (issue 17, item 2), on a
// PostgreSQL cluster of the test's own (never the shared server): drivers
// book, set up cards and end their stays through an API process while the
// API is killed and restarted, the worker is killed and restarted, and
// PostgreSQL is stopped with `immediate` (a crash) and started again.
// Afterwards: no booking answered as accepted is lost, every queued charge
// and email went out (audit), clients got answers (errors while the database
// was away), never hangs, and API and worker came back by themselves. The
// emails delivered twice under one Message-ID after the crashes are counted
// and printed (WORKER_SYNCHRONOUS_COMMIT decides the worker's commits).
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { startEmulator } from './helpers/payments.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { freePort } from './helpers/free_port.ts';
import { childEnv, spawnApi, spawnWorker, type ApiChild, type Child } from './helpers/processes.ts';
import { codeOf, endNow, reserveGuest, setUpCard } from './helpers/driver_client.ts';
import { audit, NO_VIOLATIONS, waitQuiet } from './helpers/ledger.ts';
import { createCluster, type Cluster } from './helpers/pg_cluster.ts';
import { dbUrls } from '../lib/db_urls.ts';
import { createRate, createSpot } from './helpers/spots.ts';

const FULL = process.env.RELIABILITY_SIZE === 'full';
const CLIENTS = FULL ? 8 : 3;
const CRASHES = FULL ? 3 : 1;

/** A request not answered in this long is a hang. */
const HANG_MS = 20_000;

let cluster: Cluster;
let owner: pg.Pool;
let emulator: StripeEmulator;
let smtp: SmtpSink;
let api: ApiChild;
let worker: Child;
let env: NodeJS.ProcessEnv;

test.before(async () => {
  // A free port unless one is given: several test runs may run this file at once.
  cluster = createCluster(Number(process.env.RELIABILITY_PG_PORT ?? (await freePort())));
  const urls = dbUrls({ ROOT_DATABASE_URL: cluster.rootUrl }, 'sms_crash');
  // The project's provisioning and committed migrations, as npm run db:migrate runs them.
  execFileSync(process.execPath, [new URL('../cli/main.ts', import.meta.url).pathname, 'db:migrate'], {
    env: { ...process.env, ROOT_DATABASE_URL: cluster.rootUrl, DATABASE_URL: urls.owner, LOG_LEVEL: 'warn' },
    stdio: 'pipe',
  });
  owner = new pg.Pool({ connectionString: urls.owner, max: 4 });
  owner.on('error', () => {});
  emulator = await startEmulator();
  smtp = await startSmtpSink();
  env = childEnv(urls, emulator, smtp, { WORKER_LIVENESS_SWEEP_MS: '2000', STRIPE_TIMEOUT_MS: '3000' });
  api = await spawnApi(env);
  worker = await spawnWorker(env);
});

test.after(async () => {
  await api?.kill('SIGKILL');
  await worker?.kill('SIGKILL');
  await owner?.end().catch(() => {});
  await emulator?.close();
  await smtp?.close();
  cluster?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('API, worker and PostgreSQL crash during load: nothing accepted is lost, nothing hangs, emails and charges go out', async () => {
  const rate = await createRate({ owner }, { hourlyPrice: 600 });
  const spots = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) =>
      createSpot({ owner }, { lat: 40.7 + i * 0.001, lng: -73.95, rateId: rate }),
    ),
  );
  const accepted: string[] = [];
  const figures = {
    requests: 0,
    errors: 0,
    hangs: 0,
    slowestErrorMs: 0,
    crashes: 0,
    apiRestarts: 0,
    workerRestarts: 0,
  };
  let running = true;
  const events: Array<{ what: string; at: number }> = [];
  const timed = async <T>(call: () => Promise<T & { errors?: unknown }>) => {
    const t0 = Date.now();
    const a = await call();
    figures.requests++;
    if (a.errors) {
      figures.errors++;
      const ms = Date.now() - t0;
      figures.slowestErrorMs = Math.max(figures.slowestErrorMs, ms);
      if (codeOf(a as never) === 'TRANSPORT' && ms >= HANG_MS - 100) figures.hangs++;
    }
    return a;
  };
  const load = spots.map(async (spot, c) => {
    for (let n = 0; running; n++) {
      const booked = await timed(() => reserveGuest(api.url, spot, new Date(), 60, `crash${c}.${n}@example.test`));
      if (booked.errors) {
        await sleep(200);
        continue;
      }
      const { rowId } = booked.data.reserve.result.reservation;
      const token = booked.data.reserve.result.manageToken;
      accepted.push(rowId);
      // Card and end: retried until they go through, so every accepted stay ends and is charged.
      while ((await timed(() => setUpCard(api.url, emulator, rowId, token))).errors && running) await sleep(300);
      for (;;) {
        const ended = await timed(() => endNow(api.url, rowId, token));
        if (!ended.errors || ['SMB07'].includes(codeOf(ended)!)) break;
        await sleep(300);
      }
    }
  });

  for (let i = 0; i < CRASHES; i++) {
    await sleep(4000);
    cluster.stop('immediate');
    events.push({ what: 'PostgreSQL crash', at: Date.now() });
    figures.crashes++;
    await sleep(3000);
    cluster.start();
    await sleep(4000);
    await api.kill('SIGKILL');
    events.push({ what: 'API kill', at: Date.now() });
    api = await spawnApi(env, api.port);
    figures.apiRestarts++;
    await sleep(3000);
    await worker.kill('SIGKILL');
    events.push({ what: 'worker kill', at: Date.now() });
    worker = await spawnWorker(env);
    figures.workerRestarts++;
  }
  await sleep(3000);
  running = false;
  await Promise.all(load);

  await waitQuiet(owner);
  const { rows } = await owner.query('select id::text from app_public.reservations where id = any($1::bigint[])', [
    accepted,
  ]);
  const { violations, figures: done } = await audit(owner, emulator, smtp);
  console.log(
    `reliability_crash (${FULL ? 'full' : 'reduced'}, WORKER_SYNCHRONOUS_COMMIT=${env.WORKER_SYNCHRONOUS_COMMIT ?? 'off'}): ` +
      `${figures.requests} requests, ${figures.errors} answered with an error, slowest error ${figures.slowestErrorMs} ms, ${figures.hangs} hangs; ` +
      `${figures.crashes} PostgreSQL crashes, ${figures.apiRestarts} API and ${figures.workerRestarts} worker restarts; ` +
      `${accepted.length} bookings accepted, ${accepted.length - rows.length} lost; ${done.completed} completed, ${done.charged} charged, ` +
      `${done.emails} emails, ${done.redeliveries} delivered twice under one Message-ID`,
  );
  // Each email delivered twice, by the fault between its two deliveries.
  const firstAt = new Map<string, number>();
  const twiceAfter: Record<string, number> = {};
  for (const m of smtp.messages) {
    if (!m.emailId) continue;
    const first = firstAt.get(m.emailId);
    if (first === undefined) {
      firstAt.set(m.emailId, m.at);
      continue;
    }
    const cause =
      events
        .filter((e) => e.at >= first - 1000 && e.at <= m.at)
        .map((e) => e.what)
        .join(' + ') || 'no fault';
    twiceAfter[cause] = (twiceAfter[cause] ?? 0) + 1;
  }
  console.log(`delivered twice, by the fault between the deliveries: ${JSON.stringify(twiceAfter)}`);
  assert.is(twiceAfter['PostgreSQL crash'] ?? 0, 0, 'a database crash re-sends no email');
  assert.is(rows.length, accepted.length, 'every accepted booking is in the database');
  assert.is(figures.hangs, 0, 'clients get answers, not hangs');
  assert.equal(violations, NO_VIOLATIONS);
  assert.ok(accepted.length > CLIENTS, 'bookings were accepted after the restarts too');
});

test.run();
