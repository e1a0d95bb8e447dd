-- Occupancy per borough and local hour, for hours in [from, to) (New York dates).
-- psql (an app_analyst login): psql -v from=2026-11-01 -v to=2026-12-01 -f sql/reports/occupancy_by_hour.sql
-- CLI: npm run cli -- report occupancy_by_hour --from 2026-11-01 --to 2026-12-01 [--format csv]
select borough, hour, reservations, reserved_minutes, spots, occupancy
from analytics.occupancy_by_hour
where hour >= :'from'::date and hour < :'to'::date
order by hour, borough nulls last;
