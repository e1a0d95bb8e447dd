--! Previous: sha1:1785319c87fc2ea84a7e4af423ae064ed4ca8e42
--! Hash: sha1:eb22204e84182079510524cc0c2bfef5bf9fa258
--! Message: The inventory sync removes at most 20 % of the meters in one run, and closes runs a dead worker left running

-- The inventory sync took 2,915 of 2,919 meters out of service when its
-- source served a 5-row file, emptying the map; and a run a dead worker left
-- "running" stayed so for ever. A run may now remove at most 20 % of the
-- active meters (at least 50), else it fails and changes nothing; and a run
-- still running when the next run of its source begins is closed as failed.
--! Included spots_sync.sql
-- The inventory sync's bookkeeping (tasks/spots__sync.ts). One run:
--   spots_sync_begin (own commit: the run row, and the back-off check), then in
--   ONE transaction with app.sync_run_id set: spots_sync_batch for each batch
--   of rows, spots_sync_finish (meters the snapshot no longer lists go out of
--   service, the run's summary, the source's validators). A failure rolls that
--   transaction back — nothing changed — and spots_sync_failed records why and
--   when to try again. A 304 answer ends with spots_sync_not_modified.

create or replace function app_private.spots_sync_begin(source_url text,
  out run_id bigint, out etag text, out last_modified text, out retry_at timestamptz)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  select s.etag, s.last_modified, s.retry_at into etag, last_modified, retry_at
  from app_private.spot_sync_sources s where s.source_url = spots_sync_begin.source_url;
  if retry_at > now() then
    return;  -- backing off: no run
  end if;
  retry_at := null;
  -- Runs of a source never overlap (one queue), so one still running now was
  -- cut short by a worker that died: its transaction died with it, nothing changed.
  update app_public.spot_sync_runs r
  set finished_at = now(), outcome = 'failed', error = 'interrupted: the worker stopped during the run; nothing was changed'
  where r.source_url = spots_sync_begin.source_url and r.outcome = 'running';
  -- A 30 s interval makes 2,880 runs a day, nearly all 304s: those are kept a
  -- week (runs that changed something stay, with the history they wrote).
  delete from app_public.spot_sync_runs r
  where r.outcome = 'not_modified' and r.started_at < now() - interval '7 days';
  insert into app_public.spot_sync_runs (source_url) values (spots_sync_begin.source_url) returning id into run_id;
end;
$$;
comment on function app_private.spots_sync_begin(text) is
  E'Starts a sync run of a source: the run id and the validators to send (If-None-Match / If-Modified-Since), or no run and the time to retry while the source is backed off. Closes a run a dead worker left running (failed, nothing changed) and forgets 304 runs older than a week.';

