--! Previous: sha1:452595f6af73005adda23c614652a27e507398b4
--! Hash: sha1:3d0fdc6b18a19f30dab5fa46c20b2df3e8219a1a
--! Message: setReservationVehicle: name or change the vehicle of a reservation after booking

-- A client developer's find (stop 33): a driver who booked without a plate,
-- or changed cars, could not say so, and enforcement found no booking. The
-- new setReservationVehicle names (or removes) the vehicle of a reservation
-- still to come or under way, with the spot's maximum stay checked for that
-- vehicle; the audit trail records it as vehicle_changed.
--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the reminder time and the emails
-- of every change, in the transaction that made it; and the one function that
-- queues a reservation's jobs. Security definer because app_private's tables
-- are the owner's alone, and the writer may be any API role.
-- force_generic_plan: plpgsql otherwise re-plans these statements with custom
-- plans on the first calls of every connection (graphile_worker.add_jobs
-- measured 0.85 ms per call, 0.3 ms with generic plans).

create or replace function app_hidden.reservation_email_data_of(r app_public.reservations) returns setof jsonb
  language sql stable
as $$
  -- A set of one row, in sql, with no SET clause: called in FROM (lateral),
  -- PostgreSQL inlines it into the caller's query as a join. A function
  -- called once per row costs about five times as much, and every booking
  -- and every end of the end-of-day burst writes one email a reservation.
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
    -- Guests' emails lead to the page that asks for the manage code (emails/reservation.ts
    -- makes the link); the token itself is never stored.
    'isGuest', r.user_id is null))
  from app_public.spots s
  join app_public.rates rt on rt.id = s.rate_id
  where s.id = r.spot_id;
$$;
comment on function app_hidden.reservation_email_data_of(app_public.reservations) is
  E'What every reservation email''s template receives (see README: email data keys), as a set of one row for use in FROM: statements that write many emails join it (inlined).';

create or replace function app_hidden.reservation_email_data(r app_public.reservations) returns jsonb
  language plpgsql stable
  -- Given a row variable, the planner chose a custom plan at every call, planning
  -- the inlined joins again each time: 200 µs a call, 20 µs with the generic plan.
  set plan_cache_mode to force_generic_plan
as $$
begin
  return (select d from app_hidden.reservation_email_data_of(r) d);
end;
$$;
comment on function app_hidden.reservation_email_data(app_public.reservations) is
  E'What one reservation email''s template receives (reservation_email_data_of of one row).';

-- The side effects of a change are written per statement, not per row: the
-- due-work sweep ends hundreds of reservations in one UPDATE, and per-row
-- triggers cost about 0.5 ms a row there (a plpgsql call, a plan and an
-- insert each for the audit row, the email and the live event). The
-- statement's rows reach the set-based functions below as one array of
-- (old_row, new_row) pairs (old_row null for an insert), built once from the
-- transition tables. They are plpgsql, as is reservations_live: a sql function
-- with a SET clause is never inlined, and PostgreSQL 15 plans its statement
-- again at every call; plpgsql keeps the plan (measured: pgbench of reserve()
-- at 8 clients went from about 880 to 1,300 bookings/s).

do $$
begin
  create type app_private.reservation_change as (old_row app_public.reservations, new_row app_public.reservations);
exception when duplicate_object then null;
end;
$$;
comment on type app_private.reservation_change is
  E'One row of an insert or update statement on reservations: the row before (null for an insert) and after.';

create or replace function app_private.reservations_audit(changes app_private.reservation_change[])
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  insert into app_private.reservation_events
    (reservation_id, action, old_status, new_status, old_period, new_period, old_amount, new_amount,
     actor_user_id, actor_role)
  select n.id, a.action, o.status, n.status, o.period, n.period, o.amount, n.amount,
         app_public.current_user_id(),
         -- SECURITY DEFINER changes current_user, not the `role` setting the API set.
         coalesce(nullif(current_setting('role', true), 'none'), 'system:' || session_user)
  from unnest(reservations_audit.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then case when n.kind = 'block' then 'blocked' else 'reserved' end
      when n.status is distinct from o.status then n.status::text  -- confirmed, cancelled, completed, expired, …
      when n.period is distinct from o.period then 'end_changed'
      when n.amount is distinct from o.amount or n.hold_expires_at is distinct from o.hold_expires_at then 'updated'
      when n.plate is distinct from o.plate or n.plate_state is distinct from o.plate_state then 'vehicle_changed'
    end as action) a   -- null: nothing a person would call a change
  where a.action is not null
  order by c.ordinality;
