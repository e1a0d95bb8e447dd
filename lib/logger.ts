// The one logger of the API, the worker and the CLI: pino, one JSON object per
// line on standard output (level, time, msg, component, and for the API the
// request id), readable by any log shipper. In a terminal outside production
// (`npm start`, `npm run api` by hand) lines are pretty-printed instead, when
// pino-pretty (a dev dependency) is installed. LOG_LEVEL (default info) and
// LOG_FORMAT (json | pretty) override.
//
// Secrets never reach a line: nothing logs request headers or bodies, and in
// case an object carrying one is logged anyway, the fields below are censored.
// Job payloads are censored too: graphile-worker logs the whole job row.
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Field names whose values are secrets wherever they appear (one or two levels deep). */
const SECRET_FIELDS = [
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'manageToken',
  'csrfToken',
  'authorization',
  'cookie',
  'clientSecret',
  'client_secret',
  'secret',
  'apiKey',
  'payload',
  'card',
];
const REDACT = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'req.headers',
  'res.headers',
];

function prettyTransport(): pino.TransportSingleOptions | undefined {
  const format = process.env.LOG_FORMAT;
  const wanted = format ? format === 'pretty' : process.stdout.isTTY === true && process.env.NODE_ENV !== 'production';
  if (!wanted) return undefined;
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined; // a production install: JSON it is
  }
  return { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } };
}

const transport = prettyTransport();

const options: pino.LoggerOptions = {
  level: process.env.LOG_LEVEL ?? 'info',
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: { paths: REDACT, censor: '[redacted]' },
};

// JSON lines go through process.stdout (synchronous for files and pipes on
// Linux), so a test can read what its in-process server logged.
export const logger: Logger = transport ? pino({ ...options, transport }) : pino(options, process.stdout);

/** A logger whose lines say which part of the system wrote them (api, worker, cli, …). */
export function loggerFor(component: string): Logger {
  return logger.child({ component });
}
