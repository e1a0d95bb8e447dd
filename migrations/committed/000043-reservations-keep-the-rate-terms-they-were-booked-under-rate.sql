--! Previous: sha1:d37eae1a26bc7f0ad1c0069659ad0e05f5ed311d
--! Hash: sha1:8786ffb2ca7b8e146244b6f07368d870f4fcda4f
--! Message: Reservations keep the rate terms they were booked under; rates bounded, their hours never overlap; a held reservation ended expires; staff roles only for verified accounts

-- Prices a driver was promised stay promised, and no rate can price the
-- same time twice or beyond what can be charged:
--   * a reservation keeps a copy of its rate's terms (rate_terms); ending it
--     early or moving its end re-prices it from that copy, not from the rate
--     as an operator has changed it since (an early end was priced at a
--     raised rate: 50 times the quote);
--   * a rate's metered windows of one day never overlap (they were summed:
--     one hour metered three times), and prices are bounded so that 7 days
--     at the highest fits an int and a Stripe charge (a price of 2^31-1 made
--     every search over that spot fail);
--   * ending a reservation still held (no card) expires it instead of
--     completing it (which charged a card that does not exist, leaving a
--     payment_failed debt on whatever email the guest typed);
--   * a staff role goes only to a verified account.

-- Rates: bounded prices. Anything above the bound is not a price anyone can
-- be charged; it is lowered to the bound before the check holds.
update app_public.rates
set hourly_price = least(hourly_price, 500000), minimum_charge = least(minimum_charge, 500000)
where hourly_price > 500000 or minimum_charge > 500000;
alter table app_public.rates drop constraint if exists rates_price_bounds;
alter table app_public.rates add constraint rates_price_bounds
  check (hourly_price <= 500000 and minimum_charge <= 500000);

-- Rate hours: windows of one day that overlap are merged (what they metered
-- once, they meter once), then an exclusion constraint keeps them apart.
do $$
begin
  if exists (select from pg_constraint where conname = 'rate_hours_no_overlap') then
    return;
  end if;
  create temp table rate_hours_merged on commit drop as
  with overlapping as (
    select distinct a.rate_id, a.isodow
    from app_public.rate_hours a
    join app_public.rate_hours b
      on b.rate_id = a.rate_id and b.isodow = a.isodow and a.opens < b.opens and b.opens < a.closes
  )
  select h.rate_id, h.isodow,
         unnest(range_agg(tsrange(date '2000-01-03' + h.opens, date '2000-01-03' + h.closes))) as w
  from app_public.rate_hours h
  join overlapping o on o.rate_id = h.rate_id and o.isodow = h.isodow
  group by h.rate_id, h.isodow;
  delete from app_public.rate_hours h
  using rate_hours_merged m where m.rate_id = h.rate_id and m.isodow = h.isodow;
  insert into app_public.rate_hours (rate_id, isodow, opens, closes)
  select m.rate_id, m.isodow, lower(m.w)::time,
         case when upper(m.w) >= date '2000-01-04' then time '24:00' else upper(m.w)::time end
  from rate_hours_merged m;
  -- A day's window as a range of one (arbitrary, fixed) date's timestamps:
  -- 24:00 is the next midnight, so a window to midnight is [opens, 24:00).
  alter table app_public.rate_hours add constraint rate_hours_no_overlap
    exclude using gist (rate_id with =, isodow with =,
                        tsrange(date '2000-01-03' + opens, date '2000-01-03' + closes) with &&);
end;
$$;

-- Reservations: the rate terms they were booked under.
alter table app_public.reservations add column if not exists rate_terms jsonb;
comment on column app_public.reservations.rate_terms is
  E'@behavior -*\nThe rate''s terms when the reservation was made (app_hidden.rate_terms): ending it early or moving its end is priced by them.';

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

create or replace function app_hidden.rate_terms(rate_id int) returns jsonb
  language sql stable
