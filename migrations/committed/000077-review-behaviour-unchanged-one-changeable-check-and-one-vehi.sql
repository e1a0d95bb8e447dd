--! Previous: sha1:3d0fdc6b18a19f30dab5fa46c20b2df3e8219a1a
--! Hash: sha1:3a6ebf67fb1842aec7d131667d28ae755158e9b9
--! Message: Review, behaviour unchanged: one changeable check and one vehicle reading

-- Review of the stop's change, behaviour unchanged: "can this reservation
-- still be changed" (SMB07) and "the vehicle a booking names" (SME01) were
-- each written twice, in changeReservationEnd and setReservationVehicle, and
-- in reserve and setReservationVehicle; now app_hidden.assert_changeable and
-- app_hidden.vehicle.
--! Included vehicles_enforcement.sql
-- Vehicles and enforcement. A reservation may carry the licence plate (and
-- state) of the vehicle parked on it, given to reserve(); drivers may save
-- their vehicles. Parking officers (role `enforcement`, requests as
-- app_user: they see no customer, reservation or payment row) have one
-- power: asking whether a plate holds a valid reservation now, optionally at
-- a given spot. Every lookup is audited.

alter table app_public.users drop constraint if exists users_role_check;
alter table app_public.users add constraint users_role_check
  check (role in ('driver', 'operator', 'admin', 'analyst', 'enforcement'));

create or replace function app_hidden.plate(plate text) returns text
  language plpgsql immutable
as $$
declare
  -- Plates are compared as officers read them: upper case, without spaces,
  -- dashes or dots.
  v_plate text := upper(regexp_replace(coalesce(plate, ''), '[\s.\-]', '', 'g'));
begin
  if v_plate !~ '^[A-Z0-9]{1,10}$' then
    raise exception 'A licence plate is 1 to 10 letters and digits' using errcode = 'SME01';
  end if;
  return v_plate;
end;
$$;
comment on function app_hidden.plate(text) is E'A licence plate normalised (upper case, no spaces, dashes or dots), else error SME01.';

create or replace function app_hidden.plate_state(state text) returns text
  language plpgsql immutable
as $$
begin
  if state is null then
    return null;
  end if;
  if upper(btrim(state)) !~ '^[A-Z]{2,3}$' then
    raise exception 'A plate''s state is a 2 or 3 letter code, e.g. NY' using errcode = 'SME01';
  end if;
  return upper(btrim(state));
end;
$$;
comment on function app_hidden.plate_state(text) is E'A state or province code (2–3 letters) in upper case, null when not given, else error SME01.';

create or replace function app_hidden.vehicle(given_plate text, given_state text, out plate text, out plate_state text)
  language plpgsql immutable
as $$
begin
  -- The vehicle is optional, but a state alone names none: refused rather
  -- than silently dropped.
  if given_plate is null then
    if nullif(btrim(given_state), '') is not null then
      raise exception 'Give the plate with its state' using errcode = 'SME01';
    end if;
    return;
  end if;
  plate := app_hidden.plate(given_plate);
  plate_state := app_hidden.plate_state(given_state);
end;
$$;
comment on function app_hidden.vehicle(text, text) is
  E'The plate and state a booking names, normalised (both null when no plate is given), else error SME01 (a malformed plate or state, or a state without a plate).';

alter table app_public.reservations add column if not exists plate text check (plate ~ '^[A-Z0-9]{1,10}$');
alter table app_public.reservations add column if not exists plate_state text check (plate_state ~ '^[A-Z]{2,3}$');
comment on column app_public.reservations.plate is E'The licence plate of the vehicle parked on it (normalised), when the driver gave one.';
comment on column app_public.reservations.plate_state is E'The plate''s state or province code, e.g. NY.';
create index if not exists reservations_plate_idx on app_public.reservations (plate, period)
  where plate is not null and status in ('held', 'confirmed');

create table if not exists app_public.vehicles (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references app_public.users (id) on delete cascade,
  plate      text not null check (plate ~ '^[A-Z0-9]{1,10}$'),
  plate_state text check (plate_state ~ '^[A-Z]{2,3}$'),
  label      text check (length(label) between 1 and 50),
  created_at timestamptz not null default now(),
  constraint vehicles_user_plate_key unique nulls not distinct (user_id, plate, plate_state)
);
comment on table app_public.vehicles is E'@behavior -insert -update -delete\nA driver''s saved vehicles (their own only).';

