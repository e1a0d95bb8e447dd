// The API's Prometheus metrics (prom-client), scraped at GET /metrics
// (server/middleware/installMetrics.ts) or on METRICS_PORT (server/main.ts):
//   sms_http_request_duration_seconds{method,route,status}   every request
//   sms_graphql_request_duration_seconds{operation}          GraphQL requests by the root field they ran
//                                                            (`reserve`; `multiple` for several, `none`
//                                                            when nothing ran), never a client-chosen name
//   sms_db_pool_connections{pool,state}                      open connections: total / idle
//   sms_db_pool_waiting_clients{pool}                        queries queued for a connection
//   sms_graphql_reads_total{database}                        GraphQL requests over HTTP by the database
//                                                            chosen for them: primary or replica
//                                                            (READ_DATABASE_URL, server/read_routing.ts)
//   sms_read_replica_fallbacks_total                         replica calls the primary served instead
//   sms_jobs_queued{task}, sms_jobs_due{task}                graphile-worker jobs waiting / due now
//   sms_jobs_due_lateness_seconds{task}                      how long the oldest due job has waited
//   sms_jobs_failed{task}                                    jobs out of attempts
//   sms_due_work{work}, sms_due_work_lateness_seconds{work}  work scheduled in the rows (ends, hold
//                                                            expiries, reminders: app_private.due_work)
//                                                            and how overdue the oldest due one is
//   sms_emails_pending                                       outbox rows not sent yet
//   sms_charges{status}                                      charges by outcome
// plus prom-client's process metrics (CPU, memory, event loop lag). The job,
// email and charge figures are read from the database once per scrape: the
// same whichever process answers, so across API_WORKERS processes they are
// taken once ("first"), while requests and pools add up.
import { timingSafeEqual } from 'node:crypto';
import cluster from 'node:cluster';
import client from 'prom-client';
import type pg from 'pg';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Snapshot {
  jobs: Array<{ task: string; queued: number; due: number; failed: number; lateness: number }>;
  due_work: Array<{ work: string; scheduled: number; lateness: number }>;
  emails_pending: number;
  charges: Record<string, number>;
}

async function readSnapshot(owner: pg.Pool): Promise<Snapshot> {
  const {
    rows: [snapshot],
  } = await owner.query<Snapshot>(`
    select
      (select coalesce(json_agg(j), '[]') from (
        select task_identifier as task,
               count(*) filter (where locked_at is null and attempts < max_attempts) as queued,
               count(*) filter (where locked_at is null and attempts < max_attempts and run_at <= now()) as due,
               count(*) filter (where attempts >= max_attempts) as failed,
               coalesce(extract(epoch from now() - min(run_at) filter (
                 where locked_at is null and attempts < max_attempts and run_at <= now())), 0) as lateness
        from graphile_worker.jobs group by task_identifier) j) as jobs,
      (select coalesce(json_agg(w), '[]') from (
        select work, count(*) as scheduled,
               coalesce(extract(epoch from now() - min(due_at) filter (where due_at <= now())), 0) as lateness
        from app_private.due_work group by work) w) as due_work,
      (select count(*)::int from app_private.emails where sent_at is null) as emails_pending,
      (select coalesce(json_object_agg(status, n), '{}') from (
        select status, count(*)::int as n from app_private.charges group by status) c) as charges`);
  return snapshot;
}

