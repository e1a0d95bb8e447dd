// Configuration is checked once at start-up: a variable that is set but
// unusable stops the process with a message naming it, instead of becoming a
// default behind the operator's back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../lib/env.ts';
import { loadConfig } from '../server/config.ts';
import { mailConfigFromEnv } from '../lib/mail_transport.ts';
import { stripeConfigFromEnv } from '../lib/stripe_client.ts';
import { workerSettingsFromEnv } from '../worker/runner.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

test('npm run api with API_POOL_SIZE=abc exits 1 naming the variable, before listening', () => {
  const res = spawnSync(process.execPath, [join(ROOT, 'server', 'main.ts')], {
    env: { ...process.env, API_POOL_SIZE: 'abc', PORT: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(res.status, 1);
  assert.match(res.stderr, 'Configuration: API_POOL_SIZE must be a whole number from 1 to 1000, not "abc"');
  assert.not.match(res.stdout, 'GraphQL API');
});

test('npm run worker with WORKER_CONCURRENCY=0 exits 1 naming the variable', () => {
  const res = spawnSync(process.execPath, [join(ROOT, 'worker', 'main.ts')], {
    env: { ...process.env, WORKER_CONCURRENCY: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(res.status, 1);
  assert.match(res.stderr, 'WORKER_CONCURRENCY');
});

test('each bad variable is named, with what it must be', () => {
  assert.match(
    refusal(() => loadConfig({ PORT: '80a' })),
    'PORT must be a whole number from 0 to 65535, not "80a"',
  );
  assert.match(
    refusal(() => loadConfig({ PUBLIC_URL: 'localhost:5678' })),
    'PUBLIC_URL must be a URL starting http:// or https://',
  );
  assert.match(
    refusal(() => loadConfig({ COOKIE_SECURE: 'maybe' })),
    'COOKIE_SECURE must be true or false',
  );
  assert.match(
    refusal(() => loadConfig({ DATABASE_URL: 'app_owner@db' })),
    'DATABASE_URL must be an absolute URL',
  );
  assert.match(
    refusal(() => loadConfig({ READ_DATABASE_URL: 'http://replica:5432/app' })),
    'READ_DATABASE_URL must be a URL starting postgres:// or postgresql://',
  );
  assert.match(
    refusal(() => loadConfig({ NODE_ENV: 'production', STRIPE_WEBHOOK_SECRET: 'whsec_x' })),
    'COOKIE_SECRET must be set in production',
  );
  assert.match(
    refusal(() => stripeConfigFromEnv({ NODE_ENV: 'production' })),
    'STRIPE_WEBHOOK_SECRET must be set in production',
  );
  assert.match(
    refusal(() => stripeConfigFromEnv({ STRIPE_API_PROTOCOL: 'ftp' })),
    'STRIPE_API_PROTOCOL must be http or https',
  );
  assert.match(
    refusal(() => stripeConfigFromEnv({ STRIPE_TIMEOUT_MS: '-5' })),
    'STRIPE_TIMEOUT_MS',
  );
  assert.match(
    refusal(() => mailConfigFromEnv({ SMTP_PORT: 'smtp' })),
    'SMTP_PORT',
  );
  assert.match(
    refusal(() => workerSettingsFromEnv({ WORKER_SYNCHRONOUS_COMMIT: 'maybe' })),
    'WORKER_SYNCHRONOUS_COMMIT must be on or off',
  );
});

test('unset or empty variables take their defaults; good values are read', () => {
  const config = loadConfig({ API_POOL_SIZE: '', PORT: '6000', COOKIE_SECURE: '1' });
  assert.is(config.poolSize, 10);
  assert.is(config.port, 6000);
  assert.is(config.cookieSecure, true);
  assert.is(config.readDatabaseUrl, null, 'no replica unless configured');
  assert.is(
    loadConfig({ READ_DATABASE_URL: 'postgres://app_authenticator@replica/app' }).readDatabaseUrl,
    'postgres://app_authenticator@replica/app',
  );
  assert.equal(workerSettingsFromEnv({}), { concurrency: 10, synchronousCommit: 'off', livenessSweepMs: 30_000 });
  assert.is(mailConfigFromEnv({ SMTP_SECURE: 'true' }).secure, true);
});

test.run();
