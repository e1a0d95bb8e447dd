// The inventory sync's settings (tasks/spots__sync.ts), read from the
// environment and checked at start-up like every other setting.
import { intVar, urlVar } from './env.ts';

export interface SpotsSyncConfig {
  /** The meter data to sync from (CSV or JSON, NYC open-data layout); null: the sync is off. */
  url: string | null;
  /** Seconds between syncs after a success or an unchanged source. */
  intervalSeconds: number;
  /** Seconds to wait after a first failure; doubles with each failure in a row. */
  backoffSeconds: number;
  /** The longest wait after failures. */
  backoffMaxSeconds: number;
  /** Seconds a fetch may take, headers and body together. */
  timeoutSeconds: number;
  /** Rows per SQL call. */
  batchSize: number;
}

export function spotsSyncConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SpotsSyncConfig {
  const url = urlVar(env, 'SPOTS_SYNC_URL', '');
  return {
    url: url || null,
    intervalSeconds: intVar(env, 'SPOTS_SYNC_INTERVAL', 30, 1, 7 * 24 * 3600),
    backoffSeconds: intVar(env, 'SPOTS_SYNC_BACKOFF', 300, 1, 24 * 3600),
    backoffMaxSeconds: intVar(env, 'SPOTS_SYNC_BACKOFF_MAX', 3600, 1, 7 * 24 * 3600),
    timeoutSeconds: intVar(env, 'SPOTS_SYNC_TIMEOUT', 300, 1, 24 * 3600),
    batchSize: intVar(env, 'SPOTS_SYNC_BATCH_SIZE', 1000, 1, 10_000),
  };
}
