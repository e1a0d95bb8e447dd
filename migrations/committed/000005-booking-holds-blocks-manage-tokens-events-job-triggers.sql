--! Previous: sha1:34a501da35f35dbc3254626716914ded8221339b
--! Hash: sha1:bed2c4c6bf1b3fb3461f7c9f947eefc551b95967
--! Message: booking core

-- Booking core: what a reservation needs beyond the foundation's table (hold
-- deadline, operator blocks, guest manage tokens, an audit trail), the booking
-- functions, and the triggers that queue each reservation's future work.
-- Re-runnable: every statement tolerates having run before.

--------------------------------------------------------------------------------
-- Reservations: new columns

alter table app_public.reservations
  add column if not exists kind text not null default 'reservation',
  add column if not exists hold_expires_at timestamptz,
  add column if not exists note text;

alter table app_public.reservations drop constraint if exists reservations_kind_check;
alter table app_public.reservations add constraint reservations_kind_check
  check (kind in ('reservation', 'block'));
alter table app_public.reservations drop constraint if exists reservations_note_check;
alter table app_public.reservations add constraint reservations_note_check
  check (length(note) <= 500);
-- Only a held reservation has a hold deadline (reserve() always sets one; a
-- row written directly, e.g. by an import, may leave it null: never expires).
alter table app_public.reservations drop constraint if exists reservations_hold_check;
alter table app_public.reservations add constraint reservations_hold_check
  check (hold_expires_at is null or status = 'held');

comment on column app_public.reservations.kind is
  E'reservation (a driver''s), or block (an operator took the spot out of use for the period). Both are subject to the same no-overlap constraint.';
comment on column app_public.reservations.hold_expires_at is
  E'While held: when the hold lapses unless payment set-up confirms it.';
comment on column app_public.reservations.note is E'An operator''s reason for a block.';

create index if not exists reservations_held_idx on app_public.reservations (hold_expires_at)
  where status = 'held';
create index if not exists reservations_spot_id_idx on app_public.reservations (spot_id);

--------------------------------------------------------------------------------
-- Guest manage tokens: only a hash, and out of every API role's reach.

create table if not exists app_private.reservation_secrets (
  reservation_id    bigint primary key references app_public.reservations on delete cascade,
  manage_token_hash bytea not null
);
alter table app_private.reservation_secrets enable row level security;
comment on table app_private.reservation_secrets is
  E'SHA-256 of a guest reservation''s manage token; the token itself is shown once, by reserve().';

--------------------------------------------------------------------------------
-- Audit: one row per insert or change of a reservation, written by a trigger.

create table if not exists app_private.reservation_events (
  id             bigint generated always as identity primary key,
  reservation_id bigint not null references app_public.reservations on delete cascade,
  action         text not null,
  old_status     app_public.reservation_status,
  new_status     app_public.reservation_status not null,
  old_period     tstzrange,
  new_period     tstzrange not null,
  old_amount     int,
  new_amount     int not null,
  actor_user_id  bigint,
  actor_role     text not null,
  at             timestamptz not null default now()
);
alter table app_private.reservation_events enable row level security;
create index if not exists reservation_events_reservation_id_idx
  on app_private.reservation_events (reservation_id, id);
comment on table app_private.reservation_events is
  E'Audit trail: who changed which reservation how (action, before/after status, period and amount).';

--------------------------------------------------------------------------------
-- What reserve() returns.

drop type if exists app_public.reservation_receipt cascade;
create type app_public.reservation_receipt as (
  reservation  app_public.reservations,
  manage_token text
);
comment on type app_public.reservation_receipt is
  E'A new reservation, and for a guest the one-time manage token (null for signed-in drivers).';
comment on column app_public.reservation_receipt.manage_token is
  E'Guests only: the secret that, with the reservation id, reads, changes, ends or cancels it. Shown once; keep it.';

--! Included email_enqueue.sql
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
  insert into app_private.emails (template, recipient, data, dedupe_key)
  values (email_enqueue.template, email_enqueue.recipient, coalesce(email_enqueue.data, '{}'), email_enqueue.dedupe_key)
  on conflict on constraint emails_dedupe_key_key do nothing
  returning id into v_id;
  if v_id is not null then
    perform graphile_worker.add_job('send_email', json_build_object('emailId', v_id),
      max_attempts => 25, job_key => 'send_email:' || v_id);
  end if;
  return v_id;
end;
$$;
comment on function app_private.email_enqueue(text, citext, jsonb, text) is
  E'Writes an email to the outbox and queues its sending in the same transaction; returns its id, or null when dedupe_key was already used.';
