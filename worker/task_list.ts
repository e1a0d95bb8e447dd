// Every task the worker runs, by identifier. A task with code of its own is a
// file in tasks/; a reservation job whose whole work is one SQL function of the
// reservation id is named here (worker/reservation_step.ts).
import type { TaskList } from 'graphile-worker';
import { sessions__sweep } from '../tasks/sessions__sweep.ts';
import { holds__sweep } from '../tasks/holds__sweep.ts';
import { send_email } from '../tasks/send_email.ts';
import { reservation__charge } from '../tasks/reservation__charge.ts';
import { reservationStepTask } from './reservation_step.ts';

export const taskList: TaskList = {
  sessions__sweep,
  // At a reservation's end (job key reservation_end:<id>): SQL marks it completed,
  // fixes the final amount, frees the spot and queues the charge (or expires a
  // hold nobody confirmed).
  reservation__end: reservationStepTask('app_private.reservation_end'),
  // Shortly before a confirmed reservation ends (job key reservation_reminder:<id>):
  // SQL queues the reminder email, once per end time.
  reservation__remind: reservationStepTask('app_private.reservation_remind'),
  // At a hold's deadline (job key hold_expiry:<id>): a reservation still held
  // expires and its spot is free again. Confirmed in time: nothing to do.
  hold__expire: reservationStepTask('app_private.hold_expire'),
  holds__sweep,
  send_email,
  reservation__charge,
};
