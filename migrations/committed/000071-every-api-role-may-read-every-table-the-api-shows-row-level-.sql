--! Previous: sha1:6189a421f7dda7c2be4ddadfe9a7020db36340c3
--! Hash: sha1:1f6c5a0a5903152c718bdfae3c461413c05747b8
--! Message: Every API role may read every table the API shows; row level security alone picks the rows

-- Every table the API shows is readable by every request role, and row level
-- security alone decides the rows (table_access.sql says why): a public spot
-- asked for with its reservations, a spot change with its sync run, or a
-- driver's currentUser with its customer, zones or vehicles answered 42501 and
-- nulled the whole object; now the rows the caller may not see are simply not
-- there. Root lists a caller may not read (customers for a driver) are empty.
--! Included table_access.sql
-- Who may read and write each table, in one place: schema usage, table and
-- column grants, row level security and its policies. Functions keep their
-- execute grants beside their bodies (one fixture per topic); this file is
-- the rest of the access truth.
--
-- Re-runnable, and the whole truth when it has run: the API and analyst roles'
-- privileges on each table are revoked and granted again, and each policy is
-- dropped and created again, so a grant or policy not written here is gone.
--
-- Roles (migrations/afterReset.sql): app_anonymous, app_user and app_operator
-- each inherit the one before them, so a grant to app_anonymous holds for every
-- request and one to app_user for every signed-in one. A request's role is set
-- by PostGraphile from the session (server/request_identity.ts).
--
-- Every table the API shows is readable by every request role, and row level
-- security alone decides which rows each caller sees. A table granted to fewer
-- roles would fail with 42501 the whole SQL statement that joins it, so a
-- public spot asked for with its `reservations`, or a driver's `currentUser`
-- with its `customer`, would come back null instead of with an empty list.
-- Each policy below therefore names app_anonymous and lets through only the
-- rows its caller may see (a NULL current_user_id() matches no row).

--------------------------------------------------------------------------------
-- Schemas: app_public (the API) and app_hidden (helpers the API may call) are
-- usable by every request; app_private by none (security definer functions
-- reach it); analytics by analysts only.

grant usage on schema app_public, app_hidden to app_anonymous;
grant usage on schema analytics to app_analyst;
revoke all on schema app_private from app_anonymous, app_user, app_operator, app_analyst;

-- Ids are drawn by inserts made through security definer functions and by the
-- API roles alike; functions are callable by every request unless revoked (RLS
-- and security definer bodies decide the rest), never by PUBLIC.
alter default privileges revoke all on functions from public;
alter default privileges in schema app_public, app_hidden
  grant usage, select on sequences to app_anonymous;
alter default privileges in schema app_public, app_hidden
  grant execute on functions to app_anonymous;

revoke all on
  app_public.users, app_public.rates, app_public.rate_hours, app_public.spots, app_public.reservations,
  app_hidden.spot_occupancy,
  analytics.spots, analytics.reservations, analytics.charges, analytics.daily_revenue
from app_anonymous, app_user, app_operator, app_analyst;

--------------------------------------------------------------------------------
-- app_public: every table under row level security.

-- users: a driver sees themself; staff also see drivers; admins see everyone.
-- Only the own name is writable directly (everything else through functions).
alter table app_public.users enable row level security;
grant select on app_public.users to app_anonymous;
grant update (name) on app_public.users to app_user;
drop policy if exists select_visible on app_public.users;
create policy select_visible on app_public.users for select to app_anonymous
  using (id = (select app_public.current_user_id())
         or (select app_hidden.current_user_is_admin())
         or (role = 'driver' and (select app_hidden.current_user_is_staff())));
drop policy if exists update_self on app_public.users;
create policy update_self on app_public.users for update to app_user
  using (id = (select app_public.current_user_id()));

-- rates, rate_hours, spots: public inventory, read by anyone; written only by
-- the owner (imports, operator functions).
alter table app_public.rates enable row level security;
alter table app_public.rate_hours enable row level security;
alter table app_public.spots enable row level security;
grant select on app_public.rates, app_public.rate_hours, app_public.spots to app_anonymous;
drop policy if exists select_all on app_public.rates;
create policy select_all on app_public.rates for select to app_anonymous using (true);
drop policy if exists select_all on app_public.rate_hours;
create policy select_all on app_public.rate_hours for select to app_anonymous using (true);
drop policy if exists select_all on app_public.spots;
create policy select_all on app_public.spots for select to app_anonymous using (true);

