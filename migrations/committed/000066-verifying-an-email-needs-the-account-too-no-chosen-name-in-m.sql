--! Previous: sha1:c5da0d4042e8ceb13064854a5845f6c7ec6774cc
--! Hash: sha1:a0dceccdd7cd0f10697e86c69d695221ccd19877
--! Message: Verifying an email needs the account too; no chosen name in mail to unproved addresses; reset ceiling spares known addresses; stateless plates

-- Mends from the second attacker's review (stop 32):
-- * verifyEmail verified whoever signed up with the address once its owner
--   clicked the link, keeping the stranger's password and sessions (and then
--   every guest booking of the owner, claimed at the stranger's sign-in). The
--   link now needs the account too: signed in as it, or its password (SMA20).
-- * Mail to an unverified address carries no name (whoever signed up chose it).
-- * The per-email reset ceiling no longer counts addresses the account signed
--   in from: a stranger with four addresses kept the owner from resetting.
-- * A reservation booked without the plate state holds whatever state the
--   officer reads.

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
  v_retry := greatest(
    app_private.rate_limit_hit('login_pair', v_pair),
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
  -- not for an address the account has signed in from: a stranger with a few
  -- addresses must not keep the owner from resetting at home.
  if not exists (select from app_private.sessions s
                 where s.user_id = v_user.id and s.client_ip = app_hidden.client_ip()) then
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
begin
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  perform app_private.password_set(v_user.id, app_hidden.assert_password(new_password, v_user.email));
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
  E'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, signs out every session of the account and, for a reset, emails password_changed. Sign in afterwards.';

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
--! Included vehicles_enforcement.sql
-- Vehicles and enforcement. A reservation may carry the licence plate (and
-- state) of the vehicle parked on it, given to reserve(); drivers may save
-- their vehicles. Parking officers (role `enforcement`, requests as
-- app_user: they see no customer, reservation or payment row) have one
-- power: asking whether a plate holds a valid reservation now, optionally at
-- a given spot. Every lookup is audited.

alter table app_public.users drop constraint if exists users_role_check;
alter table app_public.users add constraint users_role_check
  check (role in ('driver', 'operator', 'admin', 'analyst', 'enforcement'));

create or replace function app_hidden.plate(plate text) returns text
  language plpgsql immutable
as $$
declare
  -- Plates are compared as officers read them: upper case, without spaces,
  -- dashes or dots.
  v_plate text := upper(regexp_replace(coalesce(plate, ''), '[\s.\-]', '', 'g'));
begin
  if v_plate !~ '^[A-Z0-9]{1,10}$' then
    raise exception 'A licence plate is 1 to 10 letters and digits' using errcode = 'SME01';
  end if;
  return v_plate;
end;
$$;
comment on function app_hidden.plate(text) is E'A licence plate normalised (upper case, no spaces, dashes or dots), else error SME01.';

create or replace function app_hidden.plate_state(state text) returns text
  language plpgsql immutable
as $$
begin
  if state is null then
    return null;
  end if;
  if upper(btrim(state)) !~ '^[A-Z]{2,3}$' then
    raise exception 'A plate''s state is a 2 or 3 letter code, e.g. NY' using errcode = 'SME01';
  end if;
  return upper(btrim(state));
end;
$$;
comment on function app_hidden.plate_state(text) is E'A state or province code (2–3 letters) in upper case, null when not given, else error SME01.';

alter table app_public.reservations add column if not exists plate text check (plate ~ '^[A-Z0-9]{1,10}$');
alter table app_public.reservations add column if not exists plate_state text check (plate_state ~ '^[A-Z]{2,3}$');
comment on column app_public.reservations.plate is E'The licence plate of the vehicle parked on it (normalised), when the driver gave one.';
comment on column app_public.reservations.plate_state is E'The plate''s state or province code, e.g. NY.';
create index if not exists reservations_plate_idx on app_public.reservations (plate, period)
  where plate is not null and status in ('held', 'confirmed');

create table if not exists app_public.vehicles (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references app_public.users (id) on delete cascade,
  plate      text not null check (plate ~ '^[A-Z0-9]{1,10}$'),
  plate_state text check (plate_state ~ '^[A-Z]{2,3}$'),
  label      text check (length(label) between 1 and 50),
  created_at timestamptz not null default now(),
  constraint vehicles_user_plate_key unique nulls not distinct (user_id, plate, plate_state)
);
comment on table app_public.vehicles is E'@behavior -insert -update -delete\nA driver''s saved vehicles (their own only).';

create or replace function app_public.save_vehicle(plate text, plate_state text default null, label text default null)
  returns app_public.vehicles
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_v app_public.vehicles;
begin
  if v_user_id is null then
    raise exception 'Sign in to save a vehicle' using errcode = 'SMA08';
  end if;
  if save_vehicle.label is not null and length(btrim(save_vehicle.label)) not between 1 and 50 then
    raise exception 'A vehicle''s label is 1 to 50 characters' using errcode = 'SME01';
  end if;
  insert into app_public.vehicles as v (user_id, plate, plate_state, label)
  values (v_user_id, app_hidden.plate(save_vehicle.plate), app_hidden.plate_state(save_vehicle.plate_state),
          nullif(btrim(save_vehicle.label), ''))
  on conflict on constraint vehicles_user_plate_key do update set label = coalesce(excluded.label, v.label)
  returning * into v_v;
  return v_v;
end;
$$;
comment on function app_public.save_vehicle(text, text, text) is
  E'Signed in (SMA08): saves a vehicle on your account (saving it again changes its label). SME01 for a bad plate or state.';

create or replace function app_public.remove_vehicle(vehicle_id bigint) returns app_public.vehicles
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_v app_public.vehicles;
begin
  delete from app_public.vehicles v
  where v.id = remove_vehicle.vehicle_id and v.user_id = app_public.current_user_id()
  returning * into v_v;
  if v_v.id is null then
    raise exception 'You have no vehicle %', remove_vehicle.vehicle_id using errcode = 'SME03';
  end if;
  return v_v;
end;
$$;
comment on function app_public.remove_vehicle(bigint) is E'Removes one of your saved vehicles (SME03 when it is not yours or does not exist).';

--------------------------------------------------------------------------------
-- The enforcement lookup

drop type if exists app_public.enforcement_answer cascade;
create type app_public.enforcement_answer as (
  plate text,
  plate_state text,
  spot_id bigint,
  valid boolean,
  valid_until timestamptz,
  checked_at timestamptz,
  time_zone text
);
comment on type app_public.enforcement_answer is E'Whether a plate holds a valid reservation now; nothing about who holds it.';
comment on column app_public.enforcement_answer.spot_id is E'The spot asked about, or (asked without one) the spot the valid reservation is at.';
comment on column app_public.enforcement_answer.valid is E'True while a confirmed reservation for this plate covers now, or one still held (until its hold ends, and not after another hold of the plate lapsed mid-stay in the last 24 hours).';
comment on column app_public.enforcement_answer.valid_until is E'When that reservation ends, or its hold does (null when not valid).';
comment on column app_public.enforcement_answer.time_zone is E'The spot''s time zone (its rate''s), to read valid_until on the street''s clock; null when no spot is known.';

create or replace function app_public.enforcement_lookup(plate text, plate_state text default null, spot_id bigint default null)
  returns app_public.enforcement_answer
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_role text := app_hidden.current_actor_role();
  v_plate text;
  v_state text;
  v_r app_public.reservations;
  v_now timestamptz := now();
  v_answer app_public.enforcement_answer;
begin
  if v_role is distinct from 'enforcement' and v_role is distinct from 'admin' then
    raise exception 'Only enforcement officers may look plates up' using errcode = 'SME02';
  end if;
  v_plate := app_hidden.plate(plate);
  v_state := app_hidden.plate_state(plate_state);
  -- A held reservation counts until its hold ends: its driver has booked and
  -- is giving a card. Once a day per plate: a hold that lapsed without a card
  -- after its stay had begun (the car could have parked under it) means the
  -- next ones do not count, or booking and dropping a hold every 15 minutes
  -- would park for free. The plate alone decides that: the state is the
  -- driver's word, and changing it at each hold would start the day afresh.
  select r.* into v_r from app_public.reservations r
  -- A reservation booked without a state holds whatever state the officer reads.
  where r.plate = v_plate and (v_state is null or r.plate_state is null or r.plate_state = v_state)
    and (enforcement_lookup.spot_id is null or r.spot_id = enforcement_lookup.spot_id)
    and r.kind = 'reservation' and r.period @> v_now
    and (r.status = 'confirmed'
         or (r.status = 'held' and r.hold_expires_at > v_now
             and not exists (
               select from app_public.reservations x
               where x.plate = r.plate and x.id <> r.id
                 and x.status = 'expired' and x.updated_at > v_now - interval '24 hours'
                 and lower(x.period) < x.updated_at)))
  order by r.status = 'confirmed' desc, upper(r.period) desc
  limit 1;
  v_answer := (v_plate, v_state, coalesce(enforcement_lookup.spot_id, v_r.spot_id), v_r.id is not null,
               case when v_r.status = 'held' then least(v_r.hold_expires_at, upper(v_r.period)) else upper(v_r.period) end,
               v_now,
               -- The street's clock, to read valid_until as the signs do.
               app_hidden.spot_time_zone(coalesce(enforcement_lookup.spot_id, v_r.spot_id)))::app_public.enforcement_answer;
  perform app_private.audit_write('enforcement_lookups', v_r.id::text, 'lookup', null, to_jsonb(v_answer));
  return v_answer;
end;
$$;
comment on function app_public.enforcement_lookup(text, text, bigint) is
  E'Enforcement officers and admins (SME02 otherwise): does this plate (state optional; SME01 when malformed) hold a confirmed reservation covering now, at this spot when one is given, or one still held (card being given; valid until its hold ends, and not after another hold of the plate lapsed without a card in the last 24 hours)? Answers without personal data; every lookup is written to the audit log.';
--! EndIncluded vehicles_enforcement.sql
