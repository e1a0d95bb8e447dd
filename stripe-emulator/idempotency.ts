// Idempotency keys (per API key): the first response that ran the operation (2xx, or a 402
// card error) is stored and replayed byte for byte; a reuse with another method, path or
// body is a 400 idempotency_error. Validation errors (other 4xx) and faults that answered
// before doing anything are not stored, as on Stripe.

export type StoredResponse = { method: string; path: string; body: string; status: number; response: string; requestId: string };

export type IdempotencyCheck =
  | { kind: 'new' }
  | { kind: 'replay'; stored: StoredResponse }
  | { kind: 'mismatch'; stored: StoredResponse };

export class IdempotencyStore {
  private readonly entries = new Map<string, StoredResponse>();

  private static scoped(apiKey: string, key: string): string {
    return `${apiKey}\u0000${key}`;
  }

  check(apiKey: string, key: string, method: string, path: string, body: string): IdempotencyCheck {
    const stored = this.entries.get(IdempotencyStore.scoped(apiKey, key));
    if (!stored) return { kind: 'new' };
    if (stored.method !== method || stored.path !== path || stored.body !== body) return { kind: 'mismatch', stored };
    return { kind: 'replay', stored };
  }

  static storable(status: number): boolean {
    return (status >= 200 && status < 300) || status === 402;
  }

  put(apiKey: string, key: string, entry: StoredResponse): void {
    this.entries.set(IdempotencyStore.scoped(apiKey, key), entry);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
