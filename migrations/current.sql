-- Booking, second increment: confirm_reservation_payment takes the spot lock
-- (a deadlock the randomized test found), and the lock rule is written down.

--! include reservations_rules.sql
--! include reservations_lifecycle.sql
