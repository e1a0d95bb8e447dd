--! Previous: sha1:35a7e889a70ba2f0a38ec2262eb6ede6de9cbc48
--! Hash: sha1:cefebd991b15bab56c4cfdb693869aa3258c115c
--! Message: One zone per spelling; lower-case currency refused saying so; SMC02 names a deleted customer

-- Client developer's review:
-- - setOperatorZones stored "Queens" and " queens " as two zones, though
--   zones compare without case: one zone now, kept as first written.
-- - A currency in lower case is refused saying so, not as one that cannot be charged.
--! Included spots_admin.sql
-- Operators' inventory work: zones (boroughs) an operator may act in, and
-- creating and editing spots and rates. The spot and rate functions are
-- security invoker: they write as the request's role (app_operator), so the
-- zone rule is row level security on spots and rates (table_access.sql), not
-- just a check in the function. An operator with no zone rows acts
-- everywhere (as before zones existed); with zone rows, only there. Admins
-- act everywhere.

create table if not exists app_public.operator_zones (
  user_id bigint not null references app_public.users (id) on delete cascade,
  borough text not null check (length(borough) between 1 and 50),
  primary key (user_id, borough)
);
comment on table app_public.operator_zones is
  E'@behavior -insert -update -delete\nThe boroughs an operator may act in (no rows: everywhere). Set by admins with setOperatorZones.';

drop trigger if exists _900_audit on app_public.operator_zones;
create trigger _900_audit after insert or delete on app_public.operator_zones
  for each row execute function app_private.tg__audit('operator_zones', 'user_id');

create or replace function app_hidden.current_user_may_manage(borough text) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce((
    select case
      when u.role = 'admin' then true
      when u.role = 'operator' then
        not exists (select from app_public.operator_zones z where z.user_id = u.id)
        or exists (select from app_public.operator_zones z
                   -- Boroughs are free text: "brooklyn" is in a Brooklyn zone.
                   where z.user_id = u.id and lower(z.borough) = lower(btrim(current_user_may_manage.borough)))
      else false
    end
    from app_public.users u where u.id = app_public.current_user_id()), false);
$$;
comment on function app_hidden.current_user_may_manage(text) is
  E'True when the signed-in user may act on spots in this borough: admins always, operators without zones always, operators with zones in theirs.';

create or replace function app_hidden.current_user_may_manage_rate(rate_id int) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A rate is shared by spots: changing it changes their prices, so an
  -- operator may change only a rate whose spots are all in their zones.
  select app_hidden.current_user_is_staff()
     and not exists (select from app_public.spots s
                     where s.rate_id = current_user_may_manage_rate.rate_id
                       and not app_hidden.current_user_may_manage(s.borough));
$$;
comment on function app_hidden.current_user_may_manage_rate(int) is
  E'True when the signed-in staff member may change this rate: every spot using it is in their zones.';

create or replace function app_hidden.assert_manages_spot(spot_id bigint) returns app_public.spots
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_s app_public.spots;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage spots' using errcode = 'SMO01';
  end if;
  select s.* into v_s from app_public.spots s where s.id = assert_manages_spot.spot_id;
  if v_s.id is null then
    raise exception 'There is no spot %', coalesce(assert_manages_spot.spot_id::text, '(none given)') using errcode = 'SMO03';
  end if;
  if not app_hidden.current_user_may_manage(v_s.borough) then
    raise exception 'Spot % is outside your zones', assert_manages_spot.spot_id using errcode = 'SMO02';
  end if;
  return v_s;
end;
$$;
comment on function app_hidden.assert_manages_spot(bigint) is
  E'The spot, when the current user may act on it; else SMO01 (not staff), SMO03 (no such spot) or SMO02 (outside their zones).';

