// The LIVE_MAX_PER_CLIENT bound, shared by the SSE streams and GraphQL
// subscriptions (LiveHub) and by the subscription websockets (websocket_guard):
// a live stream counts against the client address always, and against the
// account too when signed in, and is refused (SMV02) when either already holds
// the maximum. Counting only the account would let N accounts from one address
// hold N times the bound; counting only the address would let one account hold
// the bound from each of many addresses.
import { CodedError } from '../errors.ts';

/** SMV02, the refusal of a live stream, subscription or websocket past the bound: the same sentence from each. */
export function tooManyLiveStreams(max: number): CodedError {
  return new CodedError('SMV02', `At most ${max} live streams per client: close one first`);
}

/** The keys a live stream counts against: `ip:<address>`, plus `user:<id>` when signed in. */
export function liveClientKeys(userId: string | undefined, address: string | undefined): string[] {
  const keys = [`ip:${address ?? ''}`];
  if (userId) keys.push(`user:${userId}`);
  return keys;
}

/** Slots held per key, at most `max` per key. */
export class ClientBound {
  private readonly held = new Map<string, number>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /**
   * A slot on every key, or none when one of them already holds `max`
   * (undefined). Returns the function that gives the slots back (once).
   */
  take(keys: readonly string[]): (() => void) | undefined {
    const distinct = [...new Set(keys)];
    if (distinct.some((key) => (this.held.get(key) ?? 0) >= this.max)) return undefined;
    for (const key of distinct) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of distinct) {
        const n = (this.held.get(key) ?? 1) - 1;
        if (n > 0) this.held.set(key, n);
        else this.held.delete(key);
      }
    };
  }
}
