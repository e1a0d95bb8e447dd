// Wakes the worker at each due-work sweep's time.
//
// graphile-worker finds a job queued for later only when it polls
// (pollInterval, 2 s here) or when another job's NOTIFY arrives. The due-work
// sweep queues its successor for the next whole second (due_work_schedule),
// so without a wake-up an end, a hold deadline or a new email waited up to a
// poll interval more than the sweep's own period. Each worker process
// nudges its pool just after every boundary instead: one job fetch a second.
import type { EventEmitter } from 'node:events';

/** After the boundary, so the sweep's run_at has passed even when this machine's clock runs a little ahead of PostgreSQL's. */
const AFTER_BOUNDARY_MS = 15;

export interface SweepClock {
  stop(): void;
}

/** Nudges the pool graphile-worker creates (its `pool:create` event on `events`) every `everyMs`, on the boundaries. */
export function startSweepClock(events: EventEmitter, everyMs: number): SweepClock {
  let pool: { nudge(count: number): void } | null = null;
  const onPool = ({ workerPool }: { workerPool: { nudge(count: number): void } }) => {
    pool = workerPool;
  };
  events.on('pool:create', onPool);
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    const wait = everyMs - (Date.now() % everyMs) + AFTER_BOUNDARY_MS;
    timer = setTimeout(() => {
      pool?.nudge(1);
      schedule();
    }, wait);
    // The clock alone must not keep a stopping process alive.
    timer.unref();
  };
  schedule();
  return {
    stop() {
      clearTimeout(timer);
      events.off('pool:create', onPool);
    },
  };
}