create or replace function app_public.set_operator_zones(user_id bigint, boroughs text[]) returns setof app_public.operator_zones
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_hidden.assert_admin();
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id) then
    raise exception 'There is no user %', coalesce(set_operator_zones.user_id::text, '(none given)') using errcode = 'SMA17';
  end if;
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id and u.role = 'operator') then
    raise exception 'User % is not an operator', coalesce(set_operator_zones.user_id::text, '(none given)') using errcode = 'SMO04';
  end if;
  -- An empty list means everywhere: a list left out must not mean it too, or
  -- a forgotten argument would widen an operator's reach.
  if boroughs is null then
    raise exception 'Give the boroughs (an empty list: everywhere)' using errcode = 'SMO10';
  end if;
  -- (A borough with no spot yet is allowed: zones may be set up before the spots.)
  if exists (select from unnest(boroughs) b where length(btrim(b)) not between 1 and 100 or b is null) then
    raise exception 'Each borough is named, in 1 to 100 characters' using errcode = 'SMO10';
  end if;
  -- Boroughs compare without case or surrounding spaces (current_user_may_manage):
  -- "Queens" and " queens " are one zone, kept as first written.
  delete from app_public.operator_zones z
  where z.user_id = set_operator_zones.user_id
    and lower(z.borough) <> all (array(select lower(btrim(b)) from unnest(boroughs) b));
  insert into app_public.operator_zones (user_id, borough)
  select distinct on (lower(btrim(b))) set_operator_zones.user_id, btrim(b)
  from unnest(boroughs) with ordinality as given(b, n)
  where not exists (select from app_public.operator_zones z
                    where z.user_id = set_operator_zones.user_id and lower(z.borough) = lower(btrim(b)))
  order by lower(btrim(b)), n
  on conflict do nothing;
  return query select z.* from app_public.operator_zones z where z.user_id = set_operator_zones.user_id order by z.borough;
end;
$$;
comment on function app_public.set_operator_zones(bigint, text[]) is
  E'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMA17 when there is no such user, SMO04 when the user is not an operator, SMO10 when the list is left out or a borough is blank.';

--------------------------------------------------------------------------------
-- Spots

create or replace function app_hidden.spot_position(lat double precision, lng double precision) returns geography
  language plpgsql immutable
as $$
begin
  if lat is null or lng is null or lat not between -90 and 90 or lng not between -180 and 180 then
    raise exception 'Coordinates must be latitude -90…90 and longitude -180…180' using errcode = 'SMS01';
  end if;
  return st_setsrid(st_makepoint(lng, lat), 4326)::geography;
end;
$$;
comment on function app_hidden.spot_position(double precision, double precision) is E'A WGS 84 point, or error SMS01 off the globe.';

create or replace function app_hidden.spot_street(street text) returns text
  language plpgsql immutable
as $$
begin
  -- Blank, a spot has no name on the map or in the list (updateSpot took '   ').
  if length(btrim(street)) between 1 and 200 then
    return btrim(street);
  end if;
  raise exception 'A spot needs its street, 1 to 200 characters' using errcode = 'SMO11';
end;
$$;
comment on function app_hidden.spot_street(text) is E'A spot''s street, trimmed, or error SMO11 when missing, blank or over 200 characters.';

create or replace function app_hidden.spot_max_stay(minutes int) returns interval
  language plpgsql immutable
as $$
begin
  if minutes is null or minutes < 1 or make_interval(mins => minutes) > app_hidden.max_stay() then
    raise exception 'A maximum stay is 1 minute to % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMO05';
  end if;
  return make_interval(mins => minutes);
end;
$$;
comment on function app_hidden.spot_max_stay(int) is
  E'A maximum stay of 1 minute to app_hidden.max_stay() (7 days), else error SMO05.';

