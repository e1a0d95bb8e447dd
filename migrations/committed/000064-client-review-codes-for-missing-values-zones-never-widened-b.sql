--! Previous: sha1:3cf2d188fb5a627b0b3db0905b261696e26832a9
--! Hash: sha1:db06b514d8e2eb6f47608dba8682e6402af4cb1d
--! Message: Client review: codes for missing values, zones never widened by omission, out-of-service spots not extended

-- Mends from a client developer's review (stop 32): inputs that reached a
-- not-null constraint (INTERNAL) get their own codes, setOperatorZones no
-- longer reads a list left out as "everywhere", a reservation on a spot out of
-- service is kept but not extended, a changed end leaves a minute at least, a
-- blank rate name is refused on update as on create, and "There is no rate
-- <NULL>" names a missing id as such.

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
  delete from app_public.operator_zones z
  where z.user_id = set_operator_zones.user_id and z.borough <> all (array(select btrim(b) from unnest(boroughs) b));
  insert into app_public.operator_zones (user_id, borough)
  select set_operator_zones.user_id, btrim(b) from unnest(boroughs) b
  on conflict do nothing;
  return query select z.* from app_public.operator_zones z where z.user_id = set_operator_zones.user_id order by z.borough;
end;
$$;
comment on function app_public.set_operator_zones(bigint, text[]) is
  E'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMO04 when the user is not an operator, SMO10 when the list is left out or a borough is blank.';

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
  if nullif(btrim(create_spot.street), '') is null then
    raise exception 'A spot needs its street' using errcode = 'SMO11';
  end if;
  if not exists (select from app_public.rates r where r.id = create_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(create_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
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
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO05 bad maximum stay, SMO11 no street, SMS01 bad coordinates.';

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
begin
  -- Only what can still be ended or moved has such a price.
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and can no longer be ended or changed', v_r.status using errcode = 'SMB07';
  end if;
  if reservation_end_quote.ends_at is null or not isfinite(reservation_end_quote.ends_at) then
    raise exception 'Give the end time to price' using errcode = 'SMB03';
  end if;
  if reservation_end_quote.ends_at <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  -- A longer stay meets the spot's maximum, as changeReservationEnd's does.
  if reservation_end_quote.ends_at > upper(v_r.period) then
    perform app_hidden.assert_max_stay((select s from app_public.spots s where s.id = v_r.spot_id),
                                       tstzrange(lower(v_r.period), reservation_end_quote.ends_at, '[)'));
  end if;
  return app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), reservation_end_quote.ends_at, '[)'));
