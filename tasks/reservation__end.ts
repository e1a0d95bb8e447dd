// At a reservation's end (job key reservation_end:<id>): SQL marks it completed,
// fixes the final amount, frees the spot and queues the charge (or expires a
// hold nobody confirmed).
import { reservationStepTask } from './reservation_step.ts';

export const reservation__end = reservationStepTask('app_private.reservation_end');
