// At a reservation's end (job key reservation_end:<id>): SQL marks it completed,
// fixes the final amount, frees the spot and queues the charge (or expires a
// hold nobody confirmed). Safe to run twice: SQL does nothing the second time.
import type { Task } from 'graphile-worker';

export interface ReservationEndPayload {
  reservationId: number | string;
}

export const reservation__end: Task = async (payload, helpers) => {
  const { reservationId } = payload as ReservationEndPayload;
  const { rows } = await helpers.query<{ outcome: string }>(
    'select app_private.reservation_end($1) as outcome', [reservationId]);
  helpers.logger.info(`reservation ${reservationId}: ${rows[0].outcome}`);
};