create or replace function app_public.create_spot(
  lat double precision, lng double precision, street text, rate_id int,
  borough text default null, zone text default null, side_of_street text default null,
  from_street text default null, to_street text default null, max_stay_minutes int default 120,
  is_accessible boolean default false, has_ev_charger boolean default false
) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage spots' using errcode = 'SMO01';
  end if;
  if not app_hidden.current_user_may_manage(create_spot.borough) then
    raise exception 'Borough % is outside your zones', coalesce(create_spot.borough, '(none)') using errcode = 'SMO02';
  end if;
  if not exists (select from app_public.rates r where r.id = create_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(create_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.spot_position(lat, lng), app_hidden.spot_street(street), rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.create_spot(double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO05 bad maximum stay, SMO11 no street (1 to 200 characters), SMS01 bad coordinates.';

create or replace function app_public.update_spot(
  spot_id bigint, lat double precision default null, lng double precision default null, street text default null,
  rate_id int default null, borough text default null, zone text default null, side_of_street text default null,
  from_street text default null, to_street text default null, max_stay_minutes int default null,
  is_accessible boolean default null, has_ev_charger boolean default null
) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if update_spot.borough is not null and not app_hidden.current_user_may_manage(update_spot.borough) then
    raise exception 'Borough % is outside your zones', update_spot.borough using errcode = 'SMO02';
  end if;
  if update_spot.rate_id is not null and not exists (select from app_public.rates r where r.id = update_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(update_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.spot_position(lat, lng) end,
    street = case when update_spot.street is null then s.street else app_hidden.spot_street(update_spot.street) end,
    rate_id = coalesce(update_spot.rate_id, s.rate_id),
    borough = coalesce(update_spot.borough, s.borough),
    zone = coalesce(update_spot.zone, s.zone),
    side_of_street = coalesce(update_spot.side_of_street, s.side_of_street),
    from_street = coalesce(update_spot.from_street, s.from_street),
    to_street = coalesce(update_spot.to_street, s.to_street),
    max_stay = case when max_stay_minutes is null then s.max_stay else app_hidden.spot_max_stay(max_stay_minutes) end,
    is_accessible = coalesce(update_spot.is_accessible, s.is_accessible),
    has_ev_charger = coalesce(update_spot.has_ev_charger, s.has_ev_charger)
  where s.id = v_s.id
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.update_spot(bigint, double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation, SMO11 a blank or over-long street.';

create or replace function app_public.spot_affected_reservations(spot_id bigint) returns setof app_public.reservations
  language plpgsql stable
as $$
begin
  perform app_hidden.assert_manages_spot(spot_id);
  return query
  select r.* from app_public.reservations r
  where r.spot_id = spot_affected_reservations.spot_id and r.kind = 'reservation'
    and r.status in ('held', 'confirmed') and upper(r.period) > now()
  order by lower(r.period);
end;
$$;
comment on function app_public.spot_affected_reservations(bigint) is
  E'Operators in the spot''s zone and admins: the held or confirmed reservations not yet over on this spot — the ones taking it out of service affects.';

create or replace function app_public.set_spot_status(spot_id bigint, status text) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if set_spot_status.status is null or set_spot_status.status not in ('active', 'out_of_service') then
    raise exception 'A spot is active or out_of_service' using errcode = 'SMO07';
  end if;
  -- Reservations already made are kept and honoured (listed by
  -- spotAffectedReservations): the spot only stops taking new ones. An
  -- operator who cannot honour one cancels it with cancelReservation.
  update app_public.spots s set status = set_spot_status.status where s.id = v_s.id returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.set_spot_status(bigint, text) is
  E'Operators in the spot''s zone and admins: takes a spot out of service (no new reservations; existing ones are kept — see spotAffectedReservations) or back into service. SMO07 for another status.';

--------------------------------------------------------------------------------
-- Rates

create or replace function app_hidden.rate_increment(minutes int) returns interval
  language plpgsql immutable
as $$
begin
  if minutes is null or minutes not between 1 and 60 then
    raise exception 'A billing increment is 1 to 60 minutes' using errcode = 'SMO08';
  end if;
  return make_interval(mins => minutes);
end;
$$;
comment on function app_hidden.rate_increment(int) is E'A billing increment of 1 to 60 minutes, else error SMO08.';

create or replace function app_hidden.rate_price_max() returns int
  language sql immutable as $$
  -- 7 days (the longest stay) at this an hour is 84,000,000, under Stripe's
  -- 99,999,999 a charge: every quote stays chargeable (rates_price_bounds).
  select 500000
$$;
comment on function app_hidden.rate_price_max() is
  E'The most a rate''s hourly price or minimum charge may be, in minor units (500,000): every quote stays chargeable.';

create or replace function app_hidden.assert_rate_money(hourly_price int, minimum_charge int, currency text) returns void
  language plpgsql stable
as $$
begin
  if hourly_price is null or hourly_price not between 0 and app_hidden.rate_price_max()
     or minimum_charge is null or minimum_charge not between 0 and app_hidden.rate_price_max() then
    raise exception 'Prices are whole minor units from 0 to %', app_hidden.rate_price_max() using errcode = 'SMO08';
  end if;
  if not exists (select from app_hidden.payment_minimums m where m.currency = assert_rate_money.currency) then
    if exists (select from app_hidden.payment_minimums m where m.currency = upper(assert_rate_money.currency)) then
      raise exception 'Write the currency in capitals: % rather than %', upper(currency), currency using errcode = 'SMO08';
    end if;
    raise exception 'Currency % cannot be charged', currency using errcode = 'SMO08';
  end if;
end;
$$;
comment on function app_hidden.assert_rate_money(int, int, text) is E'Error SMO08 unless the hourly price and the minimum charge are 0 to rate_price_max (500,000) minor units and the currency is chargeable.';

create or replace function app_public.create_rate(
  code text, name text, hourly_price int, currency text default 'USD', billing_increment_minutes int default 1,
  minimum_charge int default 0, time_zone text default 'America/New_York'
) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage rates' using errcode = 'SMO01';
  end if;
  perform app_hidden.assert_rate_money(hourly_price, minimum_charge, currency);
  if code is null or length(btrim(code)) not between 1 and 50 or name is null or length(btrim(name)) not between 1 and 100 then
    raise exception 'A rate needs a code (1 to 50 characters) and a name (1 to 100)' using errcode = 'SMO08';
  end if;
  if not exists (select from pg_timezone_names t where t.name = create_rate.time_zone) then
    raise exception 'Unknown time zone %: use an IANA name such as America/New_York', coalesce(create_rate.time_zone, 'null')
      using errcode = 'SMO08';
  end if;
  begin
    insert into app_public.rates (code, name, hourly_price, currency, billing_increment, minimum_charge, time_zone)
    values (btrim(code), btrim(name), hourly_price, currency, app_hidden.rate_increment(billing_increment_minutes),
            minimum_charge, time_zone)
    returning * into v_r;
  exception when unique_violation then
    raise exception 'Rate code % is taken', code using errcode = 'SMO09';
  end;
  return v_r;
end;
$$;
comment on function app_public.create_rate(text, text, int, text, int, int, text) is
  E'Operators and admins: a new rate metered around the clock (setRateHours limits it). SMO08 bad values, SMO09 code taken.';

create or replace function app_hidden.assert_manages_rate(rate_id int) returns app_public.rates
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.rates;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage rates' using errcode = 'SMO01';
  end if;
  select r.* into v_r from app_public.rates r where r.id = assert_manages_rate.rate_id;
  if v_r.id is null then
    raise exception 'There is no rate %', coalesce(assert_manages_rate.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  if not app_hidden.current_user_may_manage_rate(v_r.id) then
    raise exception 'Rate % is used by spots outside your zones', assert_manages_rate.rate_id using errcode = 'SMO02';
  end if;
  return v_r;
end;
$$;
comment on function app_hidden.assert_manages_rate(int) is
  E'The rate, when the current user may change it; else SMO01 (not staff), SMO06 (no such rate) or SMO02 (used outside their zones).';

create or replace function app_public.update_rate(
  rate_id int, name text default null, hourly_price int default null, billing_increment_minutes int default null,
  minimum_charge int default null
) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  perform app_hidden.assert_rate_money(coalesce(hourly_price, v_r.hourly_price),
                                       coalesce(minimum_charge, v_r.minimum_charge), v_r.currency);
  -- The same rule as create_rate's (a blank name was silently kept as it was).
  if update_rate.name is not null and length(btrim(update_rate.name)) not between 1 and 100 then
    raise exception 'A rate''s name is 1 to 100 characters' using errcode = 'SMO08';
  end if;
  update app_public.rates r set
    name = coalesce(btrim(update_rate.name), r.name),
    hourly_price = coalesce(update_rate.hourly_price, r.hourly_price),
    billing_increment = case when billing_increment_minutes is null then r.billing_increment
                             else app_hidden.rate_increment(billing_increment_minutes) end,
    minimum_charge = coalesce(update_rate.minimum_charge, r.minimum_charge)
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;
comment on function app_public.update_rate(int, text, int, int, int) is
  E'Operators whose zones hold every spot on the rate, and admins: changes its name or prices (null: unchanged; SMO08 as createRate for a bad value). New quotes use it; reservations keep the price they were quoted.';

create or replace function app_hidden.is_clock_time(value text) returns boolean
  language sql immutable
as $$
  select value ~ '^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?|24:00(:00(\.0{1,6})?)?)$';
$$;
comment on function app_hidden.is_clock_time(text) is
  E'Whether a text is a time of day as hours are written: HH:MM, HH:MM:SS or HH:MM:SS.ffffff, from 00:00 to 24:00.';

create or replace function app_public.set_rate_hours(rate_id int, hours jsonb) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  if hours is null or jsonb_typeof(hours) <> 'array' or exists (
    select from jsonb_array_elements(hours) h
    where jsonb_typeof(h -> 'isodow') is distinct from 'number' or (h ->> 'isodow')::numeric not in (1, 2, 3, 4, 5, 6, 7)
       -- HH:MM, or as rateHours reads them back (HH:MM:SS.ffffff); 24:00 is the end of the day.
       -- (is not true: a time left out is null, and a null here let the row through.)
       or app_hidden.is_clock_time(h ->> 'opens') is not true or app_hidden.is_clock_time(h ->> 'closes') is not true
       or (h ->> 'opens')::time >= (h ->> 'closes')::time) then
    raise exception 'Hours are [{isodow: 1..7, opens: "HH:MM", closes: "HH:MM"}] with opens before closes' using errcode = 'SMO08';
  end if;
  delete from app_public.rate_hours h where h.rate_id = v_r.id;
  begin
    insert into app_public.rate_hours (rate_id, isodow, opens, closes)
    select v_r.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
    from jsonb_array_elements(hours) h;
  exception when exclusion_violation or unique_violation then
    -- Overlapping windows would meter the same time twice.
    raise exception 'Metered hours of one day must not overlap' using errcode = 'SMO08';
  end;
  return v_r;
end;
$$;
comment on function app_public.set_rate_hours(int, jsonb) is
  E'Operators as for updateRate, and admins: the rate''s metered hours, replacing the old ones (empty list: metered around the clock). Example: [{"isodow": 1, "opens": "09:00", "closes": "19:00"}].';

-- Operators write spots, rates and rate hours through the functions above
-- (granted columns, table_access.sql); the tables' generated create/update/
-- delete mutations stay hidden so there is one way to write each.
comment on table app_public.spots is E'@behavior -insert -update -delete\nOne on-street parking space (a meter position).';
comment on table app_public.rates is E'@behavior -insert -update -delete\nA meter tariff: price per hour in minor units, billed per increment, metered during its hours.';
comment on table app_public.rate_hours is E'@behavior -insert -update -delete\nMetered hours of a rate, per ISO weekday (1 = Monday). A rate without rows is metered around the clock; outside these hours parking is free.';
--! EndIncluded spots_admin.sql
-- - A soft-deleted customer's email answered SMC02 with no way to find the
--   customer (it is in no list): the message now names it, to restore.
--! Included customers.sql
-- Customers: staff's record of everyone who books, accounts and guest emails
-- alike, one row per email. Drivers' accounts and guests' first reservations
-- add their row by trigger; staff create, edit, annotate, soft delete and
-- restore them through the functions below (security definer, staff only:
-- the API roles have no write grant). A soft-deleted customer is invisible to
-- every list and search (row level security) but keeps its reservations and
-- its audit rows.

create extension if not exists pg_trgm with schema public;

create table if not exists app_public.customers (
  id          bigint generated always as identity primary key,
  email       citext not null unique check (length(email) <= 254),
  name        text check (length(name) between 1 and 100),
  surname     text check (length(surname) between 1 and 100),
  user_id     bigint unique references app_public.users (id) on delete set null,
  deleted_at  timestamptz,
  created_by  bigint references app_public.users (id) on delete set null,
  updated_by  bigint references app_public.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  -- What search matches against: lower-case name, surname and email.
  search_text text not null generated always as (
    lower(coalesce(name, '') || ' ' || coalesce(surname, '') || ' ' || email::text)) stored
);
create index if not exists customers_search_trgm on app_public.customers using gin (search_text gin_trgm_ops);
create index if not exists customers_surname_idx on app_public.customers (surname, name, id);
comment on table app_public.customers is
  E'@behavior -insert -update -delete\nA customer: an account or a guest email, with the name staff know them by. Staff only; soft-deleted ones are hidden everywhere but the audit log.';
comment on column app_public.customers.user_id is E'The customer''s account, when they have one (null: a guest email).';
comment on column app_public.customers.deleted_at is E'@behavior -*\nSoft deletion: set, the row is hidden from staff.';
comment on column app_public.customers.created_by is E'The staff member who created the record (null: made by a booking or sign-up). Set by trigger.';
comment on column app_public.customers.updated_by is E'The staff member who last changed it. Set by trigger.';
comment on column app_public.customers.search_text is E'@behavior -*';

create table if not exists app_public.customer_notes (
  id          bigint generated always as identity primary key,
  customer_id bigint not null references app_public.customers (id) on delete cascade,
  body        text not null check (length(body) between 1 and 2000),
  created_by  bigint references app_public.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index if not exists customer_notes_customer_idx on app_public.customer_notes (customer_id, created_at);
comment on table app_public.customer_notes is E'@behavior -insert -update -delete\nStaff notes on a customer, newest last.';

create or replace function app_private.tg__staff_stamps() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- From the session, never from the client; only staff requests (they run
  -- as app_operator) stamp a name: a row a booking or sign-up adds has none.
  v_staff bigint := case when current_setting('role', true) = 'app_operator' then app_public.current_user_id() end;
begin
  if tg_op = 'INSERT' then
    new.created_by := v_staff;
  else
    new.created_by := old.created_by;
    if to_jsonb(new) ? 'updated_by' then
      new := jsonb_populate_record(new, jsonb_build_object('updated_by', v_staff));
    end if;
  end if;
  return new;
end;
$$;
comment on function app_private.tg__staff_stamps() is
  E'BEFORE trigger: created_by (insert) and updated_by (update, when the table has it) from the current session when it is staff''s, else null.';

drop trigger if exists _100_timestamps on app_public.customers;
create trigger _100_timestamps before insert or update on app_public.customers
  for each row execute function app_private.tg__timestamps();
drop trigger if exists _110_staff_stamps on app_public.customers;
create trigger _110_staff_stamps before insert or update on app_public.customers
  for each row execute function app_private.tg__staff_stamps();
drop trigger if exists _100_timestamps on app_public.customer_notes;
create trigger _100_timestamps before insert or update on app_public.customer_notes
  for each row execute function app_private.tg__timestamps();
drop trigger if exists _110_staff_stamps on app_public.customer_notes;
create trigger _110_staff_stamps before insert or update on app_public.customer_notes
  for each row execute function app_private.tg__staff_stamps();
drop trigger if exists _900_audit on app_public.customers;
create trigger _900_audit after insert or update or delete on app_public.customers
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.customer_notes;
create trigger _900_audit after insert or update or delete on app_public.customer_notes
  for each row execute function app_private.tg__audit();

--------------------------------------------------------------------------------
-- Everyone who books becomes a customer: accounts when made, guest emails at
-- their first reservation.

create or replace function app_private.tg__customer_from_booker() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_table_name = 'users' then
    insert into app_public.customers (email, name, user_id)
    values (new.email, new.name, new.id)
    on conflict (email) do update set user_id = excluded.user_id
      where app_public.customers.user_id is null;
  else
    insert into app_public.customers (email) values (new.email) on conflict (email) do nothing;
  end if;
  return null;
end;
$$;
comment on function app_private.tg__customer_from_booker() is
  E'AFTER INSERT trigger on users (drivers) and reservations: makes sure the account or guest email has a customer row (a soft-deleted one stays deleted).';

drop trigger if exists _800_customer on app_public.users;
create trigger _800_customer after insert on app_public.users
  for each row when (new.role = 'driver') execute function app_private.tg__customer_from_booker();
drop trigger if exists _800_customer on app_public.reservations;
create trigger _800_customer after insert on app_public.reservations
  for each row when (new.kind = 'reservation' and new.user_id is null)
  execute function app_private.tg__customer_from_booker();

-- Everyone who booked before customers existed.
insert into app_public.customers (email, name, user_id)
select u.email, u.name, u.id from app_public.users u where u.role = 'driver'
on conflict (email) do nothing;
insert into app_public.customers (email)
select distinct r.email from app_public.reservations r where r.kind = 'reservation' and r.user_id is null
on conflict (email) do nothing;

--------------------------------------------------------------------------------
-- Staff operations

create or replace function app_hidden.assert_staff() returns bigint
  language plpgsql stable
as $$
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins may manage customers' using errcode = 'SMC01';
  end if;
  return app_public.current_user_id();
end;
$$;
comment on function app_hidden.assert_staff() is E'The current user''s id when an operator or admin, else error SMC01.';

create or replace function app_hidden.customer_live(customer_id bigint) returns app_public.customers
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  select c.* into v_c from app_public.customers c where c.id = customer_live.customer_id and c.deleted_at is null;
  if v_c.id is null then
    raise exception 'There is no customer %', coalesce(customer_live.customer_id::text, '(none given)') using errcode = 'SMC03';
  end if;
  return v_c;
end;
$$;
comment on function app_hidden.customer_live(bigint) is E'The customer when it exists and is not deleted, else error SMC03.';

create or replace function app_hidden.customer_name(value text) returns text
  language plpgsql immutable
as $$
begin
  if value is null or value ~ '[[:cntrl:]]' or length(btrim(value)) not between 1 and 100 then
    raise exception 'A customer needs a name and a surname of 1 to 100 characters' using errcode = 'SMC04';
  end if;
  return btrim(value);
end;
$$;
comment on function app_hidden.customer_name(text) is E'A trimmed name or surname of 1–100 characters without control characters, else error SMC04.';

create or replace function app_hidden.raise_customer_email_taken(email text) returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_deleted bigint;
begin
  -- A soft-deleted customer keeps its email but shows in no list or search:
  -- staff need its number to restore it rather than a dead end.
  select c.id into v_deleted from app_public.customers c
  where c.email = raise_customer_email_taken.email::citext and c.deleted_at is not null;
  if v_deleted is not null then
    raise exception 'Deleted customer % has this email: restore it (restoreCustomer) instead', v_deleted
      using errcode = 'SMC02';
  end if;
  raise exception 'A customer with this email already exists' using errcode = 'SMC02';
end;
$$;
comment on function app_hidden.raise_customer_email_taken(text) is
  E'Raises SMC02 for an email another customer has, naming the customer when it is a deleted one (to restore).';

create or replace function app_public.create_customer(email text, name text, surname text) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  begin
    insert into app_public.customers (email, name, surname)
    values (app_hidden.assert_email(email), app_hidden.customer_name(name), app_hidden.customer_name(surname))
    returning * into v_c;
  exception when unique_violation then
    perform app_hidden.raise_customer_email_taken(email);
  end;
  return v_c;
end;
$$;
comment on function app_public.create_customer(text, text, text) is
  E'Staff (SMC01): a new customer record with a unique email (SMC02; SMA03 when not an email) and a name and surname (SMC04).';

create or replace function app_public.update_customer(
  customer_id bigint, email text default null, name text default null, surname text default null
) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  begin
    update app_public.customers c
    set email = case when update_customer.email is null then c.email else app_hidden.assert_email(update_customer.email) end,
        name = case when update_customer.name is null then c.name else app_hidden.customer_name(update_customer.name) end,
        surname = case when update_customer.surname is null then c.surname else app_hidden.customer_name(update_customer.surname) end
    where c.id = v_c.id
    returning * into v_c;
  exception when unique_violation then
    perform app_hidden.raise_customer_email_taken(update_customer.email);
  end;
  return v_c;
end;
$$;
comment on function app_public.update_customer(bigint, text, text, text) is
  E'Staff (SMC01): changes a customer''s email, name or surname (null: unchanged). SMC03 unknown or deleted, SMC02 email taken, SMC04 bad name.';

create or replace function app_public.delete_customer(customer_id bigint) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  update app_public.customers c set deleted_at = now() where c.id = v_c.id returning * into v_c;
  return v_c;
end;
$$;
comment on function app_public.delete_customer(bigint) is
  E'Staff (SMC01): soft-deletes a customer: gone from every list and search, kept with its reservations and audit rows; restoreCustomer brings it back. SMC03 unknown or already deleted.';

create or replace function app_public.restore_customer(customer_id bigint) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  update app_public.customers c set deleted_at = null
  where c.id = restore_customer.customer_id and c.deleted_at is not null
  returning * into v_c;
  if v_c.id is null then
    raise exception 'There is no deleted customer %', coalesce(restore_customer.customer_id::text, '(none given)') using errcode = 'SMC03';
  end if;
  return v_c;
end;
$$;
comment on function app_public.restore_customer(bigint) is
  E'Staff (SMC01): undoes deleteCustomer. SMC03 when no deleted customer has this id.';

create or replace function app_public.add_customer_note(customer_id bigint, body text) returns app_public.customer_notes
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_n app_public.customer_notes;
begin
  perform app_hidden.assert_staff();
  perform app_hidden.customer_live(customer_id);
  if body is null or length(btrim(body)) not between 1 and 2000 then
    raise exception 'A note has 1 to 2000 characters' using errcode = 'SMC05';
  end if;
  insert into app_public.customer_notes (customer_id, body) values (add_customer_note.customer_id, btrim(body))
  returning * into v_n;
  return v_n;
end;
$$;
comment on function app_public.add_customer_note(bigint, text) is
  E'Staff (SMC01): adds a note (1–2000 characters, SMC05) to a customer (SMC03 unknown or deleted).';

create or replace function app_public.search_customers(query text) returns setof app_public.customers
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_q text := lower(btrim(coalesce(query, '')));
begin
  perform app_hidden.assert_staff();
  if length(v_q) not between 1 and 200 then
    raise exception 'Search for 1 to 200 characters' using errcode = 'SMC06';
  end if;
  -- Typo-tolerant: trigram similarity of the query with the closest part of
  -- name + surname + email, so "smiht" finds Smith. A query with an @ is an
  -- email and matches as typed (trigrams of a shared domain would match
  -- everyone). Row level security hides soft-deleted rows.
  return query
  select c.* from app_public.customers c
  -- 0.3 lets one swapped or wrong letter in a 5-letter name through ("smiht",
  -- "smyth" → smith) without matching unrelated short words. (Written out
  -- rather than as a function's `set pg_trgm.word_similarity_threshold`: a
  -- migration re-run in a session that has not loaded pg_trgm may not set it.)
  where strpos(c.search_text, v_q) > 0 or (strpos(v_q, '@') = 0 and word_similarity(v_q, c.search_text) >= 0.3)
  order by word_similarity(v_q, c.search_text) desc, c.surname nulls last, c.name, c.id;
end;
$$;
comment on function app_public.search_customers(text) is
  E'Staff (SMC01): customers whose name, surname or email match the query, best first; typos allowed (trigram similarity) unless the query contains an @. SMC06 for an empty or overlong query.';

--------------------------------------------------------------------------------
-- A customer's history: reservations, charges, refunds.

create or replace function app_public.customers_reservations(c app_public.customers) returns setof app_public.reservations
  language sql stable
as $$
  select r.* from app_public.reservations r
  where r.kind = 'reservation' and (r.email = c.email or r.user_id = c.user_id)
  order by lower(r.period) desc;
$$;
comment on function app_public.customers_reservations(app_public.customers) is E'The customer''s reservations, latest start first.';

drop type if exists app_public.customer_payment cascade;
create type app_public.customer_payment as (
  reservation_id bigint,
  kind text,
  amount int,
  currency text,
  status text,
  at timestamptz
);
comment on type app_public.customer_payment is E'A charge or a refund of one of a customer''s reservations.';
comment on column app_public.customer_payment.kind is E'charge or refund.';
comment on column app_public.customer_payment.status is E'pending, processing, succeeded, failed, not_required (charges); pending, succeeded, failed (refunds).';

create or replace function app_public.customers_payments(c app_public.customers) returns setof app_public.customer_payment
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A field of a row only staff see: empty for anyone else, as row level
  -- security leaves the row's other relations (an error would null the
  -- object it hangs off, e.g. a driver's currentUser).
  if not app_hidden.current_user_is_staff() then
    return;
  end if;
  return query
  select x.reservation_id, x.kind, x.amount, x.currency, x.status, x.at
  from app_public.customers_reservations(c) r
  cross join lateral (
    select ch.reservation_id, 'charge'::text as kind, ch.amount, ch.currency, ch.status, ch.created_at as at
    from app_private.charges ch where ch.reservation_id = r.id
    union all
    select ch.reservation_id, 'refund', f.amount, ch.currency, f.status, f.created_at
    from app_private.charges ch join app_private.refunds f on f.charge_id = ch.id
    where ch.reservation_id = r.id
  ) x
  order by x.at;
end;
$$;
comment on function app_public.customers_payments(app_public.customers) is E'Staff: the charges and refunds of the customer''s reservations, oldest first (empty for anyone else).';
--! EndIncluded customers.sql
