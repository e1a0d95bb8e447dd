--! Previous: sha1:5c457c7dbf53842d937c0be273a59c818a2260fc
--! Hash: sha1:62d80021e353b507c9386b305ac7ca5978f5dce0
--! Message: Review, behaviour unchanged: one spent-email data function, resetPassword names what it calls

-- Review, behaviour unchanged:
-- - "an email's data without its one-time tokens" was written in email_sent
--   and email_send_failed; now app_private.email_data_spent.
-- - resetPassword's description listed part of what forget_unproved_setup
--   drops (it drops saved cars and spots too since 000084); it names the function.
--! Included email_enqueue.sql
-- The email outbox (app_private.emails): SQL writes a row in the transaction
-- of the change it reports; the due-work sweep queues a send_email job for
-- each new row (emails_queue_due); tasks/send_email.ts renders and sends it
-- with email_to_send / email_sent / email_send_failed.

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
  -- No job here: queuing one NOTIFYs, and the writer's commit would then
  -- serialise with every other NOTIFYing commit (booking writes an email).
  insert into app_private.emails (template, recipient, data, dedupe_key)
  values (email_enqueue.template, email_enqueue.recipient, coalesce(email_enqueue.data, '{}'), email_enqueue.dedupe_key)
  on conflict on constraint emails_dedupe_key_key do nothing
  returning id into v_id;
  return v_id;
end;
$$;
comment on function app_private.email_enqueue(text, citext, jsonb, text) is
  E'Writes an email to the outbox in the caller''s transaction (the due-work sweep queues its sending within about a second); returns its id, or null when dedupe_key was already used.';

create or replace function app_private.charges_behind() returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A charge job due over a second ago and still there (done jobs are
  -- deleted): one waiting for a worker, or taken but not finished. Taken
  -- counts too: a worker's local queue takes jobs long before it runs them.
  -- Out of a burst a batch is done within the second; a job waiting for its
  -- retry has a run_at in the future, a job out of attempts is not counted.
  -- Not while Stripe's rate limit paces the charges (the shared budget owes
  -- turns, or has sent callers away): then waiting emails would not make a
  -- charge any sooner, and they use the time the charges spend waiting.
  return exists (
      select from graphile_worker._private_jobs j
      where j.task_id = (select t.id from graphile_worker._private_tasks t where t.identifier = 'reservation__charge')
        and j.run_at < now() - interval '1 second' and j.attempts < j.max_attempts)
    and not exists (
      select from app_private.rate_budgets b
      where b.name = 'stripe'
        and (b.refused_until > now() or app_private.rate_budget_tokens_at(b, now()) < 0));
end;
$$;
comment on function app_private.charges_behind() is
  E'True while charges are behind for want of workers (a charge job due over a second ago is not done yet, and Stripe''s rate limit is not what paces them): the end-of-day burst. emails_queue_due holds the burst''s own emails back meanwhile.';

-- The template lists in emails_queue_due are the predicates of the partial
-- indexes emails_unqueued_now_idx and emails_unqueued_later_idx (migrations
-- 000040 and 000041), word for word: PostgreSQL uses a partial index only for
-- a condition that implies its predicate. Change them together.
create or replace function app_private.email_send_attempts_max() returns int
  language sql immutable
as $$
  select 25;
$$;
comment on function app_private.email_send_attempts_max() is
  E'How many times an email is tried (its send_email job''s max_attempts) before it is given up.';

create or replace function app_private.emails_queue_due(max_rows int default 1000) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ids bigint[];
  v_jobs int;
