// Liveness and readiness: /health answers while the process runs; /ready
// fails while the database cannot be reached (the API's connections go
// through a TCP relay the test closes: the shared PostgreSQL keeps running)
// or while a committed migration has not run, and recovers after; an API or
// a worker started while the database is unreachable waits for it (the API's
// /graphql answers 503 until its schema is built, the worker's /ready is 503
// until its runner starts) and works once it is back; the worker's own
// /ready fails once its job runner stopped, and its /metrics (with the heap
// used after a full GC) wants METRICS_TOKEN's bearer token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, connect, type Server, type Socket } from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AddressInfo } from 'node:net';
import type { TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { makeWorkerPool, startWorker } from '../worker/runner.ts';
import { startHealthServer } from '../worker/health_server.ts';
import { workerMetrics } from '../worker/metrics.ts';
import { spawn } from 'node:child_process';
import { childEnv } from './helpers/processes.ts';
import { freePort } from './helpers/free_port.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
});

test.after(() => closeAll(api, db));

async function probe(base: string, path: string) {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as { status: string; checks?: Record<string, string> } };
}

/**
 * /ready until it answers 200, a few times at most: on this shared machine a
 * first connection can miss the 2 s deadline, and a pooled connection cut
 * with the relay fails one more probe before the pool replaces it.
 */
async function whenReady(base: string) {
  let ready = await probe(base, '/ready');
  for (let i = 0; i < 4 && ready.status !== 200; i++) ready = await probe(base, '/ready');
  return ready;
}

test('/health and /ready when everything is up', async () => {
  assert.equal(await probe(api.url, '/health'), { status: 200, body: { status: 'ok' } });
  assert.equal(await whenReady(api.url), {
    status: 200,
    body: { status: 'ready', checks: { database: 'ok', migrations: 'ok', graphql: 'ok' } },
  });
});

test('/ready fails while a committed migration has not run, /health does not', async () => {
  const {
    rows: [last],
  } = await db.owner.query(
    'delete from graphile_migrate.migrations where hash = (select hash from graphile_migrate.migrations order by filename desc limit 1) returning *',
  );
  try {
    const ready = await probe(api.url, '/ready');
    assert.is(ready.status, 503);
    assert.is(ready.body.status, 'unavailable');
    assert.is(ready.body.checks?.migrations, `1 pending (from ${last.filename.replace('.sql', '')})`);
    assert.is(ready.body.checks?.database, 'ok');
    assert.is((await probe(api.url, '/health')).status, 200);
  } finally {
    await db.owner.query(
      'insert into graphile_migrate.migrations (hash, previous_hash, filename, date) values ($1, $2, $3, $4)',
      [last.hash, last.previous_hash, last.filename, last.date],
    );
  }
  assert.is((await whenReady(api.url)).status, 200);
});

/** A TCP relay to PostgreSQL that can be cut (every connection dropped, port closed) and restored. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server;
  const open = (port: number) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await open(0);
  return {
    port,
    cut: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
    restore: () => open(port),
  };
}

/** The test database reached through a relay that can be cut and restored: its URLs and the relay. */
async function relayedDatabase() {
  const owner = new URL(db.urls.owner);
  const relay = await startRelay({ host: owner.hostname, port: Number(owner.port || 5432) });
  const via = (url: string) => {
    const u = new URL(url);
    u.port = String(relay.port);
    return u.toString();
  };
  return { relay, urls: { ...db.urls, owner: via(db.urls.owner), authenticator: via(db.urls.authenticator) } };
}

test('/ready fails while the database is unreachable and recovers after', async () => {
  const { relay, urls } = await relayedDatabase();
  const relayed = await startApi(db, {
    db: urls,
  });
  try {
    const up = await whenReady(relayed.url);
    assert.is(up.status, 200, `ready through the relay: ${JSON.stringify(up.body)}`);
    await relay.cut();
    const down = await probe(relayed.url, '/ready');
    assert.is(down.status, 503);
    assert.match(down.body.checks?.database ?? '', /^unavailable: /);
    assert.is(down.body.checks?.migrations, 'unknown');
    assert.is((await probe(relayed.url, '/health')).status, 200, 'still alive: nothing to restart');
    await relay.restore();
    const again = await whenReady(relayed.url);
    assert.is(again.status, 200, `ready again: ${JSON.stringify(again.body)}`);
  } finally {
    await relayed.close();
    await relay.cut();
  }
});

