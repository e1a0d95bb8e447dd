// Starts and stops graphile-worker with the project's tasks and crontab.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type Logger, run, type Runner, type TaskList } from 'graphile-worker';
import { taskList as defaultTaskList } from './task_list.ts';
import { startLiveness } from './liveness.ts';
import { startSweepClock } from './sweep_clock.ts';
import { SWEEP_EVERY_MS } from '../tasks/due_work__sweep.ts';
import { loggerFor } from '../lib/logger.ts';
import { retryWithBackoff } from '../lib/retry_with_backoff.ts';
import { workerLoggerFrom } from './worker_logger.ts';

import { intVar, oneOfVar } from '../lib/env.ts';

const log = loggerFor('worker');

const CRONTAB = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'crontab'), 'utf8');

export interface WorkerSettings {
  /** Jobs run at once by this process (WORKER_CONCURRENCY). */
  concurrency: number;
  /** The worker pool's synchronous_commit (WORKER_SYNCHRONOUS_COMMIT): see makeWorkerPool. */
  synchronousCommit: 'on' | 'off' | 'local' | 'remote_write' | 'remote_apply';
  /** How often dead worker processes' jobs are looked for (WORKER_LIVENESS_SWEEP_MS). */
  livenessSweepMs: number;
}

export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  return {
    concurrency: intVar(env, 'WORKER_CONCURRENCY', 10, 1, 1000),
    synchronousCommit: oneOfVar(
      env,
      'WORKER_SYNCHRONOUS_COMMIT',
      ['on', 'off', 'local', 'remote_write', 'remote_apply'],
      'off',
    ),
    livenessSweepMs: intVar(env, 'WORKER_LIVENESS_SWEEP_MS', 30_000, 100),
  };
}

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
  /** Replaces the project's logger (benchmarks keep only warnings and errors). */
  logger?: Logger;
  /** Extra graphile-worker settings, e.g. `{ worker: { localQueue: { size: 500 } } }` for bursts. */
  preset?: GraphileConfig.Preset;
}

/**
 * The worker's connection pool. Its sessions commit with synchronous_commit
 * off (WORKER_SYNCHRONOUS_COMMIT, default off): every transaction that queues
 * a job NOTIFYs, and PostgreSQL serialises NOTIFYing commits on one
 * cluster-wide lock held across the WAL flush, which capped a burst of ends at
 * ~60 charges/s (bench/end_burst). Not waiting for the flush is safe for
 * what the worker writes: a crash loses at most the last fraction of a second
 * of commits, in order, and every task redoes its work idempotently — Stripe
 * calls re-send the same idempotency key (derived from the reservation),
 * a lost "sent" mark re-sends one email (SMTP is at-least-once anyway), a
 * lost job completion re-runs the job. The API keeps synchronous commits.
 */
export function makeWorkerPool(connectionString: string, max: number): pg.Pool {
  const sync = workerSettingsFromEnv().synchronousCommit;
  const pool = new pg.Pool({ connectionString, max, options: `-c synchronous_commit=${sync}` });
  // graphile-worker expects these; a lost connection is replaced by the pool.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * graphile-worker's lines through the project's logger, without the success
 * line of each due-work sweep: it runs every second, and those lines would
 * bury the rest.
 */
const workerLogger = workerLoggerFrom(log, (meta) => {
  const m = meta as { job?: { task_identifier?: string }; success?: boolean } | undefined;
  return m?.success === true && m.job?.task_identifier === 'due_work__sweep';
});

export async function startWorker(options: WorkerOptions): Promise<Runner> {
  // Jobs of worker processes that died (kill -9) are unlocked by the next
  // live one instead of waiting graphile-worker's 4 hours (worker/liveness.ts).
  const settings = workerSettingsFromEnv();
  const liveness = await startLiveness(options.connectionString, (line) => log.warn(line), settings.livenessSweepMs);
  const concurrency = options.concurrency ?? settings.concurrency;
  const ownPool = options.pgPool ? undefined : makeWorkerPool(options.connectionString, concurrency + 2);
  const pgPool = options.pgPool ?? ownPool!;
  const sweepClock = startSweepClock(liveness.events, SWEEP_EVERY_MS);
  let runner: Runner;
  try {
    await liveness.sweep();
    const taskList = options.taskList ?? defaultTaskList;
    if ('due_work__sweep' in taskList) {
      // Start the due-work chain now rather than at the crontab's next minute
      // (preserve_run_at: a sweep already waiting keeps its time).
      await pgPool.query(`select graphile_worker.add_job('due_work__sweep', '{}', job_key => 'due_work_sweep',
        job_key_mode => 'preserve_run_at')`);
    }
    runner = await run({
      events: liveness.events as never,
      pgPool,
      concurrency,
      pollInterval: options.pollInterval ?? 2000,
      noHandleSignals: true,
      taskList,
      crontab: options.crontab ?? CRONTAB,
      logger: options.logger ?? workerLogger,
      ...(options.preset ? { preset: options.preset } : {}),
    });
  } catch (err) {
    sweepClock.stop();
    await liveness.close();
    await ownPool?.end();
    throw err;
  }
  const stop = runner.stop.bind(runner);
  runner.stop = async (reason?: string) => {
    sweepClock.stop();
    await stop(reason);
    await liveness.close();
    await ownPool?.end();
  };
  return runner;
}

export interface PendingRunner {
  /** Resolves with the runner once started, or undefined if stopped before. */
  started: Promise<Runner | undefined>;
  /** Stops retrying, and the runner if it started. */
  stop(): Promise<void>;
}

/**
 * startWorker, retried with backoff (lib/retry_with_backoff.ts; one JSON log
 * line per failed attempt) until the database answers: a worker started
 * during a database outage waits for it instead of crashing, and its health
 * port serves meanwhile.
 */
export function startWorkerWhenReachable(options: WorkerOptions): PendingRunner {
  const starting = retryWithBackoff(
    async (attempt) => {
      const runner = await startWorker(options);
      if (attempt > 1) log.info({ attempt }, 'worker started');
      return runner;
    },
    (err, attempt, retryInMs) =>
      log.error({ err, attempt, retryInMs }, 'worker start failed (database unreachable?), retrying'),
  );
  return {
    started: starting.result,
    async stop() {
      starting.stop();
      // A start that was under way when stopped is stopped as soon as it is up.
      await (await starting.result)?.stop();
    },
  };
}