create or replace function app_private.spots_sync_batch(run_id bigint, rows jsonb)
  returns table (row_number int, outcome text, reason text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_fresh jsonb;
  v_dups  jsonb;
begin
  if current_setting('app.sync_run_id', true) is distinct from spots_sync_batch.run_id::text then
    raise exception 'spots_sync_batch: set app.sync_run_id to the run id in this transaction first' using errcode = '22023';
  end if;
  -- The meter numbers this run has seen, for spots_sync_finish; gone at commit.
  if to_regclass('pg_temp.spots_sync_seen') is null then
    create temp table spots_sync_seen (external_id text primary key) on commit drop;
  end if;
  -- A meter listed twice in one snapshot: the first row counts.
  select coalesce(jsonb_agg(r.e order by r.ord) filter (where s.external_id is null), '[]'),
         coalesce(jsonb_agg(r.e order by r.ord) filter (where s.external_id is not null), '[]')
    into v_fresh, v_dups
  from jsonb_array_elements(spots_sync_batch.rows) with ordinality as r(e, ord)
  left join pg_temp.spots_sync_seen s on s.external_id = nullif(btrim(r.e ->> 'meter_number'), '');
  return query
    select (d ->> 'row_number')::int, 'rejected'::text, 'duplicate meter number (listed earlier in the snapshot)'::text
    from jsonb_array_elements(v_dups) d;
  return query select * from app_private.spots_import(v_fresh);
  -- Every listed meter counts as seen, even a row rejected for a bad field:
  -- a typo in the feed must not take a meter out of service.
  insert into pg_temp.spots_sync_seen (external_id)
  select distinct t.external_id from pg_temp.spots_import_rows_v1 t where t.external_id is not null
  on conflict do nothing;
end;
$$;
comment on function app_private.spots_sync_batch(bigint, jsonb) is
  E'Imports one batch of a sync run through app_private.spots_import (same rows, same answers) and remembers the meter numbers seen; a meter already seen in this run is rejected as a duplicate.';

create or replace function app_private.spots_sync_removed_max(active int) returns int
  language sql immutable
as $$
  -- A city retires a few meters at a time. A snapshot that leaves out more is
  -- far likelier a cut or wrong file, and would empty the map: 20 % of the
  -- active meters at most, and never fewer than 50 (small inventories).
  select greatest(50, ceil(spots_sync_removed_max.active * 0.2)::int);
$$;
comment on function app_private.spots_sync_removed_max(int) is
  E'How many of a source''s active meters one sync run may put out of service: 20 %, at least 50. A run that would remove more fails, changing nothing.';

create or replace function app_private.spots_sync_finish(
  run_id bigint, etag text, last_modified text,
  rows_seen int, inserted int, changed int, unchanged int, rejected int, rejects jsonb
) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_removed int;
  v_active  int;
  v_source  text;
begin
  if to_regclass('pg_temp.spots_sync_seen') is null then
    raise exception 'spots_sync_finish: no batch of this run in this transaction' using errcode = '22023';
  end if;
  select count(*) filter (where not exists (select from pg_temp.spots_sync_seen x where x.external_id = s.external_id)),
         count(*)
    into v_removed, v_active
  from app_public.spots s where s.external_id is not null and s.status = 'active';
  if v_removed > app_private.spots_sync_removed_max(v_active) then
    raise exception 'The snapshot leaves out % of the % active meters; one run may take at most % out of service (a cut or wrong file?)',
      v_removed, v_active, app_private.spots_sync_removed_max(v_active);
  end if;
  update app_public.spots s set status = 'out_of_service'
  where s.external_id is not null and s.status = 'active'
    and not exists (select from pg_temp.spots_sync_seen x where x.external_id = s.external_id);
  get diagnostics v_removed = row_count;
  update app_public.spot_sync_runs r
  set finished_at = now(), outcome = 'succeeded', rows_seen = spots_sync_finish.rows_seen,
      inserted = spots_sync_finish.inserted, changed = spots_sync_finish.changed,
      unchanged = spots_sync_finish.unchanged, removed = v_removed,
      rejected = spots_sync_finish.rejected, rejects = spots_sync_finish.rejects
  where r.id = spots_sync_finish.run_id
  returning r.source_url into v_source;
  insert into app_private.spot_sync_sources as s (source_url, etag, last_modified)
  values (v_source, spots_sync_finish.etag, spots_sync_finish.last_modified)
  on conflict (source_url) do update
  set etag = excluded.etag, last_modified = excluded.last_modified, failures = 0, retry_at = null,
      last_error = null, updated_at = now();
  return v_removed;
end;
$$;
comment on function app_private.spots_sync_finish(bigint, text, text, int, int, int, int, int, jsonb) is
  E'Ends a successful sync run inside its transaction: puts active meters the snapshot did not list out of service (returns how many; more than app_private.spots_sync_removed_max fails the run), writes the run''s summary, keeps the source''s validators and clears its back-off.';

create or replace function app_private.spots_sync_not_modified(run_id bigint) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with run as (
    update app_public.spot_sync_runs set finished_at = now(), outcome = 'not_modified'
    where id = spots_sync_not_modified.run_id returning source_url)
  update app_private.spot_sync_sources s set failures = 0, retry_at = null, last_error = null, updated_at = now()
  from run where s.source_url = run.source_url;
$$;
comment on function app_private.spots_sync_not_modified(bigint) is
  E'Ends a sync run whose source answered 304 Not Modified: nothing read, back-off cleared.';

create or replace function app_private.spots_sync_failed(run_id bigint, error text, backoff_seconds int, backoff_max_seconds int)
  returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_source   text;
  v_failures int;
  v_retry_at timestamptz;
begin
  update app_public.spot_sync_runs set finished_at = now(), outcome = 'failed', error = left(spots_sync_failed.error, 2000)
  where id = spots_sync_failed.run_id returning source_url into v_source;
  insert into app_private.spot_sync_sources as s (source_url, failures, last_error)
  values (v_source, 1, left(spots_sync_failed.error, 2000))
  on conflict (source_url) do update
  set failures = s.failures + 1, last_error = excluded.last_error, updated_at = now()
  returning s.failures into v_failures;
  -- backoff_seconds, doubling with each failure in a row, at most backoff_max_seconds.
  v_retry_at := now() + make_interval(secs => least(
    spots_sync_failed.backoff_max_seconds::double precision,
    spots_sync_failed.backoff_seconds * power(2, least(v_failures - 1, 30))));
  update app_private.spot_sync_sources set retry_at = v_retry_at where source_url = v_source;
  return v_retry_at;
end;
$$;
comment on function app_private.spots_sync_failed(bigint, text, int, int) is
  E'Records a failed sync run (its transaction already rolled back: nothing changed) and backs the source off: backoff_seconds, doubling per failure in a row, at most backoff_max_seconds; returns when to try again.';

create or replace function app_private.spots_sync_schedule(run_at timestamptz) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- One waiting sync (job key), in a queue of its own so two never run at once.
  select graphile_worker.add_job('spots__sync', '{}'::json, queue_name => 'spots_sync',
    run_at => spots_sync_schedule.run_at, max_attempts => 3, job_key => 'spots_sync', job_key_mode => 'replace');
$$;
comment on function app_private.spots_sync_schedule(timestamptz) is
  E'Queues the next inventory sync at run_at (replacing a waiting one).';
--! EndIncluded spots_sync.sql
