--! Previous: sha1:a6b76c9d0a44dc39717b3a6d2494af54814c4946
--! Hash: sha1:c8a3c44d32dc9299aab4b37dbf6d6c0087d7c4d5
--! Message: Refused callers of a rate budget come back one after another

-- Refused callers of a rate budget come back one after another, not all at once.
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