-- reservations: a driver reads their own, staff read all; guests read theirs
-- only through functions that check the manage token. Every write goes
-- through booking functions (security definer).
alter table app_public.reservations enable row level security;
grant select on app_public.reservations to app_anonymous;
drop policy if exists select_own on app_public.reservations;
create policy select_own on app_public.reservations for select to app_anonymous
  using (user_id = (select app_public.current_user_id()) or (select app_hidden.current_user_is_staff()));

--------------------------------------------------------------------------------
-- app_hidden: availability without who holds the spot, for search.

grant select on app_hidden.spot_occupancy to app_anonymous;

--------------------------------------------------------------------------------
-- app_private: secrets and bookkeeping. Row level security on with no policy
-- and no grant: even a mistaken grant would show no row.

alter table app_private.sessions enable row level security;
alter table app_private.emails enable row level security;
alter table app_private.user_secrets enable row level security;
alter table app_private.user_tokens enable row level security;
alter table app_private.user_identities enable row level security;
alter table app_private.oauth_states enable row level security;
alter table app_private.rate_limits enable row level security;
alter table app_private.reservation_secrets enable row level security;
alter table app_private.reservation_events enable row level security;
alter table app_private.stripe_customers enable row level security;
alter table app_private.setup_intents enable row level security;
alter table app_private.charges enable row level security;
alter table app_private.refunds enable row level security;
alter table app_private.declined_cards enable row level security;
alter table app_private.stripe_webhook_events enable row level security;
alter table app_private.worker_processes enable row level security;

--------------------------------------------------------------------------------
-- analytics: views for analysts, without emails, names, tokens or provider ids
-- (migrations/fixtures/analytics.sql says what each leaves out).

grant select on analytics.spots, analytics.reservations, analytics.charges, analytics.daily_revenue to app_analyst;

--------------------------------------------------------------------------------
-- Security (issue 9): the common-password list and where each hold came from
-- are app_private bookkeeping, like the rest: row level security, no grant.

alter table app_private.common_passwords enable row level security;
alter table app_private.reservation_origins enable row level security;

-- Shared budgets of outside calls (rate_budgets.sql): the worker's, as the owner.

alter table app_private.rate_budgets enable row level security;

-- Inventory sync, change history, live events, saved spots (issue 15).

revoke all on app_public.spot_changes, app_public.spot_sync_runs, app_public.saved_spots
from app_anonymous, app_user, app_operator, app_analyst;

-- spot_changes: public inventory history, like spots themselves.
alter table app_public.spot_changes enable row level security;
grant select on app_public.spot_changes to app_anonymous;
drop policy if exists select_all on app_public.spot_changes;
create policy select_all on app_public.spot_changes for select to app_anonymous using (true);

-- spot_sync_runs: staff only.
alter table app_public.spot_sync_runs enable row level security;
grant select on app_public.spot_sync_runs to app_anonymous;
drop policy if exists select_staff on app_public.spot_sync_runs;
create policy select_staff on app_public.spot_sync_runs for select to app_anonymous
  using ((select app_hidden.current_user_is_staff()));

