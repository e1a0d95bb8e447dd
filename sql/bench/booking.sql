-- pgbench script: one guest reservation through app_public.reserve, as the API
-- runs it for an anonymous request (app_authenticator connections start as
-- app_anonymous). bench.reserve only turns "spot taken" (SMB01) into a result
-- instead of an error, because pgbench stops a client at its first error.
-- Variables from bench/booking.ts: spot_base, spots (how many), slots, slot_minutes, base (epoch s).
\set s random(1, :spots)
\set k random(0, :slots - 1)
select bench.reserve(:spot_base + :s, to_timestamp(:base + :k * :slot_minutes * 60), :slot_minutes);
