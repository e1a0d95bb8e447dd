--! Previous: sha1:c49be7cbb5c94f8046119874e05fced337d66f49
--! Hash: sha1:2b5954fe95efb8fe32f2f2e0746b4eccba855b12
--! Message: Due work in the rows: one sweep queues ends, hold expiries, reminders and emails; booking queues no job

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

--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the reminder time and the emails
-- of every change, in the transaction that made it; and the one function that
-- queues a reservation's jobs. Security definer because app_private's tables
-- are the owner's alone, and the writer may be any API role.
-- force_generic_plan: plpgsql otherwise re-plans these statements with custom
-- plans on the first calls of every connection (graphile_worker.add_jobs
-- measured 0.85 ms per call, 0.3 ms with generic plans).

create or replace function app_hidden.reservation_email_data(r app_public.reservations) returns jsonb
  language sql stable
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'reservationId', r.id,
    'spotId', r.spot_id,
    'spot', app_public.spots_description(s),
    'startsAt', app_hidden.iso_time(lower(r.period)),
    'endsAt', app_hidden.iso_time(upper(r.period)),
    'timeZone', rt.time_zone,
    'amount', r.amount,
    'currency', r.currency,
    'status', r.status,
    'holdExpiresAt', app_hidden.iso_time(r.hold_expires_at),
    'isGuest', r.user_id is null,
    -- The SPA page that asks for the manage code; the token itself is never stored.
    'manageLinkPath', case when r.user_id is null then '/reservations/' || r.id || '/manage' end))
  from app_public.spots s
  join app_public.rates rt on rt.id = s.rate_id
  where s.id = r.spot_id;
$$;
comment on function app_hidden.reservation_email_data(app_public.reservations) is
  E'What every reservation email''s template receives (see README: email data keys).';

create or replace function app_private.tg_reservations__audit() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_action text;
begin
  if tg_op = 'INSERT' then
    v_action := case when new.kind = 'block' then 'blocked' else 'reserved' end;
  elsif new.status is distinct from old.status then
    v_action := new.status::text;                  -- confirmed, cancelled, completed, expired, …
  elsif new.period is distinct from old.period then
    v_action := 'end_changed';
  elsif new.amount is distinct from old.amount or new.hold_expires_at is distinct from old.hold_expires_at then
    v_action := 'updated';
  else
    return null;                                   -- nothing a person would call a change
  end if;
  insert into app_private.reservation_events
    (reservation_id, action, old_status, new_status, old_period, new_period, old_amount, new_amount,
     actor_user_id, actor_role)
  values
    (new.id, v_action,
     case when tg_op = 'UPDATE' then old.status end, new.status,
     case when tg_op = 'UPDATE' then old.period end, new.period,
     case when tg_op = 'UPDATE' then old.amount end, new.amount,
     app_public.current_user_id(),
     -- SECURITY DEFINER changes current_user, not the `role` setting the API set.
     coalesce(nullif(current_setting('role', true), 'none'), 'system:' || session_user));
  return null;
end;
$$;
comment on function app_private.tg_reservations__audit() is E'Writes the audit row of each insert and change.';

-- Due work lives in the reservation row itself, not in one future job per
-- reservation: its end (upper(period)), its hold deadline (hold_expires_at)
-- and its reminder (remind_at). app_private.due_work_sweep finds what fell
-- due (indexed, SKIP LOCKED) and queues only work that is due now. Booking
-- therefore queues no job: each add_job NOTIFYs, even for a future run_at,
-- and NOTIFYing commits serialise on one cluster-wide lock (STACK-NOTES §11:
-- three keyed add_jobs took booking from ~2,200 to ~450 tx/s at 8 clients).

create or replace function app_private.tg_reservations__remind_at() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_remind_at timestamptz;
begin
  if new.kind <> 'reservation' or new.status <> 'confirmed' then
    new.remind_at := null;
  elsif tg_op = 'INSERT' or new.status is distinct from old.status or new.period is distinct from old.period then
    -- A reminder only when it would come after the start and in the future
    -- (a 10-minute stay, or one confirmed in its last minutes, gets none).
    v_remind_at := upper(new.period) - app_hidden.booking_reminder_lead();
    new.remind_at := case when v_remind_at > greatest(now(), lower(new.period)) then v_remind_at end;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_reservations__remind_at() is
  E'Sets remind_at, when the due-work sweep emails a confirmed reservation''s reminder (15 minutes before its end); moved with the end, cleared once it is no longer confirmed.';