as $$
  select jsonb_build_object(
    'rate', to_jsonb(r),
    'hours', coalesce((select jsonb_agg(h order by h.isodow, h.opens)
                       from app_public.rate_hours h where h.rate_id = r.id), '[]'))
  from app_public.rates r
  where r.id = rate_terms.rate_id;
$$;
comment on function app_hidden.rate_terms(int) is
  E'A rate''s terms as they are now (its row and its metered hours), as a reservation keeps them: the reservation is priced by them for life (quote_terms), whatever becomes of the rate.';

create or replace function app_hidden.quote_terms(terms jsonb, time_window tstzrange) returns app_public.price_quote
  language plpgsql stable
as $$
begin
  return app_hidden.quote_of(
    jsonb_populate_record(null::app_public.rates, quote_terms.terms -> 'rate'),
    array(select jsonb_populate_record(null::app_public.rate_hours, h)
          from jsonb_array_elements(quote_terms.terms -> 'hours') h),
    time_window);
end;
$$;
comment on function app_hidden.quote_terms(jsonb, tstzrange) is
  E'The price of a window under terms kept by rate_terms (quote_of).';

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
  select s.* into v_spot from app_public.spots s where s.id = quote.spot_id;
  if not found then
    raise exception 'There is no spot %', quote.spot_id using errcode = 'SMS04';
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

create or replace function app_hidden.assert_rate_money(hourly_price int, minimum_charge int, currency text) returns void
  language plpgsql stable
as $$
begin
  -- The upper bound keeps every quote chargeable: 7 days (the longest stay)
  -- at 500,000 an hour is 84,000,000, under Stripe's 99,999,999 a charge.
  if hourly_price is null or hourly_price not between 0 and 500000
     or minimum_charge is null or minimum_charge not between 0 and 500000 then
    raise exception 'Prices are whole minor units from 0 to 500000' using errcode = 'SMO08';
  end if;
  if not exists (select from app_hidden.payment_minimums m where m.currency = assert_rate_money.currency) then
    raise exception 'Currency % cannot be charged', currency using errcode = 'SMO08';
  end if;
end;
$$;
comment on function app_hidden.assert_rate_money(int, int, text) is E'Error SMO08 unless the hourly price and the minimum charge are 0 to 500,000 minor units and the currency is chargeable.';

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
      -- The rates' bound (assert_rate_money): a larger price could not be charged for a long stay.
      when round(ltrim(f.hourly_rate, '$ ')::numeric * 100) > 500000 then 'Hourly_Rate is above $5000.00'
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
  if reservation_end_quote.ends_at is null or not isfinite(reservation_end_quote.ends_at) then
    raise exception 'Give the end time to price' using errcode = 'SMB03';
  end if;
  if reservation_end_quote.ends_at <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  if reservation_end_quote.ends_at - lower(v_r.period) > app_hidden.max_stay() then
    raise exception 'A stay may last at most % days', extract(day from app_hidden.max_stay()) using errcode = 'SMB04';
  end if;
  return app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), reservation_end_quote.ends_at, '[)'));
end;
$$;
comment on function app_public.reservation_end_quote(bigint, timestamptz, text) is
  E'What your reservation would cost if it ended at endsAt (now, to end it; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended. Guests pass the manage token (SMB06 otherwise); SMB03 for an end not after the start, SMB04 beyond 7 days.';

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
  v_quote := app_hidden.reservation_quote(v_r, v_window);

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
  E'Moves the end of your reservation (longer or shorter) and re-prices it at the rate it was booked under (a rate changed since does not apply). Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start (SMB03), exceeds the spot''s maximum stay (SMB04), or the reservation is over, cancelled or expired (SMB07).';

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
    raise exception 'There is no reservation %', confirm_held_reservation.reservation_id using errcode = 'SMB06';
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
--! Included reservations_booking.sql
-- Reserving a spot. Security definer because the row is written with a price
-- the caller must not choose and, for guests, a secret the caller must not
-- read back; API roles have no insert grant on reservations at all.

