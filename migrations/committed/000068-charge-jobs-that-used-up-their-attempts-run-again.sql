--! Previous: sha1:8b9c97b74be0df24797dd1d6066a0ded6dbfd782
--! Hash: sha1:83549df41f4c8121d745b2eb0635ef8db8969f44
--! Message: Charge jobs that used up their attempts run again

-- Charge jobs that used up their attempts (Stripe unreachable for hours) run
-- again: the due-work sweep looks for them every 10 minutes. Before, a stay
-- ending during an afternoon's outage was never charged (found by a
-- reliability review).

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
    -- Not a client's: how often the sweep looks for charge jobs that used up their attempts.
    ('charges_requeue', 1, interval '10 minutes', false),
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

create or replace function app_private.charges_requeue_exhausted(max_rows int default 500) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_jobs bigint[];
begin
  -- A charge job fails (and is retried with graphile-worker's back-off) only
  -- while Stripe cannot be reached or answers 5xx; declines are recorded, not
  -- thrown. After max_attempts (about 3.6 hours) graphile-worker stops, and
  -- nothing else would charge those stays: an outage of an afternoon would
  -- leave them unpaid for good. They start again from attempt 0. Looked for at
  -- most every 10 minutes: graphile-worker's jobs have no index for this.
  if app_private.rate_limit_hit('charges_requeue', 'sweep') > 0 then
    return 0;
  end if;
  v_jobs := array(select j.id from graphile_worker.jobs j
                  where j.task_identifier = 'reservation__charge' and j.attempts >= j.max_attempts
                    and j.locked_at is null
                  order by j.id limit charges_requeue_exhausted.max_rows);
  if cardinality(v_jobs) > 0 then
    perform graphile_worker.reschedule_jobs(v_jobs, run_at => now(), attempts => 0);
  end if;
  return cardinality(v_jobs);
end;
$$;
comment on function app_private.charges_requeue_exhausted(int) is
  E'Every 10 minutes at most (the due-work sweep calls it every second): charge jobs that used up their attempts (Stripe unreachable for hours) run again from attempt 0; the charge keeps its idempotency key, so none is made twice. Returns how many jobs.';

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
