// `npm start` end to end: provisions a database from nothing, seeds the demo
// spots, answers spotsNear over HTTP with them, serves the web app at WEB_URL
// (deep links included), stops cleanly on Ctrl-C, and a second run changes nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { dbUrls } from '../lib/db_urls.ts';
import { freePort } from './helpers/free_port.ts';

const NAME = `${process.env.TEST_DB_PREFIX ?? 'sms_test'}_start_${process.pid}`;
const urls = dbUrls(process.env, NAME);

interface Started {
  child: ChildProcess;
  output: () => string;
  apiUrl: string;
  inboxUrl: string;
  webUrl: string;
}

const viteCache = mkdtempSync(join(tmpdir(), 'sms-start-vite-'));

async function start(): Promise<Started> {
  const [api, smtp, web, stripe, app] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: urls.owner,
    PORT: String(api),
    MAILDEV_SMTP_PORT: String(smtp),
    MAILDEV_WEB_PORT: String(web),
    STRIPE_EMULATOR_PORT: String(stripe),
    WEB_URL: `http://127.0.0.1:${app}`,
    WEB_CACHE_DIR: viteCache,
  };
  delete env.SMTP_HOST;
  delete env.STRIPE_SECRET_KEY;
  delete env.STRIPE_API_HOST;
  const child = spawn(process.execPath, ['cli/start.ts'], { env, cwd: new URL('..', import.meta.url).pathname });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const deadline = Date.now() + 90_000;
  while (!output.includes('Press Ctrl-C to stop.')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => output,
    apiUrl: `http://127.0.0.1:${api}`,
    inboxUrl: `http://127.0.0.1:${web}`,
    webUrl: `http://127.0.0.1:${app}`,
  };
}

async function stop(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGINT');
  return exited;
}

async function dropDatabases() {
  const root = new pg.Client({ connectionString: urls.root });
  await root.connect();
  await root.query(`drop database if exists ${NAME} with (force)`);
  await root.end();
}

test.before(dropDatabases);
test.after(async () => {
  await dropDatabases();
  rmSync(viteCache, { recursive: true, force: true });
});

test('first run: provisions, seeds, serves demo spots; Ctrl-C stops it', async () => {
  const s = await start();
  try {
    assert.match(s.output(), /Demo spots: \d+ inserted/);
    assert.match(s.output(), new RegExp(`GraphQL API\\s+${s.apiUrl}/graphql`));
    // Midtown Manhattan, where the demo data has meters.
    const res = await fetch(`${s.apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ spotsNear(lat: 40.754, lng: -73.984, radius: 1, first: 5) {
        nodes { distance spot { externalId description } } } }`,
      }),
    });
    const body = (await res.json()) as any;
    assert.equal(body.errors, undefined);
    const nodes = body.data.spotsNear.nodes;
    assert.is(nodes.length, 5);
    assert.ok(nodes.every((n: any) => n.spot.externalId && n.distance <= 1));
    assert.ok((await fetch(`${s.inboxUrl}/api/email`)).ok, 'the mail sink web inbox answers');
    // The web app at WEB_URL: an emailed deep link gets the app, and the app reaches the API through it.
    assert.match(s.output(), new RegExp(`Web app\\s+${s.webUrl}`));
    const page = await fetch(`${s.webUrl}/reservations/7/manage`, { headers: { accept: 'text/html' } });
    assert.is(page.headers.get('content-security-policy'), "frame-ancestors 'none'", 'no other site frames the app');
    assert.is(page.headers.get('x-frame-options'), 'DENY');
    assert.is(page.status, 200);
    assert.match(await page.text(), /<div id="app"><\/div>/);
    // The app's own modules, and nothing else of the repository (Vite's /@fs/ reads any allowed file).
    assert.is((await fetch(`${s.webUrl}/src/main.tsx`)).status, 200);
    const repo = new URL('..', import.meta.url).pathname;
    for (const file of ['server/config.ts?raw', 'package.json', 'node_modules/pg/package.json']) {
      assert.is((await fetch(`${s.webUrl}/@fs${repo}${file}`)).status, 403, file);
    }
    const health = await fetch(`${s.webUrl}/health`);
    assert.equal(await health.json(), { status: 'ok' });
    // The API's documents too, not the app's index.html in their place.
    const openapi = await fetch(`${s.webUrl}/openapi.json`);
    assert.is((await openapi.json()).openapi?.startsWith('3.'), true, '/openapi.json through the web origin');
    assert.match(await (await fetch(`${s.webUrl}/docs`)).text(), /openapi\.json/);
    // The printed inbox URL opens the inbox, whoever asks (maildev alone 404s `/` without Accept: text/html).
    assert.match(s.output(), new RegExp(`Mail inbox\\s+${s.inboxUrl}\\n`));
    const inbox = await fetch(`${s.inboxUrl}/`);
    assert.is(inbox.status, 200);
    assert.match(await inbox.text(), /<html/i);
    assert.not.match(s.output(), /MailDev API running/, 'only the address to use is printed');
    // No other origin reads the inbox (test/mail_sink.test.ts has the rest).
    const foreign = await fetch(`${s.inboxUrl}/api/email`, { headers: { origin: 'http://evil.test' } });
    assert.is(foreign.status, 403);
    assert.is(foreign.headers.get('access-control-allow-origin'), null);
    // The emulator's Stripe.js is printed and served.
    const stripeJs = /Stripe\.js: (http:\/\/\S+\/v3\/)/.exec(s.output())?.[1];
    assert.ok(stripeJs, s.output());
    assert.match(await (await fetch(stripeJs!)).text(), /confirmCardSetup/);
  } finally {
    assert.is(await stop(s), 0);
  }
});

test('second run: nothing new to provision or seed', async () => {
  const s = await start();
  try {
    assert.match(s.output(), /Demo spots: 0 inserted, 0 updated, \d+ unchanged/);
  } finally {
    assert.is(await stop(s), 0);
  }
});

test.run();
