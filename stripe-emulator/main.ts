// Standalone emulator for `npm start` / manual use:
//   STRIPE_EMULATOR_PORT (default 12111), STRIPE_EMULATOR_HOST (default 127.0.0.1),
//   STRIPE_WEBHOOK_URL + STRIPE_WEBHOOK_SECRET (signed event delivery),
//   STRIPE_EMULATOR_API_KEY (accept only this key), STRIPE_EMULATOR_PUBLISHABLE_KEY (accept only
//   this pk_test_… for Stripe.js's calls), STRIPE_EMULATOR_QUIET=1 (no request lines),
//   STRIPE_EMULATOR_RATE_LIMITS / _RATE_GLOBAL / _RATE_ENDPOINT / _CONCURRENCY / _LATENCY_MS
//   (Stripe's limiters, off unless set: lib/stripe_emulator_env.ts).
// Serves its Stripe.js-compatible script at /v3/.
// Prints its URL; never prints the webhook secret or any request body.
import { configOrExit } from '../lib/env.ts';
import { emulatorLimitsFromEnv } from '../lib/stripe_emulator_env.ts';
import { startStripeEmulator } from './server.ts';

const env = process.env;
const port = Number(env.STRIPE_EMULATOR_PORT ?? 12111);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`STRIPE_EMULATOR_PORT is not a port number: ${env.STRIPE_EMULATOR_PORT}`);
  process.exit(2);
}
const webhookUrl = env.STRIPE_WEBHOOK_URL || undefined;
const webhookSecret = env.STRIPE_WEBHOOK_SECRET || undefined;
if (webhookUrl && !webhookSecret) {
  console.error('STRIPE_WEBHOOK_SECRET is required when STRIPE_WEBHOOK_URL is set (the receiver must know it).');
  process.exit(2);
}
const quiet = env.STRIPE_EMULATOR_QUIET === '1';
const limits = configOrExit(() => emulatorLimitsFromEnv(env));

const emulator = await startStripeEmulator({
  port,
  host: env.STRIPE_EMULATOR_HOST || '127.0.0.1',
  webhookUrl,
  webhookSecret,
  apiKey: env.STRIPE_EMULATOR_API_KEY || undefined,
  publishableKey: env.STRIPE_EMULATOR_PUBLISHABLE_KEY || undefined,
  ...limits,
  log: quiet ? undefined : (line) => console.log(`[stripe-emulator] ${line}`),
});
console.log(`Stripe emulator listening on ${emulator.url} (Stripe.js: ${emulator.url}/v3/)`);
console.log(
  webhookUrl
    ? `Stripe emulator delivering signed webhooks to ${webhookUrl}`
    : 'Stripe emulator: no webhook endpoint (set STRIPE_WEBHOOK_URL)',
);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  if (!quiet) console.log(`[stripe-emulator] ${signal}: closing`);
  void emulator.close().then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
