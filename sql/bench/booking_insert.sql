-- pgbench script, as the owner: the row reserve() writes, bare (a copy of the
-- table with its constraints and no triggers), with the per-spot advisory lock
-- (lock=true) or with the exclusion constraint alone (lock=false). Same
-- variables as booking.sql, plus lock.
\set s random(1, :spots)
\set k random(0, :slots - 1)
select bench.insert_row(:spot_base + :s, to_timestamp(:base + :k * :slot_minutes * 60), :slot_minutes, :lock);
