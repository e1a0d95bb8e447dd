--! Previous: sha1:0d9a10e6a7b4fd8d866c90231cf2b535826f7169
--! Hash: sha1:615f64eba3212bc598c464cda72480b4976832ac
--! Message: Zones hold for reservations; a reset of an unproved account drops the stranger's name

-- A password reset of an account whose address nobody had proved now drops
-- what its maker set, as a provider-verified sign-in already did: the name (it
-- greeted the owner in the password_changed email and every one after) and
-- provider links. Both paths share app_private.forget_unproved_setup.
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
  if role is null or role not in ('driver', 'operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'A role is one of driver, operator, admin, analyst, enforcement' using errcode = 'SMA16';
  end if;
  return role;
end;
$$;
comment on function app_hidden.assert_role(text) is E'The role when it is one of the five, else error SMA16.';

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
  select u.* into v_user from app_public.users u where u.id = set_user_role.user_id for update;
  if v_user.id is null then
    raise exception 'There is no user %', coalesce(set_user_role.user_id::text, '(none given)') using errcode = 'SMA17';
  end if;
  -- Anyone may sign up with an address they do not own (a colleague's, a
  -- staff domain's) and wait: a staff role goes only to an account that has
  -- proved its email, as an invitation does when its link is followed.
  if set_user_role.role <> 'driver' and not v_user.is_verified then
    raise exception 'This account has not verified its email; a staff role needs a verified account (or invite them)'
      using errcode = 'SMA19';
  end if;
  -- The role is read at every request's session look-up, so it takes effect
  -- on the user's next request without signing them out.
  update app_public.users u set role = set_user_role.role
  where u.id = v_user.id
  returning u.* into v_user;
  return v_user;
end;
$$;
comment on function app_public.set_user_role(bigint, text) is
  E'Admins only: gives a user another role (driver, operator, admin, analyst, enforcement); not your own; a role other than driver only to a verified account (SMA19). Takes effect on the user''s next request.';

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
    v_token := app_private.user_token_issue(v_user_id, 'invite', v_email, app_hidden.user_token_valid_for('invite'));
    perform app_private.email_enqueue('staff_invite', v_email, jsonb_build_object(
      'name', v_name, 'role', role, 'invitedBy', coalesce(invited_by, 'Secure My Spot'),
      'token', v_token,
      'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('invite')));
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
  if role is null or role not in ('operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'Staff are operators, admins, analysts or enforcement officers' using errcode = 'SMA16';
  end if;
  v_user_id := app_private.user_create(email, name, role, null, v_admin.name);
  select u.* into v_user from app_public.users u where u.id = v_user_id;
  return v_user;
end;
$$;
comment on function app_public.invite_staff(text, text, text) is
  E'Admins only: pre-registers a staff member (operator, admin, analyst or enforcement officer) and emails them a link to set a password (7 days). Only pre-registered staff may sign in with Google or Facebook.';

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

-- Whoever made an account whose address nobody proved may be a stranger
-- waiting for its owner (pre-hijack). When the owner proves the address
-- (a provider's verified sign-in, or a password reset link), nothing the
-- stranger set may stay: their name would greet the owner in every email.
create or replace function app_private.forget_unproved_setup(user_id bigint, name text) returns app_public.users
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
begin
  update app_public.users u
  set name = coalesce(nullif(btrim(forget_unproved_setup.name), ''), split_part(u.email::text, '@', 1))
  where u.id = forget_unproved_setup.user_id
  returning u.* into v_user;
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = v_user.id and t.used_at is null;
  delete from app_private.user_identities i where i.user_id = v_user.id;
  return v_user;
end;
$$;
comment on function app_private.forget_unproved_setup(bigint, text) is
  E'For an account whose email was never verified, as its owner proves the address: the name becomes the one given (else the email''s local part), every session is revoked, pending email links are voided and provider links removed. Returns the updated user.';

create or replace function app_private.reclaim_unverified_account(user_id bigint, provider text, name text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users := app_private.forget_unproved_setup(reclaim_unverified_account.user_id, name);
begin
  -- The provider path sets no password: the stranger's goes too.
  delete from app_private.user_secrets s where s.user_id = v_user.id;
  perform app_private.email_enqueue('account_secured', v_user.email,
    jsonb_build_object('name', v_user.name, 'provider', reclaim_unverified_account.provider));
end;
$$;
comment on function app_private.reclaim_unverified_account(bigint, text, text) is
  E'When a provider-verified sign-in meets an unverified account with its email: app_private.forget_unproved_setup with the provider''s name, removes the password and emails the owner (account_secured). The caller then links the provider and marks the email verified.';

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
    if v_user.id is not null and not v_user.is_verified then
      -- The provider proved the address; whoever made this account did not.
      -- It may be an attacker's, waiting for its owner (pre-hijack): keep
      -- nothing they set.
      perform app_private.reclaim_unverified_account(v_user.id, provider, name);
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
  perform app_private.claim_guest_reservations(v_user.id);
  select * into v_session from app_private.session_create(v_user.id, provider, client_ip);
  return (v_user.id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;
comment on function app_private.oauth_sign_in(text, text, text, boolean, text, text, text[], inet) is
  E'Signs in the person a provider vouched for: their linked account, else the account with their (provider-verified) email (an unverified one is first reclaimed: app_private.reclaim_unverified_account), else a new driver — but never a new account on intent ''staff'' or on a staff email domain (error SMA12). Opens a session.';
--! EndIncluded accounts_staff.sql
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
    -- Anyone may book as a guest with any email: an unpaid one made that way is
    -- not put on the account (it would bar the owner from booking, SMB13).
    update app_public.reservations r set user_id = u.id
    from app_public.users u
    where u.id = claim_guest_reservations.user_id and u.is_verified
      and r.user_id is null and r.email = u.email and r.status <> 'payment_failed'
    returning r.id
  ), revoked as (
    -- Now the account's: whoever booked it keeps no say over it through its manage token.
    delete from app_private.reservation_secrets s using claimed c where s.reservation_id = c.id
  )
  select count(*)::int from claimed;
$$;
comment on function app_private.claim_guest_reservations(bigint) is
  E'Gives a verified user the guest reservations made with their email (but not an unpaid one), and voids their manage tokens; returns how many.';

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
  v_token := app_private.user_token_issue(v_user.id, 'verify_email', v_user.email,
    app_hidden.user_token_valid_for('verify_email'));
  -- No name: whoever signed up chose it, and the address may be someone
  -- else's (a name like "SECURITY ALERT: … https://…" would greet them).
  perform app_private.email_enqueue('verify_email', v_user.email,
    jsonb_build_object('token', v_token,
                       'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('verify_email')));
end;
$$;
comment on function app_private.send_verification(bigint) is
  E'Issues an email verification link (3 days) and queues the verify_email email.';

--------------------------------------------------------------------------------
-- Sign-up

drop function if exists app_private.sign_up_gate(inet);
create or replace function app_private.sign_up_gate(email text, name text, password text, client_ip inet) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Input that register would refuse is refused here with its own code, uncounted:
  -- it says nothing about which accounts exist.
  perform app_hidden.assert_email(email), app_hidden.assert_name(name), app_hidden.assert_password(password, email);
  return app_private.rate_limit_hit('register_ip', host(sign_up_gate.client_ip));
end;
$$;
comment on function app_private.sign_up_gate(text, text, text, inet) is
  E'Checks a sign-up''s input (SMA03–SMA05) and counts the attempt from its client address (20 an hour); returns 0, or the seconds to wait. Callers run it in a statement of its own, committed before app_private.register, so a sign-up register refuses with SMA06 (the email has an account) still counts: else trying addresses one by one would tell which have accounts, for free.';

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
  -- Counted beforehand by app_private.sign_up_gate (its own transaction).
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
  E'Creates a driver with a password, queues the verification email and opens a session. The attempt is counted by app_private.sign_up_gate first.';

create or replace function app_public.register(email text, name text, password text) returns app_public.auth_session
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.register(register.email, register.name, register.password, app_hidden.client_ip());
$$;
comment on function app_public.register(text, text, text) is
  E'Signs up a driver: email (unique, plain ASCII), name (1–100 characters), password (at least 10 characters, at most 72 bytes, not one repeated character, not the email). A verification email is sent. Returns a session token, shown only this once: send it as `Authorization: Bearer <token>`. Browsers use POST /auth/register instead, which sets the session cookie.';

create or replace function app_public.auth_session_user(session app_public.auth_session) returns app_public.users
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The user of a session just opened (sign-up), for the holder of its token
  -- only: the row is not visible to the still-anonymous request otherwise.
  select u.*
  from app_private.sessions s
  join app_public.users u on u.id = s.user_id
  where s.id = session.session_id and s.user_id = session.user_id
    and s.token_hash = app_private.token_hash(session.token) and s.revoked_at is null;
$$;
-- A field of AuthSession only, not a query of its own.
comment on function app_public.auth_session_user(app_public.auth_session) is
  E'@behavior -queryField\nThe signed-in user of this session (email, name, role, whether the email is verified).';

--------------------------------------------------------------------------------
-- Sign-in. Not a GraphQL mutation: a failed attempt must still be counted by
-- the rate limit, and a mutation that raises rolls its counting back. The
-- POST /auth/login route calls this, which never raises on bad credentials.

create or replace function app_private.signed_in_from(user_id bigint, client_ip inet) returns boolean
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The per-email ceilings (sign-in, password reset) bound what many addresses
  -- together may try; an address the account has signed in from is the
  -- owner's, and a stranger with a dozen addresses must not keep the owner out
  -- there. (Unknown account or address: false.)
  select exists (select from app_private.sessions s
                 where s.user_id = signed_in_from.user_id and s.client_ip = signed_in_from.client_ip);
$$;
comment on function app_private.signed_in_from(bigint, inet) is
  E'Whether the account has had a session from this client address: such an address is spared the per-email sign-in and reset ceilings.';

create or replace function app_private.login_attempt(email text, password text, client_ip inet)
  returns table (status text, user_id bigint, session_id uuid, token text, retry_after int)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key text := left(lower(btrim(coalesce(email, ''))), 254);
  v_pair text := v_key || ' ' || coalesce(host(client_ip), '');
  v_retry int;
  v_user_id bigint;
  v_session record;
begin
  -- The email's own ceiling counts only attempts its (email, address) pair and
  -- the address were allowed: an address already refused cannot go on using
  -- it up, which would lock the owner out from every other address too.
  v_retry := greatest(
    app_private.rate_limit_hit('login_pair', v_pair),
    app_private.rate_limit_hit('login_ip', host(client_ip)));
  select u.id into v_user_id from app_public.users u where u.email = v_key::citext;
  -- Nor is it counted for an address the account has signed in from.
  if v_retry = 0 and not app_private.signed_in_from(v_user_id, login_attempt.client_ip) then
    v_retry := app_private.rate_limit_hit('login_email', v_key);
  end if;
  if v_retry > 0 then
    return query select 'limited'::text, null::bigint, null::uuid, null::text, v_retry;
    return;
  end if;
  -- password_matches does the bcrypt work even for an unknown user.
  if not app_private.password_matches(coalesce(v_user_id, -1), password) then
    return query select 'invalid'::text, null::bigint, null::uuid, null::text, 0;
    return;
  end if;
  -- The owner is in: this email's counts start again (the pair's strikes too).
  delete from app_private.rate_limits r
  where (r.bucket = 'login_email' and r.key = v_key) or (r.bucket = 'login_pair' and r.key = v_pair);
  -- Guest reservations made with a verified user's address since last time.
  perform app_private.claim_guest_reservations(v_user_id);
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return query select 'ok'::text, v_user_id, v_session.session_id, v_session.token, 0;
end;
$$;
comment on function app_private.login_attempt(text, text, inet) is
  E'One sign-in attempt, counted per (email, client address), per email and per client address: status ok (with a new session and its token), invalid (wrong email or password, the same answer for both), or limited (retry_after seconds).';

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
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  return query
  select s.id, s.method, s.created_at, s.last_active_at,
         least(s.last_active_at + app_hidden.session_idle_timeout(), s.created_at + app_hidden.session_max_age()),
         s.id = app_public.current_session_id()
  from app_private.sessions s
  where s.user_id = v_user_id
    and s.revoked_at is null
    and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
    and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age()
  order by s.created_at desc;
end;
$$;
comment on function app_public.my_sessions() is E'The signed-in user''s live sessions, newest first (SMA08 signed out).';

create or replace function app_public.revoke_session(session_id uuid) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = revoke_session.session_id and s.user_id = v_user_id and s.revoked_at is null;
  -- Null, not false, for a session that is not one of yours: the same answer
  -- whether it exists or not.
  return case when found then true end;
end;
$$;
comment on function app_public.revoke_session(uuid) is
  E'Signs out one of your own sessions (e.g. a lost phone); null when it is not one of your live sessions; SMA08 signed out.';

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
  -- A reset link asked for before the change must not undo it (it may be the
  -- reason for the change): every unused one stops working.
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = password_set.user_id and t.kind in ('password_reset', 'invite') and t.used_at is null;
$$;
comment on function app_private.password_set(bigint, text) is E'Stores a new (already validated) password for a user and voids their unused password reset and invitation links.';

create or replace function app_hidden.password_check_hit() returns int
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.rate_limit_hit('password_check', app_public.current_user_id()::text);
$$;
comment on function app_hidden.password_check_hit() is
  E'Counts one changePassword attempt of the signed-in user (in a transaction of its own, before the attempt, so a wrong password that raises SMA09 is still counted); 0 when allowed, else the seconds to wait (SMA02). Signed out: 0.';

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
  E'Changes your password (the current one is required: SMA09 when wrong) and signs out all your other sessions. At most 10 attempts in 15 minutes (SMA02).';

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
    app_private.rate_limit_hit('reset_pair', lower(v_email::text) || ' ' || host(app_hidden.client_ip())),
    app_private.rate_limit_hit('reset_ip', host(app_hidden.client_ip()))));
  select u.* into v_user from app_public.users u where u.email = v_email;
  -- The email's ceiling bounds the mail sent from many addresses; counted only
  -- once the pair is allowed (one address hammering must not use it up), and
  -- not for an address the account has signed in from.
  if not app_private.signed_in_from(v_user.id, app_hidden.client_ip()) then
    perform app_private.rate_limit_raise(app_private.rate_limit_hit('reset_email', lower(v_email::text)));
  end if;
  -- The answer is the same whether or not the account exists.
  if v_user.id is not null then
    -- Earlier links keep working (until used or expired): anyone may ask.
    v_token := app_private.user_token_issue(v_user.id, 'password_reset', v_user.email,
      app_hidden.user_token_valid_for('password_reset'), replaces_older => false);
    -- The name only once the address is proved (see send_verification).
    perform app_private.email_enqueue('password_reset', v_user.email,
      jsonb_build_object('name', case when v_user.is_verified then v_user.name end, 'token', v_token,
                         'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('password_reset')));
  end if;
  return true;
end;
$$;
comment on function app_public.forgot_password(text) is
  E'Emails a one-time password reset link (valid 1 hour; earlier links stay valid until one is used) when an account has this email; answers the same either way. Limited to 3 an hour per email and client address, 10 per email (not counting addresses the account signed in from) and 20 per client address (SMA02).';

create or replace function app_public.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['password_reset', 'invite']);
  v_user app_public.users;
  v_password text;
begin
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  v_password := app_hidden.assert_password(new_password, v_user.email);
  -- A reset link proves the address; an account nobody had proved it for
  -- may be a stranger's setup waiting for its owner (see forget_unproved_setup).
  -- An invitation's account was made by an admin, with the name they gave.
  if v_token.kind = 'password_reset' and not v_user.is_verified and v_token.email = v_user.email then
    v_user := app_private.forget_unproved_setup(v_user.id, null);
  end if;
  perform app_private.password_set(v_user.id, v_password);
  -- The other reset links sent meanwhile stop working.
  perform app_private.user_tokens_void(v_user.id, 'password_reset');
  -- The link went to this address: following it proves the user owns it.
  perform app_private.mark_verified(v_user.id, v_token.email);
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  -- Whoever reset it, the owner hears of it (a reset is how a stolen inbox
  -- becomes a stolen account). Accepting an invitation sets the first password.
  if v_token.kind = 'password_reset' then
    perform app_private.email_enqueue('password_changed', v_user.email, jsonb_build_object('name', v_user.name));
  end if;
  return true;
end;
$$;
comment on function app_public.reset_password(text, text) is
  E'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, signs out every session of the account and, for a reset, emails password_changed. A reset of an account whose email was never verified also drops what its maker set (app_private.forget_unproved_setup: the name becomes the email''s local part, provider links go). Sign in afterwards.';

--------------------------------------------------------------------------------
-- Email verification

-- (A parameter was added: create or replace cannot add one.)
drop function if exists app_public.verify_email(text);
create or replace function app_public.verify_email(token text, password text default null) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['verify_email']);
begin
  -- The link proves the inbox, not that the account is the inbox owner's:
  -- anyone may sign up with an address and wait for its owner to click.
  -- Verified, that stranger's password and sessions would then hold the
  -- owner's guest bookings (claimed at each sign-in). So the account itself
  -- must be shown too: signed in as it, or its password. (A wrong one rolls
  -- back, the token stays usable; attempts are counted beforehand by the API,
  -- app_hidden.verify_email_check_hit.)
  if app_public.current_user_id() is distinct from v_token.user_id
     and not app_private.password_matches(v_token.user_id, verify_email.password) then
    raise exception 'Sign in to this account, or give its password, to verify the address. Did not sign up? Ask for a password reset with this address: the account becomes yours'
      using errcode = 'SMA20';
  end if;
  perform app_private.mark_verified(v_token.user_id, v_token.email);
  return true;
end;
$$;
comment on function app_public.verify_email(text, text) is
  E'Verifies an email address with the token from its verification link (single use, 3 days), signed in as the account or with its password (SMA20 otherwise: a link alone does not show the account is yours). Guest reservations made with that address become the account''s.';

create or replace function app_hidden.verify_email_check_hit(token text) returns int
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce((select app_private.rate_limit_hit('password_check', t.user_id::text)
                   from app_private.user_tokens t
                   where t.token_hash = app_private.token_hash(verify_email_check_hit.token) and t.kind = 'verify_email'), 0);
$$;
comment on function app_hidden.verify_email_check_hit(text) is
  E'Counts one password given to verifyEmail against the account the token is for (the changePassword bucket: 10 in 15 minutes), in a transaction of its own before the attempt; 0 when allowed (or no such token), else the seconds to wait (SMA02).';

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

drop function if exists app_hidden.sign_up_gate();
create or replace function app_hidden.sign_up_gate(email text, name text, password text) returns int
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.sign_up_gate(sign_up_gate.email, sign_up_gate.name, sign_up_gate.password, app_hidden.client_ip());
$$;
comment on function app_hidden.sign_up_gate(text, text, text) is
  E'app_private.sign_up_gate for the GraphQL register mutation (server/plugins/sign_up_gate.ts), which runs it in a transaction of its own before register: 0, or the seconds to wait.';
--! EndIncluded accounts_password.sql

-- Operators' zones now hold for reservations too: staff read every
-- reservation, but change, end, cancel, set up a card for or refund another's
-- only on a spot in their zones (SMO02), as for the spot itself.
--! Included reservations_access.sql
-- Who may act on a reservation: its signed-in owner, staff, or whoever holds
-- the guest manage token. One function decides, for every function that reads,
-- changes, ends, cancels or pays for a single reservation.

-- These two are plpgsql, not sql: a sql function with a SET clause is never
-- inlined, and PostgreSQL 15 plans its statement again at every call (every
-- guest booking makes a token, every guest request hashes one).
create or replace function app_private.manage_token_hash(token text) returns bytea
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return public.digest(convert_to(token, 'UTF8'), 'sha256');
end;
$$;
comment on function app_private.manage_token_hash(text) is E'What is stored of a guest manage token.';

create or replace function app_private.new_manage_token() returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- 24 random bytes, URL-safe base64 (32 characters).
  return translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_');
end;
$$;
comment on function app_private.new_manage_token() is E'A fresh guest manage token.';

create or replace function app_hidden.holds_spot(status app_public.reservation_status) returns boolean
  language sql immutable
as $$
  -- The statuses the exclusion constraint and spot_occupancy count as taking
  -- the spot (their predicates in committed migrations spell out the same pair).
  select status in ('held', 'confirmed');
$$;
comment on function app_hidden.holds_spot(app_public.reservation_status) is
  E'True for the statuses in which a reservation takes its spot (held, confirmed); false for null.';

create or replace function app_private.reservation_for_caller(
  reservation_id bigint,
  manage_token text,
  lock_row boolean
) returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_own boolean;
begin
  -- Blocks (kind 'block') are operators' business, handled by unblock_spot.
  if reservation_for_caller.lock_row then
    select r.* into v_r from app_public.reservations r
    where r.id = reservation_for_caller.reservation_id and r.kind = 'reservation'
    for update;
  else
    select r.* into v_r from app_public.reservations r
    where r.id = reservation_for_caller.reservation_id and r.kind = 'reservation';
  end if;
  -- Each alternative is coalesced on its own: signed out, current_user_id()
  -- is null, and `null or false` is null, which `if not …` would let through.
  v_own := coalesce(v_r.user_id = app_public.current_user_id(), false)
           or coalesce(reservation_for_caller.manage_token <> '' and exists (
                 select from app_private.reservation_secrets s
                 where s.reservation_id = v_r.id
                   and s.manage_token_hash = app_private.manage_token_hash(reservation_for_caller.manage_token)),
               false);
  if (found and (v_own or coalesce(app_hidden.current_user_is_staff(), false))) is not true then
    -- One answer for "no such id", "not yours" and "wrong token": an id says
    -- nothing about whether it exists.
    raise exception 'We could not find that reservation for you; check its number (and, as a guest, the manage code from your booking)'
      using errcode = 'SMB06';
  end if;
  -- Staff read every reservation, but change another's only on a spot in
  -- their zones, as they do the spot itself.
  if reservation_for_caller.lock_row and not v_own then
    if not app_hidden.current_user_may_manage((select s.borough from app_public.spots s where s.id = v_r.spot_id)) then
      raise exception 'Reservation % is on a spot outside your zones', v_r.id using errcode = 'SMO02';
    end if;
  end if;
  return v_r;
end;
$$;
comment on function app_private.reservation_for_caller(bigint, text, boolean) is
  E'The reservation (locked for update when lock_row) when the caller owns it, is staff, or gives its guest manage token; else error SMB06. Staff changing (lock_row) another''s reservation on a spot outside their zones: SMO02. The one access decision for a single reservation.';
--! EndIncluded reservations_access.sql
--! Included payments_refund.sql
-- Operator refunds: prepare (authorise, refund row + key committed) → Stripe
-- refunds.create → record. A retried request re-sends the refund in flight
-- with its key, so a lost answer never refunds twice.

create or replace function app_hidden.refund_prepare(reservation_id bigint, amount int default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  v_refunded int;
  v_amount int;
  v_f app_private.refunds;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators may refund' using errcode = 'SMP05';
  end if;
  -- The answer every other reservation operation gives an unknown id.
  if not exists (select from app_public.reservations r
                 where r.id = refund_prepare.reservation_id and r.kind = 'reservation') then
    raise exception 'There is no reservation %', coalesce(refund_prepare.reservation_id::text, '(none given)')
      using errcode = 'SMB06';
  end if;
  if not app_hidden.current_user_may_manage((
      select s.borough from app_public.reservations r join app_public.spots s on s.id = r.spot_id
      where r.id = refund_prepare.reservation_id)) then
    raise exception 'Reservation % is on a spot outside your zones', refund_prepare.reservation_id using errcode = 'SMO02';
  end if;
  select c.* into v_c from app_private.charges c
  where c.reservation_id = refund_prepare.reservation_id and c.status = 'succeeded'
  for update;
  if v_c.id is null then
    raise exception 'Reservation % has no successful charge to refund', refund_prepare.reservation_id
      using errcode = 'SMP06';
  end if;

  select * into v_f from app_private.refunds f where f.charge_id = v_c.id and f.status = 'pending';
  if v_f.id is not null then
    if refund_prepare.amount is not null and refund_prepare.amount <> v_f.amount then
      raise exception 'A refund of % % minor units is already in progress for reservation %', v_f.amount, v_c.currency, refund_prepare.reservation_id
        using errcode = 'SMP07';
    end if;
  else
    select coalesce(sum(f.amount), 0) into v_refunded from app_private.refunds f
    where f.charge_id = v_c.id and f.status = 'succeeded';
    v_amount := coalesce(refund_prepare.amount, v_c.amount - v_refunded);
    if v_amount <= 0 or v_amount > v_c.amount - v_refunded then
      raise exception 'A refund must be more than 0 and at most what is still refundable: % % minor units', v_c.amount - v_refunded, v_c.currency
        using errcode = 'SMP06';
    end if;
    insert into app_private.refunds (charge_id, amount, idempotency_key, requested_by)
    values (v_c.id, v_amount, 'smp-ref-' || gen_random_uuid(), app_public.current_user_id())
    returning * into v_f;
  end if;
  return jsonb_build_object(
    'refundId', v_f.id, 'amount', v_f.amount, 'currency', v_c.currency,
    'idempotencyKey', v_f.idempotency_key, 'paymentIntentId', v_c.stripe_payment_intent_id);
end;
$$;
comment on function app_hidden.refund_prepare(bigint, int) is
  E'Staff only (SMP05), on a spot in their zones (SMO02): makes the refund row (amount defaults to what remains refundable; SMB06 for no such reservation, SMP06 when nothing is refundable, SMP07 when another refund is in flight) and returns what refunds.create needs.';

create or replace function app_hidden.refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_f app_private.refunds;
  v_c app_private.charges;
  v_r app_public.reservations;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators may refund' using errcode = 'SMP05';
  end if;
  update app_private.refunds f
  set stripe_refund_id = coalesce(f.stripe_refund_id, refund_record.stripe_refund_id),
      status = case when refund_record.status in ('succeeded', 'pending') then 'succeeded' else 'failed' end,
      failure_message = refund_record.failure_message
  where f.id = refund_record.refund_id and f.status = 'pending'
  returning * into v_f;
  select * into v_c from app_private.charges c
  where c.id = coalesce(v_f.charge_id, (select f.charge_id from app_private.refunds f where f.id = refund_record.refund_id));
  if v_f.status = 'succeeded' then
    -- Recorded just now (a retried request finds it done and skips this): the
    -- driver sees it on the reservation and is told, once.
    update app_public.reservations r set refunded = r.refunded + v_f.amount where r.id = v_c.reservation_id
    returning * into v_r;
    perform app_private.email_enqueue('refund', v_r.email,
      app_hidden.reservation_email_data(v_r)
        || jsonb_build_object('refundAmount', v_f.amount, 'refunded', v_r.refunded, 'charged', v_c.amount,
                              'currency', v_c.currency),
      'refund:' || v_f.id);
  end if;
  if v_f.id is null then
    select * into v_f from app_private.refunds f where f.id = refund_record.refund_id;
  end if;
  return jsonb_build_object(
    'refundId', v_f.id, 'reservationId', v_c.reservation_id, 'amount', v_f.amount, 'currency', v_c.currency,
    'status', v_f.status, 'stripeRefundId', v_f.stripe_refund_id,
    'refundedTotal', (select coalesce(sum(f.amount), 0) from app_private.refunds f
                      where f.charge_id = v_c.id and f.status = 'succeeded'));
end;
$$;
comment on function app_hidden.refund_record(bigint, text, text, text) is
  E'Staff only: records Stripe''s answer to a refund (a pending Stripe refund counts as made); one made adds to the reservation''s refunded total and emails the driver (refund), once.';
--! EndIncluded payments_refund.sql
