--! Previous: sha1:a30e0077d60719d70cae2c98e069914fa91320a6
--! Hash: sha1:9528290cb3761f849ed73e17888bc15fd90482bc
--! Message: booking: reservation triggers with generic plans

-- Booking: the reservation triggers run with generic plans (graphile-worker's
-- add_job re-planned on every call: ~3x slower per job).

--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the scheduled jobs and the emails
-- of every change, in the transaction that made it. Security definer because
-- graphile_worker's and app_private's tables are the owner's alone, and the
-- writer may be any API role.
-- force_generic_plan: graphile_worker.add_job (-> add_jobs) otherwise re-plans
-- its statements on every call (custom plans for a fresh array each time):
-- measured 0.85 ms per add_job, 0.3 ms with generic plans; a reservation
-- queues three jobs (end, hold expiry, its email).

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

create or replace function app_private.tg_reservations__schedule_jobs() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_remind_at timestamptz;
begin
  if new.kind <> 'reservation' then
    return null;
  end if;
  if new.status in ('held', 'confirmed') then
    -- At the end: complete it (or expire a hold nobody confirmed).
    perform graphile_worker.add_job('reservation__end', json_build_object('reservationId', new.id),
      run_at => upper(new.period), max_attempts => 10,
      job_key => 'reservation_end:' || new.id, job_key_mode => 'replace');
  end if;
  if new.status = 'held' and new.hold_expires_at is not null then
    perform graphile_worker.add_job('hold__expire', json_build_object('reservationId', new.id),
      run_at => new.hold_expires_at, max_attempts => 10,
      job_key => 'hold_expiry:' || new.id, job_key_mode => 'replace');
  elsif tg_op = 'UPDATE' and old.hold_expires_at is not null then
    perform graphile_worker.remove_job('hold_expiry:' || new.id);
  end if;
  -- A reminder only for a confirmed reservation, only when it would come after
  -- the start and in the future (a 10-minute stay gets none).
  v_remind_at := upper(new.period) - app_hidden.booking_reminder_lead();
  if new.status = 'confirmed' and v_remind_at > greatest(now(), lower(new.period)) then
    perform graphile_worker.add_job('reservation__remind', json_build_object('reservationId', new.id),
      run_at => v_remind_at, max_attempts => 5,
      job_key => 'reservation_reminder:' || new.id, job_key_mode => 'replace');
  elsif tg_op = 'UPDATE' then
    perform graphile_worker.remove_job('reservation_reminder:' || new.id);
  end if;
  if new.status not in ('held', 'confirmed') then
    perform graphile_worker.remove_job('reservation_end:' || new.id);
    perform graphile_worker.remove_job('hold_expiry:' || new.id);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_reservations__schedule_jobs() is
  E'Queues, moves or removes a reservation''s jobs: reservation_end:<id> at its end, hold_expiry:<id> at its hold deadline, reservation_reminder:<id> 15 minutes before its end once confirmed.';

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
  elsif new.period is distinct from old.period and new.status in ('held', 'confirmed') then
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
