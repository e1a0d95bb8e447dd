-- Booking: the reservation triggers run with generic plans (graphile-worker's
-- add_job re-planned on every call: ~3x slower per job).

--! include reservations_triggers.sql