end;
$$;
comment on function app_public.reservation_end_quote(bigint, timestamptz, text) is
  E'What your reservation would cost if it ended at endsAt (now, to end it; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended. Guests pass the manage token (SMB06 otherwise); SMB03 for an end not after the start, SMB04 for a longer stay beyond the spot''s maximum, SMB07 once it is completed, cancelled or expired.';

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
  if change_reservation_end.ends_at - lower(v_r.period) < interval '1 minute' then
    raise exception 'A reservation lasts at least one minute' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at = upper(v_r.period) then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  v_window := tstzrange(lower(v_r.period), change_reservation_end.ends_at, '[)');
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
    perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_r.user_id, v_r.email, v_r.id);
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
  E'Moves the end of your reservation (longer or shorter) and re-prices it at the rate it was booked under (a rate changed since does not apply). Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start or leaves less than a minute (SMB03), extends a reservation on a spot out of service (SMB02), exceeds the spot''s maximum stay (SMB04), or the reservation is over, cancelled or expired (SMB07).';

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
    set status = 'expired', hold_expires_at = null
    where r.id = v_r.id
    returning * into v_r;
    return row(v_r, null)::app_public.reservation_result;
  end if;
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used at the rate it was booked under (never less than the rate''s minimum charge) and the spot is free again. One still held (no card set up) expires instead, with no charge. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

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
    -- Ran its course: charged as quoted. Still held at its end: expired, no charge.
    update app_public.reservations r
    set status = case when r.status = 'held' then 'expired' else 'completed' end::app_public.reservation_status,
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
  select count(app_private.email_enqueue('reservation_reminder', m.email, d.data,
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  left join lateral app_hidden.reservation_email_data_of(m::app_public.reservations) d(data) on true
  where m.status = 'confirmed' and upper(m.period) > now();
$$;
comment on function app_private.reminders_send_due(int) is
  E'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';
--! EndIncluded reservations_lifecycle.sql
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
    raise exception 'A customer with this email already exists' using errcode = 'SMC02';
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
    raise exception 'A customer with this email already exists' using errcode = 'SMC02';
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
  perform app_hidden.assert_staff();
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
comment on function app_public.customers_payments(app_public.customers) is E'Staff (SMC01): the charges and refunds of the customer''s reservations, oldest first.';
--! EndIncluded customers.sql
--! Included quote.sql
-- Prices. A quote is what a window costs at a spot's rate: the metered part of
-- the window (operating hours read in the rate's time zone, so a window across
-- a DST change is priced by the time that really elapses), rounded up to the
-- billing increment, at the hourly price, never below the rate's minimum
-- charge nor the payment provider's least charge for the currency when any of
-- the window is metered (a smaller amount could never be charged).

-- plpgsql rather than sql: these run once per search result row, and plpgsql
-- keeps its query plans for the life of the connection, where a non-inlined
-- sql function is planned again in every query that calls it.

-- The rate's terms reach the pricing as values (the rates row and its hours),
-- not as a rate id: a live quote reads them from the tables (quote_rate), a
-- reservation is re-priced from the copy it was booked under (quote_terms),
-- and both go through the same arithmetic.

drop function if exists app_hidden.metered_time(int, tstzrange);

create or replace function app_hidden.metered_time(
  hours app_public.rate_hours[], time_zone text, time_window tstzrange
) returns interval
  language plpgsql stable
as $$
declare
  v_metered interval;
begin
  if coalesce(cardinality(metered_time.hours), 0) = 0 then
    return upper(time_window) - lower(time_window);
  end if;
  select sum(upper(o.overlap) - lower(o.overlap)) into v_metered
  -- The local calendar days (dates in the rate's zone) the window touches.
  -- Dates, not timestamptz: a timestamptz day starts at midnight of the
  -- *session's* time zone and would shift every opening hour with it.
  from generate_series(0,
         (upper(time_window) at time zone metered_time.time_zone)::date
           - (lower(time_window) at time zone metered_time.time_zone)::date) as i(n)
  cross join lateral (select (lower(time_window) at time zone metered_time.time_zone)::date + i.n as day) d
  join unnest(metered_time.hours) h on h.isodow = extract(isodow from d.day)
  -- `date + time` is a local timestamp; `at time zone` turns it into the real
  -- instant, DST included (24:00 is the next midnight). A local time that
  -- happens twice (01:30 when clocks fall back) reads as the later instant,
  -- right for closing; a meter opens at the earlier one: the local time an
  -- hour before, plus an hour (least(): never later than the plain reading).
  -- The windows of one day never overlap (rate_hours_no_overlap), so their
  -- sum is the metered time.
  cross join lateral (
    select time_window * tstzrange(
      least((d.day + h.opens) at time zone metered_time.time_zone,
            ((d.day + h.opens) - interval '1 hour') at time zone metered_time.time_zone + interval '1 hour'),
      (d.day + h.closes) at time zone metered_time.time_zone, '[)') as overlap
  ) o
  where not isempty(o.overlap);
  return coalesce(v_metered, interval '0');
end;
$$;
comment on function app_hidden.metered_time(app_public.rate_hours[], text, tstzrange) is
  E'How much of the window falls in the metered hours, read in the time zone (all of it when there are no hours: metered around the clock).';

create or replace function app_hidden.quote_of(
  rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange
) returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_metered interval := app_hidden.metered_time(quote_of.hours, (quote_of.rate).time_zone, time_window);
  v_increment numeric := extract(epoch from (quote_of.rate).billing_increment);
  v_amount int;
begin
  -- rates_price_bounds keeps the largest amount (7 days at the highest hourly
  -- price) within an int and within what Stripe charges at most.
  v_amount := case
    when v_metered = interval '0' then 0
    else greatest(
      (quote_of.rate).minimum_charge,
      (select m.minimum_amount from app_hidden.payment_minimums m where m.currency = (quote_of.rate).currency),
      round(ceil(extract(epoch from v_metered) / v_increment) * v_increment * (quote_of.rate).hourly_price / 3600.0)::int)
  end;
  return (v_amount, (quote_of.rate).currency, v_metered)::app_public.price_quote;
end;
$$;
comment on function app_hidden.quote_of(app_public.rates, app_public.rate_hours[], tstzrange) is
  E'The price of a window under a rate''s terms, in its minor units: nothing when none of it is metered, else never below the rate''s minimum charge or the payment provider''s minimum for the currency.';

create or replace function app_hidden.quote_rate(rate_id int, time_window tstzrange) returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_rate app_public.rates;
begin
  select * into v_rate from app_public.rates r where r.id = quote_rate.rate_id;
  if not found then
    return null;
  end if;
  return app_hidden.quote_of(v_rate,
                             array(select h from app_public.rate_hours h where h.rate_id = v_rate.id),
                             time_window);
end;
$$;
comment on function app_hidden.quote_rate(int, tstzrange) is
  E'The price of a window at a rate as it is now (quote_of): what searches and new bookings are quoted.';

create or replace function app_hidden.rate_terms_of(rate app_public.rates, hours app_public.rate_hours[])
  returns jsonb
  language sql immutable
as $$
  -- Only what prices a window, and the hours as [isodow, opens, closes]: a
  -- copy rides in every reservation row (and in what its triggers copy).
  select jsonb_build_object(
    'hourly_price', (rate_terms_of.rate).hourly_price,
    'billing_increment', (rate_terms_of.rate).billing_increment,
    'minimum_charge', (rate_terms_of.rate).minimum_charge,
    'currency', (rate_terms_of.rate).currency,
    'time_zone', (rate_terms_of.rate).time_zone,
    'hours', coalesce((select jsonb_agg(jsonb_build_array(h.isodow, h.opens, h.closes) order by h.isodow, h.opens)
                       from unnest(rate_terms_of.hours) h), '[]'));
$$;
comment on function app_hidden.rate_terms_of(app_public.rates, app_public.rate_hours[]) is
  E'A rate''s terms as a reservation keeps them (the pricing columns and the metered hours): the reservation is priced by them for life (quote_terms), whatever becomes of the rate.';

create or replace function app_hidden.rate_terms(rate_id int) returns jsonb
  language sql stable
as $$
  select app_hidden.rate_terms_of(r, array(select h from app_public.rate_hours h where h.rate_id = r.id))
  from app_public.rates r
  where r.id = rate_terms.rate_id;
$$;
comment on function app_hidden.rate_terms(int) is E'The terms of a rate as it is now (rate_terms_of).';

create or replace function app_hidden.quote_terms(terms jsonb, time_window tstzrange) returns app_public.price_quote
  language plpgsql stable
as $$
begin
  return app_hidden.quote_of(
    jsonb_populate_record(null::app_public.rates, quote_terms.terms),
    array(select row(null, (h ->> 0)::int, (h ->> 1)::time, (h ->> 2)::time)::app_public.rate_hours
          from jsonb_array_elements(quote_terms.terms -> 'hours') h),
    time_window);
end;
$$;
comment on function app_hidden.quote_terms(jsonb, tstzrange) is
  E'The price of a window under terms kept by rate_terms_of (quote_of).';

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
  if ends_at - starts_at > app_hidden.max_stay() then
    raise exception 'A window may last at most % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMS03';
  end if;
  if starts_at > now() + app_hidden.booking_horizon() then
    raise exception 'A window may start at most % days ahead', extract(day from app_hidden.booking_horizon())
      using errcode = 'SMS03';
  end if;
  return tstzrange(starts_at, ends_at, '[)');
end;
$$;
comment on function app_hidden.assert_window(timestamptz, timestamptz) is
  E'The window [starts_at, ends_at) when it is one the product can price and book (at most max_stay long, starting within booking_horizon), else error SMS03.';

create or replace function app_public.quote(spot_id bigint, starts_at timestamptz, ends_at timestamptz)
  returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_spot   app_public.spots;
  v_window tstzrange;
begin
  if quote.spot_id is null then
    raise exception 'Give the spot to price (spotId)' using errcode = 'SMS04';
  end if;
  select s.* into v_spot from app_public.spots s where s.id = quote.spot_id;
  if not found then
    raise exception 'There is no spot %', coalesce(quote.spot_id::text, '(none given)') using errcode = 'SMS04';
  end if;
  v_window := app_hidden.assert_window(quote.starts_at, quote.ends_at);
  -- A window the spot would not accept has no price (the spot's maximum stay).
  perform app_hidden.assert_max_stay(v_spot, v_window);
  return app_hidden.quote_rate(v_spot.rate_id, v_window);
end;
$$;
comment on function app_public.quote(bigint, timestamptz, timestamptz) is
  E'What parking at a spot from startsAt to endsAt costs, in minor units of the spot''s currency (at least the rate''s minimum charge and the payment provider''s minimum, e.g. 50 for USD, when any of the window is metered). Refused (SMB04) beyond the spot''s maximum stay.';
--! EndIncluded quote.sql
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
  if not app_hidden.current_user_may_manage(v_spot.borough) then
    raise exception 'Spot % is outside your zones', v_spot.id using errcode = 'SMO02';
  end if;
  begin
    insert into app_public.reservations (kind, spot_id, user_id, email, period, status, amount, currency, note)
    values ('block', v_spot.id, v_user.id, v_user.email, tstzrange(v_start, block_spot.ends_at, '[)'),
            'confirmed', 0, (select r.currency from app_public.rates r where r.id = v_spot.rate_id),
            block_spot.reason)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'The spot is reserved or already blocked during that time; cancel those reservations or remove that block first'
      using errcode = 'SMB01';
  end;
  return v_r;
end;
$$;
comment on function app_public.block_spot(bigint, timestamptz, timestamptz, text) is
  E'Operators (in the spot''s zone, SMO02) and admins: takes a spot out of use from startsAt (default now) to endsAt, e.g. for maintenance. Refused (SMB01) while a reservation overlaps; no reservation can overlap it afterwards.';

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
  if exists (select from app_public.reservations r join app_public.spots s on s.id = r.spot_id
             where r.id = unblock_spot.block_id and r.kind = 'block'
               and not app_hidden.current_user_may_manage(s.borough)) then
    raise exception 'This block is on a spot outside your zones' using errcode = 'SMO02';
  end if;
  update app_public.reservations r set status = 'cancelled'
  where r.id = unblock_spot.block_id and r.kind = 'block' and r.status = 'confirmed'
  returning * into v_r;
  if not found then
    raise exception 'There is no active block %', coalesce(unblock_spot.block_id::text, '(none given)') using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_public.unblock_spot(bigint) is E'Operators (in the spot''s zone, SMO02) and admins: lifts a block; the spot can be reserved again.';
--! EndIncluded reservations_blocks.sql
--! Included accounts_staff.sql
-- Accounts: roles, staff pre-registration (the CLI and admins), and sign-in
-- through Google or Facebook.

--------------------------------------------------------------------------------
-- Roles

create or replace function app_hidden.current_user_is_admin() returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select u.role = 'admin' from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;
comment on function app_hidden.current_user_is_admin() is E'True when the signed-in user is an admin.';

create or replace function app_hidden.assert_admin() returns bigint
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if not app_hidden.current_user_is_admin() then
    raise exception 'Only an admin may do this' using errcode = 'SMA10';
  end if;
  -- Staff administration is one of the actions that need a verified email.
  perform app_hidden.assert_verified();
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_admin() is
  E'The current user''s id when a verified admin, else error SMA10 (not an admin), SMA11 (email not verified) or SMA08 (signed out).';

create or replace function app_hidden.assert_role(role text) returns text
  language plpgsql immutable
as $$
begin
  if role is null or role not in ('driver', 'operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'A role is one of driver, operator, admin, analyst, enforcement' using errcode = 'SMA16';
  end if;
  return role;
end;
$$;
comment on function app_hidden.assert_role(text) is E'The role when it is one of the five, else error SMA16.';

create or replace function app_public.set_user_role(user_id bigint, role text) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_admin_id bigint := app_hidden.assert_admin();
  v_user app_public.users;
begin
  perform app_hidden.assert_role(role);
  if set_user_role.user_id = v_admin_id then
    -- Keeps at least one admin: an admin cannot demote themselves.
    raise exception 'You cannot change your own role; ask another admin' using errcode = 'SMA16';
  end if;
  select u.* into v_user from app_public.users u where u.id = set_user_role.user_id for update;
  if v_user.id is null then
    raise exception 'There is no user %', coalesce(set_user_role.user_id::text, '(none given)') using errcode = 'SMA17';
  end if;
  -- Anyone may sign up with an address they do not own (a colleague's, a
  -- staff domain's) and wait: a staff role goes only to an account that has
  -- proved its email, as an invitation does when its link is followed.
  if set_user_role.role <> 'driver' and not v_user.is_verified then
    raise exception 'This account has not verified its email; a staff role needs a verified account (or invite them)'
      using errcode = 'SMA19';
  end if;
  -- The role is read at every request's session look-up, so it takes effect
  -- on the user's next request without signing them out.
  update app_public.users u set role = set_user_role.role
  where u.id = v_user.id
  returning u.* into v_user;
  return v_user;
end;
$$;
comment on function app_public.set_user_role(bigint, text) is
  E'Admins only: gives a user another role (driver, operator, admin, analyst, enforcement); not your own; a role other than driver only to a verified account (SMA19). Takes effect on the user''s next request.';

--------------------------------------------------------------------------------
-- Creating users outside sign-up: the CLI and admins' staff invitations

create or replace function app_private.user_create(
  email text, name text, role text, password text default null, invited_by text default null
) returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_name text := app_hidden.assert_name(coalesce(nullif(btrim(name), ''), split_part(btrim(email), '@', 1)));
  v_user_id bigint;
  v_token text;
begin
  perform app_hidden.assert_role(role);
  begin
    -- Whoever creates the account vouches for the address only with a
    -- password; an invitation is verified when its link is followed.
    insert into app_public.users (email, name, role, is_verified)
    values (v_email, v_name, role, password is not null)
    returning id into v_user_id;
  exception when unique_violation then
    raise exception 'An account with this email already exists' using errcode = 'SMA06';
  end;
  if password is not null then
    perform app_private.password_set(v_user_id, app_hidden.assert_password(password, email));
  else
    v_token := app_private.user_token_issue(v_user_id, 'invite', v_email, app_hidden.user_token_valid_for('invite'));
    perform app_private.email_enqueue('staff_invite', v_email, jsonb_build_object(
      'name', v_name, 'role', role, 'invitedBy', coalesce(invited_by, 'Secure My Spot'),
      'token', v_token,
      'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('invite')));
  end if;
  return v_user_id;
end;
$$;
comment on function app_private.user_create(text, text, text, text, text) is
  E'Creates a user with a role (pre-registration): with a password (verified at once), or else with a 7-day invitation link emailed as staff_invite. Used by `npm run cli -- user:create` and invite_staff.';

create or replace function app_public.invite_staff(email text, name text, role text) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_admin app_public.users;
  v_user_id bigint;
  v_user app_public.users;
begin
  select u.* into v_admin from app_public.users u where u.id = app_hidden.assert_admin();
  if role is null or role not in ('operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'Staff are operators, admins, analysts or enforcement officers' using errcode = 'SMA16';
  end if;
  v_user_id := app_private.user_create(email, name, role, null, v_admin.name);
  select u.* into v_user from app_public.users u where u.id = v_user_id;
  return v_user;
end;
$$;
comment on function app_public.invite_staff(text, text, text) is
  E'Admins only: pre-registers a staff member (operator, admin, analyst or enforcement officer) and emails them a link to set a password (7 days). Only pre-registered staff may sign in with Google or Facebook.';

--------------------------------------------------------------------------------
-- Google and Facebook. The server does the OAuth exchange; SQL keeps the
-- state (single use, so a replayed callback is refused) and decides who the
-- provider's answer signs in.

create or replace function app_private.oauth_state_create(
  provider text, state text, code_verifier text, nonce text, intent text, redirect_to text
) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_private.oauth_states (state_hash, provider, code_verifier, nonce, intent, redirect_to, created_at, expires_at)
  values (app_private.token_hash(state), provider, code_verifier, nonce, intent, redirect_to,
          app_hidden.clock_now(), app_hidden.clock_now() + interval '10 minutes');
$$;
comment on function app_private.oauth_state_create(text, text, text, text, text, text) is
  E'Remembers an OAuth round trip''s state, PKCE verifier and nonce for 10 minutes.';

create or replace function app_private.oauth_state_consume(provider text, state text) returns app_private.oauth_states
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.oauth_states s set used_at = app_hidden.clock_now()
  where s.state_hash = app_private.token_hash(oauth_state_consume.state)
    and s.provider = oauth_state_consume.provider
    and s.used_at is null
    and s.expires_at > app_hidden.clock_now()
  returning s.*;
$$;
comment on function app_private.oauth_state_consume(text, text) is
  E'The round trip a callback''s state belongs to, once: null when unknown, expired or already used.';

create or replace function app_private.reclaim_unverified_account(user_id bigint, provider text, name text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
begin
  select u.* into v_user from app_public.users u where u.id = reclaim_unverified_account.user_id;
  -- Their password, sessions, pending email links, other sign-in links and the
  -- name they chose go; the name becomes the one the provider gave.
  update app_public.users u
  set name = coalesce(nullif(btrim(reclaim_unverified_account.name), ''), split_part(u.email::text, '@', 1))
  where u.id = v_user.id
  returning u.* into v_user;
  delete from app_private.user_secrets s where s.user_id = v_user.id;
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = v_user.id and t.used_at is null;
  delete from app_private.user_identities i where i.user_id = v_user.id;
  perform app_private.email_enqueue('account_secured', v_user.email,
    jsonb_build_object('name', v_user.name, 'provider', reclaim_unverified_account.provider));
end;
$$;
comment on function app_private.reclaim_unverified_account(bigint, text, text) is
  E'When a provider-verified sign-in meets an unverified account with its email: takes the provider''s name, removes the password, revokes every session, voids pending email links and other provider links, and emails the owner (account_secured). The caller then links the provider and marks the email verified.';

create or replace function app_private.oauth_sign_in(
  provider text, subject text, email text, email_verified boolean, name text,
  intent text, staff_domains text[], client_ip inet
) returns app_public.auth_session
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_email citext;
  v_session record;
begin
  if subject is null or subject = '' then
    raise exception 'The provider did not say who you are' using errcode = 'SMA13';
  end if;
  select u.* into v_user
  from app_private.user_identities i join app_public.users u on u.id = i.user_id
  where i.provider = oauth_sign_in.provider and i.subject = oauth_sign_in.subject;

  if v_user.id is null then
    if email is null or not app_hidden.email_is_valid(btrim(email)) then
      raise exception 'Your % account has no usable email address', provider using errcode = 'SMA12';
    end if;
    v_email := btrim(email)::citext;
    select u.* into v_user from app_public.users u where u.email = v_email;
    if v_user.id is not null and not coalesce(email_verified, false) then
      -- Linking to an existing account on an address the provider has not
      -- checked would let anyone claim it.
      raise exception 'Your % email address is not verified; sign in with your password', provider using errcode = 'SMA12';
    end if;
    if v_user.id is not null and not v_user.is_verified then
      -- The provider proved the address; whoever made this account did not.
      -- It may be an attacker's, waiting for its owner (pre-hijack): keep
      -- nothing they set.
      perform app_private.reclaim_unverified_account(v_user.id, provider, name);
    end if;
    if v_user.id is null then
      if intent = 'staff' or split_part(v_email::text, '@', 2) ilike any (coalesce(staff_domains, '{}')) then
        raise exception 'This email is not registered as staff; ask an admin to invite you' using errcode = 'SMA12';
      end if;
      insert into app_public.users (email, name, is_verified)
      values (v_email, app_hidden.assert_name(coalesce(nullif(btrim(name), ''), split_part(v_email::text, '@', 1))),
              coalesce(email_verified, false))
      returning * into v_user;
    end if;
    insert into app_private.user_identities (user_id, provider, subject, email, created_at)
    values (v_user.id, provider, subject, v_email, app_hidden.clock_now());
  end if;

  if intent = 'staff' and v_user.role = 'driver' then
    raise exception 'This email is not registered as staff; ask an admin to invite you' using errcode = 'SMA12';
  end if;
  update app_private.user_identities i set last_sign_in_at = app_hidden.clock_now()
  where i.provider = oauth_sign_in.provider and i.subject = oauth_sign_in.subject;
  if coalesce(email_verified, false) and email is not null then
    perform app_private.mark_verified(v_user.id, btrim(email)::citext);
  end if;
  perform app_private.claim_guest_reservations(v_user.id);
  select * into v_session from app_private.session_create(v_user.id, provider, client_ip);
  return (v_user.id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;
comment on function app_private.oauth_sign_in(text, text, text, boolean, text, text, text[], inet) is
  E'Signs in the person a provider vouched for: their linked account, else the account with their (provider-verified) email (an unverified one is first reclaimed: app_private.reclaim_unverified_account), else a new driver — but never a new account on intent ''staff'' or on a staff email domain (error SMA12). Opens a session.';
--! EndIncluded accounts_staff.sql
