-- Booking, second increment: confirm_reservation_payment takes the spot lock
-- (a deadlock the randomized test found), the lock rule is written down, and
-- quote() refuses windows beyond the spot's maximum stay (SMB04).

--! include reservations_rules.sql
--! include quote.sql
--! include reservations_lifecycle.sql
