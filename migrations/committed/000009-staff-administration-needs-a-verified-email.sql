--! Previous: sha1:5aeadadda50164aeb17b705f9d1060714cf4ca46
--! Hash: sha1:a30e0077d60719d70cae2c98e069914fa91320a6
--! Message: accounts 2

-- Accounts, second step: staff administration needs a verified email.

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

create or replace function app_hidden.login(email text, password text)
  returns table (status text, user_id bigint, session_id uuid, token text, retry_after int)
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select * from app_private.login_attempt(login.email, login.password, app_hidden.client_ip());
$$;
comment on function app_hidden.login(text, text) is
  E'app_private.login_attempt for the GraphQL login mutation (server/login_plugin.ts): never raises, so a failed attempt''s count commits with the request; the plugin turns the status into SMA01/SMA02 afterwards.';
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
  -- Staff administration is one of the actions that need a verified email.
  perform app_hidden.assert_verified();
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_admin() is
  E'The current user''s id when a verified admin, else error SMA10 (not an admin), SMA11 (email not verified) or SMA08 (signed out).';

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
