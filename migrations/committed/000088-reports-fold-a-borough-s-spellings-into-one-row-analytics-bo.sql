--! Previous: sha1:7c3719b158ab115378dadd268edf5f4816f717fa
--! Hash: sha1:8904ba3d2c48c4e21935f033abcd65ddc1a16e8d
--! Message: Reports fold a borough's spellings into one row (analytics.boroughs)

-- Boroughs are free text on spots. Zones already treat "Brooklyn" and
-- " brooklyn" as one borough; the analysts' per-borough views split them
-- into two rows, each with its own count of spots, so occupancy was wrong
-- for both. analytics.boroughs folds the spellings, and the views group by it.
--! Included analytics.sql
-- Read-only views for analysts (the app_analyst group), who query the database
-- directly. They show what happened, never who: no emails, names, tokens,
-- hashes or payment-provider ids. The views run with their owner's rights, so
-- they see every row; analysts see nothing else (no grants outside analytics).

create or replace view analytics.spots as
  select s.id, s.external_id, s.borough, s.zone, s.street, s.side_of_street,
         s.from_street, s.to_street, s.status, s.max_stay, s.is_accessible, s.has_ev_charger,
         st_y(s.location::geometry) as lat, st_x(s.location::geometry) as lng,
         r.code as rate_code, r.hourly_price, r.currency, r.time_zone
  from app_public.spots s
  join app_public.rates r on r.id = s.rate_id;
comment on view analytics.spots is E'Every spot with its position and tariff.';

create or replace view analytics.reservations as
  select id, spot_id, kind, status, user_id is null as is_guest,
         lower(period) as starts_at, upper(period) as ends_at,
         upper(period) - lower(period) as duration,
         amount, currency, created_at, updated_at
  from app_public.reservations;
comment on view analytics.reservations is E'Every reservation and operator block, without the driver''s identity.';

create or replace view analytics.charges as
  select c.reservation_id, c.amount, c.currency, c.status, c.attempt, c.failure_code,
         c.succeeded_at, c.created_at,
         coalesce((select sum(f.amount) from app_private.refunds f
                   where f.charge_id = c.id and f.status = 'succeeded'), 0)::int as refunded
  from app_private.charges c;
comment on view analytics.charges is E'One row per reservation charged (or trying to be), with what was refunded.';

create or replace view analytics.daily_revenue as
  select (c.succeeded_at at time zone 'America/New_York')::date as day,
         c.currency,
         count(*) as charges,
         sum(c.amount) as charged,
         sum(c.refunded) as refunded,
         sum(c.amount - c.refunded) as net
  from analytics.charges c
  where c.status = 'succeeded'
  group by 1, 2;
comment on view analytics.daily_revenue is E'Money taken per day (New York time) and currency, net of refunds.';

-- Analysts' select grant on these views: migrations/fixtures/table_access.sql.

--------------------------------------------------------------------------------
-- Operators and analysts (issue 14): occupancy, revenue by rate, the booking
-- funnel, stay lengths and lead times. Days and hours are New York time, like
-- daily_revenue. A reservation "used" its spot when it was confirmed and not
-- cancelled (confirmed, completed, payment_failed); blocks are not bookings.

-- Boroughs are free text on spots ("Brooklyn", " brooklyn"); zones already
-- treat spellings as one (lower, trimmed), and the reports do the same.
create or replace view analytics.boroughs as
  with spellings as (
    select lower(btrim(s.borough)) as key, btrim(s.borough) as spelling, count(*) as spots, min(s.id) as first_spot
    from app_public.spots s
    group by 1, 2
  )
  select key,
         (array_agg(spelling order by spots desc, first_spot))[1] as borough,
         sum(spots)::bigint as spots
  from spellings
  group by key;
comment on view analytics.boroughs is
  E'One row per borough however spelled on spots (key: lower case, trimmed): the spelling most spots use (ties: the oldest spot''s), and its spots. Reports group by it.';

