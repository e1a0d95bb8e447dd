--! Previous: sha1:8bdc5f558a0d9131cd4cf26683e780c8aeadf62b
--! Hash: sha1:e2af57885524e5ab881cb48b9b70d0a49a543f40
--! Message: removeVehicle without an id says none was given

-- removeVehicle without an id said "You have no vehicle <NULL>"; it says
-- "(none given)", as the other "no such" messages do.
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
    raise exception 'You have no vehicle %', coalesce(remove_vehicle.vehicle_id::text, '(none given)') using errcode = 'SME03';
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
