// After a run under faults: wait until the system is quiet, then count what
// the guarantees forbid — overlapping spot-holding reservations, completed
// reservations without exactly one successful charge of their amount (in the
// database and at the Stripe emulator), outbox emails never delivered or
// delivered under two Message-IDs, jobs or due work left behind. Every count
// in Violations must be 0; Figures are what the run did.
import type pg from 'pg';
import type { StripeEmulator } from '../../stripe-emulator/index.ts';
import type { SmtpSink } from './smtp_sink.ts';
import { waitFor } from './payments.ts';

export interface Violations {
  overlaps: number;
  /** Completed reservations (amount > 0) without a succeeded charge row of their amount. */
  chargesMissingInDb: number;
  /** Completed reservations without exactly one succeeded PaymentIntent of their amount at the emulator. */
  chargesNotExactlyOnceAtStripe: number;
  /** Succeeded PaymentIntents of reservations that are not completed. */
  chargesOfUncompleted: number;
  /** Outbox rows never delivered to the SMTP listener. */
  emailsLost: number;
  /** Outbox rows left unsent. */
  emailsUnsent: number;
  /** Two outbox rows for the same template and reservation (different Message-IDs: a real duplicate). */
  emailsDuplicated: number;
  /** Jobs other than the due-work chain still queued, or failed for good. */
  jobsLeft: number;
  /** Work in the rows (ends, hold expiries, reminders) due over 5 s ago and not done. */
  dueWorkLate: number;
}

export interface Figures {
  reservations: number;
  completed: number;
  charged: number;
  emails: number;
  /** Deliveries beyond the first of a Message-ID (SMTP's at-least-once: same email, same id). */
  redeliveries: number;
}

/** Templates a reservation gets at most once (reservation_changed may repeat, payment_failed is per attempt). */
const ONCE_PER_RESERVATION = [
  'reservation_held',
  'reservation_confirmed',
  'reservation_cancelled',
  'reservation_expired',
  'reservation_ended',
  'reservation_reminder',
  'receipt',
];

const q = async <T = any>(pool: pg.Pool, sql: string, params: unknown[] = []) =>
  (await pool.query(sql, params)).rows as T[];

/** Resolves once no job but the sweep chain is queued, no email is unsent and no work is overdue (or after timeoutMs). */
export async function waitQuiet(owner: pg.Pool, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    async () => {
      const [row] = await q(
        owner,
        `select
      (select count(*) from graphile_worker.jobs where task_identifier <> 'due_work__sweep' and run_at < now() + interval '1 minute'
         and attempts < max_attempts)::int as jobs,
      (select count(*) from app_private.emails where sent_at is null)::int as unsent,
      (select count(*) from app_private.due_work where due_at < now() - interval '2 seconds')::int as due`,
      );
      return row.jobs === 0 && row.unsent === 0 && row.due === 0;
    },
    timeoutMs,
    'quiet (no job, unsent email or overdue work left)',
  ).catch(() => {});
}

export async function audit(
  owner: pg.Pool,
  emulator: StripeEmulator,
  smtp: SmtpSink,
): Promise<{ violations: Violations; figures: Figures }> {
  const [overlap] = await q(
    owner,
    `select count(*)::int as n from app_public.reservations a
    join app_public.reservations b on a.spot_id = b.spot_id and a.id < b.id and a.period && b.period
    where app_hidden.holds_spot(a.status) and app_hidden.holds_spot(b.status)`,
  );
  const reservations = await q<{
    id: string;
    status: string;
    amount: number;
    charge_status: string | null;
    charge_amount: number | null;
  }>(
    owner,
    `select r.id::text, r.status::text, r.amount, c.status as charge_status, c.amount as charge_amount
     from app_public.reservations r left join app_private.charges c on c.reservation_id = r.id where r.kind = 'reservation'`,
  );
  const succeeded = new Map<string, number[]>();
  for (const pi of emulator.store.paymentIntents.all) {
    if (pi.status !== 'succeeded') continue;
    const id = pi.metadata?.reservation_id;
    if (id) succeeded.set(id, [...(succeeded.get(id) ?? []), pi.amount]);
  }
  let chargesMissingInDb = 0,
    chargesNotExactlyOnceAtStripe = 0,
    chargesOfUncompleted = 0,
    completed = 0;
  for (const r of reservations) {
    const atStripe = succeeded.get(r.id) ?? [];
    if (r.status === 'completed' && r.amount > 0) {
      completed++;
      if (r.charge_status !== 'succeeded' || r.charge_amount !== r.amount) chargesMissingInDb++;
      if (atStripe.length !== 1 || atStripe[0] !== r.amount) chargesNotExactlyOnceAtStripe++;
    } else if (atStripe.length > 0) {
      chargesOfUncompleted++;
    }
  }
  const emails = await q<{ id: string; sent: boolean }>(
    owner,
    `select id::text, sent_at is not null as sent from app_private.emails`,
  );
  const deliveries = new Map<string, number>();
  for (const m of smtp.messages) if (m.emailId) deliveries.set(m.emailId, (deliveries.get(m.emailId) ?? 0) + 1);
  let redeliveries = 0;
  for (const n of deliveries.values()) redeliveries += n - 1;
  const [dupes] = await q(
    owner,
    `select coalesce(sum(n - 1), 0)::int as n from (
    select count(*) as n from app_private.emails where data ? 'reservationId' and template = any($1)
    group by template, data->>'reservationId' having count(*) > 1) d`,
    [ONCE_PER_RESERVATION],
  );
  const [jobs] = await q(
    owner,
    `select count(*)::int as n from graphile_worker.jobs where task_identifier <> 'due_work__sweep'
    and (run_at < now() + interval '1 minute' or attempts >= max_attempts)`,
  );
  const [late] = await q(
    owner,
    `select count(*)::int as n from app_private.due_work where due_at < now() - interval '5 seconds'`,
  );
  return {
    violations: {
      overlaps: overlap.n,
      chargesMissingInDb,
      chargesNotExactlyOnceAtStripe,
      chargesOfUncompleted,
      emailsLost: emails.filter((e) => !deliveries.has(e.id)).length,
      emailsUnsent: emails.filter((e) => !e.sent).length,
      emailsDuplicated: dupes.n,
      jobsLeft: jobs.n,
      dueWorkLate: late.n,
    },
    figures: {
      reservations: reservations.length,
      completed,
      charged: [...succeeded.values()].reduce((s, a) => s + a.length, 0),
      emails: emails.length,
      redeliveries,
    },
  };
}

export const NO_VIOLATIONS: Violations = {
  overlaps: 0,
  chargesMissingInDb: 0,
  chargesNotExactlyOnceAtStripe: 0,
  chargesOfUncompleted: 0,
  emailsLost: 0,
  emailsUnsent: 0,
  emailsDuplicated: 0,
  jobsLeft: 0,
  dueWorkLate: 0,
};
