--! Previous: sha1:82c90f1ba59666ea8d86fe997f6e757be204df43
--! Hash: sha1:b054d6376f191e3466d44b2c21c6a74933b715de
--! Message: Money and the client API: provider minimums in quotes, refused charges end at once, spotsNear ordered by the distance it reports, expired-hold email, short-stay reminders, confirm_held_reservation, sign-up user, guest manage link

-- Quotes respect the payment provider's least charge per currency, and a
-- charge the provider refuses for good ends at once (no automatic retry).

-- The least amount Stripe charges in each currency (minor units). A quote
-- never goes below it, so what search and booking show is what can be
-- charged; a rate may only use a currency listed here.
create table if not exists app_hidden.payment_minimums (
  currency       text primary key check (currency ~ '^[A-Z]{3}$'),
  minimum_amount int not null check (minimum_amount > 0)
);
comment on table app_hidden.payment_minimums is
  E'The payment provider''s least charge per currency, in minor units (Stripe''s published minimums).';
grant select on app_hidden.payment_minimums to app_anonymous;
insert into app_hidden.payment_minimums (currency, minimum_amount) values
  ('USD', 50), ('AUD', 50), ('BRL', 50), ('CAD', 50), ('CHF', 50), ('EUR', 50), ('INR', 50),
  ('NZD', 50), ('SGD', 50), ('GBP', 30), ('BGN', 100), ('AED', 200), ('MYR', 200), ('PLN', 200),
  ('RON', 200), ('DKK', 250), ('NOK', 300), ('SEK', 300), ('HKD', 400), ('MXN', 1000), ('THB', 1000),
  ('CZK', 1500), ('HUF', 17500), ('JPY', 50)
on conflict (currency) do update set minimum_amount = excluded.minimum_amount;
do $$
begin
  if not exists (select from pg_constraint where conname = 'rates_currency_chargeable_fkey') then
    alter table app_public.rates add constraint rates_currency_chargeable_fkey
      foreign key (currency) references app_hidden.payment_minimums (currency);
  end if;
end
$$;
comment on column app_public.rates.minimum_charge is
  E'Least amount charged for a reservation that has any metered time (the payment provider''s minimum for the currency applies as well).';

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
  -- The local calendar days (dates in the rate's zone) the window touches.
  -- Dates, not timestamptz: a timestamptz day starts at midnight of the
  -- *session's* time zone and would shift every opening hour with it.
  from generate_series(0,
         (upper(time_window) at time zone v_time_zone)::date
           - (lower(time_window) at time zone v_time_zone)::date) as i(n)
  cross join lateral (select (lower(time_window) at time zone v_time_zone)::date + i.n as day) d
  join app_public.rate_hours h
    on h.rate_id = metered_time.rate_id and h.isodow = extract(isodow from d.day)
  -- `date + time` is a local timestamp; `at time zone` turns it into the real
  -- instant, DST included (24:00 is the next midnight). A local time that
  -- happens twice (01:30 when clocks fall back) reads as the later instant,
  -- right for closing; a meter opens at the earlier one: the local time an
  -- hour before, plus an hour (least(): never later than the plain reading).
  cross join lateral (
    select time_window * tstzrange(
      least((d.day + h.opens) at time zone v_time_zone,
            ((d.day + h.opens) - interval '1 hour') at time zone v_time_zone + interval '1 hour'),
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
      (select m.minimum_amount from app_hidden.payment_minimums m where m.currency = v_rate.currency),
      round(ceil(extract(epoch from v_metered) / v_increment) * v_increment * v_rate.hourly_price / 3600.0)::int)
  end;
  return (v_amount, v_rate.currency, v_metered)::app_public.price_quote;
end;
$$;
comment on function app_hidden.quote_rate(int, tstzrange) is
  E'The price of a window at a rate, in the rate''s minor units: nothing when none of it is metered, else never below the rate''s minimum charge or the payment provider''s minimum for the currency.';

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

drop function if exists app_private.charge_failed(bigint, int, text, text, text);
--! Included payments_charge.sql
-- Payment keys (every Stripe idempotency key of a reservation) and the final
-- off-session charge's state, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

create or replace function app_private.payment_key(reservation_id bigint, what text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours).
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || payment_key.what
  from app_public.reservations r where r.id = payment_key.reservation_id;
$$;
comment on function app_private.payment_key(bigint, text) is
  E'The Stripe idempotency key of one request about a reservation (what: setup-1, charge-2, …).';

create or replace function app_private.charge_retry_delay(attempt int) returns interval
  language sql immutable
as $$
  -- After a decline or authentication_required: retry 1 day, then 3 days,
  -- then 7 days after each failed attempt; after the 4th attempt stop and
  -- leave it to the driver's pay link (or an operator).
  select case charge_retry_delay.attempt
    when 1 then interval '1 day'
    when 2 then interval '3 days'
    when 3 then interval '7 days'
  end;
$$;
comment on function app_private.charge_retry_delay(int) is
  E'How long after failed attempt N the charge is retried (1 d, 3 d, 7 d); null = no more automatic retries.';

create or replace function app_private.charge_prepare(reservation_id bigint) returns jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_c app_private.charges;
  v_customer text;
  v_pm text;
begin
  select r.* into v_r from app_public.reservations r where r.id = charge_prepare.reservation_id for update;
  if v_r.id is null then
    return jsonb_build_object('action', 'skip', 'reason', 'no such reservation');
  end if;
  select c.* into v_c from app_private.charges c where c.reservation_id = v_r.id for update;

  if v_c.id is not null then
    if v_c.status in ('succeeded', 'not_required', 'processing') then
      return jsonb_build_object('action', 'skip', 'reason', 'charge ' || v_c.status);
    elsif v_c.status = 'failed' then
      if v_r.status <> 'payment_failed' or v_c.next_retry_at is null then
        return jsonb_build_object('action', 'skip', 'reason', 'no retry scheduled');
      end if;
      if v_c.next_retry_at > now() then
        return jsonb_build_object('action', 'skip', 'reason', 'retry not due until ' || v_c.next_retry_at);
      end if;
      -- A new attempt after a decline is a new request: a new key (the old
      -- key would only replay the decline).
      update app_private.charges c
      set attempt = c.attempt + 1,
          idempotency_key = app_private.payment_key(v_r.id, 'charge-' || (c.attempt + 1)),
          status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
      where c.id = v_c.id
      returning * into v_c;
    end if;
    -- 'pending': an earlier run died or lost its answer; same key again.
  else
    if v_r.status <> 'completed' then
      return jsonb_build_object('action', 'skip', 'reason', 'reservation is ' || v_r.status);
    end if;
    insert into app_private.charges (reservation_id, amount, currency, idempotency_key)
    values (v_r.id, v_r.amount, v_r.currency, app_private.payment_key(v_r.id, 'charge-1'))
    returning * into v_c;
  end if;

  if v_c.amount = 0 then
    -- Nothing to charge (all of it free time): no Stripe call, still a receipt.
    update app_private.charges c set status = 'not_required', succeeded_at = now() where c.id = v_c.id;
    perform app_private.email_enqueue('receipt', v_r.email,
      app_private.payment_email_data(v_r.id) || jsonb_build_object('amount', 0),
      'receipt:' || v_r.id);
    return jsonb_build_object('action', 'skip', 'reason', 'nothing to charge');
  end if;

  select cu.stripe_customer_id, si.payment_method into v_customer, v_pm
  from app_private.setup_intents si
  join app_private.stripe_customers cu on cu.id = si.customer_id
  where si.reservation_id = v_r.id and si.status = 'succeeded';

  return jsonb_build_object(
    'action', case when v_pm is null or v_customer is null then 'no_card' else 'charge' end,
    'chargeId', v_c.id,
    'reservationId', v_r.id,
    'attempt', v_c.attempt,
    'amount', v_c.amount,
    'currency', lower(v_c.currency),
    'idempotencyKey', v_c.idempotency_key,
    'customer', v_customer,
    'paymentMethod', v_pm);
end;
$$;
comment on function app_private.charge_prepare(bigint) is
  E'Makes (or finds) the charge row of a completed reservation and commits its idempotency key before Stripe is called; says whether to charge, and with what.';

create or replace function app_private.charge_succeeded(charge_id bigint, attempt int, payment_intent_id text)
  returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
begin
  update app_private.charges c
  set status = 'succeeded', stripe_payment_intent_id = charge_succeeded.payment_intent_id,
      succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
  where c.id = charge_succeeded.charge_id and c.attempt = charge_succeeded.attempt
    and c.status in ('pending', 'processing')
  returning * into v_c;
  if v_c.id is null then
    return false;
  end if;
  -- Paid after a failure: the reservation is complete again.
  update app_public.reservations r set status = 'completed'
  where r.id = v_c.reservation_id and r.status = 'payment_failed';
  perform app_private.email_enqueue('receipt', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency, 'paymentIntent', v_c.stripe_payment_intent_id),
    'receipt:' || r.id)
  from app_public.reservations r where r.id = v_c.reservation_id;
  return true;
end;
$$;
comment on function app_private.charge_succeeded(bigint, int, text) is
  E'Records a successful charge attempt and queues the receipt email (once per reservation).';

create or replace function app_private.charge_failed(
  charge_id bigint, attempt int, failure_code text, failure_message text, payment_intent_id text,
  retryable boolean default true
) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  -- A request the provider refuses as such (amount below its minimum, a card
  -- or customer gone) fails the same way every time: no automatic retry, only
  -- the driver's new card (or an operator) can settle it.
  v_retry timestamptz := case when charge_failed.retryable
    then now() + app_private.charge_retry_delay(charge_failed.attempt) end;
begin
  update app_private.charges c
  set status = 'failed', failure_code = charge_failed.failure_code,
      failure_message = left(charge_failed.failure_message, 500),
      stripe_payment_intent_id = coalesce(charge_failed.payment_intent_id, c.stripe_payment_intent_id),
      next_retry_at = v_retry
  where c.id = charge_failed.charge_id and c.attempt = charge_failed.attempt and c.status = 'pending'
  returning * into v_c;
  if v_c.id is null then
    return null;
  end if;
  update app_public.reservations r set status = 'payment_failed'
  where r.id = v_c.reservation_id and r.status = 'completed';
  perform app_private.email_enqueue('payment_failed', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency,
                            'failureCode', v_c.failure_code, 'attempt', v_c.attempt, 'nextRetryAt', v_retry,
                            'providerRefused', not charge_failed.retryable),
    'payment_failed:' || r.id || ':' || v_c.attempt)
  from app_public.reservations r where r.id = v_c.reservation_id;
  if v_retry is not null then
    -- Priority 5: when it falls due in a burst, new charges go first.
    perform app_private.queue_reservation_jobs('reservation__charge', array[v_c.reservation_id],
      run_at => v_retry, priority => 5);
  end if;
  return v_retry;
