// At a hold's deadline (job key hold_expiry:<id>): a reservation still held
// expires and its spot is free again. Confirmed in time: nothing to do.
import { reservationStepTask } from './reservation_step.ts';

export const hold__expire = reservationStepTask('app_private.hold_expire');
