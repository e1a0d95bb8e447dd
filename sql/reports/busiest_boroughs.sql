-- Analyst report: occupancy by borough over the last 30 days (psql as an app_analyst login).
select b.borough,
       count(distinct s.id) as spots,
       count(r.id) as reservations,
       round(extract(epoch from sum(r.duration)) / 3600) as hours_reserved,
       sum(r.amount) filter (where r.status = 'completed') as billed_minor_units
from analytics.spots s
join analytics.boroughs b on b.key is not distinct from lower(btrim(s.borough))
left join analytics.reservations r
  on r.spot_id = s.id and r.kind <> 'block' and r.starts_at > now() - interval '30 days'
group by b.borough
order by hours_reserved desc nulls last;
