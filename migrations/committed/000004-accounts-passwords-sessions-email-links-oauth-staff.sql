--! Previous: sha1:f8d229ba1d204d5ca04bf944f835c68aec2f5725
--! Hash: sha1:34a501da35f35dbc3254626716914ded8221339b
--! Message: accounts

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

--! Included email_enqueue.sql
create or replace function app_private.email_enqueue(
  template text,
  recipient citext,
  data jsonb default '{}',
  dedupe_key text default null
) returns bigint
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_id bigint;
begin
  -- The same dedupe key twice (a retried job, a replayed webhook) is one email.
  insert into app_private.emails (template, recipient, data, dedupe_key)
  values (email_enqueue.template, email_enqueue.recipient, coalesce(email_enqueue.data, '{}'), email_enqueue.dedupe_key)
  on conflict on constraint emails_dedupe_key_key do nothing
  returning id into v_id;
  if v_id is not null then
    perform graphile_worker.add_job('send_email', json_build_object('emailId', v_id),
      max_attempts => 25, job_key => 'send_email:' || v_id);
  end if;
  return v_id;
end;
$$;
comment on function app_private.email_enqueue(text, citext, jsonb, text) is
  E'Writes an email to the outbox and queues its sending in the same transaction; returns its id, or null when dedupe_key was already used.';
--! EndIncluded email_enqueue.sql
--! Included accounts_core.sql
-- Accounts: the building blocks every sign-in path shares — the clock, input
-- rules, password hashing, one-time tokens, sessions and rate limits.

--------------------------------------------------------------------------------
-- The clock. Every accounts function reads time from here, so tests can move
-- it (`set app.test_now = '…'`) instead of sleeping. Unset, it is now().

create or replace function app_hidden.clock_now() returns timestamptz
  language sql stable
as $$
  select coalesce(nullif(current_setting('app.test_now', true), '')::timestamptz, now());
$$;
comment on function app_hidden.clock_now() is
  E'The time accounts rules use: the setting app.test_now when a test set it, else now().';

-- Session lifetimes, in one place.
create or replace function app_hidden.session_idle_timeout() returns interval
  language sql immutable as $$ select interval '24 hours' $$;
comment on function app_hidden.session_idle_timeout() is E'A session unused this long is over.';
create or replace function app_hidden.session_max_age() returns interval
  language sql immutable as $$ select interval '30 days' $$;
comment on function app_hidden.session_max_age() is E'No session lives longer than this, however busy.';
create or replace function app_hidden.session_touch_interval() returns interval
  language sql immutable as $$ select interval '1 minute' $$;
comment on function app_hidden.session_touch_interval() is
  E'last_active_at is written at most this often, so busy sessions do not write on every request.';

--------------------------------------------------------------------------------
-- Input rules

create or replace function app_hidden.email_is_valid(email text) returns boolean
  language sql immutable
as $$
  -- ASCII only: internationalised addresses are refused rather than risk
  -- look-alike characters (Cyrillic "а" for Latin "a") naming another account.
  select email is not null
    and length(email) <= 254
    and email ~ '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$'
    and length(split_part(email, '@', 1)) <= 64;
$$;
comment on function app_hidden.email_is_valid(text) is
  E'True for a plain ASCII address local@domain.tld (local part at most 64, whole at most 254 characters).';

create or replace function app_hidden.assert_email(email text) returns citext
  language plpgsql immutable
as $$
begin
  if not app_hidden.email_is_valid(btrim(email)) then
    raise exception 'That is not an email address we can use (plain ASCII, like name@example.com)'
      using errcode = 'SMA03';
  end if;
  return btrim(email)::citext;
end;
$$;
comment on function app_hidden.assert_email(text) is E'The trimmed address, or error SMA03.';

create or replace function app_hidden.assert_name(name text) returns text
  language plpgsql immutable
as $$
declare
  v_name text := btrim(normalize(coalesce(name, ''), NFC));
begin
  -- Control and format characters (including bidi overrides and zero-width
  -- joiners) let a name display as something else: refused.
  if length(v_name) not between 1 and 100 or v_name ~ '[[:cntrl:]\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]' then
    raise exception 'A name must be 1 to 100 characters without control characters' using errcode = 'SMA05';
  end if;
  return v_name;
end;
$$;
comment on function app_hidden.assert_name(text) is E'The trimmed, NFC-normalised name, or error SMA05.';

create or replace function app_hidden.assert_password(password text, email text default null) returns text
  language plpgsql immutable
