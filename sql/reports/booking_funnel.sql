-- Held → confirmed → completed, with expiries, cancellations and payment failures,
-- per day reservations were made in [from, to) (New York dates), and the rates.
-- psql: psql -v from=2026-11-01 -v to=2026-12-01 -f sql/reports/booking_funnel.sql
select day, held, confirmed, completed, expired, cancelled, payment_failed,
       round(confirmed::numeric / nullif(held, 0), 4) as confirm_rate,
       round(completed::numeric / nullif(confirmed, 0), 4) as complete_rate
from analytics.booking_funnel
where day >= :'from'::date and day < :'to'::date
order by day;
