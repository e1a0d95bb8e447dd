-- pgbench script, as the owner: the same insert as reserve() without the
-- per-spot advisory lock (the exclusion constraint alone), to measure what the
-- lock buys under contention. Same variables as booking.sql.
\set s random(1, :spots)
\set k random(0, :slots - 1)
select bench.insert_without_lock(:spot_base + :s, to_timestamp(:base + :k * :slot_minutes * 60), :slot_minutes);
