--! Previous: sha1:19e29a4b71d3ae0a8e77b6fb06a15f4c78a9fab8
--! Hash: sha1:d37eae1a26bc7f0ad1c0069659ad0e05f5ed311d
--! Message: The rate budget's refill in one function, read by rate_budget_take and charges_behind

-- The bucket's refill in one function, read by rate_budget_take and by
-- charges_behind (which had its own copy of the formula).
--! Included rate_budgets.sql
-- One budget of calls a second shared by every worker process (token
-- buckets in a row each): Stripe limits the account, not a process, so N
-- workers each keeping under the limit on their own would together go over
-- it. A caller reserves a call before making it: granted at once when the
-- bucket has a token, granted with a wait when the bucket will have one
-- within max_wait (the bucket goes into debt, so callers queue in the order
-- they asked and the calls leave exactly per_second apart), refused with the
-- time to come back otherwise (the job is rescheduled, nothing is spent),
-- after the turns of the callers refused before it.

create table if not exists app_private.rate_budgets (
  name       text primary key,
  per_second float8 not null check (per_second > 0),
  burst      float8 not null check (burst >= 1),
  -- May be negative: calls granted with a wait that have not left yet.
  tokens     float8 not null,
  updated_at timestamptz not null,
  refused_until timestamptz
);
alter table app_private.rate_budgets add column if not exists refused_until timestamptz;
comment on column app_private.rate_budgets.refused_until is
  E'The end of the turns promised to the callers refused so far: the next refused caller is told to come back after it.';
comment on table app_private.rate_budgets is
  E'Token buckets of outside calls shared by every worker process (e.g. stripe): tokens left at updated_at, refilled per_second up to burst.';

drop function if exists app_private.rate_budget_take(text, float8, float8, interval, timestamptz);

create or replace function app_private.rate_budget_tokens_at(b app_private.rate_budgets, at timestamptz) returns float8
  language sql immutable
as $$
  -- sql with no SET clause: inlined where it is called. A clock read earlier
  -- than the bucket's last update does not take tokens back.
  select least(b.burst, b.tokens + greatest(0, extract(epoch from at - b.updated_at)) * b.per_second);
$$;
comment on function app_private.rate_budget_tokens_at(app_private.rate_budgets, timestamptz) is
  E'The tokens the bucket b holds at `at`: refilled per_second since its last update, never above burst; negative while it owes turns it granted with a wait.';

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
  v_retry_at timestamptz;
  v_refused_until timestamptz;
begin
  -- The configuration comes with each call (every process reads the same
  -- settings), so a changed limit takes effect at the next call.
  insert into app_private.rate_budgets as b (name, per_second, burst, tokens, updated_at)
  values (rate_budget_take.name, rate_budget_take.per_second, rate_budget_take.burst, rate_budget_take.burst, rate_budget_take.at)
  on conflict on constraint rate_budgets_pkey do update
    set per_second = excluded.per_second, burst = excluded.burst
  returning * into v_b;
  -- Refilled since the last call.
  v_tokens := app_private.rate_budget_tokens_at(v_b, rate_budget_take.at);
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
  if retry_after is not null then
    -- Each refused caller comes back after the turns of those refused before
    -- it. Told only the first free turn, every batch of a burst would come
    -- back at the same moment, be refused together again, and keep due
    -- charge jobs ahead of every email for the whole burst.
    v_retry_at := greatest(rate_budget_take.at + make_interval(secs => retry_after),
                           coalesce(v_b.refused_until, rate_budget_take.at));
    retry_after := extract(epoch from v_retry_at - rate_budget_take.at);
    v_refused_until := v_retry_at
      + make_interval(secs => (rate_budget_take.calls - cardinality(waits)) / v_b.per_second);
  end if;
  update app_private.rate_budgets b
  set tokens = v_tokens - cardinality(waits),
      updated_at = greatest(b.updated_at, rate_budget_take.at),
      refused_until = coalesce(v_refused_until, b.refused_until)
  where b.name = rate_budget_take.name;
end;
$$;
comment on function app_private.rate_budget_take(text, float8, float8, interval, int, timestamptz) is
  E'Reserves up to `calls` calls from the named budget (per_second, up to burst at once): waits holds, for each call granted, the seconds before it may leave (0 while tokens last, then per_second apart); calls whose turn is further off than max_wait are not granted (nothing taken) and retry_after says when the first of them would be. Both count from `at`, the caller''s clock when it asked (a call leaves at at + wait). One row lock per reservation, shared by every worker process.';
--! EndIncluded rate_budgets.sql
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
create or replace function app_private.emails_queue_due(max_rows int default 1000) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ids bigint[];
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
    update app_private.emails e set queued_at = now() where e.id = any(v_ids);
    -- One add_jobs call for the batch. Priority 10 (graphile-worker runs lower
    -- numbers first): a charge queued later still goes before these emails.
    perform graphile_worker.add_jobs(array(
      select ('send_email', json_build_object('emailId', id), null, now(), 25, 'send_email:' || id, 10, null)::graphile_worker.job_spec
      from unnest(v_ids) id));
  end if;
  return cardinality(v_ids);
end;
$$;
comment on function app_private.emails_queue_due(int) is
  E'Queues a send_email job for each outbox row not yet queued (at most max_rows, oldest first, the end-of-day burst''s emails last); returns how many. While charges are behind (charges_behind), a reservation''s "ended" email and its receipt wait.';

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
  update app_private.emails e
  set sent_at = now(), attempts = e.attempts + 1, last_error = null
  where e.id = email_sent.email_id;
end;
$$;
comment on function app_private.email_sent(bigint) is
  E'Marks an outbox row sent (in the transaction that locked it with email_to_send).';

create or replace function app_private.email_send_failed(email_id bigint, error text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.emails e
  set attempts = e.attempts + 1, last_error = left(email_send_failed.error, 500)
  where e.id = email_send_failed.email_id;
end;
$$;
comment on function app_private.email_send_failed(bigint, text) is
  E'Records a failed sending attempt of an outbox row (the send_email job is retried with back-off).';
--! EndIncluded email_enqueue.sql
