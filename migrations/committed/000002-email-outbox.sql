--! Previous: sha1:1c887c04eec71adff3a718a356a64e08e8be5dde
--! Hash: sha1:fd994d313c1d7d62664a46d57a16fc863dafc8c9
--! Message: email outbox

-- Every email goes through this outbox: SQL writes the row and queues the
-- send_email job in the caller's transaction, so an email exists if and only
-- if the change it reports was committed. The task marks the row sent.

create table app_private.emails (
  id         bigint generated always as identity primary key,
  template   text not null check (template ~ '^[a-z_]+$'),
  recipient  citext not null check (length(recipient) <= 254),
  data       jsonb not null default '{}',
  dedupe_key text unique,
  created_at timestamptz not null default now(),
  sent_at    timestamptz,
  attempts   int not null default 0,
  last_error text
);
alter table app_private.emails enable row level security;
comment on table app_private.emails is E'Outbox: one row per email, sent by the send_email task.';
comment on column app_private.emails.template is E'Which message (reservation_confirmed, receipt, verify_email, …); tasks/send_email.ts renders it.';
comment on column app_private.emails.dedupe_key is E'Makes enqueueing idempotent, e.g. receipt:<reservation id>.';

--! Included email_enqueue.sql
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
  insert into app_private.emails (template, recipient, data, dedupe_key)
  values (email_enqueue.template, email_enqueue.recipient, coalesce(email_enqueue.data, '{}'), email_enqueue.dedupe_key)
  on conflict (dedupe_key) do nothing
  returning id into v_id;
  if v_id is not null then
    perform graphile_worker.add_job('send_email', json_build_object('emailId', v_id),
      max_attempts => 25, job_key => 'send_email:' || v_id);
  end if;
  return v_id;
end;
$$;
comment on function app_private.email_enqueue(text, citext, jsonb, text) is
  E'Writes an email to the outbox and queues its sending in the same transaction; returns its id, or null when dedupe_key was already used.';
--! EndIncluded email_enqueue.sql
