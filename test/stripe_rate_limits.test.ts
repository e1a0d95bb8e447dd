// Stripe's rate limits: the emulator answers like Stripe above its limits
// (stripe-emulator/rate_limits.ts), the workers share one budget of calls a
// second (app_private.rate_budget_take, lib/stripe_budget.ts), and a 429 never
// becomes a failed payment or a second charge (tasks/reservation__charge.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Stripe from 'stripe';
import { createTestDb, type TestDb } from './helpers/db.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import type { SmtpSink } from './helpers/smtp_sink.ts';
import {
  completeAtEnd,
  confirmedReservation,
  startTestWorker,
  waitFor,
  startPaymentWorld,
  type PaymentWorld,
} from './helpers/payments.ts';
import { childEnv, spawnWorker } from './helpers/processes.ts';
import { takeStripeTurns } from '../lib/stripe_budget.ts';

let db: TestDb;
let emulator: StripeEmulator;
let smtp: SmtpSink;
let cards: PaymentWorld;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  cards = await startPaymentWorld(db);
  ({ emulator, smtp } = cards);
});

test.after(async () => {
  await cards?.close();
  await db?.close();
});

/** A raw API call (no SDK retries), to read the answer as Stripe would send it. */
const call = (path: string, init: RequestInit = {}) =>
  fetch(`${emulator.url}${path}`, { ...init, headers: { Authorization: 'Bearer sk_test_limits', ...init.headers } });

/**
 * `count` reservations with a confirmed card, completed: their charge jobs are
 * queued, one a reservation or (batch) as the due-work sweep queues them, in
 * batch jobs. Each job may run once (max_attempts 1): a job that spent an
 * attempt on a 429 would fail for good.
 */
async function completedReservations(count: number, batch = false): Promise<string[]> {
  emulator.setRateLimits({ profile: 'off' });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await confirmedReservation(cards, 'pm_card_visa', 900));
  for (const id of ids) await completeAtEnd(db, id);
  const keys = ids.map((id) => `reservation_charge:${id}`);
  if (batch) {
    await db.owner.query('delete from graphile_worker._private_jobs where key = any($1)', [keys]);
    // All of them in one batch job.
    await db.owner.query('select app_private.queue_charge_batches($1::bigint[], max_attempts => 1, batch_size => $2)', [
      ids,
      ids.length,
    ]);
  } else {
    await db.owner.query('update graphile_worker._private_jobs set max_attempts = 1 where key = any($1)', [keys]);
  }
  return ids;
}

async function allCharged(ids: string[], timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const { rows } = await db.owner.query(
        `select status, extract(epoch from succeeded_at)::float8 as at from app_private.charges where reservation_id = any($1::bigint[])`,
        [ids],
      );
      const {
        rows: [{ jobs }],
      } = await db.owner.query(
        `select count(*)::int as jobs from graphile_worker.jobs where task_identifier = 'reservation__charge'`,
      );
      return rows.length === ids.length && rows.every((r) => r.status === 'succeeded') && jobs === 0 ? rows : null;
    },
    timeoutMs,
    `${ids.length} charges`,
  );
}

/** PaymentIntents at the emulator per reservation (exactly one each: no double charge). */
function intentsPer(ids: string[]): number[] {
  return ids.map(
    (id) =>
      emulator.store.paymentIntents.all.filter((pi) => pi.metadata?.reservation_id === id && pi.status === 'succeeded')
        .length,
  );
}