--! EndIncluded email_enqueue.sql
--! Included quote.sql
-- Prices. A quote is what a window costs at a spot's rate: the metered part of
-- the window (operating hours read in the rate's time zone, so a window across
-- a DST change is priced by the time that really elapses), rounded up to the
-- billing increment, at the hourly price, never below the minimum charge when
-- any of the window is metered.

-- plpgsql rather than sql: these run once per search result row, and plpgsql
-- keeps its query plans for the life of the connection, where a non-inlined
-- sql function is planned again in every query that calls it.

create or replace function app_hidden.metered_time(rate_id int, time_window tstzrange) returns interval
  language plpgsql stable
as $$
declare
  v_time_zone text;
  v_metered interval;
begin
  if not exists (select from app_public.rate_hours h where h.rate_id = metered_time.rate_id) then
    return upper(time_window) - lower(time_window);
  end if;
  select r.time_zone into v_time_zone from app_public.rates r where r.id = metered_time.rate_id;
  select sum(upper(o.overlap) - lower(o.overlap)) into v_metered
  -- The local calendar days (dates in the rate's zone) the window touches.
  -- Dates, not timestamptz: a timestamptz day starts at midnight of the
  -- *session's* time zone and would shift every opening hour with it.
  from generate_series(0,
         (upper(time_window) at time zone v_time_zone)::date
           - (lower(time_window) at time zone v_time_zone)::date) as i(n)
  cross join lateral (select (lower(time_window) at time zone v_time_zone)::date + i.n as day) d
  join app_public.rate_hours h
    on h.rate_id = metered_time.rate_id and h.isodow = extract(isodow from d.day)
  -- `date + time` is a local timestamp; `at time zone` turns it into the real
  -- instant, DST included (24:00 is the next midnight). A local time that
  -- happens twice (01:30 when clocks fall back) reads as the later instant,
  -- right for closing; a meter opens at the earlier one: the local time an
  -- hour before, plus an hour (least(): never later than the plain reading).
  cross join lateral (
    select time_window * tstzrange(
      least((d.day + h.opens) at time zone v_time_zone,
            ((d.day + h.opens) - interval '1 hour') at time zone v_time_zone + interval '1 hour'),
      (d.day + h.closes) at time zone v_time_zone, '[)') as overlap
  ) o
  where not isempty(o.overlap);
  return coalesce(v_metered, interval '0');
end;
$$;
comment on function app_hidden.metered_time(int, tstzrange) is
  E'How much of the window falls in the rate''s metered hours (all of it for a rate metered around the clock).';

create or replace function app_hidden.quote_rate(rate_id int, time_window tstzrange) returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_rate app_public.rates;
  v_metered interval;
  v_increment numeric;
  v_amount int;
begin
  select * into v_rate from app_public.rates r where r.id = quote_rate.rate_id;
  if not found then
    return null;
  end if;
  v_metered := app_hidden.metered_time(v_rate.id, time_window);
  v_increment := extract(epoch from v_rate.billing_increment);
  v_amount := case
    when v_metered = interval '0' then 0
    else greatest(
      v_rate.minimum_charge,
      round(ceil(extract(epoch from v_metered) / v_increment) * v_increment * v_rate.hourly_price / 3600.0)::int)
  end;
  return (v_amount, v_rate.currency, v_metered)::app_public.price_quote;
end;
$$;
comment on function app_hidden.quote_rate(int, tstzrange) is
  E'The price of a window at a rate, in the rate''s minor units.';

create or replace function app_hidden.assert_window(starts_at timestamptz, ends_at timestamptz) returns tstzrange
  language plpgsql stable
as $$
begin
  if starts_at is null or ends_at is null then
    raise exception 'A window needs a start and an end' using errcode = 'SMS03';
  end if;
  if ends_at <= starts_at then
    raise exception 'The end of a window must be after its start' using errcode = 'SMS03';
  end if;
  if ends_at - starts_at > interval '7 days' then
    raise exception 'A window may last at most 7 days' using errcode = 'SMS03';
  end if;
  if starts_at > now() + interval '90 days' then
    raise exception 'A window may start at most 90 days ahead' using errcode = 'SMS03';
  end if;
  return tstzrange(starts_at, ends_at, '[)');
end;
$$;
comment on function app_hidden.assert_window(timestamptz, timestamptz) is
  E'The window [starts_at, ends_at) when it is one the product can price and book, else error SMS03.';

create or replace function app_public.quote(spot_id bigint, starts_at timestamptz, ends_at timestamptz)
  returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_rate_id int;
begin
  select s.rate_id into v_rate_id from app_public.spots s where s.id = quote.spot_id;
  if v_rate_id is null then
    raise exception 'There is no spot %', quote.spot_id using errcode = 'SMS04';
  end if;
  return app_hidden.quote_rate(v_rate_id, app_hidden.assert_window(quote.starts_at, quote.ends_at));
end;
$$;
comment on function app_public.quote(bigint, timestamptz, timestamptz) is
  E'What parking at a spot from startsAt to endsAt costs, in minor units of the spot''s currency.';
--! EndIncluded quote.sql
--! Included reservations_rules.sql
-- The booking rules' constants and the checks every booking function shares.
-- A constant lives in one immutable function so SQL, tests and README quote
-- the same number.

create or replace function app_hidden.booking_hold_time() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_hold_time() is
  E'How long a new reservation stays held without confirmed payment set-up before it expires (capped at its end).';

create or replace function app_hidden.booking_reminder_lead() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_reminder_lead() is
  E'How long before a confirmed reservation ends its driver gets a reminder.';

create or replace function app_hidden.booking_horizon() returns interval
  language sql immutable as $$ select interval '90 days' $$;
comment on function app_hidden.booking_horizon() is
  E'How far ahead a reservation may start (the same as search''s horizon).';

create or replace function app_hidden.booking_start_grace() returns interval
  language sql immutable as $$ select interval '5 minutes' $$;
comment on function app_hidden.booking_start_grace() is
  E'A start this little in the past (a slow phone, a skewed clock) is read as "now"; earlier is refused.';

create or replace function app_hidden.block_max_length() returns interval
  language sql immutable as $$ select interval '366 days' $$;
comment on function app_hidden.block_max_length() is E'Longest single operator block.';

create or replace function app_hidden.human_duration(d interval) returns text
  language sql immutable
as $$
  -- 90 minutes -> "1 h 30 min"; 2 hours -> "2 h"; days are written as hours.
  select concat_ws(' ',
    case when floor(extract(epoch from d) / 3600) > 0 then floor(extract(epoch from d) / 3600)::bigint || ' h' end,
    case when floor(extract(epoch from d) / 60)::bigint % 60 > 0 then (floor(extract(epoch from d) / 60)::bigint % 60) || ' min' end);
$$;
comment on function app_hidden.human_duration(interval) is E'A length of time in words a driver reads (h, min).';

create or replace function app_hidden.lock_spot(spot_id bigint) returns void
  language sql volatile
as $$
  -- One advisory lock per spot, held to the end of the transaction. Writers of
  -- a spot's periods queue here instead of on each other's uncommitted index
  -- entries in the exclusion constraint (which collapses throughput under
  -- contention); the constraint stays the guarantee. Key space 7340 = 'booking'.
  select pg_advisory_xact_lock(7340, (lock_spot.spot_id % 2147483647)::int);
$$;
comment on function app_hidden.lock_spot(bigint) is
  E'Serialises the writers of one spot''s reservations until the transaction ends.';

create or replace function app_hidden.booking_window(
  starts_at timestamptz, ends_at timestamptz, duration_minutes int
) returns tstzrange
  language plpgsql stable
as $$
declare
  v_start timestamptz := coalesce(booking_window.starts_at, now());
  v_end   timestamptz;
begin
  if not isfinite(v_start) then
    raise exception 'The start time is not a real date and time' using errcode = 'SMB03';
  end if;
  if v_start < now() - app_hidden.booking_start_grace() then
    raise exception 'The start time is in the past; pick a time from now on' using errcode = 'SMB03';
  end if;
  v_start := greatest(v_start, now());
  if v_start > now() + app_hidden.booking_horizon() then
    raise exception 'Reservations can start at most % days ahead',
      extract(day from app_hidden.booking_horizon()) using errcode = 'SMB05';
  end if;
  if booking_window.ends_at is not null and booking_window.duration_minutes is not null then
    raise exception 'Give an end time or a duration, not both' using errcode = 'SMB03';
  elsif booking_window.duration_minutes is not null then
    if booking_window.duration_minutes <= 0 then
      raise exception 'The duration must be at least one minute' using errcode = 'SMB03';
    end if;
    v_end := v_start + make_interval(mins => booking_window.duration_minutes);
  elsif booking_window.ends_at is not null then
    if not isfinite(booking_window.ends_at) then
      raise exception 'The end time is not a real date and time' using errcode = 'SMB03';
    end if;
    v_end := booking_window.ends_at;
  else
    raise exception 'Give an end time or a duration' using errcode = 'SMB03';
  end if;
  if v_end <= v_start then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  return tstzrange(v_start, v_end, '[)');
end;
$$;
comment on function app_hidden.booking_window(timestamptz, timestamptz, int) is
  E'The window [start, end) a reservation asks for: start defaults to now, the end is given or start + duration. Errors SMB03 (bad window) or SMB05 (beyond the horizon).';

create or replace function app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) returns void
  language plpgsql stable
