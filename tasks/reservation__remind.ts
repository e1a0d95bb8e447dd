// Shortly before a confirmed reservation ends (job key reservation_reminder:<id>):
// SQL queues the reminder email, once per end time.
import type { Task } from 'graphile-worker';

export interface ReservationRemindPayload {
  reservationId: number | string;
}

export const reservation__remind: Task = async (payload, helpers) => {
  const { reservationId } = payload as ReservationRemindPayload;
  const { rows } = await helpers.query<{ outcome: string }>(
    'select app_private.reservation_remind($1) as outcome', [reservationId]);
  helpers.logger.info(`reservation ${reservationId}: ${rows[0].outcome}`);
};
