// The logs of a real run: the API and the worker as `npm run api` / `npm run
// worker` start them (child processes, their stdout captured) and the CLI.
// Every line is one JSON object; every request has exactly one access line
// whose request id is the X-Request-Id the client got (also a caller's own);
// an internal error's reference is that id and its log line carries it;
// graphile-worker's job lines come through the same logger; and no password,
// bearer token, manage token, emailed link token or secret appears anywhere.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Stripe from 'stripe';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createSpot } from './helpers/spots.ts';
import { hoursFromNow } from './helpers/reservations.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { waitFor } from './helpers/payments.ts';
import { startApi } from './helpers/api.ts';
import { captureLogs } from './helpers/logs.ts';

const ROOT = join(import.meta.dirname, '..');
const PASSWORD = 'a password nobody logs 4821';
const CLI_PASSWORD = 'another password for the cli 9173';
const WEBHOOK_SECRET = 'whsec_logs_test_secret_7788';
const COOKIE_SECRET = 'cookie-secret-for-the-logs-test-5566';

let db: TestDb;
let smtp: SmtpSink;

interface Proc {
  child: ChildProcess;
  output: () => string;
}

function startProcess(file: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [join(ROOT, file)], {
    env: {
      ...process.env,
      DATABASE_URL: db.urls.owner,
      LOG_FORMAT: 'json',
      COOKIE_SECRET,
      STRIPE_SECRET_KEY: 'sk_test_logs',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      ...env,
    },
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  return { child, output: () => output };
}

async function stopProcess(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  p.child.kill('SIGTERM');
  await exited;
}

type Line = Record<string, unknown> & { level: number; msg: string };

function lines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  smtp = await startSmtpSink();
});

test.after(async () => {
  await smtp?.close();
  await db?.close();
});

