// Shortly before a confirmed reservation ends (job key reservation_reminder:<id>):
// SQL queues the reminder email, once per end time.
import { reservationStepTask } from './reservation_step.ts';

export const reservation__remind = reservationStepTask('app_private.reservation_remind');
