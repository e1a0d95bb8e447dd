// graphile-worker's own log lines (job started, completed, failed, cron) go
// through the project's logger, with the job's scope (worker id, task, job id)
// as fields. Its "Completed task" line carries the whole job row: the
// payload is censored there by lib/logger.ts (a payload can hold an email
// address or a link with a token).
import { Logger as WorkerLogger, type LogLevel } from 'graphile-worker';
import type { Logger } from '../lib/logger.ts';

const LEVELS: Record<LogLevel, 'error' | 'warn' | 'info' | 'debug'> = {
  error: 'error',
  warning: 'warn',
  info: 'info',
  debug: 'debug',
};

/** `skip`: lines to leave out, judged by their fields. */
export function workerLoggerFrom(log: Logger, skip: (meta: unknown) => boolean = () => false): WorkerLogger {
  return new WorkerLogger((scope) => {
    const scoped = log.child(scope);
    return (level, message, meta) => {
      if (!skip(meta)) scoped[LEVELS[level]](meta ?? {}, message);
    };
  });
}
