// `GET /_emulator/state`: counts for tests and benchmarks.
import type { FaultSet } from './faults.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { RateLimiter, RateLimitStats } from './rate_limits.ts';
import type { Store } from './store.ts';
import type { WebhookDispatcher, WebhookStats } from './webhooks.ts';

export type EmulatorState = {
  requests: number;
  customers: number;
  payment_methods: number;
  setup_intents: { total: number; by_status: Record<string, number> };
  payment_intents: { total: number; by_status: Record<string, number> };
  charges: { total: number; succeeded: number; failed: number; amount_captured: number; amount_refunded: number };
  refunds: { total: number; amount: number };
  events: { total: number; by_type: Record<string, number> };
  webhooks: WebhookStats & { endpoint: string | null };
  idempotency_keys: number;
  faults: { pending: number; fired: number };
  rate_limits: RateLimitStats;
};

function byStatus(items: readonly { status: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i.status] = (out[i.status] ?? 0) + 1;
  return out;
}

export function summarize(
  store: Store,
  dispatcher: WebhookDispatcher,
  endpoint: string | null,
  faults: FaultSet,
  idempotency: IdempotencyStore,
  requests: number,
  limiter: RateLimiter,
): EmulatorState {
  const charges = { total: store.charges.size, succeeded: 0, failed: 0, amount_captured: 0, amount_refunded: 0 };
  for (const ch of store.charges.all) {
    if (ch.status === 'succeeded') charges.succeeded++;
    else charges.failed++;
    charges.amount_captured += ch.amount_captured;
    charges.amount_refunded += ch.amount_refunded;
  }
  const byType: Record<string, number> = {};
  for (const e of store.events.all) byType[e.type] = (byType[e.type] ?? 0) + 1;
  return {
    requests,
    customers: store.customers.byId.size,
    payment_methods: store.paymentMethods.size,
    setup_intents: { total: store.setupIntents.size, by_status: byStatus(store.setupIntents.all) },
    payment_intents: { total: store.paymentIntents.size, by_status: byStatus(store.paymentIntents.all) },
    charges,
    refunds: { total: store.refunds.size, amount: store.refunds.all.reduce((s, r) => s + r.amount, 0) },
    events: { total: store.events.size, by_type: byType },
    webhooks: { ...dispatcher.snapshot(), endpoint },
    idempotency_keys: idempotency.size,
    faults: { pending: faults.list().reduce((s, f) => s + f.remaining, 0), fired: faults.fired },
    rate_limits: limiter.stats(),
  };
}
