// Stopping the API (SIGTERM, Ctrl-C: server/app.ts close()): a request in
// flight still gets its answer — a booking committed while the server stops
// must reach its client with its manage token — and long-lived streams (SSE)
// are ended at once rather than holding the shutdown for its whole grace period.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestDb } from './helpers/db.ts';
import { closeAll, startApi, startDbAndApi, type TestApi } from './helpers/api.ts';
import { createSpot } from './helpers/spots.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
});

test.after(() => closeAll(api, db));

const RESERVE = `mutation ($s: BigInt!, $at: Datetime!, $e: String) {
  reserve(input: { spotId: $s, startsAt: $at, durationMinutes: 30, email: $e }) { result { reservation { rowId } manageToken } } }`;

test('a reservation in flight when the API is closed still gets its answer', async () => {
  const spot = await createSpot(db, { lat: 40.72, lng: -74 });
  const lock = await db.owner.connect();
  let locked = false;
  try {
    await lock.query('begin');
    await lock.query('lock table app_public.reservations in access exclusive mode');
    locked = true;
    const answer = fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        query: RESERVE,
        variables: { s: spot, at: new Date(Date.now() + 5 * 3600e3).toISOString(), e: 'inflight@example.com' },
      }),
    });
    // Until the mutation waits for the lock.
    for (let i = 0; i < 100; i++) {
      const { rows } = await db.owner.query(
        `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%reservations%'`,
      );
      if (rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const closed = api.close();
    // New connections are refused while the request in flight finishes.
    assert.ok(
      await fetch(`${api.url}/health`).then(
        () => false,
        () => true,
      ),
    );
    await new Promise((r) => setTimeout(r, 1500));
    await lock.query('commit');
    locked = false;
    const res = await answer;
    const body = (await res.json()) as { data?: any };
    assert.is(res.status, 200, JSON.stringify(body));
    assert.is(res.headers.get('connection'), 'close', 'the client is told not to reuse the connection');
    const { reservation, manageToken } = body.data.reserve.result;
    assert.type(manageToken, 'string');
    await closed;
    const { rows } = await db.owner.query('select email from app_public.reservations where id = $1', [
      reservation.rowId,
    ]);
    assert.equal(rows, [{ email: 'inflight@example.com' }]);
  } finally {
    if (locked) await lock.query('rollback');
    lock.release();
  }
});

test('an open SSE stream is ended at once when the API is closed', async () => {
  const other = await startApi(db);
  const res = await fetch(`${other.url}/live/spots?lat=40.72&lng=-74&radius=1`);
  assert.is(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('event: ready')) {
    const { value, done } = await reader.read();
    assert.not.ok(done, 'the stream started');
    text += new TextDecoder().decode(value);
  }
  const started = Date.now();
  await other.close();
  assert.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`);
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
});

test.run();
