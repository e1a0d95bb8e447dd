// The due-work sweep (job key due_work_sweep, at every whole second: each
// worker process wakes up for it, worker/sweep_clock.ts): runs the
// SQL that finds work whose time has come — reservations to end (and their
// charges to queue), holds to expire, reminders to send, outbox emails to
// queue, charge jobs that used up their attempts — and queues its own next run. Future work is a time in the row that
// defines it (see migrations/fixtures/due_work.sql), so nothing here can be
// lost: a sweep that dies is redone by the next one.
import type { Task } from 'graphile-worker';

/** Milliseconds between sweeps, on their boundaries (whole seconds): the most an end, a hold deadline or a new email waits. */
export const SWEEP_EVERY_MS = 1000;

/** Rows per statement: each batch commits on its own, so the first charges start while later ones are still being ended. */
const BATCH = 500;

// In order: ends first (their charges are the most urgent work), emails last; charge jobs that
// gave up during a long Stripe outage are looked for every 10 minutes (the function says when).
const STEPS = [
  'app_private.reservations_end_due',
  'app_private.holds_expire_due',
  'app_private.reminders_send_due',
  'app_private.emails_queue_due',
  'app_private.charges_requeue_exhausted',
] as const;

export const due_work__sweep: Task = async (_payload, helpers) => {
  const done: string[] = [];
  for (const step of STEPS) {
    let total = 0;
    for (;;) {
      const {
        rows: [{ n }],
      } = await helpers.query<{ n: number }>(`select ${step}($1) as n`, [BATCH]);
      total += n;
      if (n < BATCH) break;
    }
    if (total > 0) done.push(`${step.slice('app_private.'.length)} ${total}`);
  }
  if (done.length > 0) helpers.logger.info(`due work: ${done.join(', ')}`);
  await helpers.query('select app_private.due_work_schedule($1)', [SWEEP_EVERY_MS]);
};
