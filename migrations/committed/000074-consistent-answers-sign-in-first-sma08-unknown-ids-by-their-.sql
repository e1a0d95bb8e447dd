--! Previous: sha1:98f75de561406fdef53eb05234ee3f972b5ffa25
--! Hash: sha1:633821dc2c84107262275691d17ba924a3685ed1
--! Message: Consistent answers: sign in first (SMA08), unknown ids by their kind, a state only with a plate, end quote now, zones by any case

-- A client developer's consistency finds (stop 33), each small:
-- - mySessions, revokeSession and removeVehicle signed out answer SMA08 ("sign
--   in first"), as the other own-account operations do, instead of an empty
--   list, null or SME03.
-- - enforcementLookup with a spot that does not exist answers SMS04 rather
--   than "not valid"; setOperatorZones of an unknown user SMA17 (as
--   setUserRole), not SMO04; refundReservation of an unknown id SMB06 (as
--   every other reservation operation), and its messages name the currency.
-- - reserve refuses a plate state without a plate (SME01) instead of dropping it.
-- - reservationEndQuote without endsAt prices ending now.
-- - Operator zones compare boroughs without regard to case or spaces.
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
  -- The email's own ceiling counts only attempts its (email, address) pair and
  -- the address were allowed: an address already refused cannot go on using
  -- it up, which would lock the owner out from every other address too.
  v_retry := greatest(
    app_private.rate_limit_hit('login_pair', v_pair),
    app_private.rate_limit_hit('login_ip', host(client_ip)));
  if v_retry = 0 then
    v_retry := app_private.rate_limit_hit('login_email', v_key);
  end if;
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
  v_user_id bigint := app_hidden.assert_signed_in();
  v_v app_public.vehicles;
begin
  delete from app_public.vehicles v
  where v.id = remove_vehicle.vehicle_id and v.user_id = v_user_id
  returning * into v_v;
  if v_v.id is null then
    raise exception 'You have no vehicle %', remove_vehicle.vehicle_id using errcode = 'SME03';
  end if;
  return v_v;
end;
$$;
comment on function app_public.remove_vehicle(bigint) is E'Removes one of your saved vehicles (SMA08 signed out; SME03 when it is not yours or does not exist).';

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
  -- A mistyped spot number must not read as "not valid".
  if enforcement_lookup.spot_id is not null
     and not exists (select from app_public.spots s where s.id = enforcement_lookup.spot_id) then
    raise exception 'There is no spot %', enforcement_lookup.spot_id using errcode = 'SMS04';
  end if;
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
  E'Enforcement officers and admins (SME02 otherwise): does this plate (state optional; SME01 when malformed) hold a confirmed reservation covering now, at this spot when one is given, or one still held (card being given; valid until its hold ends, and not after another hold of the plate lapsed without a card in the last 24 hours)? Answers without personal data; every lookup is written to the audit log. SMS04 for a spot that does not exist.';
--! EndIncluded vehicles_enforcement.sql
--! Included spots_admin.sql
-- Operators' inventory work: zones (boroughs) an operator may act in, and
-- creating and editing spots and rates. The spot and rate functions are
-- security invoker: they write as the request's role (app_operator), so the
-- zone rule is row level security on spots and rates (table_access.sql), not
-- just a check in the function. An operator with no zone rows acts
-- everywhere (as before zones existed); with zone rows, only there. Admins
-- act everywhere.

create table if not exists app_public.operator_zones (
  user_id bigint not null references app_public.users (id) on delete cascade,
  borough text not null check (length(borough) between 1 and 50),
  primary key (user_id, borough)
);
comment on table app_public.operator_zones is
  E'@behavior -insert -update -delete\nThe boroughs an operator may act in (no rows: everywhere). Set by admins with setOperatorZones.';

drop trigger if exists _900_audit on app_public.operator_zones;
create trigger _900_audit after insert or delete on app_public.operator_zones
  for each row execute function app_private.tg__audit('operator_zones', 'user_id');

create or replace function app_hidden.current_user_may_manage(borough text) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce((
    select case
      when u.role = 'admin' then true
      when u.role = 'operator' then
        not exists (select from app_public.operator_zones z where z.user_id = u.id)
        or exists (select from app_public.operator_zones z
                   -- Boroughs are free text: "brooklyn" is in a Brooklyn zone.
                   where z.user_id = u.id and lower(z.borough) = lower(btrim(current_user_may_manage.borough)))
      else false
    end
    from app_public.users u where u.id = app_public.current_user_id()), false);
$$;
comment on function app_hidden.current_user_may_manage(text) is
  E'True when the signed-in user may act on spots in this borough: admins always, operators without zones always, operators with zones in theirs.';

create or replace function app_hidden.current_user_may_manage_rate(rate_id int) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A rate is shared by spots: changing it changes their prices, so an
  -- operator may change only a rate whose spots are all in their zones.
  select app_hidden.current_user_is_staff()
     and not exists (select from app_public.spots s
                     where s.rate_id = current_user_may_manage_rate.rate_id
                       and not app_hidden.current_user_may_manage(s.borough));
$$;
comment on function app_hidden.current_user_may_manage_rate(int) is
  E'True when the signed-in staff member may change this rate: every spot using it is in their zones.';

create or replace function app_hidden.assert_manages_spot(spot_id bigint) returns app_public.spots
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_s app_public.spots;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage spots' using errcode = 'SMO01';
  end if;
  select s.* into v_s from app_public.spots s where s.id = assert_manages_spot.spot_id;
  if v_s.id is null then
    raise exception 'There is no spot %', coalesce(assert_manages_spot.spot_id::text, '(none given)') using errcode = 'SMO03';
  end if;
  if not app_hidden.current_user_may_manage(v_s.borough) then
    raise exception 'Spot % is outside your zones', assert_manages_spot.spot_id using errcode = 'SMO02';
  end if;
  return v_s;
end;
$$;
comment on function app_hidden.assert_manages_spot(bigint) is
  E'The spot, when the current user may act on it; else SMO01 (not staff), SMO03 (no such spot) or SMO02 (outside their zones).';

create or replace function app_public.set_operator_zones(user_id bigint, boroughs text[]) returns setof app_public.operator_zones
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_hidden.assert_admin();
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id) then
    raise exception 'There is no user %', coalesce(set_operator_zones.user_id::text, '(none given)') using errcode = 'SMA17';
  end if;
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id and u.role = 'operator') then
    raise exception 'User % is not an operator', coalesce(set_operator_zones.user_id::text, '(none given)') using errcode = 'SMO04';
  end if;
  -- An empty list means everywhere: a list left out must not mean it too, or
  -- a forgotten argument would widen an operator's reach.
  if boroughs is null then
    raise exception 'Give the boroughs (an empty list: everywhere)' using errcode = 'SMO10';
  end if;
  -- (A borough with no spot yet is allowed: zones may be set up before the spots.)
  if exists (select from unnest(boroughs) b where length(btrim(b)) not between 1 and 100 or b is null) then
    raise exception 'Each borough is named, in 1 to 100 characters' using errcode = 'SMO10';
  end if;
  delete from app_public.operator_zones z
  where z.user_id = set_operator_zones.user_id and z.borough <> all (array(select btrim(b) from unnest(boroughs) b));
  insert into app_public.operator_zones (user_id, borough)
  select set_operator_zones.user_id, btrim(b) from unnest(boroughs) b
  on conflict do nothing;
  return query select z.* from app_public.operator_zones z where z.user_id = set_operator_zones.user_id order by z.borough;