create or replace function app_public.save_vehicle(plate text, plate_state text default null, label text default null)
  returns app_public.vehicles
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_v app_public.vehicles;
begin
  if v_user_id is null then
    raise exception 'Sign in to save a vehicle' using errcode = 'SMA08';
  end if;
  if save_vehicle.label is not null and length(btrim(save_vehicle.label)) not between 1 and 50 then
    raise exception 'A vehicle''s label is 1 to 50 characters' using errcode = 'SME01';
  end if;
  insert into app_public.vehicles as v (user_id, plate, plate_state, label)
  values (v_user_id, app_hidden.plate(save_vehicle.plate), app_hidden.plate_state(save_vehicle.plate_state),
          nullif(btrim(save_vehicle.label), ''))
  on conflict on constraint vehicles_user_plate_key do update set label = coalesce(excluded.label, v.label)
  returning * into v_v;
  return v_v;
end;
$$;
comment on function app_public.save_vehicle(text, text, text) is
  E'Signed in (SMA08): saves a vehicle on your account (saving it again changes its label). SME01 for a bad plate or state.';

create or replace function app_public.remove_vehicle(vehicle_id bigint) returns app_public.vehicles
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
  v_v app_public.vehicles;
begin
  delete from app_public.vehicles v
  where v.id = remove_vehicle.vehicle_id and v.user_id = v_user_id
  returning * into v_v;
  if v_v.id is null then
    raise exception 'You have no vehicle %', remove_vehicle.vehicle_id using errcode = 'SME03';
  end if;
  return v_v;
end;
$$;
comment on function app_public.remove_vehicle(bigint) is E'Removes one of your saved vehicles (SMA08 signed out; SME03 when it is not yours or does not exist).';

--------------------------------------------------------------------------------
-- The enforcement lookup

drop type if exists app_public.enforcement_answer cascade;
create type app_public.enforcement_answer as (
  plate text,
  plate_state text,
  spot_id bigint,
  valid boolean,
  valid_until timestamptz,
  checked_at timestamptz,
  time_zone text
);
comment on type app_public.enforcement_answer is E'Whether a plate holds a valid reservation now; nothing about who holds it.';
comment on column app_public.enforcement_answer.spot_id is E'The spot asked about, or (asked without one) the spot the valid reservation is at.';
comment on column app_public.enforcement_answer.valid is E'True while a confirmed reservation for this plate covers now, or one still held (until its hold ends, and not after another hold of the plate lapsed mid-stay in the last 24 hours).';
comment on column app_public.enforcement_answer.valid_until is E'When that reservation ends, or its hold does (null when not valid).';
comment on column app_public.enforcement_answer.time_zone is E'The spot''s time zone (its rate''s), to read valid_until on the street''s clock; null when no spot is known.';

create or replace function app_public.enforcement_lookup(plate text, plate_state text default null, spot_id bigint default null)
  returns app_public.enforcement_answer
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_role text := app_hidden.current_actor_role();
  v_plate text;
  v_state text;
  v_r app_public.reservations;
  v_now timestamptz := now();
  v_answer app_public.enforcement_answer;
begin
  if v_role is distinct from 'enforcement' and v_role is distinct from 'admin' then
    raise exception 'Only enforcement officers may look plates up' using errcode = 'SME02';
  end if;
  v_plate := app_hidden.plate(plate);
  v_state := app_hidden.plate_state(plate_state);
  -- A mistyped spot number must not read as "not valid".
  if enforcement_lookup.spot_id is not null
     and not exists (select from app_public.spots s where s.id = enforcement_lookup.spot_id) then
    raise exception 'There is no spot %', enforcement_lookup.spot_id using errcode = 'SMS04';
  end if;
  -- A held reservation counts until its hold ends: its driver has booked and
  -- is giving a card. Once a day per plate: a hold that lapsed without a card
  -- after its stay had begun (the car could have parked under it) means the
  -- next ones do not count, or booking and dropping a hold every 15 minutes
  -- would park for free. The plate alone decides that: the state is the
  -- driver's word, and changing it at each hold would start the day afresh.
  select r.* into v_r from app_public.reservations r
  -- A reservation booked without a state holds whatever state the officer reads.
  where r.plate = v_plate and (v_state is null or r.plate_state is null or r.plate_state = v_state)
    and (enforcement_lookup.spot_id is null or r.spot_id = enforcement_lookup.spot_id)
    and r.kind = 'reservation' and r.period @> v_now
    and (r.status = 'confirmed'
         or (r.status = 'held' and r.hold_expires_at > v_now
             and not exists (
               select from app_public.reservations x
               where x.plate = r.plate and x.id <> r.id
                 and x.status = 'expired' and x.updated_at > v_now - interval '24 hours'
                 and lower(x.period) < x.updated_at)))
  order by r.status = 'confirmed' desc, upper(r.period) desc
  limit 1;
  v_answer := (v_plate, v_state, coalesce(enforcement_lookup.spot_id, v_r.spot_id), v_r.id is not null,
               case when v_r.status = 'held' then least(v_r.hold_expires_at, upper(v_r.period)) else upper(v_r.period) end,
               v_now,
               -- The street's clock, to read valid_until as the signs do.
               app_hidden.spot_time_zone(coalesce(enforcement_lookup.spot_id, v_r.spot_id)))::app_public.enforcement_answer;
  perform app_private.audit_write('enforcement_lookups', v_r.id::text, 'lookup', null, to_jsonb(v_answer));
  return v_answer;
