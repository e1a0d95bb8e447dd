// The final charge of a completed reservation: an off-session PaymentIntent
// (confirm: true) for the amount booking locked on the reservation.
//
// Exactly once, whatever fails:
// - app_private.charge_prepare commits the charge row (unique per reservation)
//   and its idempotency key before Stripe is called;
// - a network error, timeout or 5xx throws: the job is retried by
//   graphile-worker with back-off and re-sends the same key, so Stripe returns
//   the first charge instead of making a second; the same holds when the
//   worker dies mid-call and the job runs again;
// - a decline or authentication_required is definitive for this attempt:
//   app_private.charge_failed marks the reservation payment_failed, emails a
//   pay link and schedules the next attempt (1 d, 3 d, 7 d; see
//   app_private.charge_retry_delay), which uses a new key;
// - a request Stripe refuses as such (invalid_request_error: an amount below
//   the currency's minimum, a card or customer gone; an idempotency key
//   reused with other parameters) fails the same way however often it is
//   sent: charge_failed(retryable => false) ends it at once, payment_failed
//   with the pay link, and no automatic retry;
// - Stripe forgets an idempotency key 24 hours after its first use, so a key
//   first sent that long ago (charge_prepare's lookUpFirst, an hour early)
//   no longer protects a re-send: the PaymentIntent the lost answer was about
//   is searched for by its metadata and customer and adopted when found;
//   only when there is none is the charge sent again.
//
// A batch (the end-of-day burst: an array payload) is prepared in one
// statement and its successes recorded in one; each charge still has its own
// key and its own outcome: graphile-worker retries only the entries that threw.
//
// Under Stripe's rate limit (lib/stripe_budget.ts): every call first takes its
// turn from the budget all worker processes share; a turn further off than
// STRIPE_RATE_MAX_WAIT_MS, or a 429 from Stripe (nothing was done there),
// reschedules the job without counting this attempt (charge_requeue) and with
// the same key, so it can neither become a failed payment nor a second charge.
import type { JobHelpers, Task } from 'graphile-worker';
import type Stripe from 'stripe';
import { stripeBudgetFromEnv, takeStripeTurns } from '../lib/stripe_budget.ts';
import {
  idOf,
  isCardError,
  isRateLimited,
  isRefusedRequest,
  stripeClient,
  stripeConfigFromEnv,
} from '../lib/stripe_client.ts';

export interface ReservationChargePayload {
  reservationId: number | string;
}
/** One reservation (keyed job reservation_charge:<id>), or a batch queued by the due-work sweep (app_private.queue_charge_batches). */
export type ReservationChargeJob = ReservationChargePayload | ReservationChargePayload[];

interface Prepared {
  action: 'skip' | 'charge' | 'no_card';
  reason?: string;
  chargeId: string;
  reservationId: string;
  attempt: number;
  amount: number;
  currency: string;
  idempotencyKey: string;
  customer: string;
  paymentMethod: string;
  lookUpFirst: boolean;
}

/** The off-session PaymentIntent of one charge attempt, as sent to Stripe (with `p.idempotencyKey`). */
export function chargeIntentParams(
  p: Pick<Prepared, 'amount' | 'currency' | 'customer' | 'paymentMethod' | 'reservationId' | 'attempt'>,
): Stripe.PaymentIntentCreateParams {
  return {
    amount: p.amount,
    currency: p.currency,
    customer: p.customer,
    payment_method: p.paymentMethod,
    off_session: true,
    confirm: true,
    description: `Secure My Spot reservation ${p.reservationId}`,
    metadata: { reservation_id: String(p.reservationId), charge_attempt: String(p.attempt) },
  };
}

/**
 * The PaymentIntent an earlier run of this attempt made, if Stripe has one
 * (searched: a lost answer left no id to retrieve). The customer belongs to
 * this database alone, so an equal reservation id elsewhere cannot match.
 */
