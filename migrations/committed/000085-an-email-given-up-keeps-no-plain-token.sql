--! Previous: sha1:7cce4cdbc6c938adf907737ab6a453529fd829fc
--! Hash: sha1:5c457c7dbf53842d937c0be273a59c818a2260fc
--! Message: An email given up keeps no plain token

-- An email given up after its last failed attempt (SMTP refusing for hours)
-- kept its plain one-time token for good: it is dropped then too, as on
-- sending. The attempts bound is one function, used by the queue as well.
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

create or replace function app_private.email_sent(email_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Only hashes of one-time tokens are stored anywhere else: once mailed, the
  -- plain token (a password reset, verification or invitation link's, a guest
  -- manage token) leaves the outbox too, or a database reader or a backup
  -- would hold live keys to accounts and reservations.
  update app_private.emails e
  set sent_at = now(), attempts = e.attempts + 1, last_error = null,
      data = e.data - array['token', 'manageToken']
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
                  then e.data - array['token', 'manageToken'] else e.data end
  where e.id = email_send_failed.email_id;
end;
$$;
comment on function app_private.email_send_failed(bigint, text) is
  E'Records a failed sending attempt of an outbox row (the send_email job is retried with back-off); after the last one, drops the plain one-time token it carried.';
--! EndIncluded email_enqueue.sql
