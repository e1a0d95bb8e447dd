// The one place a Stripe client is made. Everything about where Stripe is
// comes from configuration, so pointing the project at real Stripe instead of
// the in-repo emulator (stripe-emulator/) is configuration only:
//   STRIPE_SECRET_KEY          sk_test_… / sk_live_… (the emulator accepts any)
//   STRIPE_API_HOST/PORT/PROTOCOL   unset = api.stripe.com:443 https
//   STRIPE_WEBHOOK_SECRET      whsec_… that signs webhooks to POST /webhooks/stripe
//   STRIPE_TIMEOUT_MS          per request (default 20000)
//   STRIPE_MAX_NETWORK_RETRIES SDK-level retries of network errors/409/5xx (default 2),
//                              always with our own idempotency key
//   STRIPE_PUBLISHABLE_KEY     pk_test_… / pk_live_… that browsers use with Stripe.js
//                              (the emulator accepts any pk_test_…; required with real Stripe)
//   STRIPE_JS_URL              where browsers load Stripe.js: unset = the emulator's /v3/
//                              when it is configured, else https://js.stripe.com/v3/
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Stripe from 'stripe';
import { ConfigError, intVar, oneOfVar, urlVar } from './env.ts';

export interface StripeConfig {
  secretKey: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  webhookSecret: string;
  timeoutMs: number;
  maxNetworkRetries: number;
  /** What a browser needs for card set-up (the paymentConfig query). */
  publishableKey: string;
  jsUrl: string;
}

export function stripeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StripeConfig {
  const protocol = oneOfVar(env, 'STRIPE_API_PROTOCOL', ['http', 'https']);
  const host = env.STRIPE_API_HOST || undefined;
  const port = intVar(env, 'STRIPE_API_PORT', 0, 1, 65535) || undefined;
  const secretKey = env.STRIPE_SECRET_KEY ?? 'sk_test_emulator';
  return {
    secretKey,
    host,
    port,
    protocol,
    webhookSecret: webhookSecretOf(env, secretKey),
    timeoutMs: intVar(env, 'STRIPE_TIMEOUT_MS', 20_000, 1),
    maxNetworkRetries: intVar(env, 'STRIPE_MAX_NETWORK_RETRIES', 2, 0, 10),
    publishableKey: env.STRIPE_PUBLISHABLE_KEY ?? 'pk_test_emulator',
    jsUrl:
      urlVar(env, 'STRIPE_JS_URL', '') ||
      (isRealStripe({ host }) ? 'https://js.stripe.com/v3/' : emulatorJsUrl(host!, port, protocol)),
  };
}

/**
 * The secret that signs webhooks. Its development default is public (it is in
 * this file), and anyone who knows it can sign a "payment succeeded" event: a
 * production process or a live key never falls back to it.
 */
function webhookSecretOf(env: NodeJS.ProcessEnv, secretKey: string): string {
  if (env.STRIPE_WEBHOOK_SECRET) return env.STRIPE_WEBHOOK_SECRET;
  if (env.NODE_ENV === 'production' || secretKey.startsWith('sk_live_')) {
    throw new ConfigError(
      'Configuration: STRIPE_WEBHOOK_SECRET must be set in production and with a live key (the whsec_… of the webhook endpoint)',
    );
  }
  return 'whsec_emulator';
}

/** The emulator's Stripe.js-compatible script, beside its API. */
export function emulatorJsUrl(host: string, port: number | undefined, protocol: 'http' | 'https' | undefined): string {
  const scheme = protocol ?? 'https';
  const name = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${name}${port ? `:${port}` : ''}/v3/`;
}

/** True when the configuration points at Stripe itself rather than a local emulator. */
export function isRealStripe(config: Pick<StripeConfig, 'host'>): boolean {
  return !config.host || config.host.endsWith('stripe.com');
}

const clients = new Map<string, Stripe>();

/** A client per configuration, reused (it keeps its connections alive). */
export function stripeClient(config: StripeConfig = stripeConfigFromEnv()): Stripe {
  const key = JSON.stringify(config);
  let client = clients.get(key);
  if (!client) {
    const agentOptions = { keepAlive: true, maxSockets: 64 };
    client = new Stripe(config.secretKey, {
      host: config.host,
      port: config.port,
      protocol: config.protocol,
      timeout: config.timeoutMs,
      maxNetworkRetries: config.maxNetworkRetries,
      httpAgent: config.protocol === 'http' ? new Agent(agentOptions) : new HttpsAgent(agentOptions),
      telemetry: false,
    });
    clients.set(key, client);
  }
  return client;
}

/** Stripe's own errors by kind, for deciding between "declined" and "try again". */
export function isCardError(err: unknown): err is Stripe.errors.StripeCardError {
  return err instanceof Stripe.errors.StripeCardError;
}

/**
 * A request Stripe refused as such (400/404 invalid_request_error, or an
 * idempotency key reused with other parameters): sending it again gets the
 * same answer, so callers must not retry it.
 */
export function isRefusedRequest(
  err: unknown,
): err is Stripe.errors.StripeInvalidRequestError | Stripe.errors.StripeIdempotencyError {
  return err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeIdempotencyError;
}

/** Stripe's limiters said no (429: rate_limit, or lock_timeout once the SDK's own retries are spent): nothing was done. */
export function isRateLimited(err: unknown): err is Stripe.errors.StripeRateLimitError {
  return err instanceof Stripe.errors.StripeRateLimitError;
}

export function isTransientStripeError(err: unknown): boolean {
  return (
    err instanceof Stripe.errors.StripeConnectionError ||
    err instanceof Stripe.errors.StripeAPIError ||
    err instanceof Stripe.errors.StripeRateLimitError ||
    (err instanceof Stripe.errors.StripeError && (err.statusCode ?? 0) >= 500)
  );
}

/** An id from a field Stripe may return as an id or an expanded object. */
export function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value == null) return null;
  return typeof value === 'string' ? value : value.id;
}