-- saved_spots: each driver reads their own rows; writes only through
-- save_spot / unsave_spot (security definer, always the caller's own rows).
alter table app_public.saved_spots enable row level security;
grant select on app_public.saved_spots to app_anonymous;
drop policy if exists select_own on app_public.saved_spots;
create policy select_own on app_public.saved_spots for select to app_anonymous
  using (user_id = (select app_public.current_user_id()));

alter table app_private.spot_sync_sources enable row level security;
alter table app_private.meter_zone_prices enable row level security;
alter table app_private.live_watched_tiles enable row level security;
alter table app_private.live_events enable row level security;

-- Operators and analysts (issue 14): audit log, customers, zones, spot and
-- rate writes, vehicles.

-- audit_log: no API role has any grant; admins read it through
-- app_public.audit_entries (security definer). RLS with no policy besides.
revoke all on app_public.audit_log from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.audit_log enable row level security;

alter table app_private.stored_objects enable row level security;

-- customers and their notes: staff read the live ones; every write goes
-- through the customer functions (security definer).
revoke all on app_public.customers, app_public.customer_notes from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.customers enable row level security;
alter table app_public.customer_notes enable row level security;
grant select on app_public.customers, app_public.customer_notes to app_anonymous;
drop policy if exists select_live on app_public.customers;
create policy select_live on app_public.customers for select to app_anonymous
  using (deleted_at is null and (select app_hidden.current_user_is_staff()));
drop policy if exists select_live on app_public.customer_notes;
create policy select_live on app_public.customer_notes for select to app_anonymous
  using ((select app_hidden.current_user_is_staff())
         and exists (select from app_public.customers c where c.id = customer_id and c.deleted_at is null));

-- operator_zones: admins see all, operators their own; written by set_operator_zones.
revoke all on app_public.operator_zones from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.operator_zones enable row level security;
grant select on app_public.operator_zones to app_anonymous;
drop policy if exists select_own on app_public.operator_zones;
create policy select_own on app_public.operator_zones for select to app_anonymous
  using (user_id = (select app_public.current_user_id()) or (select app_hidden.current_user_is_admin()));

-- spots, rates, rate_hours: operators write them (the spot and rate
-- functions run as the caller), only in their zones.
grant insert (location, street, rate_id, borough, zone, side_of_street, from_street, to_street, max_stay,
              is_accessible, has_ev_charger),
      update (location, street, rate_id, borough, zone, side_of_street, from_street, to_street, max_stay,
              is_accessible, has_ev_charger, status)
  on app_public.spots to app_operator;
drop policy if exists insert_in_zone on app_public.spots;
create policy insert_in_zone on app_public.spots for insert to app_operator
  with check (app_hidden.current_user_may_manage(borough));
drop policy if exists update_in_zone on app_public.spots;
create policy update_in_zone on app_public.spots for update to app_operator
  using (app_hidden.current_user_may_manage(borough))
  with check (app_hidden.current_user_may_manage(borough));
grant insert (code, name, hourly_price, currency, billing_increment, minimum_charge, time_zone),
      update (name, hourly_price, billing_increment, minimum_charge)
  on app_public.rates to app_operator;
drop policy if exists insert_staff on app_public.rates;
create policy insert_staff on app_public.rates for insert to app_operator
  with check ((select app_hidden.current_user_is_staff()));
drop policy if exists update_in_zone on app_public.rates;
create policy update_in_zone on app_public.rates for update to app_operator
  using (app_hidden.current_user_may_manage_rate(id));
grant insert (rate_id, isodow, opens, closes), delete on app_public.rate_hours to app_operator;
drop policy if exists insert_in_zone on app_public.rate_hours;
create policy insert_in_zone on app_public.rate_hours for insert to app_operator
  with check (app_hidden.current_user_may_manage_rate(rate_id));
drop policy if exists delete_in_zone on app_public.rate_hours;
create policy delete_in_zone on app_public.rate_hours for delete to app_operator
  using (app_hidden.current_user_may_manage_rate(rate_id));

-- vehicles: a driver reads their own; saved and removed through functions.
revoke all on app_public.vehicles from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.vehicles enable row level security;
grant select on app_public.vehicles to app_anonymous;
drop policy if exists select_own on app_public.vehicles;
create policy select_own on app_public.vehicles for select to app_anonymous
  using (user_id = (select app_public.current_user_id()));

-- analytics views of issue 14: analysts only.
revoke all on analytics.occupancy_by_hour, analytics.revenue_by_day_and_rate, analytics.booking_funnel, analytics.stays_by_day
  from app_anonymous, app_user, app_operator, app_analyst;
grant select on analytics.occupancy_by_hour, analytics.revenue_by_day_and_rate, analytics.booking_funnel, analytics.stays_by_day
  to app_analyst;
--! EndIncluded table_access.sql
