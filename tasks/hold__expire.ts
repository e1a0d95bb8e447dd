// At a hold's deadline (job key hold_expiry:<id>): a reservation still held
// expires and its spot is free again. Confirmed in time: nothing to do.
import type { Task } from 'graphile-worker';

export interface HoldExpirePayload {
  reservationId: number | string;
}

export const hold__expire: Task = async (payload, helpers) => {
  const { reservationId } = payload as HoldExpirePayload;
  const { rows } = await helpers.query<{ outcome: string }>(
    'select app_private.hold_expire($1) as outcome', [reservationId]);
  helpers.logger.info(`reservation ${reservationId}: ${rows[0].outcome}`);
};
