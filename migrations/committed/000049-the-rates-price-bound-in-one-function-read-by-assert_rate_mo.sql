--! Previous: sha1:6b5679fa9cb91b364694a45b5b9fd9cb6ad1ba00
--! Hash: sha1:9d55031ca482625cf97dd57b87af3795cb9abf00
--! Message: The rates' price bound in one function, read by assert_rate_money, the meter import and rates_price_bounds

-- The rates' price bound in one place: assert_rate_money, the meter import
-- and the constraint rates_price_bounds (000043) each wrote 500000 (the
-- import "$5000.00") as a literal beside the others; all three read
-- app_hidden.rate_price_max() now.

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
                   where z.user_id = u.id and z.borough = current_user_may_manage.borough)
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
    raise exception 'There is no spot %', assert_manages_spot.spot_id using errcode = 'SMO03';
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
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id and u.role = 'operator') then
    raise exception 'User % is not an operator', set_operator_zones.user_id using errcode = 'SMO04';
  end if;
  delete from app_public.operator_zones z
  where z.user_id = set_operator_zones.user_id and z.borough <> all (coalesce(boroughs, '{}'));
  insert into app_public.operator_zones (user_id, borough)
  select set_operator_zones.user_id, btrim(b) from unnest(coalesce(boroughs, '{}')) b
  on conflict do nothing;
  return query select z.* from app_public.operator_zones z where z.user_id = set_operator_zones.user_id order by z.borough;
