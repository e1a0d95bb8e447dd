// No double booking and exactly-once money and email, together (issue 17,
// item 1). fast-check generates a program: per client a list of operations
// (reserve on a few hot spots now or later, set up a card and confirm, change
// the end, end now, cancel, let the hold expire; each client also starts with a
// stay from now with its card set up and finishes by ending its running stays,
// so every run completes and charges) and a fault schedule keyed to
// the operation count (Stripe emulator faults: 500 before/after the operation,
// timeouts, 429 lock_timeout and rate_limit; SMTP answering 421 after taking the message; the worker process
// killed with SIGKILL and started again). The clients run at once through the
// API; a model per reservation predicts each answer (accepted or which code)
// and the final state. Afterwards the audit (test/helpers/ledger.ts) counts
// overlaps, charges not exactly once (database and emulator), emails lost or
// duplicated and work left behind: all must be 0, and every reservation must
// have exactly the emails its history calls for.
//
// Size: npm test runs a small program; RELIABILITY_SIZE=full (npm run
// test:reliability) a large one. A failure prints the seed and path;
// RELIABILITY_SEED=<seed> [RELIABILITY_PATH=<path>] replays it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { startEmulator, waitFor } from './helpers/payments.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import type { FaultMode } from '../stripe-emulator/index.ts';
import { childEnv, spawnApi, spawnWorker, type ApiChild, type Child } from './helpers/processes.ts';
import { cancel, changeEnd, codeOf, endNow, reserveGuest, setUpCard, type Answer } from './helpers/driver_client.ts';
import { audit, NO_VIOLATIONS, waitQuiet } from './helpers/ledger.ts';

const FULL = process.env.RELIABILITY_SIZE === 'full';
const SIZE = FULL
  ? { runs: 3, clients: 10, ops: 14, spots: 3, faults: 30, kills: 6, drops: 10 }
  : { runs: 1, clients: 4, ops: 8, spots: 2, faults: 6, kills: 2, drops: 3 };

type Status = 'held' | 'confirmed' | 'completed' | 'cancelled' | 'expired' | 'payment_failed';
interface Modelled {
  id: string;
  token: string;
  status: Status;
  startsNow: boolean;
  startsAt: Date;
  /** As the API last answered it. */
  endsAt: number;
  /** Templates the reservation's history calls for, in order. */
  emails: string[];
}

type Op =
  | { kind: 'reserve'; spot: number; slot: number; minutes: number }
  | { kind: 'confirm' | 'endNow' | 'cancel' | 'expireHold'; pick: number }
  | { kind: 'changeEnd'; pick: number; minutes: number };

const opArb = (spots: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        spot: fc.nat(spots - 1),
        slot: fc.constantFrom(0, 0, 1, 2, 3),
        minutes: fc.constantFrom(30, 60, 90),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('confirm' as const), pick: fc.nat(2) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('changeEnd' as const),
        pick: fc.nat(2),
        minutes: fc.constantFrom(30, 60, 120),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constantFrom('endNow' as const, 'cancel' as const, 'expireHold' as const),
        pick: fc.nat(2),
      }),
    },
  );

const FAULT_PATHS = ['/v1/customers', '/v1/setup_intents', '/v1/setup_intents/*', '/v1/payment_intents'];
const faultArb = fc.record({
  at: fc.nat(),
  path: fc.constantFrom(...FAULT_PATHS),
  // 429s too: lock_timeout (the SDK retries it) and rate_limit (nothing done, not retried by the SDK).
  mode: fc.constantFrom<FaultMode>('error_before', 'error_after', 'timeout', 'lock_timeout', 'rate_limit'),
});

const programArb: fc.Arbitrary<Program> = fc.record({
  clients: fc.array(fc.array(opArb(SIZE.spots), { minLength: SIZE.ops, maxLength: SIZE.ops }), {
    minLength: SIZE.clients,
    maxLength: SIZE.clients,
  }),
  faults: fc.array(faultArb, { maxLength: SIZE.faults }),
  kills: fc.array(fc.nat(), { minLength: 1, maxLength: SIZE.kills }),
  drops: fc.array(fc.nat(), { maxLength: SIZE.drops }),
});
interface Program {
  clients: Op[][];
  faults: Array<{ at: number; path: string; mode: FaultMode }>;
  kills: number[];
  drops: number[];
}

