// `npm start`: everything a developer needs, in one process: the database
// provisioned, migrated and seeded; the API; the worker; a mail sink with a web
// inbox; the Stripe emulator; the web app's development server at WEB_URL.
// Ctrl-C stops it all. Every step is idempotent.
import './graphile_development.ts';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { provisionDatabase, ProvisionError } from './db__provision.ts';
import { importSpots } from './spots__import.ts';
import { startMailSink } from './mail_sink.ts';
import { startStripeEmulator, type StripeEmulator } from '../stripe-emulator/index.ts';
import { makeApp, listen } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { startWorker, workerSettingsFromEnv } from '../worker/runner.ts';
import { webUrlOf } from '../lib/web_urls.ts';
import { startWebDevServer } from './web_dev_server.ts';
import { configOrExit, intVar } from '../lib/env.ts';
import { spotsSyncConfigFromEnv } from '../lib/spots_sync_config.ts';
import { mailConfigFromEnv } from '../lib/mail_transport.ts';
import { emulatorLimitsFromEnv } from '../lib/stripe_emulator_env.ts';
import { loggerFor } from '../lib/logger.ts';

const log = loggerFor('cli');

const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const SEED_FILE = join(ROOT_DIR, 'sql', 'seed', 'nyc_parking_meters.csv');
const env = process.env;
// Every variable the API, the worker and this script read, checked before anything starts.
const settings = configOrExit(() => ({
  api: loadConfig(env),
  worker: workerSettingsFromEnv(env),
  spotsSync: spotsSyncConfigFromEnv(env),
  mail: mailConfigFromEnv(env),
  mailSinkSmtpPort: intVar(env, 'MAILDEV_SMTP_PORT', 1025, 1, 65535),
  mailSinkWebPort: intVar(env, 'MAILDEV_WEB_PORT', 1080, 1, 65535),
  stripeEmulatorPort: intVar(env, 'STRIPE_EMULATOR_PORT', 12111, 0, 65535),
  stripeEmulatorLimits: emulatorLimitsFromEnv(env),
}));
const stops: Array<() => Promise<unknown>> = [];

async function seed(ownerUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const summary = await importSpots(client, SEED_FILE, {});
    const { inserted, updated, unchanged, rejected } = summary;
    log.info(
      { inserted, updated, unchanged, rejected },
      `Demo spots: ${summary.inserted} inserted, ${summary.updated} updated, ` +
        `${summary.unchanged} unchanged, ${summary.rejected} rejected`,
    );
  } finally {
    await client.end();
  }
}

/** A local SMTP sink with a web inbox, unless a real SMTP server is configured. */
async function startInbox(): Promise<string | undefined> {
  if (env.SMTP_HOST) return undefined;
  const sink = await startMailSink(settings.mailSinkSmtpPort, settings.mailSinkWebPort);
  stops.push(() => sink.stop());
  env.SMTP_HOST = '127.0.0.1';
  env.SMTP_PORT = String(sink.smtpPort);
  return sink.url;
}

/** The Stripe emulator, unless real Stripe keys are configured. */
async function startStripe(apiUrl: string): Promise<StripeEmulator | undefined> {
  if (env.STRIPE_SECRET_KEY && !env.STRIPE_API_HOST) return undefined;
  env.STRIPE_WEBHOOK_SECRET ??= `whsec_${randomBytes(24).toString('hex')}`;
  const emulator = await startStripeEmulator({
    port: settings.stripeEmulatorPort,
    webhookUrl: `${apiUrl}/webhooks/stripe`,
    webhookSecret: env.STRIPE_WEBHOOK_SECRET,
    ...settings.stripeEmulatorLimits,
  });
  stops.push(() => emulator.close());
  env.STRIPE_SECRET_KEY ??= 'sk_test_emulator';
  env.STRIPE_API_HOST = emulator.host;
  env.STRIPE_API_PORT = String(emulator.port);
  env.STRIPE_API_PROTOCOL = 'http';
  return emulator;
}

async function main(): Promise<void> {
  const urls = await provisionDatabase({ applyCurrent: true });
  await seed(urls.owner);

  const inbox = await startInbox();
  const { port, host } = settings.api;
  const apiUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const emulator = await startStripe(apiUrl);
  // Emailed links and OAuth sign-ins lead to the web app, served below at this address.
  env.WEB_URL = webUrlOf(env);
  const webUrl = new URL(env.WEB_URL);

  const handle = await makeApp(loadConfig(env));
  await listen(handle, port, host);
  stops.unshift(() => handle.close());
  const runner = await startWorker({ connectionString: urls.owner });
  stops.unshift(() => runner.stop());
  // WEB_URL at the API's own address: the API serves the built app (WEB_DIST_DIR) itself.
  if (webUrl.origin !== new URL(apiUrl).origin) {
    const web = await startWebDevServer({ apiUrl, host: webUrl.hostname, port: Number(webUrl.port || 80) });
    stops.unshift(() => web.close());
  }

  console.log(`
Secure My Spot is running.
  Web app            ${env.WEB_URL}
  GraphQL API        ${apiUrl}/graphql
  GraphQL IDE        ${apiUrl}/graphiql
  Readiness          ${apiUrl}/ready
  HTTP routes (docs) ${apiUrl}/docs
  Mail inbox         ${inbox ?? `(SMTP ${env.SMTP_HOST}:${env.SMTP_PORT ?? 25})`}
  Stripe emulator    ${emulator ? `${emulator.url} (Stripe.js: ${emulator.url}/v3/)` : '(real Stripe)'}
Press Ctrl-C to stop.`);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const fn of stops) await fn().catch((err) => log.error({ err }, 'stopping failed'));
  // PostGraphile can keep the event loop alive after its instance is released.
  process.exit(0);
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

try {
  await main();
} catch (err) {
  if (err instanceof ProvisionError) log.error(err.message);
  else log.error({ err }, 'npm start failed');
  await stop();
  process.exit(1);
}
