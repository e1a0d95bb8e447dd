// Starts and stops graphile-worker with the project's tasks and crontab.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { run, type Runner, type TaskList } from 'graphile-worker';
import { taskList as defaultTaskList } from './task_list.ts';
import { startLiveness } from './liveness.ts';

const CRONTAB = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'crontab'), 'utf8');

export interface WorkerOptions {
  /** app_owner's connection string: the worker queues and records as the owner. */
  connectionString: string;
  concurrency?: number;
  pollInterval?: number;
  /** Tests replace the crontab ('# none' disables cron) or the tasks. */
  crontab?: string;
  taskList?: TaskList;
  /**
   * A pool the caller owns and ends (graphile-worker ends its own pool without
   * awaiting it, so a test dropping its database right after stop() could
   * kill a still-open client).
   */
  pgPool?: pg.Pool;
  /** Extra graphile-worker settings, e.g. `{ worker: { localQueue: { size: 500 } } }` for bursts. */
  preset?: GraphileConfig.Preset;
}

export async function startWorker(options: WorkerOptions): Promise<Runner> {
  // Jobs of worker processes that died (kill -9) are unlocked by the next
  // live one instead of waiting graphile-worker's 4 hours (worker/liveness.ts).
  const liveness = await startLiveness(options.connectionString, (line) => console.warn(`[worker] ${line}`));
  let runner: Runner;
  try {
    await liveness.sweep();
    runner = await run({
    events: liveness.events as never,
    ...(options.pgPool ? { pgPool: options.pgPool } : { connectionString: options.connectionString }),
    concurrency: options.concurrency ?? Number(process.env.WORKER_CONCURRENCY ?? 10),
    pollInterval: options.pollInterval ?? 2000,
    noHandleSignals: true,
    taskList: options.taskList ?? defaultTaskList,
    crontab: options.crontab ?? CRONTAB,
    ...(options.preset ? { preset: options.preset } : {}),
    });
  } catch (err) {
    await liveness.close();
    throw err;
  }
  const stop = runner.stop.bind(runner);
  runner.stop = async (reason?: string) => {
    await stop(reason);
    await liveness.close();
  };
  return runner;
}
