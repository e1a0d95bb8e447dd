// The SMTP connection the send_email task uses. Configuration:
//   SMTP_HOST (default 127.0.0.1), SMTP_PORT (default 1025, maildev's),
//   SMTP_SECURE=1 for implicit TLS, SMTP_USER/SMTP_PASS when the server wants
//   a login, MAIL_FROM (default "Secure My Spot <no-reply@securemyspot.test>"),
//   SMTP_POOL_SIZE connections kept open (default 8).
import nodemailer, { type Transporter } from 'nodemailer';
import { boolVar, intVar } from './env.ts';

export interface MailConfig {
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  pass?: string;
  from: string;
  poolSize: number;
}

export function mailConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MailConfig {
  return {
    host: env.SMTP_HOST ?? '127.0.0.1',
    port: intVar(env, 'SMTP_PORT', 1025, 1, 65535),
    secure: boolVar(env, 'SMTP_SECURE', false),
    user: env.SMTP_USER || undefined,
    pass: env.SMTP_PASS || undefined,
    from: env.MAIL_FROM ?? 'Secure My Spot <no-reply@securemyspot.test>',
    poolSize: intVar(env, 'SMTP_POOL_SIZE', 8, 1, 1000),
  };
}

const transports = new Map<string, Transporter>();

/** One pooled transport per configuration: a burst of emails reuses a few connections. */
export function mailTransport(config: MailConfig = mailConfigFromEnv()): Transporter {
  const key = JSON.stringify(config);
  let transport = transports.get(key);
  if (!transport) {
    transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      // A local sink without TLS is normal in development; a real server
      // offering STARTTLS still gets it.
      ignoreTLS: !config.secure && (config.host === '127.0.0.1' || config.host === 'localhost'),
      auth: config.user ? { user: config.user, pass: config.pass ?? '' } : undefined,
      pool: true,
      // Connections kept open to the SMTP server (SMTP_POOL_SIZE): sends beyond
      // these wait for one, holding a worker slot.
      maxConnections: config.poolSize,
      maxMessages: Infinity,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    transports.set(key, transport);
  }
  return transport;
}

/** Closes every transport (tests and shutdown). */
export function closeMailTransports(): void {
  for (const t of transports.values()) t.close();
  transports.clear();
}
