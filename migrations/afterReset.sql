-- Runs as a superuser in a freshly (re)created database, before any migration.
-- Extensions that need a superuser, the API's group roles, and connect grants.
-- Roles are cluster-wide, so every statement here is idempotent. The two login
-- roles (app_owner, app_authenticator) are made by cli/db__provision.ts, which
-- knows their passwords; this file never sees a secret.

create extension if not exists postgis;     -- not a trusted extension: needs a superuser
create extension if not exists btree_gist;  -- `spot_id with =` inside exclusion constraints
create extension if not exists pgcrypto;    -- gen_random_bytes, digest, crypt
create extension if not exists citext;      -- case-insensitive emails

do $$
begin
  -- What a request becomes via SET ROLE. Each inherits the one before it, so a
  -- grant to app_anonymous also holds for signed-in users and staff.
  if not exists (select from pg_roles where rolname = 'app_anonymous') then
    create role app_anonymous nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'app_user') then
    create role app_user nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'app_operator') then
    create role app_operator nologin;
  end if;
  -- Analysts read the `analytics` schema directly; their logins are members.
  if not exists (select from pg_roles where rolname = 'app_analyst') then
    create role app_analyst nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'app_authenticator') then
    create role app_authenticator login noinherit;
  end if;
end
$$;

grant app_anonymous to app_user;
grant app_user to app_operator;
grant app_anonymous, app_user, app_operator to app_authenticator;

-- The API's connections start as app_anonymous, so an anonymous request needs
-- no `begin; set role …; commit` around its query (a third of a search's
-- round trips). Signed-in requests still SET LOCAL ROLE in a transaction, which
-- PostgreSQL checks against the login role, app_authenticator.
alter role app_authenticator set role to 'app_anonymous';
-- app_authenticator's statement_timeout is set by cli/db__provision.ts, which
-- runs on every start: this file runs only when a database is (re)created.

-- Nobody but the owner creates objects in public (PostgreSQL 15 already
-- revokes CREATE; this keeps older clusters honest too).
revoke all on schema public from public;
grant usage on schema public to public;

revoke all on database :DATABASE_NAME from public;
grant connect on database :DATABASE_NAME to :DATABASE_OWNER, app_authenticator, app_analyst;
grant all on database :DATABASE_NAME to :DATABASE_OWNER;