as $$
begin
  if upper(time_window) - lower(time_window) > spot.max_stay then
    raise exception 'This spot can be reserved for at most %', app_hidden.human_duration(spot.max_stay)
      using errcode = 'SMB04';
  end if;
end;
$$;
comment on function app_hidden.assert_max_stay(app_public.spots, tstzrange) is
  E'Error SMB04 when the window is longer than the spot''s maximum stay.';

create or replace function app_hidden.guest_email(email text) returns citext
  language plpgsql immutable
as $$
begin
  if email is null or btrim(email) = '' then
    raise exception 'Sign in, or give an email address to reserve as a guest' using errcode = 'SMB08';
  end if;
  -- The same rule as users.email.
  if length(btrim(email)) > 254 or btrim(email) !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'That email address does not look right' using errcode = 'SMB08';
  end if;
  return btrim(email)::citext;
end;
$$;
comment on function app_hidden.guest_email(text) is E'A guest''s email, trimmed, or error SMB08.';

create or replace function app_hidden.iso_time(t timestamptz) returns text
  language sql immutable
as $$
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;
comment on function app_hidden.iso_time(timestamptz) is E'ISO 8601 in UTC, whatever the session time zone.';
--! EndIncluded reservations_rules.sql
--! Included reservations_access.sql
-- Who may act on a reservation: its signed-in owner, staff, or whoever holds
-- the guest manage token. One place decides, for every function that changes
-- or reads a single reservation.

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

