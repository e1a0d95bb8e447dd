-- Money taken per day and rate, net of refunds, for days in [from, to) (New York dates).
-- psql: psql -v from=2026-11-01 -v to=2026-12-01 -f sql/reports/revenue_by_day_and_rate.sql
select day, rate_code, currency, charges, charged, refunded, net
from analytics.revenue_by_day_and_rate
where day >= :'from'::date and day < :'to'::date
order by day, rate_code, currency;
