// GET /metrics: refused without the token (and absent in production without
// one); scraped before and after a booking, the figures move by exactly what
// the booking did: one more `reserve` GraphQL request, its hold expiry and end
// scheduled, one more email pending; a charge prepared and failed shows up by outcome.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSpot } from './helpers/spots.ts';
import { hoursFromNow } from './helpers/reservations.ts';
import { completeAtEnd, createReservation, waitFor } from './helpers/payments.ts';
import { spawn } from 'node:child_process';
import { freePort } from './helpers/free_port.ts';
import { join } from 'node:path';

const TOKEN = 'metrics-scrape-token-for-tests';
let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename, { metricsToken: TOKEN }));
});

test.after(() => closeAll(api, db));

/** One scrape, as sample name with labels → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1], Number(m[2]));
  }
  return samples;
}

const value = (s: Map<string, number>, key: string) => s.get(key) ?? 0;

test('without the token: 401 SMH01; in production without a token configured: no such route', async () => {
  const none = await fetch(`${api.url}/metrics`);
  assert.is(none.status, 401);
  assert.is((await none.json()).error.code, 'SMH01');
  const wrong = await fetch(`${api.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
  assert.is(wrong.status, 401);
  const closed = await startApi(db, { metricsToken: null, isDev: false });
  try {
    assert.is((await fetch(`${closed.url}/metrics`)).status, 404);
  } finally {
    await closed.close();
  }
});

test('a booking moves the request, job and email figures by one', async () => {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99 });
  const before = await scrape();
  const res = await api.gql(
    `mutation Book($spotId: BigInt, $startsAt: Datetime, $email: String) {
      reserve(input: { spotId: $spotId, startsAt: $startsAt, durationMinutes: 60, email: $email }) { result { reservation { rowId } } } }`,
    { spotId, startsAt: hoursFromNow(1).toISOString(), email: 'metrics@example.test' },
  );
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const after = await scrape();

  // Labelled by the root field that ran, not by the name the client gave its operation.
  const book = 'sms_graphql_request_duration_seconds_count{operation="reserve"}';
  assert.is(value(after, book) - value(before, book), 1);
  const http = 'sms_http_request_duration_seconds_count{method="POST",route="/graphql",status="200"}';
  assert.is(value(after, http) - value(before, http), 1);
  // A held reservation schedules its hold expiry and its end in its row, and a "held" email.
  for (const work of ['hold_expiry', 'reservation_end']) {
    const key = `sms_due_work{work="${work}"}`;
    assert.is(value(after, key) - value(before, key), 1, key);
  }
  assert.is(value(after, 'sms_emails_pending') - value(before, 'sms_emails_pending'), 1);
  // The pools are reported.
  assert.ok(after.has('sms_db_pool_connections{pool="owner",state="total"}'));
  assert.ok(after.has('sms_db_pool_waiting_clients{pool="owner"}'));
});

test('operations are labelled by the root field they ran (several: multiple): made-up names cannot crowd real ones out', async () => {
  const post = (body: unknown) =>
    fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((res) => res.json());
  // More made-up operation names than the old cap (200), each its own request.
  for (let i = 0; i < 210; i++) await post({ query: `query Junk${i} { __typename }` });
  await post({ query: 'query Junk999 { __typename }', operationName: 'Junk999' });
  // Aliases and fragments do not hide the field; invalid and unparsable requests ran nothing.
  await post({ query: 'query Pretend { mine: __typename ...F } fragment F on Query { currentUser { email } }' });
  await post({ query: 'query NoSuchField { adminPasswords }' });
  await post({ query: 'query {' });
  const labelsOf = (samples: Map<string, number>) =>
    [...samples.keys()]
      .filter((k) => k.startsWith('sms_graphql_request_duration_seconds_count{'))
      .map((k) => /operation="([^"]*)"/.exec(k)?.[1])
      .sort();
  const before = await scrape();
  const res = await api.gql(`query CurrentUser { currentUser { email } }`);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const after = await scrape();
  const labels = labelsOf(after);
  assert.equal(
    labels.filter((l) => /Junk|Pretend|NoSuchField|other|adminPasswords|\+/.test(l ?? '')),
    [],
    'no client-chosen name, no combination of fields, nor "other"',
  );
  const count = (op: string) => value(after, `sms_graphql_request_duration_seconds_count{operation="${op}"}`);
  assert.ok(count('__typename') >= 211, `__typename: ${count('__typename')}`);
  assert.is(count('multiple'), 1, 'alias and fragment seen through: two root fields');
  assert.ok(count('none') >= 2, 'invalid and unparsable');
  const current = 'sms_graphql_request_duration_seconds_count{operation="currentUser"}';
  assert.is(value(after, current) - value(before, current), 1);

  // Other pairs of root fields (a client can pick among ~100) are `multiple` too: no new label.
  const pairs = [
    '{ paymentConfig { testMode } signInProviders }',
    '{ currentUser { email } paymentConfig { testMode } }',
    '{ a: signInProviders b: __typename }',
  ];
  for (const query of pairs) {
    const out = (await post({ query })) as { errors?: unknown };
    assert.equal(out.errors, undefined, `${query}: ${JSON.stringify(out.errors)}`);
  }
  const later = await scrape();
  assert.equal(labelsOf(later), labels, 'the same labels as before');
  const multiple = 'sms_graphql_request_duration_seconds_count{operation="multiple"}';
  assert.is(value(later, multiple) - value(after, multiple), pairs.length);
});

test('charges by outcome', async () => {
  const before = await scrape();
  const { id } = await createReservation(db);
  await completeAtEnd(db, id);
  const {
    rows: [{ plan }],
  } = await db.owner.query('select app_private.charge_prepare($1) as plan', [id]);
  await db.owner.query('select app_private.charge_failed($1, $2, $3, $4, null)', [
    plan.chargeId,
    plan.attempt,
    'card_declined',
    'declined',
  ]);
  const after = await scrape();
  assert.is(value(after, 'sms_charges{status="failed"}') - value(before, 'sms_charges{status="failed"}'), 1);
});

test('METRICS_PORT under API_WORKERS=2: requests add up across the processes, database figures are taken once', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'server', 'main.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: db.urls.owner,
      API_WORKERS: '2',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      METRICS_TOKEN: TOKEN,
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    const scrapeCluster = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return res.ok ? res.text() : null;
    };
    // Both workers listening: each has reported its pools once it served a request; until then, wait.
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok, 60_000, 'API up');
    const N = 12;
    for (let i = 0; i < N; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query Ping { __typename }' }),
      });
      assert.is(res.status, 200);
    }
    assert.is((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status, 401, 'the token is required here too');
    const text = await waitFor(scrapeCluster, 30_000, 'cluster metrics');
    const count = Number(
      /^sms_graphql_request_duration_seconds_count\{operation="__typename"\} (\d+)$/m.exec(text)?.[1],
    );
    assert.is(count, N, 'every request counted once, whichever worker served it');
    const {
      rows: [{ n }],
    } = await db.owner.query('select count(*)::int as n from app_private.emails where sent_at is null');
    assert.match(
      text,
      new RegExp(`^sms_emails_pending ${n}$`, 'm'),
      'a database figure is not multiplied by the workers',
    );
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

test.run();