create or replace function app_private.reservation_for_update(reservation_id bigint, token text) returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r  app_public.reservations;
  v_ok boolean := false;
begin
  select r.* into v_r
  from app_public.reservations r
  where r.id = reservation_for_update.reservation_id and r.kind = 'reservation'
  for update;
  if found then
    if reservation_for_update.token is not null then
      -- A token decides on its own: a guest is whoever holds it.
      v_ok := exists (
        select from app_private.reservation_secrets s
        where s.reservation_id = v_r.id
          and s.manage_token_hash = app_private.manage_token_hash(reservation_for_update.token));
    else
      -- coalesce: with nobody signed in the comparison is null, and `not null` is not true.
      v_ok := coalesce(v_r.user_id = app_public.current_user_id(), false)
              or app_hidden.current_user_is_staff();
    end if;
  end if;
  if v_ok is not true then
    -- One answer for "no such id", "not yours" and "wrong token": an id says
    -- nothing about whether it exists.
    raise exception 'We could not find that reservation for you; check its number (and, as a guest, the manage code from your booking)'
      using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_private.reservation_for_update(bigint, text) is
  E'The reservation, locked for update, when the caller owns it, is staff, or gives its manage token; else error SMB06.';
--! EndIncluded reservations_access.sql
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
) returns app_public.reservation_receipt
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
  return row(v_r, v_token)::app_public.reservation_receipt;
end;
$$;
comment on function app_public.reserve(bigint, timestamptz, timestamptz, int, text) is
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you. Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes.';
--! EndIncluded reservations_booking.sql
--! Included reservations_blocks.sql
-- Operators' maintenance blocks: rows of kind 'block' in reservations, in the
-- spot-holding status 'confirmed', so the same exclusion constraint that
-- keeps two drivers apart keeps drivers off a blocked spot (and a block off
-- a reserved one). No jobs, emails or charges are attached to a block.

create or replace function app_public.block_spot(
  spot_id bigint,
  starts_at timestamptz,
  ends_at timestamptz,
  reason text default null
) returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user  app_public.users;
  v_start timestamptz := greatest(coalesce(block_spot.starts_at, now()), now());
  v_spot  app_public.spots;
  v_r     app_public.reservations;
