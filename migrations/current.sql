-- Due work in the rows instead of a job per reservation: booking and the
-- outbox queue no job (each add_job NOTIFYs, and NOTIFYing commits
-- serialise); a sweep about every second queues what is due, in batches.
-- Every reservation job goes through app_private.queue_reservation_jobs.

-- When the reservation's reminder is due (set by a trigger; null = none).
alter table app_public.reservations add column if not exists remind_at timestamptz;
comment on column app_public.reservations.remind_at is
  E'@behavior -*\nWhen the due-work sweep emails the reminder of this confirmed reservation; null when none is due.';
-- Whether the sweep has queued the outbox row's send_email job.
do $$
begin
  if not exists (select from information_schema.columns
                 where table_schema = 'app_private' and table_name = 'emails' and column_name = 'queued_at') then
    alter table app_private.emails add column queued_at timestamptz;
    -- Rows written before this migration got their send_email job then.
    update app_private.emails set queued_at = created_at;
    -- Reminders scheduled as jobs move into their rows; the jobs the sweep
    -- replaces go (a reservation's end, hold expiry and reminder).
    update app_public.reservations r set remind_at = j.run_at
    from graphile_worker.jobs j
    where j.key = 'reservation_reminder:' || r.id and r.status = 'confirmed';
    perform graphile_worker.remove_job(j.key)
    from graphile_worker.jobs j
    where j.task_identifier in ('reservation__end', 'hold__expire', 'reservation__remind', 'holds__sweep');
  end if;
end
$$;
comment on column app_private.emails.queued_at is E'When the due-work sweep queued its send_email job; null = not yet.';

-- What the sweep looks for, indexed (reservations_held_idx covers hold deadlines).
create index if not exists reservations_due_end_idx on app_public.reservations (upper(period))
  where kind = 'reservation' and app_hidden.holds_spot(status);
create index if not exists reservations_remind_at_idx on app_public.reservations (remind_at)
  where remind_at is not null;
create index if not exists emails_unqueued_idx on app_private.emails (id) where queued_at is null;

drop trigger if exists _600_schedule_jobs on app_public.reservations;
drop function if exists app_private.tg_reservations__schedule_jobs();
drop function if exists app_private.reservation_end(bigint);
drop function if exists app_private.hold_expire(bigint);
drop function if exists app_private.holds_sweep();
drop function if exists app_private.reservation_remind(bigint);

--!include reservations_triggers.sql
drop trigger if exists _200_remind_at on app_public.reservations;
create trigger _200_remind_at before insert or update of status, period on app_public.reservations
  for each row execute procedure app_private.tg_reservations__remind_at();
--!include reservations_lifecycle.sql
--!include email_enqueue.sql
--!include payments_charge.sql
--!include payments_setup.sql
--!include due_work.sql
