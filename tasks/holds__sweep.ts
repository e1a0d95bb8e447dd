// Cron safety net behind the hold_expiry jobs: expires every hold more than a
// minute past its deadline (a job lost or a worker down for a while).
import type { Task } from 'graphile-worker';

export type HoldsSweepPayload = Record<string, unknown>;

export const holds__sweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ expired: number }>('select app_private.holds_sweep() as expired');
  if (rows[0].expired > 0) helpers.logger.info(`expired ${rows[0].expired} overdue holds`);
};