end;
$$;
comment on function app_public.set_operator_zones(bigint, text[]) is
  E'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMA17 when there is no such user, SMO04 when the user is not an operator, SMO10 when the list is left out or a borough is blank.';

--------------------------------------------------------------------------------
-- Spots

create or replace function app_hidden.spot_position(lat double precision, lng double precision) returns geography
  language plpgsql immutable
as $$
begin
  if lat is null or lng is null or lat not between -90 and 90 or lng not between -180 and 180 then
    raise exception 'Coordinates must be latitude -90…90 and longitude -180…180' using errcode = 'SMS01';
  end if;
  return st_setsrid(st_makepoint(lng, lat), 4326)::geography;
end;
$$;
comment on function app_hidden.spot_position(double precision, double precision) is E'A WGS 84 point, or error SMS01 off the globe.';

create or replace function app_hidden.spot_street(street text) returns text
  language plpgsql immutable
as $$
begin
  -- Blank, a spot has no name on the map or in the list (updateSpot took '   ').
  if length(btrim(street)) between 1 and 200 then
    return btrim(street);
  end if;
  raise exception 'A spot needs its street, 1 to 200 characters' using errcode = 'SMO11';
end;
$$;
comment on function app_hidden.spot_street(text) is E'A spot''s street, trimmed, or error SMO11 when missing, blank or over 200 characters.';

create or replace function app_hidden.spot_max_stay(minutes int) returns interval
  language plpgsql immutable
as $$
begin
  if minutes is null or minutes < 1 or make_interval(mins => minutes) > app_hidden.max_stay() then
    raise exception 'A maximum stay is 1 minute to % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMO05';
  end if;
  return make_interval(mins => minutes);
end;
$$;
comment on function app_hidden.spot_max_stay(int) is
  E'A maximum stay of 1 minute to app_hidden.max_stay() (7 days), else error SMO05.';

