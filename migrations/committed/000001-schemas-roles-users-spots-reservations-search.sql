--! Previous: -
--! Hash: sha1:1c887c04eec71adff3a718a356a64e08e8be5dde
--! Message: foundation

-- Foundation: schemas, API roles' grants, users and sessions (the minimum that
-- current_user_id() needs), rates, spots, reservations and the spot search.
-- The first migration may start from nothing, so it drops what it creates.

drop schema if exists app_public cascade;
drop schema if exists app_hidden cascade;
drop schema if exists app_private cascade;
drop schema if exists analytics cascade;

-- Functions are not executable by PUBLIC unless granted; API roles get
-- execute on what lives in app_public/app_hidden (RLS and security definer
-- bodies decide the rest).
alter default privileges revoke all on functions from public;

create schema app_public;
create schema app_hidden;
create schema app_private;
create schema analytics;

comment on schema app_public is 'Secure My Spot: find, reserve and pay for on-street parking.';

grant usage on schema app_public, app_hidden to app_anonymous;
grant usage on schema analytics to app_analyst;

alter default privileges in schema app_public, app_hidden
  grant usage, select on sequences to app_anonymous;
alter default privileges in schema app_public, app_hidden
  grant execute on functions to app_anonymous;

--------------------------------------------------------------------------------
-- Shared trigger functions

create function app_private.tg__timestamps() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  new.created_at := case when tg_op = 'INSERT' then now() else old.created_at end;
  new.updated_at := case
    when tg_op = 'UPDATE' and old.updated_at >= now() then old.updated_at + interval '1 millisecond'
    else now()
  end;
  return new;
end;
$$;
comment on function app_private.tg__timestamps() is
  E'Keeps created_at fixed and updated_at strictly increasing on every write.';

--------------------------------------------------------------------------------
-- Users and sessions (the accounts issue extends both)

