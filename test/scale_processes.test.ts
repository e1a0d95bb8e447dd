// Many processes, one database (issue 17, item 5): two API processes and two
// worker processes, as `npm run api` / `npm run worker` run them, on one
// PostgreSQL database. Drivers book, set up cards and end their stays through
// both APIs at once; a hot spot is fought over through both. Then: every
// charge made once, every email delivered once, no job left; a session made on
// one API is valid (and revoked) on the other; sign-in attempts are limited
// across both, not per process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { startEmulator } from './helpers/payments.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { childEnv, spawnApi, spawnWorker, type ApiChild, type Child } from './helpers/processes.ts';
import { codeOf, endNow, gqlAt, reserveGuest, setUpCard } from './helpers/driver_client.ts';
import { audit, NO_VIOLATIONS, waitQuiet } from './helpers/ledger.ts';

/** Drivers at once, and stays each drives one after another (npm test's size; SCALE_DRIVERS / SCALE_STAYS for more). */
const DRIVERS = Number(process.env.SCALE_DRIVERS ?? 6);
const STAYS = Number(process.env.SCALE_STAYS ?? 2);

let db: TestDb;
let emulator: StripeEmulator;
let smtp: SmtpSink;
let apis: ApiChild[] = [];
let workers: Child[] = [];

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  smtp = await startSmtpSink();
  const env = childEnv(db.urls, emulator, smtp, { API_POOL_SIZE: '4' });
  apis = await Promise.all([spawnApi(env), spawnApi(env)]);
  emulator.setWebhook(`${apis[0]!.url}/webhooks/stripe`);
  workers = await Promise.all([spawnWorker(env), spawnWorker(env)]);
});

test.after(async () => {
  await Promise.all([...apis, ...workers].map((c) => c.kill('SIGTERM')));
  await emulator?.close();
  await smtp?.close();
  await db?.close();
});

const api = (i: number) => apis[i % apis.length]!.url;

test('drivers book, pay and end through both APIs, served by both workers: every charge and email exactly once', async () => {
  const rate = await createRate(db, { hourlyPrice: 600 });
  const spots = await Promise.all(
    Array.from({ length: DRIVERS + 1 }, (_, i) =>
      createSpot(db, { lat: 40.75 + i * 0.001, lng: -73.98, rateId: rate }),
    ),
  );
  const hot = spots.pop()!;

  // The hot spot: one booking per API at the same instant for the same window, repeated.
  const from = new Date(Date.now() + 3_600_000);
  const fights = await Promise.all(
    Array.from({ length: 2 * DRIVERS }, (_, i) => reserveGuest(api(i), hot, from, 60, `hot${i}@example.test`)),
  );
  assert.equal(fights.filter((a) => !a.errors).length, 1, 'one of the concurrent bookings of one window wins');
  assert.ok(
    fights.every((a) => !a.errors || codeOf(a) === 'SMB01'),
    JSON.stringify(fights.find((a) => a.errors && codeOf(a) !== 'SMB01')),
  );

  // Each driver: reserve (API i), set up a card (API i+1), end it (API i): STAYS times, one after the other.
  const accepted: string[] = [];
  await Promise.all(
    spots.map(async (spot, d) => {
      for (let s = 0; s < STAYS; s++) {
        const booked = await reserveGuest(api(d + s), spot, new Date(), 60, `driver${d}.${s}@example.test`);
        assert.equal(booked.errors, undefined, JSON.stringify(booked.errors));
        const { rowId } = booked.data.reserve.result.reservation;
        const token = booked.data.reserve.result.manageToken;
        accepted.push(rowId);
        const paid = await setUpCard(api(d + s + 1), emulator, rowId, token);
        assert.equal(paid.errors, undefined, JSON.stringify(paid.errors));
        const ended = await endNow(api(d + s), rowId, token);
        assert.equal(ended.errors, undefined, JSON.stringify(ended.errors));
      }
    }),
  );

  await waitQuiet(db.owner);
  const { violations, figures } = await audit(db.owner, emulator, smtp);
  assert.equal(violations, NO_VIOLATIONS);
  assert.is(figures.completed, DRIVERS * STAYS, 'every driven stay completed and was charged');
  assert.is(figures.charged, DRIVERS * STAYS);
  assert.is(figures.redeliveries, 0, 'no email delivered twice');
  // Held, confirmed, ended and receipt for each stay; held for the hot spot's winner.
  assert.ok(figures.emails >= DRIVERS * STAYS * 4 + 1, `emails: ${figures.emails}`);
});

test('a session made on one API is valid on the other, and revoked there by a logout on the first', async () => {
  const email = `both.apis.${process.pid}@example.test`;
  const reg = await fetch(`${api(0)}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, name: 'Two', password: 'a long passphrase' }),
  });
  assert.is(reg.status, 201);
  const { token } = (await reg.json()) as { token: string };
  const bearer = { authorization: `Bearer ${token}` };
  const me = await gqlAt(api(1), '{ currentUser { email } }', {}, bearer);
  assert.is(me.data?.currentUser?.email, email);
  const out = await fetch(`${api(0)}/auth/logout`, { method: 'POST', headers: bearer });
  assert.is(out.status, 204);
  assert.is(codeOf(await gqlAt(api(1), '{ currentUser { email } }', {}, bearer)), 'SMA15');
});

test('sign-in attempts are limited across both APIs: the 11th wrong password is refused whichever process answers', async () => {
  const email = `limited.${process.pid}@example.test`;
  await fetch(`${api(0)}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, name: 'Limit', password: 'a long passphrase' }),
  });
  const codes: string[] = [];
  for (let i = 0; i < 11; i++) {
    const res = await fetch(`${api(i)}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: `wrong passphrase ${i}` }),
    });
    codes.push(((await res.json()) as { error: { code: string } }).error.code);
  }
  assert.equal(codes, [...Array(10).fill('SMA01'), 'SMA02'], '10 per email per 15 minutes, counted in the database');
});

test.run();
