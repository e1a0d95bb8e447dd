--! Previous: sha1:48bc72da6c73c6df5ce3dade7a3e4c7d41f0982a
--! Hash: sha1:44bfa03d57543c4d937720f6a15d0c7dbc82bdaf
--! Message: A coordinate or radius left out is named as missing; one point function for search and spots

-- A coordinate or radius left out was refused as out of range ("Latitude
-- must be between -90 and 90") instead of as missing. One function,
-- app_hidden.geo_point, now reads a point for search and for spots alike
-- (app_hidden.search_point and app_hidden.spot_position were two copies),
-- and says which value is missing.
--! Included spots_near.sql
-- Distance search. spots_near stays a single `language sql` select without
-- SET clauses or STRICT so PostgreSQL inlines it into PostGraphile's query:
-- the LIMIT then reaches the KNN scan of spots_location_idx and the search
-- stops after the first page instead of ranking every spot in the radius.
--
-- One distance throughout: `<->` on geography, the great-circle distance on
-- PostGIS's sphere (mean radius 6,371,008.8 m). It is what the KNN index scan
-- orders by, so the reported distance is the order of the list, exactly; and
-- the radius is checked on the same sphere (st_dwithin's use_spheroid =>
-- false), so every reported distance is within the radius. st_distance's
-- default (the WGS 84 spheroid) differs from it by up to ~0.3 %, enough to put
-- neighbours 1 m apart in the wrong order.

create or replace function app_hidden.unit_metres(unit app_public.distance_unit) returns double precision
  language sql immutable
as $$
  select case unit when 'mi' then 1609.344 else 1000.0 end;
$$;
comment on function app_hidden.unit_metres(app_public.distance_unit) is E'Metres in one unit.';

create or replace function app_hidden.geo_point(lat double precision, lng double precision) returns geography
  language plpgsql immutable
as $$
begin
  if lat is null or lng is null then
    raise exception 'Give both a latitude and a longitude' using errcode = 'SMS01';
  end if;
  if not (lat between -90 and 90) or not (lng between -180 and 180) then
    raise exception 'Latitude must be between -90 and 90 and longitude between -180 and 180'
      using errcode = 'SMS01';
  end if;
  return st_setsrid(st_makepoint(lng, lat), 4326)::geography;
end;
$$;
comment on function app_hidden.geo_point(double precision, double precision) is
  E'A WGS 84 point (a spot''s place, or where to search around), or error SMS01 when a coordinate is missing or off the globe.';

create or replace function app_hidden.search_radius_metres(radius double precision, unit app_public.distance_unit)
  returns double precision
  language plpgsql immutable
as $$
begin
  -- 'NaN' sorts above every number in PostgreSQL, so it is refused by name.
  -- Compared in the radius's own unit: multiplying first overflows for huge radii (1e308).
  if radius is null then
    raise exception 'Give a radius: more than 0 and at most 50 km (31 mi)' using errcode = 'SMS02';
  end if;
  if radius = 'NaN' or radius <= 0 or radius > 50000 / app_hidden.unit_metres(coalesce(unit, 'km')) then
    raise exception 'The radius must be more than 0 and at most 50 km (31 mi)' using errcode = 'SMS02';
  end if;
  return radius * app_hidden.unit_metres(coalesce(unit, 'km'));
end;
$$;
comment on function app_hidden.search_radius_metres(double precision, app_public.distance_unit) is
  E'The radius in metres, or error SMS02 unless 0 < radius <= 50 km.';

create or replace function app_hidden.search_window(starts_at timestamptz, ends_at timestamptz) returns tstzrange
  language sql stable
as $$
  select app_hidden.assert_window(
    coalesce(starts_at, now()),
    coalesce(ends_at, coalesce(starts_at, now()) + interval '1 hour'));
$$;
comment on function app_hidden.search_window(timestamptz, timestamptz) is
  E'The window a search asks about: from now unless a start is given, one hour long unless an end is given.';

create or replace function app_hidden.window_length(time_window tstzrange) returns interval
  language sql immutable
as $$
  select upper(time_window) - lower(time_window);
$$;
comment on function app_hidden.window_length(tstzrange) is E'Elapsed time from the start to the end of a window.';

create or replace function app_public.spots_near(
  lat double precision,
  lng double precision,
  radius double precision,
  unit app_public.distance_unit default 'km',
  starts_at timestamptz default null,
  ends_at timestamptz default null
) returns setof app_public.spot_match
  language sql stable
as $$
  -- Each uncorrelated sub-select becomes an init plan: validated and computed
  -- once per query, and usable by the index scan as a constant.
  select
    s,
    (s.location <-> (select app_hidden.geo_point(spots_near.lat, spots_near.lng)))
      / app_hidden.unit_metres(coalesce(spots_near.unit, 'km')),
    app_hidden.quote_rate(s.rate_id, (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  from app_public.spots s
  -- Checked before any row is read, so a bad window is refused even where
  -- there are no spots to look at (init plans otherwise run only when used).
  where (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)) is not null
    and st_dwithin(
          s.location,
          (select app_hidden.geo_point(spots_near.lat, spots_near.lng)),
          (select app_hidden.search_radius_metres(spots_near.radius, spots_near.unit)),
          false)
    and s.status = 'active'
    and s.max_stay >= (select app_hidden.window_length(app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
    and not exists (
      select from app_hidden.spot_occupancy o
      where o.spot_id = s.id
        and o.period && (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  order by s.location <-> (select app_hidden.geo_point(spots_near.lat, spots_near.lng));
$$;
comment on function app_public.spots_near(double precision, double precision, double precision, app_public.distance_unit, timestamptz, timestamptz) is
  E'Spots free for the whole window [startsAt, endsAt) within radius of (lat, lng), nearest first by the distance reported (great-circle, on a sphere of the Earth''s mean radius). The window defaults to the next hour from now; the radius is in unit (km unless asked) and at most 50 km.';

-- Its old name, before spots took their place from it too.
drop function if exists app_hidden.search_point(double precision, double precision);
--! EndIncluded spots_near.sql
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

create or replace function app_hidden.current_user_may_join_rate(rate_id int, borough text) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A zoned operator may change a rate only while every spot on it is in
  -- their zones (current_user_may_manage_rate). An operator of another zone
  -- who put one of their spots on that rate would take it from them, so an
  -- operator's spot joins a rate only when no zoned operator who manages the
  -- rate today lacks the spot's borough. Admins decide for everyone; a rate
  -- no spot uses yet belongs to no zone.
  select app_hidden.current_user_is_admin()
      or not exists (
        select from app_public.users op
        where op.role = 'operator'
          and exists (select from app_public.spots s where s.rate_id = current_user_may_join_rate.rate_id)
          and not exists (select from app_public.spots s
                          where s.rate_id = current_user_may_join_rate.rate_id
                            and not exists (select from app_public.operator_zones z
                                            where z.user_id = op.id and lower(z.borough) = lower(btrim(s.borough))))
          and not exists (select from app_public.operator_zones z
                          where z.user_id = op.id
                            and lower(z.borough) = lower(btrim(current_user_may_join_rate.borough))));
$$;
comment on function app_hidden.current_user_may_join_rate(int, text) is
  E'True when the signed-in staff member may put a spot of this borough on this rate: an admin, or no zoned operator who can change the rate today lacks the borough (SMO12 otherwise).';

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

drop function if exists app_hidden.spot_position(double precision, double precision);

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
  if not app_hidden.current_user_may_join_rate(create_spot.rate_id, create_spot.borough) then
    raise exception 'Rate % belongs to another zone''s spots: use a rate of your own', create_spot.rate_id using errcode = 'SMO12';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.geo_point(lat, lng), app_hidden.spot_street(street), rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.create_spot(double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO12 a rate whose spots are all in another operator''s zones, SMO05 bad maximum stay, SMO11 no street (1 to 200 characters), SMS01 bad coordinates.';

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
  -- A spot changing rate or borough joins its rate anew.
  if (update_spot.rate_id is distinct from v_s.rate_id and update_spot.rate_id is not null)
     or (nullif(btrim(update_spot.borough), '') is not null
         and lower(btrim(update_spot.borough)) is distinct from lower(v_s.borough)) then
    if not app_hidden.current_user_may_join_rate(coalesce(update_spot.rate_id, v_s.rate_id),
                                                 coalesce(nullif(btrim(update_spot.borough), ''), v_s.borough)) then
      raise exception 'Rate % belongs to another zone''s spots: use a rate of your own', coalesce(update_spot.rate_id, v_s.rate_id)
        using errcode = 'SMO12';
    end if;
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.geo_point(lat, lng) end,
    street = case when update_spot.street is null then s.street else app_hidden.spot_street(update_spot.street) end,
    rate_id = coalesce(update_spot.rate_id, s.rate_id),
    borough = coalesce(nullif(btrim(update_spot.borough), ''), s.borough),
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
  E'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation, SMO06 no such rate, SMO12 a rate (or, moving the spot, a borough) that would take the rate from the operators of another zone, SMO11 a blank or over-long street.';

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
  -- The city import finds its rates by these codes (spots_import): a rate made
  -- ahead under one would take the import's meters, in any borough, at its price.
  if lower(btrim(code)) like 'meter-%' then
    raise exception 'Rate codes starting meter- belong to the city import' using errcode = 'SMO08';
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
  E'Operators and admins: a new rate metered around the clock (setRateHours limits it). SMO08 bad values (and codes starting meter-, the city import''s), SMO09 code taken.';

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