test('emulator: above the global limit a request is answered 429 invalid_request_error rate_limit, without Stripe-Should-Retry, and does nothing', async () => {
  emulator.setRateLimits({ profile: 'off', global: 3 });
  const before = emulator.state();
  const answers = [];
  for (let i = 0; i < 4; i++)
    answers.push(
      await call('/v1/customers', { method: 'POST', body: new URLSearchParams({ email: `c${i}@example.test` }) }),
    );
  assert.equal(
    answers.map((a) => a.status),
    [200, 200, 200, 429],
  );
  const refused = answers[3]!;
  const body = (await refused.json()) as { error: { type: string; code: string; message: string } };
  assert.is(body.error.type, 'invalid_request_error');
  assert.is(body.error.code, 'rate_limit');
  assert.match(body.error.message, /rate limit/i);
  assert.is(refused.headers.get('stripe-should-retry'), null);
  const after = emulator.state();
  assert.is(after.customers - before.customers, 3, 'the refused request made no customer');
  assert.is(after.rate_limits.limited - before.rate_limits.limited, 1);
  // The SDK reports it as a rate limit and, as with Stripe, does not retry it.
  const sdk = new Stripe('sk_test_limits', { ...emulator.stripeConfig, maxNetworkRetries: 2 });
  const err = await sdk.customers.create({ email: 'sdk@example.test' }).catch((e: unknown) => e);
  assert.instance(err, Stripe.errors.StripeRateLimitError);
  assert.is(emulator.state().rate_limits.limited - after.rate_limits.limited, 1, 'one request, not retried');
  emulator.setRateLimits({ profile: 'off' });
});

test('emulator: the per-endpoint limit counts each method and route apart (every id on the same endpoint); the test profile is 25/s', async () => {
  emulator.setRateLimits({ profile: 'off', perEndpoint: 2 });
  const statuses = [];
  // Unknown ids: the limiter counts the call before the lookup answers 404.
  for (const id of ['cus_a', 'cus_b', 'cus_c']) statuses.push((await call(`/v1/customers/${id}`)).status);
  assert.equal(statuses, [404, 404, 429], 'GET /v1/customers/:id: two a second, whatever the id');
  assert.is.not(
    (await call('/v1/customers/cus_a', { method: 'DELETE' })).status,
    429,
    'DELETE /v1/customers/:id is another endpoint',
  );
  emulator.setRateLimits({ profile: 'test' });
  const limits = (await (await fetch(`${emulator.url}/_emulator/rate_limits`)).json()) as {
    limits: Record<string, number>;
  };
  assert.equal(limits.limits, { global: 25, perEndpoint: 25, concurrency: 25 });
  const bad = await fetch(`${emulator.url}/_emulator/rate_limits`, {
    method: 'POST',
    body: JSON.stringify({ global: -1 }),
  });
  assert.is(bad.status, 400);
  emulator.setRateLimits({ profile: 'off' });
});

test("emulator: the concurrency limit refuses a request while others are in flight; a lock_timeout fault carries Stripe-Should-Retry: true and the SDK retries it; a rate_limit fault is the limiters' 429, not retried", async () => {
  emulator.setRateLimits({ profile: 'off' });
  const slow = await (await import('../stripe-emulator/index.ts')).startStripeEmulator({
    rateLimits: { concurrency: 2 },
    latencyMs: 300,
  });
  try {
    const post = () =>
      fetch(`${slow.url}/v1/customers`, { method: 'POST', headers: { Authorization: 'Bearer sk_test_limits' } });
    const statuses = (await Promise.all([post(), post(), post()])).map((r) => r.status).sort();
    assert.equal(statuses, [200, 200, 429]);
  } finally {
    await slow.close();
  }
  emulator.addFault({ method: 'POST', path: '/v1/customers', mode: 'lock_timeout', count: 1 });
  const locked = await call('/v1/customers', { method: 'POST' });
  assert.is(locked.status, 429);
  assert.is(locked.headers.get('stripe-should-retry'), 'true');
  assert.is(((await locked.json()) as { error: { code: string } }).error.code, 'lock_timeout');
  emulator.addFault({ method: 'POST', path: '/v1/customers', mode: 'lock_timeout', count: 1 });
  const sdk = new Stripe('sk_test_limits', { ...emulator.stripeConfig, maxNetworkRetries: 1 });
  const customer = await sdk.customers.create({ email: 'retried@example.test' });
  assert.match(customer.id, /^cus_/);
  emulator.addFault({ method: 'POST', path: '/v1/customers', mode: 'rate_limit', count: 1 });
  const before = emulator.state().customers;
  const limited = await sdk.customers.create({ email: 'limited@example.test' }).catch((e: unknown) => e);
  assert.instance(limited, Stripe.errors.StripeRateLimitError);
  assert.is((limited as { code?: string }).code, 'rate_limit');
  assert.is(emulator.state().customers, before, 'the refused request created nothing');
});

