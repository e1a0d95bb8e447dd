// Stripe-looking identifiers and timestamps.
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
let pool = randomBytes(0);
let poolAt = 0;

/** A random base62 string (randomness taken from a refilled pool: ids are made per request). */
export function randomToken(length: number): string {
  if (poolAt + length > pool.length) {
    pool = randomBytes(Math.max(4096, length));
    poolAt = 0;
  }
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[pool[poolAt++]! % 62];
  return out;
}

/** `cus_…`, `pi_…`: the prefix and 24 base62 characters, like Stripe's ids. */
export function newId(prefix: string): string {
  return `${prefix}_${randomToken(24)}`;
}

export function clientSecret(id: string): string {
  return `${id}_secret_${randomToken(25)}`;
}

/**
 * Seconds the emulator's clock runs ahead of the machine's (POST /_emulator/clock), so a
 * test can age what Stripe ages (idempotency keys after 24 hours) without waiting. One
 * clock per process: emulators started in the same process share it.
 */
let clockOffsetSeconds = 0;

/** The emulator's time in Unix seconds: every `created` and the age of idempotency keys. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000) + clockOffsetSeconds;
}

/** Moves the emulator's clock forward (never back: Stripe's time does not run backwards). */
export function advanceClock(seconds: number): number {
  clockOffsetSeconds += seconds;
  return clockOffsetSeconds;
}

export function resetClock(): void {
  clockOffsetSeconds = 0;
}

/** A stable 16-character fingerprint for a test card number's stand-in. */
export function fingerprint(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < 16; i++) out += ALPHABET[digest[i]! % 62];
  return out;
}
