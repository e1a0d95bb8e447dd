// The API and the worker as real child processes (`server/main.ts`,
// test/helpers/worker_process.ts), for tests that run several of them, kill
// them (SIGKILL) or restart them. Each child gets the database, Stripe
// emulator and SMTP listener of the test through its environment.
import { spawn, type ChildProcess } from 'node:child_process';
import type { StripeEmulator } from '../../stripe-emulator/index.ts';
import type { DbUrls } from '../../lib/db_urls.ts';
import { WEBHOOK_SECRET } from './payments.ts';
import { freePort } from './free_port.ts';

export interface Child {
  process: ChildProcess;
  /** Everything it printed, for failure messages. */
  output(): string;
  /** Resolves when it has exited (at once if it already has). */
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ApiChild extends Child {
  url: string;
  port: number;
}

/** The environment `npm run api` / `npm run worker` read, pointing at the test's parts. */
export function childEnv(
  urls: DbUrls,
  emulator: StripeEmulator,
  smtp: { host: string; port: number },
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: urls.owner,
    AUTH_DATABASE_URL: urls.authenticator,
    ROOT_DATABASE_URL: urls.root,
    STRIPE_SECRET_KEY: 'sk_test_payments',
    STRIPE_API_HOST: emulator.host,
    STRIPE_API_PORT: String(emulator.port),
    STRIPE_API_PROTOCOL: 'http',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SMTP_HOST: smtp.host,
    SMTP_PORT: String(smtp.port),
    WEB_URL: 'https://app.example.test',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    GRAPHILE_ENV: 'production',
    // Every simulated client books from 127.0.0.1 at once: the per-address hold
    // limit (SMB12, 10 in production) would refuse them (test/security_holds.test.ts covers it).
    HOLDS_PER_ADDRESS: '100000',
    // And they all set up the same test card: the per-card bound (SMP09) would refuse them too.
    CARD_UPCOMING_MAX: '100000',
    ...extra,
  };
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function track(file: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  return {
    process: child,
    output: () => out,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

async function until(
  check: () => Promise<boolean> | boolean,
  child: Child,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (child.process.exitCode !== null) throw new Error(`${what} exited:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`${what} not up in ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `npm run api` on `port` (a free one by default); resolves once /health answers. */
export async function spawnApi(env: NodeJS.ProcessEnv, port?: number): Promise<ApiChild> {
  const p = port ?? (await freePort());
  const child = track(new URL('../../server/main.ts', import.meta.url).pathname, {
    ...env,
    PORT: String(p),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${p}`,
  });
  const url = `http://127.0.0.1:${p}`;
  await until(async () => (await fetch(`${url}/health`).catch(() => null))?.ok === true, child, `API on ${p}`);
  return { ...child, url, port: p };
}

/** A worker process (worker_process.ts: no cron, 100 ms polling); resolves once it polls. */
export async function spawnWorker(env: NodeJS.ProcessEnv): Promise<Child> {
  const child = track(new URL('./worker_process.ts', import.meta.url).pathname, env);
  await until(() => child.output().includes('worker ready'), child, 'worker');
  return child;
}
