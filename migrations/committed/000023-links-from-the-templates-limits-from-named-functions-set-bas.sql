--! Previous: sha1:eae046a238d7a44891e431202ca83b995436b472
--! Hash: sha1:ab15e2525d6cb2c64d36ce79ebbace848166b5c8
--! Message: Links from the templates, limits from named functions, set-based reservation side effects and charges, one-round-trip booking SQL, reservation-then-set-up lock order

-- Emailed links are made in one place, the email templates (lib/web_urls.ts, against
-- WEB_URL): the outbox row keeps the token, no longer a link made in SQL from the request.
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
  -- Unicode spaces (Zs), listed because the C.UTF-8 locale's [[:space:]] misses some.
  c_space constant text := '\u0020\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000';
  -- Controls (C0, DEL, C1), line/paragraph separators and every format
  -- character (Cf: soft hyphen, zero-width and bidi controls, word joiners,
  -- invisible operators, tags): they let a name display as something else.
  c_refused constant text := '[\u0001-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2'
    '\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB'
    '\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F]';
  -- Letters and symbols that print nothing (Hangul fillers, the blank Braille
  -- pattern, combining grapheme joiner, Khmer inherent vowels, variation
  -- selectors): allowed beside visible characters, not as a whole name.
  c_blank constant text := '[' || c_space || '\u034F\u115F\u1160\u17B4\u17B5\u2800\u3164\uFFA0\uFE00-\uFE0F\U000E0100-\U000E01EF]';
  v_name text := regexp_replace(normalize(coalesce(name, ''), NFC), '^[' || c_space || ']+|[' || c_space || ']+$', '', 'g');
begin
  if length(v_name) not between 1 and 100 or v_name ~ c_refused or regexp_replace(v_name, c_blank, '', 'g') = '' then
    raise exception 'A name must be 1 to 100 characters without control or invisible formatting characters'
      using errcode = 'SMA05';
  end if;
  return v_name;
end;
$$;
comment on function app_hidden.assert_name(text) is
  E'The one rule for names: trimmed of spaces, NFC-normalised, 1 to 100 characters, no control or format character, not only invisible ones; else error SMA05.';

create or replace function app_private.tg_users__name() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Every path that writes a name (sign-up, updateUser, invitations, OAuth,
  -- the CLI, a migration) passes this trigger, so none can skip the rule.
  new.name := app_hidden.assert_name(new.name);
  return new;
end;
$$;
comment on function app_private.tg_users__name() is
  E'Stores users.name as app_hidden.assert_name returns it, or refuses the write with SMA05.';
drop trigger if exists _200_name on app_public.users;
create trigger _200_name before insert or update of name on app_public.users
  for each row execute procedure app_private.tg_users__name();

create or replace function app_hidden.assert_password(password text, email text default null) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- NFKC, as NIST SP 800-63B advises: the same password typed on another
  -- keyboard (composed or decomposed accents, full-width digits) still matches.
  v_password text := normalize(coalesce(password, ''), NFKC);
  -- What guessers try first: the password itself, and its stem without the
  -- digits and symbols people append ("basketball1!" is "basketball").
  v_lower text := lower(v_password);
  v_stem text := regexp_replace(lower(v_password), '[0-9[:punct:][:space:]]+$', '');
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
  -- NIST SP 800-63B: refuse passwords from lists of commonly used ones
  -- (migrations/fixtures/common_passwords.sql), and digits alone, which are
  -- dates, phone numbers and keyboard runs far more often than not.
  if v_password ~ '^[0-9[:space:]]+$'
     or exists (select from app_private.common_passwords c where c.password in (v_lower, v_stem)) then
    raise exception 'This password is too common or too easy to guess: choose another, e.g. a few unrelated words'
      using errcode = 'SMA04';
  end if;
  return v_password;
end;
$$;
comment on function app_hidden.assert_password(text, text) is
  E'The NFKC-normalised password when it meets the rule (10 characters to 72 bytes, not one repeated character, not the email, not digits only, not a common password or one with digits or symbols appended), else error SMA04.';

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

-- An emailed link carries its token in the outbox row's data ("token"); the email
-- template makes the link from it against WEB_URL (lib/web_urls.ts), so SQL never
-- spells the web app's address or pages.

create or replace function app_hidden.user_token_valid_for(kind text) returns interval
  language sql immutable
as $$
  select case user_token_valid_for.kind
    when 'verify_email' then interval '3 days'
    when 'password_reset' then interval '1 hour'
    when 'invite' then interval '7 days'
  end;
$$;
comment on function app_hidden.user_token_valid_for(text) is
  E'How long a one-time emailed link of a kind works: email verification 3 days, password reset 1 hour, staff invitation 7 days.';

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

drop function if exists app_private.rate_limit_rule(text);
create or replace function app_private.rate_limit_rule(bucket text, out max_hits int, out period interval, out escalates boolean)
  language sql immutable
as $$
  select r.max_hits, r.period, r.escalates
  from (values
    -- Sign-in is counted per (email, client address) first: an attacker's
    -- failures lock out only that pair, not the owner elsewhere. A pair that
    -- keeps failing waits twice as long each time (15 min, 30 min, 1 h … 24 h).
    -- The per-email ceiling is ten times higher: it takes ten addresses to
    -- hold an email back, and the owner's successful sign-in clears it.
    ('login_pair',     10, interval '15 minutes', true),
    ('login_email',   100, interval '15 minutes', false),
    ('login_ip',      100, interval '15 minutes', false),
    ('reset_email',     3, interval '1 hour', false),
    ('reset_ip',       20, interval '1 hour', false),
    ('register_ip',    20, interval '1 hour', false),
    ('verify_resend',   3, interval '1 hour', false),
    ('manage_link_reservation', 3, interval '1 hour', false),
    ('manage_link_ip', 20, interval '1 hour', false)
  ) as r(bucket, max_hits, period, escalates)
  where r.bucket = rate_limit_rule.bucket;
$$;
comment on function app_private.rate_limit_rule(text) is
  E'How many hits a bucket allows per period (the documented limits), and whether a key that went over waits twice as long each time.';

create or replace function app_private.rate_limit_hit(bucket text, key text) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_rule record := app_private.rate_limit_rule(bucket);
  v_hits int;
  v_start timestamptz;
  v_strikes int;
begin
  if key is null then
    return 0;
  end if;
  -- A window ends after its period, doubled for each window in a row that
  -- went over (escalating buckets only, at most a day); a new window starts
  -- the count again and keeps the strike if the last one went over.
  insert into app_private.rate_limits as r (bucket, key, window_start, hits, strikes)
  values (rate_limit_hit.bucket, rate_limit_hit.key, v_now, 1, 0)
  on conflict on constraint rate_limits_pkey do update set
    window_start = case when r.window_start <= v_now - app_private.rate_limit_period(v_rule.period, v_rule.escalates, r.strikes) then v_now else r.window_start end,
    strikes = case
      when r.window_start > v_now - app_private.rate_limit_period(v_rule.period, v_rule.escalates, r.strikes) then r.strikes
      when v_rule.escalates and r.hits > v_rule.max_hits then r.strikes + 1
      else 0 end,
    hits = case when r.window_start <= v_now - app_private.rate_limit_period(v_rule.period, v_rule.escalates, r.strikes) then 1 else r.hits + 1 end
  returning r.hits, r.window_start, r.strikes into v_hits, v_start, v_strikes;
  if v_hits > v_rule.max_hits then
    return greatest(1, ceil(extract(epoch from (v_start + app_private.rate_limit_period(v_rule.period, v_rule.escalates, v_strikes) - v_now))))::int;
  end if;
  return 0;
end;
$$;
comment on function app_private.rate_limit_hit(text, text) is
  E'Counts one hit on (bucket, key); returns 0 when allowed, else the seconds until the window ends.';

create or replace function app_private.rate_limit_period(period interval, escalates boolean, strikes int) returns interval
  language sql immutable
as $$
  select case when escalates then least(period * power(2, least(strikes, 16)), interval '24 hours') else period end;
