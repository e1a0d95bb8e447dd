// Injected faults for retry tests. A fault matches a method and a path (exact, or a prefix
// when it ends in `*`) and fires `count` times:
//   error_before – answer 500 api_error, do nothing;
//   error_after  – do the operation (stored under the idempotency key), answer 500;
//   timeout      – do the operation, never answer (the socket is held until the client gives up);
//   lock_timeout – answer 429 lock_timeout with `Stripe-Should-Retry: true`, do nothing (Stripe's
//                  answer when another request holds the object; its libraries retry it);
//   rate_limit   – answer 429 rate_limit, no `Stripe-Should-Retry`, do nothing (what a limiter
//                  answers, rate_limits.ts, on one request chosen by the test).
import { invalidRequest } from './errors.ts';

export type FaultMode = 'error_before' | 'error_after' | 'timeout' | 'lock_timeout' | 'rate_limit';
export const FAULT_MODES: readonly FaultMode[] = [
  'error_before',
  'error_after',
  'timeout',
  'lock_timeout',
  'rate_limit',
];

export type FaultSpec = { method?: string; path: string; mode: FaultMode; count?: number };
export type Fault = { id: number; method: string; path: string; mode: FaultMode; remaining: number };

export class FaultSet {
  private faults: Fault[] = [];
  private nextId = 1;
  fired = 0;

  add(spec: FaultSpec): Fault {
    const method = (spec.method ?? '*').toUpperCase();
    if (typeof spec.path !== 'string' || !spec.path.startsWith('/'))
      throw invalidRequest('path must be a string starting with /', { param: 'path' });
    if (!FAULT_MODES.includes(spec.mode))
      throw invalidRequest(`mode must be one of ${FAULT_MODES.join(', ')}`, { param: 'mode' });
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1)
      throw invalidRequest('count must be a positive integer', { param: 'count' });
    const fault: Fault = { id: this.nextId++, method, path: spec.path, mode: spec.mode, remaining: count };
    this.faults.push(fault);
    return fault;
  }

  /** The first matching fault's mode, consuming one of its firings. */
  take(method: string, path: string): FaultMode | null {
    if (this.faults.length === 0) return null;
    for (const f of this.faults) {
      if (f.method !== '*' && f.method !== method) continue;
      if (f.path.endsWith('*') ? !path.startsWith(f.path.slice(0, -1)) : f.path !== path) continue;
      f.remaining--;
      if (f.remaining <= 0) this.faults = this.faults.filter((x) => x !== f);
      this.fired++;
      return f.mode;
    }
    return null;
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.faults = [];
  }
}