let db: TestDb;
let emulator: StripeEmulator;
let smtp: SmtpSink;
let api: ApiChild;
let worker: Child;
let env: NodeJS.ProcessEnv;
const totals = { operations: 0, accepted: 0, refused: 0, stripeFaults: 0, stripe429s: 0, workerKills: 0, smtpDrops: 0 };

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  smtp = await startSmtpSink();
  // Short Stripe timeouts so a held socket fails fast; no webhook: only confirmReservationPayment confirms.
  env = childEnv(db.urls, emulator, smtp, {
    STRIPE_TIMEOUT_MS: '1500',
    STRIPE_MAX_NETWORK_RETRIES: '1',
    WORKER_LIVENESS_SWEEP_MS: '2000',
  });
  api = await spawnApi(env);
  worker = await spawnWorker(env);
});

test.after(async () => {
  await api?.kill('SIGTERM');
  await worker?.kill('SIGKILL');
  await emulator?.close();
  await smtp?.close();
  await db?.close();
});

async function statusOf(id: string): Promise<Status> {
  return (await db.owner.query('select status::text from app_public.reservations where id = $1', [id])).rows[0].status;
}

/** Runs one program against the running system; throws on the first answer the model did not predict. */
async function runProgram(program: Program, spotIds: string[], ownSpots: string[]): Promise<Modelled[]> {
  const all: Modelled[] = [];
  const total = SIZE.clients * SIZE.ops;
  const at = (n: number) => n % total;
  const faultsAt = new Map<number, Program['faults']>();
  for (const f of program.faults) faultsAt.set(at(f.at), [...(faultsAt.get(at(f.at)) ?? []), f]);
  const killsAt = new Set(program.kills.map(at));
  const dropsAt = new Set(program.drops.map(at));
  const later = new Date(Math.ceil((Date.now() + 2 * 3_600_000) / 3_600_000) * 3_600_000);
  let counter = 0;
  let restarting: Promise<void> = Promise.resolve();

  const inject = (n: number) => {
    for (const f of faultsAt.get(n) ?? []) {
      emulator.addFault({ method: 'POST', path: f.path, mode: f.mode, count: 1 });
      totals.stripeFaults++;
      if (f.mode === 'lock_timeout' || f.mode === 'rate_limit') totals.stripe429s++;
    }
    if (dropsAt.has(n)) {
      smtp.dropNext(1);
      totals.smtpDrops++;
    }
    if (killsAt.has(n)) {
      totals.workerKills++;
      restarting = restarting.then(async () => {
        await worker.kill('SIGKILL');
        worker = await spawnWorker(env);
      });
    }
  };

  const expect = (what: string, answer: Answer, code: string | null) => {
    const got = codeOf(answer);
    if (got !== code)
      throw new Error(
        `${what}: expected ${code ?? 'success'}, got ${got} ${JSON.stringify(answer.errors ?? answer.data)}`,
      );
    if (code === null) totals.accepted++;
    else totals.refused++;
  };

  await Promise.all(
    program.clients.map(async (generated, c) => {
      const mine: Modelled[] = [];
      // Every client also books a stay that starts now and sets up its card
      // first, and at the end ends every stay of its own that is still running:
      // so each run completes and charges under the faults, not only the runs
      // whose random draw happens to line reserve, confirm and end up.
      const ops: Op[] = [
        { kind: 'reserve', spot: 0, slot: 0, minutes: 60 },
        { kind: 'confirm', pick: 0 },
        ...generated,
      ];
      const finish = () =>
        mine.flatMap((m, i): Op[] =>
          m.startsNow && (m.status === 'held' || m.status === 'confirmed')
            ? [{ kind: 'endNow', pick: mine.length - 1 - i }]
            : [],
        );
      let finished = false;
      for (let i = 0; ; i++) {
        if (i === ops.length && !finished) {
          finished = true;
          ops.push(...finish());
        }
        const op = ops[i];
        if (!op) break;
        inject(counter++);
        totals.operations++;
        if (op.kind === 'reserve') {
          const startsNow = op.slot === 0;
          const startsAt = startsNow ? new Date() : new Date(later.getTime() + (op.slot - 1) * 45 * 60_000);
          // Later windows on the shared hot spots (contention); now on the client's own spot, so stays can start, end and be charged.
          const spot = startsNow ? ownSpots[c]! : spotIds[op.spot]!;
          const a = await reserveGuest(
            api.url,
            spot,
            startsAt,
            op.minutes,
            `c${c}.${mine.length}.${process.pid}@example.test`,
          );
          // Other clients hold the same hot spots: taken is an answer the model cannot order, both are allowed.
          if (codeOf(a) === 'SMB01') {
            totals.refused++;
            continue;
          }
          expect('reserve', a, null);
          const r = a.data.reserve.result;
          const m: Modelled = {
            id: r.reservation.rowId,
            token: r.manageToken,
            status: 'held',
            startsNow,
            startsAt,
            endsAt: Date.parse(r.reservation.endsAt),
            emails: ['reservation_held'],
          };
          mine.push(m);
          all.push(m);
          continue;
        }
        // pick 0 is the client's newest reservation, 1 the one before, …: most operations follow up.
        const m = mine.length > 0 ? mine[mine.length - 1 - (op.pick % mine.length)]! : undefined;
        if (!m) continue;
        const open = m.status === 'held' || m.status === 'confirmed';
        if (op.kind === 'confirm') {
          if (m.status !== 'held') continue;
          // Stripe may fail any step (SMP04 or the browser's call): the driver tries again, up to 5 times.
          let a: Answer = {};
          for (let i = 0; i < 5; i++) {
            a = await setUpCard(api.url, emulator, m.id, m.token);
            if (!a.errors) break;
            if (!['SMP04', 'BROWSER'].includes(codeOf(a)!)) break;
          }
          if (a.errors && ['SMP04', 'BROWSER'].includes(codeOf(a)!)) {
            totals.refused++;
            continue;
          }
          expect(`confirm ${m.id}`, a, null);
          m.status = 'confirmed';
          m.emails.push('reservation_confirmed');
        } else if (op.kind === 'changeEnd') {
          const a = await changeEnd(
            api.url,
            m.id,
            m.token,
            new Date(Math.max(m.startsAt.getTime(), Date.now()) + op.minutes * 60_000),
          );
          if (!open) {
            expect(`changeEnd ${m.id} (${m.status})`, a, 'SMB07');
            continue;
          }
          if (codeOf(a) === 'SMB01') {
            totals.refused++;
            continue;
          }
          expect(`changeEnd ${m.id}`, a, null);
          // The same end again changes nothing, and says nothing.
          const endsAt = Date.parse(a.data.changeReservationEnd.result.reservation.endsAt);
          if (endsAt !== m.endsAt) m.emails.push('reservation_changed');
          m.endsAt = endsAt;
        } else if (op.kind === 'endNow') {
          const a = await endNow(api.url, m.id, m.token);
          if (!open) {
            expect(`endNow ${m.id} (${m.status})`, a, 'SMB07');
            continue;
          }
          if (!m.startsNow) {
            expect(`endNow ${m.id} (not started)`, a, 'SMB09');
            continue;
          }
          expect(`endNow ${m.id}`, a, null);
          // No card (still held): it expires as its end would expire it, and nothing is charged.
          m.emails.push(m.status === 'held' ? 'reservation_expired' : 'reservation_ended');
          if (m.status !== 'held') m.emails.push('receipt');
          m.status = m.status === 'held' ? 'expired' : 'completed';
        } else if (op.kind === 'cancel') {
          const a = await cancel(api.url, m.id, m.token);
          if (!open) {
            expect(`cancel ${m.id} (${m.status})`, a, 'SMB07');
            continue;
          }
          if (m.startsNow) {
            expect(`cancel ${m.id} (started)`, a, 'SMB09');
            continue;
          }
          expect(`cancel ${m.id}`, a, null);
          m.status = 'cancelled';
          m.emails.push('reservation_cancelled');
        } else if (op.kind === 'expireHold') {
          if (m.status !== 'held') continue;
          // The 15 minutes pass: the deadline moved to now; the sweep (whichever worker is alive) expires it.
          await db.owner.query(
            `update app_public.reservations set hold_expires_at = now() where id = $1 and status = 'held'`,
            [m.id],
          );
          await waitFor(async () => (await statusOf(m.id)) === 'expired', 60_000, `hold of ${m.id} expired`);
          m.status = 'expired';
          m.emails.push('reservation_expired');
        }
      }
    }),
  );
  await restarting;
  return all;
}

