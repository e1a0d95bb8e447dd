--! Previous: sha1:b054d6376f191e3466d44b2c21c6a74933b715de
--! Hash: sha1:695f04046c35db476b34ec177a13ca2af70c3111
--! Message: Grants and row level security of every table in one fixture (table_access)

-- Grants and row level security of every table in one fixture (after every
-- table and function it names).
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
grant select on app_public.users to app_user;
grant update (name) on app_public.users to app_user;
drop policy if exists select_visible on app_public.users;
create policy select_visible on app_public.users for select to app_user
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
grant select on app_public.reservations to app_user;
drop policy if exists select_own on app_public.reservations;
create policy select_own on app_public.reservations for select to app_user
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
alter table app_private.stripe_webhook_events enable row level security;
alter table app_private.worker_processes enable row level security;

--------------------------------------------------------------------------------
-- analytics: views for analysts, without emails, names, tokens or provider ids
-- (migrations/fixtures/analytics.sql says what each leaves out).

grant select on analytics.spots, analytics.reservations, analytics.charges, analytics.daily_revenue to app_analyst;
--! EndIncluded table_access.sql
