-- Accounts: passwords, sessions with sliding expiry, one-time email links,
-- rate limits, Google/Facebook identities, roles and staff pre-registration.

--------------------------------------------------------------------------------
-- Tables

create table if not exists app_private.user_secrets (
  user_id             bigint primary key references app_public.users on delete cascade,
  -- bcrypt (pgcrypto crypt, cost 10) of the NFKC-normalised password; null
  -- for accounts that only sign in with Google or Facebook.
  password_hash       text,
  password_changed_at timestamptz
);
alter table app_private.user_secrets enable row level security;
comment on table app_private.user_secrets is E'Password hashes, apart from users so no API role can ever select them.';

create table if not exists app_private.user_tokens (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references app_public.users on delete cascade,
  kind       text not null check (kind in ('verify_email', 'password_reset', 'invite')),
  token_hash bytea not null unique,
  -- The address the link was sent to: only that address is verified by it.
  email      citext not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at    timestamptz
);
alter table app_private.user_tokens enable row level security;
create index if not exists user_tokens_user_id_kind_idx on app_private.user_tokens (user_id, kind);
comment on table app_private.user_tokens is E'One-time links sent by email (SHA-256 of the token only): email verification, password reset, staff invitation.';

create table if not exists app_private.user_identities (
  id              bigint generated always as identity primary key,
  user_id         bigint not null references app_public.users on delete cascade,
  provider        text not null check (provider in ('google', 'facebook')),
  subject         text not null check (length(subject) <= 255),
  email           citext,
  created_at      timestamptz not null default now(),
  last_sign_in_at timestamptz,
  unique (provider, subject)
);
alter table app_private.user_identities enable row level security;
create index if not exists user_identities_user_id_idx on app_private.user_identities (user_id);
comment on table app_private.user_identities is E'Google and Facebook accounts linked to users, by the provider''s stable subject id.';

create table if not exists app_private.oauth_states (
  state_hash    bytea primary key,
  provider      text not null check (provider in ('google', 'facebook')),
  code_verifier text not null,
  nonce         text,
  intent        text not null check (intent in ('sign_in', 'staff')),
  redirect_to   text,
  created_at    timestamptz not null default now(),
  expires_at    timestamptz not null,
  used_at       timestamptz
);
alter table app_private.oauth_states enable row level security;
comment on table app_private.oauth_states is E'OAuth round trips in flight: state (hashed), PKCE verifier and nonce; single use, 10 minutes.';

create table if not exists app_private.rate_limits (
  bucket       text not null,
  key          text not null,
  window_start timestamptz not null,
  hits         int not null,
  primary key (bucket, key)
);
alter table app_private.rate_limits enable row level security;
comment on table app_private.rate_limits is E'Fixed-window counters of sign-in, sign-up and reset attempts per email and per client address.';

alter table app_private.sessions add column if not exists method text not null default 'password'
  check (method in ('password', 'google', 'facebook'));
alter table app_private.sessions add column if not exists client_ip inet;
comment on column app_private.sessions.method is E'How the session was opened.';

--------------------------------------------------------------------------------
-- Types the API returns

drop type if exists app_public.auth_session cascade;
create type app_public.auth_session as (
  user_id    bigint,
  session_id uuid,
  token      text
);
comment on type app_public.auth_session is E'A new session: the user, the session id and its bearer token (shown only this once).';

drop type if exists app_public.session_info cascade;
create type app_public.session_info as (
  id             uuid,
  method         text,
  created_at     timestamptz,
  last_active_at timestamptz,
  expires_at     timestamptz,
  is_current     boolean
);
comment on type app_public.session_info is E'One of your sessions: how it was opened, when, when last used (to the minute), when it will end unless used, and whether it is this one.';

--------------------------------------------------------------------------------
-- Functions

--!include email_enqueue.sql
--!include accounts_core.sql
--!include current_user.sql
--!include accounts_password.sql
--!include accounts_staff.sql
--!include sessions_sweep.sql

--------------------------------------------------------------------------------
-- Row level security on users: yourself; operators also see drivers (their
-- customers); only admins see other staff.

drop policy if exists select_self on app_public.users;
drop policy if exists select_visible on app_public.users;
create policy select_visible on app_public.users for select to app_user
  using (
    id = (select app_public.current_user_id())
    or (select app_hidden.current_user_is_admin())
    or (role = 'driver' and (select app_hidden.current_user_is_staff()))
  );
comment on column app_public.users.name is E'How the user is addressed (1–100 characters). Users may change their own.';
