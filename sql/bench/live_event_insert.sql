-- pgbench script, as the owner: one confirmed reservation row inserted and
-- committed on spot :spot at a random far-apart minute, to price the live
-- trigger (migrations/fixtures/live_events.sql). Run it with the spot's tile
-- watched, unwatched, and with the trigger disabled (README, Live availability).
\set k random(1, 500000000)
insert into app_public.reservations (spot_id, email, period, amount, currency, status)
values (:spot, 'bench@example.test', tstzrange(now() + make_interval(mins => :k), now() + make_interval(mins => :k + 1)),
  0, 'USD', 'confirmed');