create or replace function app_private.reservation_job_key(task text, reservation_id bigint) returns text
  language sql immutable
as $$
  -- reservation__charge -> reservation_charge:<id>
  select replace(reservation_job_key.task, '__', '_') || ':' || reservation_job_key.reservation_id;
$$;
comment on function app_private.reservation_job_key(text, bigint) is
  E'The graphile-worker job key of a reservation''s job: one waiting job per task and reservation (queuing again replaces it).';

create or replace function app_private.queue_reservation_jobs(
  task text,
  reservation_ids bigint[],
  run_at timestamptz default null,
  priority int default 0,
  max_attempts int default 10
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
begin
  if coalesce(cardinality(queue_reservation_jobs.reservation_ids), 0) = 0 then
    return;
  end if;
  -- One add_jobs call, one NOTIFY, however many reservations.
  perform graphile_worker.add_jobs(array(
    select (queue_reservation_jobs.task, json_build_object('reservationId', id), null,
            coalesce(queue_reservation_jobs.run_at, now()), queue_reservation_jobs.max_attempts,
            app_private.reservation_job_key(queue_reservation_jobs.task, id),
            queue_reservation_jobs.priority, null)::graphile_worker.job_spec
    from unnest(queue_reservation_jobs.reservation_ids) id));
end;
$$;
comment on function app_private.queue_reservation_jobs(text, bigint[], timestamptz, int, int) is
  E'Every job of a reservation is queued here, keyed by reservation_job_key: one add_jobs call for many reservations. Priority: lower runs first (new charges 0, retries of old failures 5, emails 10).';

create or replace function app_private.tg_reservations__notify() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_template text;
  v_key      text;
  v_data     jsonb;
begin
  if new.kind <> 'reservation' then
    return null;
  end if;
  if tg_op = 'INSERT' then
    v_template := 'reservation_held';
    v_key := v_template || ':' || new.id;
  elsif new.status is distinct from old.status then
    v_template := case new.status
      when 'confirmed' then 'reservation_confirmed'
      when 'cancelled' then 'reservation_cancelled'
      when 'expired'   then 'reservation_cancelled'
      when 'completed' then 'reservation_ended'
    end;  -- payment_failed: the payments code writes that email
    v_key := v_template || ':' || new.id;
  elsif new.period is distinct from old.period and app_hidden.holds_spot(new.status) then
    v_template := 'reservation_changed';
    v_key := v_template || ':' || new.id || ':' || extract(epoch from new.updated_at);
  end if;
  if v_template is null then
    return null;
  end if;
  v_data := app_hidden.reservation_email_data(new);
  if v_template = 'reservation_cancelled' then
    v_data := v_data || jsonb_build_object('reason',
      case when new.status = 'expired' then 'hold_expired'
           when app_hidden.current_user_is_staff() and new.user_id is distinct from app_public.current_user_id() then 'cancelled_by_operator'
           else 'cancelled' end);
  elsif v_template = 'reservation_changed' then
    v_data := v_data || jsonb_build_object(
      'previousEndsAt', app_hidden.iso_time(upper(old.period)), 'previousAmount', old.amount);
  end if;
  perform app_private.email_enqueue(v_template, new.email, v_data, v_key);
  return null;
end;
$$;
comment on function app_private.tg_reservations__notify() is
  E'Queues the email of each change: reservation_held, _confirmed, _changed, _cancelled (also when a hold expires), _ended.';
--! EndIncluded reservations_triggers.sql
drop trigger if exists _200_remind_at on app_public.reservations;
create trigger _200_remind_at before insert or update of status, period on app_public.reservations
  for each row execute procedure app_private.tg_reservations__remind_at();
--! Included reservations_lifecycle.sql
-- A reservation's life after it is made: change its end, end it now, cancel
-- it, confirm its payment set-up, and what the scheduled jobs do at its hold
-- deadline, before its end and at its end. States:
--   held -> confirmed -> completed (-> payment_failed, by the payments code)
--   held -> expired (hold deadline passed, or its end came while still held)
--   held | confirmed -> cancelled (before the start, free of charge)

create or replace function app_public.change_reservation_end(
  reservation_id bigint,
  ends_at timestamptz,
  manage_token text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r      app_public.reservations;
  v_spot   app_public.spots;
  v_window tstzrange;
  v_quote  app_public.price_quote;
begin
  v_r := app_private.reservation_for_caller(change_reservation_end.reservation_id, change_reservation_end.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) or upper(v_r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when app_hidden.holds_spot(v_r.status) then 'over' else v_r.status::text end
      using errcode = 'SMB07';
  end if;
  if change_reservation_end.ends_at is null or not isfinite(change_reservation_end.ends_at) then
    raise exception 'Give the new end time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at <= now() then
    raise exception 'The new end time has already passed' using errcode = 'SMB09';
  end if;
  if change_reservation_end.ends_at <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at = upper(v_r.period) then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  v_window := tstzrange(lower(v_r.period), change_reservation_end.ends_at, '[)');
  select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  v_quote := app_hidden.quote_rate(v_spot.rate_id, v_window);

  -- Row lock first (above), then the spot's: every writer takes them in this order.
  perform app_hidden.lock_spot(v_r.spot_id);
  begin
    update app_public.reservations r
    set period = v_window, amount = v_quote.amount, currency = v_quote.currency,
        -- A hold never outlives the reservation it holds.
        hold_expires_at = case when r.status = 'held'
          then least(r.hold_expires_at, upper(v_window)) end
    where r.id = v_r.id
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, the spot is taken by someone else after your current end time'
      using errcode = 'SMB01';
  end;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.change_reservation_end(bigint, timestamptz, text) is
  E'Moves the end of your reservation (longer or shorter) and re-prices it. Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start (SMB03), exceeds the spot''s maximum stay (SMB04), or the reservation is over, cancelled or expired (SMB07).';

create or replace function app_private.complete_reservation(reservation_id bigint, ended_at timestamptz)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r     app_public.reservations;
  v_end   timestamptz;
  v_quote app_public.price_quote;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = complete_reservation.reservation_id for update;
  -- Never an empty period: one microsecond is the least a started reservation lasts.
  v_end := greatest(least(complete_reservation.ended_at, upper(v_r.period)),
                    lower(v_r.period) + interval '1 microsecond');
  if v_end = upper(v_r.period) then
    v_quote := row(v_r.amount, v_r.currency, null)::app_public.price_quote;  -- ran its course: as quoted
  else
    v_quote := app_hidden.quote_rate((select s.rate_id from app_public.spots s where s.id = v_r.spot_id),
                                     tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  update app_public.reservations r
  set status = 'completed', period = tstzrange(lower(v_r.period), v_end, '[)'),
      amount = v_quote.amount, currency = v_quote.currency, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  -- The final charge: implemented by the payments code (task reservation__charge).
  perform app_private.queue_reservation_jobs('reservation__charge', array[v_r.id]);
  return v_r;
end;
$$;
comment on function app_private.complete_reservation(bigint, timestamptz) is
  E'Marks a reservation completed at ended_at (at most its end), fixes the final amount (the time used, minimum charge included, when it ends early) and queues its charge.';

create or replace function app_public.end_reservation(reservation_id bigint, manage_token text default null)
  returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(end_reservation.reservation_id, end_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be ended', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)'
      using errcode = 'SMB09';
  end if;
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used (never less than the rate''s minimum charge) and the spot is free again. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

create or replace function app_public.cancel_reservation(reservation_id bigint, manage_token text default null)
  returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(cancel_reservation.reservation_id, cancel_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be cancelled', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) <= now() then
    raise exception 'This reservation has already started; end it now instead (you pay only for the time used)'
      using errcode = 'SMB09';
  end if;
  update app_public.reservations r
  set status = 'cancelled', amount = 0, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.cancel_reservation(bigint, text) is
  E'Cancels a reservation before it starts, free of charge (nothing is ever charged for a cancelled reservation). Once it has started, end it instead (SMB09). Guests pass the manage token.';

create or replace function app_private.confirm_reservation_payment(reservation_id bigint)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = confirm_reservation_payment.reservation_id and r.kind = 'reservation'
  for update;
  if not found then
    raise exception 'There is no reservation %', confirm_reservation_payment.reservation_id using errcode = 'SMB06';
  end if;
  if v_r.status = 'confirmed' then
    return v_r;  -- a replayed webhook or a second confirm: nothing to do
  end if;
  if v_r.status <> 'held' then
    raise exception 'This reservation is % and can no longer be confirmed', v_r.status using errcode = 'SMB07';
  end if;
  -- The confirmed row is a new entry in the exclusion index: without the spot
  -- lock, this update and a concurrent reserve() of an overlapping window
  -- could each wait for the other (a deadlock, seen in the randomized test).
  perform app_hidden.lock_spot(v_r.spot_id);
  update app_public.reservations r
  set status = 'confirmed', hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;
comment on function app_private.confirm_reservation_payment(bigint) is
  E'held -> confirmed once payment set-up succeeded (called by the payments code). Idempotent; SMB07 when the hold already expired or the reservation was cancelled.';

--------------------------------------------------------------------------------
-- Due work: what the due_work__sweep task runs, about every second, as the
-- owner. Each function takes at most max_rows due rows (oldest first, SKIP
-- LOCKED, so sweeps running side by side split the work instead of waiting)
-- and returns how many it handled; the task calls it again while it returns
-- max_rows. Each row leaves the "due" condition in the same statement, so a
-- row is handled once.

create or replace function app_private.reservations_end_due(max_rows int default 500) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ended int;
  v_completed bigint[];
begin
  with due as (
    select r.id from app_public.reservations r
    where r.kind = 'reservation' and app_hidden.holds_spot(r.status) and upper(r.period) <= now()
    order by upper(r.period)
    limit reservations_end_due.max_rows
    for update skip locked
  ), ended as (
    -- Ran its course: charged as quoted. Still held at its end: expired, no charge.
    update app_public.reservations r
    set status = case when r.status = 'held' then 'expired' else 'completed' end::app_public.reservation_status,
        hold_expires_at = null
    from due where r.id = due.id
    returning r.id, r.status
  )
  select count(*)::int, array_agg(e.id) filter (where e.status = 'completed')
  into v_ended, v_completed from ended e;
  -- Their charges, in one add_jobs call.
  perform app_private.queue_reservation_jobs('reservation__charge', v_completed);
  return v_ended;
end;
$$;
comment on function app_private.reservations_end_due(int) is
  E'Ends reservations whose end has come: confirmed -> completed (spot free, charge queued), still held -> expired. At most max_rows; returns how many.';

create or replace function app_private.holds_expire_due(max_rows int default 500) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with due as (
    select r.id from app_public.reservations r
    where r.status = 'held' and r.hold_expires_at <= now()
    order by r.hold_expires_at
    limit holds_expire_due.max_rows
    for update skip locked
  ), expired as (
    update app_public.reservations r
    set status = 'expired', hold_expires_at = null
    from due where r.id = due.id
    returning 1
  )
  select count(*)::int from expired;
$$;
comment on function app_private.holds_expire_due(int) is
  E'Expires holds whose deadline passed without a confirmed card, freeing their spots. At most max_rows; returns how many.';

create or replace function app_private.reminders_send_due(max_rows int default 500) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with due as (
    select r.id from app_public.reservations r
    where r.remind_at <= now()
    order by r.remind_at
    limit reminders_send_due.max_rows
    for update skip locked
  ), reminded as (
    update app_public.reservations r
    set remind_at = null
    from due where r.id = due.id
    returning r.*
  )
  -- Once per end time: a reminder re-armed by a changed end is a new email.
  select count(app_private.email_enqueue('reservation_reminder', m.email,
           app_hidden.reservation_email_data(m::app_public.reservations),
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  where m.status = 'confirmed' and upper(m.period) > now();
$$;
comment on function app_private.reminders_send_due(int) is
  E'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';
--! EndIncluded reservations_lifecycle.sql
--! Included email_enqueue.sql
-- The email outbox (app_private.emails): SQL writes a row in the transaction
-- of the change it reports; the due-work sweep queues a send_email job for
-- each new row (emails_queue_due); tasks/send_email.ts renders and sends it
-- with email_to_send / email_sent / email_send_failed.

create or replace function app_private.email_enqueue(
  template text,
  recipient citext,
  data jsonb default '{}',
  dedupe_key text default null
) returns bigint
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_id bigint;
begin
  -- The same dedupe key twice (a retried job, a replayed webhook) is one email.
  -- No job here: queuing one NOTIFYs, and the writer's commit would then
  -- serialise with every other NOTIFYing commit (booking writes an email).
  insert into app_private.emails (template, recipient, data, dedupe_key)
  values (email_enqueue.template, email_enqueue.recipient, coalesce(email_enqueue.data, '{}'), email_enqueue.dedupe_key)
  on conflict on constraint emails_dedupe_key_key do nothing
  returning id into v_id;
  return v_id;
end;
$$;
comment on function app_private.email_enqueue(text, citext, jsonb, text) is
  E'Writes an email to the outbox in the caller''s transaction (the due-work sweep queues its sending within about a second); returns its id, or null when dedupe_key was already used.';

create or replace function app_private.emails_queue_due(max_rows int default 1000) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ids bigint[];
begin
  with due as (
    select e.id from app_private.emails e
    where e.queued_at is null
    order by e.id
    limit emails_queue_due.max_rows
    for update skip locked
  ), queued as (
    update app_private.emails e set queued_at = now()
    from due where e.id = due.id
    returning e.id
  )
  select array_agg(q.id) into v_ids from queued q;
  if v_ids is not null then
    -- One add_jobs call for the batch. Priority 10 (graphile-worker runs lower
    -- numbers first): in a burst the charges (0) go first, their emails after.
    perform graphile_worker.add_jobs(array(
      select ('send_email', json_build_object('emailId', id), null, now(), 25, 'send_email:' || id, 10, null)::graphile_worker.job_spec
      from unnest(v_ids) id));
  end if;
  return coalesce(cardinality(v_ids), 0);
end;
$$;
comment on function app_private.emails_queue_due(int) is
  E'Queues a send_email job for each outbox row not yet queued (at most max_rows, oldest first); returns how many.';

create or replace function app_private.email_to_send(email_id bigint)
  returns table (id bigint, template text, recipient text, data jsonb, sent_at timestamptz)
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Locked until the sender's transaction ends: a second run of the same job
  -- waits, then sees sent_at and sends nothing.
  select e.id, e.template, e.recipient::text, e.data, e.sent_at
  from app_private.emails e where e.id = email_to_send.email_id
  for update;
$$;
comment on function app_private.email_to_send(bigint) is
  E'The outbox row to send, locked for the rest of the transaction; sent_at set means it was already sent.';

create or replace function app_private.email_sent(email_id bigint) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.emails e
  set sent_at = now(), attempts = e.attempts + 1, last_error = null
  where e.id = email_sent.email_id;
$$;
comment on function app_private.email_sent(bigint) is
  E'Marks an outbox row sent (in the transaction that locked it with email_to_send).';

create or replace function app_private.email_send_failed(email_id bigint, error text) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.emails e
  set attempts = e.attempts + 1, last_error = left(email_send_failed.error, 500)
  where e.id = email_send_failed.email_id;
$$;
comment on function app_private.email_send_failed(bigint, text) is
  E'Records a failed sending attempt of an outbox row (the send_email job is retried with back-off).';
--! EndIncluded email_enqueue.sql
--! Included payments_charge.sql
-- Payment keys (every Stripe idempotency key of a reservation) and the final
-- off-session charge's state, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

create or replace function app_private.payment_key(reservation_id bigint, what text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours).
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || payment_key.what
  from app_public.reservations r where r.id = payment_key.reservation_id;
$$;
comment on function app_private.payment_key(bigint, text) is
  E'The Stripe idempotency key of one request about a reservation (what: setup-1, charge-2, …).';

create or replace function app_private.charge_retry_delay(attempt int) returns interval
  language sql immutable
as $$
  -- After a decline or authentication_required: retry 1 day, then 3 days,
  -- then 7 days after each failed attempt; after the 4th attempt stop and
  -- leave it to the driver's pay link (or an operator).
  select case charge_retry_delay.attempt
    when 1 then interval '1 day'
    when 2 then interval '3 days'
    when 3 then interval '7 days'
  end;
$$;
comment on function app_private.charge_retry_delay(int) is
  E'How long after failed attempt N the charge is retried (1 d, 3 d, 7 d); null = no more automatic retries.';

create or replace function app_private.charge_prepare(reservation_id bigint) returns jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_c app_private.charges;
  v_customer text;
  v_pm text;
begin
  select r.* into v_r from app_public.reservations r where r.id = charge_prepare.reservation_id for update;
  if v_r.id is null then
    return jsonb_build_object('action', 'skip', 'reason', 'no such reservation');
  end if;
  select c.* into v_c from app_private.charges c where c.reservation_id = v_r.id for update;

  if v_c.id is not null then
    if v_c.status in ('succeeded', 'not_required', 'processing') then
      return jsonb_build_object('action', 'skip', 'reason', 'charge ' || v_c.status);
    elsif v_c.status = 'failed' then
      if v_r.status <> 'payment_failed' or v_c.next_retry_at is null then
        return jsonb_build_object('action', 'skip', 'reason', 'no retry scheduled');
      end if;
      if v_c.next_retry_at > now() then
        return jsonb_build_object('action', 'skip', 'reason', 'retry not due until ' || v_c.next_retry_at);
      end if;
      -- A new attempt after a decline is a new request: a new key (the old
      -- key would only replay the decline).
      update app_private.charges c
      set attempt = c.attempt + 1,
          idempotency_key = app_private.payment_key(v_r.id, 'charge-' || (c.attempt + 1)),
          status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
      where c.id = v_c.id
      returning * into v_c;
    end if;
    -- 'pending': an earlier run died or lost its answer; same key again.
  else
    if v_r.status <> 'completed' then
      return jsonb_build_object('action', 'skip', 'reason', 'reservation is ' || v_r.status);
    end if;
    insert into app_private.charges (reservation_id, amount, currency, idempotency_key)
    values (v_r.id, v_r.amount, v_r.currency, app_private.payment_key(v_r.id, 'charge-1'))
    returning * into v_c;
  end if;

  if v_c.amount = 0 then
    -- Nothing to charge (all of it free time): no Stripe call, still a receipt.
    update app_private.charges c set status = 'not_required', succeeded_at = now() where c.id = v_c.id;
    perform app_private.email_enqueue('receipt', v_r.email,
      app_private.payment_email_data(v_r.id) || jsonb_build_object('amount', 0),
      'receipt:' || v_r.id);
    return jsonb_build_object('action', 'skip', 'reason', 'nothing to charge');
  end if;

  select cu.stripe_customer_id, si.payment_method into v_customer, v_pm
  from app_private.setup_intents si
  join app_private.stripe_customers cu on cu.id = si.customer_id
  where si.reservation_id = v_r.id and si.status = 'succeeded';

  return jsonb_build_object(
    'action', case when v_pm is null or v_customer is null then 'no_card' else 'charge' end,
    'chargeId', v_c.id,
    'reservationId', v_r.id,
    'attempt', v_c.attempt,
    'amount', v_c.amount,
    'currency', lower(v_c.currency),
    'idempotencyKey', v_c.idempotency_key,
    'customer', v_customer,
    'paymentMethod', v_pm);
end;
$$;
comment on function app_private.charge_prepare(bigint) is
  E'Makes (or finds) the charge row of a completed reservation and commits its idempotency key before Stripe is called; says whether to charge, and with what.';

create or replace function app_private.charge_succeeded(charge_id bigint, attempt int, payment_intent_id text)
  returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
begin
  update app_private.charges c
  set status = 'succeeded', stripe_payment_intent_id = charge_succeeded.payment_intent_id,
      succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
  where c.id = charge_succeeded.charge_id and c.attempt = charge_succeeded.attempt
    and c.status in ('pending', 'processing')
  returning * into v_c;
  if v_c.id is null then
    return false;
  end if;
  -- Paid after a failure: the reservation is complete again.
  update app_public.reservations r set status = 'completed'
  where r.id = v_c.reservation_id and r.status = 'payment_failed';
  perform app_private.email_enqueue('receipt', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency, 'paymentIntent', v_c.stripe_payment_intent_id),
    'receipt:' || r.id)
  from app_public.reservations r where r.id = v_c.reservation_id;
  return true;
end;
$$;
comment on function app_private.charge_succeeded(bigint, int, text) is
  E'Records a successful charge attempt and queues the receipt email (once per reservation).';

create or replace function app_private.charge_failed(
  charge_id bigint, attempt int, failure_code text, failure_message text, payment_intent_id text
) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  v_retry timestamptz := now() + app_private.charge_retry_delay(charge_failed.attempt);
begin
  update app_private.charges c
  set status = 'failed', failure_code = charge_failed.failure_code,
      failure_message = left(charge_failed.failure_message, 500),
      stripe_payment_intent_id = coalesce(charge_failed.payment_intent_id, c.stripe_payment_intent_id),
      next_retry_at = v_retry
  where c.id = charge_failed.charge_id and c.attempt = charge_failed.attempt and c.status = 'pending'
  returning * into v_c;
  if v_c.id is null then
    return null;
  end if;
  update app_public.reservations r set status = 'payment_failed'
  where r.id = v_c.reservation_id and r.status = 'completed';
  perform app_private.email_enqueue('payment_failed', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency,
                            'failureCode', v_c.failure_code, 'attempt', v_c.attempt, 'nextRetryAt', v_retry),
    'payment_failed:' || r.id || ':' || v_c.attempt)
  from app_public.reservations r where r.id = v_c.reservation_id;
  if v_retry is not null then
    -- Priority 5: when it falls due in a burst, new charges go first.
    perform app_private.queue_reservation_jobs('reservation__charge', array[v_c.reservation_id],
      run_at => v_retry, priority => 5);
  end if;
  return v_retry;
end;
$$;
comment on function app_private.charge_failed(bigint, int, text, text, text) is
  E'Records a declined attempt: the reservation becomes payment_failed, the driver is emailed a link to pay, and the next retry is scheduled (see charge_retry_delay).';

create or replace function app_private.charge_retry_now(reservation_id bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.charges c set next_retry_at = now()
  where c.reservation_id = charge_retry_now.reservation_id and c.status = 'failed'
    and exists (select from app_public.reservations r
                where r.id = charge_retry_now.reservation_id and r.status = 'payment_failed');
  if found then
    perform app_private.queue_reservation_jobs('reservation__charge', array[charge_retry_now.reservation_id]);
  end if;
  return found;
end;
$$;
comment on function app_private.charge_retry_now(bigint) is
  E'A failed charge whose reservation got a new card: its next attempt is due now and queued; false when there is no failed charge to retry.';

create or replace function app_private.charge_requeue(reservation_id bigint, run_at timestamptz, max_attempts int, priority int)
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The running job's key moves to this new job (graphile-worker gives a
  -- locked job's key to the new one), so the running one just ends.
  select app_private.queue_reservation_jobs('reservation__charge', array[charge_requeue.reservation_id],
    run_at => charge_requeue.run_at, priority => charge_requeue.priority,
    max_attempts => charge_requeue.max_attempts);
$$;
comment on function app_private.charge_requeue(bigint, timestamptz, int, int) is
  E'Runs a charge job again at run_at without counting the attempt that is ending (Stripe answered 429: nothing was charged); max_attempts is what the job had left, priority what it had.';
--! EndIncluded payments_charge.sql
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

create or replace function app_private.setup_intent_json(si app_private.setup_intents, reservation app_public.reservations)
  returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select jsonb_build_object(
    'reservationId', reservation.id,
    'reservationStatus', reservation.status,
    'email', reservation.email,
    'userId', reservation.user_id,
    'customerRowId', c.id,
    'customerKey', c.idempotency_key,
    'stripeCustomerId', c.stripe_customer_id,
    'generation', si.generation,
    'setupKey', si.idempotency_key,
    'setupIntentId', si.stripe_setup_intent_id,
    'clientSecret', si.client_secret,
    'setupStatus', si.status)
  from app_private.stripe_customers c
  where c.id = si.customer_id;
$$;

create or replace function app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_customer_id bigint;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_prepare.reservation_id, payment_setup_prepare.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id for update;

  if v_r.status not in ('held', 'payment_failed') then
    -- Asking again once the card is set up returns the same answer.
    if v_si.status = 'succeeded' then
      return app_private.setup_intent_json(v_si, v_r);
    end if;
    raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
      v_r.id, v_r.status using errcode = 'SMP02';
  end if;

  if v_r.user_id is not null then
    insert into app_private.stripe_customers (user_id, idempotency_key)
    values (v_r.user_id, 'smp-cus-' || gen_random_uuid())
    on conflict (user_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.user_id = v_r.user_id;
  else
    insert into app_private.stripe_customers (guest_email, idempotency_key)
    values (v_r.email, 'smp-cus-' || gen_random_uuid())
    on conflict (guest_email) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.guest_email = v_r.email;
  end if;

  if v_si.reservation_id is null then
    insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key)
    values (v_r.id, v_customer_id, app_private.payment_key(v_r.id, 'setup-1'))
    returning * into v_si;
  elsif v_r.status = 'payment_failed' and v_si.status = 'succeeded' then
    -- The card on file was declined: set up a new one under a new key.
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1)),
        customer_id = v_customer_id,
        stripe_setup_intent_id = null, client_secret = null, status = 'new',
        payment_method = null, succeeded_at = null
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_prepare(bigint, text) is
  E'Authorises the caller, makes (or finds) the Stripe customer and set-up rows of a held or payment-failed reservation with their idempotency keys, and returns what the Stripe calls need.';

create or replace function app_hidden.payment_customer_record(
  reservation_id bigint, manage_token text, stripe_customer_id text
) returns text
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_id text;
begin
  v_r := app_private.reservation_for_caller(payment_customer_record.reservation_id, payment_customer_record.manage_token, true);
  -- A concurrent request made the same call with the same key and got the same
  -- customer; the first one recorded wins either way.
  update app_private.stripe_customers c
  set stripe_customer_id = coalesce(c.stripe_customer_id, payment_customer_record.stripe_customer_id)
  from app_private.setup_intents si
  where si.reservation_id = v_r.id and c.id = si.customer_id
  returning c.stripe_customer_id into v_id;
  return v_id;
end;
$$;
comment on function app_hidden.payment_customer_record(bigint, text, text) is
  E'Records the Stripe customer id of the reservation''s customer (first write wins); returns the recorded id.';

create or replace function app_private.setup_intent_apply(reservation_id bigint, intent jsonb) returns app_private.setup_intents
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_si app_private.setup_intents;
  v_status text := intent->>'status';
begin
  update app_private.setup_intents si
  set stripe_setup_intent_id = coalesce(si.stripe_setup_intent_id, intent->>'id'),
      client_secret = coalesce(si.client_secret, intent->>'client_secret'),
      -- Never back from succeeded: a stale read must not undo a set-up.
      status = case when si.status = 'succeeded' then si.status else v_status end,
      payment_method = case when si.status = 'succeeded' then si.payment_method
                            else coalesce(intent->>'payment_method', si.payment_method) end,
      succeeded_at = case when si.status <> 'succeeded' and v_status = 'succeeded' then now() else si.succeeded_at end
  where si.reservation_id = setup_intent_apply.reservation_id
    and (si.stripe_setup_intent_id is null or si.stripe_setup_intent_id = intent->>'id')
  returning * into v_si;

  if v_si.status = 'succeeded' then
    perform app_private.payment_confirm_reservation(setup_intent_apply.reservation_id);
    -- A new card after a failed charge: charge it now rather than at the next
    -- scheduled retry.
    perform app_private.charge_retry_now(setup_intent_apply.reservation_id);
  end if;
  return v_si;
end;
$$;
comment on function app_private.setup_intent_apply(bigint, jsonb) is
  E'Records what Stripe says of a reservation''s SetupIntent; on success confirms the reservation (or retries a failed charge with the new card). Idempotent.';

create or replace function app_hidden.payment_setup_record(
  reservation_id bigint, manage_token text, intent jsonb
) returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_record.reservation_id, payment_setup_record.manage_token, true);
  v_si := app_private.setup_intent_apply(v_r.id, payment_setup_record.intent);
  select r.* into v_r from app_public.reservations r where r.id = v_r.id;
  if v_si.reservation_id is null then
    select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_record(bigint, text, jsonb) is
  E'Authorises the caller and records the reservation''s SetupIntent as Stripe returned it (confirming the reservation once it succeeded).';

create or replace function app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_lookup.reservation_id, payment_setup_lookup.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  if v_si.stripe_setup_intent_id is null then
    raise exception 'Reservation % has no card set-up to confirm: call setupReservationPayment first', v_r.id
      using errcode = 'SMP03';
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_lookup(bigint, text) is
  E'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started).';
--! EndIncluded payments_setup.sql
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
  select graphile_worker.add_job('due_work__sweep', '{}'::json,
    run_at => now() + make_interval(secs => due_work_schedule.every_ms / 1000.0),
    max_attempts => 25, job_key => 'due_work_sweep', job_key_mode => 'replace');
$$;
comment on function app_private.due_work_schedule(int) is
  E'Queues the next due-work sweep every_ms milliseconds from now (replacing a waiting one).';

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
