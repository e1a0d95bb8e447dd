--! Previous: sha1:fd994d313c1d7d62664a46d57a16fc863dafc8c9
--! Hash: sha1:f8d229ba1d204d5ca04bf944f835c68aec2f5725
--! Message: quotes in plpgsql

-- Quotes run once per search result row; plpgsql keeps their plans per connection.

--! Included quote.sql
-- Prices. A quote is what a window costs at a spot's rate: the metered part of
-- the window (operating hours read in the rate's time zone, so a window across
-- a DST change is priced by the time that really elapses), rounded up to the
-- billing increment, at the hourly price, never below the minimum charge when
-- any of the window is metered.

-- plpgsql rather than sql: these run once per search result row, and plpgsql
-- keeps its query plans for the life of the connection, where a non-inlined
-- sql function is planned again in every query that calls it.

create or replace function app_hidden.metered_time(rate_id int, time_window tstzrange) returns interval
  language plpgsql stable
as $$
declare
  v_time_zone text;
  v_metered interval;
begin
  if not exists (select from app_public.rate_hours h where h.rate_id = metered_time.rate_id) then
    return upper(time_window) - lower(time_window);
  end if;
  select r.time_zone into v_time_zone from app_public.rates r where r.id = metered_time.rate_id;
  select sum(upper(o.overlap) - lower(o.overlap)) into v_metered
  -- Local calendar days the window touches, plus the day before it, whose
  -- hours could run past midnight.
  from generate_series(
         (lower(time_window) at time zone v_time_zone)::date - 1,
         (upper(time_window) at time zone v_time_zone)::date,
         interval '1 day') as d(day)
  join app_public.rate_hours h
    on h.rate_id = metered_time.rate_id and h.isodow = extract(isodow from d.day)
  -- `local timestamp at time zone` gives the real instant, DST included.
  cross join lateral (
    select time_window * tstzrange(
      (d.day + h.opens) at time zone v_time_zone,
      (d.day + h.closes) at time zone v_time_zone, '[)') as overlap
  ) o
  where not isempty(o.overlap);
  return coalesce(v_metered, interval '0');
end;
$$;
comment on function app_hidden.metered_time(int, tstzrange) is
  E'How much of the window falls in the rate''s metered hours (all of it for a rate metered around the clock).';

create or replace function app_hidden.quote_rate(rate_id int, time_window tstzrange) returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_rate app_public.rates;
  v_metered interval;
  v_increment numeric;
  v_amount int;
begin
  select * into v_rate from app_public.rates r where r.id = quote_rate.rate_id;
  if not found then
    return null;
  end if;
  v_metered := app_hidden.metered_time(v_rate.id, time_window);
  v_increment := extract(epoch from v_rate.billing_increment);
  v_amount := case
    when v_metered = interval '0' then 0
    else greatest(
      v_rate.minimum_charge,
      round(ceil(extract(epoch from v_metered) / v_increment) * v_increment * v_rate.hourly_price / 3600.0)::int)
  end;
  return (v_amount, v_rate.currency, v_metered)::app_public.price_quote;
end;
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
