--! Previous: sha1:f0be96b7e2974567d55e515d1dfb5357603eca72
--! Hash: sha1:cc702ca2f9318ca31c441fe2d6810a337aaaf6af
--! Message: email priority

-- Emails queue at priority 10, behind the charges and other work of a burst.
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
  on conflict on constraint emails_dedupe_key_key do nothing
  returning id into v_id;
  if v_id is not null then
    -- priority 10 (graphile-worker runs lower numbers first): in a burst the
    -- charges (priority 0) go first, their emails right after.
    perform graphile_worker.add_job('send_email', json_build_object('emailId', v_id),
      max_attempts => 25, job_key => 'send_email:' || v_id, priority => 10);
  end if;
  return v_id;
end;
$$;
comment on function app_private.email_enqueue(text, citext, jsonb, text) is
  E'Writes an email to the outbox and queues its sending in the same transaction; returns its id, or null when dedupe_key was already used.';
--! EndIncluded email_enqueue.sql
