// Double booking is impossible under real contention: 52 connections, each in
// its own transaction, reserve one spot for overlapping windows at the same
// moment; then extensions race new reservations for the time after them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import {
  ANON,
  beginAs,
  createTestDb,
  createUser,
  identityOf,
  type Identity,
  type TestDb,
  type TestUser,
} from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { hoursFromNow, reserve, connectClients } from './helpers/reservations.ts';

const CLIENTS = 52;
let db: TestDb;
let clients: pg.Client[] = [];
let users: TestUser[] = [];
let rate: number;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  rate = await createRate(db, { hourlyPrice: 400 });
  users = await Promise.all(Array.from({ length: 8 }, () => createUser(db)));
});

// The 52 connections are held only while a test runs: the server is shared.
test.before.each(async () => {
  clients = await connectClients(db.urls.authenticator, CLIENTS);
});

test.after.each(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  clients = [];
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  await db?.close();
});

/**
 * Every client opens a transaction as its identity first; only then do all
 * run their statement at once, and commit. Returns each one's SQLSTATE or 'ok'.
 */
async function race(work: Array<{ identity: Identity; sql: string; params: unknown[] }>): Promise<string[]> {
  await Promise.all(work.map((w, i) => beginAs(clients[i], w.identity)));
  return Promise.all(
    work.map(async (w, i) => {
      try {
        await clients[i].query(w.sql, w.params);
        await clients[i].query('commit');
        return 'ok';
      } catch (err) {
        await clients[i].query('rollback');
        return (err as { code?: string }).code ?? 'NO_CODE';
      }
    }),
  );
}

const overlaps = async (spotId: string) =>
  (
    await db.owner.query(
      `select count(*)::int as n from app_public.reservations a join app_public.reservations b
     on a.spot_id = b.spot_id and a.id < b.id and a.period && b.period
   where a.spot_id = $1 and a.status in ('held', 'confirmed') and b.status in ('held', 'confirmed')`,
      [spotId],
    )
  ).rows[0].n;

const tally = (codes: string[]) => codes.reduce<Record<string, number>>((t, c) => ({ ...t, [c]: (t[c] ?? 0) + 1 }), {});

test(`${CLIENTS} concurrent connections reserve one spot for overlapping windows: exactly one wins`, async () => {
  // Setup: one spot; windows that all overlap 10:00-11:00 from now, of varied shapes.
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  const base = hoursFromNow(2).getTime();
  const work = clients.map((_, i) => {
    const start = new Date(base + ((i % 5) - 2) * 10 * 60e3); // -20 … +20 min
    const minutes = 60 + (i % 3) * 15;
    const identity = i % 2 === 0 ? identityOf(users[i % users.length]) : ANON;
    return {
      identity,
      sql: 'select (app_public.reserve($1, $2, null, $3, $4)).reservation',
      params: [spotId, start, minutes, identity === ANON ? `guest${i}@example.test` : null],
    };
  });
  // Action
  const codes = await race(work);
  // Assertions
  assert.equal(tally(codes), { ok: 1, SMB01: CLIENTS - 1 }, JSON.stringify(tally(codes)));
  const { rows } = await db.owner.query(`select count(*)::int as n from app_public.reservations where spot_id = $1`, [
    spotId,
  ]);
  assert.is(rows[0].n, 1, 'exactly one row written');
  const {
    rows: [counts],
  } = await db.owner.query(
    `select
      (select count(*) from app_private.reservation_events e join app_public.reservations r on r.id = e.reservation_id where r.spot_id = $1)::int as events,
      (select count(*) from app_private.emails where (data->>'spotId')::bigint = $1)::int as emails`,
    [spotId],
  );
  assert.equal(counts, { events: 1, emails: 1 }, 'the losers left no audit row and no email');
});

test('extensions race new reservations for the time after them: one wins each round, never an overlap', async () => {
  const winners: Record<string, number> = { extension: 0, reservation: 0 };
  for (let round = 0; round < 6; round++) {
    // Setup: a driver's reservation 1h-2h; the spot free after it.
    const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
    const owner = users[round % users.length];
    const r = await reserve(db, identityOf(owner), { spotId, startsAt: hoursFromNow(1), endsAt: hoursFromNow(2) });
    await db.owner.query('select app_private.confirm_held_reservation($1)', [r.id]);
    // Action: the extension to 3h sits at a different position each round among 51 new reservations of 2h-3h.
    const extensionAt = (round * 10) % CLIENTS;
    const work = clients.map((_, i) =>
      i === extensionAt
        ? {
            identity: identityOf(owner),
            sql: 'select app_public.change_reservation_end($1, $2)',
            params: [r.id, hoursFromNow(3)],
          }
        : {
            identity: ANON,
            sql: 'select app_public.reserve($1, $2, $3, null, $4)',
            params: [
              spotId,
              new Date(hoursFromNow(2).getTime() + (i % 4) * 5 * 60e3),
              hoursFromNow(3),
              `racer${i}@example.test`,
            ],
          },
    );
    const codes = await race(work);
    // Assertions
    const t = tally(codes);
    assert.is(t.ok, 1, `round ${round}: ${JSON.stringify(t)}`);
    assert.is(t.SMB01, CLIENTS - 1, `round ${round}: ${JSON.stringify(t)}`);
    winners[codes[extensionAt] === 'ok' ? 'extension' : 'reservation'] += 1;
    assert.is(await overlaps(spotId), 0);
    const {
      rows: [ext],
    } = await db.owner.query('select upper(period) as e from app_public.reservations where id = $1', [r.id]);
    assert.is(ext.e.getTime(), (codes[extensionAt] === 'ok' ? hoursFromNow(3) : hoursFromNow(2)).getTime());
  }
  assert.is(winners.extension + winners.reservation, 6);
});

test.run();