async function earlierIntent(stripe: Stripe, p: Prepared): Promise<Stripe.PaymentIntent | null> {
  const found = await stripe.paymentIntents.search({
    query: `metadata['reservation_id']:'${p.reservationId}' AND metadata['charge_attempt']:'${p.attempt}' AND customer:'${p.customer}'`,
    limit: 10,
  });
  const intents = found.data.filter((pi) => pi.amount === p.amount);
  return intents.find((pi) => pi.status === 'succeeded') ?? intents.find((pi) => pi.status !== 'canceled') ?? null;
}

/** Rescheduled after a 429 when Stripe gave no better time: about a second, spread so the retries do not arrive together. */
const RATE_LIMITED_RETRY_MS = 1000;

/** Thrown when a Stripe call must wait for a later run of the job (the shared budget or a 429 said so). */
class NotNow extends Error {
  readonly retryInMs: number;
  constructor(retryInMs: number) {
    super('Stripe rate limit');
    this.retryInMs = retryInMs;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
/** How late a call may leave after its reserved turn and still use it. */
const LATE_MS = 50;

/** Turns for `calls` Stripe calls from the budget every worker process shares. */
function takeTurns(helpers: JobHelpers, calls: number) {
  return takeStripeTurns(
    (text, values) => helpers.query(text, values),
    stripeBudgetFromEnv(stripeConfigFromEnv()),
    calls,
  );
}

/**
 * One Stripe call, made at its turn: `leaveAt` (Date.now() ms) when the turn
 * was reserved with its batch, else one taken now from the shared budget.
 */
async function inTurn<T>(helpers: JobHelpers, call: () => Promise<T>, leaveAt?: number): Promise<T> {
  if (leaveAt !== undefined && leaveAt > Date.now()) await sleep(leaveAt - Date.now());
  // A reserved turn missed by more than LATE_MS (a busy process) would land
  // among later calls' turns and push that second over the limit: take a new one.
  if (leaveAt === undefined || Date.now() - leaveAt > LATE_MS) {
    const turn = await takeTurns(helpers, 1);
    if (turn.leaveAtMs.length === 0) throw new NotNow(turn.retryInMs ?? RATE_LIMITED_RETRY_MS);
    leaveAt = turn.leaveAtMs[0]!;
  }
  if (leaveAt > Date.now()) await sleep(leaveAt - Date.now());
  try {
    return await call();
  } catch (err) {
    if (isRateLimited(err)) throw new NotNow(RATE_LIMITED_RETRY_MS * (1 + Math.random()));
    throw err;
  }
}

/** What became of one prepared charge; a success is recorded by the caller (alone, or with its batch). */
type Outcome = { recorded: true } | { recorded: false; chargeId: string; attempt: number; paymentIntentId: string };

/**
 * The Stripe part of one charge: skip, no card, or the PaymentIntent (with its
 * key); every answer but a success is recorded here. Throws NotNow (nothing
 * was done at Stripe) or a transient error (retry with the same key).
 * `stripe`: the job's client, taken once a job: looking it up reads its
 * configuration from the environment again, about 3 µs a call (1–3 % of the
 * worker's time in the end-of-day burst).
 */
async function send(p: Prepared, helpers: JobHelpers, stripe: Stripe, leaveAt?: number): Promise<Outcome> {
  const { reservationId } = p;
  if (p.action === 'skip') {
    helpers.logger.debug(`reservation ${reservationId}: not charged (${p.reason})`);
    return { recorded: true };
  }
  if (p.action === 'no_card') {
    await helpers.query('select app_private.charge_failed($1, $2, $3, $4, null)', [
      p.chargeId,
      p.attempt,
      'no_payment_method',
      'No card was set up for this reservation',
    ]);
    return { recorded: true };
  }

  // Outside the try below: a search that fails is retried as a job, never
  // taken for the charge's own answer.
  // (A look-up first takes its own turns: its batch reserved one call.)
  let intent = p.lookUpFirst ? await inTurn(helpers, () => earlierIntent(stripe, p)) : null;
  if (intent)
    helpers.logger.info(
      `reservation ${reservationId}: adopted ${intent.id} (${intent.status}) instead of re-sending a key Stripe may have forgotten`,
    );
  try {
    intent ??= await inTurn(
      helpers,
      () => stripe.paymentIntents.create(chargeIntentParams(p), { idempotencyKey: p.idempotencyKey }),
      p.lookUpFirst ? undefined : leaveAt,
    );
  } catch (err) {
    if (isCardError(err)) {
      // Declined, or the bank wants the driver present (authentication_required).
      const pi = (err.raw as { payment_intent?: { id: string } } | undefined)?.payment_intent;
      await helpers.query('select app_private.charge_failed($1, $2, $3, $4, $5)', [
        p.chargeId,
        p.attempt,
        err.code ?? 'card_error',
        err.message,
        pi?.id ?? null,
      ]);
      helpers.logger.info(`reservation ${reservationId}: charge attempt ${p.attempt} failed (${err.code})`);
      return { recorded: true };
    }
    if (isRefusedRequest(err)) {
      await helpers.query('select app_private.charge_failed($1, $2, $3, $4, null, retryable => false)', [
        p.chargeId,
        p.attempt,
        err.code ?? err.rawType ?? 'invalid_request_error',
        err.message,
      ]);
      helpers.logger.error(
        `reservation ${reservationId}: Stripe refused charge attempt ${p.attempt} (${err.code ?? err.rawType}): ${err.message}`,
      );
      return { recorded: true };
    }
    // Anything else (network, timeout, 5xx, our own bug; NotNow): retry the
    // job with the same key.
    throw err;
  }

  if (intent.status === 'succeeded') {
    return { recorded: false, chargeId: p.chargeId, attempt: p.attempt, paymentIntentId: intent.id };
  }
  if (intent.status === 'processing') {
    await helpers.query('select app_private.charge_processing($1, $2, $3)', [p.chargeId, p.attempt, intent.id]);
  } else {
    // requires_action / requires_payment_method without an error: the same
    // as a decline needing the driver.
    // (An adopted intent that was declined carries the decline's code.)
    const code =
      intent.status === 'requires_action'
        ? 'authentication_required'
        : (intent.last_payment_error?.code ?? intent.status);
    await helpers.query('select app_private.charge_failed($1, $2, $3, $4, $5)', [
      p.chargeId,
      p.attempt,
      code,
      `PaymentIntent ${intent.status}`,
      idOf(intent.id),
    ]);
  }
  return { recorded: true };
}

/** Records successes: one statement however many. */
async function recordSucceeded(helpers: JobHelpers, outcomes: Outcome[]): Promise<void> {
  const succeeded = outcomes.filter((o) => !o.recorded);
  if (succeeded.length > 0)
    await helpers.query('select app_private.charges_succeeded($1::jsonb)', [JSON.stringify(succeeded)]);
}

/**
 * The same charges again later in one job, this attempt not counted (it did
 * nothing at Stripe): a reservation's keyed job, or a batch job.
 */
async function requeue(
  helpers: JobHelpers,
  reservationIds: Array<number | string>,
  retryInMs: number,
  batch: boolean,
): Promise<void> {
  const { job } = helpers;
  const left = job.max_attempts - job.attempts + 1;
  helpers.logger.debug(`${reservationIds.length} charge(s): Stripe's rate limit, again in ${Math.round(retryInMs)} ms`);
  if (batch) {
    await helpers.query(
      'select app_private.queue_charge_batches($1::bigint[], now() + make_interval(secs => $2 / 1000.0), $3, $4, $5)',
      [reservationIds, retryInMs, job.priority, left, reservationIds.length],
    );
  } else {
    await helpers.query('select app_private.charge_requeue($1, now() + make_interval(secs => $2 / 1000.0), $3, $4)', [
      reservationIds[0],
      retryInMs,
      left,
      job.priority,
    ]);
  }
}

async function chargeOne({ reservationId }: ReservationChargePayload, helpers: JobHelpers): Promise<void> {
  const {
    rows: [{ prepared }],
  } = await helpers.query<{ prepared: Prepared }>('select app_private.charge_prepare($1) as prepared', [reservationId]);
  try {
    await recordSucceeded(helpers, [await send(prepared, helpers, stripeClient())]);
  } catch (err) {
    if (!(err instanceof NotNow)) throw err;
    await requeue(helpers, [reservationId], err.retryInMs, false);
  }
}

/**
 * Successes recorded together: a recording statement costs about 0.9 ms
 * however few it records, about 0.1 ms more for each (so a batch recorded ten
 * at a time spent half its recording on the statements themselves; recorded
 * whole, the unlimited end-of-day burst ran 2–25 % faster in paired runs).
 * None is held longer than RECORD_WITHIN_MS, so a batch paced by the rate
 * limit still shows its first charges early.
 */
const RECORD_EVERY = 50;
const RECORD_WITHIN_MS = 500;

/**
 * Collects a batch's successes and records them, RECORD_EVERY at a time or
 * RECORD_WITHIN_MS after the first waiting one. `done` records the rest and
 * throws if any recording failed: successes that could not be recorded fail
 * the whole job, so every entry runs again (Stripe replays its answer to the key).
 */
function successRecorder(helpers: JobHelpers) {
  let waiting: Outcome[] = [];
  let timer: NodeJS.Timeout | undefined;
  const recording: Array<Promise<void>> = [];
  let failure: { error: unknown } | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const taken = waiting;
    waiting = [];
    // Caught at once (an unhandled rejection would end the process), rethrown by done().
    recording.push(
      recordSucceeded(helpers, taken).catch((error: unknown) => {
        failure ??= { error };
      }),
    );
  };
  return {
    add(outcome: Outcome) {
      if (outcome.recorded) return;
      waiting.push(outcome);
      if (waiting.length >= RECORD_EVERY) flush();
      else timer ??= setTimeout(flush, RECORD_WITHIN_MS);
    },
    async done() {
      flush();
      await Promise.all(recording);
      if (failure) throw failure.error;
    },
  };
}

/**
 * A batch: prepared together, the turns of its Stripe calls reserved together
 * (one budget statement), each call sent at its own turn (a call waits for
 * none of the others: one slow answer must not make the next call miss its
 * turn, which would waste it), successes recorded together (successRecorder).
 * Returns one promise per entry (graphile-worker's batch jobs): an entry that
 * threw is retried alone, with the same key. Entries whose turn is too far
 * off, or that met a 429, go back in one job, no attempt spent.
 */
async function chargeBatch(batch: ReservationChargePayload[], helpers: JobHelpers): Promise<Array<Promise<void>>> {
  const ids = batch.map((b) => b.reservationId);
  const { rows } = await helpers.query<{ prepared: Prepared }>(
    'select app_private.charges_prepare($1::bigint[]) as prepared',
    [ids],
  );
  const calling = rows.flatMap((r, i) => (r.prepared.action === 'charge' && !r.prepared.lookUpFirst ? [i] : []));
  const turns = await takeTurns(helpers, calling.length);
  const leaveAt = new Map(calling.slice(0, turns.leaveAtMs.length).map((i, k) => [i, turns.leaveAtMs[k]!]));
  let notNowMs = turns.retryInMs ?? 0;
  const results: Array<{ error?: unknown; notNow?: boolean }> = rows.map(() => ({}));
  const succeeded = successRecorder(helpers);
  const stripe = stripeClient();
  const entry = async (i: number) => {
    const p = rows[i]!.prepared;
    if (p.action === 'charge' && !p.lookUpFirst && !leaveAt.has(i)) {
      results[i] = { notNow: true };
      return;
    }
    try {
      succeeded.add(await send(p, helpers, stripe, leaveAt.get(i)));
    } catch (err) {
      if (err instanceof NotNow) {
        notNowMs = Math.max(notNowMs, err.retryInMs);
        results[i] = { notNow: true };
      } else {
        results[i] = { error: err };
      }
    }
  };
  await Promise.all(rows.map((_, i) => entry(i)));
  await succeeded.done();
  const later = ids.filter((_, i) => results[i]!.notNow);
  if (later.length > 0) await requeue(helpers, later, notNowMs, true);
  return results.map((r) => (r.error ? Promise.reject(r.error) : Promise.resolve()));
}

export const reservation__charge: Task = async (payload, helpers) => {
  const job = payload as ReservationChargeJob;
  if (Array.isArray(job)) return chargeBatch(job, helpers);
  await chargeOne(job, helpers);
};
