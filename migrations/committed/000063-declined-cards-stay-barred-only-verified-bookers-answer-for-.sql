--! Previous: sha1:814adf6402c2b4bcb73f7a56e505e6cdf2ce1c43
--! Hash: sha1:3cf2d188fb5a627b0b3db0905b261696e26832a9
--! Message: Declined cards stay barred, only verified bookers answer for bookings, plate state, reset limits per address, one-minute floor

-- Mends from an attacker's review (stop 32):
-- * A card whose charge was declined stayed barred (SMP10) only while the
--   reservation's set-up said so: asking for a new set-up reset it and freed
--   the card without paying. Declines are now recorded for good
--   (app_private.declined_cards) and read by card_unpaid.
-- * Anyone may book as a guest with someone's email, and those bookings are
--   claimed into the account at its owner's sign-in; anyone may also sign up
--   with an email before its owner. Such bookings barred the owner (SMB13) and
--   used the owner's holds. A reservation now records the account that booked
--   it with its email verified (verified_booker_id), and only those count.
-- * Plate state, a password reset's limits and older links, sub-minute
--   windows given by endsAt: see the fixtures.

create table if not exists app_private.declined_cards (
  reservation_id bigint not null references app_public.reservations on delete cascade,
  card_fingerprint text not null,
  created_at timestamptz not null default now(),
  primary key (card_fingerprint, reservation_id)
);
comment on table app_private.declined_cards is
  E'Each card (Stripe''s card fingerprint) whose charge was declined for a reservation: until that reservation is paid, the card confirms no other (card_unpaid, SMP10).';
create index if not exists declined_cards_reservation_idx on app_private.declined_cards (reservation_id);
-- The declines already known: cards on file of reservations still unpaid.
insert into app_private.declined_cards (reservation_id, card_fingerprint)
select si.reservation_id, si.card_fingerprint
from app_private.setup_intents si
join app_public.reservations r on r.id = si.reservation_id
where r.status = 'payment_failed' and si.card_fingerprint is not null
on conflict do nothing;

-- No foreign key: it is bookkeeping, not a relation the API should offer.
alter table app_public.reservations add column if not exists verified_booker_id bigint;
comment on column app_public.reservations.verified_booker_id is
  E'@behavior -*\nThe account that booked it, when that account''s email was verified then (null: booked as a guest, or by an unverified account). Only such a reservation bars its account while unpaid (SMB13) and counts among its holds; a guest reservation claimed later never does.';
-- Reservations booked before this column: as booked by their account.
update app_public.reservations r set verified_booker_id = r.user_id
where r.verified_booker_id is null and r.user_id is not null;
drop index if exists app_public.reservations_held_user_idx;
drop index if exists app_public.reservations_payment_failed_user_idx;
create index if not exists reservations_held_booker_idx on app_public.reservations (verified_booker_id)
  where status = 'held';