end;
$$;
comment on function app_private.charge_failed(bigint, int, text, text, text, boolean) is
  E'Records a failed attempt: the reservation becomes payment_failed, the driver is emailed a link to pay, and for a decline (retryable) the next retry is scheduled (see charge_retry_delay); a request the provider refused as such (not retryable) is not retried.';

create or replace function app_private.charge_retry_now(reservation_id bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.charges c set next_retry_at = now()
  where c.reservation_id = charge_retry_now.reservation_id and c.status = 'failed'
    and exists (select from app_public.reservations r
                where r.id = charge_retry_now.reservation_id and r.status = 'payment_failed');
  if found then
    perform app_private.queue_reservation_jobs('reservation__charge', array[charge_retry_now.reservation_id]);
  end if;
  return found;
end;
$$;
comment on function app_private.charge_retry_now(bigint) is
  E'A failed charge whose reservation got a new card: its next attempt is due now and queued; false when there is no failed charge to retry.';

create or replace function app_private.charge_requeue(reservation_id bigint, run_at timestamptz, max_attempts int, priority int)
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The running job's key moves to this new job (graphile-worker gives a
  -- locked job's key to the new one), so the running one just ends.
  select app_private.queue_reservation_jobs('reservation__charge', array[charge_requeue.reservation_id],
    run_at => charge_requeue.run_at, priority => charge_requeue.priority,
    max_attempts => charge_requeue.max_attempts);
$$;
comment on function app_private.charge_requeue(bigint, timestamptz, int, int) is
  E'Runs a charge job again at run_at without counting the attempt that is ending (Stripe answered 429: nothing was charged); max_attempts is what the job had left, priority what it had.';
--! EndIncluded payments_charge.sql

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
    (s.location <-> (select app_hidden.search_point(spots_near.lat, spots_near.lng)))
      / app_hidden.unit_metres(coalesce(spots_near.unit, 'km')),
    app_hidden.quote_rate(s.rate_id, (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  from app_public.spots s
  -- Checked before any row is read, so a bad window is refused even where
  -- there are no spots to look at (init plans otherwise run only when used).
  where (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)) is not null
    and st_dwithin(
          s.location,
          (select app_hidden.search_point(spots_near.lat, spots_near.lng)),
          (select app_hidden.search_radius_metres(spots_near.radius, spots_near.unit)),
          false)
    and s.status = 'active'
    and s.max_stay >= (select app_hidden.window_length(app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
    and not exists (
      select from app_hidden.spot_occupancy o
      where o.spot_id = s.id
        and o.period && (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  order by s.location <-> (select app_hidden.search_point(spots_near.lat, spots_near.lng));
$$;
comment on function app_public.spots_near(double precision, double precision, double precision, app_public.distance_unit, timestamptz, timestamptz) is
  E'Spots free for the whole window [startsAt, endsAt) within radius of (lat, lng), nearest first by the distance reported (great-circle, on a sphere of the Earth''s mean radius). The window defaults to the next hour from now; the radius is in unit (km unless asked) and at most 50 km.';
--! EndIncluded spots_near.sql

-- Emails and reminders a user sees: an expired hold has its own email
-- (reservation_expired, not "cancelled"); short stays get a reminder a quarter
-- of the stay before the end.
--! Included reservations_rules.sql
-- The booking rules' constants and the checks every booking function shares.
-- A constant lives in one immutable function so SQL, tests and README quote
-- the same number.

create or replace function app_hidden.booking_hold_time() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_hold_time() is
  E'How long a new reservation stays held without confirmed payment set-up before it expires (capped at its end).';

create or replace function app_hidden.booking_reminder_lead() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_reminder_lead() is
  E'How long before a confirmed reservation ends its driver gets a reminder (less for stays under an hour: booking_reminder_at).';

create or replace function app_hidden.booking_reminder_at(period tstzrange) returns timestamptz
  language sql immutable
as $$
  -- A stay under an hour is reminded a quarter of its length before its end
  -- (a 2-minute stay: 30 s before), so a short stay still gets its reminder
  -- while there is time left to extend.
  select upper(period) - least(app_hidden.booking_reminder_lead(), (upper(period) - lower(period)) / 4);
$$;
comment on function app_hidden.booking_reminder_at(tstzrange) is
  E'When the reminder of a stay is due: 15 minutes before its end, or a quarter of the stay before its end when it lasts under an hour.';

create or replace function app_hidden.booking_horizon() returns interval
  language sql immutable as $$ select interval '90 days' $$;
comment on function app_hidden.booking_horizon() is
  E'How far ahead a reservation may start (the same as search''s horizon).';

create or replace function app_hidden.booking_start_grace() returns interval
  language sql immutable as $$ select interval '5 minutes' $$;
comment on function app_hidden.booking_start_grace() is
  E'A start this little in the past (a slow phone, a skewed clock) is read as "now"; earlier is refused.';

create or replace function app_hidden.block_max_length() returns interval
  language sql immutable as $$ select interval '366 days' $$;
comment on function app_hidden.block_max_length() is E'Longest single operator block.';

create or replace function app_hidden.human_duration(d interval) returns text
  language sql immutable
as $$
  -- 90 minutes -> "1 h 30 min"; 2 hours -> "2 h"; days are written as hours.
  select concat_ws(' ',
    case when floor(extract(epoch from d) / 3600) > 0 then floor(extract(epoch from d) / 3600)::bigint || ' h' end,
    case when floor(extract(epoch from d) / 60)::bigint % 60 > 0 then (floor(extract(epoch from d) / 60)::bigint % 60) || ' min' end);
$$;
comment on function app_hidden.human_duration(interval) is E'A length of time in words a driver reads (h, min).';

create or replace function app_hidden.lock_spot(spot_id bigint) returns void
  language sql volatile
as $$
  -- One advisory lock per spot, held to the end of the transaction. Writers of
  -- a spot's periods queue here instead of on each other's uncommitted index
  -- entries in the exclusion constraint (which collapses throughput under
  -- contention); the constraint stays the guarantee. Key space 7340 = 'booking'.
  -- Rule: every write that leaves a row spot-holding (insert, new period,
  -- held -> confirmed) takes this lock first, after the row lock if it has
  -- one; writes that free a spot (cancel, end, expire) need not.
  -- Otherwise two writers can wait on each other's index entries: a deadlock.
  select pg_advisory_xact_lock(7340, (lock_spot.spot_id % 2147483647)::int);
$$;
comment on function app_hidden.lock_spot(bigint) is
  E'Serialises the writers of one spot''s reservations until the transaction ends.';

create or replace function app_hidden.booking_window(
  starts_at timestamptz, ends_at timestamptz, duration_minutes int
) returns tstzrange
  language plpgsql stable
as $$
declare
  v_start timestamptz := coalesce(booking_window.starts_at, now());
  v_end   timestamptz;
begin
  if not isfinite(v_start) then
    raise exception 'The start time is not a real date and time' using errcode = 'SMB03';
  end if;
  if v_start < now() - app_hidden.booking_start_grace() then
    raise exception 'The start time is in the past; pick a time from now on' using errcode = 'SMB03';
  end if;
  v_start := greatest(v_start, now());
  if v_start > now() + app_hidden.booking_horizon() then
    raise exception 'Reservations can start at most % days ahead',
      extract(day from app_hidden.booking_horizon()) using errcode = 'SMB05';
  end if;
  if booking_window.ends_at is not null and booking_window.duration_minutes is not null then
    raise exception 'Give an end time or a duration, not both' using errcode = 'SMB03';
  elsif booking_window.duration_minutes is not null then
    if booking_window.duration_minutes <= 0 then
      raise exception 'The duration must be at least one minute' using errcode = 'SMB03';
    end if;
    v_end := v_start + make_interval(mins => booking_window.duration_minutes);
  elsif booking_window.ends_at is not null then
    if not isfinite(booking_window.ends_at) then
      raise exception 'The end time is not a real date and time' using errcode = 'SMB03';
    end if;
    v_end := booking_window.ends_at;
  else
    raise exception 'Give an end time or a duration' using errcode = 'SMB03';
  end if;
  if v_end <= v_start then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  return tstzrange(v_start, v_end, '[)');
end;
$$;
comment on function app_hidden.booking_window(timestamptz, timestamptz, int) is
  E'The window [start, end) a reservation asks for: start defaults to now, the end is given or start + duration. Errors SMB03 (bad window) or SMB05 (beyond the horizon).';

create or replace function app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) returns void
  language plpgsql stable
as $$
begin
  if upper(time_window) - lower(time_window) > spot.max_stay then
    raise exception 'This spot can be reserved for at most %', app_hidden.human_duration(spot.max_stay)
      using errcode = 'SMB04';
  end if;
end;
$$;
comment on function app_hidden.assert_max_stay(app_public.spots, tstzrange) is
  E'Error SMB04 when the window is longer than the spot''s maximum stay.';

create or replace function app_hidden.guest_email(email text) returns citext
  language plpgsql immutable
as $$
begin
  if email is null or btrim(email) = '' then
    raise exception 'Sign in, or give an email address to reserve as a guest' using errcode = 'SMB08';
  end if;
  -- The same rule as users.email.
  if length(btrim(email)) > 254 or btrim(email) !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'That email address does not look right' using errcode = 'SMB08';
  end if;
  return btrim(email)::citext;
end;
$$;
comment on function app_hidden.guest_email(text) is E'A guest''s email, trimmed, or error SMB08.';

create or replace function app_hidden.iso_time(t timestamptz) returns text
  language sql immutable
as $$
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;
comment on function app_hidden.iso_time(timestamptz) is E'ISO 8601 in UTC, whatever the session time zone.';
--! EndIncluded reservations_rules.sql
--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the reminder time and the emails
-- of every change, in the transaction that made it; and the one function that
-- queues a reservation's jobs. Security definer because app_private's tables
-- are the owner's alone, and the writer may be any API role.
-- force_generic_plan: plpgsql otherwise re-plans these statements with custom
-- plans on the first calls of every connection (graphile_worker.add_jobs
-- measured 0.85 ms per call, 0.3 ms with generic plans).

create or replace function app_hidden.reservation_email_data(r app_public.reservations) returns jsonb
  language sql stable
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'reservationId', r.id,
    'spotId', r.spot_id,
    'spot', app_public.spots_description(s),
    'startsAt', app_hidden.iso_time(lower(r.period)),
    'endsAt', app_hidden.iso_time(upper(r.period)),
    'timeZone', rt.time_zone,
    'amount', r.amount,
    'currency', r.currency,
    'status', r.status,
    'holdExpiresAt', app_hidden.iso_time(r.hold_expires_at),
    'isGuest', r.user_id is null,
    -- The SPA page that asks for the manage code; the token itself is never stored.
    'manageLinkPath', case when r.user_id is null then '/reservations/' || r.id || '/manage' end))
  from app_public.spots s
  join app_public.rates rt on rt.id = s.rate_id
  where s.id = r.spot_id;
$$;
comment on function app_hidden.reservation_email_data(app_public.reservations) is
  E'What every reservation email''s template receives (see README: email data keys).';

create or replace function app_private.tg_reservations__audit() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_action text;
begin
  if tg_op = 'INSERT' then
    v_action := case when new.kind = 'block' then 'blocked' else 'reserved' end;
  elsif new.status is distinct from old.status then
    v_action := new.status::text;                  -- confirmed, cancelled, completed, expired, …
  elsif new.period is distinct from old.period then
    v_action := 'end_changed';
  elsif new.amount is distinct from old.amount or new.hold_expires_at is distinct from old.hold_expires_at then
    v_action := 'updated';
  else
    return null;                                   -- nothing a person would call a change
  end if;
  insert into app_private.reservation_events
    (reservation_id, action, old_status, new_status, old_period, new_period, old_amount, new_amount,
     actor_user_id, actor_role)
  values
    (new.id, v_action,
     case when tg_op = 'UPDATE' then old.status end, new.status,
     case when tg_op = 'UPDATE' then old.period end, new.period,
     case when tg_op = 'UPDATE' then old.amount end, new.amount,
     app_public.current_user_id(),
     -- SECURITY DEFINER changes current_user, not the `role` setting the API set.
     coalesce(nullif(current_setting('role', true), 'none'), 'system:' || session_user));
  return null;
end;
$$;
comment on function app_private.tg_reservations__audit() is E'Writes the audit row of each insert and change.';

-- Due work lives in the reservation row itself, not in one future job per
-- reservation: its end (upper(period)), its hold deadline (hold_expires_at)
-- and its reminder (remind_at). app_private.due_work_sweep finds what fell
-- due (indexed, SKIP LOCKED) and queues only work that is due now. Booking
-- therefore queues no job: each add_job NOTIFYs, even for a future run_at,
-- and NOTIFYing commits serialise on one cluster-wide lock (STACK-NOTES §11:
-- three keyed add_jobs took booking from ~2,200 to ~450 tx/s at 8 clients).

create or replace function app_private.tg_reservations__remind_at() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_remind_at timestamptz;
begin
  if new.kind <> 'reservation' or new.status <> 'confirmed' then
    new.remind_at := null;
  elsif tg_op = 'INSERT' or new.status is distinct from old.status or new.period is distinct from old.period then
    -- A reminder only when it would come after the start and in the future
    -- (one confirmed too late for it gets none); a stay under an hour is
    -- reminded a quarter of its length before its end (booking_reminder_at).
    v_remind_at := app_hidden.booking_reminder_at(new.period);
    new.remind_at := case when v_remind_at > greatest(now(), lower(new.period)) then v_remind_at end;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_reservations__remind_at() is
  E'Sets remind_at, when the due-work sweep emails a confirmed reservation''s reminder (booking_reminder_at: 15 minutes before its end, a quarter of the stay for one under an hour); moved with the end, cleared once it is no longer confirmed.';

create or replace function app_private.reservation_job_key(task text, reservation_id bigint) returns text
  language sql immutable
as $$
  -- reservation__charge -> reservation_charge:<id>
  select replace(reservation_job_key.task, '__', '_') || ':' || reservation_job_key.reservation_id;
$$;
comment on function app_private.reservation_job_key(text, bigint) is
  E'The graphile-worker job key of a reservation''s job: one waiting job per task and reservation (queuing again replaces it).';

create or replace function app_private.queue_reservation_jobs(
  task text,
  reservation_ids bigint[],
  run_at timestamptz default null,
  priority int default 0,
  max_attempts int default 10
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
begin
  if coalesce(cardinality(queue_reservation_jobs.reservation_ids), 0) = 0 then
    return;
  end if;
  -- One add_jobs call, one NOTIFY, however many reservations.
  perform graphile_worker.add_jobs(array(
    select (queue_reservation_jobs.task, json_build_object('reservationId', id), null,
            coalesce(queue_reservation_jobs.run_at, now()), queue_reservation_jobs.max_attempts,
            app_private.reservation_job_key(queue_reservation_jobs.task, id),
            queue_reservation_jobs.priority, null)::graphile_worker.job_spec
    from unnest(queue_reservation_jobs.reservation_ids) id));
end;
$$;
comment on function app_private.queue_reservation_jobs(text, bigint[], timestamptz, int, int) is
  E'Every job of a reservation is queued here, keyed by reservation_job_key: one add_jobs call for many reservations. Priority: lower runs first (new charges 0, retries of old failures 5, emails 10).';

create or replace function app_private.tg_reservations__notify() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_template text;
  v_key      text;
  v_data     jsonb;
begin
  if new.kind <> 'reservation' then
    return null;
  end if;
  if tg_op = 'INSERT' then
    v_template := 'reservation_held';
    v_key := v_template || ':' || new.id;
  elsif new.status is distinct from old.status then
    v_template := case new.status
      when 'confirmed' then 'reservation_confirmed'
      when 'cancelled' then 'reservation_cancelled'
      when 'expired'   then 'reservation_expired'
      when 'completed' then 'reservation_ended'
    end;  -- payment_failed: the payments code writes that email
    v_key := v_template || ':' || new.id;
  elsif new.period is distinct from old.period and app_hidden.holds_spot(new.status) then
    v_template := 'reservation_changed';
    v_key := v_template || ':' || new.id || ':' || extract(epoch from new.updated_at);
  end if;
  if v_template is null then
    return null;
  end if;
  v_data := app_hidden.reservation_email_data(new);
  if v_template = 'reservation_cancelled' then
    v_data := v_data || jsonb_build_object('reason',
      case when app_hidden.current_user_is_staff() and new.user_id is distinct from app_public.current_user_id() then 'cancelled_by_operator'
           else 'cancelled' end);
  elsif v_template = 'reservation_changed' then
    v_data := v_data || jsonb_build_object(
      'previousEndsAt', app_hidden.iso_time(upper(old.period)), 'previousAmount', old.amount);
  end if;
  perform app_private.email_enqueue(v_template, new.email, v_data, v_key);
  return null;
end;
$$;
comment on function app_private.tg_reservations__notify() is
  E'Queues the email of each change: reservation_held, _confirmed, _changed, _cancelled, _expired (a hold never confirmed), _ended.';
--! EndIncluded reservations_triggers.sql

-- One name per job: booking's held -> confirmed is confirm_held_reservation;
-- the payments wrapper that mirrored its name is gone (setup_intent_apply
-- hands a held reservation over itself).
--! Included reservations_lifecycle.sql
-- A reservation's life after it is made: change its end, end it now, cancel
-- it, confirm its payment set-up, and what the scheduled jobs do at its hold
-- deadline, before its end and at its end. States:
--   held -> confirmed -> completed (-> payment_failed, by the payments code)
--   held -> expired (hold deadline passed, or its end came while still held)
--   held | confirmed -> cancelled (before the start, free of charge)

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
  v_quote := app_hidden.quote_rate(v_spot.rate_id, v_window);

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
  E'Moves the end of your reservation (longer or shorter) and re-prices it. Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start (SMB03), exceeds the spot''s maximum stay (SMB04), or the reservation is over, cancelled or expired (SMB07).';

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
    v_quote := app_hidden.quote_rate((select s.rate_id from app_public.spots s where s.id = v_r.spot_id),
                                     tstzrange(lower(v_r.period), v_end, '[)'));
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
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used (never less than the rate''s minimum charge) and the spot is free again. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

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
  -- Their charges, in one add_jobs call.
  perform app_private.queue_reservation_jobs('reservation__charge', v_completed);
  return v_ended;
end;
$$;
comment on function app_private.reservations_end_due(int) is
  E'Ends reservations whose end has come: confirmed -> completed (spot free, charge queued), still held -> expired. At most max_rows; returns how many.';

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
  select count(app_private.email_enqueue('reservation_reminder', m.email,
           app_hidden.reservation_email_data(m::app_public.reservations),
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  where m.status = 'confirmed' and upper(m.period) > now();
$$;
comment on function app_private.reminders_send_due(int) is
  E'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';
--! EndIncluded reservations_lifecycle.sql
--! Included payments_access.sql
-- Payments: the data payment emails carry. Who may pay for a reservation is
-- booking's one access decision, app_private.reservation_for_caller
-- (reservations_access.sql); a set-up card confirms the reservation through
-- booking's app_private.confirm_held_reservation (payments_setup.sql).

create or replace function app_private.payment_email_data(reservation_id bigint) returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The same fields as booking's emails (spot, window, time zone, amount, manage link path).
  select app_hidden.reservation_email_data(r)
  from app_public.reservations r
  where r.id = payment_email_data.reservation_id;
$$;
comment on function app_private.payment_email_data(bigint) is
  E'What receipt and payment_failed emails show: booking''s reservation email data.';
--! EndIncluded payments_access.sql
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

create or replace function app_private.setup_intent_json(si app_private.setup_intents, reservation app_public.reservations)
  returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select jsonb_build_object(
    'reservationId', reservation.id,
    'reservationStatus', reservation.status,
    'email', reservation.email,
    'userId', reservation.user_id,
    'customerRowId', c.id,
    'customerKey', c.idempotency_key,
    'stripeCustomerId', c.stripe_customer_id,
    'generation', si.generation,
    'setupKey', si.idempotency_key,
    'setupIntentId', si.stripe_setup_intent_id,
    'clientSecret', si.client_secret,
    'setupStatus', si.status)
  from app_private.stripe_customers c
  where c.id = si.customer_id;
$$;

create or replace function app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_customer_id bigint;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_prepare.reservation_id, payment_setup_prepare.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id for update;

  if v_r.status not in ('held', 'payment_failed') then
    -- Asking again once the card is set up returns the same answer.
    if v_si.status = 'succeeded' then
      return app_private.setup_intent_json(v_si, v_r);
    end if;
    raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
      v_r.id, v_r.status using errcode = 'SMP02';
  end if;

  if v_r.user_id is not null then
    insert into app_private.stripe_customers (user_id, idempotency_key)
    values (v_r.user_id, 'smp-cus-' || gen_random_uuid())
    on conflict (user_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.user_id = v_r.user_id;
  else
    insert into app_private.stripe_customers (guest_email, idempotency_key)
    values (v_r.email, 'smp-cus-' || gen_random_uuid())
    on conflict (guest_email) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.guest_email = v_r.email;
  end if;

  if v_si.reservation_id is null then
    insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key)
    values (v_r.id, v_customer_id, app_private.payment_key(v_r.id, 'setup-1'))
    returning * into v_si;
  elsif v_r.status = 'payment_failed' and v_si.status = 'succeeded' then
    -- The card on file was declined: set up a new one under a new key.
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1)),
        customer_id = v_customer_id,
        stripe_setup_intent_id = null, client_secret = null, status = 'new',
        payment_method = null, succeeded_at = null
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_prepare(bigint, text) is
  E'Authorises the caller, makes (or finds) the Stripe customer and set-up rows of a held or payment-failed reservation with their idempotency keys, and returns what the Stripe calls need.';

create or replace function app_hidden.payment_customer_record(
  reservation_id bigint, manage_token text, stripe_customer_id text
) returns text
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_id text;
begin
  v_r := app_private.reservation_for_caller(payment_customer_record.reservation_id, payment_customer_record.manage_token, true);
  -- A concurrent request made the same call with the same key and got the same
  -- customer; the first one recorded wins either way.
  update app_private.stripe_customers c
  set stripe_customer_id = coalesce(c.stripe_customer_id, payment_customer_record.stripe_customer_id)
  from app_private.setup_intents si
  where si.reservation_id = v_r.id and c.id = si.customer_id
  returning c.stripe_customer_id into v_id;
  return v_id;
end;
$$;
comment on function app_hidden.payment_customer_record(bigint, text, text) is
  E'Records the Stripe customer id of the reservation''s customer (first write wins); returns the recorded id.';

create or replace function app_private.setup_intent_apply(reservation_id bigint, intent jsonb) returns app_private.setup_intents
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_si app_private.setup_intents;
  v_status text := intent->>'status';
begin
  update app_private.setup_intents si
  set stripe_setup_intent_id = coalesce(si.stripe_setup_intent_id, intent->>'id'),
      client_secret = coalesce(si.client_secret, intent->>'client_secret'),
      -- Never back from succeeded: a stale read must not undo a set-up.
      status = case when si.status = 'succeeded' then si.status else v_status end,
      payment_method = case when si.status = 'succeeded' then si.payment_method
                            else coalesce(intent->>'payment_method', si.payment_method) end,
      succeeded_at = case when si.status <> 'succeeded' and v_status = 'succeeded' then now() else si.succeeded_at end
  where si.reservation_id = setup_intent_apply.reservation_id
    and (si.stripe_setup_intent_id is null or si.stripe_setup_intent_id = intent->>'id')
  returning * into v_si;

  if v_si.status = 'succeeded' then
    -- Booking owns the held → confirmed transition (and its email). Only a held
    -- reservation is handed over, so a replayed webhook, a second confirm, or a
    -- set-up finishing after the hold expired changes nothing.
    if exists (select from app_public.reservations r
               where r.id = setup_intent_apply.reservation_id and r.status = 'held') then
      perform app_private.confirm_held_reservation(setup_intent_apply.reservation_id);
    end if;
    -- A new card after a failed charge: charge it now rather than at the next
    -- scheduled retry.
    perform app_private.charge_retry_now(setup_intent_apply.reservation_id);
  end if;
  return v_si;
end;
$$;
comment on function app_private.setup_intent_apply(bigint, jsonb) is
  E'Records what Stripe says of a reservation''s SetupIntent; on success confirms the reservation (or retries a failed charge with the new card). Idempotent.';

create or replace function app_hidden.payment_setup_record(
  reservation_id bigint, manage_token text, intent jsonb
) returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_record.reservation_id, payment_setup_record.manage_token, true);
  v_si := app_private.setup_intent_apply(v_r.id, payment_setup_record.intent);
  select r.* into v_r from app_public.reservations r where r.id = v_r.id;
  if v_si.reservation_id is null then
    select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_record(bigint, text, jsonb) is
  E'Authorises the caller and records the reservation''s SetupIntent as Stripe returned it (confirming the reservation once it succeeded).';

create or replace function app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_lookup.reservation_id, payment_setup_lookup.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  if v_si.stripe_setup_intent_id is null then
    raise exception 'Reservation % has no card set-up to confirm: call setupReservationPayment first', v_r.id
      using errcode = 'SMP03';
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_lookup(bigint, text) is
  E'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started).';
--! EndIncluded payments_setup.sql
drop function if exists app_private.payment_confirm_reservation(bigint);
drop function if exists app_private.confirm_reservation_payment(bigint);

-- Sign-up answers the user with the token (auth_session.user).
--! Included accounts_password.sql
-- Accounts: password sign-up, sign-in, sign-out, password change and reset,
-- email verification. app_private functions do the work (the server's auth
-- routes call them with the owner pool); app_public ones are the GraphQL
-- mutations, security definer because they reach app_private tables.

--------------------------------------------------------------------------------
-- Guest reservations become the user's once the user has proved the address

create or replace function app_private.claim_guest_reservations(user_id bigint) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with claimed as (
    update app_public.reservations r set user_id = u.id
    from app_public.users u
    where u.id = claim_guest_reservations.user_id and u.is_verified
      and r.user_id is null and r.email = u.email
    returning 1
  )
  select count(*)::int from claimed;
$$;
comment on function app_private.claim_guest_reservations(bigint) is
  E'Gives a verified user the guest reservations made with their email; returns how many.';

create or replace function app_private.mark_verified(user_id bigint, email citext) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Only the address the proof was sent to counts.
  update app_public.users u set is_verified = true
  where u.id = mark_verified.user_id and u.email = mark_verified.email and not u.is_verified;
  perform app_private.claim_guest_reservations(mark_verified.user_id);
end;
$$;
comment on function app_private.mark_verified(bigint, citext) is
  E'Marks the user verified when email is still their address, and claims their guest reservations.';

create or replace function app_private.send_verification(user_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_token text;
begin
  select u.* into v_user from app_public.users u where u.id = send_verification.user_id;
  v_token := app_private.user_token_issue(v_user.id, 'verify_email', v_user.email, interval '3 days');
  perform app_private.email_enqueue('verify_email', v_user.email,
    jsonb_build_object('name', v_user.name, 'link', app_hidden.link('/verify-email', v_token),
                       'expiresAt', app_hidden.clock_now() + interval '3 days'));
end;
$$;
comment on function app_private.send_verification(bigint) is
  E'Issues an email verification link (3 days) and queues the verify_email email.';

--------------------------------------------------------------------------------
-- Sign-up

create or replace function app_private.register(email text, name text, password text, client_ip inet)
  returns app_public.auth_session
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_name text := app_hidden.assert_name(name);
  v_password text := app_hidden.assert_password(password, email);
  v_user_id bigint;
  v_session record;
begin
  perform app_private.rate_limit_raise(app_private.rate_limit_hit('register_ip', host(client_ip)));
  begin
    insert into app_public.users (email, name) values (v_email, v_name) returning id into v_user_id;
  exception when unique_violation then
    raise exception 'An account with this email already exists: sign in, or reset your password'
      using errcode = 'SMA06';
  end;
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (v_user_id, app_private.password_hash(v_password), app_hidden.clock_now());
  perform app_private.send_verification(v_user_id);
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return (v_user_id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;
comment on function app_private.register(text, text, text, inet) is
  E'Creates a driver with a password, queues the verification email and opens a session.';

create or replace function app_public.register(email text, name text, password text) returns app_public.auth_session
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.register(register.email, register.name, register.password, app_hidden.client_ip());
$$;
comment on function app_public.register(text, text, text) is
  E'Signs up a driver: email (unique, plain ASCII), name (1–100 characters), password (at least 10 characters, at most 72 bytes, not one repeated character, not the email). A verification email is sent. Returns a session token, shown only this once: send it as `Authorization: Bearer <token>`. Browsers use POST /auth/register instead, which sets the session cookie.';

create or replace function app_public.auth_session_user(session app_public.auth_session) returns app_public.users
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The user of a session just opened (sign-up), for the holder of its token
  -- only: the row is not visible to the still-anonymous request otherwise.
  select u.*
  from app_private.sessions s
  join app_public.users u on u.id = s.user_id
  where s.id = session.session_id and s.user_id = session.user_id
    and s.token_hash = app_private.token_hash(session.token) and s.revoked_at is null;
$$;
-- A field of AuthSession only, not a query of its own.
comment on function app_public.auth_session_user(app_public.auth_session) is
  E'@behavior -queryField\nThe signed-in user of this session (email, name, role, whether the email is verified).';

--------------------------------------------------------------------------------
-- Sign-in. Not a GraphQL mutation: a failed attempt must still be counted by
-- the rate limit, and a mutation that raises rolls its counting back. The
-- POST /auth/login route calls this, which never raises on bad credentials.

create or replace function app_private.login_attempt(email text, password text, client_ip inet)
  returns table (status text, user_id bigint, session_id uuid, token text, retry_after int)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key text := left(lower(btrim(coalesce(email, ''))), 254);
  v_retry int;
  v_user_id bigint;
  v_session record;
begin
  v_retry := greatest(
    app_private.rate_limit_hit('login_email', v_key),
    app_private.rate_limit_hit('login_ip', host(client_ip)));
  if v_retry > 0 then
    return query select 'limited'::text, null::bigint, null::uuid, null::text, v_retry;
    return;
  end if;
  select u.id into v_user_id from app_public.users u where u.email = v_key::citext;
  -- password_matches does the bcrypt work even for an unknown user.
  if not app_private.password_matches(coalesce(v_user_id, -1), password) then
    return query select 'invalid'::text, null::bigint, null::uuid, null::text, 0;
    return;
  end if;
  delete from app_private.rate_limits r where r.bucket = 'login_email' and r.key = v_key;
  -- Guest reservations made with a verified user's address since last time.
  perform app_private.claim_guest_reservations(v_user_id);
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return query select 'ok'::text, v_user_id, v_session.session_id, v_session.token, 0;
end;
$$;
comment on function app_private.login_attempt(text, text, inet) is
  E'One sign-in attempt, counted per email and per client address: status ok (with a new session and its token), invalid (wrong email or password, the same answer for both), or limited (retry_after seconds).';

--------------------------------------------------------------------------------
-- Sign-out and sessions

create or replace function app_private.session_revoke(session_id uuid) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = session_revoke.session_id and s.revoked_at is null;
  return found;
end;
$$;
comment on function app_private.session_revoke(uuid) is E'Revokes one session; true when it was live.';

create or replace function app_public.logout() returns boolean
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(app_private.session_revoke(app_public.current_session_id()), false);
$$;
comment on function app_public.logout() is
  E'Signs out: revokes the session this request came with. Browsers should use POST /auth/logout, which also clears the cookie.';

create or replace function app_public.my_sessions() returns setof app_public.session_info
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select s.id, s.method, s.created_at, s.last_active_at,
         least(s.last_active_at + app_hidden.session_idle_timeout(), s.created_at + app_hidden.session_max_age()),
         s.id = app_public.current_session_id()
  from app_private.sessions s
  where s.user_id = app_public.current_user_id()
    and s.revoked_at is null
    and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
    and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age()
  order by s.created_at desc;
$$;
comment on function app_public.my_sessions() is E'The signed-in user''s live sessions, newest first.';

create or replace function app_public.revoke_session(session_id uuid) returns boolean
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = revoke_session.session_id and s.user_id = app_public.current_user_id() and s.revoked_at is null
  returning true;
$$;
comment on function app_public.revoke_session(uuid) is
  E'Signs out one of your own sessions (e.g. a lost phone); null when it is not one of your live sessions.';

--------------------------------------------------------------------------------
-- Password change and reset

create or replace function app_hidden.assert_signed_in() returns bigint
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_public.current_user_id();
begin
  if v_user_id is null then
    raise exception 'Sign in first' using errcode = 'SMA08';
  end if;
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_signed_in() is E'The current user''s id, or error SMA08.';

create or replace function app_hidden.assert_verified() returns bigint
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if not exists (select from app_public.users u where u.id = v_user_id and u.is_verified) then
    raise exception 'Verify your email address first: follow the link we sent you' using errcode = 'SMA11';
  end if;
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_verified() is
  E'The current user''s id when their email is verified, else error SMA11 (or SMA08 when signed out). Functions for actions that need a verified email call it.';

create or replace function app_private.password_set(user_id bigint, password text) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (password_set.user_id, app_private.password_hash(password_set.password), app_hidden.clock_now())
  on conflict (user_id) do update
    set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
$$;
comment on function app_private.password_set(bigint, text) is E'Stores a new (already validated) password for a user.';

create or replace function app_public.change_password(old_password text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_password text;
begin
  select u.* into v_user from app_public.users u where u.id = app_hidden.assert_signed_in();
  if not app_private.password_matches(v_user.id, old_password) then
    raise exception 'Your current password is not correct' using errcode = 'SMA09';
  end if;
  v_password := app_hidden.assert_password(new_password, v_user.email);
  perform app_private.password_set(v_user.id, v_password);
  -- Whoever else holds a session (perhaps the reason for the change) is out.
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.id is distinct from app_public.current_session_id() and s.revoked_at is null;
  perform app_private.email_enqueue('password_changed', v_user.email, jsonb_build_object('name', v_user.name));
  return true;
end;
$$;
comment on function app_public.change_password(text, text) is
  E'Changes your password (the current one is required) and signs out all your other sessions.';

create or replace function app_public.forgot_password(email text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_user app_public.users;
  v_token text;
begin
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('reset_email', lower(v_email::text)),
    app_private.rate_limit_hit('reset_ip', host(app_hidden.client_ip()))));
  select u.* into v_user from app_public.users u where u.email = v_email;
  -- The answer is the same whether or not the account exists.
  if v_user.id is not null then
    v_token := app_private.user_token_issue(v_user.id, 'password_reset', v_user.email, interval '1 hour');
    perform app_private.email_enqueue('password_reset', v_user.email,
      jsonb_build_object('name', v_user.name, 'link', app_hidden.link('/reset-password', v_token),
                         'expiresAt', app_hidden.clock_now() + interval '1 hour'));
  end if;
  return true;
end;
$$;
comment on function app_public.forgot_password(text) is
  E'Emails a one-time password reset link (valid 1 hour) when an account has this email; answers the same either way. Limited to 3 an hour per email and 20 per client address.';

create or replace function app_public.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['password_reset', 'invite']);
  v_user app_public.users;
begin
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  perform app_private.password_set(v_user.id, app_hidden.assert_password(new_password, v_user.email));
  -- The link went to this address: following it proves the user owns it.
  perform app_private.mark_verified(v_user.id, v_token.email);
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  return true;
end;
$$;
comment on function app_public.reset_password(text, text) is
  E'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, and signs out every session of the account. Sign in afterwards.';

--------------------------------------------------------------------------------
-- Email verification

create or replace function app_public.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['verify_email']);
begin
  perform app_private.mark_verified(v_token.user_id, v_token.email);
  return true;
end;
$$;
comment on function app_public.verify_email(text) is
  E'Verifies an email address with the token from its verification link (single use, 3 days). Guest reservations made with that address become the account''s.';

create or replace function app_public.resend_verification_email() returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if exists (select from app_public.users u where u.id = v_user_id and u.is_verified) then
    return false;
  end if;
  perform app_private.rate_limit_raise(app_private.rate_limit_hit('verify_resend', v_user_id::text));
  perform app_private.send_verification(v_user_id);
  return true;
end;
$$;
comment on function app_public.resend_verification_email() is
  E'Sends a new verification link (older ones stop working); false when already verified. At most 3 an hour.';

create or replace function app_hidden.login(email text, password text)
  returns table (status text, user_id bigint, session_id uuid, token text, retry_after int)
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select * from app_private.login_attempt(login.email, login.password, app_hidden.client_ip());
$$;
comment on function app_hidden.login(text, text) is
  E'app_private.login_attempt for the GraphQL login mutation (server/login_plugin.ts): never raises, so a failed attempt''s count commits with the request; the plugin turns the status into SMA01/SMA02 afterwards.';
--! EndIncluded accounts_password.sql

-- Guests who lost the manage token: sendManageLink mails a new one.
--! Included accounts_core.sql
-- Accounts: the building blocks every sign-in path shares — the clock, input
-- rules, password hashing, one-time tokens, sessions and rate limits.

--------------------------------------------------------------------------------
-- The clock. Every accounts function reads time from here, so tests can move
-- it (`set app.test_now = '…'`) instead of sleeping. Unset, it is now().

create or replace function app_hidden.clock_now() returns timestamptz
  language sql stable
as $$
  select coalesce(nullif(current_setting('app.test_now', true), '')::timestamptz, now());
$$;
comment on function app_hidden.clock_now() is
  E'The time accounts rules use: the setting app.test_now when a test set it, else now().';

-- Session lifetimes, in one place.
create or replace function app_hidden.session_idle_timeout() returns interval
  language sql immutable as $$ select interval '24 hours' $$;
comment on function app_hidden.session_idle_timeout() is E'A session unused this long is over.';
create or replace function app_hidden.session_max_age() returns interval
  language sql immutable as $$ select interval '30 days' $$;
comment on function app_hidden.session_max_age() is E'No session lives longer than this, however busy.';
create or replace function app_hidden.session_touch_interval() returns interval
  language sql immutable as $$ select interval '1 minute' $$;
comment on function app_hidden.session_touch_interval() is
  E'last_active_at is written at most this often, so busy sessions do not write on every request.';

--------------------------------------------------------------------------------
-- Input rules

create or replace function app_hidden.email_is_valid(email text) returns boolean
  language sql immutable
as $$
  -- ASCII only: internationalised addresses are refused rather than risk
  -- look-alike characters (Cyrillic "а" for Latin "a") naming another account.
  select email is not null
    and length(email) <= 254
    and email ~ '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$'
    and length(split_part(email, '@', 1)) <= 64;
$$;
comment on function app_hidden.email_is_valid(text) is
  E'True for a plain ASCII address local@domain.tld (local part at most 64, whole at most 254 characters).';

create or replace function app_hidden.assert_email(email text) returns citext
  language plpgsql immutable
as $$
begin
  if not app_hidden.email_is_valid(btrim(email)) then
    raise exception 'That is not an email address we can use (plain ASCII, like name@example.com)'
      using errcode = 'SMA03';
  end if;
  return btrim(email)::citext;
end;
$$;
comment on function app_hidden.assert_email(text) is E'The trimmed address, or error SMA03.';

create or replace function app_hidden.assert_name(name text) returns text
  language plpgsql immutable
as $$
declare
  -- Unicode spaces (Zs), listed because the C.UTF-8 locale's [[:space:]] misses some.
  c_space constant text := '\u0020\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000';
  -- Controls (C0, DEL, C1), line/paragraph separators and every format
  -- character (Cf: soft hyphen, zero-width and bidi controls, word joiners,
  -- invisible operators, tags): they let a name display as something else.
  c_refused constant text := '[\u0001-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2'
    '\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB'
    '\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F]';
  -- Letters and symbols that print nothing (Hangul fillers, the blank Braille
  -- pattern, combining grapheme joiner, Khmer inherent vowels, variation
  -- selectors): allowed beside visible characters, not as a whole name.
  c_blank constant text := '[' || c_space || '\u034F\u115F\u1160\u17B4\u17B5\u2800\u3164\uFFA0\uFE00-\uFE0F\U000E0100-\U000E01EF]';
  v_name text := regexp_replace(normalize(coalesce(name, ''), NFC), '^[' || c_space || ']+|[' || c_space || ']+$', '', 'g');
begin
  if length(v_name) not between 1 and 100 or v_name ~ c_refused or regexp_replace(v_name, c_blank, '', 'g') = '' then
    raise exception 'A name must be 1 to 100 characters without control or invisible formatting characters'
      using errcode = 'SMA05';
  end if;
  return v_name;
end;
$$;
comment on function app_hidden.assert_name(text) is
  E'The one rule for names: trimmed of spaces, NFC-normalised, 1 to 100 characters, no control or format character, not only invisible ones; else error SMA05.';

create or replace function app_private.tg_users__name() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Every path that writes a name (sign-up, updateUser, invitations, OAuth,
  -- the CLI, a migration) passes this trigger, so none can skip the rule.
  new.name := app_hidden.assert_name(new.name);
  return new;
end;
$$;
comment on function app_private.tg_users__name() is
  E'Stores users.name as app_hidden.assert_name returns it, or refuses the write with SMA05.';
drop trigger if exists _200_name on app_public.users;
create trigger _200_name before insert or update of name on app_public.users
  for each row execute procedure app_private.tg_users__name();

create or replace function app_hidden.assert_password(password text, email text default null) returns text
  language plpgsql immutable
as $$
declare
  -- NFKC, as NIST SP 800-63B advises: the same password typed on another
  -- keyboard (composed or decomposed accents, full-width digits) still matches.
  v_password text := normalize(coalesce(password, ''), NFKC);
begin
  if length(v_password) < 10 or octet_length(v_password) > 72 then
    raise exception 'A password must be at least 10 characters and at most 72 bytes' using errcode = 'SMA04';
  end if;
  if btrim(v_password) = '' or v_password ~ '^(.)\1*$' then
    raise exception 'A password must not be only one repeated character' using errcode = 'SMA04';
  end if;
  if email is not null and lower(v_password) = lower(btrim(email)) then
    raise exception 'A password must not be your email address' using errcode = 'SMA04';
  end if;
  return v_password;
end;
$$;
comment on function app_hidden.assert_password(text, text) is
  E'The NFKC-normalised password when it meets the rule (10 characters to 72 bytes, not one repeated character, not the email), else error SMA04.';

--------------------------------------------------------------------------------
-- Passwords (bcrypt, cost 10)

create or replace function app_private.password_hash(password text) returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select crypt(password, gen_salt('bf', 10));
$$;
comment on function app_private.password_hash(text) is E'bcrypt hash (cost 10) of an already normalised password.';

create or replace function app_private.password_matches(user_id bigint, password text) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_hash text;
  v_password text := normalize(coalesce(password, ''), NFKC);
begin
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = password_matches.user_id;
  if v_hash is null then
    -- Same work as a real check, so timing does not tell whether the account
    -- exists or has a password.
    perform crypt(v_password, gen_salt('bf', 10));
    return false;
  end if;
  return crypt(v_password, v_hash) = v_hash;
end;
$$;
comment on function app_private.password_matches(bigint, text) is
  E'True when the password is the user''s; false for a user without one (after the same bcrypt work).';

--------------------------------------------------------------------------------
-- Opaque tokens: 32 random bytes, base64url. Only their SHA-256 is stored.

create or replace function app_private.new_token() returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select rtrim(translate(encode(gen_random_bytes(32), 'base64'), '+/', '-_'), '=');
$$;
comment on function app_private.new_token() is E'A fresh 256-bit token, base64url without padding.';

create or replace function app_private.token_hash(token text) returns bytea
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select digest(coalesce(token, ''), 'sha256');
$$;
comment on function app_private.token_hash(text) is E'SHA-256 of a token: what tables keep instead of the token.';

create or replace function app_hidden.link(path text, token text) returns text
  language sql stable
as $$
  -- The SPA's origin comes from the request (pgSettings app.web_url, set by
  -- the server from WEB_URL); the default fits local development.
  select rtrim(coalesce(nullif(current_setting('app.web_url', true), ''), 'http://localhost:5173'), '/')
    || path || '?token=' || token;
$$;
comment on function app_hidden.link(text, text) is E'An absolute link into the web app carrying a token.';

create or replace function app_private.user_token_issue(user_id bigint, kind text, email citext, valid_for interval)
  returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token();
begin
  -- A new link replaces older unused ones of the same kind.
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = user_token_issue.user_id and t.kind = user_token_issue.kind and t.used_at is null;
  insert into app_private.user_tokens (user_id, kind, token_hash, email, created_at, expires_at)
  values (user_token_issue.user_id, user_token_issue.kind, app_private.token_hash(v_token), user_token_issue.email,
          app_hidden.clock_now(), app_hidden.clock_now() + valid_for);
  return v_token;
end;
$$;
comment on function app_private.user_token_issue(bigint, text, citext, interval) is
  E'Issues a one-time token of a kind for a user (older unused ones of that kind stop working); returns the token.';

create or replace function app_private.user_token_use(token text, kinds text[]) returns app_private.user_tokens
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_row app_private.user_tokens;
begin
  -- Marking it used in the same statement that finds it makes it single use
  -- even under concurrent clicks.
  update app_private.user_tokens t set used_at = app_hidden.clock_now()
  where t.token_hash = app_private.token_hash(user_token_use.token)
    and t.kind = any(user_token_use.kinds)
    and t.used_at is null
    and t.expires_at > app_hidden.clock_now()
  returning t.* into v_row;
  if v_row.id is null then
    raise exception 'This link is invalid, was already used, or has expired' using errcode = 'SMA07';
  end if;
  return v_row;
end;
$$;
comment on function app_private.user_token_use(text, text[]) is
  E'Consumes a one-time token of one of the kinds, or error SMA07.';

--------------------------------------------------------------------------------
-- Sessions

create or replace function app_private.session_create(user_id bigint, method text, client_ip inet default null)
  returns table (session_id uuid, token text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token();
  v_id uuid;
begin
  insert into app_private.sessions (user_id, token_hash, created_at, last_active_at, method, client_ip)
  values (session_create.user_id, app_private.token_hash(v_token), app_hidden.clock_now(), app_hidden.clock_now(),
          session_create.method, session_create.client_ip)
  returning id into v_id;
  return query select v_id, v_token;
end;
$$;
comment on function app_private.session_create(bigint, text, inet) is
  E'Opens a session for a user; returns its id and its token (the only time the token exists outside the client).';

create or replace function app_hidden.db_role_for(role text) returns text
  language sql immutable
as $$
  select case when role in ('operator', 'admin') then 'app_operator' else 'app_user' end;
$$;
comment on function app_hidden.db_role_for(text) is
  E'The database role a user''s requests run as: app_operator for operators and admins, app_user otherwise (drivers and analysts).';

create or replace function app_private.session_lookup(token_hash bytea)
  returns table (session_id uuid, user_id bigint, db_role text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_session app_private.sessions;
  v_role text;
begin
  select s.* into v_session from app_private.sessions s
  where s.token_hash = session_lookup.token_hash
    and s.revoked_at is null
    and s.last_active_at > v_now - app_hidden.session_idle_timeout()
    and s.created_at > v_now - app_hidden.session_max_age();
  if v_session.id is null then
    return;
  end if;
  -- Sliding expiry: use renews the session, but at most once a minute, so a
  -- busy client does not turn every read into a write.
  if v_session.last_active_at < v_now - app_hidden.session_touch_interval() then
    update app_private.sessions s set last_active_at = v_now where s.id = v_session.id;
  end if;
  select u.role into v_role from app_public.users u where u.id = v_session.user_id;
  return query select v_session.id, v_session.user_id, app_hidden.db_role_for(v_role);
end;
$$;
comment on function app_private.session_lookup(bytea) is
  E'The live session a token hash opens (renewing it when last renewed over a minute ago), with the database role its requests use; no row when the token is unknown, revoked, idle over 24 h or older than 30 days.';

--------------------------------------------------------------------------------
-- Rate limits: fixed windows counted in PostgreSQL, so every API process
-- shares them.

create or replace function app_private.rate_limit_rule(bucket text, out max_hits int, out period interval)
  language sql immutable
as $$
  select r.max_hits, r.period
  from (values
    ('login_email',    10, interval '15 minutes'),
    ('login_ip',      100, interval '15 minutes'),
    ('reset_email',     3, interval '1 hour'),
    ('reset_ip',       20, interval '1 hour'),
    ('register_ip',    20, interval '1 hour'),
    ('verify_resend',   3, interval '1 hour'),
    ('manage_link_reservation', 3, interval '1 hour'),
    ('manage_link_ip', 20, interval '1 hour')
  ) as r(bucket, max_hits, period)
  where r.bucket = rate_limit_rule.bucket;
$$;
comment on function app_private.rate_limit_rule(text) is E'How many hits a bucket allows per period (the documented limits).';

create or replace function app_private.rate_limit_hit(bucket text, key text) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_rule record := app_private.rate_limit_rule(bucket);
  v_hits int;
  v_start timestamptz;
begin
  if key is null then
    return 0;
  end if;
  insert into app_private.rate_limits as r (bucket, key, window_start, hits)
  values (rate_limit_hit.bucket, rate_limit_hit.key, v_now, 1)
  on conflict on constraint rate_limits_pkey do update set
    window_start = case when r.window_start <= v_now - v_rule.period then v_now else r.window_start end,
    hits = case when r.window_start <= v_now - v_rule.period then 1 else r.hits + 1 end
  returning r.hits, r.window_start into v_hits, v_start;
  if v_hits > v_rule.max_hits then
    return greatest(1, ceil(extract(epoch from (v_start + v_rule.period - v_now))))::int;
  end if;
  return 0;
end;
$$;
comment on function app_private.rate_limit_hit(text, text) is
  E'Counts one hit on (bucket, key); returns 0 when allowed, else the seconds until the window ends.';

create or replace function app_private.rate_limit_raise(retry_after int) returns void
  language plpgsql immutable
as $$
begin
  if retry_after > 0 then
    raise exception 'Too many attempts. Try again in % seconds.', retry_after
      using errcode = 'SMA02', detail = retry_after::text;
  end if;
end;
$$;
comment on function app_private.rate_limit_raise(int) is
  E'Raises SMA02 (detail = seconds to wait) when retry_after > 0.';

create or replace function app_hidden.client_ip() returns inet
  language plpgsql stable
as $$
begin
  return nullif(current_setting('app.client_ip', true), '')::inet;
exception when invalid_text_representation then
  return null;
end;
$$;
comment on function app_hidden.client_ip() is E'The request''s client address (pgSettings app.client_ip), or null.';
--! EndIncluded accounts_core.sql
--! Included reservations_guest_link.sql
-- A guest who lost the manage token asks for a new one: sendManageLink(reservationId,
-- email) mails a fresh token to the reservation's own address and revokes the old
-- one. The answer is the same whether or not the pair matches (an id and an email
-- say nothing about each other); limited per reservation and per client address.

create or replace function app_public.send_manage_link(reservation_id bigint, email text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_r app_public.reservations;
  v_token text;
begin
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('manage_link_reservation', send_manage_link.reservation_id::text),
    app_private.rate_limit_hit('manage_link_ip', host(app_hidden.client_ip()))));
  select r.* into v_r from app_public.reservations r
  where r.id = send_manage_link.reservation_id and r.kind = 'reservation' and r.user_id is null
    and r.email::citext = v_email
  for update;
  if v_r.id is not null then
    v_token := app_private.new_manage_token();
    -- One live token per reservation: the new hash replaces the old one.
    update app_private.reservation_secrets s set manage_token_hash = app_private.manage_token_hash(v_token)
    where s.reservation_id = v_r.id;
    -- The token rides in the link's fragment (#…), which browsers never send to a server.
    perform app_private.email_enqueue('reservation_link', v_r.email,
      app_hidden.reservation_email_data(v_r)
        || jsonb_build_object('manageLinkPath', '/reservations/' || v_r.id || '/manage#manageToken=' || v_token));
  end if;
  return true;
end;
$$;
comment on function app_public.send_manage_link(bigint, text) is
  E'Guests who lost their manage token: emails a link with a new token to the reservation''s address when reservationId and email match a guest reservation (the old token stops working), and answers true either way. At most 3 an hour per reservation and 20 per client address (SMA02).';
--! EndIncluded reservations_guest_link.sql
