// The whole product as `npm start` runs it (cli/start.ts in a child process:
// API, worker, Stripe emulator, mail sink) on a database cloned for the
// calling test file, with the web app built once and served by the API at
// WEB_URL (npm start's production-like mode: each page is three requests
// instead of the dev server's module waterfall), and Debian's Chromium driven
// by playwright-core, kept off the network: only 127.0.0.1 resolves.
// test/start.test.ts covers npm start's Vite dev server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chromium,
  devices,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { build } from 'vite';
import { WEB_DIR } from '../../cli/web_dev_server.ts';
import { createTestDb, type TestDb } from './db.ts';
import type { StripeEmulator } from '../../stripe-emulator/index.ts';
import { freePort } from './free_port.ts';

type StripeConfig = StripeEmulator['stripeConfig'];

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export type Size = 'phone' | 'desktop';

export const SIZES: Record<Size, Parameters<Browser['newContext']>[0]> = {
  phone: { ...devices['iPhone X'], deviceScaleFactor: 2 },
  desktop: { viewport: { width: 1280, height: 860 } },
};

export interface Mail {
  id: string;
  subject: string;
  to: string[];
  text: string;
  /** Absolute links in the text, in order. */
  links: string[];
}

export interface WebStack {
  webUrl: string;
  apiUrl: string;
  inboxUrl: string;
  /** Where the product's Stripe emulator answers, for a browser's half of a card set-up (setUpCard). */
  stripeConfig: StripeConfig;
  /** What the product printed so far, for failure messages. */
  output(): string;
  db: TestDb;
  browser: Browser;
  /** A fresh browser profile (no cookies, no storage) at a size, in New York's time zone; `options` add to it (e.g. a location). */
  newPage(size?: Size, options?: BrowserContextOptions): Promise<{ context: BrowserContext; page: Page }>;
  mails(): Promise<Mail[]>;
  /** The first mail to `to` whose subject matches, waiting for the worker to send it. */
  waitForMail(to: string, subject: RegExp): Promise<Mail>;
  close(): Promise<void>;
}

export async function waitUntil<T>(
  check: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `npm run web:build` into a folder of the caller's. */
export async function buildWebApp(outDir: string): Promise<void> {
  const nodeEnv = process.env.NODE_ENV;
  await build({
    root: WEB_DIR,
    configFile: join(WEB_DIR, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  // vite build sets NODE_ENV=production in this process; what runs next here is not production.
  if (nodeEnv === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = nodeEnv;
}

async function startProduct(
  db: TestDb,
  distDir: string,
  extraEnv: NodeJS.ProcessEnv,
): Promise<{
  child: ChildProcess;
  webUrl: string;
  apiUrl: string;
  inboxUrl: string;
  stripeConfig: StripeConfig;
  output: () => string;
}> {
  const [api, smtp, inbox, stripe] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.urls.owner,
    PORT: String(api),
    MAILDEV_SMTP_PORT: String(smtp),
    MAILDEV_WEB_PORT: String(inbox),
    STRIPE_EMULATOR_PORT: String(stripe),
    WEB_URL: `http://127.0.0.1:${api}`,
    WEB_DIST_DIR: distDir,
  };
  for (const name of ['SMTP_HOST', 'STRIPE_SECRET_KEY', 'STRIPE_API_HOST', 'CORS_ORIGINS', 'PUBLIC_URL', 'NODE_ENV'])
    delete env[name];
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, ['cli/start.ts'], { env, cwd: new URL('../..', import.meta.url).pathname });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
      return output.includes('Press Ctrl-C to stop.');
    },
    `npm start coming up\n${output}`,
    120_000,
  );
  return {
    child,
    output: () => output,
    webUrl: `http://127.0.0.1:${api}`,
    apiUrl: `http://127.0.0.1:${api}`,
    inboxUrl: `http://127.0.0.1:${inbox}`,
    stripeConfig: { host: '127.0.0.1', port: stripe, protocol: 'http' },
  };
}

/** The product for one test file; `extraEnv` configures it further (e.g. sign-in providers). */
export async function startWebStack(testFile: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<WebStack> {
  const distDir = mkdtempSync(join(tmpdir(), 'sms-web-dist-'));
  const [db] = await Promise.all([createTestDb(testFile), buildWebApp(distDir)]);
  const product = await startProduct(db, distDir, extraEnv);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Every host but 127.0.0.1 fails to resolve: map tiles and anything else stay offline.
    args: ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  const contexts: BrowserContext[] = [];
  const mails = async (): Promise<Mail[]> => {
    const res = await fetch(`${product.inboxUrl}/api/email`);
    const list = (await res.json()) as Array<{
      id: string;
      subject: string;
      to: Array<{ address: string }>;
      text: string;
    }>;
    return list.map((m) => ({
      id: m.id,
      subject: m.subject,
      to: m.to.map((t) => t.address),
      text: m.text ?? '',
      links: [...(m.text ?? '').matchAll(/https?:\/\/[^\s<>)"]+/g)].map((x) => x[0]),
    }));
  };
  return {
    ...product,
    db,
    browser,
    async newPage(size: Size = 'desktop', options: BrowserContextOptions = {}) {
      const context = await browser.newContext({
        ...SIZES[size],
        timezoneId: 'America/New_York',
        locale: 'en-US',
        ...options,
      });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      return { context, page };
    },
    mails,
    // The inbox is a separate process that can miss a request under load: ask again until the deadline.
    waitForMail: (to, subject) =>
      waitUntil(
        async () => (await mails().catch(() => [])).find((m) => m.to.includes(to) && subject.test(m.subject)),
        `an email to ${to} with subject ${subject}`,
      ),
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      const exited = new Promise((resolve) => product.child.once('exit', resolve));
      product.child.kill('SIGINT');
      await exited;
      rmSync(distDir, { recursive: true, force: true });
      await db.close();
    },
  };
}

export interface A11yViolation {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** axe-core's serious and critical findings on the page as it is now (WCAG 2 A and AA rules). */
export async function seriousA11yViolations(page: Page): Promise<A11yViolation[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact!, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}