end;
$$;
comment on function app_public.enforcement_lookup(text, text, bigint) is
  E'Enforcement officers and admins (SME02 otherwise): does this plate (state optional; SME01 when malformed) hold a confirmed reservation covering now, at this spot when one is given, or one still held (card being given; valid until its hold ends, and not after another hold of the plate lapsed without a card in the last 24 hours)? Answers without personal data; every lookup is written to the audit log. SMS04 for a spot that does not exist.';
--! EndIncluded vehicles_enforcement.sql
--! Included reservations_booking.sql
-- Reserving a spot. Security definer because the row is written with a price
-- the caller must not choose and, for guests, a secret the caller must not
-- read back; API roles have no insert grant on reservations at all.

-- (Its second parameter was renamed: a verified booker's, not any account's.)
drop function if exists app_private.assert_hold_allowed(citext, bigint, inet);
create or replace function app_private.assert_hold_allowed(email citext, verified_booker_id bigint, client_ip inet) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_per_address int := app_hidden.holds_per_address();
  v_per_hour    int := app_hidden.guest_bookings_per_email_hour();
  v_held        int;
begin
  -- One script must not hold every spot in the city (a hold costs nothing for
  -- booking_hold_time) nor mail-bomb an address. Counted under a lock per email and
  -- per address, always in that order, so concurrent bookings cannot each
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('holds:email:' || lower(email::text), 0));
  perform pg_advisory_xact_lock(hashtextextended('holds:ip:' || host(client_ip), 0));
  -- Each count starts from the driver's or the email's own rows and stops at
  -- the limit; one query per case, since plpgsql's generic plan of a query
  -- covering both read every held reservation in the city at every booking.
  -- (`offset 0` keeps the deadline out of the index choice: the driver's and
  -- the email's indexes are read, never the index of every hold by deadline.)
  if assert_hold_allowed.verified_booker_id is not null then
    -- A verified driver's own holds only: holds a stranger made as a guest
    -- with the driver's address (claimed into the account at sign-in or not)
    -- must not lock the driver out. An unverified account is counted by its
    -- email, as a guest is: nobody has proved the address is theirs.
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.verified_booker_id = assert_hold_allowed.verified_booker_id offset 0) h
      where h.hold_expires_at > now()) held;
  else
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.email = assert_hold_allowed.email offset 0) h
      where h.hold_expires_at > now()) held;
    -- Holds come and go (cancelled at once, each with two emails): guests are
    -- also bounded by how many reservations their email was given this hour.
    if (select count(*) from (
          select from app_public.reservations r
          where r.user_id is null and r.email = assert_hold_allowed.email and r.created_at > now() - interval '1 hour'
          limit v_per_hour) made) >= v_per_hour then
      raise exception 'Too many guest reservations for this email in the last hour (at most %): try again later, or sign in to a verified account',
        v_per_hour using errcode = 'SMB12';
    end if;
  end if;
  if v_held >= app_hidden.holds_per_driver()
     or (select count(*) from (
          select from app_private.reservation_origins o
          where o.client_ip = assert_hold_allowed.client_ip
            -- A scalar subquery, never turned into a join: one key look-up per row of this address.
            and (select r.status = 'held' and r.hold_expires_at > now()
                 from app_public.reservations r where r.id = o.reservation_id) is true
          limit v_per_address) held) >= v_per_address then
    raise exception 'Too many reservations waiting for a card: finish or cancel one first (at most % per email or account, and a limit per network address)',
      app_hidden.holds_per_driver() using errcode = 'SMB12';
  end if;
end;
$$;
comment on function app_private.assert_hold_allowed(citext, bigint, inet) is
  E'Error SMB12 when one more hold would give a verified driver (the holds they booked themselves; pass null for a guest or an unverified account, counted by email) or an email more than holds_per_driver (3) active holds (held, not yet expired), a client address more than holds_per_address (the server''s HOLDS_PER_ADDRESS, 10 by default), or a guest email more than guest_bookings_per_email_hour (10) reservations in the last hour.';

