// The API's Prometheus metrics (prom-client), scraped at GET /metrics
// (server/middleware/installMetrics.ts):
//   sms_http_request_duration_seconds{method,route,status}   every request
//   sms_graphql_request_duration_seconds{operation}          GraphQL requests by operation name
//   sms_db_pool_connections{pool,state}                      open connections: total / idle
//   sms_db_pool_waiting_clients{pool}                        queries queued for a connection
//   sms_jobs_queued{task}, sms_jobs_due{task}                graphile-worker jobs waiting / due now
//   sms_jobs_due_lateness_seconds{task}                      how long the oldest due job has waited
//   sms_jobs_failed{task}                                    jobs out of attempts
//   sms_due_work{work}, sms_due_work_lateness_seconds{work}  work scheduled in the rows (ends, hold
//                                                            expiries, reminders: app_private.due_work)
//                                                            and how overdue the oldest due one is
//   sms_emails_pending                                       outbox rows not sent yet
//   sms_charges{status}                                      charges by outcome
// plus prom-client's process metrics (CPU, memory, event loop lag). The job,
// email and charge figures are read from the database at each scrape, so they
// are the same whichever API process answers.
import client from 'prom-client';
import type pg from 'pg';

/** Operation names are chosen by clients: past this many distinct ones, the rest count as "other". */
const MAX_OPERATIONS = 200;
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface DueWorkRow {
  work: string;
  scheduled: number;
  lateness: number;
}

interface QueueRow {
  task: string;
  queued: number;
  due: number;
  failed: number;
  lateness: number;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly operations = new Set<string>();

  private readonly http = new client.Histogram({
    name: 'sms_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status, in seconds.',
    labelNames: ['method', 'route', 'status'],
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly graphql = new client.Histogram({
    name: 'sms_graphql_request_duration_seconds',
    help: 'GraphQL requests by operation name, in seconds.',
    labelNames: ['operation'],
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly gauge = (name: string, help: string, labelNames: string[] = []) =>
    new client.Gauge({ name, help, labelNames, registers: [this.registry] });
  private readonly poolConnections = this.gauge('sms_db_pool_connections', 'Open database connections by pool: total and idle.', ['pool', 'state']);
  private readonly poolWaiting = this.gauge('sms_db_pool_waiting_clients', 'Queries waiting for a database connection, by pool.', ['pool']);
  private readonly jobsQueued = this.gauge('sms_jobs_queued', 'graphile-worker jobs waiting to run (not locked, attempts left), by task.', ['task']);
  private readonly jobsDue = this.gauge('sms_jobs_due', 'Jobs whose run_at has passed and that no worker holds, by task.', ['task']);
  private readonly jobsLateness = this.gauge('sms_jobs_due_lateness_seconds', 'Seconds since the oldest due job of a task should have run.', ['task']);
  private readonly jobsFailed = this.gauge('sms_jobs_failed', 'Jobs that used all their attempts, by task.', ['task']);
  private readonly dueWork = this.gauge('sms_due_work', 'Work scheduled in the rows, due or not (app_private.due_work), by kind.', ['work']);
  private readonly dueWorkLateness = this.gauge('sms_due_work_lateness_seconds', 'Seconds since the oldest due, not yet done work of a kind was due.', ['work']);
  private readonly emailsPending = this.gauge('sms_emails_pending', 'Emails in the outbox not sent yet.');
  private readonly charges = this.gauge('sms_charges', 'Charges by status (pending, processing, succeeded, failed, not_required).', ['status']);

  /** The pools whose connections each scrape reports, by name. */
  private readonly pools: ReadonlyMap<string, pg.Pool>;

  constructor(pools: ReadonlyMap<string, pg.Pool>) {
    this.pools = pools;
    client.collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(method: string, route: string, status: number, seconds: number, operation?: string): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
    if (operation === undefined) return;
    if (!this.operations.has(operation) && this.operations.size >= MAX_OPERATIONS) operation = 'other';
    this.operations.add(operation);
    this.graphql.observe({ operation }, seconds);
  }

  /** The exposition text, with the pool and database figures read now. */
  async render(owner: pg.Pool): Promise<string> {
    for (const [name, pool] of this.pools) {
      this.poolConnections.set({ pool: name, state: 'total' }, pool.totalCount);
      this.poolConnections.set({ pool: name, state: 'idle' }, pool.idleCount);
      this.poolWaiting.set({ pool: name }, pool.waitingCount);
    }
    const { rows: [snapshot] } = await owner.query<{
      jobs: QueueRow[];
      due_work: DueWorkRow[];
      emails_pending: number;
      charges: Record<string, number>;
    }>(`
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
    for (const g of [this.jobsQueued, this.jobsDue, this.jobsLateness, this.jobsFailed, this.dueWork, this.dueWorkLateness, this.charges]) {
      g.reset();
    }
    for (const row of snapshot.jobs) {
      this.jobsQueued.set({ task: row.task }, Number(row.queued));
      this.jobsDue.set({ task: row.task }, Number(row.due));
      this.jobsLateness.set({ task: row.task }, Number(row.lateness));
      this.jobsFailed.set({ task: row.task }, Number(row.failed));
    }
    for (const row of snapshot.due_work) {
      this.dueWork.set({ work: row.work }, Number(row.scheduled));
      this.dueWorkLateness.set({ work: row.work }, Number(row.lateness));
    }
    this.emailsPending.set(snapshot.emails_pending);
    for (const [status, n] of Object.entries(snapshot.charges)) this.charges.set({ status }, n);
    return this.registry.metrics();
  }
}