end;
$$;
comment on function app_private.reservations_audit(app_private.reservation_change[]) is
  E'Writes the audit row of each inserted or changed reservation of one statement (old_row null for an insert).';

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
    -- (one confirmed too late for it gets none); a stay under an hour is
    -- reminded a quarter of its length before its end (booking_reminder_at).
    v_remind_at := app_hidden.booking_reminder_at(new.period);
    new.remind_at := case when v_remind_at > greatest(now(), lower(new.period)) then v_remind_at end;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_reservations__remind_at() is
  E'Sets remind_at, when the due-work sweep emails a confirmed reservation''s reminder (booking_reminder_at: 15 minutes before its end, a quarter of the stay for one under an hour); moved with the end, cleared once it is no longer confirmed.';

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
  -- A job of the same key that is running (this very job, queuing its own
  -- next run; or another worker's) is superseded. graphile-worker would keep
  -- its row, keyless and marked failed for good (attempts = max_attempts), and
  -- a worker dying before completing it would leave that row for ever: a
  -- failed job in the metrics though its successor does the work. Deleted
  -- instead, in this transaction: completing or failing a deleted job changes
  -- nothing. (Reservation jobs have no named queue, which would stay locked.)
  delete from graphile_worker._private_jobs j
  where j.key = any(array(select app_private.reservation_job_key(queue_reservation_jobs.task, id)
                          from unnest(queue_reservation_jobs.reservation_ids) id))
    and j.locked_at is not null and j.job_queue_id is null;
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

create or replace function app_private.reservations_emails(changes app_private.reservation_change[])
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The same dedupe key twice (a replayed change) is one email, as email_enqueue.
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select e.template, n.email,
         coalesce(d.data, '{}') || case e.template
           when 'reservation_cancelled' then jsonb_build_object('reason',
             case when app_hidden.current_user_is_staff() and n.user_id is distinct from app_public.current_user_id()
                  then 'cancelled_by_operator' else 'cancelled' end)
           when 'reservation_changed' then jsonb_build_object(
             'previousEndsAt', app_hidden.iso_time(upper(o.period)), 'previousAmount', o.amount)
           else '{}'::jsonb end,
         e.template || ':' || n.id || case when e.template = 'reservation_changed'
           then ':' || extract(epoch from n.updated_at) else '' end
  from unnest(reservations_emails.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then 'reservation_held'
      when n.status is distinct from o.status then case n.status
        when 'confirmed' then 'reservation_confirmed'
        when 'cancelled' then 'reservation_cancelled'
        when 'expired'   then 'reservation_expired'
        when 'completed' then 'reservation_ended'
      end  -- payment_failed: the payments code writes that email
      when n.period is distinct from o.period and app_hidden.holds_spot(n.status) then 'reservation_changed'
    end as template) e
  left join lateral app_hidden.reservation_email_data_of(c.new_row) d(data) on true
  where n.kind = 'reservation' and e.template is not null
  order by c.ordinality
  on conflict on constraint emails_dedupe_key_key do nothing;
end;
$$;
comment on function app_private.reservations_emails(app_private.reservation_change[]) is
  E'Queues the email of each inserted or changed reservation of one statement in the outbox: reservation_held, _confirmed, _changed, _cancelled, _expired (a hold never confirmed), _ended.';

create or replace function app_private.tg_reservations__changes() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_changes app_private.reservation_change[];
begin
  if tg_op = 'INSERT' then
    v_changes := array(select row(null, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n order by n.id);
  else
    v_changes := array(select row(row(o.*)::app_public.reservations, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n join old_rows o on o.id = n.id order by n.id);
  end if;
  if cardinality(v_changes) = 0 then
    return null;
  end if;
  perform app_private.reservations_audit(v_changes);
  perform app_private.reservations_emails(v_changes);
  perform app_private.reservations_live(v_changes);
  return null;
end;
$$;
comment on function app_private.tg_reservations__changes() is
  E'After each insert or update statement on reservations: its audit rows, emails and live events, set-based (reservations_audit, reservations_emails, reservations_live).';

drop trigger if exists _500_audit on app_public.reservations;
drop trigger if exists _700_notify on app_public.reservations;
drop trigger if exists _800_live on app_public.reservations;
drop trigger if exists _500_changes_inserted on app_public.reservations;
create trigger _500_changes_inserted after insert on app_public.reservations
  referencing new table as new_rows
  for each statement execute function app_private.tg_reservations__changes();
drop trigger if exists _500_changes_updated on app_public.reservations;
create trigger _500_changes_updated after update on app_public.reservations
  referencing old table as old_rows new table as new_rows
  for each statement execute function app_private.tg_reservations__changes();
drop function if exists app_private.tg_reservations__audit();
drop function if exists app_private.tg_reservations__notify();
drop function if exists app_private.tg_reservations__live();
--! EndIncluded reservations_triggers.sql
--! Included reservations_lifecycle.sql
-- A reservation's life after it is made: change its end, end it now, cancel
-- it, confirm its payment set-up, and what the scheduled jobs do at its hold
-- deadline, before its end and at its end. States:
--   held -> confirmed -> completed (-> payment_failed, by the payments code)
--   held -> expired (hold deadline passed, or its end came while still held)
--   held | confirmed -> cancelled (before the start, free of charge)

create or replace function app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange)
  returns app_public.price_quote
  language sql stable
as $$
  -- Reservations made before rate_terms existed had theirs copied when it
  -- came (migration 000043); the spot's rate now is only a last resort.
  select app_hidden.quote_terms(
    coalesce(r.rate_terms,
             app_hidden.rate_terms((select s.rate_id from app_public.spots s where s.id = r.spot_id))),
    reservation_quote.time_window);
$$;
comment on function app_hidden.reservation_quote(app_public.reservations, tstzrange) is
  E'The price of a new window for a reservation under the rate terms it was booked with (rate_terms): an end moved later or earlier is priced as the rate stood at booking.';

create or replace function app_public.reservation_end_quote(
  reservation_id bigint,
  ends_at timestamptz,
  manage_token text default null
) returns app_public.price_quote
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations := app_private.reservation_for_caller(
    reservation_end_quote.reservation_id, reservation_end_quote.manage_token, false);
  v_end timestamptz;
begin
  -- Only what can still be ended or moved has such a price.
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and can no longer be ended or changed', v_r.status using errcode = 'SMB07';
  end if;
  -- Left out: now, what endReservation would charge.
  v_end := coalesce(reservation_end_quote.ends_at, now());
  if not isfinite(v_end) then
    raise exception 'Give the end time to price' using errcode = 'SMB03';
  end if;
  if v_end <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  -- A longer stay meets the spot's maximum, as changeReservationEnd's does.
  if v_end > upper(v_r.period) then
    perform app_hidden.assert_max_stay((select s from app_public.spots s where s.id = v_r.spot_id),
                                       tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  return app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
end;
$$;
comment on function app_public.reservation_end_quote(bigint, timestamptz, text) is
  E'What your reservation would cost if it ended at endsAt (left out: now, what endReservation would charge; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended. Guests pass the manage token (SMB06 otherwise); SMB03 for an end not after the start, SMB04 for a longer stay beyond the spot''s maximum, SMB07 once it is completed, cancelled or expired.';

create or replace function app_private.unpaid_behind(r app_public.reservations) returns bigint
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The same two debts reserve (SMB13) and the card set-up (SMP10) look for:
  -- the verified driver who booked it, or the card behind it, has a charge
  -- that failed and is still unpaid.
  select min(u.id) from app_public.reservations u
  where u.status = 'payment_failed' and u.id <> r.id
    and ((r.verified_booker_id is not null and u.verified_booker_id = r.verified_booker_id)
         or u.id in (select d.reservation_id
                     from app_private.setup_intents si
                     join app_private.declined_cards d on d.card_fingerprint = si.card_fingerprint
                     where si.reservation_id = r.id));
$$;
comment on function app_private.unpaid_behind(app_public.reservations) is
  E'An unpaid reservation (payment_failed) booked by the same verified driver as r, or declined on the card behind r; null when there is none.';

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
  v_unpaid bigint;
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
  -- Not started yet, it is still a booking: the floor reserve has. (Started,
  -- any end still to come will do: it is ending it a little later.)
  if lower(v_r.period) > now() then
    perform app_hidden.assert_min_stay(v_window);
  end if;
  select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  v_quote := app_hidden.reservation_quote(v_r, v_window);

  -- Row lock first (above), then the spot's: every writer takes them in this order.
  perform app_hidden.lock_spot(v_r.spot_id);
  if change_reservation_end.ends_at > upper(v_r.period) then
    -- Reservations made before a spot went out of service are honoured as
    -- made; more time on it would be a new use.
    if v_spot.status <> 'active' then
      raise exception 'This spot is out of service: the reservation can be shortened, not extended' using errcode = 'SMB02';
    end if;
    perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_r.user_id, v_r.email, v_r.id, v_r.plate, v_r.plate_state);
    -- More time is more credit: a card whose charge failed would otherwise
    -- stretch every reservation it backed before the decline, and fail again.
    v_unpaid := app_private.unpaid_behind(v_r);
    if v_unpaid is not null then
      raise exception 'Reservation #% is unpaid (its charge failed): pay it with another card before extending this one', v_unpaid
        using errcode = 'SMB13';
    end if;
  end if;
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
  E'Moves the end of your reservation (longer or shorter) and re-prices it at the rate it was booked under (a rate changed since does not apply). Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start or leaves less than a minute (SMB03), extends a reservation on a spot out of service (SMB02), exceeds the spot''s maximum stay (SMB04), extends while a reservation of the same verified driver or card is unpaid (SMB13), or the reservation is over, cancelled or expired (SMB07).';

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
    v_quote := app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
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
  if v_r.status = 'held' then
    -- No card was ever set up: ended, it is what its end would make of it
    -- (reservations_end_due), expired with nothing to charge. Completing it
    -- would charge a card that does not exist and leave a debt on the email.
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    where r.id = v_r.id
    returning * into v_r;
    return row(v_r, null)::app_public.reservation_result;
  end if;
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used at the rate it was booked under (never less than the rate''s minimum charge) and the spot is free again. One still held (no card set up) expires instead, with no charge. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

create or replace function app_public.set_reservation_vehicle(
  reservation_id bigint,
  plate text,
  plate_state text default null,
  manage_token text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r     app_public.reservations;
  v_plate text;
  v_state text;
begin
  v_r := app_private.reservation_for_caller(set_reservation_vehicle.reservation_id, set_reservation_vehicle.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) or upper(v_r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when app_hidden.holds_spot(v_r.status) then 'over' else v_r.status::text end
      using errcode = 'SMB07';
  end if;
  if set_reservation_vehicle.plate is null then
    if nullif(btrim(set_reservation_vehicle.plate_state), '') is not null then
      raise exception 'Give the plate with its state' using errcode = 'SME01';
    end if;
  else
    v_plate := app_hidden.plate(set_reservation_vehicle.plate);
    v_state := app_hidden.plate_state(set_reservation_vehicle.plate_state);
  end if;
  if v_plate is not distinct from v_r.plate and v_state is not distinct from v_r.plate_state then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  -- Another car on the same stay is that car's stay: it meets the spot's
  -- maximum with that car's stays around it, as booking it would.
  perform app_hidden.lock_spot(v_r.spot_id);
  if v_plate is not null then
    perform app_hidden.assert_max_stay_joined((select s from app_public.spots s where s.id = v_r.spot_id),
                                              v_r.period, null, null, v_r.id, v_plate, v_state);
  end if;
  update app_public.reservations r set plate = v_plate, plate_state = v_state
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.set_reservation_vehicle(bigint, text, text, text) is
  E'Names the vehicle parked on your reservation (a plate left out removes it), for enforcement: a driver who booked without one, or changed cars. Guests pass the manage token (SMB06 otherwise). SME01 for a malformed plate or a state without a plate, SMB04 when that vehicle''s stays on the spot less than an hour apart would exceed its maximum, SMB07 once the reservation is over, cancelled or expired.';

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
    raise exception 'This reservation has already started; end it now instead (%)',
      case when v_r.status = 'held' then 'no card was set up, so nothing is charged'
           else 'you pay only for the time used' end
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

create or replace function app_private.confirm_held_reservation(reservation_id bigint)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = confirm_held_reservation.reservation_id and r.kind = 'reservation'
  for update;
  if not found then
    raise exception 'There is no reservation %', coalesce(confirm_held_reservation.reservation_id::text, '(none given)') using errcode = 'SMB06';
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
comment on function app_private.confirm_held_reservation(bigint) is
  E'held -> confirmed (the payments code calls it once the card is set up). Idempotent; SMB07 when the hold already expired or the reservation was cancelled.';

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
    -- Ran its course: charged as quoted. Still held at its end: expired, no
    -- charge, and its amount 0 as a cancelled one's (it read as a price due).
    update app_public.reservations r
    set status = case when r.status = 'held' then 'expired' else 'completed' end::app_public.reservation_status,
        amount = case when r.status = 'held' then 0 else r.amount end,
        hold_expires_at = null
    from due where r.id = due.id
    returning r.id, r.status
  )
  select count(*)::int, array_agg(e.id) filter (where e.status = 'completed')
  into v_ended, v_completed from ended e;
  -- Their charges, in batch jobs queued by one add_jobs call.
  perform app_private.queue_charge_batches(v_completed);
  return v_ended;
end;
$$;
comment on function app_private.reservations_end_due(int) is
  E'Ends reservations whose end has come: confirmed -> completed (spot free, charge queued in a batch job), still held -> expired. At most max_rows; returns how many.';

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
    set status = 'expired', amount = 0, hold_expires_at = null
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
  select count(app_private.email_enqueue('reservation_reminder', m.email, d.data,
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  left join lateral app_hidden.reservation_email_data_of(m::app_public.reservations) d(data) on true
  where m.status = 'confirmed' and upper(m.period) > now();
$$;
comment on function app_private.reminders_send_due(int) is
  E'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';
--! EndIncluded reservations_lifecycle.sql
