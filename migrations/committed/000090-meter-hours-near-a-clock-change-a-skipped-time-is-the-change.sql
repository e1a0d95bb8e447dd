--! Previous: sha1:27f21d8b17d0d21182e1305b8e93bc69fe67c02f
--! Hash: sha1:b6719e705c1d80427409b2de3c6f2d54723f8d4f
--! Message: Meter hours near a clock change: a skipped time is the change, clocks may move by any amount

-- Meter hours near a clock change were read assuming clocks move by one
-- hour and that a skipped local time is read with the old offset: a meter
-- closing at 02:30 on New York's spring-forward night ran until 03:30 EDT
-- (opening at 02:30, it stayed free until then), and in zones whose clocks
-- move by 30 minutes a meter opened 30 minutes early on the fall-back day.
-- app_hidden.local_instant reads a local time near a change for any shift.
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

create or replace function app_hidden.local_instant(
  local_time timestamp, time_zone text, earliest boolean
) returns timestamptz
  language plpgsql stable
as $$
declare
  v_plain timestamptz := local_time at time zone local_instant.time_zone;
  -- The zone's UTC offset a few hours either side (clocks move by 2 hours at
  -- most, and months apart): different only when they change near here.
  v_before interval := ((v_plain - interval '3 hours') at time zone local_instant.time_zone)
                       - ((v_plain - interval '3 hours') at time zone 'UTC');
  v_after interval := ((v_plain + interval '3 hours') at time zone local_instant.time_zone)
                      - ((v_plain + interval '3 hours') at time zone 'UTC');
  -- The local time read with each offset; a reading is real when the clock shows it then.
  v_with_before timestamptz := (local_time - v_before) at time zone 'UTC';
  v_with_after timestamptz := (local_time - v_after) at time zone 'UTC';
  v_before_real boolean := (v_with_before at time zone local_instant.time_zone) = local_time;
  v_after_real boolean := (v_with_after at time zone local_instant.time_zone) = local_time;
  v_lo timestamptz;
  v_hi timestamptz;
  v_mid timestamptz;
begin
  if v_before = v_after then
    return v_plain;
  elsif v_before_real and v_after_real then
    -- Clocks fell back: this local time happens twice.
    return case when earliest then least(v_with_before, v_with_after) else greatest(v_with_before, v_with_after) end;
  elsif v_before_real then
    return v_with_before;
  elsif v_after_real then
    return v_with_after;
  end if;
  -- Clocks sprang forward over this local time: it never happens, and the
  -- clock passes it at the change. Find that instant (to the second) between
  -- the two readings: before it the clock shows less, from it more.
  v_lo := least(v_with_before, v_with_after);
  v_hi := greatest(v_with_before, v_with_after);
  while v_hi - v_lo > interval '1 second' loop
    v_mid := v_lo + (v_hi - v_lo) / 2;
    if (v_mid at time zone local_instant.time_zone) >= local_time then
      v_hi := v_mid;
    else
      v_lo := v_mid;
    end if;
  end loop;
  return date_trunc('second', v_hi);
end;
$$;
comment on function app_hidden.local_instant(timestamp, text, boolean) is
  E'The instant a local clock time happens in the time zone: the earliest or latest of the two when clocks fall back, the change itself when clocks spring forward over it. For clocks that move by any amount (30 minutes in some zones).';

create or replace function app_hidden.metered_time(
  hours app_public.rate_hours[], time_zone text, time_window tstzrange
) returns interval
  language plpgsql stable
as $$
declare
  v_metered interval;
  v_steady boolean;
begin
  if coalesce(cardinality(metered_time.hours), 0) = 0 then
    return upper(time_window) - lower(time_window);
  end if;
  -- Nearly always the clocks do not change within a day of the window: every
  -- local time then happens once, and reading it is one conversion.
  v_steady := ((lower(time_window) - interval '2 days') at time zone metered_time.time_zone)
                - ((lower(time_window) - interval '2 days') at time zone 'UTC')
              = ((upper(time_window) + interval '2 days') at time zone metered_time.time_zone)
                - ((upper(time_window) + interval '2 days') at time zone 'UTC');
  select sum(upper(o.overlap) - lower(o.overlap)) into v_metered
  -- The local calendar days (dates in the rate's zone) the window touches.
  -- Dates, not timestamptz: a timestamptz day starts at midnight of the
  -- *session's* time zone and would shift every opening hour with it.
  from generate_series(0,
         (upper(time_window) at time zone metered_time.time_zone)::date
           - (lower(time_window) at time zone metered_time.time_zone)::date) as i(n)
  cross join lateral (select (lower(time_window) at time zone metered_time.time_zone)::date + i.n as day) d
  join unnest(metered_time.hours) h on h.isodow = extract(isodow from d.day)
  -- `date + time` is a local time (24:00 is the next midnight). Near a clock
  -- change, local_instant reads it: a meter opens the first time the clock
  -- shows its opening and closes the last time it shows its closing, and a
  -- time the clocks skip is the change itself. The windows of one day never
  -- overlap (rate_hours_no_overlap), so their sum is the metered time.
  cross join lateral (
    select time_window * tstzrange(
      case when v_steady then (d.day + h.opens) at time zone metered_time.time_zone
           else app_hidden.local_instant(d.day + h.opens, metered_time.time_zone, true) end,
      case when v_steady then (d.day + h.closes) at time zone metered_time.time_zone
           else app_hidden.local_instant(d.day + h.closes, metered_time.time_zone, false) end,
      '[)') as overlap
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