create or replace function app_private.assert_hold_allowed(email citext, user_id bigint, client_ip inet) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_per_address int := app_hidden.holds_per_address();
begin
  -- One script must not hold every spot in the city (a hold costs nothing for
  -- booking_hold_time) nor mail-bomb an address. Counted under a lock per email and
  -- per address, always in that order, so concurrent bookings cannot each
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('holds:email:' || lower(email::text), 0));
  perform pg_advisory_xact_lock(hashtextextended('holds:ip:' || host(client_ip), 0));
  -- Each count starts from the email's, the driver's or the address's own
  -- rows and stops at the limit. Written as single joins (`email = … or
  -- user_id = …`, origins joined to reservations) plpgsql's generic plans read
  -- every held reservation in the city instead, at every booking.
  -- (`offset 0` keeps the deadline out of the index choice: the email's and
  -- the driver's indexes are read, never the index of every hold by deadline.)
  if (select count(*) from (
        (select h.id from (select r.id, r.hold_expires_at from app_public.reservations r
                           where r.status = 'held' and r.email = assert_hold_allowed.email offset 0) h
         where h.hold_expires_at > now())
        union
        (select h.id from (select r.id, r.hold_expires_at from app_public.reservations r
                           where r.status = 'held' and r.user_id = assert_hold_allowed.user_id offset 0) h
         where h.hold_expires_at > now())) held) >= app_hidden.holds_per_driver()
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
  E'Error SMB12 when one more hold would give an email or a signed-in driver more than holds_per_driver (3) active holds (held, not yet expired), or a client address more than holds_per_address (the server''s HOLDS_PER_ADDRESS, 10 by default).';

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
  v_terms   jsonb;
  v_quote   app_public.price_quote;
  v_token   text;
  v_r       app_public.reservations;
  v_ip      inet := app_hidden.client_ip();
  -- The vehicle is optional; a malformed plate is refused (SME01) before anything is written.
  v_plate   text := case when reserve.plate is null then null else app_hidden.plate(reserve.plate) end;
  v_state   text := case when reserve.plate is null then null else app_hidden.plate_state(reserve.plate_state) end;
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
  -- The rate's terms as they are now: this quote and every later re-pricing of
  -- the reservation (ended early, moved end) come from this copy, so a rate
  -- changed afterwards never changes what this driver was promised.
  v_terms := app_hidden.rate_terms(v_spot.rate_id);
  v_quote := app_hidden.quote_terms(v_terms, v_window);
  -- Bookings through the API carry the client's address (every mutation does:
  -- server/request_identity.ts) and are bounded; SQL run by the owner (tests,
  -- maintenance, the CLI) has no client and is not.
  if v_ip is not null then
    perform app_private.assert_hold_allowed(v_email, v_user_id, v_ip);
  end if;

  begin
    insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency, hold_expires_at,
                                         plate, plate_state, rate_terms)
    values (v_spot.id, v_user_id, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
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
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you. Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes. plate and plateState (optional) name the vehicle parked on it, for enforcement (SME01 when malformed). At most 3 holds at once per email or account and 10 per client address (SMB12).';
--! EndIncluded reservations_booking.sql
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
    raise exception 'There is no user %', set_user_role.user_id using errcode = 'SMA17';
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

-- Reservations still to be priced again (held or confirmed) keep their
-- rate's terms as they are today: the closest to what they were quoted.
-- Without the row triggers: nothing a person would call a change happens.
alter table app_public.reservations disable trigger user;
update app_public.reservations r
set rate_terms = app_hidden.rate_terms(s.rate_id)
from app_public.spots s
where s.id = r.spot_id and r.kind = 'reservation' and r.rate_terms is null
  and r.status in ('held', 'confirmed');
alter table app_public.reservations enable trigger user;
