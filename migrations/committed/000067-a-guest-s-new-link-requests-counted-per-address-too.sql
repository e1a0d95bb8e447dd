--! Previous: sha1:a0dceccdd7cd0f10697e86c69d695221ccd19877
--! Hash: sha1:8b9c97b74be0df24797dd1d6066a0ded6dbfd782
--! Message: A guest's new-link requests counted per address too

-- A guest's "send me a new link" is counted per reservation, email and client
-- address (a stranger who knew the reservation and the email used up the
-- guest's three), with a ceiling per reservation and email that the address it
-- was booked from does not meet.

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

-- (A parameter was added: create or replace cannot add one.)
drop function if exists app_private.user_token_issue(bigint, text, citext, interval);
create or replace function app_private.user_token_issue(user_id bigint, kind text, email citext, valid_for interval,
                                             replaces_older boolean default true)
  returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token();
begin
  -- A new link replaces older unused ones of the same kind, unless anyone may
  -- ask for one (a password reset): then a stranger's request would void the
  -- link the owner is about to follow.
  if user_token_issue.replaces_older then
    perform app_private.user_tokens_void(user_token_issue.user_id, user_token_issue.kind);
  end if;
  insert into app_private.user_tokens (user_id, kind, token_hash, email, created_at, expires_at)
  values (user_token_issue.user_id, user_token_issue.kind, app_private.token_hash(v_token), user_token_issue.email,
          app_hidden.clock_now(), app_hidden.clock_now() + valid_for);
  return v_token;
end;
$$;
comment on function app_private.user_token_issue(bigint, text, citext, interval, boolean) is
  E'Issues a one-time token of a kind for a user (older unused ones of that kind stop working, unless replaces_older is false); returns the token.';

create or replace function app_private.user_tokens_void(user_id bigint, kind text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = user_tokens_void.user_id and t.kind = user_tokens_void.kind and t.used_at is null;
end;
$$;
comment on function app_private.user_tokens_void(bigint, text) is
  E'Makes every unused token of a kind of a user stop working.';

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
    -- Password resets as sign-in: per (email, address) first, so a stranger
    -- asking for someone's resets uses up only their own; the per-email
    -- ceiling bounds the mail an address can be sent from many addresses.
    ('reset_pair',      3, interval '1 hour', false),
    ('reset_email',    10, interval '1 hour', false),
    ('reset_ip',       20, interval '1 hour', false),
    ('register_ip',    20, interval '1 hour', false),
    ('verify_resend',   3, interval '1 hour', false),
    ('manage_link_reservation', 3, interval '1 hour', false),
    ('manage_link_total', 10, interval '1 hour', false),
    ('manage_link_ip', 20, interval '1 hour', false),
    -- changePassword checks the current password: a stolen session must not
    -- guess it faster than sign-in could (counted per user, every attempt).
    ('password_check', 10, interval '15 minutes', false)
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
  -- Counted per reservation, email *and client address*: counted per
  -- reservation alone, anyone who knew an id could use up its quota with wrong
  -- emails; per reservation and email, anyone who knew both could use up the
  -- guest's. A wrong pair is limited exactly as the right one, so the limit
  -- never tells which email is the right one.
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('manage_link_reservation',
                               send_manage_link.reservation_id || ' ' || lower(v_email::text) || ' ' || host(app_hidden.client_ip())),
    app_private.rate_limit_hit('manage_link_ip', host(app_hidden.client_ip()))));
  select r.* into v_r from app_public.reservations r
  where r.id = send_manage_link.reservation_id and r.kind = 'reservation' and r.user_id is null
    and r.email::citext = v_email
  for update;
  -- A ceiling on the mail one address gets from many client addresses, as
  -- for password resets, which the address the guest booked from does not meet.
  if not exists (select from app_private.reservation_origins o
                 where o.reservation_id = v_r.id and o.client_ip = app_hidden.client_ip()) then
    perform app_private.rate_limit_raise(app_private.rate_limit_hit('manage_link_total',
      send_manage_link.reservation_id || ' ' || lower(v_email::text)));
  end if;
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
  E'Guests who lost their manage token: emails a link with a new token to the reservation''s address when reservationId and email match a guest reservation (the old token stops working), and answers true either way. At most 3 an hour per reservation, email and client address (a stranger''s requests never use up the guest''s), 10 per reservation and email from addresses other than the one it was booked from, and 20 per client address (SMA02).';
--! EndIncluded reservations_guest_link.sql
