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
// Under Stripe's rate limit (lib/stripe_budget.ts): every call first takes its
// turn from the budget all worker processes share; a turn further off than
// STRIPE_RATE_MAX_WAIT_MS, or a 429 from Stripe (nothing was done there),
// reschedules the job without counting this attempt (charge_requeue) and with
// the same key, so it can neither become a failed payment nor a second charge.
import type { JobHelpers, Task } from 'graphile-worker';
import type Stripe from 'stripe';
import { stripeBudgetFromEnv, takeStripeTurn } from '../lib/stripe_budget.ts';
import { idOf, isCardError, isRateLimited, isRefusedRequest, stripeClient, stripeConfigFromEnv } from '../lib/stripe_client.ts';

export interface ReservationChargePayload {
  reservationId: number | string;
}

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

/**
 * The PaymentIntent an earlier run of this attempt made, if Stripe has one
 * (searched: a lost answer left no id to retrieve). The customer belongs to
 * this database alone, so an equal reservation id elsewhere cannot match.
 */
async function earlierIntent(p: Prepared): Promise<Stripe.PaymentIntent | null> {
  const found = await stripeClient().paymentIntents.search({
    query: `metadata['reservation_id']:'${p.reservationId}' AND metadata['charge_attempt']:'${p.attempt}' AND customer:'${p.customer}'`,
    limit: 10,
  });
  const intents = found.data.filter((pi) => pi.amount === p.amount);
  return intents.find((pi) => pi.status === 'succeeded') ?? intents.find((pi) => pi.status !== 'canceled') ?? null;
}

/** Rescheduled after a 429 when Stripe gave no better time: about a second, spread so the retries do not arrive together. */
const RATE_LIMITED_RETRY_MS = 1000;

/** Thrown (and caught below) when a Stripe call must wait for a later run of the job. */
class NotNow extends Error {
  readonly retryInMs: number;
  constructor(retryInMs: number) {
    super('Stripe rate limit');
    this.retryInMs = retryInMs;
  }
}

/** One Stripe call, made when the shared budget gives it its turn. */
async function inTurn<T>(helpers: JobHelpers, call: () => Promise<T>): Promise<T> {
  const config = stripeConfigFromEnv();
  const turn = await takeStripeTurn((text, values) => helpers.query(text, values), stripeBudgetFromEnv(config));
  if (!turn.granted) throw new NotNow(turn.retryInMs);
  try {
    return await call();
  } catch (err) {
    if (isRateLimited(err)) throw new NotNow(RATE_LIMITED_RETRY_MS * (1 + Math.random()));
    throw err;
  }
}

/** The same job again later, this attempt not counted (it did nothing at Stripe). */
async function requeue(helpers: JobHelpers, reservationId: number | string, retryInMs: number): Promise<void> {
  const { job } = helpers;
  await helpers.query('select app_private.charge_requeue($1, now() + make_interval(secs => $2 / 1000.0), $3, $4)',
    [reservationId, retryInMs, job.max_attempts - job.attempts + 1, job.priority]);
}

export const reservation__charge: Task = async (payload, helpers) => {
  try {
    await charge(payload as ReservationChargePayload, helpers);
  } catch (err) {
    if (!(err instanceof NotNow)) throw err;
    helpers.logger.debug(`reservation ${(payload as ReservationChargePayload).reservationId}: Stripe's rate limit, again in ${Math.round(err.retryInMs)} ms`);
    await requeue(helpers, (payload as ReservationChargePayload).reservationId, err.retryInMs);
  }
};

async function charge(payload: ReservationChargePayload, helpers: JobHelpers): Promise<void> {
  const { reservationId } = payload;
  const { rows: [{ prepared }] } = await helpers.query<{ prepared: Prepared }>(
    'select app_private.charge_prepare($1) as prepared', [reservationId]);
  const p = prepared;
  if (p.action === 'skip') {
    helpers.logger.debug(`reservation ${reservationId}: not charged (${p.reason})`);
    return;
  }
  if (p.action === 'no_card') {
    await helpers.query('select app_private.charge_failed($1, $2, $3, $4, null)',
      [p.chargeId, p.attempt, 'no_payment_method', 'No card was set up for this reservation']);
    return;
  }

  // Outside the try below: a search that fails is retried as a job, never
  // taken for the charge's own answer.
  let intent = p.lookUpFirst ? await inTurn(helpers, () => earlierIntent(p)) : null;
  if (intent) helpers.logger.info(`reservation ${reservationId}: adopted ${intent.id} (${intent.status}) instead of re-sending a key Stripe may have forgotten`);
  try {
    intent ??= await inTurn(helpers, () => stripeClient().paymentIntents.create({
      amount: p.amount,
      currency: p.currency,
      customer: p.customer,
      payment_method: p.paymentMethod,
      off_session: true,
      confirm: true,
      description: `Secure My Spot reservation ${p.reservationId}`,
      metadata: { reservation_id: String(p.reservationId), charge_attempt: String(p.attempt) },
    }, { idempotencyKey: p.idempotencyKey }));
  } catch (err) {
    if (isCardError(err)) {
      // Declined, or the bank wants the driver present (authentication_required).
      const pi = (err.raw as { payment_intent?: { id: string } } | undefined)?.payment_intent;
      await helpers.query('select app_private.charge_failed($1, $2, $3, $4, $5)',
        [p.chargeId, p.attempt, err.code ?? 'card_error', err.message, pi?.id ?? null]);
      helpers.logger.info(`reservation ${reservationId}: charge attempt ${p.attempt} failed (${err.code})`);
      return;
    }
    if (isRefusedRequest(err)) {
      await helpers.query('select app_private.charge_failed($1, $2, $3, $4, null, retryable => false)',
        [p.chargeId, p.attempt, err.code ?? err.rawType ?? 'invalid_request_error', err.message]);
      helpers.logger.error(`reservation ${reservationId}: Stripe refused charge attempt ${p.attempt} (${err.code ?? err.rawType}): ${err.message}`);
      return;
    }
    // Anything else (network, timeout, 5xx, our own bug): retry the job with
    // the same key. (A rate limit is NotNow, handled by the caller.)
    throw err;
  }

  if (intent.status === 'succeeded') {
    await helpers.query('select app_private.charge_succeeded($1, $2, $3)', [p.chargeId, p.attempt, intent.id]);
  } else if (intent.status === 'processing') {
    await helpers.query('select app_private.charge_processing($1, $2, $3)', [p.chargeId, p.attempt, intent.id]);
  } else {
    // requires_action / requires_payment_method without an error: the same
    // as a decline needing the driver.
    // (An adopted intent that was declined carries the decline's code.)
    const code = intent.status === 'requires_action' ? 'authentication_required' : intent.last_payment_error?.code ?? intent.status;
    await helpers.query('select app_private.charge_failed($1, $2, $3, $4, $5)',
      [p.chargeId, p.attempt, code, `PaymentIntent ${intent.status}`, idOf(intent.id)]);
  }
}
