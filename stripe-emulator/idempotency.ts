// Idempotency keys (per API key): the first response that ran the operation (2xx, or a 402
// card error) is stored and replayed byte for byte; a reuse with another method, path or
// body is a 400 idempotency_error. Validation errors (other 4xx) and faults that answered
// before doing anything are not stored, as on Stripe. Like Stripe, a key is forgotten 24
// hours after its first use (by the emulator's clock, which tests move with
// POST /_emulator/clock): the same request then runs again.
import { nowSeconds } from './ids.ts';

/** How long Stripe keeps an idempotency key. */
export const IDEMPOTENCY_KEY_LIFETIME_SECONDS = 24 * 3600;

export type StoredResponse = {
  method: string;
  path: string;
  body: string;
  status: number;
  response: string;
  requestId: string;
};
type Entry = StoredResponse & { storedAt: number };

export type IdempotencyCheck =
  | { kind: 'new' }
  | { kind: 'replay'; stored: StoredResponse }
  | { kind: 'mismatch'; stored: StoredResponse };

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  private static scoped(apiKey: string, key: string): string {
    return `${apiKey}\u0000${key}`;
  }

  check(apiKey: string, key: string, method: string, path: string, body: string): IdempotencyCheck {
    const scoped = IdempotencyStore.scoped(apiKey, key);
    const stored = this.entries.get(scoped);
    if (!stored) return { kind: 'new' };
    if (nowSeconds() - stored.storedAt >= IDEMPOTENCY_KEY_LIFETIME_SECONDS) {
      this.entries.delete(scoped);
      return { kind: 'new' };
    }
    if (stored.method !== method || stored.path !== path || stored.body !== body) return { kind: 'mismatch', stored };
    return { kind: 'replay', stored };
  }

  static storable(status: number): boolean {
    return (status >= 200 && status < 300) || status === 402;
  }

  put(apiKey: string, key: string, entry: StoredResponse): void {
    this.entries.set(IdempotencyStore.scoped(apiKey, key), { ...entry, storedAt: nowSeconds() });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