test('budget: granted at once while tokens last, then per_second apart; calls beyond max_wait refused (nothing taken) with when to ask again; refilled over time', async () => {
  const take = async (at: string, calls = 1, maxWait = '150 milliseconds') => {
    const {
      rows: [r],
    } = await db.owner.query(
      `select waits, retry_after from app_private.rate_budget_take('test_budget', 10, 2, $1::interval, $2, $3::timestamptz)`,
      [maxWait, calls, at],
    );
    return {
      waits: (r.waits as number[]).map((w) => Math.round(w * 1000)),
      retryAfterMs: r.retry_after === null ? null : Math.round(r.retry_after * 1000),
    };
  };
  const t0 = '2026-12-01 18:00:00+00';
  // 10 a second, 2 at once: two now, the third after one token's time (100 ms), the fourth (200 ms) beyond max_wait.
  assert.equal(await take(t0, 4), { waits: [0, 0, 100], retryAfterMs: 200 });
  // Had the refused call taken a token, the next would wait 100 ms at +200 ms.
  assert.equal(
    await take('2026-12-01 18:00:00.2+00'),
    { waits: [0], retryAfterMs: null },
    'the refused call took nothing',
  );
  // A quiet minute refills to the burst, never beyond.
  assert.equal(await take('2026-12-01 18:01:00+00', 3, '0 seconds'), { waits: [0, 0], retryAfterMs: 100 });
  // A caller whose clock was read before the bucket's last update (it waited
  // for the row lock): its waits count from its own reading, so its call
  // leaves after the others' turns (18:01:00.1, one token's time after the
  // last), not 50 ms before it.
  assert.equal(await take('2026-12-01 18:00:59.95+00', 1, '1 second'), { waits: [150], retryAfterMs: null });
});

test('budget: callers refused one after another are told to come back one after another, after the turns promised before them', async () => {
  const take = async (calls: number) => {
    const {
      rows: [r],
    } = await db.owner.query(
      `select waits, retry_after from app_private.rate_budget_take('test_budget_herd', 10, 2, '0 seconds', $1, '2026-12-01 18:00:00+00')`,
      [calls],
    );
    return {
      granted: (r.waits as number[]).length,
      retryAfterMs: r.retry_after === null ? null : Math.round(r.retry_after * 1000),
    };
  };
  // 10 a second, 2 at once, no waiting: 2 of 5 granted, the other 3 back at the first free turn (+100 ms).
  assert.equal(await take(5), { granted: 2, retryAfterMs: 100 });
  // At the same instant: not back at +100 ms too (it would meet the first three
  // there and be refused with them), but after their 3 turns.
  assert.equal(await take(5), { granted: 0, retryAfterMs: 400 });
  assert.equal(await take(1), { granted: 0, retryAfterMs: 900 });
});

test('budget: a batch refused beyond max wait is asked to come back while the turns granted meanwhile last (half the longest wait before its first turn)', async () => {
  const answers: Array<{ waits: number[]; retry_after: number | null }> = [
    { waits: [0, 0.5], retry_after: 10.25 },
    { waits: [0, 0.5], retry_after: null },
  ];
  const asked: unknown[][] = [];
  const query = async (_text: string, values: unknown[]) => {
    asked.push(values);
    return { rows: [answers.shift()!] };
  };
  const budget = { perSecond: 4, burst: 1, maxWaitMs: 10_000 };
  const before = Date.now();
  const refused = await takeStripeTurns(query, budget, 3);
  assert.is(refused.leaveAtMs.length, 2, 'the two calls within max wait are granted');
  assert.is(refused.retryInMs, 5250, 'back 5 s before the first refused turn, not at it');
  // Granted turns are the asking clock plus the bucket's waits.
  const askedAt = Number(asked[0]![4]);
  assert.ok(askedAt >= before && askedAt <= Date.now());
  assert.equal(refused.leaveAtMs, [askedAt, askedAt + 500]);
  assert.is((await takeStripeTurns(query, budget, 2)).retryInMs, null);
});

