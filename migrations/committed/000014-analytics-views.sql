--! Previous: sha1:cc702ca2f9318ca31c441fe2d6810a337aaaf6af
--! Hash: sha1:9aaaf51655924f25a848148ec3bc102c7a01a173
--! Message: analytics views

-- Read-only views for analysts; see the fixture for what they leave out.

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

grant select on analytics.spots, analytics.reservations, analytics.charges, analytics.daily_revenue to app_analyst;
--! EndIncluded analytics.sql