begin
  select u.* into v_user from app_public.users u where u.id = app_public.current_user_id();
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators can block a spot' using errcode = 'SMB10';
  end if;
  if block_spot.ends_at is null or not isfinite(block_spot.ends_at) or not isfinite(v_start)
     or block_spot.ends_at <= v_start then
    raise exception 'A block needs an end after its start, and after now' using errcode = 'SMB03';
  end if;
  if block_spot.ends_at - v_start > app_hidden.block_max_length() then
    raise exception 'A block may last at most 366 days' using errcode = 'SMB04';
  end if;
  perform app_hidden.lock_spot(block_spot.spot_id);
  select s.* into v_spot from app_public.spots s where s.id = block_spot.spot_id;
  if not found then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  end if;
  begin
    insert into app_public.reservations (kind, spot_id, user_id, email, period, status, amount, currency, note)
    values ('block', v_spot.id, v_user.id, v_user.email, tstzrange(v_start, block_spot.ends_at, '[)'),
            'confirmed', 0, (select r.currency from app_public.rates r where r.id = v_spot.rate_id),
            block_spot.reason)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'The spot is reserved during that time; cancel those reservations first'
      using errcode = 'SMB01';
  end;
  return v_r;
end;
$$;
comment on function app_public.block_spot(bigint, timestamptz, timestamptz, text) is
  E'Operators: takes a spot out of use from startsAt (default now) to endsAt. Refused (SMB01) while a reservation overlaps; no reservation can overlap it afterwards.';

create or replace function app_public.unblock_spot(block_id bigint) returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators can unblock a spot' using errcode = 'SMB10';
  end if;
  update app_public.reservations r set status = 'cancelled'
  where r.id = unblock_spot.block_id and r.kind = 'block' and r.status = 'confirmed'
  returning * into v_r;
  if not found then
    raise exception 'There is no active block %', unblock_spot.block_id using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_public.unblock_spot(bigint) is E'Operators: lifts a block; the spot can be reserved again.';
--! EndIncluded reservations_blocks.sql
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
      and r.status in ('held', 'confirmed') and upper(r.period) > now()
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
      and (r.status not in ('held', 'confirmed') or upper(r.period) <= now())
    order by upper(r.period) desc, r.id desc;
end;
$$;
comment on function app_public.my_past_reservations() is
  E'Your ended, cancelled and expired reservations, latest first.';

create or replace function app_public.guest_reservation(reservation_id bigint, token text)
  returns app_public.reservations
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = guest_reservation.reservation_id
    and exists (select from app_private.reservation_secrets s
                where s.reservation_id = r.id
                  and s.manage_token_hash = app_private.manage_token_hash(guest_reservation.token));
  if not found then
    raise exception 'We could not find that reservation for you; check its number and the manage code from your booking'
      using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_public.guest_reservation(bigint, text) is
  E'A guest''s reservation, by its id and the manage token reserve() returned.';

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
  token text default null
) returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r      app_public.reservations;
  v_spot   app_public.spots;
  v_window tstzrange;
  v_quote  app_public.price_quote;
begin
  v_r := app_private.reservation_for_update(change_reservation_end.reservation_id, change_reservation_end.token);
  if v_r.status not in ('held', 'confirmed') or upper(v_r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when v_r.status in ('held', 'confirmed') then 'over' else v_r.status::text end
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
    return v_r;
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
  return v_r;
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

create or replace function app_public.end_reservation(reservation_id bigint, token text default null)
  returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_update(end_reservation.reservation_id, end_reservation.token);
  if v_r.status not in ('held', 'confirmed') then
    raise exception 'This reservation is % and cannot be ended', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)'
      using errcode = 'SMB09';
  end if;
  return app_private.complete_reservation(v_r.id, now());
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used (never less than the rate''s minimum charge) and the spot is free again. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

create or replace function app_public.cancel_reservation(reservation_id bigint, token text default null)
  returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_update(cancel_reservation.reservation_id, cancel_reservation.token);
  if v_r.status not in ('held', 'confirmed') then
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
  return v_r;
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
  if not found or v_r.status not in ('held', 'confirmed') then
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
--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the scheduled jobs and the emails
-- of every change, in the transaction that made it. Security definer because
-- graphile_worker's and app_private's tables are the owner's alone, and the
-- writer may be any API role.

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

--------------------------------------------------------------------------------
-- Triggers (functions live in reservations_triggers.sql)

drop trigger if exists _500_audit on app_public.reservations;
create trigger _500_audit after insert or update on app_public.reservations
  for each row execute procedure app_private.tg_reservations__audit();

drop trigger if exists _600_schedule_jobs on app_public.reservations;
create trigger _600_schedule_jobs after insert or update of status, period, hold_expires_at
  on app_public.reservations
  for each row execute procedure app_private.tg_reservations__schedule_jobs();

drop trigger if exists _700_notify on app_public.reservations;
create trigger _700_notify after insert or update of status, period on app_public.reservations
  for each row execute procedure app_private.tg_reservations__notify();