begin
  -- Two kinds of waiting rows, each in its own partial index (a row is in
  -- one of them only): the end-of-day burst's own emails (a reservation
  -- ended, a receipt) and every other email.
  v_ids := array(
    select e.id from app_private.emails e
    where e.queued_at is null and e.template not in ('receipt', 'reservation_ended')
    order by e.id limit emails_queue_due.max_rows for update skip locked);
  -- Charges go before emails: while charges are behind, the burst's emails
  -- wait; queued meanwhile, their jobs and sending took 5-20 % of the
  -- burst's charges/s (paired runs of bench/end_burst.ts). (charges_behind
  -- reads graphile-worker's jobs without an index, 20 ms at 100,000 jobs:
  -- asked only when such an email waits.)
  if cardinality(v_ids) < emails_queue_due.max_rows
     and exists (select from app_private.emails e
                 where e.queued_at is null and e.template in ('receipt', 'reservation_ended'))
     and not app_private.charges_behind() then
    v_ids := v_ids || array(
      select e.id from app_private.emails e
      where e.queued_at is null and e.template in ('receipt', 'reservation_ended')
      order by e.id limit emails_queue_due.max_rows - cardinality(v_ids) for update skip locked);
  end if;
  if cardinality(v_ids) > 0 then
    -- One add_jobs call for the batch. Priority 10 (graphile-worker runs lower
    -- numbers first): a charge queued later still goes before these emails.
    -- A recipient's emails of one batch start a second apart, oldest first:
    -- sent at once by parallel workers, they reached the inbox in any order
    -- ("confirmed" before "held"). At most 9 s: a later one may overtake then.
    with queued as (
      update app_private.emails e set queued_at = now() where e.id = any(v_ids) returning e.id, e.recipient
    )
    select count(*) into v_jobs from graphile_worker.add_jobs(array(
      select ('send_email', json_build_object('emailId', q.id), null, now() + least(q.nth - 1, 9) * interval '1 second',
              app_private.email_send_attempts_max(), 'send_email:' || q.id, 10, null)::graphile_worker.job_spec
      from (select u.id, row_number() over (partition by u.recipient order by u.id) as nth from queued u) q));
  end if;
  return cardinality(v_ids);
end;
$$;
comment on function app_private.emails_queue_due(int) is
  E'Queues a send_email job for each outbox row not yet queued (at most max_rows, oldest first, the end-of-day burst''s emails last; one recipient''s a second apart, in order); returns how many. While charges are behind (charges_behind), a reservation''s "ended" email and its receipt wait.';

-- The three below are plpgsql, not sql: a sql function with a SET clause is
-- planned again at every call, and they run for every email sent.
create or replace function app_private.email_to_send(email_id bigint)
  returns table (id bigint, template text, recipient text, data jsonb, sent_at timestamptz)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Locked until the sender's transaction ends: a second run of the same job
  -- waits, then sees sent_at and sends nothing.
  return query
  select e.id, e.template, e.recipient::text, e.data, e.sent_at
  from app_private.emails e where e.id = email_to_send.email_id
  for update;
end;
$$;
comment on function app_private.email_to_send(bigint) is
  E'The outbox row to send, locked for the rest of the transaction; sent_at set means it was already sent.';

create or replace function app_private.email_data_spent(data jsonb) returns jsonb
  language sql immutable
as $$
  -- Only hashes of one-time tokens are stored anywhere else: once an email is
  -- mailed or given up, the plain token (a password reset, verification or
  -- invitation link's, a guest manage token) leaves the outbox too, or a
  -- database reader or a backup would hold live keys to accounts and reservations.
  select data - array['token', 'manageToken'];
$$;
comment on function app_private.email_data_spent(jsonb) is
  E'An outbox row''s data without the plain one-time tokens it carried (token, manageToken): what stays once the email is sent or given up.';

create or replace function app_private.email_sent(email_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.emails e
  set sent_at = now(), attempts = e.attempts + 1, last_error = null,
      data = app_private.email_data_spent(e.data)
  where e.id = email_sent.email_id;
end;
$$;
comment on function app_private.email_sent(bigint) is
  E'Marks an outbox row sent (in the transaction that locked it with email_to_send) and removes the plain one-time token it carried (token, manageToken).';

create or replace function app_private.email_send_failed(email_id bigint, error text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The last attempt failed: the email is given up (nothing queues it again), and
  -- its plain one-time token with it, as email_sent drops it once mailed.
  update app_private.emails e
  set attempts = e.attempts + 1, last_error = left(email_send_failed.error, 500),
      data = case when e.attempts + 1 >= app_private.email_send_attempts_max()
                  then app_private.email_data_spent(e.data) else e.data end
  where e.id = email_send_failed.email_id;
end;
$$;
comment on function app_private.email_send_failed(bigint, text) is
  E'Records a failed sending attempt of an outbox row (the send_email job is retried with back-off); after the last one, drops the plain one-time token it carried.';
--! EndIncluded email_enqueue.sql
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
  E'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, signs out every session of the account and, for a reset, emails password_changed. A reset of an account whose email was never verified also drops what its maker set (app_private.forget_unproved_setup). Sign in afterwards.';

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