as $$
declare
  -- NFKC, as NIST SP 800-63B advises: the same password typed on another
  -- keyboard (composed or decomposed accents, full-width digits) still matches.
  v_password text := normalize(coalesce(password, ''), NFKC);
begin
  if length(v_password) < 10 or octet_length(v_password) > 72 then
    raise exception 'A password must be at least 10 characters and at most 72 bytes' using errcode = 'SMA04';
  end if;
  if btrim(v_password) = '' or v_password ~ '^(.)\1*$' then
    raise exception 'A password must not be only one repeated character' using errcode = 'SMA04';
  end if;
  if email is not null and lower(v_password) = lower(btrim(email)) then
    raise exception 'A password must not be your email address' using errcode = 'SMA04';
  end if;
  return v_password;
end;
$$;
comment on function app_hidden.assert_password(text, text) is
  E'The NFKC-normalised password when it meets the rule (10 characters to 72 bytes, not one repeated character, not the email), else error SMA04.';

--------------------------------------------------------------------------------
-- Passwords (bcrypt, cost 10)

create or replace function app_private.password_hash(password text) returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select crypt(password, gen_salt('bf', 10));
$$;
comment on function app_private.password_hash(text) is E'bcrypt hash (cost 10) of an already normalised password.';

create or replace function app_private.password_matches(user_id bigint, password text) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_hash text;
  v_password text := normalize(coalesce(password, ''), NFKC);
begin
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = password_matches.user_id;
  if v_hash is null then
    -- Same work as a real check, so timing does not tell whether the account
    -- exists or has a password.
    perform crypt(v_password, gen_salt('bf', 10));
    return false;
  end if;
  return crypt(v_password, v_hash) = v_hash;
end;
$$;
comment on function app_private.password_matches(bigint, text) is
  E'True when the password is the user''s; false for a user without one (after the same bcrypt work).';

--------------------------------------------------------------------------------
-- Opaque tokens: 32 random bytes, base64url. Only their SHA-256 is stored.

create or replace function app_private.new_token() returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select rtrim(translate(encode(gen_random_bytes(32), 'base64'), '+/', '-_'), '=');
$$;
comment on function app_private.new_token() is E'A fresh 256-bit token, base64url without padding.';

create or replace function app_private.token_hash(token text) returns bytea
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select digest(coalesce(token, ''), 'sha256');
$$;
comment on function app_private.token_hash(text) is E'SHA-256 of a token: what tables keep instead of the token.';

create or replace function app_hidden.link(path text, token text) returns text
  language sql stable
as $$
  -- The SPA's origin comes from the request (pgSettings app.web_url, set by
  -- the server from WEB_URL); the default fits local development.
  select rtrim(coalesce(nullif(current_setting('app.web_url', true), ''), 'http://localhost:5173'), '/')
    || path || '?token=' || token;
$$;
comment on function app_hidden.link(text, text) is E'An absolute link into the web app carrying a token.';

create or replace function app_private.user_token_issue(user_id bigint, kind text, email citext, valid_for interval)
  returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token();
begin
  -- A new link replaces older unused ones of the same kind.
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = user_token_issue.user_id and t.kind = user_token_issue.kind and t.used_at is null;
  insert into app_private.user_tokens (user_id, kind, token_hash, email, created_at, expires_at)
  values (user_token_issue.user_id, user_token_issue.kind, app_private.token_hash(v_token), user_token_issue.email,
          app_hidden.clock_now(), app_hidden.clock_now() + valid_for);
  return v_token;
end;
$$;
comment on function app_private.user_token_issue(bigint, text, citext, interval) is
  E'Issues a one-time token of a kind for a user (older unused ones of that kind stop working); returns the token.';

create or replace function app_private.user_token_use(token text, kinds text[]) returns app_private.user_tokens
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_row app_private.user_tokens;
begin
  -- Marking it used in the same statement that finds it makes it single use
  -- even under concurrent clicks.
  update app_private.user_tokens t set used_at = app_hidden.clock_now()
  where t.token_hash = app_private.token_hash(user_token_use.token)
    and t.kind = any(user_token_use.kinds)
    and t.used_at is null
    and t.expires_at > app_hidden.clock_now()
  returning t.* into v_row;
  if v_row.id is null then
    raise exception 'This link is invalid, was already used, or has expired' using errcode = 'SMA07';
  end if;
  return v_row;