create table app_public.users (
  id          bigint generated always as identity primary key,
  email       citext not null unique
              check (length(email) <= 254 and email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  name        text check (length(name) between 1 and 100),
  role        text not null default 'driver'
              check (role in ('driver', 'operator', 'admin', 'analyst')),
  is_verified boolean not null default false,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
alter table app_public.users enable row level security;
create trigger _100_timestamps before insert or update on app_public.users
  for each row execute procedure app_private.tg__timestamps();
comment on table app_public.users is E'A person who can sign in: a driver, or staff (operator, admin, analyst).';
comment on column app_public.users.email is E'Unique, compared case-insensitively.';
comment on column app_public.users.role is E'driver (default), operator, admin or analyst.';
comment on column app_public.users.is_verified is E'True once the user has proved they own their email address.';

create table app_private.sessions (
  id             uuid primary key default gen_random_uuid(),
  user_id        bigint not null references app_public.users on delete cascade,
  -- Only a hash of the bearer token is kept, so a database dump signs no one in.
  token_hash     bytea not null unique,
  created_at     timestamptz not null default now(),
  last_active_at timestamptz not null default now(),
  revoked_at     timestamptz
);
alter table app_private.sessions enable row level security;
create index sessions_user_id_idx on app_private.sessions (user_id);

--------------------------------------------------------------------------------
-- Rates and spots

create table app_public.rates (
  id                int generated always as identity primary key,
  code              text not null unique,
  name              text not null,
  hourly_price      int not null check (hourly_price >= 0),
  currency          text not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  billing_increment interval not null default interval '1 minute'
                    check (billing_increment > interval '0' and billing_increment <= interval '1 hour'),
  minimum_charge    int not null default 0 check (minimum_charge >= 0),
  time_zone         text not null default 'America/New_York',
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
alter table app_public.rates enable row level security;
create trigger _100_timestamps before insert or update on app_public.rates
  for each row execute procedure app_private.tg__timestamps();
comment on table app_public.rates is E'A meter tariff: price per hour in minor units, billed per increment, metered during its hours.';
comment on column app_public.rates.hourly_price is E'Price of one metered hour in minor units (cents).';
comment on column app_public.rates.billing_increment is E'Metered time is rounded up to a whole number of these.';
comment on column app_public.rates.minimum_charge is E'Least amount charged for a reservation that has any metered time.';
comment on column app_public.rates.time_zone is E'IANA time zone in which the operating hours are read.';

create table app_public.rate_hours (
  rate_id int not null references app_public.rates on delete cascade,
  isodow  int not null check (isodow between 1 and 7),
  opens   time not null,
  closes  time not null check (closes > opens),
  primary key (rate_id, isodow, opens)
);
alter table app_public.rate_hours enable row level security;
comment on table app_public.rate_hours is E'Metered hours of a rate, per ISO weekday (1 = Monday). A rate without rows is metered around the clock; outside these hours parking is free.';
comment on column app_public.rate_hours.closes is E'Local closing time; 24:00 means midnight at the end of the day.';

create table app_public.spots (
  id             bigint generated always as identity primary key,
  external_id    text unique,
  location       geography(point, 4326) not null,
  street         text not null check (length(street) between 1 and 200),
  side_of_street text check (length(side_of_street) <= 20),
  from_street    text check (length(from_street) <= 200),
  to_street      text check (length(to_street) <= 200),
  borough        text check (length(borough) <= 50),
  zone           text check (length(zone) <= 50),
  rate_id        int not null references app_public.rates on delete restrict,
  max_stay       interval not null default interval '2 hours'
                 check (max_stay > interval '0' and max_stay <= interval '7 days'),
  is_accessible  boolean not null default false,
  has_ev_charger boolean not null default false,
  status         text not null default 'active' check (status in ('active', 'out_of_service')),
  meter_hours    text,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
alter table app_public.spots enable row level security;
create index spots_location_idx on app_public.spots using gist (location);
create index spots_rate_id_idx on app_public.spots (rate_id);
create trigger _100_timestamps before insert or update on app_public.spots
  for each row execute procedure app_private.tg__timestamps();
comment on table app_public.spots is E'One on-street parking space (a meter position).';
comment on column app_public.spots.external_id is E'The city''s meter number, used to match imports.';
comment on column app_public.spots.location is E'@behavior -*\nWGS 84 point; exposed as lat/lng.';
comment on column app_public.spots.max_stay is E'Longest reservation this spot accepts.';
comment on column app_public.spots.status is E'active, or out_of_service (never offered).';
comment on column app_public.spots.meter_hours is E'The meter''s posted hours as published by the city, e.g. "2HR Pas Mon-Sat 0900-1900".';
comment on column app_public.spots.zone is E'Operator zone the spot belongs to.';

--------------------------------------------------------------------------------
-- Reservations (the booking issue adds its functions and triggers)

create type app_public.reservation_status as enum
  ('held', 'confirmed', 'completed', 'cancelled', 'expired', 'payment_failed');
comment on type app_public.reservation_status is
  E'held: waiting for card set-up; confirmed: paid for by a set-up card; completed: ended and charged; cancelled; expired: hold never confirmed; payment_failed: the final charge failed.';

create table app_public.reservations (
  id         bigint generated always as identity primary key,
  spot_id    bigint not null references app_public.spots on delete restrict,
  user_id    bigint references app_public.users on delete set null,
  email      citext not null check (length(email) <= 254),
  period     tstzrange not null check (
               not isempty(period) and lower_inc(period) and not upper_inc(period)
               and not lower_inf(period) and not upper_inf(period)),
  status     app_public.reservation_status not null default 'held',
  amount     int not null check (amount >= 0),
  currency   text not null check (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The one guarantee against double booking: two spot-holding reservations
  -- of one spot can never overlap, whatever the application does.
  constraint reservations_no_overlap
    exclude using gist (spot_id with =, period with &&) where (status in ('held', 'confirmed'))
);
alter table app_public.reservations enable row level security;
create index reservations_user_id_idx on app_public.reservations (user_id);
create trigger _100_timestamps before insert or update on app_public.reservations
  for each row execute procedure app_private.tg__timestamps();
comment on table app_public.reservations is E'A spot reserved for a time window by a signed-in driver or a guest.';
comment on column app_public.reservations.period is E'The reserved window, start included, end excluded.';
comment on column app_public.reservations.amount is E'Price in minor units, quoted and locked when the window was set.';

-- Which windows are taken, without who took them: search runs as any role and
-- must see every spot-holding reservation, while reservations' RLS hides them.
-- The view runs with its owner's rights, and exposes nothing personal.
create view app_hidden.spot_occupancy as
  select spot_id, period
  from app_public.reservations
  where status in ('held', 'confirmed');
grant select on app_hidden.spot_occupancy to app_anonymous;

--------------------------------------------------------------------------------
-- Search types

create type app_public.distance_unit as enum ('km', 'mi');
comment on type app_public.distance_unit is E'Kilometres or statute miles.';

create type app_public.price_quote as (
  amount   int,
  currency text,
  metered  interval
);
comment on type app_public.price_quote is E'A price for a window: amount in minor units, currency, and how much of the window is metered.';

create type app_public.spot_match as (
  spot     app_public.spots,
  distance double precision,
  price    app_public.price_quote
);
comment on type app_public.spot_match is E'A spot available for the asked window, its distance in the asked unit and its price for the window.';

--! Included current_user.sql
-- Who the request is. The API sets `app.session_id` through pgSettings; nothing
-- else identifies a caller to SQL.

create or replace function app_public.current_session_id() returns uuid
  language sql stable
as $$
  -- A pooled connection that once saw the setting reports '' rather than null.
  select nullif(current_setting('app.session_id', true), '')::uuid;
$$;
comment on function app_public.current_session_id() is
  E'@behavior -queryField\nThe session of the current request, or null when signed out.';

create or replace function app_public.current_user_id() returns bigint
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select s.user_id
  from app_private.sessions s
  where s.id = app_public.current_session_id()
    and s.revoked_at is null;
$$;
comment on function app_public.current_user_id() is
  E'@behavior -queryField\nThe signed-in user''s id, or null.';

create or replace function app_public.current_user() returns app_public.users
  language sql stable
as $$
  select u.* from app_public.users u where u.id = app_public.current_user_id();
$$;
comment on function app_public.current_user() is E'The signed-in user, or null when signed out.';

create or replace function app_hidden.current_user_is_staff() returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select u.role in ('operator', 'admin') from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;
comment on function app_hidden.current_user_is_staff() is
  E'True when the signed-in user is an operator or an admin.';
--! EndIncluded current_user.sql
--! Included quote.sql
-- Prices. A quote is what a window costs at a spot's rate: the metered part of
-- the window (operating hours read in the rate's time zone, so a window across
-- a DST change is priced by the time that really elapses), rounded up to the
-- billing increment, at the hourly price, never below the minimum charge when
-- any of the window is metered.

create or replace function app_hidden.metered_time(rate_id int, time_window tstzrange) returns interval
  language sql stable
as $$
  select case
    when not exists (select from app_public.rate_hours h where h.rate_id = metered_time.rate_id)
      then upper(metered_time.time_window) - lower(metered_time.time_window)
    else coalesce((
      select sum(upper(overlap) - lower(overlap))
      from app_public.rates r
      -- Local calendar days the window touches, plus the day before it, whose
      -- hours could run past midnight.
      cross join generate_series(
        (lower(metered_time.time_window) at time zone r.time_zone)::date - 1,
        (upper(metered_time.time_window) at time zone r.time_zone)::date,
        interval '1 day') as d(day)
      join app_public.rate_hours h
        on h.rate_id = r.id and h.isodow = extract(isodow from d.day)
      -- `local timestamp at time zone` gives the real instant, DST included.
      cross join lateral (
        select metered_time.time_window * tstzrange(
          (d.day + h.opens) at time zone r.time_zone,
          (d.day + h.closes) at time zone r.time_zone, '[)') as overlap
      ) o
      where r.id = metered_time.rate_id and not isempty(o.overlap)
    ), interval '0')
  end;
$$;
comment on function app_hidden.metered_time(int, tstzrange) is
  E'How much of the window falls in the rate''s metered hours (all of it for a rate metered around the clock).';

create or replace function app_hidden.quote_rate(rate_id int, time_window tstzrange) returns app_public.price_quote
  language sql stable
as $$
  select (
    case when m.seconds = 0 then 0
    else greatest(
      r.minimum_charge,
      round(ceil(m.seconds / extract(epoch from r.billing_increment))
            * extract(epoch from r.billing_increment) * r.hourly_price / 3600.0)::int)
    end,
    r.currency,
    m.metered
  )::app_public.price_quote
  from app_public.rates r
  cross join lateral (
    select t.metered, extract(epoch from t.metered) as seconds
    from app_hidden.metered_time(r.id, quote_rate.time_window) as t(metered)
  ) m
  where r.id = quote_rate.rate_id;
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
--! Included spots.sql
-- Spot fields computed from the stored row, and the plain availability list.

create or replace function app_public.spots_lat(s app_public.spots) returns double precision
  language sql stable
as $$
  select st_y(s.location::geometry);
$$;
comment on function app_public.spots_lat(app_public.spots) is E'Latitude (WGS 84).';

create or replace function app_public.spots_lng(s app_public.spots) returns double precision
  language sql stable
as $$
  select st_x(s.location::geometry);
$$;
comment on function app_public.spots_lng(app_public.spots) is E'Longitude (WGS 84).';

create or replace function app_public.spots_description(s app_public.spots) returns text
  language sql stable
as $$
  select concat_ws(' ',
    s.street,
    case when s.side_of_street is not null then '(' || s.side_of_street || ' side)' end,
    case when s.from_street is not null and s.to_street is not null
      then 'between ' || s.from_street || ' and ' || s.to_street end);
$$;
comment on function app_public.spots_description(app_public.spots) is
  E'Where the spot is, in words: street, side and cross streets.';

create or replace function app_public.available_spots() returns setof app_public.spots
  language sql stable
as $$
  select s.*
  from app_public.spots s
  where s.status = 'active'
    and not exists (
      select from app_hidden.spot_occupancy o
      where o.spot_id = s.id and o.period @> now())
  order by s.id;
$$;
comment on function app_public.available_spots() is
  E'Spots in service that nobody holds right now, by id.';
--! EndIncluded spots.sql
--! Included spots_near.sql
-- Distance search. spots_near stays a single `language sql` select without
-- SET clauses or STRICT so PostgreSQL inlines it into PostGraphile's query:
-- the LIMIT then reaches the KNN scan of spots_location_idx and the search
-- stops after the first page instead of ranking every spot in the radius.

create or replace function app_hidden.unit_metres(unit app_public.distance_unit) returns double precision
  language sql immutable
as $$
  select case unit when 'mi' then 1609.344 else 1000.0 end;
$$;
comment on function app_hidden.unit_metres(app_public.distance_unit) is E'Metres in one unit.';

create or replace function app_hidden.search_point(lat double precision, lng double precision) returns geography
  language plpgsql immutable
as $$
begin
  if lat is null or lng is null or not (lat between -90 and 90) or not (lng between -180 and 180) then
    raise exception 'Latitude must be between -90 and 90 and longitude between -180 and 180'
      using errcode = 'SMS01';
  end if;
  return st_setsrid(st_makepoint(lng, lat), 4326)::geography;
end;
$$;
comment on function app_hidden.search_point(double precision, double precision) is
  E'The point to search around, or error SMS01 for coordinates off the globe.';

create or replace function app_hidden.search_radius_metres(radius double precision, unit app_public.distance_unit)
  returns double precision
  language plpgsql immutable
as $$
begin
  -- 'NaN' sorts above every number in PostgreSQL, so it is refused by name.
  if radius is null or radius = 'NaN' or radius <= 0
     or radius * app_hidden.unit_metres(coalesce(unit, 'km')) > 50000 then
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
    st_distance(s.location, (select app_hidden.search_point(spots_near.lat, spots_near.lng)))
      / app_hidden.unit_metres(coalesce(spots_near.unit, 'km')),
    app_hidden.quote_rate(s.rate_id, (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  from app_public.spots s
  -- Checked before any row is read, so a bad window is refused even where
  -- there are no spots to look at (init plans otherwise run only when used).
  where (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)) is not null
    and st_dwithin(
          s.location,
          (select app_hidden.search_point(spots_near.lat, spots_near.lng)),
          (select app_hidden.search_radius_metres(spots_near.radius, spots_near.unit)))
    and s.status = 'active'
    and s.max_stay >= (select app_hidden.window_length(app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
    and not exists (
      select from app_hidden.spot_occupancy o
      where o.spot_id = s.id
        and o.period && (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  order by s.location <-> (select app_hidden.search_point(spots_near.lat, spots_near.lng));
$$;
comment on function app_public.spots_near(double precision, double precision, double precision, app_public.distance_unit, timestamptz, timestamptz) is
  E'Spots free for the whole window [startsAt, endsAt) within radius of (lat, lng), nearest first. The window defaults to the next hour from now; the radius is in unit (km unless asked) and at most 50 km.';
--! EndIncluded spots_near.sql
--! Included sessions_sweep.sql
create or replace function app_private.sessions_sweep() returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A session no request can use any more is only a liability: drop it.
  with gone as (
    delete from app_private.sessions
    where revoked_at is not null or last_active_at < now() - interval '24 hours'
    returning 1
  )
  select count(*)::int from gone;
$$;
comment on function app_private.sessions_sweep() is
  E'Deletes revoked and idle sessions; returns how many. Run by the sessions__sweep cron task.';
--! EndIncluded sessions_sweep.sql

--------------------------------------------------------------------------------
-- Row level security

grant select on app_public.users to app_user;
grant update (name) on app_public.users to app_user;
create policy select_self on app_public.users for select to app_user
  using (id = (select app_public.current_user_id()) or (select app_hidden.current_user_is_staff()));
create policy update_self on app_public.users for update to app_user
  using (id = (select app_public.current_user_id()));

grant select on app_public.rates, app_public.rate_hours, app_public.spots to app_anonymous;
create policy select_all on app_public.rates for select to app_anonymous using (true);
create policy select_all on app_public.rate_hours for select to app_anonymous using (true);
create policy select_all on app_public.spots for select to app_anonymous using (true);

grant select on app_public.reservations to app_user;
create policy select_own on app_public.reservations for select to app_user
  using (user_id = (select app_public.current_user_id()) or (select app_hidden.current_user_is_staff()));