test('an API started while the database is unreachable builds its schema once it is back', async () => {
  const { relay, urls } = await relayedDatabase();
  await relay.cut();
  const relayed = await startApi(db, {
    db: urls,
  });
  try {
    const down = await probe(relayed.url, '/ready');
    assert.is(down.status, 503);
    assert.is(down.body.checks?.graphql, 'schema not built yet');
    const refused = await relayed.gql('{ __typename }');
    assert.is(refused.status, 503);
    assert.is(refused.errors?.[0]?.extensions?.code, 'INTERNAL');
    assert.match(refused.errors?.[0]?.message ?? '', /^Service not ready, retry shortly \(reference [\w-]+\)$/);
    assert.is((await probe(relayed.url, '/health')).status, 200);
    await relay.restore();
    // The build is retried with backoff (at most 5 s apart).
    let ready = await probe(relayed.url, '/ready');
    for (let i = 0; i < 40 && ready.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      ready = await probe(relayed.url, '/ready');
    }
    assert.is(ready.status, 200, `ready once the database is back: ${JSON.stringify(ready.body)}`);
    const answered = await relayed.gql('{ __typename }');
    assert.is(answered.status, 200, JSON.stringify(answered));
    assert.equal(answered.data, { __typename: 'Query' });
  } finally {
    await relayed.close();
    await relay.cut();
  }
});

test('a worker started while the database is unreachable serves its probes and starts once it is back', async () => {
  const { relay, urls } = await relayedDatabase();
  await relay.cut();
  const healthPort = await freePort();
  const env = childEnv(
    urls,
    { host: '127.0.0.1', port: 1 } as never,
    { host: '127.0.0.1', port: 1 },
    { WORKER_HEALTH_PORT: String(healthPort), LOG_LEVEL: 'info' },
  );
  const child = spawn(process.execPath, [new URL('../worker/main.ts', import.meta.url).pathname], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${healthPort}`;
  const poll = async (path: string, status: number) => {
    for (let i = 0; i < 120; i++) {
      const res = await probe(base, path).catch(() => undefined);
      if (res?.status === status) return res;
      assert.is(child.exitCode, null, `the worker exited:\n${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.unreachable(`${path} never answered ${status}:\n${out}`);
  };
  try {
    await poll('/health', 200);
    const down = await poll('/ready', 503);
    assert.is(down?.body.checks?.runner, 'not started (waiting for the database)');
    assert.match(down?.body.checks?.database ?? '', /^unavailable: /);
    const failed = out
      .split('\n')
      .filter((l) => l.includes('worker start failed'))
      .map((l) => JSON.parse(l) as { level: number; attempt: number; retryInMs: number });
    assert.ok(failed.length > 0, `a JSON line per failed attempt:\n${out}`);
    assert.is(failed[0].attempt, 1);
    await relay.restore();
    const up = await poll('/ready', 200);
    assert.equal(up?.body.checks, { database: 'ok', migrations: 'ok', runner: 'ok' });
  } finally {
    child.kill('SIGTERM');
    await exited;
    await relay.cut();
  }
});

test("the worker's /ready: ready while its runner runs, not after it stopped", async () => {
  const pool = makeWorkerPool(db.urls.owner, 4);
  const runner = await startWorker({
    connectionString: db.urls.owner,
    crontab: '# none',
    concurrency: 1,
    pgPool: pool,
  });
  const server = await startHealthServer(0, '127.0.0.1', pool, runner, {
    registry: workerMetrics(),
    token: 'scrape-token',
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal(await whenReady(base), {
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', migrations: 'ok', runner: 'ok' } },
    });
    const refused = await fetch(`${base}/metrics`);
    assert.is(refused.status, 401);
    assert.is(((await refused.json()) as { error: { code: string } }).error.code, 'SMH01');
    // A full collection for the gauge to report (gc() made callable here only).
    v8.setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    await new Promise((r) => setTimeout(r, 50));
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer scrape-token' } });
    assert.is(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^sms_heap_after_full_gc_bytes \d+/m);
    await runner.stop();
    const stopped = await probe(base, '/ready');
    assert.is(stopped.status, 503);
    assert.is(stopped.body.checks?.runner, 'stopped');
    assert.is((await probe(base, '/health')).status, 200);
  } finally {
    server.close();
    await pool.end();
  }
});

test.run();