end;
$$;
comment on function app_private.user_token_use(text, text[]) is
  E'Consumes a one-time token of one of the kinds, or error SMA07.';

--------------------------------------------------------------------------------
-- Sessions

create or replace function app_private.session_create(user_id bigint, method text, client_ip inet default null)
  returns table (session_id uuid, token text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token();
  v_id uuid;
begin
  insert into app_private.sessions (user_id, token_hash, created_at, last_active_at, method, client_ip)
  values (session_create.user_id, app_private.token_hash(v_token), app_hidden.clock_now(), app_hidden.clock_now(),
          session_create.method, session_create.client_ip)
  returning id into v_id;
  return query select v_id, v_token;
end;
$$;
comment on function app_private.session_create(bigint, text, inet) is
  E'Opens a session for a user; returns its id and its token (the only time the token exists outside the client).';

create or replace function app_hidden.db_role_for(role text) returns text
  language sql immutable
as $$
  select case when role in ('operator', 'admin') then 'app_operator' else 'app_user' end;
$$;
comment on function app_hidden.db_role_for(text) is
  E'The database role a user''s requests run as: app_operator for operators and admins, app_user otherwise (drivers and analysts).';

create or replace function app_private.session_lookup(token_hash bytea)
  returns table (session_id uuid, user_id bigint, db_role text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_session app_private.sessions;
  v_role text;
begin
  select s.* into v_session from app_private.sessions s
  where s.token_hash = session_lookup.token_hash
    and s.revoked_at is null
    and s.last_active_at > v_now - app_hidden.session_idle_timeout()
    and s.created_at > v_now - app_hidden.session_max_age();
  if v_session.id is null then
    return;
  end if;
  -- Sliding expiry: use renews the session, but at most once a minute, so a
  -- busy client does not turn every read into a write.
  if v_session.last_active_at < v_now - app_hidden.session_touch_interval() then
    update app_private.sessions s set last_active_at = v_now where s.id = v_session.id;
  end if;
  select u.role into v_role from app_public.users u where u.id = v_session.user_id;
  return query select v_session.id, v_session.user_id, app_hidden.db_role_for(v_role);
end;
$$;
comment on function app_private.session_lookup(bytea) is
  E'The live session a token hash opens (renewing it when last renewed over a minute ago), with the database role its requests use; no row when the token is unknown, revoked, idle over 24 h or older than 30 days.';

--------------------------------------------------------------------------------
-- Rate limits: fixed windows counted in PostgreSQL, so every API process
-- shares them.

create or replace function app_private.rate_limit_rule(bucket text, out max_hits int, out period interval)
  language sql immutable
as $$
  select r.max_hits, r.period
  from (values
    ('login_email',    10, interval '15 minutes'),
    ('login_ip',      100, interval '15 minutes'),
    ('reset_email',     3, interval '1 hour'),
    ('reset_ip',       20, interval '1 hour'),
    ('register_ip',    20, interval '1 hour'),
    ('verify_resend',   3, interval '1 hour')
  ) as r(bucket, max_hits, period)
  where r.bucket = rate_limit_rule.bucket;
$$;
comment on function app_private.rate_limit_rule(text) is E'How many hits a bucket allows per period (the documented limits).';

create or replace function app_private.rate_limit_hit(bucket text, key text) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_rule record := app_private.rate_limit_rule(bucket);
  v_hits int;
  v_start timestamptz;
begin
  if key is null then
    return 0;
  end if;
  insert into app_private.rate_limits as r (bucket, key, window_start, hits)
  values (rate_limit_hit.bucket, rate_limit_hit.key, v_now, 1)
  on conflict on constraint rate_limits_pkey do update set
    window_start = case when r.window_start <= v_now - v_rule.period then v_now else r.window_start end,
    hits = case when r.window_start <= v_now - v_rule.period then 1 else r.hits + 1 end
  returning r.hits, r.window_start into v_hits, v_start;
  if v_hits > v_rule.max_hits then
    return greatest(1, ceil(extract(epoch from (v_start + v_rule.period - v_now))))::int;
  end if;
  return 0;
end;
$$;
comment on function app_private.rate_limit_hit(text, text) is
  E'Counts one hit on (bucket, key); returns 0 when allowed, else the seconds until the window ends.';

create or replace function app_private.rate_limit_raise(retry_after int) returns void
  language plpgsql immutable
as $$
begin
  if retry_after > 0 then
    raise exception 'Too many attempts. Try again in % seconds.', retry_after
      using errcode = 'SMA02', detail = retry_after::text;
  end if;
end;
$$;
comment on function app_private.rate_limit_raise(int) is
  E'Raises SMA02 (detail = seconds to wait) when retry_after > 0.';

create or replace function app_hidden.client_ip() returns inet
  language plpgsql stable
as $$
begin
  return nullif(current_setting('app.client_ip', true), '')::inet;
exception when invalid_text_representation then
  return null;
end;
$$;
comment on function app_hidden.client_ip() is E'The request''s client address (pgSettings app.client_ip), or null.';
--! EndIncluded accounts_core.sql
--! Included current_user.sql
-- Who the request is. The API sets `app.session_id` through pgSettings; nothing
-- else identifies a caller to SQL.

create or replace function app_public.current_session_id() returns uuid
  language sql stable
as $$
  -- A pooled connection that once saw the setting reports '' rather than null.
  select nullif(current_setting('app.session_id', true), '')::uuid;
$$;
comment on function app_public.current_session_id() is
  E'@behavior -queryField\nThe session of the current request, or null when signed out.';

create or replace function app_public.current_user_id() returns bigint
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The server only sets live sessions, but a request can outlive its
  -- session's revocation or expiry: checked again here.
  select s.user_id
  from app_private.sessions s
  where s.id = app_public.current_session_id()
    and s.revoked_at is null
    and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
    and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age();
$$;
comment on function app_public.current_user_id() is
  E'@behavior -queryField\nThe signed-in user''s id, or null.';

create or replace function app_public.current_user() returns app_public.users
  language sql stable
as $$
  select u.* from app_public.users u where u.id = app_public.current_user_id();
$$;
comment on function app_public.current_user() is E'The signed-in user, or null when signed out.';

create or replace function app_hidden.current_user_is_staff() returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select u.role in ('operator', 'admin') from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;
comment on function app_hidden.current_user_is_staff() is
  E'True when the signed-in user is an operator or an admin (the roles whose requests run as app_operator).';
--! EndIncluded current_user.sql
--! Included accounts_password.sql
-- Accounts: password sign-up, sign-in, sign-out, password change and reset,
-- email verification. app_private functions do the work (the server's auth
-- routes call them with the owner pool); app_public ones are the GraphQL
-- mutations, security definer because they reach app_private tables.

--------------------------------------------------------------------------------
-- Guest reservations become the user's once the user has proved the address

create or replace function app_private.claim_guest_reservations(user_id bigint) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with claimed as (
    update app_public.reservations r set user_id = u.id
    from app_public.users u
    where u.id = claim_guest_reservations.user_id and u.is_verified
      and r.user_id is null and r.email = u.email
    returning 1
  )
  select count(*)::int from claimed;
$$;
comment on function app_private.claim_guest_reservations(bigint) is
  E'Gives a verified user the guest reservations made with their email; returns how many.';

create or replace function app_private.mark_verified(user_id bigint, email citext) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Only the address the proof was sent to counts.
  update app_public.users u set is_verified = true
  where u.id = mark_verified.user_id and u.email = mark_verified.email and not u.is_verified;
  perform app_private.claim_guest_reservations(mark_verified.user_id);
end;
$$;
comment on function app_private.mark_verified(bigint, citext) is
  E'Marks the user verified when email is still their address, and claims their guest reservations.';

create or replace function app_private.send_verification(user_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_token text;
begin
  select u.* into v_user from app_public.users u where u.id = send_verification.user_id;
  v_token := app_private.user_token_issue(v_user.id, 'verify_email', v_user.email, interval '3 days');
  perform app_private.email_enqueue('verify_email', v_user.email,
    jsonb_build_object('name', v_user.name, 'link', app_hidden.link('/verify-email', v_token),
                       'expiresAt', app_hidden.clock_now() + interval '3 days'));
end;
$$;
comment on function app_private.send_verification(bigint) is
  E'Issues an email verification link (3 days) and queues the verify_email email.';

--------------------------------------------------------------------------------
-- Sign-up

create or replace function app_private.register(email text, name text, password text, client_ip inet)
  returns app_public.auth_session
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_name text := app_hidden.assert_name(name);
  v_password text := app_hidden.assert_password(password, email);
  v_user_id bigint;
  v_session record;
begin
  perform app_private.rate_limit_raise(app_private.rate_limit_hit('register_ip', host(client_ip)));
  begin
    insert into app_public.users (email, name) values (v_email, v_name) returning id into v_user_id;
  exception when unique_violation then
    raise exception 'An account with this email already exists: sign in, or reset your password'
      using errcode = 'SMA06';
  end;
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (v_user_id, app_private.password_hash(v_password), app_hidden.clock_now());
  perform app_private.send_verification(v_user_id);
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return (v_user_id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;
comment on function app_private.register(text, text, text, inet) is
  E'Creates a driver with a password, queues the verification email and opens a session.';

create or replace function app_public.register(email text, name text, password text) returns app_public.auth_session
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.register(register.email, register.name, register.password, app_hidden.client_ip());
$$;
comment on function app_public.register(text, text, text) is
  E'Signs up a driver: email (unique, plain ASCII), name (1–100 characters), password (at least 10 characters, at most 72 bytes, not one repeated character, not the email). A verification email is sent. Returns a session token, shown only this once: send it as `Authorization: Bearer <token>`. Browsers use POST /auth/register instead, which sets the session cookie.';

--------------------------------------------------------------------------------
-- Sign-in. Not a GraphQL mutation: a failed attempt must still be counted by
-- the rate limit, and a mutation that raises rolls its counting back. The
-- POST /auth/login route calls this, which never raises on bad credentials.

create or replace function app_private.login_attempt(email text, password text, client_ip inet)
  returns table (status text, user_id bigint, session_id uuid, token text, retry_after int)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key text := left(lower(btrim(coalesce(email, ''))), 254);
  v_retry int;
  v_user_id bigint;
  v_session record;
begin
  v_retry := greatest(
    app_private.rate_limit_hit('login_email', v_key),
    app_private.rate_limit_hit('login_ip', host(client_ip)));
  if v_retry > 0 then
    return query select 'limited'::text, null::bigint, null::uuid, null::text, v_retry;
    return;
  end if;
  select u.id into v_user_id from app_public.users u where u.email = v_key::citext;
  -- password_matches does the bcrypt work even for an unknown user.
  if not app_private.password_matches(coalesce(v_user_id, -1), password) then
    return query select 'invalid'::text, null::bigint, null::uuid, null::text, 0;
    return;
  end if;
  delete from app_private.rate_limits r where r.bucket = 'login_email' and r.key = v_key;
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return query select 'ok'::text, v_user_id, v_session.session_id, v_session.token, 0;
end;
$$;
comment on function app_private.login_attempt(text, text, inet) is
  E'One sign-in attempt, counted per email and per client address: status ok (with a new session and its token), invalid (wrong email or password, the same answer for both), or limited (retry_after seconds).';

--------------------------------------------------------------------------------
-- Sign-out and sessions

create or replace function app_private.session_revoke(session_id uuid) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = session_revoke.session_id and s.revoked_at is null;
  return found;
end;
$$;
comment on function app_private.session_revoke(uuid) is E'Revokes one session; true when it was live.';

create or replace function app_public.logout() returns boolean
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(app_private.session_revoke(app_public.current_session_id()), false);
$$;
comment on function app_public.logout() is
  E'Signs out: revokes the session this request came with. Browsers should use POST /auth/logout, which also clears the cookie.';

create or replace function app_public.my_sessions() returns setof app_public.session_info
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select s.id, s.method, s.created_at, s.last_active_at,
         least(s.last_active_at + app_hidden.session_idle_timeout(), s.created_at + app_hidden.session_max_age()),
         s.id = app_public.current_session_id()
  from app_private.sessions s
  where s.user_id = app_public.current_user_id()
    and s.revoked_at is null
    and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
    and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age()
  order by s.created_at desc;
$$;
comment on function app_public.my_sessions() is E'The signed-in user''s live sessions, newest first.';

create or replace function app_public.revoke_session(session_id uuid) returns boolean
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = revoke_session.session_id and s.user_id = app_public.current_user_id() and s.revoked_at is null
  returning true;
$$;
comment on function app_public.revoke_session(uuid) is
  E'Signs out one of your own sessions (e.g. a lost phone); null when it is not one of your live sessions.';

--------------------------------------------------------------------------------
-- Password change and reset

create or replace function app_hidden.assert_signed_in() returns bigint
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_public.current_user_id();
begin
  if v_user_id is null then
    raise exception 'Sign in first' using errcode = 'SMA08';
  end if;
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_signed_in() is E'The current user''s id, or error SMA08.';

create or replace function app_hidden.assert_verified() returns bigint
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if not exists (select from app_public.users u where u.id = v_user_id and u.is_verified) then
    raise exception 'Verify your email address first: follow the link we sent you' using errcode = 'SMA11';
  end if;
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_verified() is
  E'The current user''s id when their email is verified, else error SMA11 (or SMA08 when signed out). Functions for actions that need a verified email call it.';

create or replace function app_private.password_set(user_id bigint, password text) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (password_set.user_id, app_private.password_hash(password_set.password), app_hidden.clock_now())
  on conflict (user_id) do update
    set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
$$;
comment on function app_private.password_set(bigint, text) is E'Stores a new (already validated) password for a user.';

create or replace function app_public.change_password(old_password text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_password text;
begin
  select u.* into v_user from app_public.users u where u.id = app_hidden.assert_signed_in();
  if not app_private.password_matches(v_user.id, old_password) then
    raise exception 'Your current password is not correct' using errcode = 'SMA09';
  end if;
  v_password := app_hidden.assert_password(new_password, v_user.email);
  perform app_private.password_set(v_user.id, v_password);
  -- Whoever else holds a session (perhaps the reason for the change) is out.
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.id is distinct from app_public.current_session_id() and s.revoked_at is null;
  perform app_private.email_enqueue('password_changed', v_user.email, jsonb_build_object('name', v_user.name));
  return true;
end;
$$;
comment on function app_public.change_password(text, text) is
  E'Changes your password (the current one is required) and signs out all your other sessions.';

create or replace function app_public.forgot_password(email text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_user app_public.users;
  v_token text;
begin
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('reset_email', lower(v_email::text)),
    app_private.rate_limit_hit('reset_ip', host(app_hidden.client_ip()))));
  select u.* into v_user from app_public.users u where u.email = v_email;
  -- The answer is the same whether or not the account exists.
  if v_user.id is not null then
    v_token := app_private.user_token_issue(v_user.id, 'password_reset', v_user.email, interval '1 hour');
    perform app_private.email_enqueue('password_reset', v_user.email,
      jsonb_build_object('name', v_user.name, 'link', app_hidden.link('/reset-password', v_token),
                         'expiresAt', app_hidden.clock_now() + interval '1 hour'));
  end if;
  return true;
end;
$$;
comment on function app_public.forgot_password(text) is
  E'Emails a one-time password reset link (valid 1 hour) when an account has this email; answers the same either way. Limited to 3 an hour per email and 20 per client address.';

create or replace function app_public.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['password_reset', 'invite']);
  v_user app_public.users;
begin
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  perform app_private.password_set(v_user.id, app_hidden.assert_password(new_password, v_user.email));
  -- The link went to this address: following it proves the user owns it.
  perform app_private.mark_verified(v_user.id, v_token.email);
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  return true;
end;
$$;
comment on function app_public.reset_password(text, text) is
  E'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, and signs out every session of the account. Sign in afterwards.';

--------------------------------------------------------------------------------
-- Email verification

create or replace function app_public.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['verify_email']);
begin
  perform app_private.mark_verified(v_token.user_id, v_token.email);
  return true;
end;
$$;
comment on function app_public.verify_email(text) is
  E'Verifies an email address with the token from its verification link (single use, 3 days). Guest reservations made with that address become the account''s.';

create or replace function app_public.resend_verification_email() returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if exists (select from app_public.users u where u.id = v_user_id and u.is_verified) then
    return false;
  end if;
  perform app_private.rate_limit_raise(app_private.rate_limit_hit('verify_resend', v_user_id::text));
  perform app_private.send_verification(v_user_id);
  return true;
end;
$$;
comment on function app_public.resend_verification_email() is
  E'Sends a new verification link (older ones stop working); false when already verified. At most 3 an hour.';
--! EndIncluded accounts_password.sql
--! Included accounts_staff.sql
-- Accounts: roles, staff pre-registration (the CLI and admins), and sign-in
-- through Google or Facebook.

--------------------------------------------------------------------------------
-- Roles

create or replace function app_hidden.current_user_is_admin() returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select u.role = 'admin' from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;
comment on function app_hidden.current_user_is_admin() is E'True when the signed-in user is an admin.';

create or replace function app_hidden.assert_admin() returns bigint
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if not app_hidden.current_user_is_admin() then
    raise exception 'Only an admin may do this' using errcode = 'SMA10';
  end if;
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_admin() is E'The current user''s id when an admin, else error SMA10 (SMA08 when signed out).';

create or replace function app_hidden.assert_role(role text) returns text
  language plpgsql immutable
as $$
begin
  if role is null or role not in ('driver', 'operator', 'admin', 'analyst') then
    raise exception 'A role is one of driver, operator, admin, analyst' using errcode = 'SMA16';
  end if;
  return role;
end;
$$;
comment on function app_hidden.assert_role(text) is E'The role when it is one of the four, else error SMA16.';

create or replace function app_public.set_user_role(user_id bigint, role text) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_admin_id bigint := app_hidden.assert_admin();
  v_user app_public.users;
begin
  perform app_hidden.assert_role(role);
  if set_user_role.user_id = v_admin_id then
    -- Keeps at least one admin: an admin cannot demote themselves.
    raise exception 'You cannot change your own role; ask another admin' using errcode = 'SMA16';
  end if;
  -- The role is read at every request's session look-up, so it takes effect
  -- on the user's next request without signing them out.
  update app_public.users u set role = set_user_role.role
  where u.id = set_user_role.user_id
  returning u.* into v_user;
  if v_user.id is null then
    raise exception 'There is no user %', set_user_role.user_id using errcode = 'SMA17';
  end if;
  return v_user;
end;
$$;
comment on function app_public.set_user_role(bigint, text) is
  E'Admins only: gives a user another role (driver, operator, admin, analyst); not your own. Takes effect on the user''s next request.';

--------------------------------------------------------------------------------
-- Creating users outside sign-up: the CLI and admins' staff invitations

create or replace function app_private.user_create(
  email text, name text, role text, password text default null, invited_by text default null
) returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_name text := app_hidden.assert_name(coalesce(nullif(btrim(name), ''), split_part(btrim(email), '@', 1)));
  v_user_id bigint;
  v_token text;
begin
  perform app_hidden.assert_role(role);
  begin
    -- Whoever creates the account vouches for the address only with a
    -- password; an invitation is verified when its link is followed.
    insert into app_public.users (email, name, role, is_verified)
    values (v_email, v_name, role, password is not null)
    returning id into v_user_id;
  exception when unique_violation then
    raise exception 'An account with this email already exists' using errcode = 'SMA06';
  end;
  if password is not null then
    perform app_private.password_set(v_user_id, app_hidden.assert_password(password, email));
  else
    v_token := app_private.user_token_issue(v_user_id, 'invite', v_email, interval '7 days');
    perform app_private.email_enqueue('staff_invite', v_email, jsonb_build_object(
      'name', v_name, 'role', role, 'invitedBy', coalesce(invited_by, 'Secure My Spot'),
      'link', app_hidden.link('/accept-invite', v_token),
      'expiresAt', app_hidden.clock_now() + interval '7 days'));
  end if;
  return v_user_id;
end;
$$;
comment on function app_private.user_create(text, text, text, text, text) is
  E'Creates a user with a role (pre-registration): with a password (verified at once), or else with a 7-day invitation link emailed as staff_invite. Used by `npm run cli -- user:create` and invite_staff.';

create or replace function app_public.invite_staff(email text, name text, role text) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_admin app_public.users;
  v_user_id bigint;
  v_user app_public.users;
begin
  select u.* into v_admin from app_public.users u where u.id = app_hidden.assert_admin();
  if role is distinct from 'operator' and role is distinct from 'admin' and role is distinct from 'analyst' then
    raise exception 'Staff are operators, admins or analysts' using errcode = 'SMA16';
  end if;
  v_user_id := app_private.user_create(email, name, role, null, v_admin.name);
  select u.* into v_user from app_public.users u where u.id = v_user_id;
  return v_user;
end;
$$;
comment on function app_public.invite_staff(text, text, text) is
  E'Admins only: pre-registers a staff member (operator, admin or analyst) and emails them a link to set a password (7 days). Only pre-registered staff may sign in with Google or Facebook.';

--------------------------------------------------------------------------------
-- Google and Facebook. The server does the OAuth exchange; SQL keeps the
-- state (single use, so a replayed callback is refused) and decides who the
-- provider's answer signs in.

create or replace function app_private.oauth_state_create(
  provider text, state text, code_verifier text, nonce text, intent text, redirect_to text
) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_private.oauth_states (state_hash, provider, code_verifier, nonce, intent, redirect_to, created_at, expires_at)
  values (app_private.token_hash(state), provider, code_verifier, nonce, intent, redirect_to,
          app_hidden.clock_now(), app_hidden.clock_now() + interval '10 minutes');
$$;
comment on function app_private.oauth_state_create(text, text, text, text, text, text) is
  E'Remembers an OAuth round trip''s state, PKCE verifier and nonce for 10 minutes.';

create or replace function app_private.oauth_state_consume(provider text, state text) returns app_private.oauth_states
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.oauth_states s set used_at = app_hidden.clock_now()
  where s.state_hash = app_private.token_hash(oauth_state_consume.state)
    and s.provider = oauth_state_consume.provider
    and s.used_at is null
    and s.expires_at > app_hidden.clock_now()
  returning s.*;
$$;
comment on function app_private.oauth_state_consume(text, text) is
  E'The round trip a callback''s state belongs to, once: null when unknown, expired or already used.';

create or replace function app_private.oauth_sign_in(
  provider text, subject text, email text, email_verified boolean, name text,
  intent text, staff_domains text[], client_ip inet
) returns app_public.auth_session
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_email citext;
  v_session record;
begin
  if subject is null or subject = '' then
    raise exception 'The provider did not say who you are' using errcode = 'SMA13';
  end if;
  select u.* into v_user
  from app_private.user_identities i join app_public.users u on u.id = i.user_id
  where i.provider = oauth_sign_in.provider and i.subject = oauth_sign_in.subject;

  if v_user.id is null then
    if email is null or not app_hidden.email_is_valid(btrim(email)) then
      raise exception 'Your % account has no usable email address', provider using errcode = 'SMA12';
    end if;
    v_email := btrim(email)::citext;
    select u.* into v_user from app_public.users u where u.email = v_email;
    if v_user.id is not null and not coalesce(email_verified, false) then
      -- Linking to an existing account on an address the provider has not
      -- checked would let anyone claim it.
      raise exception 'Your % email address is not verified; sign in with your password', provider using errcode = 'SMA12';
    end if;
    if v_user.id is null then
      if intent = 'staff' or split_part(v_email::text, '@', 2) ilike any (coalesce(staff_domains, '{}')) then
        raise exception 'This email is not registered as staff; ask an admin to invite you' using errcode = 'SMA12';
      end if;
      insert into app_public.users (email, name, is_verified)
      values (v_email, app_hidden.assert_name(coalesce(nullif(btrim(name), ''), split_part(v_email::text, '@', 1))),
              coalesce(email_verified, false))
      returning * into v_user;
    end if;
    insert into app_private.user_identities (user_id, provider, subject, email, created_at)
    values (v_user.id, provider, subject, v_email, app_hidden.clock_now());
  end if;

  if intent = 'staff' and v_user.role = 'driver' then
    raise exception 'This email is not registered as staff; ask an admin to invite you' using errcode = 'SMA12';
  end if;
  update app_private.user_identities i set last_sign_in_at = app_hidden.clock_now()
  where i.provider = oauth_sign_in.provider and i.subject = oauth_sign_in.subject;
  if coalesce(email_verified, false) and email is not null then
    perform app_private.mark_verified(v_user.id, btrim(email)::citext);
  end if;
  select * into v_session from app_private.session_create(v_user.id, provider, client_ip);
  return (v_user.id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;
comment on function app_private.oauth_sign_in(text, text, text, boolean, text, text, text[], inet) is
  E'Signs in the person a provider vouched for: their linked account, else the account with their (provider-verified) email, else a new driver — but never a new account on intent ''staff'' or on a staff email domain (error SMA12). Opens a session.';
--! EndIncluded accounts_staff.sql
--! Included sessions_sweep.sql
create or replace function app_private.sessions_sweep() returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_count int;
begin
  -- A session no request can use any more is only a liability: drop it.
  delete from app_private.sessions
  where revoked_at is not null
     or last_active_at < v_now - app_hidden.session_idle_timeout()
     or created_at < v_now - app_hidden.session_max_age();
  get diagnostics v_count = row_count;
  -- Dead one-time links, OAuth round trips and rate limit windows go too.
  delete from app_private.user_tokens where expires_at < v_now - interval '1 day';
  delete from app_private.oauth_states where expires_at < v_now - interval '1 hour';
  delete from app_private.rate_limits where window_start < v_now - interval '1 day';
  return v_count;
end;
$$;
comment on function app_private.sessions_sweep() is
  E'Deletes revoked, idle and too old sessions (returns how many), and expired one-time tokens, OAuth states and rate limit windows. Run by the sessions__sweep cron task.';
--! EndIncluded sessions_sweep.sql

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
