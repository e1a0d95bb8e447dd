// Reservation jobs whose whole work is one SQL function of the reservation id
// (the rules live in SQL; the function is idempotent, so a job run twice is
// harmless). worker/task_list.ts names each such job with its function.
import type { Task } from 'graphile-worker';

export interface ReservationJobPayload {
  reservationId: number | string;
}

export function reservationStepTask(sqlFunction: `app_private.${string}`): Task {
  return async (payload, helpers) => {
    const { reservationId } = payload as ReservationJobPayload;
    const { rows } = await helpers.query<{ outcome: string }>(`select ${sqlFunction}($1) as outcome`, [reservationId]);
    helpers.logger.info(`reservation ${reservationId}: ${rows[0].outcome}`);
  };
}