test('a batch job of 14 without limits: every charge is sent once and recorded, the job done in one attempt', async () => {
  const ids = await completedReservations(14, true);
  const worker = await startTestWorker(db, { concurrency: 2 });
  try {
    await allCharged(ids, 30_000);
  } finally {
    await worker.stop();
  }
  assert.equal(
    intentsPer(ids),
    ids.map(() => 1),
  );
});

test('a batch paced by the budget records its successes as they come, in several statements, not all at its end', async () => {
  const ids = await completedReservations(6, true);
  process.env.STRIPE_RATE_LIMIT = '4'; // turns 250 ms apart: the batch's calls span 1.25 s
  const worker = await startTestWorker(db, { concurrency: 1 });
  let charged: Array<{ at: number }>;
  try {
    charged = await allCharged(ids, 30_000);
  } finally {
    await worker.stop();
    delete process.env.STRIPE_RATE_LIMIT;
  }
  // One recording statement, one succeeded_at (its transaction's now()).
  const statements = new Set(charged.map((c) => c.at));
  assert.ok(statements.size >= 2, `recorded in ${statements.size} statement(s)`);
  const times = charged.map((c) => c.at);
  assert.ok(Math.max(...times) - Math.min(...times) >= 0.5, 'the first successes were recorded before the last call');
  assert.equal(
    intentsPer(ids),
    ids.map(() => 1),
  );
});

test("a batch entry Stripe fails (500 after doing it, three times: the SDK's retries too) is retried alone with its key: one charge each, the others not sent again", async () => {
  const ids = await completedReservations(3, true);
  const requestsBefore = emulator.state().requests;
  emulator.addFault({ method: 'POST', path: '/v1/payment_intents', mode: 'error_after', count: 3 });
  const worker = await startTestWorker(db, { concurrency: 1 });
  try {
    await allCharged(ids, 30_000);
  } finally {
    await worker.stop();
    emulator.clearFaults();
  }
  assert.equal(
    intentsPer(ids),
    ids.map(() => 1),
    'the failed entry was done at Stripe once: its retry got the same PaymentIntent back',
  );
  // 3 first sends (one of them answered 500 three times by the SDK's own retries) + the entry's retry, alone.
  assert.is(emulator.state().requests - requestsBefore, 3 + 2 + 1);
});

for (const batch of [false, true]) {
  test(`a 429 reschedules the charge without spending an attempt (${batch ? 'one batch job of 14' : 'a job a reservation'}): every charge succeeds once, none fails, no job is left`, async () => {
    const ids = await completedReservations(batch ? 14 : 8, batch);
    const before = emulator.state().rate_limits.limited;
    emulator.setRateLimits({ profile: 'off', global: 2 });
    process.env.STRIPE_RATE_LIMIT = '0'; // no budget: the worker meets Stripe's 429s
    const worker = await startTestWorker(db, { concurrency: 4 });
    try {
      await allCharged(ids);
    } finally {
      await worker.stop();
      emulator.setRateLimits({ profile: 'off' });
      delete process.env.STRIPE_RATE_LIMIT;
    }
    assert.ok(emulator.state().rate_limits.limited > before, 'Stripe answered 429 at least once');
    assert.equal(
      intentsPer(ids),
      ids.map(() => 1),
      'one succeeded PaymentIntent per reservation',
    );
    const {
      rows: [r],
    } = await db.owner.query(
      `select (select count(*)::int from app_public.reservations where id = any($1::bigint[]) and status <> 'completed') as not_completed,
              (select count(*)::int from app_private.charges where reservation_id = any($1::bigint[]) and attempt <> 1) as later_attempts,
              (select count(*)::int from app_private.emails where template = 'payment_failed' and data->>'reservationId' = any($1::text[])) as failed_emails,
              (select count(*)::int from graphile_worker.jobs where task_identifier = 'reservation__charge') as jobs`,
      [ids],
    );
    assert.equal(r, { not_completed: 0, later_attempts: 0, failed_emails: 0, jobs: 0 });
  });
}

