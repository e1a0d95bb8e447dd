--! Previous: sha1:3756be6d981a28ea02047851c8b6b86459ab7a45
--! Hash: sha1:3774c877dfdc89a97729d54ee0882fa9832e7f62
--! Message: the due-work sweep is queued on the next whole second

--! Included due_work.sql
-- Due work: future work is not a job per row but a time in the row that
-- defines it (a reservation's end, hold deadline and reminder; an outbox
-- email not yet queued). One chain of due_work__sweep jobs, about one a
-- second, runs the *_due functions (reservations_lifecycle.sql,
-- email_enqueue.sql) and queues only what is due now, in batches.

create or replace function app_private.due_work_schedule(every_ms int) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- One waiting sweep at a time (its key); queued by the running sweep for
  -- its successor, at worker start, and each minute by the crontab in case
  -- the chain broke.
  -- On the next boundary (whole seconds for every 1000 ms), where ends tend
  -- to fall: a reservation ending at 18:00:00 is ended at once, not up to a
  -- period later; the worker processes wake up there (worker/sweep_clock.ts).
  select graphile_worker.add_job('due_work__sweep', '{}'::json,
    run_at => to_timestamp((floor(extract(epoch from clock_timestamp()) * 1000 / due_work_schedule.every_ms) + 1)
                           * due_work_schedule.every_ms / 1000.0),
    max_attempts => 25, job_key => 'due_work_sweep', job_key_mode => 'replace');
$$;
comment on function app_private.due_work_schedule(int) is
  E'Queues the next due-work sweep on the next boundary of every_ms milliseconds (the next whole second for 1000), replacing a waiting one.';

create or replace view app_private.due_work as
  select 'reservation_end'::text as work, r.id as reservation_id, upper(r.period) as due_at
  from app_public.reservations r
  where r.kind = 'reservation' and app_hidden.holds_spot(r.status)
  union all
  select 'hold_expiry', r.id, r.hold_expires_at
  from app_public.reservations r
  where r.status = 'held' and r.hold_expires_at is not null
  union all
  select 'reservation_reminder', r.id, r.remind_at
  from app_public.reservations r
  where r.remind_at is not null;
comment on view app_private.due_work is
  E'What the due-work sweep will do to each reservation, and when: its end, its hold expiry, its reminder.';
--! EndIncluded due_work.sql
