-- Emailed links are made in one place, the email templates (lib/web_urls.ts, against
-- WEB_URL): the outbox row keeps the token, no longer a link made in SQL from the request.
--! include accounts_core.sql
--! include accounts_password.sql
--! include accounts_staff.sql
--! include reservations_triggers.sql
--! include reservations_guest_link.sql
drop function if exists app_hidden.link(text, text);
-- Emails queued before this change and not yet sent: keep their token, drop the link.
update app_private.emails e
set data = (e.data - 'link') || jsonb_build_object('token', substring(e.data ->> 'link' from '[?&]token=([^&#]+)'))
where e.sent_at is null and e.data ? 'link' and e.data ->> 'link' ~ '[?&]token=';
update app_private.emails e
set data = (e.data - 'manageLinkPath')
  || jsonb_strip_nulls(jsonb_build_object('manageToken', substring(e.data ->> 'manageLinkPath' from '#manageToken=(.+)$')))
where e.sent_at is null and e.data ? 'manageLinkPath';

-- Each booking limit in one named function (reservations_rules.sql): the quote's window and a
-- spot's maximum stay both stop at app_hidden.max_stay(), holds at holds_per_driver/address.
--! include reservations_rules.sql
--! include quote.sql
--! include reservations_booking.sql
--! include spots_admin.sql
alter table app_public.spots drop constraint if exists spots_max_stay_check;
alter table app_public.spots
  add constraint spots_max_stay_check check (max_stay > interval '0' and max_stay <= app_hidden.max_stay());

-- The end-of-day burst, set-based: a reservation's audit row, email and live
-- event are written per statement (transition tables) instead of per row, so
-- the due-work sweep's UPDATE of hundreds of ends pays for three inserts, not
-- for three plpgsql calls a row.
-- (reservations_triggers.sql is included above.)
--! include live_events.sql
--! include payments_charge.sql
--! include rate_budgets.sql

-- Booking's cost against its guarantee (issue 16, item 4): the hold limits read
-- only the email's, driver's and address's own rows; current_user_id and the
-- reservation email data keep their plans (plpgsql); reserve reads the client
-- address once; a live event looks nothing up while no tile is watched
-- (reservations_booking, reservations_triggers and live_events are included above).
--! include current_user.sql

-- Lock order reservation, then set-up (setup_intent_apply as confirmReservationPayment), so a
-- webhook and a confirmation of the same booking cannot deadlock; a reservation job queued again
-- while it runs replaces its locked row (reservations_triggers.sql, included above).
--! include payments_setup.sql