for (const requeue of ['after a 429 (charge_requeue)', 'for a retry (queue_reservation_jobs)']) {
  test(`a charge job queued again while it runs, ${requeue}, replaces its row: a worker that dies before completing it leaves no job failed for good`, async () => {
    const [id] = await completedReservations(1);
    const key = `reservation_charge:${id}`;
    // A worker took the job (as graphile-worker locks it) …
    const {
      rows: [running],
    } = await db.owner.query(
      `update graphile_worker._private_jobs set locked_at = now(), locked_by = 'dying-worker', attempts = attempts + 1
       where key = $1 returning max_attempts - attempts + 1 as left`,
      [key],
    );
    // … and queued the charge's next run (a 429, or a decline's retry) …
    if (requeue.includes('429'))
      await db.owner.query("select app_private.charge_requeue($1, now() + interval '1 hour', $2, 0)", [
        id,
        running.left,
      ]);
    else
      await db.owner.query(
        "select app_private.queue_reservation_jobs('reservation__charge', array[$1::bigint], now() + interval '1 hour', 5)",
        [id],
      );
    // … then died before completing it; the liveness sweep unlocks what it held.
    await db.owner.query(`select graphile_worker.force_unlock_workers(array['dying-worker'])`);
    const { rows } = await db.owner.query(
      `select key, attempts, locked_at from graphile_worker.jobs where task_identifier = 'reservation__charge'`,
    );
    assert.equal(rows, [{ key, attempts: 0, locked_at: null }], 'only the successor, no attempt spent');
    await db.owner.query('delete from graphile_worker._private_jobs where key = $1', [key]);
  });
}

test("two worker processes share one budget: together they stay under the emulator's limit (no 429) at the budget's pace", async () => {
  const ids = await completedReservations(16);
  // Setting them up called the emulator many times within the last second, and its window
  // counts every request: let them age out, so the limit judges the workers' calls alone.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  emulator.setRateLimits({ profile: 'off', global: 6 });
  const before = structuredClone(emulator.state().rate_limits);
  const env = childEnv(db.urls, emulator, smtp, { STRIPE_RATE_LIMIT: '4', WORKER_LIVENESS_SWEEP_MS: '600000' });
  const workers = await Promise.all([spawnWorker(env), spawnWorker(env)]);
  let charged: Array<{ at: number }>;
  try {
    charged = await allCharged(ids);
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    emulator.setRateLimits({ profile: 'off' });
  }
  const after = emulator.state().rate_limits;
  assert.is(after.limited - before.limited, 0, 'no call was refused');
  const perSecond = Object.entries(after.accepted_per_second)
    .map(([s, n]) => n - (before.accepted_per_second[s] ?? 0))
    .filter((n) => n > 0);
  assert.ok(Math.max(...perSecond) <= 6, `calls in any second ≤ the limit: ${perSecond.join(' ')}`);
  // 16 calls at 4 a second (one may go at once): they cannot all be done in under 3.5 s.
  const times = charged.map((c) => c.at);
  assert.ok(
    Math.max(...times) - Math.min(...times) >= 3.5,
    `the budget paced the calls: ${Math.max(...times) - Math.min(...times)} s`,
  );
  assert.equal(
    intentsPer(ids),
    ids.map(() => 1),
  );
});

test.run();
