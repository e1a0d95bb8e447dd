// Booking helpers for tests: reserving as an API role (through callAs, test/helpers/db.ts),
// and reading the side effects (audit rows, emails, scheduled work) as the owner.
import pg from 'pg';
import { callAs, type Identity, type TestDb } from './db.ts';

export interface Reserved {
  id: string;
  status: string;
  amount: number;
  currency: string;
  starts_at: Date;
  ends_at: Date;
  hold_expires_at: Date | null;
  manage_token: string | null;
}

const RESERVE_COLUMNS = `(r.reservation).id::text as id, (r.reservation).status::text as status,
  (r.reservation).amount, (r.reservation).currency, lower((r.reservation).period) as starts_at,
  upper((r.reservation).period) as ends_at, (r.reservation).hold_expires_at, r.manage_token`;

export interface ReserveArgs {
  spotId: string | number | null;
  startsAt?: Date | string | null;
  endsAt?: Date | string | null;
  durationMinutes?: number | null;
  email?: string | null;
}

/** app_public.reserve as the identity, committed. */
export async function reserve(db: TestDb, identity: Identity, a: ReserveArgs): Promise<Reserved> {
  const [row] = await callAs<Reserved>(
    db,
    identity,
    `select ${RESERVE_COLUMNS} from app_public.reserve($1, $2, $3, $4, $5) r`,
    [a.spotId, a.startsAt ?? null, a.endsAt ?? null, a.durationMinutes ?? null, a.email ?? null],
  );
  return row;
}

/** The same on an open client (e.g. inside asRole), not committed. */
export async function reserveOn(client: pg.PoolClient | pg.Client, a: ReserveArgs): Promise<Reserved> {
  const {
    rows: [row],
  } = await client.query<Reserved>(`select ${RESERVE_COLUMNS} from app_public.reserve($1, $2, $3, $4, $5) r`, [
    a.spotId,
    a.startsAt ?? null,
    a.endsAt ?? null,
    a.durationMinutes ?? null,
    a.email ?? null,
  ]);
  return row;
}

/** Counts of everything booking writes, to show that a refusal wrote nothing. */
export async function writeCounts(db: TestDb): Promise<Record<string, number>> {
  const {
    rows: [row],
  } = await db.owner.query(`select
    (select count(*) from app_public.reservations)::int as reservations,
    (select count(*) from app_private.reservation_events)::int as events,
    (select count(*) from app_private.reservation_secrets)::int as secrets,
    (select count(*) from app_private.emails)::int as emails,
    (select count(*) from graphile_worker.jobs)::int as jobs,
    (select coalesce(sum(hashtext(r::text)), 0) from app_public.reservations r)::bigint::text as digest`);
  return row;
}

export interface Scheduled {
  run_at: Date;
  task_identifier: string;
}

/**
 * What is scheduled for a reservation, by kind: its due work (end, hold
 * expiry, reminder: times in its row, run by the due_work__sweep task) and
 * its queued graphile-worker jobs (the charge).
 */
export async function scheduledOf(db: TestDb, id: string): Promise<Record<string, Scheduled>> {
  const { rows } = await db.owner.query<Scheduled & { kind: string }>(
    `select work as kind, due_at as run_at, 'due_work__sweep' as task_identifier
     from app_private.due_work where reservation_id = $1
     union all
     select split_part(key, ':', 1), run_at, task_identifier from graphile_worker.jobs where key = any($2)
     union all
     -- The due-work sweep queues ended reservations' charges in batch jobs (an array payload).
     select 'reservation_charge', j.run_at, t.identifier from graphile_worker._private_jobs j
     join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'reservation__charge' and j.key is null
       and j.payload::jsonb @> jsonb_build_array(jsonb_build_object('reservationId', $1::bigint))`,
    [id, [`reservation_charge:${id}`]],
  );
  return Object.fromEntries(rows.map(({ kind, ...r }) => [kind, r]));
}

export async function emailsOf(
  db: TestDb,
  id: string,
): Promise<Array<{ template: string; recipient: string; data: any }>> {
  const { rows } = await db.owner.query(
    `select template, recipient::text, data from app_private.emails where (data->>'reservationId') = $1 order by id`,
    [id],
  );
  return rows;
}

export async function eventsOf(
  db: TestDb,
  id: string,
): Promise<Array<{ action: string; actor_role: string; actor_user_id: string | null }>> {
  const { rows } = await db.owner.query(
    `select action, actor_role, actor_user_id::text from app_private.reservation_events where reservation_id = $1 order by id`,
    [id],
  );
  return rows;
}

// The next whole hour, fixed the first time a test process asks: windows built
// from it never shift against each other when an hour boundary passes mid-test
// (recomputing it per call made a window and its assertion disagree).
let baseHour: number | undefined;

/** `hours` after the process's base hour (the whole hour after its first call), as a Date. */
export function hoursFromNow(hours: number): Date {
  baseHour ??= Math.ceil(Date.now() / 3600e3) * 3600e3;
  return new Date(baseHour + hours * 3600e3);
}

/**
 * n connected clients. The database server is shared (other test files and
 * benchmarks run beside these): when its connection slots are full, wait for
 * them rather than fail, for up to a minute.
 */
export async function connectClients(url: string, n: number, headroom = 25): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  const deadline = Date.now() + 60_000;
  // First wait until taking n still leaves `headroom` slots for the test files
  // running beside this one.
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  try {
    for (;;) {
      const {
        rows: [slots],
      } = await probe.query(
        `select current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
                - (select count(*) from pg_stat_activity where backend_type = 'client backend')::int as free`,
      );
      if (slots.free >= n + headroom || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await probe.end();
  }
  while (clients.length < n) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      // These tests check what concurrency decides, not how fast: on a loaded
      // machine 50 bookers queued on one spot's lock can wait longer than the
      // API role's statement_timeout, which would turn a correct wait into 57014.
      await client.query('set statement_timeout = 0');
      clients.push(client);
    } catch (err) {
      await client.end().catch(() => {});
      const busy = /too many clients|connection slots are reserved/.test((err as Error).message);
      if (!busy || Date.now() > deadline) {
        await Promise.all(clients.map((c) => c.end().catch(() => {})));
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return clients;
}
