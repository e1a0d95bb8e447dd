// The budget of Stripe calls a second that every worker process shares
// (app_private.rate_budgets, migrations/fixtures/rate_budgets.sql): N workers
// together stay under Stripe's account-wide limit instead of each under it.
//   STRIPE_RATE_LIMIT        calls a second for all workers together; 0 = no budget.
//                            Default: none against the emulator, 90 with a
//                            live key and 20 with a test key at real Stripe
//                            (under its 100 and 25, leaving room for the API's
//                            own calls: card set-up, webhooks' look-ups)
//   STRIPE_RATE_MAX_WAIT_MS  the longest a call waits for its turn before its job is
//                            rescheduled instead (default 10000: a burst's calls
//                            queue for their turns in the worker, paced exactly)
import { intVar } from './env.ts';
import { isRealStripe, type StripeConfig } from './stripe_client.ts';

export interface StripeBudget {
  perSecond: number;
  /** Calls that may leave at once after a quiet spell. */
  burst: number;
  maxWaitMs: number;
}

export function stripeBudgetFromEnv(
  config: Pick<StripeConfig, 'host' | 'secretKey'>,
  env: NodeJS.ProcessEnv = process.env,
): StripeBudget {
  const fallback = !isRealStripe(config) ? 0 : /^(sk|rk)_live_/.test(config.secretKey) ? 90 : 20;
  const perSecond = intVar(env, 'STRIPE_RATE_LIMIT', fallback, 0, 100_000);
  return {
    perSecond,
    // Stripe counts calls over any one second: at most burst + perSecond
    // leave within one, so the burst stays a twentieth of the rate.
    burst: Math.max(1, Math.floor(perSecond / 20)),
    maxWaitMs: intVar(env, 'STRIPE_RATE_MAX_WAIT_MS', 10_000, 0, 600_000),
  };
}

type Query = (
  text: string,
  values: unknown[],
) => Promise<{ rows: Array<{ waits: number[]; retry_after: number | null }> }>;

/**
 * Turns for `calls` Stripe calls: when each granted call leaves (Date.now()
 * milliseconds, in order; fewer than asked when the later ones are too far
 * off), and in how many milliseconds to ask again for the rest (null: all
 * granted; see below). The times are this process's clock when it asked plus the
 * bucket's waits, so a slow answer does not shift them onto other calls' turns.
 * No budget configured: all granted at once, no database call.
 */
export interface Turns {
  leaveAtMs: number[];
  retryInMs: number | null;
}

export async function takeStripeTurns(query: Query, budget: StripeBudget, calls = 1): Promise<Turns> {
  const askedAt = Date.now();
  if (budget.perSecond <= 0 || calls <= 0)
    return { leaveAtMs: Array(Math.max(0, calls)).fill(askedAt), retryInMs: null };
  const {
    rows: [turns],
  } = await query(
    `select waits, retry_after
     from app_private.rate_budget_take('stripe', $1, $2, make_interval(secs => $3 / 1000.0), $4, to_timestamp($5 / 1000.0))`,
    [budget.perSecond, budget.burst, budget.maxWaitMs, calls, askedAt],
  );
  return {
    leaveAtMs: turns!.waits.map((w) => askedAt + w * 1000),
    // Asked again when the first refused call's turn is half the longest wait
    // away, not when it comes: the calls granted meanwhile have not run out by
    // then (a job rescheduled for a time starts a little after it), so the
    // budget never idles while charges wait.
    retryInMs:
      turns!.retry_after === null ? null : Math.max(0, Math.ceil(turns!.retry_after * 1000 - budget.maxWaitMs / 2)),
  };
}
