-- Security (issue 9): query cost, client addresses, hold and sign-in limits,
-- account pre-hijack, passwords, one email rule, documented codes for bad input.

-- Sign-in throttle keyed by (email, client address): a pair that keeps going
-- over waits twice as long each time (app_private.rate_limit_hit).
alter table app_private.rate_limits add column if not exists strikes int not null default 0;
comment on column app_private.rate_limits.strikes is
  E'Windows in a row this key went over the limit (escalating buckets wait period × 2^strikes).';

-- Where each reservation was asked for from, to bound active holds per client address.
create table if not exists app_private.reservation_origins (
  reservation_id bigint primary key references app_public.reservations on delete cascade,
  client_ip      inet not null
);
comment on table app_private.reservation_origins is
  E'The client address each reservation was made from (when the request carried one): holds per address are bounded (SMB12).';
create index if not exists reservation_origins_client_ip_idx on app_private.reservation_origins (client_ip);
-- Active holds per email and per driver, counted at every booking.
create index if not exists reservations_held_email_idx on app_public.reservations (email) where status = 'held';
create index if not exists reservations_held_user_idx on app_public.reservations (user_id) where status = 'held';

--!include common_passwords.sql
--!include accounts_core.sql
--!include accounts_password.sql
--!include accounts_staff.sql
--!include current_user.sql
--!include reservations_rules.sql
--!include reservations_booking.sql
--!include spots_near.sql

-- One email rule for every path that stores an address (app_hidden.email_is_valid):
-- the functions refuse with their own codes first; these catch any other writer.
-- Not valid: rows from before are left as they are, every new or changed one is checked.
alter table app_public.users drop constraint if exists users_email_check;
alter table app_public.users add constraint users_email_check check (app_hidden.email_is_valid(email::text)) not valid;
alter table app_public.reservations drop constraint if exists reservations_email_check;
alter table app_public.reservations add constraint reservations_email_check check (app_hidden.email_is_valid(email::text)) not valid;

-- Stripe budget and batched charges (issue 16).
--!include rate_budgets.sql
--!include payments_charge.sql
--!include reservations_lifecycle.sql
--!include table_access.sql
