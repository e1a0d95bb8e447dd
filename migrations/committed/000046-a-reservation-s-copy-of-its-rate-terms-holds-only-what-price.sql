--! Previous: sha1:297534c17d2ed659206823efeea5fc9645e60b0d
--! Hash: sha1:5f4b9179ea29fe4b8f65cf8c8d3373b1507b081a
--! Message: A reservation's copy of its rate terms holds only what prices a window, built from the reads that price the booking

-- A reservation's copy of its rate's terms, made cheaper: only the columns
-- that price a window and the hours as [isodow, opens, closes] (about a
-- third of the size; the copy rides in every reservation row and in what its
-- triggers copy), built by reserve() from the same two reads that price the
-- booking instead of a third query and a parse.

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
  v_rate    app_public.rates;
  v_hours   app_public.rate_hours[];
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
  select r.* into v_rate from app_public.rates r where r.id = v_spot.rate_id;
  v_hours := array(select h from app_public.rate_hours h where h.rate_id = v_rate.id);
  v_quote := app_hidden.quote_of(v_rate, v_hours, v_window);
  v_terms := app_hidden.rate_terms_of(v_rate, v_hours);
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

-- Copies made by 000043 ({rate: <rates row>, hours: [<rate_hours rows>]})
-- into the compact form, without the row triggers: nothing a person would
-- call a change happens.
alter table app_public.reservations disable trigger user;
update app_public.reservations r
set rate_terms = app_hidden.rate_terms_of(
  jsonb_populate_record(null::app_public.rates, r.rate_terms -> 'rate'),
  array(select jsonb_populate_record(null::app_public.rate_hours, h)
        from jsonb_array_elements(r.rate_terms -> 'hours') h))
where r.rate_terms ? 'rate';
alter table app_public.reservations enable trigger user;