create or replace function app_public.reserve(
  spot_id bigint,
  starts_at timestamptz default null,
  ends_at timestamptz default null,
  duration_minutes int default null,
  email text default null,
  plate text default null,
  plate_state text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_email   citext;
  v_window  tstzrange;
  v_spot    app_public.spots;
  v_rate    app_public.rates;
  v_hours   app_public.rate_hours[];
  v_terms   jsonb;
  v_quote   app_public.price_quote;
  v_token   text;
  v_unpaid  bigint;
  -- The account, when its email is verified: only then does it answer for
  -- what it books (SMB13, its own hold count).
  v_booker  bigint;
  v_r       app_public.reservations;
  v_ip      inet := app_hidden.client_ip();
  v_plate   text;
  v_state   text;
begin
  -- The vehicle is optional; a malformed one is refused (SME01) before anything is written.
  select v.plate, v.plate_state into v_plate, v_state from app_hidden.vehicle(reserve.plate, reserve.plate_state) v;
  if v_user_id is not null then
    -- A signed-in driver's reservation goes to their account's address.
    select u.email, case when u.is_verified then u.id end into v_email, v_booker from app_public.users u where u.id = v_user_id;
    -- A driver whose charge failed books nothing more until it is paid: a
    -- card that sets up but never pays would otherwise park for free forever.
    -- Only what the driver booked with the address proved counts: anyone can
    -- book as a guest with someone's email (claimed at their sign-in), or
    -- sign up with it before its owner does.
    select min(r.id) into v_unpaid from app_public.reservations r where r.verified_booker_id = v_booker and r.status = 'payment_failed';
    if v_unpaid is not null then
      raise exception 'You have an unpaid reservation (#%): pay it with another card first', v_unpaid using errcode = 'SMB13';
    end if;
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
  perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_user_id, v_email, null, v_plate, v_state);
  -- The rate's terms as they are now: this quote and every later re-pricing of
  -- the reservation (ended early, moved end) come from this copy, so a rate
  -- changed afterwards never changes what this driver was promised.
  select r.* into v_rate from app_public.rates r where r.id = v_spot.rate_id;
  v_hours := array(select h from app_public.rate_hours h where h.rate_id = v_rate.id);
  v_quote := app_hidden.quote_of(v_rate, v_hours, v_window);
  v_terms := app_hidden.rate_terms_of(v_rate, v_hours);
  -- Bookings through the API carry the client's address (every mutation does:
  -- server/request_identity.ts) and are bounded; SQL run by the owner (tests,
  -- maintenance, the CLI) has no client and is not.
  if v_ip is not null then
    perform app_private.assert_hold_allowed(v_email, v_booker, v_ip);
  end if;

  begin
    insert into app_public.reservations (spot_id, user_id, verified_booker_id, email, period, status, amount, currency,
                                         hold_expires_at, plate, plate_state, rate_terms)
    values (v_spot.id, v_user_id, v_booker, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
            least(now() + app_hidden.booking_hold_time(), upper(v_window)), v_plate, v_state, v_terms)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, this spot is already taken for part of that time' using errcode = 'SMB01';
  end;

  if v_ip is not null then
    insert into app_private.reservation_origins (reservation_id, client_ip) values (v_r.id, v_ip);
  end if;
  if v_user_id is null then
    v_token := app_private.new_manage_token();
    insert into app_private.reservation_secrets (reservation_id, manage_token_hash)
    values (v_r.id, app_private.manage_token_hash(v_token));
  end if;
  return row(v_r, v_token)::app_public.reservation_result;
end;
$$;
comment on function app_public.reserve(bigint, timestamptz, timestamptz, int, text, text, text) is
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you (email is not used: the account''s address is), refused while a reservation you booked with your email verified is unpaid (SMB13). Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes. plate and plateState (optional) name the vehicle parked on it, for enforcement (SME01 when malformed). At most 3 holds at once per email or account and 10 per client address, and 10 guest reservations an hour per email (SMB12).';
--! EndIncluded reservations_booking.sql
--! Included reservations_lifecycle.sql
-- A reservation's life after it is made: change its end, end it now, cancel
-- it, confirm its payment set-up, and what the scheduled jobs do at its hold
-- deadline, before its end and at its end. States:
--   held -> confirmed -> completed (-> payment_failed, by the payments code)
--   held -> expired (hold deadline passed, or its end came while still held)
--   held | confirmed -> cancelled (before the start, free of charge)

create or replace function app_hidden.assert_changeable(r app_public.reservations) returns void
  language plpgsql stable
as $$
begin
  if not app_hidden.holds_spot(r.status) or upper(r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when app_hidden.holds_spot(r.status) then 'over' else r.status::text end
      using errcode = 'SMB07';
  end if;
end;
$$;
comment on function app_hidden.assert_changeable(app_public.reservations) is
  E'Error SMB07 unless the reservation still holds its spot (held or confirmed) and is not over: what may have its end or its vehicle changed.';

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
  perform app_hidden.assert_changeable(v_r);
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
  perform app_hidden.assert_changeable(v_r);
  select v.plate, v.plate_state into v_plate, v_state
  from app_hidden.vehicle(set_reservation_vehicle.plate, set_reservation_vehicle.plate_state) v;
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
