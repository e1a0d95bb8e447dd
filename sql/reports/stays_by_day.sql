-- Completed stays per start day and borough: count, average length and average
-- lead time between booking and start (minutes), for days in [from, to).
-- psql: psql -v from=2026-11-01 -v to=2026-12-01 -f sql/reports/stays_by_day.sql
select day, borough, stays, avg_stay_minutes, avg_lead_minutes
from analytics.stays_by_day
where day >= :'from'::date and day < :'to'::date
order by day, borough nulls last;