end;
$$;
comment on function app_public.set_operator_zones(bigint, text[]) is
  E'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMO04 when the user is not an operator.';

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
    raise exception 'There is no rate %', create_spot.rate_id using errcode = 'SMO06';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.spot_position(lat, lng), street, rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.create_spot(double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO05 bad maximum stay, SMS01 bad coordinates.';

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
    raise exception 'There is no rate %', update_spot.rate_id using errcode = 'SMO06';
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.spot_position(lat, lng) end,
    street = coalesce(update_spot.street, s.street),
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
  E'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation.';

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
  if not exists (select from pg_timezone_names t where t.name = create_rate.time_zone)
     or code is null or length(btrim(code)) not between 1 and 50 or name is null or length(btrim(name)) not between 1 and 100 then
    raise exception 'A rate needs a code, a name and a time zone' using errcode = 'SMO08';
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
    raise exception 'There is no rate %', assert_manages_rate.rate_id using errcode = 'SMO06';
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
  update app_public.rates r set
    name = coalesce(nullif(btrim(update_rate.name), ''), r.name),
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
  E'Operators whose zones hold every spot on the rate, and admins: changes its name or prices (null: unchanged). New quotes use it; reservations keep the price they were quoted.';

create or replace function app_public.set_rate_hours(rate_id int, hours jsonb) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  if hours is null or jsonb_typeof(hours) <> 'array' or exists (
    select from jsonb_array_elements(hours) h
    where jsonb_typeof(h -> 'isodow') is distinct from 'number' or (h ->> 'isodow')::numeric not in (1, 2, 3, 4, 5, 6, 7)
       or (h ->> 'opens') !~ '^\d{2}:\d{2}$' or (h ->> 'closes') !~ '^\d{2}:\d{2}$'
       or (h ->> 'opens') >= (h ->> 'closes')) then
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
--! Included spots_import.sql
-- Spot inventory import from the city's parking-meter data ("Parking Meters
-- Locations and Status", with or without an Hourly_Rate column). The CLI
-- (`npm run cli -- spots:import FILE`, cli/spots__import.ts) only splits the
-- CSV into rows; every rule about what a row means lives here:
--
--   * Meter_Hours is parsed by app_private.meter_hours_parse (grammar below);
--     its "<N>HR" prefix is the spot's max_stay.
--   * The price is Hourly_Rate; rows without one (the city's real file has no
--     such column) take their Pay By Cell zone's price from
--     app_private.meter_zone_prices, else its '*' row.
--   * A rate is identified by price + metered hours: code
--     'meter-<cents>-<schedule>', e.g. meter-550-mon-sat-0900-1900, or
--     meter-550-24x7 (no rate_hours rows: metered around the clock). Rates and
--     their rate_hours are created when first seen and then left alone.
--   * Spots are upserted on external_id (the meter number). A row whose values
--     all match the stored spot is "unchanged" and not written, so importing the
--     same file twice writes nothing the second time.
--   * A row that breaks a rule is "rejected" with a reason and writes nothing,
--     not even its rate.
--
-- Meter_Hours grammar (what cli/seed__generate.ts emits; case-insensitive):
--
--   meter_hours := limit " " class " " schedule { " " schedule }
--   limit       := 1..24 "HR"                  the maximum stay
--   class       := "Com" | "Pas"               commercial vehicles | passenger vehicles
--   schedule    := days " " hhmm "-" hhmm      metered window, opens < closes
--   days        := day [ "-" day ]             a range runs forward and may wrap (Sat-Mon)
--   day         := Mon | Tue | Wed | Thu | Fri | Sat | Sun
--   hhmm        := 0000..2359, or 2400 as a closing time
--
-- Windows of one day must not overlap. "Mon-Sun 0000-2400" means metered
-- around the clock. Days not named are free.

create or replace function app_private.meter_hours_parse(
  meter_hours text,
  out max_stay interval,
  out vehicle_class text,
  out schedule text,
  out hours jsonb,
  out error text
)
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_days constant text[] := array['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  v_day_re constant text := '(mon|tue|wed|thu|fri|sat|sun)';
  v_window_re text;
  v_head text[];
  v_part text[];
  v_first int;
  v_last int;
  v_day int;
  v_opens time;
  v_closes time;
  v_isodows int[] := '{}';
  v_openings time[] := '{}';
  v_closings time[] := '{}';
  v_overlap int;
  v_by_day text[] := array_fill(''::text, array[7]);
  v_segments text[] := '{}';
  v_start int;
begin
  if meter_hours is null or btrim(meter_hours) = '' then
    error := 'empty';
    return;
  end if;

  -- "<N>HR <class> <schedules>"
  v_head := regexp_match(meter_hours, '^\s*([0-9]{1,2})HR\s+(com|pas)\s+(.*\S)\s*$', 'i');
  if v_head is null then
    error := 'expected "<N>HR Com|Pas <days> <hhmm>-<hhmm>"';
    return;
  end if;
  if v_head[1]::int not between 1 and 24 or v_head[1] like '0%' then
    error := 'time limit must be 1HR to 24HR';
    return;
  end if;
  max_stay := make_interval(hours => v_head[1]::int);
  vehicle_class := case lower(v_head[2]) when 'com' then 'commercial' else 'passenger' end;

  -- The schedule list must consist of nothing but "<days> <hhmm>-<hhmm>" items.
  v_window_re := v_day_re || '(?:-' || v_day_re || ')?\s+([0-9]{2})([0-9]{2})-([0-9]{2})([0-9]{2})';
  if v_head[3] !~* ('^' || v_window_re || '(\s+' || v_window_re || ')*$') then
    error := 'expected "<days> <hhmm>-<hhmm>" after "' || v_head[1] || 'HR ' || v_head[2] || '"';
    return;
  end if;

  for v_part in select m from regexp_matches(v_head[3], v_window_re, 'gi') as m loop
    v_first := array_position(v_days, initcap(v_part[1]));
    v_last := coalesce(array_position(v_days, initcap(v_part[2])), v_first);
    if v_part[3]::int > 23 or v_part[4]::int > 59 then
      error := 'bad opening time ' || v_part[3] || v_part[4];
      return;
    end if;
    if (v_part[5]::int > 23 or v_part[6]::int > 59) and v_part[5] || v_part[6] <> '2400' then
      error := 'bad closing time ' || v_part[5] || v_part[6];
      return;
    end if;
    v_opens := make_time(v_part[3]::int, v_part[4]::int, 0);
    v_closes := case when v_part[5] || v_part[6] = '2400' then time '24:00'
                     else make_time(v_part[5]::int, v_part[6]::int, 0) end;
    if v_closes <= v_opens then
      error := 'closing time ' || v_part[5] || v_part[6] || ' is not after opening time '
        || v_part[3] || v_part[4] || ' (windows past midnight are not supported)';
      return;
    end if;
    -- Every day of the range, wrapping from Sun to Mon.
    v_day := v_first;
    loop
      v_isodows := v_isodows || v_day;
      v_openings := v_openings || v_opens;
      v_closings := v_closings || v_closes;
      exit when v_day = v_last;
      v_day := v_day % 7 + 1;
    end loop;
  end loop;

  -- No two windows of the same day may overlap (this also catches a day named twice).
  select a.d into v_overlap
  from unnest(v_isodows, v_openings, v_closings) with ordinality as a(d, o, c, i)
  join unnest(v_isodows, v_openings, v_closings) with ordinality as b(d, o, c, i)
    on a.d = b.d and a.i < b.i and a.o < b.c and b.o < a.c
  limit 1;
  if v_overlap is not null then
    error := 'overlapping hours on ' || v_days[v_overlap];
    return;
  end if;

  -- Metered all day every day: no rate_hours rows at all.
  if (select count(*) from unnest(v_isodows, v_openings, v_closings) as w(d, o, c)
      where o = time '00:00' and c = time '24:00') = 7 then
    schedule := '24x7';
    hours := '[]';
    return;
  end if;

  hours := (
    select jsonb_agg(jsonb_build_object('isodow', d, 'opens', o, 'closes', c) order by d, o)
    from unnest(v_isodows, v_openings, v_closings) as w(d, o, c));

  -- Canonical text: each day's windows, then runs of consecutive days with the
  -- same windows, e.g. 'Mon-Sat 0800-2200, Sun 1200-1900'. Equal hours written
  -- differently ("Mon-Fri … Sat …" vs "Mon-Sat …") give the same schedule.
  for v_day in 1..7 loop
    v_by_day[v_day] := coalesce((
      select string_agg(to_char(o, 'HH24MI') || '-' || case when c = time '24:00' then '2400' else to_char(c, 'HH24MI') end,
                        ' ' order by o)
      from unnest(v_isodows, v_openings, v_closings) as w(d, o, c)
      where d = v_day), '');
  end loop;
  v_start := 1;
  for v_day in 1..7 loop
    if v_day = 7 or v_by_day[v_day + 1] <> v_by_day[v_day] then
      if v_by_day[v_day] <> '' then
        v_segments := v_segments || (
          v_days[v_start] || case when v_day > v_start then '-' || v_days[v_day] else '' end
          || ' ' || v_by_day[v_day]);
      end if;
      v_start := v_day + 1;
    end if;
  end loop;
  schedule := array_to_string(v_segments, ', ');
end;
$$;
comment on function app_private.meter_hours_parse(text) is
  E'Parses a city Meter_Hours text such as "2HR Pas Mon-Sat 0800-2200 Sun 1200-1900": the maximum stay, the vehicle class, a canonical schedule (''24x7'' when metered around the clock), the metered windows as [{isodow, opens, closes}] (empty when 24x7), or why it cannot be read.';

create or replace function app_private.spots_import(rows jsonb)
  returns table (row_number int, outcome text, reason text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  -- Plain decimals only (no exponent; the rules below also cap the length), so
  -- the casts can never fail. Unbounded repeats: PostgreSQL's regex engine is
  -- several times slower on {m,n} counts, and this runs twice per row.
  v_number_re constant text := '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$';
begin
  if jsonb_typeof(spots_import.rows) is distinct from 'array' then
    raise exception 'spots_import expects a JSON array of row objects' using errcode = '22023';
  end if;

  -- One staging row per input row, in input order. The temporary table is made
  -- once per session and emptied at every commit, so the statements below keep
  -- their cached plans from one batch to the next (a table created per call
  -- would make every call plan them again). Rename it when its columns change:
  -- a session that outlived a migration still holds the old one.
  if to_regclass('pg_temp.spots_import_rows_v1') is null then
    create temp table spots_import_rows_v1 (
      ord            int primary key,
      line           int not null,
      external_id    text,
      status         text,
      zone           text,
      meter_hours    text,
      borough        text,
      street         text,
      side_of_street text,
      from_street    text,
      to_street      text,
      lat            double precision,
      lng            double precision,
      price          int,
      max_stay       interval,
      schedule       text,
      hours          jsonb,
      rate_code      text,
      why            text
    ) on commit delete rows;
  end if;
  -- Rows of an earlier call in this transaction (none after a commit). Not
  -- truncate: that would make the cached plans stale too.
  delete from pg_temp.spots_import_rows_v1;

  -- 1. Fields, trimmed (blank = missing), and the field rules: the first rule a
  --    row breaks is its reason. Coordinates come from Latitude/Longitude, or
  --    when both are blank from Location, which the city has written both as
  --    "(lat, lng)" and as "POINT (lng lat)". (->> on anything but a JSON object
  --    gives null, so a stray scalar is a row with every field missing.)
  insert into pg_temp.spots_import_rows_v1 (
    ord, line, external_id, status, zone, meter_hours, borough, street,
    side_of_street, from_street, to_street, lat, lng, price, why)
  select
    r.ord,
    case when r.e ->> 'row_number' ~ '^[0-9]{1,9}$' then (r.e ->> 'row_number')::int else r.ord::int end,
    f.meter_number, f.status, f.pay_by_cell_number, f.meter_hours, f.borough, f.on_street,
    upper(f.side_of_street), f.from_street, f.to_street,
    -- The casts only run for rows that passed the rules, so they cannot fail.
    case when v.why is null then c.lat_text::double precision end,
    case when v.why is null then c.lng_text::double precision end,
    case when v.why is null then
      coalesce(round(ltrim(f.hourly_rate, '$ ')::numeric * 100)::int, z.zone_price) end,
    v.why
  from jsonb_array_elements(spots_import.rows) with ordinality as r(e, ord)
  cross join lateral (
    select
      nullif(btrim(r.e ->> 'meter_number'), '') as meter_number,
      nullif(btrim(r.e ->> 'status'), '') as status,
      nullif(btrim(r.e ->> 'pay_by_cell_number'), '') as pay_by_cell_number,
      nullif(btrim(r.e ->> 'meter_hours'), '') as meter_hours,
      nullif(btrim(r.e ->> 'borough'), '') as borough,
      nullif(btrim(r.e ->> 'on_street'), '') as on_street,
      nullif(btrim(r.e ->> 'side_of_street'), '') as side_of_street,
      nullif(btrim(r.e ->> 'from_street'), '') as from_street,
      nullif(btrim(r.e ->> 'to_street'), '') as to_street,
      nullif(btrim(r.e ->> 'latitude'), '') as latitude,
      nullif(btrim(r.e ->> 'longitude'), '') as longitude,
      nullif(btrim(r.e ->> 'location'), '') as location,
      nullif(btrim(r.e ->> 'hourly_rate'), '') as hourly_rate
  ) f
  cross join lateral (
    select
      case when m.from_location then coalesce(m.lp[1], m.pp[2]) else f.latitude end as lat_text,
      case when m.from_location then coalesce(m.lp[2], m.pp[1]) else f.longitude end as lng_text
    from (
      select
        f.latitude is null and f.longitude is null as from_location,
        case when f.latitude is null and f.longitude is null then
          regexp_match(f.location, '^\(\s*([^,\s]+)\s*,\s*([^,\s)]+)\s*\)$') end as lp,
        case when f.latitude is null and f.longitude is null then
          regexp_match(f.location, '^POINT\s*\(\s*(\S+)\s+([^\s)]+)\s*\)$', 'i') end as pp
    ) m
  ) c
  -- The city's own file has no Hourly_Rate: such rows take their zone's price
  -- (app_private.meter_zone_prices; zone '*' for every other zone).
  cross join lateral (
    select coalesce(
      (select p.hourly_price from app_private.meter_zone_prices p where p.zone = f.pay_by_cell_number),
      (select p.hourly_price from app_private.meter_zone_prices p where p.zone = '*')) as zone_price
  ) z
  cross join lateral (
    select case
      when f.meter_number is null then 'missing meter number'
      when length(f.meter_number) > 50 or f.meter_number !~ '^[A-Za-z0-9][A-Za-z0-9._/-]*$' then 'malformed meter number'
      when c.lat_text is null then 'missing latitude'
      when length(c.lat_text) > 30 or c.lat_text !~ v_number_re then 'latitude is not a number'
      when c.lat_text::double precision not between -90 and 90 then 'latitude out of range'
      when c.lng_text is null then 'missing longitude'
      when length(c.lng_text) > 30 or c.lng_text !~ v_number_re then 'longitude is not a number'
      when c.lng_text::double precision not between -180 and 180 then 'longitude out of range'
      when f.on_street is null then 'missing On_Street'
      when length(f.on_street) > 200 then 'On_Street longer than 200 characters'
      when length(f.from_street) > 200 then 'From_Street longer than 200 characters'
      when length(f.to_street) > 200 then 'To_Street longer than 200 characters'
      when length(f.side_of_street) > 20 then 'Side_of_Street longer than 20 characters'
      when length(f.borough) > 50 then 'Borough longer than 50 characters'
      when length(f.pay_by_cell_number) > 50 then 'Pay By Cell Number longer than 50 characters'
      when f.hourly_rate is null and z.zone_price is null then 'missing Hourly_Rate and no price for its zone'
      when f.hourly_rate !~ '^\$?\s*[0-9]{1,4}(\.[0-9]{1,2})?$' then 'Hourly_Rate is not a price in dollars'
      -- The rates' bound: a larger price could not be charged for a long stay.
      when round(ltrim(f.hourly_rate, '$ ')::numeric * 100) > app_hidden.rate_price_max()
        then 'Hourly_Rate is above $' || to_char(app_hidden.rate_price_max() / 100.0, 'FM9990.00')
      when f.meter_hours is null then 'missing Meter_Hours'
    end as why
  ) v;

  -- 2. A meter number twice in one call: the first row counts, the others are
  --    rejected (the upsert below could not touch one spot twice anyway).
  if exists (
    select from pg_temp.spots_import_rows_v1
    where why is null
    group by external_id
    having count(*) > 1
  ) then
    update pg_temp.spots_import_rows_v1 t
    set why = 'duplicate meter number (first on row ' || d.first_line || ')'
    from (
      select ord,
             first_value(line) over (partition by external_id order by ord) as first_line,
             row_number() over (partition by external_id order by ord) as n
      from pg_temp.spots_import_rows_v1
      where why is null
    ) d
    where d.ord = t.ord and d.n > 1;
  end if;

  -- 3. Meter_Hours, parsed once per distinct text (a batch has a handful); the
  --    materialized CTE keeps the planner from calling the parser once per row.
  --    The rate code is the price and the canonical schedule.
  with parsed as materialized (
    select d.meter_hours, h.*
    from (select distinct meter_hours from pg_temp.spots_import_rows_v1 where why is null) d
    cross join lateral app_private.meter_hours_parse(d.meter_hours) h
  )
  update pg_temp.spots_import_rows_v1 t
  set max_stay = p.max_stay,
      schedule = p.schedule,
      hours = p.hours,
      why = case when p.error is not null then 'unparseable Meter_Hours: ' || p.error end,
      rate_code = case when p.error is null then
        'meter-' || t.price || '-' || lower(regexp_replace(p.schedule, '[^A-Za-z0-9]+', '-', 'g')) end
  from parsed p
  where p.meter_hours = t.meter_hours and t.why is null;

  -- 4. Rates of the accepted rows: created on first sight, with their hours;
  --    an existing rate (and any edit an operator made to it) is left alone.
  --    Hours go only to the rates made here: an existing rate's hours may be
  --    an operator's, and adding the file's beside them would overlap them.
  with created as (
    insert into app_public.rates (code, name, hourly_price)
    select distinct on (t.rate_code)
      t.rate_code,
      '$' || to_char(t.price / 100.0, 'FM9990.00') || '/h, '
        || case when t.schedule = '24x7' then 'around the clock' else t.schedule end,
      t.price
    from pg_temp.spots_import_rows_v1 t
    where t.why is null
    order by t.rate_code
    on conflict (code) do nothing
    returning id, code
  )
  insert into app_public.rate_hours (rate_id, isodow, opens, closes)
  select c.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
  from (select distinct rate_code, hours from pg_temp.spots_import_rows_v1 where why is null) t
  join created c on c.code = t.rate_code
  cross join lateral jsonb_array_elements(t.hours) as h;

  -- 5. Spots: insert new meter numbers; update a known one only when something
  --    differs, so an unchanged row writes nothing (xmax = 0 tells a fresh
  --    insert from an update). One row per input row comes back, in order.
  return query
  with written as (
    insert into app_public.spots as s (
      external_id, location, street, side_of_street, from_street, to_street,
      borough, zone, rate_id, max_stay, status, meter_hours)
    select
      t.external_id,
      st_setsrid(st_makepoint(t.lng, t.lat), 4326)::geography,
      t.street, t.side_of_street, t.from_street, t.to_street, t.borough, t.zone,
      r.id, t.max_stay,
      case when lower(t.status) = 'active' then 'active' else 'out_of_service' end,
      t.meter_hours
    from pg_temp.spots_import_rows_v1 t
    join app_public.rates r on r.code = t.rate_code
    where t.why is null
    on conflict (external_id) do update
    set location = excluded.location,
        street = excluded.street,
        side_of_street = excluded.side_of_street,
        from_street = excluded.from_street,
        to_street = excluded.to_street,
        borough = excluded.borough,
        zone = excluded.zone,
        rate_id = excluded.rate_id,
        max_stay = excluded.max_stay,
        status = excluded.status,
        meter_hours = excluded.meter_hours
    where (st_asbinary(s.location), s.street, s.side_of_street, s.from_street, s.to_street,
           s.borough, s.zone, s.rate_id, s.max_stay, s.status, s.meter_hours)
          is distinct from
          (st_asbinary(excluded.location), excluded.street, excluded.side_of_street,
           excluded.from_street, excluded.to_street, excluded.borough, excluded.zone,
           excluded.rate_id, excluded.max_stay, excluded.status, excluded.meter_hours)
    returning s.external_id, s.xmax = 0 as is_new
  )
  select t.line,
         case
           when t.why is not null then 'rejected'
           when w.is_new then 'inserted'
           when w.is_new is not null then 'updated'
           else 'unchanged'
         end,
         t.why
  from pg_temp.spots_import_rows_v1 t
  left join written w on w.external_id = t.external_id and t.why is null
  order by t.ord;
end;
$$;
revoke all on function app_private.spots_import(jsonb) from public;
comment on function app_private.spots_import(jsonb) is
  E'Imports parking meters: rows is a JSON array of objects keyed by the city CSV''s column names in snake_case (meter_number, status, pay_by_cell_number, meter_hours, borough, on_street, side_of_street, from_street, to_street, latitude, longitude, location, hourly_rate) plus an optional row_number for reporting; without hourly_rate the zone''s price (app_private.meter_zone_prices) applies. Derives each row''s rate (price + Meter_Hours), upserts rates, rate_hours and spots (on external_id), and returns one row per input row: inserted, updated, unchanged, or rejected with a reason. Rejected rows write nothing. Idempotent.';
--! EndIncluded spots_import.sql

alter table app_public.rates drop constraint if exists rates_price_bounds;
alter table app_public.rates add constraint rates_price_bounds
  check (hourly_price <= app_hidden.rate_price_max() and minimum_charge <= app_hidden.rate_price_max());
