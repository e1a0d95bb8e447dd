// Cron: deletes sessions that can no longer sign anyone in.
import type { Task } from 'graphile-worker';

export type SessionsSweepPayload = Record<string, unknown>;

export const sessions__sweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ swept: number }>('select app_private.sessions_sweep() as swept');
  helpers.logger.info(`swept ${rows[0].swept} sessions`);
};