create or replace function app_public.create_spot(
  lat double precision, lng double precision, street text, rate_id int,
  borough text default null, zone text default null, side_of_street text default null,
  from_street text default null, to_street text default null, max_stay_minutes int default 120,
  is_accessible boolean default false, has_ev_charger boolean default false
) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage spots' using errcode = 'SMO01';
  end if;
  if not app_hidden.current_user_may_manage(create_spot.borough) then
    raise exception 'Borough % is outside your zones', coalesce(create_spot.borough, '(none)') using errcode = 'SMO02';
  end if;
  if not exists (select from app_public.rates r where r.id = create_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(create_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.spot_position(lat, lng), app_hidden.spot_street(street), rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.create_spot(double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO05 bad maximum stay, SMO11 no street (1 to 200 characters), SMS01 bad coordinates.';

create or replace function app_public.update_spot(
  spot_id bigint, lat double precision default null, lng double precision default null, street text default null,
  rate_id int default null, borough text default null, zone text default null, side_of_street text default null,
  from_street text default null, to_street text default null, max_stay_minutes int default null,
  is_accessible boolean default null, has_ev_charger boolean default null
) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if update_spot.borough is not null and not app_hidden.current_user_may_manage(update_spot.borough) then
    raise exception 'Borough % is outside your zones', update_spot.borough using errcode = 'SMO02';
  end if;
  if update_spot.rate_id is not null and not exists (select from app_public.rates r where r.id = update_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(update_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.spot_position(lat, lng) end,
    street = case when update_spot.street is null then s.street else app_hidden.spot_street(update_spot.street) end,
    rate_id = coalesce(update_spot.rate_id, s.rate_id),
    borough = coalesce(update_spot.borough, s.borough),
    zone = coalesce(update_spot.zone, s.zone),
    side_of_street = coalesce(update_spot.side_of_street, s.side_of_street),
    from_street = coalesce(update_spot.from_street, s.from_street),
    to_street = coalesce(update_spot.to_street, s.to_street),
    max_stay = case when max_stay_minutes is null then s.max_stay else app_hidden.spot_max_stay(max_stay_minutes) end,
    is_accessible = coalesce(update_spot.is_accessible, s.is_accessible),
    has_ev_charger = coalesce(update_spot.has_ev_charger, s.has_ev_charger)
  where s.id = v_s.id
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.update_spot(bigint, double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation, SMO11 a blank or over-long street.';

create or replace function app_public.spot_affected_reservations(spot_id bigint) returns setof app_public.reservations
  language plpgsql stable
as $$
begin
  perform app_hidden.assert_manages_spot(spot_id);
  return query
  select r.* from app_public.reservations r
  where r.spot_id = spot_affected_reservations.spot_id and r.kind = 'reservation'
    and r.status in ('held', 'confirmed') and upper(r.period) > now()
  order by lower(r.period);
end;
$$;
comment on function app_public.spot_affected_reservations(bigint) is
  E'Operators in the spot''s zone and admins: the held or confirmed reservations not yet over on this spot — the ones taking it out of service affects.';

create or replace function app_public.set_spot_status(spot_id bigint, status text) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if set_spot_status.status is null or set_spot_status.status not in ('active', 'out_of_service') then
    raise exception 'A spot is active or out_of_service' using errcode = 'SMO07';
  end if;
  -- Reservations already made are kept and honoured (listed by
  -- spotAffectedReservations): the spot only stops taking new ones. An
  -- operator who cannot honour one cancels it with cancelReservation.
  update app_public.spots s set status = set_spot_status.status where s.id = v_s.id returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.set_spot_status(bigint, text) is
  E'Operators in the spot''s zone and admins: takes a spot out of service (no new reservations; existing ones are kept — see spotAffectedReservations) or back into service. SMO07 for another status.';

--------------------------------------------------------------------------------
-- Rates

create or replace function app_hidden.rate_increment(minutes int) returns interval
  language plpgsql immutable
as $$
begin
  if minutes is null or minutes not between 1 and 60 then
    raise exception 'A billing increment is 1 to 60 minutes' using errcode = 'SMO08';
  end if;
  return make_interval(mins => minutes);
end;
$$;
comment on function app_hidden.rate_increment(int) is E'A billing increment of 1 to 60 minutes, else error SMO08.';

create or replace function app_hidden.rate_price_max() returns int
  language sql immutable as $$
  -- 7 days (the longest stay) at this an hour is 84,000,000, under Stripe's
  -- 99,999,999 a charge: every quote stays chargeable (rates_price_bounds).
  select 500000
$$;
comment on function app_hidden.rate_price_max() is
  E'The most a rate''s hourly price or minimum charge may be, in minor units (500,000): every quote stays chargeable.';

create or replace function app_hidden.assert_rate_money(hourly_price int, minimum_charge int, currency text) returns void
  language plpgsql stable
as $$
begin
  if hourly_price is null or hourly_price not between 0 and app_hidden.rate_price_max()
     or minimum_charge is null or minimum_charge not between 0 and app_hidden.rate_price_max() then
    raise exception 'Prices are whole minor units from 0 to %', app_hidden.rate_price_max() using errcode = 'SMO08';
  end if;
  if not exists (select from app_hidden.payment_minimums m where m.currency = assert_rate_money.currency) then
    raise exception 'Currency % cannot be charged', currency using errcode = 'SMO08';
  end if;
end;
$$;
comment on function app_hidden.assert_rate_money(int, int, text) is E'Error SMO08 unless the hourly price and the minimum charge are 0 to rate_price_max (500,000) minor units and the currency is chargeable.';

create or replace function app_public.create_rate(
  code text, name text, hourly_price int, currency text default 'USD', billing_increment_minutes int default 1,
  minimum_charge int default 0, time_zone text default 'America/New_York'
) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage rates' using errcode = 'SMO01';
  end if;
  perform app_hidden.assert_rate_money(hourly_price, minimum_charge, currency);
  if code is null or length(btrim(code)) not between 1 and 50 or name is null or length(btrim(name)) not between 1 and 100 then
    raise exception 'A rate needs a code (1 to 50 characters) and a name (1 to 100)' using errcode = 'SMO08';
  end if;
  if not exists (select from pg_timezone_names t where t.name = create_rate.time_zone) then
    raise exception 'Unknown time zone %: use an IANA name such as America/New_York', coalesce(create_rate.time_zone, 'null')
      using errcode = 'SMO08';
  end if;
  begin
    insert into app_public.rates (code, name, hourly_price, currency, billing_increment, minimum_charge, time_zone)
    values (btrim(code), btrim(name), hourly_price, currency, app_hidden.rate_increment(billing_increment_minutes),
            minimum_charge, time_zone)
    returning * into v_r;
  exception when unique_violation then
    raise exception 'Rate code % is taken', code using errcode = 'SMO09';
  end;
  return v_r;
end;
$$;
comment on function app_public.create_rate(text, text, int, text, int, int, text) is
  E'Operators and admins: a new rate metered around the clock (setRateHours limits it). SMO08 bad values, SMO09 code taken.';

create or replace function app_hidden.assert_manages_rate(rate_id int) returns app_public.rates
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.rates;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage rates' using errcode = 'SMO01';
  end if;
  select r.* into v_r from app_public.rates r where r.id = assert_manages_rate.rate_id;
  if v_r.id is null then
    raise exception 'There is no rate %', coalesce(assert_manages_rate.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  if not app_hidden.current_user_may_manage_rate(v_r.id) then
    raise exception 'Rate % is used by spots outside your zones', assert_manages_rate.rate_id using errcode = 'SMO02';
  end if;
  return v_r;
end;
$$;
comment on function app_hidden.assert_manages_rate(int) is
  E'The rate, when the current user may change it; else SMO01 (not staff), SMO06 (no such rate) or SMO02 (used outside their zones).';

create or replace function app_public.update_rate(
  rate_id int, name text default null, hourly_price int default null, billing_increment_minutes int default null,
  minimum_charge int default null
) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  perform app_hidden.assert_rate_money(coalesce(hourly_price, v_r.hourly_price),
                                       coalesce(minimum_charge, v_r.minimum_charge), v_r.currency);
  -- The same rule as create_rate's (a blank name was silently kept as it was).
  if update_rate.name is not null and length(btrim(update_rate.name)) not between 1 and 100 then
    raise exception 'A rate''s name is 1 to 100 characters' using errcode = 'SMO08';
  end if;
  update app_public.rates r set
    name = coalesce(btrim(update_rate.name), r.name),
    hourly_price = coalesce(update_rate.hourly_price, r.hourly_price),
    billing_increment = case when billing_increment_minutes is null then r.billing_increment
                             else app_hidden.rate_increment(billing_increment_minutes) end,
    minimum_charge = coalesce(update_rate.minimum_charge, r.minimum_charge)
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;
comment on function app_public.update_rate(int, text, int, int, int) is
  E'Operators whose zones hold every spot on the rate, and admins: changes its name or prices (null: unchanged; SMO08 as createRate for a bad value). New quotes use it; reservations keep the price they were quoted.';

create or replace function app_hidden.is_clock_time(value text) returns boolean
  language sql immutable
as $$
  select value ~ '^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?|24:00(:00(\.0{1,6})?)?)$';
$$;
comment on function app_hidden.is_clock_time(text) is
  E'Whether a text is a time of day as hours are written: HH:MM, HH:MM:SS or HH:MM:SS.ffffff, from 00:00 to 24:00.';

create or replace function app_public.set_rate_hours(rate_id int, hours jsonb) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  if hours is null or jsonb_typeof(hours) <> 'array' or exists (
    select from jsonb_array_elements(hours) h
    where jsonb_typeof(h -> 'isodow') is distinct from 'number' or (h ->> 'isodow')::numeric not in (1, 2, 3, 4, 5, 6, 7)
       -- HH:MM, or as rateHours reads them back (HH:MM:SS.ffffff); 24:00 is the end of the day.
       -- (is not true: a time left out is null, and a null here let the row through.)
       or app_hidden.is_clock_time(h ->> 'opens') is not true or app_hidden.is_clock_time(h ->> 'closes') is not true
       or (h ->> 'opens')::time >= (h ->> 'closes')::time) then
    raise exception 'Hours are [{isodow: 1..7, opens: "HH:MM", closes: "HH:MM"}] with opens before closes' using errcode = 'SMO08';
  end if;
  delete from app_public.rate_hours h where h.rate_id = v_r.id;
  begin
    insert into app_public.rate_hours (rate_id, isodow, opens, closes)
    select v_r.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
    from jsonb_array_elements(hours) h;
  exception when exclusion_violation or unique_violation then
    -- Overlapping windows would meter the same time twice.
    raise exception 'Metered hours of one day must not overlap' using errcode = 'SMO08';
  end;
  return v_r;
end;
$$;
comment on function app_public.set_rate_hours(int, jsonb) is
  E'Operators as for updateRate, and admins: the rate''s metered hours, replacing the old ones (empty list: metered around the clock). Example: [{"isodow": 1, "opens": "09:00", "closes": "19:00"}].';

-- Operators write spots, rates and rate hours through the functions above
-- (granted columns, table_access.sql); the tables' generated create/update/
-- delete mutations stay hidden so there is one way to write each.
comment on table app_public.spots is E'@behavior -insert -update -delete\nOne on-street parking space (a meter position).';
comment on table app_public.rates is E'@behavior -insert -update -delete\nA meter tariff: price per hour in minor units, billed per increment, metered during its hours.';
comment on table app_public.rate_hours is E'@behavior -insert -update -delete\nMetered hours of a rate, per ISO weekday (1 = Monday). A rate without rows is metered around the clock; outside these hours parking is free.';
--! EndIncluded spots_admin.sql
--! Included reservations_lifecycle.sql
-- A reservation's life after it is made: change its end, end it now, cancel
-- it, confirm its payment set-up, and what the scheduled jobs do at its hold
-- deadline, before its end and at its end. States:
--   held -> confirmed -> completed (-> payment_failed, by the payments code)
--   held -> expired (hold deadline passed, or its end came while still held)
--   held | confirmed -> cancelled (before the start, free of charge)

create or replace function app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange)
  returns app_public.price_quote
  language sql stable
as $$
  -- Reservations made before rate_terms existed had theirs copied when it
  -- came (migration 000043); the spot's rate now is only a last resort.
  select app_hidden.quote_terms(
    coalesce(r.rate_terms,
             app_hidden.rate_terms((select s.rate_id from app_public.spots s where s.id = r.spot_id))),
    reservation_quote.time_window);
$$;
comment on function app_hidden.reservation_quote(app_public.reservations, tstzrange) is
  E'The price of a new window for a reservation under the rate terms it was booked with (rate_terms): an end moved later or earlier is priced as the rate stood at booking.';

create or replace function app_public.reservation_end_quote(
  reservation_id bigint,
  ends_at timestamptz,
  manage_token text default null
) returns app_public.price_quote
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations := app_private.reservation_for_caller(
    reservation_end_quote.reservation_id, reservation_end_quote.manage_token, false);
  v_end timestamptz;
begin
  -- Only what can still be ended or moved has such a price.
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and can no longer be ended or changed', v_r.status using errcode = 'SMB07';
  end if;
  -- Left out: now, what endReservation would charge.
  v_end := coalesce(reservation_end_quote.ends_at, now());
  if not isfinite(v_end) then
    raise exception 'Give the end time to price' using errcode = 'SMB03';
  end if;
  if v_end <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  -- A longer stay meets the spot's maximum, as changeReservationEnd's does.
  if v_end > upper(v_r.period) then
    perform app_hidden.assert_max_stay((select s from app_public.spots s where s.id = v_r.spot_id),
                                       tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  return app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
end;
$$;
comment on function app_public.reservation_end_quote(bigint, timestamptz, text) is
  E'What your reservation would cost if it ended at endsAt (left out: now, what endReservation would charge; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended. Guests pass the manage token (SMB06 otherwise); SMB03 for an end not after the start, SMB04 for a longer stay beyond the spot''s maximum, SMB07 once it is completed, cancelled or expired.';

create or replace function app_private.unpaid_behind(r app_public.reservations) returns bigint
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The same two debts reserve (SMB13) and the card set-up (SMP10) look for:
  -- the verified driver who booked it, or the card behind it, has a charge
  -- that failed and is still unpaid.
  select min(u.id) from app_public.reservations u
  where u.status = 'payment_failed' and u.id <> r.id
    and ((r.verified_booker_id is not null and u.verified_booker_id = r.verified_booker_id)
         or u.id in (select d.reservation_id
                     from app_private.setup_intents si
                     join app_private.declined_cards d on d.card_fingerprint = si.card_fingerprint
                     where si.reservation_id = r.id));
$$;
comment on function app_private.unpaid_behind(app_public.reservations) is
  E'An unpaid reservation (payment_failed) booked by the same verified driver as r, or declined on the card behind r; null when there is none.';

create or replace function app_public.change_reservation_end(
  reservation_id bigint,
  ends_at timestamptz,
  manage_token text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r      app_public.reservations;
  v_spot   app_public.spots;
  v_window tstzrange;
  v_quote  app_public.price_quote;
  v_unpaid bigint;
begin
  v_r := app_private.reservation_for_caller(change_reservation_end.reservation_id, change_reservation_end.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) or upper(v_r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when app_hidden.holds_spot(v_r.status) then 'over' else v_r.status::text end
      using errcode = 'SMB07';
  end if;
  if change_reservation_end.ends_at is null or not isfinite(change_reservation_end.ends_at) then
    raise exception 'Give the new end time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at <= now() then
    raise exception 'The new end time has already passed' using errcode = 'SMB09';
  end if;
  if change_reservation_end.ends_at <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at = upper(v_r.period) then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  v_window := tstzrange(lower(v_r.period), change_reservation_end.ends_at, '[)');
  -- Not started yet, it is still a booking: the floor reserve has. (Started,
  -- any end still to come will do: it is ending it a little later.)
  if lower(v_r.period) > now() then
    perform app_hidden.assert_min_stay(v_window);
  end if;
  select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  v_quote := app_hidden.reservation_quote(v_r, v_window);

  -- Row lock first (above), then the spot's: every writer takes them in this order.
  perform app_hidden.lock_spot(v_r.spot_id);
  if change_reservation_end.ends_at > upper(v_r.period) then
    -- Reservations made before a spot went out of service are honoured as
    -- made; more time on it would be a new use.
    if v_spot.status <> 'active' then
      raise exception 'This spot is out of service: the reservation can be shortened, not extended' using errcode = 'SMB02';
    end if;
    perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_r.user_id, v_r.email, v_r.id);
    -- More time is more credit: a card whose charge failed would otherwise
    -- stretch every reservation it backed before the decline, and fail again.
    v_unpaid := app_private.unpaid_behind(v_r);
    if v_unpaid is not null then
      raise exception 'Reservation #% is unpaid (its charge failed): pay it with another card before extending this one', v_unpaid
        using errcode = 'SMB13';
    end if;
  end if;
  begin
    update app_public.reservations r
    set period = v_window, amount = v_quote.amount, currency = v_quote.currency,
        -- A hold never outlives the reservation it holds.
        hold_expires_at = case when r.status = 'held'
          then least(r.hold_expires_at, upper(v_window)) end
    where r.id = v_r.id
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, the spot is taken by someone else after your current end time'
      using errcode = 'SMB01';
  end;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.change_reservation_end(bigint, timestamptz, text) is
  E'Moves the end of your reservation (longer or shorter) and re-prices it at the rate it was booked under (a rate changed since does not apply). Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start or leaves less than a minute (SMB03), extends a reservation on a spot out of service (SMB02), exceeds the spot''s maximum stay (SMB04), extends while a reservation of the same verified driver or card is unpaid (SMB13), or the reservation is over, cancelled or expired (SMB07).';

create or replace function app_private.complete_reservation(reservation_id bigint, ended_at timestamptz)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r     app_public.reservations;
  v_end   timestamptz;
  v_quote app_public.price_quote;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = complete_reservation.reservation_id for update;
  -- Never an empty period: one microsecond is the least a started reservation lasts.
  v_end := greatest(least(complete_reservation.ended_at, upper(v_r.period)),
                    lower(v_r.period) + interval '1 microsecond');
  if v_end = upper(v_r.period) then
    v_quote := row(v_r.amount, v_r.currency, null)::app_public.price_quote;  -- ran its course: as quoted
  else
    v_quote := app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  update app_public.reservations r
  set status = 'completed', period = tstzrange(lower(v_r.period), v_end, '[)'),
      amount = v_quote.amount, currency = v_quote.currency, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  -- The final charge: implemented by the payments code (task reservation__charge).
  perform app_private.queue_reservation_jobs('reservation__charge', array[v_r.id]);
  return v_r;
end;
$$;
comment on function app_private.complete_reservation(bigint, timestamptz) is
  E'Marks a reservation completed at ended_at (at most its end), fixes the final amount (the time used, minimum charge included, when it ends early) and queues its charge.';

create or replace function app_public.end_reservation(reservation_id bigint, manage_token text default null)
  returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(end_reservation.reservation_id, end_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be ended', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)'
      using errcode = 'SMB09';
  end if;
  if v_r.status = 'held' then
    -- No card was ever set up: ended, it is what its end would make of it
    -- (reservations_end_due), expired with nothing to charge. Completing it
    -- would charge a card that does not exist and leave a debt on the email.
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    where r.id = v_r.id
    returning * into v_r;
    return row(v_r, null)::app_public.reservation_result;
  end if;
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used at the rate it was booked under (never less than the rate''s minimum charge) and the spot is free again. One still held (no card set up) expires instead, with no charge. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

create or replace function app_public.cancel_reservation(reservation_id bigint, manage_token text default null)
  returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(cancel_reservation.reservation_id, cancel_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be cancelled', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) <= now() then
    raise exception 'This reservation has already started; end it now instead (%)',
      case when v_r.status = 'held' then 'no card was set up, so nothing is charged'
           else 'you pay only for the time used' end
      using errcode = 'SMB09';
  end if;
  update app_public.reservations r
  set status = 'cancelled', amount = 0, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.cancel_reservation(bigint, text) is
  E'Cancels a reservation before it starts, free of charge (nothing is ever charged for a cancelled reservation). Once it has started, end it instead (SMB09). Guests pass the manage token.';

create or replace function app_private.confirm_held_reservation(reservation_id bigint)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = confirm_held_reservation.reservation_id and r.kind = 'reservation'
  for update;
  if not found then
    raise exception 'There is no reservation %', coalesce(confirm_held_reservation.reservation_id::text, '(none given)') using errcode = 'SMB06';
  end if;
  if v_r.status = 'confirmed' then
    return v_r;  -- a replayed webhook or a second confirm: nothing to do
  end if;
  if v_r.status <> 'held' then
    raise exception 'This reservation is % and can no longer be confirmed', v_r.status using errcode = 'SMB07';
  end if;
  -- The confirmed row is a new entry in the exclusion index: without the spot
  -- lock, this update and a concurrent reserve() of an overlapping window
  -- could each wait for the other (a deadlock, seen in the randomized test).
  perform app_hidden.lock_spot(v_r.spot_id);
  update app_public.reservations r
  set status = 'confirmed', hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;
comment on function app_private.confirm_held_reservation(bigint) is
  E'held -> confirmed (the payments code calls it once the card is set up). Idempotent; SMB07 when the hold already expired or the reservation was cancelled.';

--------------------------------------------------------------------------------
-- Due work: what the due_work__sweep task runs, about every second, as the
-- owner. Each function takes at most max_rows due rows (oldest first, SKIP
-- LOCKED, so sweeps running side by side split the work instead of waiting)
-- and returns how many it handled; the task calls it again while it returns
-- max_rows. Each row leaves the "due" condition in the same statement, so a
-- row is handled once.

create or replace function app_private.reservations_end_due(max_rows int default 500) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ended int;
  v_completed bigint[];
begin
  with due as (
    select r.id from app_public.reservations r
    where r.kind = 'reservation' and app_hidden.holds_spot(r.status) and upper(r.period) <= now()
    order by upper(r.period)
    limit reservations_end_due.max_rows
    for update skip locked
  ), ended as (
    -- Ran its course: charged as quoted. Still held at its end: expired, no
    -- charge, and its amount 0 as a cancelled one's (it read as a price due).
    update app_public.reservations r
    set status = case when r.status = 'held' then 'expired' else 'completed' end::app_public.reservation_status,
        amount = case when r.status = 'held' then 0 else r.amount end,
        hold_expires_at = null
    from due where r.id = due.id
    returning r.id, r.status
  )
  select count(*)::int, array_agg(e.id) filter (where e.status = 'completed')
  into v_ended, v_completed from ended e;
  -- Their charges, in batch jobs queued by one add_jobs call.
  perform app_private.queue_charge_batches(v_completed);
  return v_ended;
end;
$$;
comment on function app_private.reservations_end_due(int) is
  E'Ends reservations whose end has come: confirmed -> completed (spot free, charge queued in a batch job), still held -> expired. At most max_rows; returns how many.';

create or replace function app_private.holds_expire_due(max_rows int default 500) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with due as (
    select r.id from app_public.reservations r
    where r.status = 'held' and r.hold_expires_at <= now()
    order by r.hold_expires_at
    limit holds_expire_due.max_rows
    for update skip locked
  ), expired as (
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    from due where r.id = due.id
    returning 1
  )
  select count(*)::int from expired;
$$;
comment on function app_private.holds_expire_due(int) is
  E'Expires holds whose deadline passed without a confirmed card, freeing their spots. At most max_rows; returns how many.';

create or replace function app_private.reminders_send_due(max_rows int default 500) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with due as (
    select r.id from app_public.reservations r
    where r.remind_at <= now()
    order by r.remind_at
    limit reminders_send_due.max_rows
    for update skip locked
  ), reminded as (
    update app_public.reservations r
    set remind_at = null
    from due where r.id = due.id
    returning r.*
  )
  -- Once per end time: a reminder re-armed by a changed end is a new email.
  select count(app_private.email_enqueue('reservation_reminder', m.email, d.data,
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  left join lateral app_hidden.reservation_email_data_of(m::app_public.reservations) d(data) on true
  where m.status = 'confirmed' and upper(m.period) > now();
$$;
comment on function app_private.reminders_send_due(int) is
  E'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';
--! EndIncluded reservations_lifecycle.sql
--! Included reservations_booking.sql
-- Reserving a spot. Security definer because the row is written with a price
-- the caller must not choose and, for guests, a secret the caller must not
-- read back; API roles have no insert grant on reservations at all.

-- (Its second parameter was renamed: a verified booker's, not any account's.)
drop function if exists app_private.assert_hold_allowed(citext, bigint, inet);
create or replace function app_private.assert_hold_allowed(email citext, verified_booker_id bigint, client_ip inet) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_per_address int := app_hidden.holds_per_address();
  v_per_hour    int := app_hidden.guest_bookings_per_email_hour();
  v_held        int;
begin
  -- One script must not hold every spot in the city (a hold costs nothing for
  -- booking_hold_time) nor mail-bomb an address. Counted under a lock per email and
  -- per address, always in that order, so concurrent bookings cannot each
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('holds:email:' || lower(email::text), 0));
  perform pg_advisory_xact_lock(hashtextextended('holds:ip:' || host(client_ip), 0));
  -- Each count starts from the driver's or the email's own rows and stops at
  -- the limit; one query per case, since plpgsql's generic plan of a query
  -- covering both read every held reservation in the city at every booking.
  -- (`offset 0` keeps the deadline out of the index choice: the driver's and
  -- the email's indexes are read, never the index of every hold by deadline.)
  if assert_hold_allowed.verified_booker_id is not null then
    -- A verified driver's own holds only: holds a stranger made as a guest
    -- with the driver's address (claimed into the account at sign-in or not)
    -- must not lock the driver out. An unverified account is counted by its
    -- email, as a guest is: nobody has proved the address is theirs.
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.verified_booker_id = assert_hold_allowed.verified_booker_id offset 0) h
      where h.hold_expires_at > now()) held;
  else
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.email = assert_hold_allowed.email offset 0) h
      where h.hold_expires_at > now()) held;
    -- Holds come and go (cancelled at once, each with two emails): guests are
    -- also bounded by how many reservations their email was given this hour.
    if (select count(*) from (
          select from app_public.reservations r
          where r.user_id is null and r.email = assert_hold_allowed.email and r.created_at > now() - interval '1 hour'
          limit v_per_hour) made) >= v_per_hour then
      raise exception 'Too many guest reservations for this email in the last hour (at most %): try again later, or sign in to a verified account',
        v_per_hour using errcode = 'SMB12';
    end if;
  end if;
  if v_held >= app_hidden.holds_per_driver()
     or (select count(*) from (
          select from app_private.reservation_origins o
          where o.client_ip = assert_hold_allowed.client_ip
            -- A scalar subquery, never turned into a join: one key look-up per row of this address.
            and (select r.status = 'held' and r.hold_expires_at > now()
                 from app_public.reservations r where r.id = o.reservation_id) is true
          limit v_per_address) held) >= v_per_address then
    raise exception 'Too many reservations waiting for a card: finish or cancel one first (at most % per email or account, and a limit per network address)',
      app_hidden.holds_per_driver() using errcode = 'SMB12';
  end if;
end;
$$;
comment on function app_private.assert_hold_allowed(citext, bigint, inet) is
  E'Error SMB12 when one more hold would give a verified driver (the holds they booked themselves; pass null for a guest or an unverified account, counted by email) or an email more than holds_per_driver (3) active holds (held, not yet expired), a client address more than holds_per_address (the server''s HOLDS_PER_ADDRESS, 10 by default), or a guest email more than guest_bookings_per_email_hour (10) reservations in the last hour.';

create or replace function app_public.reserve(
  spot_id bigint,
  starts_at timestamptz default null,
  ends_at timestamptz default null,
  duration_minutes int default null,
  email text default null,
  plate text default null,
  plate_state text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_email   citext;
  v_window  tstzrange;
  v_spot    app_public.spots;
  v_rate    app_public.rates;
  v_hours   app_public.rate_hours[];
  v_terms   jsonb;
  v_quote   app_public.price_quote;
  v_token   text;
  v_unpaid  bigint;
  -- The account, when its email is verified: only then does it answer for
  -- what it books (SMB13, its own hold count).
  v_booker  bigint;
  v_r       app_public.reservations;
  v_ip      inet := app_hidden.client_ip();
  -- The vehicle is optional; a malformed plate is refused (SME01) before anything is written.
  v_plate   text := case when reserve.plate is null then null else app_hidden.plate(reserve.plate) end;
  v_state   text := case when reserve.plate is null then null else app_hidden.plate_state(reserve.plate_state) end;
begin
  -- A state alone names no vehicle: refused rather than silently dropped.
  if reserve.plate is null and nullif(btrim(reserve.plate_state), '') is not null then
    raise exception 'Give the plate with its state' using errcode = 'SME01';
  end if;
  if v_user_id is not null then
    -- A signed-in driver's reservation goes to their account's address.
    select u.email, case when u.is_verified then u.id end into v_email, v_booker from app_public.users u where u.id = v_user_id;
    -- A driver whose charge failed books nothing more until it is paid: a
    -- card that sets up but never pays would otherwise park for free forever.
    -- Only what the driver booked with the address proved counts: anyone can
    -- book as a guest with someone's email (claimed at their sign-in), or
    -- sign up with it before its owner does.
    select min(r.id) into v_unpaid from app_public.reservations r where r.verified_booker_id = v_booker and r.status = 'payment_failed';
    if v_unpaid is not null then
      raise exception 'You have an unpaid reservation (#%): pay it with another card first', v_unpaid using errcode = 'SMB13';
    end if;
  else
    v_email := app_hidden.guest_email(reserve.email);
  end if;
  v_window := app_hidden.booking_window(reserve.starts_at, reserve.ends_at, reserve.duration_minutes);
  if reserve.spot_id is null then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  end if;

  perform app_hidden.lock_spot(reserve.spot_id);
  select s.* into v_spot from app_public.spots s where s.id = reserve.spot_id;
  if not found then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  elsif v_spot.status <> 'active' then
    raise exception 'This spot is out of service and cannot be reserved' using errcode = 'SMB02';
  end if;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_user_id, v_email);
  -- The rate's terms as they are now: this quote and every later re-pricing of
  -- the reservation (ended early, moved end) come from this copy, so a rate
  -- changed afterwards never changes what this driver was promised.
  select r.* into v_rate from app_public.rates r where r.id = v_spot.rate_id;
  v_hours := array(select h from app_public.rate_hours h where h.rate_id = v_rate.id);
  v_quote := app_hidden.quote_of(v_rate, v_hours, v_window);
  v_terms := app_hidden.rate_terms_of(v_rate, v_hours);
  -- Bookings through the API carry the client's address (every mutation does:
  -- server/request_identity.ts) and are bounded; SQL run by the owner (tests,
  -- maintenance, the CLI) has no client and is not.
  if v_ip is not null then
    perform app_private.assert_hold_allowed(v_email, v_booker, v_ip);
  end if;

  begin
    insert into app_public.reservations (spot_id, user_id, verified_booker_id, email, period, status, amount, currency,
                                         hold_expires_at, plate, plate_state, rate_terms)
    values (v_spot.id, v_user_id, v_booker, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
            least(now() + app_hidden.booking_hold_time(), upper(v_window)), v_plate, v_state, v_terms)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, this spot is already taken for part of that time' using errcode = 'SMB01';
  end;

  if v_ip is not null then
    insert into app_private.reservation_origins (reservation_id, client_ip) values (v_r.id, v_ip);
  end if;
  if v_user_id is null then
    v_token := app_private.new_manage_token();
    insert into app_private.reservation_secrets (reservation_id, manage_token_hash)
    values (v_r.id, app_private.manage_token_hash(v_token));
  end if;
  return row(v_r, v_token)::app_public.reservation_result;
end;
$$;
comment on function app_public.reserve(bigint, timestamptz, timestamptz, int, text, text, text) is
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you (email is not used: the account''s address is), refused while a reservation you booked with your email verified is unpaid (SMB13). Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes. plate and plateState (optional) name the vehicle parked on it, for enforcement (SME01 when malformed). At most 3 holds at once per email or account and 10 per client address, and 10 guest reservations an hour per email (SMB12).';
--! EndIncluded reservations_booking.sql
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
  E'Staff only (SMP05): makes the refund row (amount defaults to what remains refundable; SMB06 for no such reservation, SMP06 when nothing is refundable, SMP07 when another refund is in flight) and returns what refunds.create needs.';

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
