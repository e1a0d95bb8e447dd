// Frees the jobs of worker processes that died without unlocking them.
//
// graphile-worker locks a job under a worker (or, with localQueue, a pool) id
// and only releases a dead process's locks after 4 hours. A charge job locked
// by a killed process would wait that long. So each process:
//   1. registers itself in app_private.worker_processes and holds a session
//      advisory lock (classid 7366, hashtext(row id)) on its own connection
//      for as long as it lives — PostgreSQL drops the lock when the process
//      or its connection dies;
//   2. records every worker and pool id graphile-worker creates for it;
//   3. at start and every sweepMs (WORKER_LIVENESS_SWEEP_MS), tries each other row's lock: a lock it can
//      take belongs to a dead process, whose jobs it unlocks
//      (graphile_worker.force_unlock_workers) before deleting the row.
// A live process's lock can never be taken, so a live job is never unlocked.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import pg from 'pg';

const LOCK_CLASS = 7366;

export interface Liveness {
  /** Pass to graphile-worker's `events` option so pool and worker ids are recorded. */
  events: EventEmitter;
  /** Unlocks the jobs of dead processes now; returns how many processes were dead. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export async function startLiveness(
  connectionString: string,
  log: (line: string) => void = () => {},
  sweepMs = 30_000,
): Promise<Liveness> {
  const client = new pg.Client({ connectionString, application_name: 'sms-worker-liveness' });
  // A dying connection must not crash the worker; the process simply stops
  // counting as alive for the others.
  client.on('error', (err) => log(`liveness connection lost: ${err.message}`));
  let me: { id: string };
  try {
    await client.connect();
    ({
      rows: [me],
    } = await client.query<{ id: string }>(
      'insert into app_private.worker_processes (hostname, pid) values ($1, $2) returning id',
      [hostname(), process.pid],
    ));
    await client.query('select pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, me.id]);
  } catch (err) {
    // The worker retries its start-up (startWorkerWhenReachable): no connection left behind.
    await client.end().catch(() => {});
    throw err;
  }

  // One connection serves the recording and the sweeps: run them one at a
  // time, in the order asked (pg no longer queues overlapping queries for us).
  let tail: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn);
    tail = next.catch(() => {});
    return next;
  };
  const record = (id: string) => {
    serially(() =>
      client.query('update app_private.worker_processes set worker_ids = array_append(worker_ids, $2) where id = $1', [
        me.id,
        id,
      ]),
    ).catch((err: Error) => log(`could not record worker ${id}: ${err.message}`));
  };
  const events = new EventEmitter();
  events.on('pool:create', ({ workerPool }: { workerPool: { id: string } }) => record(workerPool.id));
  events.on('worker:create', ({ worker }: { worker: { workerId: string } }) => record(worker.workerId));

  let sweeping: Promise<number> | null = null;
  const sweepOnce = async (): Promise<number> => {
    const { rows } = await client.query<{ id: string; worker_ids: string[] }>(
      'select id, worker_ids from app_private.worker_processes where id <> $1',
      [me.id],
    );
    let dead = 0;
    for (const row of rows) {
      const {
        rows: [{ got }],
      } = await client.query<{ got: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as got', [
        LOCK_CLASS,
        row.id,
      ]);
      if (!got) continue;
      try {
        await client.query('select graphile_worker.force_unlock_workers($1::text[])', [row.worker_ids]);
        await client.query('delete from app_private.worker_processes where id = $1', [row.id]);
        dead += 1;
        log(`worker process ${row.id} is gone: unlocked the jobs of ${row.worker_ids.length} worker ids`);
      } finally {
        await client.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, row.id]);
      }
    }
    return dead;
  };
  const sweep = () =>
    (sweeping ??= serially(sweepOnce).finally(() => {
      sweeping = null;
    }));
  const timer = setInterval(() => {
    sweep().catch((err: Error) => log(`liveness sweep failed: ${err.message}`));
  }, sweepMs);
  timer.unref();

  return {
    events,
    sweep,
    async close() {
      clearInterval(timer);
      await serially(() => client.query('delete from app_private.worker_processes where id = $1', [me.id])).catch(
        () => {},
      );
      await client.end().catch(() => {});
    },
  };
}