create or replace view analytics.occupancy_by_hour as
  with used as (
    select r.spot_id, r.period
    from app_public.reservations r
    where r.kind = 'reservation' and r.status in ('confirmed', 'completed', 'payment_failed')
  ), hours as (
    -- Each stay split into the local clock hours it touches, with the minutes inside each.
    select lower(btrim(s.borough)) as borough_key, h.hour,
           extract(epoch from least(upper(u.period), h.hour_end) - greatest(lower(u.period), h.hour_start)) / 60 as minutes
    from used u
    join app_public.spots s on s.id = u.spot_id
    cross join lateral (
      select g as hour,
             g at time zone 'America/New_York' as hour_start,
             (g + interval '1 hour') at time zone 'America/New_York' as hour_end
      from generate_series(date_trunc('hour', lower(u.period) at time zone 'America/New_York'),
                           upper(u.period) at time zone 'America/New_York' - interval '1 microsecond',
                           interval '1 hour') g
    ) h
  )
  select b.borough, h.hour,
         count(*) as reservations,
         round(sum(h.minutes), 2) as reserved_minutes,
         b.spots,
         round(sum(h.minutes) / (60.0 * b.spots), 4) as occupancy
  from hours h
  join analytics.boroughs b on b.key is not distinct from h.borough_key
  group by b.borough, b.spots, h.hour;
comment on view analytics.occupancy_by_hour is
  E'Per borough (spellings folded, as analytics.boroughs) and local (New York) clock hour with any use: reservations overlapping it, minutes reserved, spots in the borough, and occupancy = minutes reserved / (spots × 60). Counts confirmed, completed and payment_failed stays.';

create or replace view analytics.revenue_by_day_and_rate as
  select c.day, r.code as rate_code, c.currency,
         count(*) as charges, sum(c.amount) as charged, sum(c.refunded) as refunded, sum(c.amount - c.refunded) as net
  from (select (ch.succeeded_at at time zone 'America/New_York')::date as day, ch.*
        from analytics.charges ch where ch.status = 'succeeded') c
  join app_public.reservations res on res.id = c.reservation_id
  join app_public.spots s on s.id = res.spot_id
  join app_public.rates r on r.id = s.rate_id
  group by c.day, r.code, c.currency;
comment on view analytics.revenue_by_day_and_rate is
  E'Money taken per day (New York time of the charge), rate (the spot''s current rate) and currency, net of refunds.';

create or replace view analytics.booking_funnel as
  select (r.created_at at time zone 'America/New_York')::date as day,
         count(*) as held,
         -- Completed and payment_failed imply confirmed; a cancellation may
         -- come before or after it, which only the events tell.
         count(*) filter (where r.status in ('confirmed', 'completed', 'payment_failed')
                             or exists (select from app_private.reservation_events e
                                        where e.reservation_id = r.id and e.new_status = 'confirmed')) as confirmed,
         count(*) filter (where r.status = 'completed') as completed,
         count(*) filter (where r.status = 'expired') as expired,
         count(*) filter (where r.status = 'cancelled') as cancelled,
         count(*) filter (where r.status = 'payment_failed') as payment_failed
  from app_public.reservations r
  where r.kind = 'reservation'
  group by 1;
comment on view analytics.booking_funnel is
  E'Per day a reservation was made (New York time): held (every reservation starts held), confirmed (ever), completed, and the other endings: expired holds, cancellations, payment failures.';

create or replace view analytics.stays_by_day as
  select (lower(r.period) at time zone 'America/New_York')::date as day, b.borough,
         count(*) as stays,
         round(avg(extract(epoch from upper(r.period) - lower(r.period)) / 60), 2) as avg_stay_minutes,
         round(avg(extract(epoch from greatest(lower(r.period) - r.created_at, interval '0')) / 60), 2) as avg_lead_minutes
  from app_public.reservations r
  join app_public.spots s on s.id = r.spot_id
  join analytics.boroughs b on b.key is not distinct from lower(btrim(s.borough))
  where r.kind = 'reservation' and r.status = 'completed'
  group by 1, 2;
comment on view analytics.stays_by_day is
  E'Completed stays per day of their start (New York time) and borough (spellings folded): how many, their average length, and the average lead time between booking and start (minutes).';
--! EndIncluded analytics.sql

revoke all on analytics.boroughs from app_anonymous, app_user, app_operator, app_analyst;
grant select on analytics.boroughs to app_analyst;
