// Everything the server reads from the environment, in one place.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dbUrls, readDatabaseUrl, type DbUrls } from '../lib/db_urls.ts';
import { stripeConfigFromEnv, type StripeConfig } from '../lib/stripe_client.ts';
import { corsOriginsOf, webUrlOf } from '../lib/web_urls.ts';
import { boolVar, ConfigError, intVar, urlVar } from '../lib/env.ts';
import type { LiveSettings } from './live/hub.ts';
import { photoConfigFromEnv, type PhotoConfig } from './photos/config.ts';

export interface ServerConfig {
  db: DbUrls;
  /** READ_DATABASE_URL: a streaming replica for anonymous search (server/read_routing.ts); null = primary only. */
  readDatabaseUrl: string | null;
  port: number;
  host: string;
  isDev: boolean;
  /** Public URL of the API, used in links that emails carry. */
  publicUrl: string;
  /** Origins allowed by CORS for the SPA. */
  corsOrigins: string[];
  /** Connections in the API's pool. */
  poolSize: number;
  /** Origin of the web app (SPA): where emailed links and OAuth sign-ins lead. */
  webUrl: string;
  /** Signs the session cookie and derives CSRF tokens. Required in production. */
  cookieSecret: string;
  /** Cookies only over HTTPS: on when PUBLIC_URL is https, or as COOKIE_SECURE says. */
  cookieSecure: boolean;
  /** Express `trust proxy` (e.g. 1 behind one load balancer): the client's address is then X-Forwarded-For that many hops back (clientAddress). */
  trustProxy: string | number | boolean;
  /** Email domains that belong to staff: OAuth never creates accounts on them. */
  staffEmailDomains: string[];
  /** Google sign-in (OpenID Connect, found by discovery at the issuer); null = off. */
  google: OidcProviderConfig | null;
  /** Facebook sign-in (OAuth 2 code flow and a profile call); null = off. */
  facebook: OAuthProviderConfig | null;
  /** Bearer token GET /metrics requires; null: open in development, off in production. */
  metricsToken: string | null;
  /** The built web app the API serves when it exists (server/middleware/installWebApp.ts). */
  webDistDir: string;
  /** Stripe API location, keys and webhook secret (lib/stripe_client.ts). */
  stripe: StripeConfig;
  /** GRAPHQL_IDE: the IDE at /graphiql, and `extensions.explain` for requests that ask (X-PostGraphile-Explain: on). */
  graphqlIde: boolean;
  /** GRAPHQL_INTROSPECTION: `__schema`/`__type` answered, else refused with SMQ06. */
  graphqlIntrospection: boolean;
  /** HOLDS_PER_ADDRESS: reservations held at once per client address (SMB12); SQL reads it as app.holds_per_address (app_hidden.holds_per_address, whose default is this one). */
  holdsPerAddress: number;
  /** CARD_UPCOMING_MAX: confirmed reservations still to come one card may back (SMP09); SQL reads it as app.card_upcoming_max (app_hidden.card_upcoming_max, whose default is this one). */
  cardUpcomingMax: number;
  /** Live availability events: SSE and GraphQL subscriptions (server/live/hub.ts). */
  live: LiveSettings;
  /** Customer photo uploads: limits and storage (server/photos/config.ts). */
  photos: PhotoConfig;
}

export interface OidcProviderConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

export interface OAuthProviderConfig {
  authorizationUrl: string;
  tokenUrl: string;
  profileUrl: string;
  clientId: string;
  clientSecret: string;
}

const FACEBOOK_GRAPH = 'https://graph.facebook.com/v21.0';
const DEFAULT_WEB_DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'web', 'dist');

function cookieSecretOf(env: NodeJS.ProcessEnv): string {
  if (env.COOKIE_SECRET) return env.COOKIE_SECRET;
  if (env.NODE_ENV === 'production')
    throw new ConfigError('Configuration: COOKIE_SECRET must be set in production (32+ random characters)');
  return 'development-only-cookie-secret-change-me';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const port = intVar(env, 'PORT', 5678, 0, 65535);
  const host = env.HOST ?? '127.0.0.1';
  const isDev = overrides.isDev ?? env.NODE_ENV !== 'production';
  // Listening on every interface (0.0.0.0, ::) says nothing of how clients reach
  // the API: derive a URL that works on this machine instead.
  const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const publicUrl = overrides.publicUrl ?? urlVar(env, 'PUBLIC_URL', `http://${reachableHost}:${port}`);
  const corsOrigins = corsOriginsOf(env);
  return {
    db: dbUrls(env),
    readDatabaseUrl: readDatabaseUrl(env),
    port,
    host,
    isDev,
    publicUrl,
    corsOrigins,
    poolSize: intVar(env, 'API_POOL_SIZE', 10, 1, 1000),
    metricsToken: env.METRICS_TOKEN || null,
    stripe: stripeConfigFromEnv(env),
    live: {
      maxTiles: intVar(env, 'LIVE_MAX_TILES', 64, 1, 10_000),
      maxPerClient: intVar(env, 'LIVE_MAX_PER_CLIENT', 10, 1, 10_000),
      retentionSeconds: intVar(env, 'LIVE_EVENT_RETENTION', 600, 1, 7 * 24 * 3600),
      heartbeatSeconds: intVar(env, 'LIVE_HEARTBEAT', 15, 1, 3600),
    },
    photos: photoConfigFromEnv(env),
    webUrl: webUrlOf(env),
    webDistDir: env.WEB_DIST_DIR ?? DEFAULT_WEB_DIST,
    cookieSecret: overrides.cookieSecret ?? cookieSecretOf(env),
    cookieSecure: boolVar(env, 'COOKIE_SECURE', publicUrl.startsWith('https:')),
    trustProxy:
      env.TRUST_PROXY === undefined
        ? false
        : /^\d+$/.test(env.TRUST_PROXY)
          ? Number(env.TRUST_PROXY)
          : env.TRUST_PROXY === 'true'
            ? true
            : env.TRUST_PROXY,
    // Both on in development, off in production unless asked for.
    graphqlIde: boolVar(env, 'GRAPHQL_IDE', isDev),
    graphqlIntrospection: boolVar(env, 'GRAPHQL_INTROSPECTION', isDev),
    holdsPerAddress: intVar(env, 'HOLDS_PER_ADDRESS', 10, 1, 1_000_000),
    cardUpcomingMax: intVar(env, 'CARD_UPCOMING_MAX', 10, 1, 1_000_000),
    staffEmailDomains: (env.STAFF_EMAIL_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean),
    google:
      env.GOOGLE_CLIENT_ID && env.GOOGLE_CLIENT_SECRET
        ? {
            issuer: urlVar(env, 'GOOGLE_ISSUER', 'https://accounts.google.com'),
            clientId: env.GOOGLE_CLIENT_ID,
            clientSecret: env.GOOGLE_CLIENT_SECRET,
          }
        : null,
    facebook:
      env.FACEBOOK_CLIENT_ID && env.FACEBOOK_CLIENT_SECRET
        ? {
            authorizationUrl: urlVar(env, 'FACEBOOK_AUTHORIZATION_URL', 'https://www.facebook.com/v21.0/dialog/oauth'),
            tokenUrl: urlVar(env, 'FACEBOOK_TOKEN_URL', `${FACEBOOK_GRAPH}/oauth/access_token`),
            profileUrl: urlVar(env, 'FACEBOOK_PROFILE_URL', `${FACEBOOK_GRAPH}/me`),
            clientId: env.FACEBOOK_CLIENT_ID,
            clientSecret: env.FACEBOOK_CLIENT_SECRET,
          }
        : null,
    ...overrides,
  };
}