create index if not exists reservations_payment_failed_booker_idx on app_public.reservations (verified_booker_id)
  where status = 'payment_failed';

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
  -- Counted only once the pair is allowed: one address hammering an email
  -- must not use up the email's ceiling for everyone.
  perform app_private.rate_limit_raise(app_private.rate_limit_hit('reset_email', lower(v_email::text)));
  select u.* into v_user from app_public.users u where u.email = v_email;
  -- The answer is the same whether or not the account exists.
  if v_user.id is not null then
    -- Earlier links keep working (until used or expired): anyone may ask.
    v_token := app_private.user_token_issue(v_user.id, 'password_reset', v_user.email,
      app_hidden.user_token_valid_for('password_reset'), replaces_older => false);
    perform app_private.email_enqueue('password_reset', v_user.email,
      jsonb_build_object('name', v_user.name, 'token', v_token,
                         'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('password_reset')));
  end if;
  return true;
end;
$$;
comment on function app_public.forgot_password(text) is
  E'Emails a one-time password reset link (valid 1 hour; earlier links stay valid until one is used) when an account has this email; answers the same either way. Limited to 3 an hour per email and client address, 10 per email and 20 per client address (SMA02).';

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

create or replace function app_hidden.guest_bookings_per_email_hour() returns int
  language sql immutable as $$ select 10 $$;
comment on function app_hidden.guest_bookings_per_email_hour() is
  E'How many guest reservations one email may be given in an hour, whatever became of them, before SMB12: each one mails that address, and cancelling frees its hold at once.';

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
  -- The same floor as durationMinutes' (an end a microsecond after the start was taken).
  if v_end - v_start < interval '1 minute' then
    raise exception 'A reservation lasts at least one minute' using errcode = 'SMB03';
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

create or replace function app_hidden.max_stay_rest() returns interval
  language sql immutable as $$ select interval '1 hour' $$;
comment on function app_hidden.max_stay_rest() is
  E'How long a driver must be away from a spot before a new stay there counts on its own against the maximum stay (as street signs say "no return within 1 hour").';

create or replace function app_hidden.assert_max_stay_joined(
  spot app_public.spots, time_window tstzrange, user_id bigint, email citext, except_id bigint default null
) returns void
  language plpgsql stable
as $$
declare
  v_span tstzrange := time_window;
  v_next tstzrange;
begin
  -- The driver's (or the guest email's) own stays on this spot less than
  -- max_stay_rest apart join this one: booked back to back, two stays within
  -- the limit are one stay beyond it. Read through the spot's exclusion index
  -- (spot and period); callers hold the spot's lock, so none is added meanwhile.
  loop
    select tstzrange(least(lower(v_span), min(lower(r.period))), greatest(upper(v_span), max(upper(r.period))), '[)')
    into v_next
    from app_public.reservations r
    where r.spot_id = spot.id and r.kind = 'reservation' and app_hidden.holds_spot(r.status)
      and r.id is distinct from except_id
      and r.period && tstzrange(lower(v_span) - app_hidden.max_stay_rest(), upper(v_span) + app_hidden.max_stay_rest(), '[)')
      and case when assert_max_stay_joined.user_id is not null then r.user_id = assert_max_stay_joined.user_id
               else r.user_id is null and r.email = assert_max_stay_joined.email end;
    exit when v_next is null or v_next = v_span;
    v_span := v_next;
  end loop;
  if upper(v_span) - lower(v_span) > spot.max_stay then
    raise exception 'This spot can be reserved for at most % in a row: your stays there less than % apart count as one',
      app_hidden.human_duration(spot.max_stay), app_hidden.human_duration(app_hidden.max_stay_rest())
      using errcode = 'SMB04';
  end if;
end;
$$;
comment on function app_hidden.assert_max_stay_joined(app_public.spots, tstzrange, bigint, citext, bigint) is
  E'Error SMB04 when the window, joined with the same driver''s (or guest email''s) holding reservations on the spot less than max_stay_rest apart (other than except_id), is longer than the spot''s maximum stay.';

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
  language sql stable
as $$
  -- Stable, as to_char is: declared immutable, PostgreSQL would not inline it
  -- and every email's data would pay three function calls.
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;
comment on function app_hidden.iso_time(timestamptz) is E'ISO 8601 in UTC, whatever the session time zone.';
--! EndIncluded reservations_rules.sql
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
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

create or replace function app_private.card_unpaid(card_fingerprint text) returns boolean
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A card that set up fine but whose charge then failed would otherwise park
  -- again and again without paying: it confirms nothing new until that debt is
  -- paid (with another card, on the reservation that failed).
  -- Read from the declines recorded, not from the reservation's set-up: asking
  -- for a new set-up resets that, and cleared the debt without paying it.
  select card_unpaid.card_fingerprint is not null and exists (
    select from app_private.declined_cards d
    join app_public.reservations r on r.id = d.reservation_id
    where d.card_fingerprint = card_unpaid.card_fingerprint and r.status = 'payment_failed');
$$;
comment on function app_private.card_unpaid(text) is
  E'Whether a charge on this card (its fingerprint) was declined for a reservation still unpaid (app_private.declined_cards): then it confirms no other reservation (SMP10).';

create or replace function app_hidden.takes_card(status app_public.reservation_status) returns boolean
  language sql immutable
as $$
  select status in ('held', 'payment_failed');
$$;
comment on function app_hidden.takes_card(app_public.reservation_status) is
  E'Whether a reservation in this status takes a card: held (to confirm it) or payment_failed (to pay it).';

create or replace function app_private.refuse_no_card(r app_public.reservations) returns void
  language plpgsql
as $$
begin
  raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
    r.id, r.status using errcode = 'SMP02';
end;
$$;
comment on function app_private.refuse_no_card(app_public.reservations) is
  E'Raises SMP02 for a reservation that takes no card (app_hidden.takes_card).';

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
    'setupStatus', si.status,
    'takesCard', app_hidden.takes_card(reservation.status),
    -- Why a card set up at Stripe left the reservation held: its unpaid debt (SMP10), else its limit (SMP09).
    -- (Looked up only then.)
    'cardUnpaid', case when si.status = 'succeeded' and reservation.status = 'held'
                       then app_private.card_unpaid(si.card_fingerprint) else false end)
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

  if not app_hidden.takes_card(v_r.status) then
    -- Asking again once the card is set up returns the same answer.
    if v_si.status = 'succeeded' then
      return app_private.setup_intent_json(v_si, v_r);
    end if;
    perform app_private.refuse_no_card(v_r);
  end if;

  if v_r.user_id is not null then
    insert into app_private.stripe_customers (user_id, idempotency_key)
    values (v_r.user_id, 'smp-cus-' || gen_random_uuid())
    on conflict (user_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.user_id = v_r.user_id;
  else
    -- A guest's customer belongs to this one reservation. Shared by email, it
    -- would put every card ever saved under that email within reach of anyone
    -- who books with it (a card of the customer can confirm the customer's set-ups).
    insert into app_private.stripe_customers (guest_email, guest_reservation_id, idempotency_key)
    values (v_r.email, v_r.id, 'smp-cus-' || gen_random_uuid())
    on conflict (guest_reservation_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.guest_reservation_id = v_r.id;
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

create or replace function app_hidden.card_upcoming_max() returns int
  language sql stable as $$
  -- The API sends the server's CARD_UPCOMING_MAX (server/config.ts, whose
  -- default is this one); other callers get the default.
  select coalesce(nullif(current_setting('app.card_upcoming_max', true), '')::int, 10)
$$;
comment on function app_hidden.card_upcoming_max() is
  E'How many confirmed reservations still to come one card (its fingerprint) may back before another is refused (SMP09): app.card_upcoming_max (the server''s CARD_UPCOMING_MAX), else 10.';

create or replace function app_private.card_at_limit(card_fingerprint text, reservation_id bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if card_at_limit.card_fingerprint is null then
    return false;
  end if;
  -- Hold limits count holds; a confirmed reservation costs nothing until its
  -- end and can be cancelled free before its start, so without this one card
  -- (behind any number of emails) could hold every spot of a street for days.
  -- Counted under a lock per card, so two confirmations at once cannot both
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('card:' || card_at_limit.card_fingerprint, 0));
  return (select count(*) from (
    select from app_private.setup_intents si
    join app_public.reservations r on r.id = si.reservation_id
    where si.card_fingerprint = card_at_limit.card_fingerprint and si.status = 'succeeded'
      and r.id <> card_at_limit.reservation_id and r.status = 'confirmed' and upper(r.period) > now()
    limit app_hidden.card_upcoming_max()) backed) >= app_hidden.card_upcoming_max();
end;
$$;
comment on function app_private.card_at_limit(text, bigint) is
  E'Whether the card already backs card_upcoming_max confirmed reservations still to come (other than this one): then this one is not confirmed.';

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
      card_fingerprint = case when si.status = 'succeeded' then si.card_fingerprint
                              else coalesce(intent->>'card_fingerprint', si.card_fingerprint) end,
      succeeded_at = case when si.status <> 'succeeded' and v_status = 'succeeded' then now() else si.succeeded_at end
  where si.reservation_id = setup_intent_apply.reservation_id
    and (si.stripe_setup_intent_id is null or si.stripe_setup_intent_id = intent->>'id')
  returning * into v_si;

  if v_si.status = 'succeeded' then
    -- Booking owns the held → confirmed transition (and its email). Only a held
    -- reservation is handed over, so a replayed webhook, a second confirm, or a
    -- set-up finishing after the hold expired changes nothing.
    -- A card with an unpaid failed charge, or already backing card_upcoming_max
    -- reservations to come, leaves this one held (the API answers SMP10 or
    -- SMP09; the hold then expires as any other).
    if exists (select from app_public.reservations r
               where r.id = setup_intent_apply.reservation_id and r.status = 'held')
       and not app_private.card_unpaid(v_si.card_fingerprint)
       and not app_private.card_at_limit(v_si.card_fingerprint, setup_intent_apply.reservation_id) then
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
  E'Records what Stripe says of a reservation''s SetupIntent (with card_fingerprint, the card''s, when known); on success confirms the reservation unless the card has an unpaid failed charge (card_unpaid) or is at its limit (card_at_limit), or retries a failed charge with the new card. Idempotent.';

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
    -- setupReservationPayment would refuse it: say so rather than send the driver there.
    if not app_hidden.takes_card(v_r.status) then
      perform app_private.refuse_no_card(v_r);
    end if;
    raise exception 'Reservation % has no card set-up to confirm: call setupReservationPayment first', v_r.id
      using errcode = 'SMP03';
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_lookup(bigint, text) is
  E'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started, SMP02 when none was and the reservation takes no card).';

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
--! Included payments_charge.sql
-- Payment keys (every Stripe idempotency key of a reservation) and the final
-- off-session charge's state, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

create or replace function app_private.payment_key_of(r app_public.reservations, what text) returns text
  language sql stable
as $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours). An expression in sql with no
  -- SET clause, so a statement that keys a batch of charges inlines it.
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || what;
$$;
comment on function app_private.payment_key_of(app_public.reservations, text) is
  E'The Stripe idempotency key of one request about the reservation r (what: setup-1, charge-2, …).';

create or replace function app_private.payment_key(reservation_id bigint, what text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.payment_key_of(r, payment_key.what)
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
  -- The card stays barred from confirming others until this one is paid
  -- (card_unpaid), whatever set-up is asked for afterwards.
  insert into app_private.declined_cards (reservation_id, card_fingerprint)
  select si.reservation_id, si.card_fingerprint from app_private.setup_intents si
  where si.reservation_id = v_c.reservation_id and si.status = 'succeeded' and si.card_fingerprint is not null
  on conflict do nothing;
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
  E'Records a failed attempt: the reservation becomes payment_failed, its card is recorded as declined (app_private.declined_cards), the driver is emailed a link to pay, and for a decline (retryable) the next retry is scheduled (see charge_retry_delay); a request the provider refused as such (not retryable) is not retried.';

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

-- (Its columns changed: create or replace cannot change a function's result type.)
drop function if exists app_private.reservation_card_of(bigint);
create function app_private.reservation_card_of(reservation_id bigint)
  returns table (customer text, payment_method text, chargeable boolean)
  language sql stable
as $$
  -- sql with no SET clause: inlined where it is joined (lateral).
  select cu.stripe_customer_id, si.payment_method,
         cu.stripe_customer_id is not null and si.payment_method is not null
  from app_private.setup_intents si
  join app_private.stripe_customers cu on cu.id = si.customer_id
  where si.reservation_id = reservation_card_of.reservation_id and si.status = 'succeeded'
  limit 1;
$$;
comment on function app_private.reservation_card_of(bigint) is
  E'The Stripe customer and card a reservation''s set-up left to charge off-session, and whether both are there to charge (no row: none set up).';

create or replace function app_private.charges_prepare(reservation_ids bigint[]) returns setof jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  -- Every statement below reads the batch's rows by key. plpgsql keeps a
  -- statement's generic plan for the connection's life, and one planned while
  -- charges was nearly empty (a new database, a burst's first batches) scans
  -- the whole table at every call: at 10,000 charges that took 107 µs a charge
  -- against 56 µs with index scans only.
  set enable_seqscan to off
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
  -- (key_first_sent_at: the key's first use, kept across re-sends, what
  -- lookUpFirst reads next time; set now for a key about to be sent, that is
  -- when there is a card to charge.)
  update app_private.charges c
  set attempt = c.attempt + 1,
      idempotency_key = app_private.payment_key_of(r, 'charge-' || (c.attempt + 1)),
      key_first_sent_at = case when card.chargeable then now() end,
      status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
  from app_public.reservations r
  left join lateral app_private.reservation_card_of(r.id) card on true
  where c.reservation_id = any(v_ids) and r.id = c.reservation_id
    and c.status = 'failed' and r.status = 'payment_failed' and c.next_retry_at <= now();

  -- The first attempt of a completed reservation. ('pending' already: an
  -- earlier run died or lost its answer; the same key again.)
  insert into app_private.charges (reservation_id, amount, currency, idempotency_key, key_first_sent_at)
  select r.id, r.amount, r.currency, app_private.payment_key_of(r, 'charge-1'),
         case when card.chargeable then now() end
  from app_public.reservations r
  left join lateral app_private.reservation_card_of(r.id) card on true
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
  select 'receipt', r.email, coalesce(ed.data, '{}') || jsonb_build_object('amount', 0),
         'receipt:' || r.id
  from app_public.reservations r
  left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
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
        'action', case when card.chargeable then 'charge' else 'no_card' end,
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
        'lookUpFirst', coalesce(card.chargeable and now() - c.key_first_sent_at >= interval '23 hours', false))
    end order by u.n)
  into v_prepared
  from unnest(v_ids) with ordinality u(id, n)
  left join app_public.reservations r on r.id = u.id
  left join app_private.charges c on c.reservation_id = r.id
  left join lateral app_private.reservation_card_of(r.id) card on true;

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
  -- The outcomes drive the update, each charge read by its key. A generic plan
  -- made while charges was nearly empty scanned every charge of a burst for
  -- each batch (13 ms a batch at 10,000); filtering on `c.id = any(v_ids)` as
  -- well kept the index but ran the outcomes again for every charge (a
  -- nested loop over the unnest: 2,500 rows for a batch of 50, about 12 % of
  -- the function). Index scans only: one probe an outcome.
  set enable_seqscan to off
as $$
declare
  v_done     app_private.charges[];
  v_ids      bigint[];
  v_attempts int[];
  v_intents  text[];
begin
  select array_agg((x->>'chargeId')::bigint order by n), array_agg((x->>'attempt')::int order by n),
         array_agg(x->>'paymentIntentId' order by n)
  into v_ids, v_attempts, v_intents
  from jsonb_array_elements(charges_succeeded.outcomes) with ordinality x(x, n);
  with o as (
    select * from unnest(v_ids, v_attempts, v_intents) o(charge_id, attempt, payment_intent_id)
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
         coalesce(ed.data, '{}')
           || jsonb_build_object('amount', d.amount, 'currency', d.currency, 'paymentIntent', d.stripe_payment_intent_id),
         'receipt:' || r.id
  from unnest(v_done) d
  join app_public.reservations r on r.id = d.reservation_id
  left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
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
  where r.plate = v_plate and (v_state is null or r.plate_state = v_state)
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
alter table app_private.declined_cards enable row level security;
alter table app_private.stripe_webhook_events enable row level security;
alter table app_private.worker_processes enable row level security;

--------------------------------------------------------------------------------
-- analytics: views for analysts, without emails, names, tokens or provider ids
-- (migrations/fixtures/analytics.sql says what each leaves out).

grant select on analytics.spots, analytics.reservations, analytics.charges, analytics.daily_revenue to app_analyst;

--------------------------------------------------------------------------------
-- Security (issue 9): the common-password list and where each hold came from
-- are app_private bookkeeping, like the rest: row level security, no grant.

alter table app_private.common_passwords enable row level security;
alter table app_private.reservation_origins enable row level security;

-- Shared budgets of outside calls (rate_budgets.sql): the worker's, as the owner.

alter table app_private.rate_budgets enable row level security;

-- Inventory sync, change history, live events, saved spots (issue 15).

revoke all on app_public.spot_changes, app_public.spot_sync_runs, app_public.saved_spots
from app_anonymous, app_user, app_operator, app_analyst;

-- spot_changes: public inventory history, like spots themselves.
alter table app_public.spot_changes enable row level security;
grant select on app_public.spot_changes to app_anonymous;
drop policy if exists select_all on app_public.spot_changes;
create policy select_all on app_public.spot_changes for select to app_anonymous using (true);

-- spot_sync_runs: staff only.
alter table app_public.spot_sync_runs enable row level security;
grant select on app_public.spot_sync_runs to app_operator;
drop policy if exists select_staff on app_public.spot_sync_runs;
create policy select_staff on app_public.spot_sync_runs for select to app_operator
  using ((select app_hidden.current_user_is_staff()));

-- saved_spots: each driver reads their own rows; writes only through
-- save_spot / unsave_spot (security definer, always the caller's own rows).
alter table app_public.saved_spots enable row level security;
grant select on app_public.saved_spots to app_user;
drop policy if exists select_own on app_public.saved_spots;
create policy select_own on app_public.saved_spots for select to app_user
  using (user_id = (select app_public.current_user_id()));

alter table app_private.spot_sync_sources enable row level security;
alter table app_private.meter_zone_prices enable row level security;
alter table app_private.live_watched_tiles enable row level security;
alter table app_private.live_events enable row level security;

-- Operators and analysts (issue 14): audit log, customers, zones, spot and
-- rate writes, vehicles.

-- audit_log: no API role has any grant; admins read it through
-- app_public.audit_entries (security definer). RLS with no policy besides.
revoke all on app_public.audit_log from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.audit_log enable row level security;

alter table app_private.stored_objects enable row level security;

-- customers and their notes: staff read the live ones; every write goes
-- through the customer functions (security definer).
revoke all on app_public.customers, app_public.customer_notes from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.customers enable row level security;
alter table app_public.customer_notes enable row level security;
grant select on app_public.customers, app_public.customer_notes to app_operator;
drop policy if exists select_live on app_public.customers;
create policy select_live on app_public.customers for select to app_operator
  using (deleted_at is null and (select app_hidden.current_user_is_staff()));
drop policy if exists select_live on app_public.customer_notes;
create policy select_live on app_public.customer_notes for select to app_operator
  using ((select app_hidden.current_user_is_staff())
         and exists (select from app_public.customers c where c.id = customer_id and c.deleted_at is null));

-- operator_zones: admins see all, operators their own; written by set_operator_zones.
revoke all on app_public.operator_zones from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.operator_zones enable row level security;
grant select on app_public.operator_zones to app_operator;
drop policy if exists select_own on app_public.operator_zones;
create policy select_own on app_public.operator_zones for select to app_operator
  using (user_id = (select app_public.current_user_id()) or (select app_hidden.current_user_is_admin()));

-- spots, rates, rate_hours: operators write them (the spot and rate
-- functions run as the caller), only in their zones.
grant insert (location, street, rate_id, borough, zone, side_of_street, from_street, to_street, max_stay,
              is_accessible, has_ev_charger),
      update (location, street, rate_id, borough, zone, side_of_street, from_street, to_street, max_stay,
              is_accessible, has_ev_charger, status)
  on app_public.spots to app_operator;
drop policy if exists insert_in_zone on app_public.spots;
create policy insert_in_zone on app_public.spots for insert to app_operator
  with check (app_hidden.current_user_may_manage(borough));
drop policy if exists update_in_zone on app_public.spots;
create policy update_in_zone on app_public.spots for update to app_operator
  using (app_hidden.current_user_may_manage(borough))
  with check (app_hidden.current_user_may_manage(borough));
grant insert (code, name, hourly_price, currency, billing_increment, minimum_charge, time_zone),
      update (name, hourly_price, billing_increment, minimum_charge)
  on app_public.rates to app_operator;
drop policy if exists insert_staff on app_public.rates;
create policy insert_staff on app_public.rates for insert to app_operator
  with check ((select app_hidden.current_user_is_staff()));
drop policy if exists update_in_zone on app_public.rates;
create policy update_in_zone on app_public.rates for update to app_operator
  using (app_hidden.current_user_may_manage_rate(id));
grant insert (rate_id, isodow, opens, closes), delete on app_public.rate_hours to app_operator;
drop policy if exists insert_in_zone on app_public.rate_hours;
create policy insert_in_zone on app_public.rate_hours for insert to app_operator
  with check (app_hidden.current_user_may_manage_rate(rate_id));
drop policy if exists delete_in_zone on app_public.rate_hours;
create policy delete_in_zone on app_public.rate_hours for delete to app_operator
  using (app_hidden.current_user_may_manage_rate(rate_id));

-- vehicles: a driver reads their own; saved and removed through functions.
revoke all on app_public.vehicles from app_anonymous, app_user, app_operator, app_analyst;
alter table app_public.vehicles enable row level security;
grant select on app_public.vehicles to app_user;
drop policy if exists select_own on app_public.vehicles;
create policy select_own on app_public.vehicles for select to app_user
  using (user_id = (select app_public.current_user_id()));

-- analytics views of issue 14: analysts only.
revoke all on analytics.occupancy_by_hour, analytics.revenue_by_day_and_rate, analytics.booking_funnel, analytics.stays_by_day
  from app_anonymous, app_user, app_operator, app_analyst;
grant select on analytics.occupancy_by_hour, analytics.revenue_by_day_and_rate, analytics.booking_funnel, analytics.stays_by_day
  to app_analyst;
--! EndIncluded table_access.sql