test('random operations from many clients on hot spots, with Stripe, SMTP and worker faults: the model holds and nothing is charged or emailed twice', async () => {
  const rate = await createRate(db, { hourlyPrice: 600 });
  const seed = process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : undefined;
  const path = process.env.RELIABILITY_PATH;
  let run = 0;
  const result = await fc.check(
    fc.asyncProperty(programArb, async (program) => {
      run++;
      const spotIds = await Promise.all(
        Array.from({ length: SIZE.spots }, (_, i) =>
          createSpot(db, { lat: 40.7 + run * 0.01 + i * 0.001, lng: -73.95, rateId: rate }),
        ),
      );
      const ownSpots = await Promise.all(
        Array.from({ length: SIZE.clients }, (_, i) =>
          createSpot(db, { lat: 40.6 + run * 0.01 + i * 0.001, lng: -73.95, rateId: rate }),
        ),
      );
      const modelled = await runProgram(program, spotIds, ownSpots);
      emulator.clearFaults();
      await waitQuiet(db.owner);
      const { violations } = await audit(db.owner, emulator, smtp);
      assert.equal(violations, NO_VIOLATIONS);
      for (const m of modelled) {
        assert.is(await statusOf(m.id), m.status, `reservation ${m.id}: status`);
        const { rows } = await db.owner.query(
          `select id::text, template from app_private.emails where data->>'reservationId' = $1 order by id`,
          [m.id],
        );
        const delivered = rows
          .filter((e) => smtp.messages.some((msg) => msg.emailId === e.id))
          .map((e) => e.template)
          .sort();
        assert.equal(delivered, [...m.emails].sort(), `reservation ${m.id}: emails delivered`);
      }
    }),
    { numRuns: SIZE.runs, seed, path, endOnFailure: true, interruptAfterTimeLimit: FULL ? 1_500_000 : 240_000 },
  );
  const { figures } = await audit(db.owner, emulator, smtp);
  console.log(
    `reliability_model (${FULL ? 'full' : 'reduced'}): seed ${result.seed}, ${result.numRuns} runs, ${totals.operations} operations ` +
      `(${totals.accepted} accepted, ${totals.refused} refused as the model said), faults: ${totals.stripeFaults} Stripe (${totals.stripe429s} of them 429s), ` +
      `${totals.workerKills} worker kills, ${totals.smtpDrops} SMTP drops; ${figures.reservations} reservations, ${figures.completed} completed, ` +
      `${figures.charged} charged, ${figures.emails} emails, ${figures.redeliveries} redelivered under the same Message-ID`,
  );
  if (result.failed) {
    const cause = result.errorInstance as (Error & { details?: string }) | undefined;
    throw new Error(
      `${cause?.message ?? String(result.errorInstance)}\n${cause?.details ?? ''}\nReplay: RELIABILITY_SEED=${result.seed} RELIABILITY_PATH=${result.counterexamplePath ?? ''}\n${(fc.defaultReportMessage(result) ?? '').slice(0, 4000)}`,
    );
  }
});

test.run();
