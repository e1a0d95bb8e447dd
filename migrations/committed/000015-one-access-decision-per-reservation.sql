--! Previous: sha1:9aaaf51655924f25a848148ec3bc102c7a01a173
--! Hash: sha1:c49be7cbb5c94f8046119874e05fced337d66f49
--! Message: One access decision per reservation (reservation_for_caller), manage_token everywhere, reservation_result from every reservation mutation, holds_spot

-- One access decision per reservation (issue 9.1 / 11.2): reservation_for_caller
-- replaces reservation_for_update, reservation_for_payment and
-- payment_guest_token_ok (whose three-valued test let a signed-out caller pay
-- for a driver's reservation); the guest secret is `manage_token` everywhere,
-- and every reservation mutation returns reservation_result.

drop function if exists app_private.reservation_for_update(bigint, text);
drop function if exists app_hidden.reservation_for_payment(bigint, text);
drop function if exists app_hidden.payment_guest_token_ok(bigint, text);
-- Parameter names and return types change: create or replace cannot do that.
drop function if exists app_public.change_reservation_end(bigint, timestamptz, text);
drop function if exists app_public.end_reservation(bigint, text);
drop function if exists app_public.cancel_reservation(bigint, text);
drop function if exists app_public.guest_reservation(bigint, text);

do $$
begin
  if to_regtype('app_public.reservation_receipt') is not null then
    alter type app_public.reservation_receipt rename to reservation_result;
  end if;
end;
$$;
comment on type app_public.reservation_result is
  E'What every reservation mutation returns: the reservation as it left it, and the one-time guest manage token when one was issued (reserve as a guest); null otherwise.';
comment on column app_public.reservation_result.manage_token is
  E'Only when one is issued (a guest''s reserve): the secret that, with the reservation id, reads, changes, ends, cancels or pays for it. Shown once; keep it.';

--! Included reservations_access.sql
-- Who may act on a reservation: its signed-in owner, staff, or whoever holds
-- the guest manage token. One function decides, for every function that reads,
-- changes, ends, cancels or pays for a single reservation.

create or replace function app_private.manage_token_hash(token text) returns bytea
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select public.digest(convert_to(token, 'UTF8'), 'sha256');
$$;
comment on function app_private.manage_token_hash(text) is E'What is stored of a guest manage token.';

create or replace function app_private.new_manage_token() returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- 24 random bytes, URL-safe base64 (32 characters).
  select translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_');
$$;
comment on function app_private.new_manage_token() is E'A fresh guest manage token.';

create or replace function app_hidden.holds_spot(status app_public.reservation_status) returns boolean
  language sql immutable
as $$
  -- The statuses the exclusion constraint and spot_occupancy count as taking
  -- the spot (their predicates in committed migrations spell out the same pair).
  select status in ('held', 'confirmed');
$$;
comment on function app_hidden.holds_spot(app_public.reservation_status) is
  E'True for the statuses in which a reservation takes its spot (held, confirmed); false for null.';

create or replace function app_private.reservation_for_caller(
  reservation_id bigint,
  manage_token text,
  lock_row boolean
) returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  -- Blocks (kind 'block') are operators' business, handled by unblock_spot.
  if reservation_for_caller.lock_row then
    select r.* into v_r from app_public.reservations r
    where r.id = reservation_for_caller.reservation_id and r.kind = 'reservation'
    for update;
  else
    select r.* into v_r from app_public.reservations r
    where r.id = reservation_for_caller.reservation_id and r.kind = 'reservation';
  end if;
  -- Each alternative is coalesced on its own: signed out, current_user_id()
  -- is null, and `null or false` is null, which `if not …` would let through.
  if (found
      and (coalesce(v_r.user_id = app_public.current_user_id(), false)
           or coalesce(app_hidden.current_user_is_staff(), false)
           or coalesce(reservation_for_caller.manage_token <> '' and exists (
                    select from app_private.reservation_secrets s
                    where s.reservation_id = v_r.id
                      and s.manage_token_hash = app_private.manage_token_hash(reservation_for_caller.manage_token)),
                  false))) is not true
  then
    -- One answer for "no such id", "not yours" and "wrong token": an id says
    -- nothing about whether it exists.
    raise exception 'We could not find that reservation for you; check its number (and, as a guest, the manage code from your booking)'
      using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_private.reservation_for_caller(bigint, text, boolean) is
  E'The reservation (locked for update when lock_row) when the caller owns it, is staff, or gives its guest manage token; else error SMB06. The one access decision for a single reservation.';
--! EndIncluded reservations_access.sql
--! Included reservations_read.sql
-- Reading reservations. A signed-in driver reads theirs through RLS (the
-- select_own policy; staff read all); a guest reads one with id + token.

create or replace function app_public.reservations_starts_at(r app_public.reservations) returns timestamptz
  language sql stable as $$ select lower(r.period) $$;
comment on function app_public.reservations_starts_at(app_public.reservations) is E'When the reservation starts.';

create or replace function app_public.reservations_ends_at(r app_public.reservations) returns timestamptz
  language sql stable as $$ select upper(r.period) $$;
comment on function app_public.reservations_ends_at(app_public.reservations) is
  E'When the reservation ends (for a completed one: when it really ended).';

create or replace function app_public.reservations_time_zone(r app_public.reservations) returns text
  language sql stable
as $$
  select rt.time_zone from app_public.spots s join app_public.rates rt on rt.id = s.rate_id where s.id = r.spot_id;
$$;
comment on function app_public.reservations_time_zone(app_public.reservations) is
  E'The spot''s time zone, to show the times as the street signs read.';

create or replace function app_hidden.require_sign_in() returns bigint
  language plpgsql stable
as $$
declare
  v_id bigint := app_public.current_user_id();
begin
  if v_id is null then
    raise exception 'Sign in to see your reservations (guests: use the reservation number and manage code)'
      using errcode = 'SMB11';
  end if;
  return v_id;
end;
$$;
comment on function app_hidden.require_sign_in() is E'The signed-in user''s id, or error SMB11.';

create or replace function app_public.my_reservations() returns setof app_public.reservations
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_hidden.require_sign_in();
begin
  return query
    select r.* from app_public.reservations r
    where r.user_id = v_user_id and r.kind = 'reservation'
      and app_hidden.holds_spot(r.status) and upper(r.period) > now()
    order by lower(r.period), r.id;
end;
$$;
comment on function app_public.my_reservations() is
  E'Your current and upcoming reservations (held or confirmed, not yet ended), soonest first.';

create or replace function app_public.my_past_reservations() returns setof app_public.reservations
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_hidden.require_sign_in();
begin
  return query
    select r.* from app_public.reservations r
    where r.user_id = v_user_id and r.kind = 'reservation'
      and (not app_hidden.holds_spot(r.status) or upper(r.period) <= now())
    order by upper(r.period) desc, r.id desc;
end;
$$;
comment on function app_public.my_past_reservations() is
  E'Your ended, cancelled and expired reservations, latest first.';

create or replace function app_public.guest_reservation(reservation_id bigint, manage_token text)
  returns app_public.reservations
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.reservation_for_caller(guest_reservation.reservation_id, guest_reservation.manage_token, false);
$$;
comment on function app_public.guest_reservation(bigint, text) is
  E'A guest''s reservation, by its id and the manage token reserve() returned (error SMB06 otherwise).';

create or replace function app_public.my_reservation(reservation_id bigint) returns app_public.reservations
  language plpgsql stable
as $$
declare
  v_r app_public.reservations;
begin
  perform app_hidden.require_sign_in();
  -- Row level security decides: the owner, or staff.
  select r.* into v_r from app_public.reservations r where r.id = my_reservation.reservation_id;
  if not found then
    raise exception 'We could not find that reservation for you; check its number' using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_public.my_reservation(bigint) is
  E'One of your reservations by its id (staff: anyone''s). Guests use guestReservation with the manage token.';
--! EndIncluded reservations_read.sql
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
  perform graphile_worker.add_job('reservation__charge', json_build_object('reservationId', v_r.id),
    max_attempts => 10, job_key => 'reservation_charge:' || v_r.id);
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
-- What the scheduled jobs run (tasks/*.ts call these as the owner).

create or replace function app_private.reservation_end(reservation_id bigint) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = reservation_end.reservation_id and r.kind = 'reservation'
  for update;
  if not found or not app_hidden.holds_spot(v_r.status) then
    return 'nothing to do';
  end if;
  if upper(v_r.period) > now() then
    return 'not due';  -- the end moved later; its job was moved with it
  end if;
  if v_r.status = 'held' then
    update app_public.reservations r set status = 'expired', hold_expires_at = null where r.id = v_r.id;
    return 'expired';
  end if;
  perform app_private.complete_reservation(v_r.id, upper(v_r.period));
  return 'completed';
end;
$$;
comment on function app_private.reservation_end(bigint) is
  E'Run at a reservation''s end: confirmed -> completed (final amount fixed, charge queued, spot free); still held -> expired.';

create or replace function app_private.hold_expire(reservation_id bigint) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_public.reservations r
  set status = 'expired', hold_expires_at = null
  where r.id = hold_expire.reservation_id and r.status = 'held' and r.hold_expires_at <= now();
  return case when found then 'expired' else 'nothing to do' end;
end;
$$;
comment on function app_private.hold_expire(bigint) is
  E'Run at a hold''s deadline: a reservation still held then expires and frees its spot.';

create or replace function app_private.holds_sweep() returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Safety net behind the hold_expiry jobs (a lost job, a worker down for a while).
  with gone as (
    update app_public.reservations r
    set status = 'expired', hold_expires_at = null
    where r.status = 'held' and r.hold_expires_at <= now() - interval '1 minute'
    returning 1
  )
  select count(*)::int from gone;
$$;
comment on function app_private.holds_sweep() is
  E'Expires every hold more than a minute past its deadline; returns how many. Run by the holds__sweep cron task.';

create or replace function app_private.reservation_remind(reservation_id bigint) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = reservation_remind.reservation_id and r.kind = 'reservation';
  if not found or v_r.status <> 'confirmed' or upper(v_r.period) <= now() then
    return 'nothing to do';
  end if;
  perform app_private.email_enqueue('reservation_reminder', v_r.email,
    app_hidden.reservation_email_data(v_r),
    'reservation_reminder:' || v_r.id || ':' || extract(epoch from upper(v_r.period))::bigint);
  return 'reminded';
end;
$$;
comment on function app_private.reservation_remind(bigint) is
  E'Run shortly before a confirmed reservation ends: emails the driver a reminder (once per end time).';
--! EndIncluded reservations_lifecycle.sql
--! Included reservations_booking.sql
-- Reserving a spot. Security definer because the row is written with a price
-- the caller must not choose and, for guests, a secret the caller must not
-- read back; API roles have no insert grant on reservations at all.

create or replace function app_public.reserve(
  spot_id bigint,
  starts_at timestamptz default null,
  ends_at timestamptz default null,
  duration_minutes int default null,
  email text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_email   citext;
  v_window  tstzrange;
  v_spot    app_public.spots;
  v_quote   app_public.price_quote;
  v_token   text;
  v_r       app_public.reservations;
begin
  if v_user_id is not null then
    -- A signed-in driver's reservation goes to their account's address.
    select u.email into v_email from app_public.users u where u.id = v_user_id;
  else
    v_email := app_hidden.guest_email(reserve.email);
  end if;
  v_window := app_hidden.booking_window(reserve.starts_at, reserve.ends_at, reserve.duration_minutes);
  if reserve.spot_id is null then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  end if;

  perform app_hidden.lock_spot(reserve.spot_id);
  select s.* into v_spot from app_public.spots s where s.id = reserve.spot_id;
  if not found then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  elsif v_spot.status <> 'active' then
    raise exception 'This spot is out of service and cannot be reserved' using errcode = 'SMB02';
  end if;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  v_quote := app_hidden.quote_rate(v_spot.rate_id, v_window);

  begin
    insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency, hold_expires_at)
    values (v_spot.id, v_user_id, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
            least(now() + app_hidden.booking_hold_time(), upper(v_window)))
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, this spot is already taken for part of that time' using errcode = 'SMB01';
  end;

  if v_user_id is null then
    v_token := app_private.new_manage_token();
    insert into app_private.reservation_secrets (reservation_id, manage_token_hash)
    values (v_r.id, app_private.manage_token_hash(v_token));
  end if;
  return row(v_r, v_token)::app_public.reservation_result;
end;
$$;
comment on function app_public.reserve(bigint, timestamptz, timestamptz, int, text) is
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you. Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes.';
--! EndIncluded reservations_booking.sql
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
  if app_hidden.holds_spot(new.status) then
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
  if not app_hidden.holds_spot(new.status) then
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
--! Included payments_access.sql
-- Payments: the data payment emails carry, and the hand-over of a set-up card
-- to booking. Who may pay for a reservation is booking's one access decision,
-- app_private.reservation_for_caller (reservations_access.sql).

create or replace function app_private.payment_email_data(reservation_id bigint) returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The same fields as booking's emails (spot, window, time zone, amount, manage link path).
  select app_hidden.reservation_email_data(r)
  from app_public.reservations r
  where r.id = payment_email_data.reservation_id;
$$;
comment on function app_private.payment_email_data(bigint) is
  E'What receipt and payment_failed emails show: booking''s reservation email data.';

create or replace function app_private.payment_confirm_reservation(reservation_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Booking owns the held → confirmed transition (and its email). Only a held
  -- reservation is handed over, so a replayed webhook, a second confirm, or a
  -- set-up finishing after the hold expired changes nothing.
  if exists (select from app_public.reservations r
             where r.id = payment_confirm_reservation.reservation_id and r.status = 'held') then
    perform app_private.confirm_reservation_payment(payment_confirm_reservation.reservation_id);
  end if;
end;
$$;
comment on function app_private.payment_confirm_reservation(bigint) is
  E'Confirms a held reservation whose card is set up (booking''s app_private.confirm_reservation_payment); no-op otherwise.';
--! EndIncluded payments_access.sql
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

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
    update app_private.charges c set next_retry_at = now()
    where c.reservation_id = setup_intent_apply.reservation_id and c.status = 'failed'
      and exists (select from app_public.reservations r
                  where r.id = setup_intent_apply.reservation_id and r.status = 'payment_failed');
    if found then
      perform graphile_worker.add_job('reservation__charge',
        json_build_object('reservationId', setup_intent_apply.reservation_id),
        job_key => 'reservation_charge:' || setup_intent_apply.reservation_id, job_key_mode => 'replace');
    end if;
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
