// Stripe's limiters (https://docs.stripe.com/rate-limits): a global rate
// limiter over every API request, a stricter one per endpoint (a method and a
// route pattern: `POST /v1/payment_intents` and `GET /v1/payment_intents/:id`
// are two endpoints, every id counting against the same one), and a
// concurrency limiter on requests in flight. Each is checked over the last
// second (a sliding window: at most `limit` requests accepted in any 1,000 ms),
// so a client's per-second counts can be read against the limit exactly.
// A refused request does nothing and is answered like Stripe: 429,
// `invalid_request_error` with code `rate_limit`, and no `Stripe-Should-Retry`
// header (Stripe's libraries do not retry real rate limits; only lock
// timeouts carry `Stripe-Should-Retry: true`, see faults.ts).
import { type ApiError, invalidRequest, rateLimited } from './errors.ts';

export type RateLimits = {
  /** Requests a second over the whole API; 0 = no limit. */
  global: number;
  /** Requests a second on each endpoint; 0 = no limit. */
  perEndpoint: number;
  /** Requests in flight at once; 0 = no limit. */
  concurrency: number;
};

/**
 * Stripe's documented defaults: test mode 25 requests a second globally and
 * on a single endpoint. `live` is the 100 a second of live mode, on the charge
 * endpoint too (the limit the project's end-of-day burst is measured against;
 * set perEndpoint to 25 for Stripe's general per-endpoint default). Stripe
 * publishes no figure for its concurrency limiter: the profiles use the rate.
 */
export const RATE_LIMIT_PROFILES = {
  off: { global: 0, perEndpoint: 0, concurrency: 0 },
  test: { global: 25, perEndpoint: 25, concurrency: 25 },
  live: { global: 100, perEndpoint: 100, concurrency: 100 },
} as const satisfies Record<string, RateLimits>;
export type RateLimitProfile = keyof typeof RATE_LIMIT_PROFILES;
/** How limits are configured: a profile, and/or single limits over it. */
export type RateLimitSettings = { profile?: RateLimitProfile } & { [K in keyof RateLimits]?: number | undefined };

const WINDOW_MS = 1000;

/** Times of accepted requests within the last window, oldest first. */
class Window {
  private times: number[] = [];
  private head = 0;
  count(now: number): number {
    while (this.head < this.times.length && this.times[this.head]! <= now - WINDOW_MS) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
  add(now: number): void {
    this.times.push(now);
  }
}

export type RateLimitStats = {
  limits: RateLimits;
  /** Requests answered 429 by a limiter since the last reset. */
  limited: number;
  /** Accepted API requests per whole second of the clock (unix seconds → count), for reading against the limit. */
  accepted_per_second: Record<string, number>;
};

export class RateLimiter {
  limits: RateLimits = { ...RATE_LIMIT_PROFILES.off };
  limited = 0;
  private inFlight = 0;
  private global = new Window();
  private endpoints = new Map<string, Window>();
  private perSecond = new Map<number, number>();

  /** A profile's limits, then the limits given (unset ones keep their value). */
  set({ profile, ...limits }: RateLimitSettings): void {
    for (const [name, value] of Object.entries(limits)) {
      if (value === undefined) continue;
      if (!(name in this.limits)) throw invalidRequest(`unknown rate limit ${name}`);
      if (!Number.isInteger(value) || value < 0)
        throw invalidRequest(`rate limit ${name} must be a whole number ≥ 0`, { param: name });
    }
    if (profile !== undefined && !Object.hasOwn(RATE_LIMIT_PROFILES, profile)) {
      throw invalidRequest(`profile must be one of ${Object.keys(RATE_LIMIT_PROFILES).join(', ')}`, {
        param: 'profile',
      });
    }
    const defined = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
    this.limits = { ...this.limits, ...(profile ? RATE_LIMIT_PROFILES[profile] : {}), ...defined };
  }

  reset(): void {
    this.limited = 0;
    this.inFlight = 0;
    this.global = new Window();
    this.endpoints.clear();
    this.perSecond.clear();
  }

  /**
   * Admits one request to `endpoint` (e.g. `POST /v1/payment_intents`), or
   * returns the 429 to answer. An admitted request must call the returned
   * `done` when its answer is sent (the concurrency limiter counts it until then).
   */
  admit(endpoint: string): { done: () => void } | ApiError {
    const now = performance.now();
    const { global, perEndpoint, concurrency } = this.limits;
    let window = this.endpoints.get(endpoint);
    if (!window) this.endpoints.set(endpoint, (window = new Window()));
    let refusal: string | null = null;
    if (concurrency > 0 && this.inFlight >= concurrency) refusal = 'Too many concurrent requests.';
    else if (global > 0 && this.global.count(now) >= global) refusal = 'Request rate limit exceeded.';
    else if (perEndpoint > 0 && window.count(now) >= perEndpoint)
      refusal = `Request rate limit exceeded on ${endpoint}.`;
    if (refusal) {
      this.limited++;
      return rateLimited(refusal);
    }
    this.global.add(now);
    window.add(now);
    const second = Math.floor(Date.now() / 1000);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    this.inFlight++;
    let finished = false;
    return {
      done: () => {
        if (!finished) this.inFlight--;
        finished = true;
      },
    };
  }

  stats(): RateLimitStats {
    return {
      limits: { ...this.limits },
      limited: this.limited,
      accepted_per_second: Object.fromEntries(this.perSecond),
    };
  }
}
