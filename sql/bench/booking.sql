-- pgbench script: one guest reservation through app_public.reserve, as the API
-- runs it for an anonymous request (app_authenticator connections start as
-- app_anonymous), with the settings the API sets (bench.reserve sets them):
-- its own guest email and client address each time, as wrk sends.
-- Variables from bench/booking.ts: spot_base, spots (how many), slots, slot_minutes, base (epoch s).
\set s random(1, :spots)
\set k random(0, :slots - 1)
\set guest random(1, 1000000000)
\set address random(0, 16777215)
select bench.reserve(:spot_base + :s, to_timestamp(:base + :k * :slot_minutes * 60), :slot_minutes, :guest, :address);