$$;
comment on function app_private.rate_limit_period(interval, boolean, int) is
  E'A window''s length: the bucket''s period, doubled per strike (windows in a row that went over) for escalating buckets, at most 24 hours.';

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
  v_token := app_private.user_token_issue(v_user.id, 'verify_email', v_user.email,
    app_hidden.user_token_valid_for('verify_email'));
  perform app_private.email_enqueue('verify_email', v_user.email,
    jsonb_build_object('name', v_user.name, 'token', v_token,
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
    v_token := app_private.user_token_issue(v_user.id, 'password_reset', v_user.email,
      app_hidden.user_token_valid_for('password_reset'));
    perform app_private.email_enqueue('password_reset', v_user.email,
      jsonb_build_object('name', v_user.name, 'token', v_token,
                         'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('password_reset')));
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
  E'Admins only: gives a user another role (driver, operator, admin, analyst, enforcement); not your own. Takes effect on the user''s next request.';

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

create or replace function app_private.reclaim_unverified_account(user_id bigint, provider text, name text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
begin
  select u.* into v_user from app_public.users u where u.id = reclaim_unverified_account.user_id;
  -- Their password, sessions, pending email links, other sign-in links and the
  -- name they chose go; the name becomes the one the provider gave.
  update app_public.users u
  set name = coalesce(nullif(btrim(reclaim_unverified_account.name), ''), split_part(u.email::text, '@', 1))
  where u.id = v_user.id
  returning u.* into v_user;
  delete from app_private.user_secrets s where s.user_id = v_user.id;
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = v_user.id and t.used_at is null;
  delete from app_private.user_identities i where i.user_id = v_user.id;
  perform app_private.email_enqueue('account_secured', v_user.email,
    jsonb_build_object('name', v_user.name, 'provider', reclaim_unverified_account.provider));
end;
$$;
comment on function app_private.reclaim_unverified_account(bigint, text, text) is
  E'When a provider-verified sign-in meets an unverified account with its email: takes the provider''s name, removes the password, revokes every session, voids pending email links and other provider links, and emails the owner (account_secured). The caller then links the provider and marks the email verified.';

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
--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the reminder time and the emails
-- of every change, in the transaction that made it; and the one function that
-- queues a reservation's jobs. Security definer because app_private's tables
-- are the owner's alone, and the writer may be any API role.
-- force_generic_plan: plpgsql otherwise re-plans these statements with custom
-- plans on the first calls of every connection (graphile_worker.add_jobs
-- measured 0.85 ms per call, 0.3 ms with generic plans).

create or replace function app_hidden.reservation_email_data(r app_public.reservations) returns jsonb
  language plpgsql stable
as $$
begin
  -- plpgsql rather than sql: every reservation change calls this from a
  -- trigger, and a sql function that cannot be inlined plans its query again
  -- at each call; plpgsql keeps the plan.
  return (
    select jsonb_strip_nulls(jsonb_build_object(
      'reservationId', r.id,
      'spotId', r.spot_id,
      'spot', app_public.spots_description(s),
      'startsAt', app_hidden.iso_time(lower(r.period)),
      'endsAt', app_hidden.iso_time(upper(r.period)),
      'timeZone', rt.time_zone,
      'amount', r.amount,
      'currency', r.currency,
      'status', r.status,
      'holdExpiresAt', app_hidden.iso_time(r.hold_expires_at),
      -- Guests' emails lead to the page that asks for the manage code (emails/reservation.ts
      -- makes the link); the token itself is never stored.
      'isGuest', r.user_id is null))
    from app_public.spots s
    join app_public.rates rt on rt.id = s.rate_id
    where s.id = r.spot_id);
end;
$$;
comment on function app_hidden.reservation_email_data(app_public.reservations) is
  E'What every reservation email''s template receives (see README: email data keys).';

-- The side effects of a change are written per statement, not per row: the
-- due-work sweep ends hundreds of reservations in one UPDATE, and per-row
-- triggers cost about 0.5 ms a row there (a plpgsql call, a plan and an
-- insert each for the audit row, the email and the live event). The
-- statement's rows reach the set-based functions below as one array of
-- (old_row, new_row) pairs (old_row null for an insert), built once from the
-- transition tables.

do $$
begin
  create type app_private.reservation_change as (old_row app_public.reservations, new_row app_public.reservations);
exception when duplicate_object then null;
end;
$$;
comment on type app_private.reservation_change is
  E'One row of an insert or update statement on reservations: the row before (null for an insert) and after.';

create or replace function app_private.reservations_audit(changes app_private.reservation_change[])
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_private.reservation_events
    (reservation_id, action, old_status, new_status, old_period, new_period, old_amount, new_amount,
     actor_user_id, actor_role)
  select n.id, a.action, o.status, n.status, o.period, n.period, o.amount, n.amount,
         app_public.current_user_id(),
         -- SECURITY DEFINER changes current_user, not the `role` setting the API set.
         coalesce(nullif(current_setting('role', true), 'none'), 'system:' || session_user)
  from unnest(reservations_audit.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then case when n.kind = 'block' then 'blocked' else 'reserved' end
      when n.status is distinct from o.status then n.status::text  -- confirmed, cancelled, completed, expired, …
      when n.period is distinct from o.period then 'end_changed'
      when n.amount is distinct from o.amount or n.hold_expires_at is distinct from o.hold_expires_at then 'updated'
    end as action) a   -- null: nothing a person would call a change
  where a.action is not null
  order by c.ordinality;
$$;
comment on function app_private.reservations_audit(app_private.reservation_change[]) is
  E'Writes the audit row of each inserted or changed reservation of one statement (old_row null for an insert).';

-- Due work lives in the reservation row itself, not in one future job per
-- reservation: its end (upper(period)), its hold deadline (hold_expires_at)
-- and its reminder (remind_at). app_private.due_work_sweep finds what fell
-- due (indexed, SKIP LOCKED) and queues only work that is due now. Booking
-- therefore queues no job: each add_job NOTIFYs, even for a future run_at,
-- and NOTIFYing commits serialise on one cluster-wide lock (STACK-NOTES §11:
-- three keyed add_jobs took booking from ~2,200 to ~450 tx/s at 8 clients).

create or replace function app_private.tg_reservations__remind_at() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_remind_at timestamptz;
begin
  if new.kind <> 'reservation' or new.status <> 'confirmed' then
    new.remind_at := null;
  elsif tg_op = 'INSERT' or new.status is distinct from old.status or new.period is distinct from old.period then
    -- A reminder only when it would come after the start and in the future
    -- (one confirmed too late for it gets none); a stay under an hour is
    -- reminded a quarter of its length before its end (booking_reminder_at).
    v_remind_at := app_hidden.booking_reminder_at(new.period);
    new.remind_at := case when v_remind_at > greatest(now(), lower(new.period)) then v_remind_at end;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_reservations__remind_at() is
  E'Sets remind_at, when the due-work sweep emails a confirmed reservation''s reminder (booking_reminder_at: 15 minutes before its end, a quarter of the stay for one under an hour); moved with the end, cleared once it is no longer confirmed.';

create or replace function app_private.reservation_job_key(task text, reservation_id bigint) returns text
  language sql immutable
as $$
  -- reservation__charge -> reservation_charge:<id>
  select replace(reservation_job_key.task, '__', '_') || ':' || reservation_job_key.reservation_id;
$$;
comment on function app_private.reservation_job_key(text, bigint) is
  E'The graphile-worker job key of a reservation''s job: one waiting job per task and reservation (queuing again replaces it).';

create or replace function app_private.queue_reservation_jobs(
  task text,
  reservation_ids bigint[],
  run_at timestamptz default null,
  priority int default 0,
  max_attempts int default 10
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
begin
  if coalesce(cardinality(queue_reservation_jobs.reservation_ids), 0) = 0 then
    return;
  end if;
  -- A job of the same key that is running (this very job, queuing its own
  -- next run; or another worker's) is superseded. graphile-worker would keep
  -- its row, keyless and marked failed for good (attempts = max_attempts), and
  -- a worker dying before completing it would leave that row for ever: a
  -- failed job in the metrics though its successor does the work. Deleted
  -- instead, in this transaction: completing or failing a deleted job changes
  -- nothing. (Reservation jobs have no named queue, which would stay locked.)
  delete from graphile_worker._private_jobs j
  where j.key = any(array(select app_private.reservation_job_key(queue_reservation_jobs.task, id)
                          from unnest(queue_reservation_jobs.reservation_ids) id))
    and j.locked_at is not null and j.job_queue_id is null;
  -- One add_jobs call, one NOTIFY, however many reservations.
  perform graphile_worker.add_jobs(array(
    select (queue_reservation_jobs.task, json_build_object('reservationId', id), null,
            coalesce(queue_reservation_jobs.run_at, now()), queue_reservation_jobs.max_attempts,
            app_private.reservation_job_key(queue_reservation_jobs.task, id),
            queue_reservation_jobs.priority, null)::graphile_worker.job_spec
    from unnest(queue_reservation_jobs.reservation_ids) id));
end;
$$;
comment on function app_private.queue_reservation_jobs(text, bigint[], timestamptz, int, int) is
  E'Every job of a reservation is queued here, keyed by reservation_job_key: one add_jobs call for many reservations. Priority: lower runs first (new charges 0, retries of old failures 5, emails 10).';

create or replace function app_private.reservations_emails(changes app_private.reservation_change[])
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The same dedupe key twice (a replayed change) is one email, as email_enqueue.
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select e.template, n.email,
         coalesce(app_hidden.reservation_email_data(c.new_row), '{}') || case e.template
           when 'reservation_cancelled' then jsonb_build_object('reason',
             case when app_hidden.current_user_is_staff() and n.user_id is distinct from app_public.current_user_id()
                  then 'cancelled_by_operator' else 'cancelled' end)
           when 'reservation_changed' then jsonb_build_object(
             'previousEndsAt', app_hidden.iso_time(upper(o.period)), 'previousAmount', o.amount)
           else '{}'::jsonb end,
         e.template || ':' || n.id || case when e.template = 'reservation_changed'
           then ':' || extract(epoch from n.updated_at) else '' end
  from unnest(reservations_emails.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then 'reservation_held'
      when n.status is distinct from o.status then case n.status
        when 'confirmed' then 'reservation_confirmed'
        when 'cancelled' then 'reservation_cancelled'
        when 'expired'   then 'reservation_expired'
        when 'completed' then 'reservation_ended'
      end  -- payment_failed: the payments code writes that email
      when n.period is distinct from o.period and app_hidden.holds_spot(n.status) then 'reservation_changed'
    end as template) e
  where n.kind = 'reservation' and e.template is not null
  order by c.ordinality
  on conflict on constraint emails_dedupe_key_key do nothing;
$$;
comment on function app_private.reservations_emails(app_private.reservation_change[]) is
  E'Queues the email of each inserted or changed reservation of one statement in the outbox: reservation_held, _confirmed, _changed, _cancelled, _expired (a hold never confirmed), _ended.';

create or replace function app_private.tg_reservations__changes() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_changes app_private.reservation_change[];
begin
  if tg_op = 'INSERT' then
    v_changes := array(select row(null, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n order by n.id);
  else
    v_changes := array(select row(row(o.*)::app_public.reservations, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n join old_rows o on o.id = n.id order by n.id);
  end if;
  if cardinality(v_changes) = 0 then
    return null;
  end if;
  perform app_private.reservations_audit(v_changes);
  perform app_private.reservations_emails(v_changes);
  perform app_private.reservations_live(v_changes);
  return null;
end;
$$;
comment on function app_private.tg_reservations__changes() is
  E'After each insert or update statement on reservations: its audit rows, emails and live events, set-based (reservations_audit, reservations_emails, reservations_live).';

drop trigger if exists _500_audit on app_public.reservations;
drop trigger if exists _700_notify on app_public.reservations;
drop trigger if exists _800_live on app_public.reservations;
drop trigger if exists _500_changes_inserted on app_public.reservations;
create trigger _500_changes_inserted after insert on app_public.reservations
  referencing new table as new_rows
  for each statement execute function app_private.tg_reservations__changes();
drop trigger if exists _500_changes_updated on app_public.reservations;
create trigger _500_changes_updated after update on app_public.reservations
  referencing old table as old_rows new table as new_rows
  for each statement execute function app_private.tg_reservations__changes();
drop function if exists app_private.tg_reservations__audit();
drop function if exists app_private.tg_reservations__notify();
drop function if exists app_private.tg_reservations__live();
--! EndIncluded reservations_triggers.sql
--! Included reservations_guest_link.sql
-- A guest who lost the manage token asks for a new one: sendManageLink(reservationId,
-- email) mails a fresh token to the reservation's own address and revokes the old
-- one. The answer is the same whether or not the pair matches (an id and an email
-- say nothing about each other); limited per reservation and per client address.

create or replace function app_public.send_manage_link(reservation_id bigint, email text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_r app_public.reservations;
  v_token text;
begin
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('manage_link_reservation', send_manage_link.reservation_id::text),
    app_private.rate_limit_hit('manage_link_ip', host(app_hidden.client_ip()))));
  select r.* into v_r from app_public.reservations r
  where r.id = send_manage_link.reservation_id and r.kind = 'reservation' and r.user_id is null
    and r.email::citext = v_email
  for update;
  if v_r.id is not null then
    v_token := app_private.new_manage_token();
    -- One live token per reservation: the new hash replaces the old one.
    update app_private.reservation_secrets s set manage_token_hash = app_private.manage_token_hash(v_token)
    where s.reservation_id = v_r.id;
    -- The email's link carries the token (in its fragment: lib/web_urls.ts); the outbox row
    -- holds it only until the email is sent.
    perform app_private.email_enqueue('reservation_link', v_r.email,
      app_hidden.reservation_email_data(v_r) || jsonb_build_object('manageToken', v_token));
  end if;
  return true;
end;
$$;
comment on function app_public.send_manage_link(bigint, text) is
  E'Guests who lost their manage token: emails a link with a new token to the reservation''s address when reservationId and email match a guest reservation (the old token stops working), and answers true either way. At most 3 an hour per reservation and 20 per client address (SMA02).';
--! EndIncluded reservations_guest_link.sql
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
--! Included reservations_rules.sql
-- The booking rules' constants and the checks every booking function shares.
-- A constant lives in one immutable function so SQL, tests and README quote
-- the same number.

create or replace function app_hidden.booking_hold_time() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_hold_time() is
  E'How long a new reservation stays held without confirmed payment set-up before it expires (capped at its end).';

create or replace function app_hidden.booking_reminder_lead() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_reminder_lead() is
  E'How long before a confirmed reservation ends its driver gets a reminder (less for stays under an hour: booking_reminder_at).';

create or replace function app_hidden.booking_reminder_at(period tstzrange) returns timestamptz
  language sql immutable
as $$
  -- A stay under an hour is reminded a quarter of its length before its end
  -- (a 2-minute stay: 30 s before), so a short stay still gets its reminder
  -- while there is time left to extend.
  select upper(period) - least(app_hidden.booking_reminder_lead(), (upper(period) - lower(period)) / 4);
$$;
comment on function app_hidden.booking_reminder_at(tstzrange) is
  E'When the reminder of a stay is due: 15 minutes before its end, or a quarter of the stay before its end when it lasts under an hour.';

create or replace function app_hidden.booking_horizon() returns interval
  language sql immutable as $$ select interval '90 days' $$;
comment on function app_hidden.booking_horizon() is
  E'How far ahead a reservation may start (the same as search''s horizon).';

create or replace function app_hidden.max_stay() returns interval
  language sql immutable as $$ select interval '7 days' $$;
comment on function app_hidden.max_stay() is
  E'The longest stay anywhere: the longest window a quote or a search prices (assert_window), and the most a spot''s own maximum stay may be (spot_max_stay).';

create or replace function app_hidden.holds_per_driver() returns int
  language sql immutable as $$ select 3 $$;
comment on function app_hidden.holds_per_driver() is
  E'How many reservations one email or signed-in driver may hold at once (held, not yet expired) before SMB12.';

create or replace function app_hidden.holds_per_address() returns int
  language sql stable as $$
  -- The API sends the server's HOLDS_PER_ADDRESS with every request (server/config.ts, whose
  -- default is this one); other callers (the CLI, tests in SQL) get the default.
  select coalesce(nullif(current_setting('app.holds_per_address', true), '')::int, 10)
$$;
comment on function app_hidden.holds_per_address() is
  E'How many reservations one client address may hold at once before SMB12: app.holds_per_address (the server''s HOLDS_PER_ADDRESS), else 10.';

create or replace function app_hidden.booking_start_grace() returns interval
  language sql immutable as $$ select interval '5 minutes' $$;
comment on function app_hidden.booking_start_grace() is
  E'A start this little in the past (a slow phone, a skewed clock) is read as "now"; earlier is refused.';

create or replace function app_hidden.block_max_length() returns interval
  language sql immutable as $$ select interval '366 days' $$;
comment on function app_hidden.block_max_length() is E'Longest single operator block.';

create or replace function app_hidden.human_duration(d interval) returns text
  language sql immutable
as $$
  -- 90 minutes -> "1 h 30 min"; 2 hours -> "2 h"; days are written as hours.
  select concat_ws(' ',
    case when floor(extract(epoch from d) / 3600) > 0 then floor(extract(epoch from d) / 3600)::bigint || ' h' end,
    case when floor(extract(epoch from d) / 60)::bigint % 60 > 0 then (floor(extract(epoch from d) / 60)::bigint % 60) || ' min' end);
$$;
comment on function app_hidden.human_duration(interval) is E'A length of time in words a driver reads (h, min).';

create or replace function app_hidden.lock_spot(spot_id bigint) returns void
  language sql volatile
as $$
  -- One advisory lock per spot, held to the end of the transaction. Writers of
  -- a spot's periods queue here instead of on each other's uncommitted index
  -- entries in the exclusion constraint (which collapses throughput under
  -- contention); the constraint stays the guarantee. Key space 7340 = 'booking'.
  -- Rule: every write that leaves a row spot-holding (insert, new period,
  -- held -> confirmed) takes this lock first, after the row lock if it has
  -- one; writes that free a spot (cancel, end, expire) need not.
  -- Otherwise two writers can wait on each other's index entries: a deadlock.
  select pg_advisory_xact_lock(7340, (lock_spot.spot_id % 2147483647)::int);
$$;
comment on function app_hidden.lock_spot(bigint) is
  E'Serialises the writers of one spot''s reservations until the transaction ends.';

create or replace function app_hidden.booking_window(
  starts_at timestamptz, ends_at timestamptz, duration_minutes int
) returns tstzrange
  language plpgsql stable
as $$
declare
  v_start timestamptz := coalesce(booking_window.starts_at, now());
  v_end   timestamptz;
begin
  if not isfinite(v_start) then
    raise exception 'The start time is not a real date and time' using errcode = 'SMB03';
  end if;
  if v_start < now() - app_hidden.booking_start_grace() then
    raise exception 'The start time is in the past; pick a time from now on' using errcode = 'SMB03';
  end if;
  v_start := greatest(v_start, now());
  if v_start > now() + app_hidden.booking_horizon() then
    raise exception 'Reservations can start at most % days ahead',
      extract(day from app_hidden.booking_horizon()) using errcode = 'SMB05';
  end if;
  if booking_window.ends_at is not null and booking_window.duration_minutes is not null then
    raise exception 'Give an end time or a duration, not both' using errcode = 'SMB03';
  elsif booking_window.duration_minutes is not null then
    if booking_window.duration_minutes <= 0 then
      raise exception 'The duration must be at least one minute' using errcode = 'SMB03';
    end if;
    v_end := v_start + make_interval(mins => booking_window.duration_minutes);
  elsif booking_window.ends_at is not null then
    if not isfinite(booking_window.ends_at) then
      raise exception 'The end time is not a real date and time' using errcode = 'SMB03';
    end if;
    v_end := booking_window.ends_at;
  else
    raise exception 'Give an end time or a duration' using errcode = 'SMB03';
  end if;
  if v_end <= v_start then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  return tstzrange(v_start, v_end, '[)');
end;
$$;
comment on function app_hidden.booking_window(timestamptz, timestamptz, int) is
  E'The window [start, end) a reservation asks for: start defaults to now, the end is given or start + duration. Errors SMB03 (bad window) or SMB05 (beyond the horizon).';

create or replace function app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) returns void
  language plpgsql stable
as $$
begin
  if upper(time_window) - lower(time_window) > spot.max_stay then
    raise exception 'This spot can be reserved for at most %', app_hidden.human_duration(spot.max_stay)
      using errcode = 'SMB04';
  end if;
end;
$$;
comment on function app_hidden.assert_max_stay(app_public.spots, tstzrange) is
  E'Error SMB04 when the window is longer than the spot''s maximum stay.';

create or replace function app_hidden.guest_email(email text) returns citext
  language plpgsql immutable
as $$
begin
  if email is null or btrim(email) = '' then
    raise exception 'Sign in, or give an email address to reserve as a guest' using errcode = 'SMB08';
  end if;
  -- The one rule for addresses (accounts use it too): a looser pattern let
  -- `x<victim@example.com>` through, and the mail went to the victim.
  if not app_hidden.email_is_valid(btrim(email)) then
    raise exception 'That email address does not look right' using errcode = 'SMB08';
  end if;
  return btrim(email)::citext;
end;
$$;
comment on function app_hidden.guest_email(text) is E'A guest''s email, trimmed, or error SMB08.';

create or replace function app_hidden.iso_time(t timestamptz) returns text
  language sql immutable
as $$
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;
comment on function app_hidden.iso_time(timestamptz) is E'ISO 8601 in UTC, whatever the session time zone.';
--! EndIncluded reservations_rules.sql
--! Included quote.sql
-- Prices. A quote is what a window costs at a spot's rate: the metered part of
-- the window (operating hours read in the rate's time zone, so a window across
-- a DST change is priced by the time that really elapses), rounded up to the
-- billing increment, at the hourly price, never below the rate's minimum
-- charge nor the payment provider's least charge for the currency when any of
-- the window is metered (a smaller amount could never be charged).

-- plpgsql rather than sql: these run once per search result row, and plpgsql
-- keeps its query plans for the life of the connection, where a non-inlined
-- sql function is planned again in every query that calls it.

create or replace function app_hidden.metered_time(rate_id int, time_window tstzrange) returns interval
  language plpgsql stable
as $$
declare
  v_time_zone text;
  v_metered interval;
begin
  if not exists (select from app_public.rate_hours h where h.rate_id = metered_time.rate_id) then
    return upper(time_window) - lower(time_window);
  end if;
  select r.time_zone into v_time_zone from app_public.rates r where r.id = metered_time.rate_id;
  select sum(upper(o.overlap) - lower(o.overlap)) into v_metered
  -- The local calendar days (dates in the rate's zone) the window touches.
  -- Dates, not timestamptz: a timestamptz day starts at midnight of the
  -- *session's* time zone and would shift every opening hour with it.
  from generate_series(0,
         (upper(time_window) at time zone v_time_zone)::date
           - (lower(time_window) at time zone v_time_zone)::date) as i(n)
  cross join lateral (select (lower(time_window) at time zone v_time_zone)::date + i.n as day) d
  join app_public.rate_hours h
    on h.rate_id = metered_time.rate_id and h.isodow = extract(isodow from d.day)
  -- `date + time` is a local timestamp; `at time zone` turns it into the real
  -- instant, DST included (24:00 is the next midnight). A local time that
  -- happens twice (01:30 when clocks fall back) reads as the later instant,
  -- right for closing; a meter opens at the earlier one: the local time an
  -- hour before, plus an hour (least(): never later than the plain reading).
  cross join lateral (
    select time_window * tstzrange(
      least((d.day + h.opens) at time zone v_time_zone,
            ((d.day + h.opens) - interval '1 hour') at time zone v_time_zone + interval '1 hour'),
      (d.day + h.closes) at time zone v_time_zone, '[)') as overlap
  ) o
  where not isempty(o.overlap);
  return coalesce(v_metered, interval '0');
end;
$$;
comment on function app_hidden.metered_time(int, tstzrange) is
  E'How much of the window falls in the rate''s metered hours (all of it for a rate metered around the clock).';

create or replace function app_hidden.quote_rate(rate_id int, time_window tstzrange) returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_rate app_public.rates;
  v_metered interval;
  v_increment numeric;
  v_amount int;
begin
  select * into v_rate from app_public.rates r where r.id = quote_rate.rate_id;
  if not found then
    return null;
  end if;
  v_metered := app_hidden.metered_time(v_rate.id, time_window);
  v_increment := extract(epoch from v_rate.billing_increment);
  v_amount := case
    when v_metered = interval '0' then 0
    else greatest(
      v_rate.minimum_charge,
      (select m.minimum_amount from app_hidden.payment_minimums m where m.currency = v_rate.currency),
      round(ceil(extract(epoch from v_metered) / v_increment) * v_increment * v_rate.hourly_price / 3600.0)::int)
  end;
  return (v_amount, v_rate.currency, v_metered)::app_public.price_quote;
end;
$$;
comment on function app_hidden.quote_rate(int, tstzrange) is
  E'The price of a window at a rate, in the rate''s minor units: nothing when none of it is metered, else never below the rate''s minimum charge or the payment provider''s minimum for the currency.';

create or replace function app_hidden.assert_window(starts_at timestamptz, ends_at timestamptz) returns tstzrange
  language plpgsql stable
as $$
begin
  if starts_at is null or ends_at is null then
    raise exception 'A window needs a start and an end' using errcode = 'SMS03';
  end if;
  if ends_at <= starts_at then
    raise exception 'The end of a window must be after its start' using errcode = 'SMS03';
  end if;
  if ends_at - starts_at > app_hidden.max_stay() then
    raise exception 'A window may last at most % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMS03';
  end if;
  if starts_at > now() + app_hidden.booking_horizon() then
    raise exception 'A window may start at most % days ahead', extract(day from app_hidden.booking_horizon())
      using errcode = 'SMS03';
  end if;
  return tstzrange(starts_at, ends_at, '[)');
end;
$$;
comment on function app_hidden.assert_window(timestamptz, timestamptz) is
  E'The window [starts_at, ends_at) when it is one the product can price and book (at most max_stay long, starting within booking_horizon), else error SMS03.';

create or replace function app_public.quote(spot_id bigint, starts_at timestamptz, ends_at timestamptz)
  returns app_public.price_quote
  language plpgsql stable
as $$
declare
  v_spot   app_public.spots;
  v_window tstzrange;
begin
  select s.* into v_spot from app_public.spots s where s.id = quote.spot_id;
  if not found then
    raise exception 'There is no spot %', quote.spot_id using errcode = 'SMS04';
  end if;
  v_window := app_hidden.assert_window(quote.starts_at, quote.ends_at);
  -- A window the spot would not accept has no price (the spot's maximum stay).
  perform app_hidden.assert_max_stay(v_spot, v_window);
  return app_hidden.quote_rate(v_spot.rate_id, v_window);
end;
$$;
comment on function app_public.quote(bigint, timestamptz, timestamptz) is
  E'What parking at a spot from startsAt to endsAt costs, in minor units of the spot''s currency (at least the rate''s minimum charge and the payment provider''s minimum, e.g. 50 for USD, when any of the window is metered). Refused (SMB04) beyond the spot''s maximum stay.';
--! EndIncluded quote.sql
--! Included reservations_booking.sql
-- Reserving a spot. Security definer because the row is written with a price
-- the caller must not choose and, for guests, a secret the caller must not
-- read back; API roles have no insert grant on reservations at all.

create or replace function app_private.assert_hold_allowed(email citext, user_id bigint, client_ip inet) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_per_address int := app_hidden.holds_per_address();
begin
  -- One script must not hold every spot in the city (a hold costs nothing for
  -- booking_hold_time) nor mail-bomb an address. Counted under a lock per email and
  -- per address, always in that order, so concurrent bookings cannot each
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('holds:email:' || lower(email::text), 0));
  perform pg_advisory_xact_lock(hashtextextended('holds:ip:' || host(client_ip), 0));
  -- Each count starts from the email's, the driver's or the address's own
  -- rows and stops at the limit. Written as single joins (`email = … or
  -- user_id = …`, origins joined to reservations) plpgsql's generic plans read
  -- every held reservation in the city instead, at every booking.
  -- (`offset 0` keeps the deadline out of the index choice: the email's and
  -- the driver's indexes are read, never the index of every hold by deadline.)
  if (select count(*) from (
        (select h.id from (select r.id, r.hold_expires_at from app_public.reservations r
                           where r.status = 'held' and r.email = assert_hold_allowed.email offset 0) h
         where h.hold_expires_at > now())
        union
        (select h.id from (select r.id, r.hold_expires_at from app_public.reservations r
                           where r.status = 'held' and r.user_id = assert_hold_allowed.user_id offset 0) h
         where h.hold_expires_at > now())) held) >= app_hidden.holds_per_driver()
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
  E'Error SMB12 when one more hold would give an email or a signed-in driver more than holds_per_driver (3) active holds (held, not yet expired), or a client address more than holds_per_address (the server''s HOLDS_PER_ADDRESS, 10 by default).';

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
  v_quote   app_public.price_quote;
  v_token   text;
  v_r       app_public.reservations;
  v_ip      inet := app_hidden.client_ip();
  -- The vehicle is optional; a malformed plate is refused (SME01) before anything is written.
  v_plate   text := case when reserve.plate is null then null else app_hidden.plate(reserve.plate) end;
  v_state   text := case when reserve.plate is null then null else app_hidden.plate_state(reserve.plate_state) end;
begin
  if v_user_id is not null then
    -- A signed-in driver's reservation goes to their account's address.
    select u.email into v_email from app_public.users u where u.id = v_user_id;
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
  v_quote := app_hidden.quote_rate(v_spot.rate_id, v_window);
  -- Bookings through the API carry the client's address (every mutation does:
  -- server/request_identity.ts) and are bounded; SQL run by the owner (tests,
  -- maintenance, the CLI) has no client and is not.
  if v_ip is not null then
    perform app_private.assert_hold_allowed(v_email, v_user_id, v_ip);
  end if;

  begin
    insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency, hold_expires_at,
                                         plate, plate_state)
    values (v_spot.id, v_user_id, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
            least(now() + app_hidden.booking_hold_time(), upper(v_window)), v_plate, v_state)
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
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you. Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes. plate and plateState (optional) name the vehicle parked on it, for enforcement (SME01 when malformed). At most 3 holds at once per email or account and 10 per client address (SMB12).';
--! EndIncluded reservations_booking.sql
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
                   where z.user_id = u.id and z.borough = current_user_may_manage.borough)
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
    raise exception 'There is no spot %', assert_manages_spot.spot_id using errcode = 'SMO03';
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
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id and u.role = 'operator') then
    raise exception 'User % is not an operator', set_operator_zones.user_id using errcode = 'SMO04';
  end if;
  delete from app_public.operator_zones z
  where z.user_id = set_operator_zones.user_id and z.borough <> all (coalesce(boroughs, '{}'));
  insert into app_public.operator_zones (user_id, borough)
  select set_operator_zones.user_id, btrim(b) from unnest(coalesce(boroughs, '{}')) b
  on conflict do nothing;
  return query select z.* from app_public.operator_zones z where z.user_id = set_operator_zones.user_id order by z.borough;
end;
$$;
comment on function app_public.set_operator_zones(bigint, text[]) is
  E'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMO04 when the user is not an operator.';

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
    raise exception 'There is no rate %', create_spot.rate_id using errcode = 'SMO06';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.spot_position(lat, lng), street, rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.create_spot(double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO05 bad maximum stay, SMS01 bad coordinates.';

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
    raise exception 'There is no rate %', update_spot.rate_id using errcode = 'SMO06';
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.spot_position(lat, lng) end,
    street = coalesce(update_spot.street, s.street),
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
  E'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation.';

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

create or replace function app_hidden.assert_rate_money(hourly_price int, minimum_charge int, currency text) returns void
  language plpgsql stable
as $$
begin
  if hourly_price is null or hourly_price < 0 or minimum_charge is null or minimum_charge < 0 then
    raise exception 'Prices are whole minor units, 0 or more' using errcode = 'SMO08';
  end if;
  if not exists (select from app_hidden.payment_minimums m where m.currency = assert_rate_money.currency) then
    raise exception 'Currency % cannot be charged', currency using errcode = 'SMO08';
  end if;
end;
$$;
comment on function app_hidden.assert_rate_money(int, int, text) is E'Error SMO08 unless prices are 0 or more and the currency is chargeable.';

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
  if not exists (select from pg_timezone_names t where t.name = create_rate.time_zone)
     or code is null or length(btrim(code)) not between 1 and 50 or name is null or length(btrim(name)) not between 1 and 100 then
    raise exception 'A rate needs a code, a name and a time zone' using errcode = 'SMO08';
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
    raise exception 'There is no rate %', assert_manages_rate.rate_id using errcode = 'SMO06';
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
  update app_public.rates r set
    name = coalesce(nullif(btrim(update_rate.name), ''), r.name),
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
  E'Operators whose zones hold every spot on the rate, and admins: changes its name or prices (null: unchanged). New quotes use it; reservations keep the price they were quoted.';

create or replace function app_public.set_rate_hours(rate_id int, hours jsonb) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  if hours is null or jsonb_typeof(hours) <> 'array' or exists (
    select from jsonb_array_elements(hours) h
    where jsonb_typeof(h -> 'isodow') is distinct from 'number' or (h ->> 'isodow')::numeric not in (1, 2, 3, 4, 5, 6, 7)
       or (h ->> 'opens') !~ '^\d{2}:\d{2}$' or (h ->> 'closes') !~ '^\d{2}:\d{2}$'
       or (h ->> 'opens') >= (h ->> 'closes')) then
    raise exception 'Hours are [{isodow: 1..7, opens: "HH:MM", closes: "HH:MM"}] with opens before closes' using errcode = 'SMO08';
  end if;
  delete from app_public.rate_hours h where h.rate_id = v_r.id;
  insert into app_public.rate_hours (rate_id, isodow, opens, closes)
  select v_r.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
  from jsonb_array_elements(hours) h;
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
alter table app_public.spots drop constraint if exists spots_max_stay_check;
alter table app_public.spots
  add constraint spots_max_stay_check check (max_stay > interval '0' and max_stay <= app_hidden.max_stay());

-- The end-of-day burst, set-based: a reservation's audit row, email and live
-- event are written per statement (transition tables) instead of per row, so
-- the due-work sweep's UPDATE of hundreds of ends pays for three inserts, not
-- for three plpgsql calls a row.
-- (reservations_triggers.sql is included above.)
--! Included live_events.sql
-- Live availability events. The map is cut into 0.05° tiles (about 5.5 km
-- north-south); an API process with live clients records the tiles it listens
-- to in app_private.live_watched_tiles (server/live/hub.ts). A reservation or
-- spot change in a watched tile writes one app_private.live_events row and one
-- NOTIFY on the channel 'live:<tile>'; in any other tile it costs one index
-- look-up and sends nothing, so booking in a city nobody watches pays no
-- NOTIFY (NOTIFYing commits serialise across the server). Events carry ids,
-- positions, a reason and the window: no user, email or reservation id.

create or replace function app_hidden.live_tile(lat double precision, lng double precision) returns text
  language sql immutable
as $$
  select floor(lat / 0.05)::int || ':' || floor(lng / 0.05)::int;
$$;
comment on function app_hidden.live_tile(double precision, double precision) is
  E'The live-event tile of a point: "<floor(lat / 0.05)>:<floor(lng / 0.05)>".';

create or replace function app_private.live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[])
  returns void
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_sent int;
begin
  -- Nobody watching anywhere (the usual case): one index look-up, nothing sent.
  if not exists (select from app_private.live_watched_tiles w where w.seen_at > now() - interval '90 seconds') then
    return;
  end if;
  with e as (
    select u.spot_id, u.reason, u.time_window, u.n, st_y(s.location::geometry) as lat, st_x(s.location::geometry) as lng
    from unnest(live_events_record.spot_ids, live_events_record.reasons, live_events_record.windows)
      with ordinality as u(spot_id, reason, time_window, n)
    join app_public.spots s on s.id = u.spot_id
  ), recorded as (
    insert into app_private.live_events (tile, spot_id, lat, lng, reason, starts_at, ends_at)
    select t.tile, e.spot_id, e.lat, e.lng, e.reason, lower(e.time_window), upper(e.time_window)
    from e cross join lateral (select app_hidden.live_tile(e.lat, e.lng) as tile) t
    -- Watched: a listener refreshed it within 90 s (listeners refresh every 30 s).
    where exists (select from app_private.live_watched_tiles w
                  where w.tile = t.tile and w.seen_at > now() - interval '90 seconds')
    order by e.n
    returning *
  )
  select count(pg_notify('live:' || r.tile, json_build_object(
    'id', r.id, 'spotId', r.spot_id::text, 'lat', r.lat, 'lng', r.lng, 'reason', r.reason,
    'startsAt', r.starts_at, 'endsAt', r.ends_at)::text))
  into v_sent
  from (select * from recorded order by id) r;
end;
$$;
comment on function app_private.live_events_record(bigint[], text[], tstzrange[]) is
  E'Records and NOTIFYs an availability event of each spot (spot_ids, reasons and windows aligned) whose tile is watched by a live API process; the others cost nothing but a look-up.';
drop function if exists app_private.live_event(bigint, text, tstzrange);

create or replace function app_private.reservations_live(changes app_private.reservation_change[]) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.live_events_record(array_agg(n.spot_id order by c.ordinality),
                                        array_agg(e.reason order by c.ordinality),
                                        array_agg(e.time_window order by c.ordinality))
  from unnest(reservations_live.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select app_hidden.holds_spot(n.status) as now_holds,
                             o.id is not null and app_hidden.holds_spot(o.status) as was_holds) h
  cross join lateral (select * from (values
      (h.now_holds and not h.was_holds, 'taken', n.period),
      (h.was_holds and not h.now_holds, 'freed', o.period),
      (h.now_holds and h.was_holds and n.period is distinct from o.period, 'changed', n.period)
    ) v(happened, reason, time_window) where v.happened) e;
$$;
comment on function app_private.reservations_live(app_private.reservation_change[]) is
  E'Live event of each reservation or block of one statement: taken (starts holding its spot), freed (cancelled, expired, ended, payment failed), changed (its window moved).';

create or replace function app_private.tg_spots__live() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.live_events_record(array[new.id],
    array[case new.status when 'active' then 'in_service' else 'out_of_service' end], array[null::tstzrange]);
  return null;
end;
$$;
comment on function app_private.tg_spots__live() is E'Live event of a spot put out of service or back in service.';

drop trigger if exists _800_live on app_public.spots;
create trigger _800_live after update of status on app_public.spots
  for each row when (new.status is distinct from old.status)
  execute function app_private.tg_spots__live();

create or replace function app_private.live_watch(listener uuid, tiles text[], retention interval) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  -- This listener's tiles are exactly `tiles`, seen now.
  delete from app_private.live_watched_tiles w
  where w.listener = live_watch.listener and w.tile <> all (live_watch.tiles);
  insert into app_private.live_watched_tiles (tile, listener)
  select distinct t, live_watch.listener from unnest(live_watch.tiles) t
  on conflict (tile, listener) do update set seen_at = now();
  -- Listeners that died without saying so, and events no client can resume from.
  delete from app_private.live_watched_tiles w where w.seen_at < now() - interval '10 minutes';
  delete from app_private.live_events e where e.at < now() - live_watch.retention;
end;
$$;
comment on function app_private.live_watch(uuid, text[], interval) is
  E'An API process''s live tiles (replacing its earlier list, refreshing their time), and housekeeping: stale listeners and events older than retention removed.';

create or replace function app_private.live_events_since(after_id bigint, tiles text[]) returns setof app_private.live_events
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select e.* from app_private.live_events e
  where e.id > live_events_since.after_id and e.tile = any (live_events_since.tiles)
  order by e.id
  limit 1000;
$$;
comment on function app_private.live_events_since(bigint, text[]) is
  E'Events of the given tiles after an event id, oldest first (at most 1,000): what an SSE client that resumes with Last-Event-ID missed.';
--! EndIncluded live_events.sql
--! Included payments_charge.sql
-- Payment keys (every Stripe idempotency key of a reservation) and the final
-- off-session charge's state, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

create or replace function app_private.payment_key(reservation_id bigint, what text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours).
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || payment_key.what
  from app_public.reservations r where r.id = payment_key.reservation_id;
$$;
comment on function app_private.payment_key(bigint, text) is
  E'The Stripe idempotency key of one request about a reservation (what: setup-1, charge-2, …).';

create or replace function app_private.charge_retry_delay(attempt int) returns interval
  language sql immutable
as $$
  -- After a decline or authentication_required: retry 1 day, then 3 days,
  -- then 7 days after each failed attempt; after the 4th attempt stop and
  -- leave it to the driver's pay link (or an operator).
  select case charge_retry_delay.attempt
    when 1 then interval '1 day'
    when 2 then interval '3 days'
    when 3 then interval '7 days'
  end;
$$;
comment on function app_private.charge_retry_delay(int) is
  E'How long after failed attempt N the charge is retried (1 d, 3 d, 7 d); null = no more automatic retries.';

create or replace function app_private.charge_failed(
  charge_id bigint, attempt int, failure_code text, failure_message text, payment_intent_id text,
  retryable boolean default true
) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  -- A request the provider refuses as such (amount below its minimum, a card
  -- or customer gone) fails the same way every time: no automatic retry, only
  -- the driver's new card (or an operator) can settle it.
  v_retry timestamptz := case when charge_failed.retryable
    then now() + app_private.charge_retry_delay(charge_failed.attempt) end;
begin
  update app_private.charges c
  set status = 'failed', failure_code = charge_failed.failure_code,
      failure_message = left(charge_failed.failure_message, 500),
      stripe_payment_intent_id = coalesce(charge_failed.payment_intent_id, c.stripe_payment_intent_id),
      next_retry_at = v_retry
  where c.id = charge_failed.charge_id and c.attempt = charge_failed.attempt and c.status = 'pending'
  returning * into v_c;
  if v_c.id is null then
    return null;
  end if;
  update app_public.reservations r set status = 'payment_failed'
  where r.id = v_c.reservation_id and r.status = 'completed';
  perform app_private.email_enqueue('payment_failed', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency,
                            'failureCode', v_c.failure_code, 'attempt', v_c.attempt, 'nextRetryAt', v_retry,
                            'providerRefused', not charge_failed.retryable),
    'payment_failed:' || r.id || ':' || v_c.attempt)
  from app_public.reservations r where r.id = v_c.reservation_id;
  if v_retry is not null then
    -- Priority 5: when it falls due in a burst, new charges go first.
    perform app_private.queue_reservation_jobs('reservation__charge', array[v_c.reservation_id],
      run_at => v_retry, priority => 5);
  end if;
  return v_retry;
end;
$$;
comment on function app_private.charge_failed(bigint, int, text, text, text, boolean) is
  E'Records a failed attempt: the reservation becomes payment_failed, the driver is emailed a link to pay, and for a decline (retryable) the next retry is scheduled (see charge_retry_delay); a request the provider refused as such (not retryable) is not retried.';

create or replace function app_private.charge_retry_now(reservation_id bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.charges c set next_retry_at = now()
  where c.reservation_id = charge_retry_now.reservation_id and c.status = 'failed'
    and exists (select from app_public.reservations r
                where r.id = charge_retry_now.reservation_id and r.status = 'payment_failed');
  if found then
    perform app_private.queue_reservation_jobs('reservation__charge', array[charge_retry_now.reservation_id]);
  end if;
  return found;
end;
$$;
comment on function app_private.charge_retry_now(bigint) is
  E'A failed charge whose reservation got a new card: its next attempt is due now and queued; false when there is no failed charge to retry.';

create or replace function app_private.charge_requeue(reservation_id bigint, run_at timestamptz, max_attempts int, priority int)
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The running job's key moves to this new job (graphile-worker gives a
  -- locked job's key to the new one), so the running one just ends.
  select app_private.queue_reservation_jobs('reservation__charge', array[charge_requeue.reservation_id],
    run_at => charge_requeue.run_at, priority => charge_requeue.priority,
    max_attempts => charge_requeue.max_attempts);
$$;
comment on function app_private.charge_requeue(bigint, timestamptz, int, int) is
  E'Runs a charge job again at run_at without counting the attempt that is ending (Stripe answered 429: nothing was charged); max_attempts is what the job had left, priority what it had.';

-- The end-of-day burst: charges in batches. The due-work sweep queues one
-- reservation__charge job per batch of ended reservations (payload: an array
-- of {reservationId}; graphile-worker's batch jobs retry only the entries that
-- failed); the task prepares the whole batch in one statement, sends each
-- charge to Stripe with its own idempotency key, and records the successes in
-- one statement. Per charge that is two shared statements instead of a job,
-- two transactions and a job completion of its own.

create or replace function app_private.queue_charge_batches(
  reservation_ids bigint[],
  run_at timestamptz default null,
  priority int default 0,
  max_attempts int default 10,
  batch_size int default 50
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if coalesce(cardinality(queue_charge_batches.reservation_ids), 0) = 0 then
    return;
  end if;
  -- One add_jobs call (one NOTIFY) for all the batches.
  perform graphile_worker.add_jobs(array(
    select ('reservation__charge', json_agg(json_build_object('reservationId', u.id) order by u.n), null,
            coalesce(queue_charge_batches.run_at, now()), queue_charge_batches.max_attempts, null,
            queue_charge_batches.priority, null)::graphile_worker.job_spec
    from unnest(queue_charge_batches.reservation_ids) with ordinality as u(id, n)
    group by (u.n - 1) / queue_charge_batches.batch_size));
end;
$$;
comment on function app_private.queue_charge_batches(bigint[], timestamptz, int, int, int) is
  E'Queues the charges of many reservations as reservation__charge batch jobs of batch_size each (payload: an array of {reservationId}), in one add_jobs call. Priority as queue_reservation_jobs (new charges 0).';

create or replace function app_private.charges_prepare(reservation_ids bigint[]) returns setof jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ids      bigint[] := charges_prepare.reservation_ids;
  v_free     bigint[];
  v_prepared jsonb[];
begin
  -- Each reservation, then its charge, locked in id order (every writer takes
  -- a reservation's lock before its charge's).
  perform from app_public.reservations r where r.id = any(v_ids) order by r.id for update;
  perform from app_private.charges c where c.reservation_id = any(v_ids) order by c.reservation_id for update;

  -- A failed attempt whose retry is due: a new attempt is a new request, with
  -- a new key (the old key would only replay the decline).
  update app_private.charges c
  set attempt = c.attempt + 1,
      idempotency_key = app_private.payment_key(c.reservation_id, 'charge-' || (c.attempt + 1)),
      key_first_sent_at = null,
      status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
  from app_public.reservations r
  where c.reservation_id = any(v_ids) and r.id = c.reservation_id
    and c.status = 'failed' and r.status = 'payment_failed' and c.next_retry_at <= now();

  -- The first attempt of a completed reservation. ('pending' already: an
  -- earlier run died or lost its answer; the same key again.)
  insert into app_private.charges (reservation_id, amount, currency, idempotency_key)
  select r.id, r.amount, r.currency, app_private.payment_key(r.id, 'charge-1')
  from app_public.reservations r
  where r.id = any(v_ids) and r.status = 'completed'
    and not exists (select from app_private.charges c where c.reservation_id = r.id)
  order by r.id;

  -- Nothing to charge (all of it free time): no Stripe call, still a receipt.
  with free as (
    update app_private.charges c set status = 'not_required', succeeded_at = now()
    where c.reservation_id = any(v_ids) and c.status = 'pending' and c.amount = 0
    returning c.reservation_id
  )
  select array_agg(f.reservation_id) into v_free from free f;
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select 'receipt', r.email, coalesce(app_hidden.reservation_email_data(r), '{}') || jsonb_build_object('amount', 0),
         'receipt:' || r.id
  from app_public.reservations r
  where r.id = any(v_free)
  order by r.id
  on conflict on constraint emails_dedupe_key_key do nothing;

  select array_agg(case
      when r.id is null then jsonb_build_object('action', 'skip', 'reason', 'no such reservation')
      when c.id is null then jsonb_build_object('action', 'skip', 'reason', 'reservation is ' || r.status)
      when r.id = any(v_free) then jsonb_build_object('action', 'skip', 'reason', 'nothing to charge')
      when c.status in ('succeeded', 'not_required', 'processing') then
        jsonb_build_object('action', 'skip', 'reason', 'charge ' || c.status)
      when c.status = 'failed' and (r.status <> 'payment_failed' or c.next_retry_at is null) then
        jsonb_build_object('action', 'skip', 'reason', 'no retry scheduled')
      when c.status = 'failed' then
        jsonb_build_object('action', 'skip', 'reason', 'retry not due until ' || c.next_retry_at)
      else jsonb_build_object(
        'action', case when card.payment_method is null or card.customer is null then 'no_card' else 'charge' end,
        'chargeId', c.id,
        'reservationId', r.id,
        'attempt', c.attempt,
        'amount', c.amount,
        'currency', lower(c.currency),
        'idempotencyKey', c.idempotency_key,
        'customer', card.customer,
        'paymentMethod', card.payment_method,
        -- Stripe forgets a key 24 hours after it first saw it: an hour's
        -- margin, and the worker looks the PaymentIntent up (and adopts it)
        -- instead of trusting the key.
        'lookUpFirst', coalesce(card.payment_method is not null and card.customer is not null
                                and now() - c.key_first_sent_at >= interval '23 hours', false))
    end order by u.n)
  into v_prepared
  from unnest(v_ids) with ordinality u(id, n)
  left join app_public.reservations r on r.id = u.id
  left join app_private.charges c on c.reservation_id = r.id
  left join lateral (
    select cu.stripe_customer_id as customer, si.payment_method
    from app_private.setup_intents si
    join app_private.stripe_customers cu on cu.id = si.customer_id
    where si.reservation_id = r.id and si.status = 'succeeded'
    limit 1
  ) card on true;

  -- The key's first use, kept across re-sends (what lookUpFirst reads next time).
  update app_private.charges c set key_first_sent_at = now()
  where c.reservation_id = any(v_ids) and c.status = 'pending' and c.key_first_sent_at is null
    and exists (select from app_private.setup_intents si
                join app_private.stripe_customers cu on cu.id = si.customer_id
                where si.reservation_id = c.reservation_id and si.status = 'succeeded'
                  and si.payment_method is not null and cu.stripe_customer_id is not null);

  return query select p.prepared from unnest(v_prepared) with ordinality p(prepared, n) order by p.n;
end;
$$;
comment on function app_private.charges_prepare(bigint[]) is
  E'For each reservation, in order: makes (or finds) the charge row of a completed reservation and commits its idempotency key (and when it was first sent) before Stripe is called; says whether to charge, with what, and whether the key is old enough that Stripe may have forgotten it (lookUpFirst). Set-based: one statement a step for the whole batch.';

create or replace function app_private.charge_prepare(reservation_id bigint) returns jsonb
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select p from app_private.charges_prepare(array[charge_prepare.reservation_id]) p;
$$;
comment on function app_private.charge_prepare(bigint) is
  E'charges_prepare of one reservation: its charge row and idempotency key committed before Stripe is called, and what to do.';

create or replace function app_private.charges_succeeded(outcomes jsonb) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_done app_private.charges[];
begin
  with o as (
    select (x->>'chargeId')::bigint as charge_id, (x->>'attempt')::int as attempt, x->>'paymentIntentId' as payment_intent_id
    from jsonb_array_elements(charges_succeeded.outcomes) x
  ), done as (
    update app_private.charges c
    set status = 'succeeded', stripe_payment_intent_id = o.payment_intent_id,
        succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
    from o
    where c.id = o.charge_id and c.attempt = o.attempt and c.status in ('pending', 'processing')
    returning c.*
  )
  select array_agg(d order by d.reservation_id) into v_done from done d;
  if v_done is null then
    return 0;
  end if;
  -- Paid after a failure: the reservation is complete again (before its receipt reads its status).
  update app_public.reservations r set status = 'completed'
  from unnest(v_done) d
  where r.id = d.reservation_id and r.status = 'payment_failed';
  -- The receipts, once per reservation (as email_enqueue: a dedupe key used before is no new email).
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select 'receipt', r.email,
         coalesce(app_hidden.reservation_email_data(r), '{}')
           || jsonb_build_object('amount', d.amount, 'currency', d.currency, 'paymentIntent', d.stripe_payment_intent_id),
         'receipt:' || r.id
  from unnest(v_done) d
  join app_public.reservations r on r.id = d.reservation_id
  order by d.reservation_id
  on conflict on constraint emails_dedupe_key_key do nothing;
  return cardinality(v_done);
end;
$$;
comment on function app_private.charges_succeeded(jsonb) is
  E'Records the successful charge attempts [{chargeId, attempt, paymentIntentId}] set-based and queues their receipt emails (once per reservation); returns how many were recorded (not already recorded).';

create or replace function app_private.charge_succeeded(charge_id bigint, attempt int, payment_intent_id text)
  returns boolean
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.charges_succeeded(jsonb_build_array(jsonb_build_object(
    'chargeId', charge_succeeded.charge_id, 'attempt', charge_succeeded.attempt,
    'paymentIntentId', charge_succeeded.payment_intent_id))) = 1;
$$;
comment on function app_private.charge_succeeded(bigint, int, text) is
  E'Records a successful charge attempt and queues the receipt email (once per reservation); false when it was already recorded (charges_succeeded of one).';
--! EndIncluded payments_charge.sql
--! Included rate_budgets.sql
-- One budget of calls a second shared by every worker process (token
-- buckets in a row each): Stripe limits the account, not a process, so N
-- workers each keeping under the limit on their own would together go over
-- it. A caller reserves a call before making it: granted at once when the
-- bucket has a token, granted with a wait when the bucket will have one
-- within max_wait (the bucket goes into debt, so callers queue in the order
-- they asked and the calls leave exactly per_second apart), refused with the
-- time to come back otherwise (the job is rescheduled, nothing is spent).

create table if not exists app_private.rate_budgets (
  name       text primary key,
  per_second float8 not null check (per_second > 0),
  burst      float8 not null check (burst >= 1),
  -- May be negative: calls granted with a wait that have not left yet.
  tokens     float8 not null,
  updated_at timestamptz not null
);
comment on table app_private.rate_budgets is
  E'Token buckets of outside calls shared by every worker process (e.g. stripe): tokens left at updated_at, refilled per_second up to burst.';

drop function if exists app_private.rate_budget_take(text, float8, float8, interval, timestamptz);

create or replace function app_private.rate_budget_take(
  name text, per_second float8, burst float8, max_wait interval,
  calls int default 1,
  at timestamptz default clock_timestamp(),
  out waits float8[], out retry_after float8
)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_b app_private.rate_budgets;
  v_tokens float8;
  v_max float8 := extract(epoch from rate_budget_take.max_wait);
  v_wait float8;
  v_behind float8;
begin
  -- The configuration comes with each call (every process reads the same
  -- settings), so a changed limit takes effect at the next call.
  insert into app_private.rate_budgets as b (name, per_second, burst, tokens, updated_at)
  values (rate_budget_take.name, rate_budget_take.per_second, rate_budget_take.burst, rate_budget_take.burst, rate_budget_take.at)
  on conflict on constraint rate_budgets_pkey do update
    set per_second = excluded.per_second, burst = excluded.burst
  returning * into v_b;
  -- Refilled since the last call (never above burst; a clock read earlier by
  -- another session does not take tokens back).
  v_tokens := least(v_b.burst,
    v_b.tokens + greatest(0, extract(epoch from rate_budget_take.at - v_b.updated_at)) * v_b.per_second);
  -- Call k (from 0) may leave when the bucket has had k + 1 tokens: the calls
  -- granted leave per_second apart once the burst is spent. The bucket's
  -- clock is the later of `at` and its last update (a caller whose clock was
  -- read before it waited for the row lock), and waits count from the
  -- caller's `at`: a caller leaves at at + wait on its own clock, so how long
  -- this statement took does not move its calls onto another caller's turns.
  v_behind := greatest(0, extract(epoch from v_b.updated_at - rate_budget_take.at));
  waits := '{}';
  for k in 0 .. rate_budget_take.calls - 1 loop
    v_wait := greatest(0, v_behind + (k + 1 - v_tokens) / v_b.per_second);
    if v_wait > v_max then
      retry_after := v_wait;
      exit;
    end if;
    waits := waits || v_wait;
  end loop;
  update app_private.rate_budgets b
  set tokens = v_tokens - cardinality(waits),
      updated_at = greatest(b.updated_at, rate_budget_take.at)
  where b.name = rate_budget_take.name;
end;
$$;
comment on function app_private.rate_budget_take(text, float8, float8, interval, int, timestamptz) is
  E'Reserves up to `calls` calls from the named budget (per_second, up to burst at once): waits holds, for each call granted, the seconds before it may leave (0 while tokens last, then per_second apart); calls whose turn is further off than max_wait are not granted (nothing taken) and retry_after says when the first of them would be. Both count from `at`, the caller''s clock when it asked (a call leaves at at + wait). One row lock per reservation, shared by every worker process.';
--! EndIncluded rate_budgets.sql

-- Booking's cost against its guarantee (issue 16, item 4): the hold limits read
-- only the email's, driver's and address's own rows; current_user_id and the
-- reservation email data keep their plans (plpgsql); reserve reads the client
-- address once; a live event looks nothing up while no tile is watched
-- (reservations_booking, reservations_triggers and live_events are included above).
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
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_session uuid := app_public.current_session_id();
begin
  -- plpgsql rather than sql: a security definer sql function is never inlined
  -- and planned its query again at every call (every booking calls this twice,
  -- RLS once a statement); plpgsql keeps the plan. Signed out: no query at all.
  if v_session is null then
    return null;
  end if;
  -- The server only sets live sessions, but a request can outlive its
  -- session's revocation or expiry: checked again here.
  return (
    select s.user_id
    from app_private.sessions s
    where s.id = v_session
      and s.revoked_at is null
      and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
      and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age());
end;
$$;
comment on function app_public.current_user_id() is
  E'@behavior -queryField\nThe signed-in user''s id, or null.';

create or replace function app_public.current_user() returns app_public.users
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Security definer so that a visitor, who may not read users at all, gets
  -- null (signed out) rather than a permission error; the row is only ever
  -- the caller's own.
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

-- Lock order reservation, then set-up (setup_intent_apply as confirmReservationPayment), so a
-- webhook and a confirmation of the same booking cannot deadlock; a reservation job queued again
-- while it runs replaces its locked row (reservations_triggers.sql, included above).
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

create or replace function app_private.setup_intent_json(si app_private.setup_intents, reservation app_public.reservations)
  returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select jsonb_build_object(
    'reservationId', reservation.id,
    'reservationStatus', reservation.status,
    'email', reservation.email,
    'userId', reservation.user_id,
    'customerRowId', c.id,
    'customerKey', c.idempotency_key,
    'stripeCustomerId', c.stripe_customer_id,
    'generation', si.generation,
    'setupKey', si.idempotency_key,
    'setupIntentId', si.stripe_setup_intent_id,
    'clientSecret', si.client_secret,
    'setupStatus', si.status)
  from app_private.stripe_customers c
  where c.id = si.customer_id;
$$;

create or replace function app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_customer_id bigint;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_prepare.reservation_id, payment_setup_prepare.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id for update;

  if v_r.status not in ('held', 'payment_failed') then
    -- Asking again once the card is set up returns the same answer.
    if v_si.status = 'succeeded' then
      return app_private.setup_intent_json(v_si, v_r);
    end if;
    raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
      v_r.id, v_r.status using errcode = 'SMP02';
  end if;

  if v_r.user_id is not null then
    insert into app_private.stripe_customers (user_id, idempotency_key)
    values (v_r.user_id, 'smp-cus-' || gen_random_uuid())
    on conflict (user_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.user_id = v_r.user_id;
  else
    insert into app_private.stripe_customers (guest_email, idempotency_key)
    values (v_r.email, 'smp-cus-' || gen_random_uuid())
    on conflict (guest_email) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.guest_email = v_r.email;
  end if;

  if v_si.reservation_id is null then
    insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key)
    values (v_r.id, v_customer_id, app_private.payment_key(v_r.id, 'setup-1'))
    returning * into v_si;
  elsif v_r.status = 'payment_failed' and v_si.status = 'succeeded' then
    -- The card on file was declined: set up a new one under a new key.
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1)),
        customer_id = v_customer_id,
        stripe_setup_intent_id = null, client_secret = null, status = 'new',
        payment_method = null, succeeded_at = null
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_prepare(bigint, text) is
  E'Authorises the caller, makes (or finds) the Stripe customer and set-up rows of a held or payment-failed reservation with their idempotency keys, and returns what the Stripe calls need.';

create or replace function app_hidden.payment_customer_record(
  reservation_id bigint, manage_token text, stripe_customer_id text
) returns text
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_id text;
begin
  v_r := app_private.reservation_for_caller(payment_customer_record.reservation_id, payment_customer_record.manage_token, true);
  -- A concurrent request made the same call with the same key and got the same
  -- customer; the first one recorded wins either way.
  update app_private.stripe_customers c
  set stripe_customer_id = coalesce(c.stripe_customer_id, payment_customer_record.stripe_customer_id)
  from app_private.setup_intents si
  where si.reservation_id = v_r.id and c.id = si.customer_id
  returning c.stripe_customer_id into v_id;
  return v_id;
end;
$$;
comment on function app_hidden.payment_customer_record(bigint, text, text) is
  E'Records the Stripe customer id of the reservation''s customer (first write wins); returns the recorded id.';

create or replace function app_private.setup_intent_apply(reservation_id bigint, intent jsonb) returns app_private.setup_intents
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_si app_private.setup_intents;
  v_status text := intent->>'status';
begin
  -- The reservation's row first, then its set-up: the order confirmReservationPayment
  -- takes (reservation_for_caller locks the reservation before coming here). The
  -- webhook, taking the set-up first and the reservation second, deadlocked with
  -- it when both arrived at once on two API processes (40P01, test/scale_processes).
  perform from app_public.reservations r where r.id = setup_intent_apply.reservation_id for update;
  update app_private.setup_intents si
  set stripe_setup_intent_id = coalesce(si.stripe_setup_intent_id, intent->>'id'),
      client_secret = coalesce(si.client_secret, intent->>'client_secret'),
      -- Never back from succeeded: a stale read must not undo a set-up.
      status = case when si.status = 'succeeded' then si.status else v_status end,
      payment_method = case when si.status = 'succeeded' then si.payment_method
                            else coalesce(intent->>'payment_method', si.payment_method) end,
      succeeded_at = case when si.status <> 'succeeded' and v_status = 'succeeded' then now() else si.succeeded_at end
  where si.reservation_id = setup_intent_apply.reservation_id
    and (si.stripe_setup_intent_id is null or si.stripe_setup_intent_id = intent->>'id')
  returning * into v_si;

  if v_si.status = 'succeeded' then
    -- Booking owns the held → confirmed transition (and its email). Only a held
    -- reservation is handed over, so a replayed webhook, a second confirm, or a
    -- set-up finishing after the hold expired changes nothing.
    if exists (select from app_public.reservations r
               where r.id = setup_intent_apply.reservation_id and r.status = 'held') then
      perform app_private.confirm_held_reservation(setup_intent_apply.reservation_id);
    end if;
    -- A new card after a failed charge: charge it now rather than at the next
    -- scheduled retry.
    perform app_private.charge_retry_now(setup_intent_apply.reservation_id);
  end if;
  return v_si;
end;
$$;
comment on function app_private.setup_intent_apply(bigint, jsonb) is
  E'Records what Stripe says of a reservation''s SetupIntent; on success confirms the reservation (or retries a failed charge with the new card). Idempotent.';

create or replace function app_hidden.payment_setup_record(
  reservation_id bigint, manage_token text, intent jsonb
) returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_record.reservation_id, payment_setup_record.manage_token, true);
  v_si := app_private.setup_intent_apply(v_r.id, payment_setup_record.intent);
  select r.* into v_r from app_public.reservations r where r.id = v_r.id;
  if v_si.reservation_id is null then
    select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_record(bigint, text, jsonb) is
  E'Authorises the caller and records the reservation''s SetupIntent as Stripe returned it (confirming the reservation once it succeeded).';

create or replace function app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_lookup.reservation_id, payment_setup_lookup.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  if v_si.stripe_setup_intent_id is null then
    raise exception 'Reservation % has no card set-up to confirm: call setupReservationPayment first', v_r.id
      using errcode = 'SMP03';
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_lookup(bigint, text) is
  E'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started).';

create or replace function app_hidden.payment_customer_forget(
  reservation_id bigint, manage_token text, stripe_customer_id text
) returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r  app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_customer_forget.reservation_id, payment_customer_forget.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id for update;
  -- Only the id Stripe just called unknown, and only once: a concurrent request
  -- may already have made its replacement.
  update app_private.stripe_customers c
  set stripe_customer_id = null, idempotency_key = 'smp-cus-' || gen_random_uuid()
  where c.id = v_si.customer_id and c.stripe_customer_id = payment_customer_forget.stripe_customer_id;
  -- Stripe keeps the refused set-up call under its idempotency key: the next
  -- set-up needs a key of its own.
  if v_si.stripe_setup_intent_id is null then
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1))
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_customer_forget(bigint, text, text) is
  E'Forgets a Stripe customer id that Stripe no longer knows (deleted there, or a development emulator restarted), with fresh idempotency keys for the customer and the set-up, so the next card set-up makes a new customer.';
--! EndIncluded payments_setup.sql
