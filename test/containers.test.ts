// docker-compose.yml and the Dockerfile, checked by parsing them (Docker
// itself does not run where the tests run): services reach each other, only
// loopback ports are published and never PostgreSQL's, every long-running
// service has a health check on a port it really listens on, the image is
// multi-stage, runs as a non-root user with production dependencies only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../server/config.ts';

const ROOT = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const env = (name: string) => services[name].environment ?? {};

/** Dockerfile instructions, continuation lines joined, comments dropped. */
const instructions = read('Dockerfile')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [keyword, ...rest] = l.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });

/** The stages: name and their instructions. */
function stages() {
  const out: Array<{ from: string; name?: string; steps: typeof instructions }> = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') {
      const [from, , name] = i.args.split(/\s+/);
      out.push({ from, name, steps: [] });
    } else out.at(-1)?.steps.push(i);
  }
  return out;
}

test('only loopback ports are published, and never PostgreSQL', () => {
  for (const [name, s] of Object.entries(services)) {
    for (const port of s.ports ?? []) {
      assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${port} on loopback only`);
      assert.is.not(port.split(':')[2], '5432', `${name} does not publish PostgreSQL`);
    }
  }
});

test('every long-running service has a health check; jobs are waited for until they succeed', () => {
  for (const [name, s] of Object.entries(services)) {
    if (s.restart === 'no') {
      const waiters = Object.values(services).filter((o) => o.depends_on?.[name]);
      assert.ok(waiters.length > 0, `${name} is a job someone waits for`);
      for (const w of waiters) assert.is(w.depends_on?.[name].condition, 'service_completed_successfully');
      continue;
    }
    assert.ok(s.healthcheck?.test?.length, `${name} has a health check`);
  }
  for (const s of Object.values(services)) {
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      assert.ok(services[dep], `depends on an existing service ${dep}`);
      if (services[dep].restart !== 'no') assert.is(condition, 'service_healthy');
    }
  }
});

test('health checks probe the ports the processes listen on', () => {
  const probe = (name: string) => /127\.0\.0\.1:(\d+)\/(\w+)/.exec(services[name].healthcheck?.test.join(' ') ?? '');
  assert.is(probe('api')?.[1], env('api').PORT);
  assert.is(probe('api')?.[2], 'ready');
  assert.is(probe('worker')?.[1], env('worker').WORKER_HEALTH_PORT);
  assert.is(probe('stripe')?.[1], env('stripe').STRIPE_EMULATOR_PORT);
});

test('the emulator listens on every interface of its container, and API and worker reach it by name', () => {
  assert.is(env('stripe').STRIPE_EMULATOR_HOST, '0.0.0.0');
  for (const name of ['api', 'worker']) {
    assert.is(env(name).STRIPE_API_HOST, 'stripe');
    assert.is(env(name).STRIPE_API_PORT, env('stripe').STRIPE_EMULATOR_PORT);
    assert.is(env(name).STRIPE_WEBHOOK_SECRET, env('stripe').STRIPE_WEBHOOK_SECRET, 'one webhook secret');
    assert.is(env(name).SMTP_HOST, 'mail');
    assert.is(env(name).SMTP_PORT, env('mail').MAILDEV_SMTP_PORT);
  }
  const webhook = new URL(env('stripe').STRIPE_WEBHOOK_URL);
  assert.is(webhook.hostname, 'api');
  assert.is(webhook.port, env('api').PORT);
  assert.is(webhook.pathname, '/webhooks/stripe');
});

test('PUBLIC_URL is never the 0.0.0.0 the API binds to', () => {
  assert.is(env('api').HOST, '0.0.0.0');
  assert.not.match(env('api').PUBLIC_URL, /0\.0\.0\.0/);
  // Nor when derived: HOST=0.0.0.0 without PUBLIC_URL.
  const derived = loadConfig({ HOST: '0.0.0.0', PORT: '5678' }, { cookieSecret: 'x' }).publicUrl;
  assert.is(derived, 'http://127.0.0.1:5678');
});

test('the mail sink is the maildev of package-lock.json', () => {
  const lock = JSON.parse(read('package-lock.json'));
  const version: string = lock.packages['node_modules/maildev'].version;
  for (const [name, s] of Object.entries(services)) {
    const tag = /^maildev\/maildev:(\d+)/.exec(s.image ?? '')?.[1];
    if (tag) assert.is(tag, version.split('.')[0], `${name}'s maildev image major`);
  }
  assert.equal(services.mail.command, ['node', 'node_modules/maildev/dist/bin/maildev.js']);
  assert.is(services.mail.build?.target, 'dev', 'built with dev dependencies');
  assert.ok(existsSync(join(ROOT, 'node_modules/maildev/dist/bin/healthcheck.js')));
});

test('every command runs a file the image has', () => {
  const ignored = read('.dockerignore')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  for (const [name, s] of Object.entries(services)) {
    const file = s.command?.find((arg) => /\.(ts|js)$/.test(arg));
    if (!file) continue;
    assert.ok(existsSync(join(ROOT, file)), `${name}: ${file} exists`);
    const top = file.split('/')[0];
    if (top !== 'node_modules') assert.not.ok(ignored.includes(top), `${name}: ${top} is in the build context`);
  }
});

test('Dockerfile: multi-stage, production dependencies only, non-root, Node as .nvmrc', () => {
  const all = stages();
  assert.ok(all.length >= 2, 'multi-stage');
  const runtime = all.at(-1);
  assert.ok(runtime, 'a last stage');
  assert.is(runtime.name, 'runtime', 'the default target is the production image');
  const user = runtime.steps.filter((s) => s.keyword === 'USER').at(-1)?.args;
  assert.ok(user && user !== 'root' && user !== '0', `runs as ${user}`);
  // Its node_modules come from a stage that installed production dependencies only.
  const copy = runtime.steps.find((s) => s.keyword === 'COPY' && /node_modules/.test(s.args));
  const source = /--from=(\S+)/.exec(copy?.args ?? '')?.[1];
  const depsStage = all.find((s) => s.name === source);
  assert.ok(depsStage, `node_modules copied from stage ${source}`);
  assert.ok(
    depsStage.steps.some((s) => s.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(s.args)),
    'npm ci --omit=dev',
  );
  assert.not.ok(
    runtime.steps.some((s) => s.keyword === 'RUN' && /npm (ci|install)/.test(s.args)),
    'no install in the runtime stage',
  );
  assert.ok(runtime.steps.some((s) => s.keyword === 'ENV' && /NODE_ENV=production/.test(s.args)));
  // Node's major version: the ARG default of the base image.
  const nodeImage = /NODE_IMAGE=node:(\d+)/.exec(read('Dockerfile'))?.[1];
  assert.is(nodeImage, read('.nvmrc').trim());
  const cmd = JSON.parse(runtime.steps.find((s) => s.keyword === 'CMD')?.args ?? '[]') as string[];
  assert.ok(existsSync(join(ROOT, cmd[1])), `CMD runs ${cmd[1]}`);
});

test.run();