test('API, worker and CLI: JSON lines, request ids, no secrets', async () => {
  const api = startProcess('server/main.ts', { PORT: '0', HOST: '127.0.0.1' });
  let worker: Proc | undefined;
  const answered: Array<{ id: string; status: number; method: string; path: string }> = [];
  const call = async (method: string, path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, { method, ...init });
    const body = await res.text();
    answered.push({ id: res.headers.get('x-request-id') ?? '', status: res.status, method, path });
    return { res, body: body ? JSON.parse(body) : null };
  };
  let url = '';
  try {
    const listening = await waitFor(
      async () => lines(api.output()).find((l) => l.msg === 'listening'),
      60_000,
      'API listening',
    );
    url = listening.url as string;
    const json = (body: unknown, headers: Record<string, string> = {}) => ({
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

    // Sign-up, a signed-in query, a wrong password.
    const register = await call(
      'POST',
      '/auth/register',
      json({ email: 'logs@example.test', name: 'Log Reader', password: PASSWORD }),
    );
    assert.is(register.res.status, 201);
    const bearer: string = register.body.token;
    const me = await call(
      'POST',
      '/graphql',
      json({ query: 'query Me { currentUser { rowId } }' }, { authorization: `Bearer ${bearer}` }),
    );
    assert.ok(me.body.data.currentUser.rowId);
    assert.is(
      (await call('POST', '/auth/login', json({ email: 'logs@example.test', password: `${PASSWORD}!` }))).res.status,
      401,
    );

    // A guest booking and a read with its manage token.
    const spotId = await createSpot(db, { lat: 40.75, lng: -73.99 });
    const book = await call(
      'POST',
      '/graphql',
      json({
        query: `mutation Book($spotId: BigInt, $startsAt: Datetime) { reserve(input: { spotId: $spotId, startsAt: $startsAt,
        durationMinutes: 60, email: "guest.logs@example.test" }) { result { manageToken reservation { rowId } } } }`,
        variables: { spotId, startsAt: hoursFromNow(2).toISOString() },
      }),
    );
    const { manageToken, reservation } = book.body.data.reserve.result;
    const read = await call(
      'POST',
      '/graphql',
      json({
        query:
          'query Guest($id: BigInt, $manageToken: String) { guestReservation(reservationId: $id, manageToken: $manageToken) { rowId } }',
        variables: { id: reservation.rowId, manageToken },
      }),
    );
    assert.ok(read.body.data.guestReservation);

    // The caller's own request id is kept.
    const own = await fetch(`${url}/health`, { headers: { 'x-request-id': 'caller-chosen-id-0001' } });
    assert.is(own.headers.get('x-request-id'), 'caller-chosen-id-0001');
    answered.push({ id: 'caller-chosen-id-0001', status: own.status, method: 'GET', path: '/health' });

    // An unexpected failure (a signed event the inbox cannot store: PostgreSQL's jsonb holds no
    // NUL character, 22P05, no documented code): its reference is the request id.
    const payload = JSON.stringify({ id: 'evt_\u0000', type: 'no.store' });
    const signature = new Stripe('sk_test_logs').webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    const failed = await call('POST', '/webhooks/stripe', {
      headers: { 'stripe-signature': signature, 'content-type': 'application/json' },
      body: payload,
    });
    assert.is(failed.res.status, 500);
    const failedId = answered.at(-1)?.id ?? '';
    assert.is(failed.body.error.message, `Internal error (reference ${failedId})`);

    // The worker sends the verification and booking emails.
    worker = startProcess('worker/main.ts', { WORKER_CONCURRENCY: '2' });
    await waitFor(
      async () =>
        (await db.owner.query('select count(*)::int as n from app_private.emails where sent_at is null')).rows[0].n ===
          0 || null,
      60_000,
      'emails sent',
    );
    await stopProcess(worker);
    await stopProcess(api);

    // Every line is JSON; one access line per request, carrying the id the client got.
    const apiLines = lines(api.output());
    const access = apiLines.filter((l) => l.msg === 'request');
    for (const a of answered) {
      const mine = access.filter((l) => l.reqId === a.id);
      assert.is(mine.length, 1, `one access line for ${a.method} ${a.path} (${a.id})`);
      assert.equal(
        { method: mine[0].method, path: mine[0].path, status: mine[0].status },
        { method: a.method, path: a.path, status: a.status },
      );
      assert.type(mine[0].durationMs, 'number');
    }
    assert.is(access.length, answered.length, 'no other requests were made');
    assert.is(access.find((l) => l.reqId === answered[1].id)?.operation, 'Me');
    const errorLine = apiLines.find((l) => l.level >= 50 && l.reqId === failedId);
    assert.ok(errorLine, 'the internal error is logged with the request id');

    // graphile-worker's lines come through the same logger, payloads censored.
    const workerLines = lines(worker.output());
    const completed = workerLines.filter((l) => /Completed task/.test(l.msg));
    assert.ok(completed.length >= 2, `job lines: ${workerLines.map((l) => l.msg).join(' | ')}`);
    for (const l of completed) {
      assert.is(l.component, 'worker');
      assert.is((l.job as { payload?: unknown } | undefined)?.payload, '[redacted]');
    }

    // The CLI: a user created with a password from stdin.
    const cli = spawnSync(
      process.execPath,
      [
        join(ROOT, 'cli/main.ts'),
        'user:create',
        '--email',
        'ops.logs@example.test',
        '--role',
        'operator',
        '--password-stdin',
      ],
      {
        input: `${CLI_PASSWORD}\n`,
        encoding: 'utf8',
        env: { ...process.env, DATABASE_URL: db.urls.owner, LOG_FORMAT: 'json' },
      },
    );
    assert.is(cli.status, 0, cli.stdout + cli.stderr);
    const cliLines = lines(cli.stdout + cli.stderr);
    assert.ok(cliLines.some((l) => l.component === 'cli' && /Created operator/.test(l.msg)));

    // No secret anywhere. The links' tokens as mailed (the outbox drops them once sent; the
    // listener may record a message a moment after the worker marked it sent).
    const mailedTokens = () =>
      smtp.messages.flatMap((m) =>
        [...m.decoded.matchAll(/[?#&](?:token|manageToken)=([A-Za-z0-9_-]{20,})/g)].map((x) => x[1]),
      );
    const linkTokens = await waitFor(
      async () => {
        const tokens = mailedTokens();
        return tokens.length >= 1 ? tokens : null;
      },
      10_000,
      'the verification email carried a token',
    );
    const everything = api.output() + worker.output() + cli.stdout + cli.stderr;
    for (const secret of [PASSWORD, CLI_PASSWORD, bearer, manageToken, WEBHOOK_SECRET, COOKIE_SECRET, ...linkTokens]) {
      assert.not.ok(everything.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`);
    }
  } finally {
    if (worker) await stopProcess(worker);
    await stopProcess(api);
  }
});

test("GraphQL: an internal error's reference is the request id, and its log line carries it", async () => {
  const api = await startApi(db);
  // A fault no client can cause on purpose (every bad input has a documented code,
  // test/api_bad_input_matrix.test.ts): a spot trigger failing with an undocumented SQLSTATE.
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99 });
  await db.owner.query(`create or replace function app_private.tg_logs_test_fault() returns trigger language plpgsql as $$
    begin raise exception 'the spot row is out of range for type bigint' using errcode = 'XX124'; end $$`);
  await db.owner.query(
    `create trigger _999_logs_test_fault before update on app_public.reservations for each row execute procedure app_private.tg_logs_test_fault()`,
  );
  try {
    const booked = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation { reserve(input: { spotId: "${spotId}", startsAt: "${hoursFromNow(2).toISOString()}", durationMinutes: 30, email: "logs.fault@example.com" }) { result { reservation { rowId } manageToken } } }`,
      }),
    });
    const { reservation, manageToken } = ((await booked.json()) as any).data.reserve.result;
    const { result: res, lines } = await captureLogs(() =>
      fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: `mutation { cancelReservation(input: { reservationId: "${reservation.rowId}", manageToken: "${manageToken}" }) { clientMutationId } }`,
        }),
      }),
    );
    const id = res.headers.get('x-request-id');
    const body = await res.json();
    assert.equal(body.errors[0].extensions, { code: 'INTERNAL' });
    assert.is(body.errors[0].message, `Internal error (reference ${id})`);
    const logged = lines.find((l) => l.level === 50 && l.reqId === id);
    assert.ok(logged, 'an error line with the request id');
    assert.match(JSON.stringify(logged.err), /out of range for type bigint/);
  } finally {
    await db.owner.query('drop trigger _999_logs_test_fault on app_public.reservations');
    await api.close();
  }
});

test.run();
