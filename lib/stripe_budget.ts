// The budget of Stripe calls a second that every worker process shares
// (app_private.rate_budgets, migrations/fixtures/rate_budgets.sql): N workers
// together stay under Stripe's account-wide limit instead of each under it.
//   STRIPE_RATE_LIMIT        calls a second for all workers together; 0 = no budget.
//                            Default: none against the emulator, 90 with a
//                            live key and 20 with a test key at real Stripe
//                            (under its 100 and 25, leaving room for the API's
//                            own calls: card set-up, webhooks' look-ups)
//   STRIPE_RATE_MAX_WAIT_MS  the longest a job waits for its turn before it is
//                            rescheduled instead (default 2000)
import { intVar } from './env.ts';
import { isRealStripe, type StripeConfig } from './stripe_client.ts';

export interface StripeBudget {
  perSecond: number;
  /** Calls that may leave at once after a quiet spell. */
  burst: number;
  maxWaitMs: number;
}

export function stripeBudgetFromEnv(config: Pick<StripeConfig, 'host' | 'secretKey'>, env: NodeJS.ProcessEnv = process.env): StripeBudget {
  const fallback = !isRealStripe(config) ? 0 : /^(sk|rk)_live_/.test(config.secretKey) ? 90 : 20;
  const perSecond = intVar(env, 'STRIPE_RATE_LIMIT', fallback, 0, 100_000);
  return {
    perSecond,
    // Stripe counts calls over any one second: at most burst + perSecond
    // leave within one, so the burst stays a twentieth of the rate.
    burst: Math.max(1, Math.floor(perSecond / 20)),
    maxWaitMs: intVar(env, 'STRIPE_RATE_MAX_WAIT_MS', 2000, 0, 600_000),
  };
}

type Query = (text: string, values: unknown[]) => Promise<{ rows: Array<{ granted: boolean; wait_ms: number }> }>;

/** What the budget answered: go now (after waiting waitMs), or come back in retryInMs. */
export type Turn = { granted: true } | { granted: false; retryInMs: number };

/**
 * Reserves one Stripe call; when granted, resolves once the call may leave.
 * No budget configured: always granted at once, no database call.
 */
export async function takeStripeTurn(query: Query, budget: StripeBudget): Promise<Turn> {
  if (budget.perSecond <= 0) return { granted: true };
  const { rows: [turn] } = await query(
    `select granted, (extract(epoch from wait) * 1000)::float8 as wait_ms
     from app_private.rate_budget_take('stripe', $1, $2, make_interval(secs => $3 / 1000.0))`,
    [budget.perSecond, budget.burst, budget.maxWaitMs]);
  if (!turn!.granted) return { granted: false, retryInMs: Math.ceil(turn!.wait_ms) };
  if (turn!.wait_ms > 0) await new Promise((resolve) => setTimeout(resolve, turn!.wait_ms));
  return { granted: true };
}