/** Whether an Authorization header carries the scrape token. */
export function isScraper(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly http: client.Histogram;
  private readonly graphql: client.Histogram;
  private readonly reads: client.Counter;
  private readonly fallbacks: client.Counter;

  /** `pools`: the process's pools by name; the "owner" one reads the database figures. */
  constructor(pools: ReadonlyMap<string, pg.Pool>) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.http = new client.Histogram({
      name: 'sms_http_request_duration_seconds',
      help: 'HTTP requests by method, route and status, in seconds.',
      labelNames: ['method', 'route', 'status'],
      buckets: BUCKETS,
      registers,
    });
    this.graphql = new client.Histogram({
      name: 'sms_graphql_request_duration_seconds',
      help: 'GraphQL requests by the root field of the operation they ran (multiple: several; none: nothing ran), in seconds.',
      labelNames: ['operation'],
      buckets: BUCKETS,
      registers,
    });
    this.reads = new client.Counter({
      name: 'sms_graphql_reads_total',
      help: 'GraphQL requests over HTTP by the database chosen for them: primary, or the read replica.',
      labelNames: ['database'],
      registers,
    });
    this.fallbacks = new client.Counter({
      name: 'sms_read_replica_fallbacks_total',
      help: 'Database calls meant for the read replica that the primary served (replica unavailable).',
      registers,
    });
    new client.Gauge({
      name: 'sms_db_pool_connections',
      help: 'Open database connections by pool: total and idle.',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        for (const [name, pool] of pools) {
          this.set({ pool: name, state: 'total' }, pool.totalCount);
          this.set({ pool: name, state: 'idle' }, pool.idleCount);
        }
      },
    });
    new client.Gauge({
      name: 'sms_db_pool_waiting_clients',
      help: 'Queries waiting for a database connection, by pool.',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const [name, pool] of pools) this.set({ pool: name }, pool.waitingCount);
      },
    });

    // Every database gauge of one scrape shares one query: prom-client starts
    // all collect() calls together, so they find the same one in flight.
    let inFlight: Promise<Snapshot> | null = null;
    const snapshot = () => {
      inFlight ??= readSnapshot(pools.get('owner') as pg.Pool).finally(() => {
        inFlight = null;
      });
      return inFlight;
    };
    const fromDatabase = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (g: client.Gauge, s: Snapshot) => void,
    ) =>
      new client.Gauge({
        name,
        help,
        labelNames,
        registers,
        aggregator: 'first',
        async collect() {
          const s = await snapshot();
          this.reset();
          fill(this, s);
        },
      });
    fromDatabase(
      'sms_jobs_queued',
      'graphile-worker jobs waiting to run (not locked, attempts left), by task.',
      ['task'],
      (g, s) => {
        for (const j of s.jobs) g.set({ task: j.task }, Number(j.queued));
      },
    );
    fromDatabase(
      'sms_jobs_due',
      'Jobs whose run_at has passed and that no worker holds, by task.',
      ['task'],
      (g, s) => {
        for (const j of s.jobs) g.set({ task: j.task }, Number(j.due));
      },
    );
    fromDatabase(
      'sms_jobs_due_lateness_seconds',
      'Seconds since the oldest due job of a task should have run.',
      ['task'],
      (g, s) => {
        for (const j of s.jobs) g.set({ task: j.task }, Number(j.lateness));
      },
    );
    fromDatabase('sms_jobs_failed', 'Jobs that used all their attempts, by task.', ['task'], (g, s) => {
      for (const j of s.jobs) g.set({ task: j.task }, Number(j.failed));
    });
    fromDatabase(
      'sms_due_work',
      'Work scheduled in the rows, due or not (app_private.due_work), by kind.',
      ['work'],
      (g, s) => {
        for (const w of s.due_work) g.set({ work: w.work }, Number(w.scheduled));
      },
    );
    fromDatabase(
      'sms_due_work_lateness_seconds',
      'Seconds since the oldest due, not yet done work of a kind was due.',
      ['work'],
      (g, s) => {
        for (const w of s.due_work) g.set({ work: w.work }, Number(w.lateness));
      },
    );
    fromDatabase('sms_emails_pending', 'Emails in the outbox not sent yet.', [], (g, s) => g.set(s.emails_pending));
    fromDatabase(
      'sms_charges',
      'Charges by status (pending, processing, succeeded, failed, not_required).',
      ['status'],
      (g, s) => {
        for (const [status, n] of Object.entries(s.charges)) g.set({ status }, n);
      },
    );

    // Under API_WORKERS, the primary process asks each worker for this registry (server/main.ts).
    if (cluster.isWorker) {
      new client.AggregatorRegistry();
      client.AggregatorRegistry.setRegistries([this.registry]);
    }
  }

  observeRequest(method: string, route: string, status: number, seconds: number, operation?: string): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
    // `operation` is a root field of the schema, `multiple` or `none` (graphql_operation.ts): a bounded set.
    if (operation === undefined) return;
    this.graphql.observe({ operation }, seconds);
  }

  /** A GraphQL request was given a database: the primary, or the read replica. */
  observeRead(database: 'primary' | 'replica'): void {
    this.reads.inc({ database });
  }

  /** A call meant for the read replica was served by the primary. */
  observeReplicaFallback(): void {
    this.fallbacks.inc();
  }

  /** The exposition text of this process. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
