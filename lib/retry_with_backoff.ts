// A start-up step that needs the database, retried until it succeeds: the
// API's schema build and the worker's runner, each started while the database
// may not answer yet. Attempts 250 ms apart, doubling, at most 5 s apart;
// stop() ends the retrying at once, a wait in progress included.

const FIRST_MS = 250;
const MAX_MS = 5_000;

/** How long to wait after the given failed attempt (1, 2, …). */
export function retryDelayMs(attempt: number): number {
  return Math.min(MAX_MS, FIRST_MS * 2 ** (attempt - 1));
}

export interface Retrying<T> {
  /** What the first successful attempt returned; undefined when stopped before one succeeded. */
  result: Promise<T | undefined>;
  /** Stops retrying; an attempt already running finishes, and its result still arrives. */
  stop(): void;
}

/**
 * Runs attempt(n) for n = first, first + 1, … until one succeeds or stop() is
 * called, waiting retryDelayMs(n) after each failure (reported to onFailure).
 */
export function retryWithBackoff<T>(
  attempt: (n: number) => Promise<T>,
  onFailure: (err: unknown, n: number, retryInMs: number) => void,
  first = 1,
): Retrying<T> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const result = (async () => {
    for (let n = first; !stopped; n++) {
      try {
        return await attempt(n);
      } catch (err) {
        const retryInMs = retryDelayMs(n);
        onFailure(err, n, retryInMs);
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, retryInMs);
        });
      }
    }
    return undefined;
  })();
  return {
    result,
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
    },
  };
}
