--! Previous: sha1:3af9ace157a741f8201231473961f1624e9cb8af
--! Hash: sha1:fc0173e37ad075094265904d7414210e10e2cb6b
--! Message: Live events skip taking a statement apart when nobody watches; staff audit builds row JSON only for staff; one reservation's email data uses a generic plan

--! Included live_events.sql
-- Live availability events. The map is cut into 0.05° tiles (about 5.5 km
-- north-south); an API process with live clients records the tiles it listens
-- to in app_private.live_watched_tiles (server/live/hub.ts). A reservation or
-- spot change in a watched tile writes one app_private.live_events row and one
-- NOTIFY on the channel 'live:<tile>'; in any other tile it costs one index
-- look-up and sends nothing, so booking in a city nobody watches pays no
-- NOTIFY (NOTIFYing commits serialise across the server). Events carry ids,
-- positions, a reason and the window: no user, email or reservation id.

create or replace function app_hidden.live_tile(lat double precision, lng double precision) returns text
  language sql immutable
as $$
  select floor(lat / 0.05)::int || ':' || floor(lng / 0.05)::int;
$$;
comment on function app_hidden.live_tile(double precision, double precision) is
  E'The live-event tile of a point: "<floor(lat / 0.05)>:<floor(lng / 0.05)>".';

create or replace function app_private.live_anyone_watching() returns boolean
  language sql stable
as $$
  -- Listeners refresh their tiles every 30 s; one silent for 90 s is gone.
  select exists (select from app_private.live_watched_tiles w where w.seen_at > now() - interval '90 seconds');
$$;
comment on function app_private.live_anyone_watching() is
  E'Whether any API process has a live client (a watched tile refreshed within 90 seconds). Without one, no change records an event.';

create or replace function app_private.live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[])
  returns void
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_sent int;
begin
  -- Nobody watching anywhere (the usual case): one index look-up, nothing sent.
  if not app_private.live_anyone_watching() then
    return;
  end if;
  with e as (
    select u.spot_id, u.reason, u.time_window, u.n, st_y(s.location::geometry) as lat, st_x(s.location::geometry) as lng
    from unnest(live_events_record.spot_ids, live_events_record.reasons, live_events_record.windows)
      with ordinality as u(spot_id, reason, time_window, n)
    join app_public.spots s on s.id = u.spot_id
  ), recorded as (
    insert into app_private.live_events (tile, spot_id, lat, lng, reason, starts_at, ends_at)
    select t.tile, e.spot_id, e.lat, e.lng, e.reason, lower(e.time_window), upper(e.time_window)
    from e cross join lateral (select app_hidden.live_tile(e.lat, e.lng) as tile) t
    -- Watched: a listener refreshed it within 90 s (listeners refresh every 30 s).
    where exists (select from app_private.live_watched_tiles w
                  where w.tile = t.tile and w.seen_at > now() - interval '90 seconds')
    order by e.n
    returning *
  )
  select count(pg_notify('live:' || r.tile, json_build_object(
    'id', r.id, 'spotId', r.spot_id::text, 'lat', r.lat, 'lng', r.lng, 'reason', r.reason,
    'startsAt', r.starts_at, 'endsAt', r.ends_at)::text))
  into v_sent
  from (select * from recorded order by id) r;
end;
$$;
comment on function app_private.live_events_record(bigint[], text[], tstzrange[]) is
  E'Records and NOTIFYs an availability event of each spot (spot_ids, reasons and windows aligned) whose tile is watched by a live API process; the others cost nothing but a look-up.';
drop function if exists app_private.live_event(bigint, text, tstzrange);

create or replace function app_private.reservations_live(changes app_private.reservation_change[]) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Checked before the statement's changes are taken apart: with nobody
  -- watching, that work cost every booking about 15 µs for nothing.
  if not app_private.live_anyone_watching() then
    return;
  end if;
  perform app_private.live_events_record(array_agg(n.spot_id order by c.ordinality),
                                         array_agg(e.reason order by c.ordinality),
                                         array_agg(e.time_window order by c.ordinality))
  from unnest(reservations_live.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select app_hidden.holds_spot(n.status) as now_holds,
                             o.id is not null and app_hidden.holds_spot(o.status) as was_holds) h
  cross join lateral (select * from (values
      (h.now_holds and not h.was_holds, 'taken', n.period),
      (h.was_holds and not h.now_holds, 'freed', o.period),
      (h.now_holds and h.was_holds and n.period is distinct from o.period, 'changed', n.period)
    ) v(happened, reason, time_window) where v.happened) e;
end;
$$;
comment on function app_private.reservations_live(app_private.reservation_change[]) is
  E'Live event of each reservation or block of one statement: taken (starts holding its spot), freed (cancelled, expired, ended, payment failed), changed (its window moved).';

create or replace function app_private.tg_spots__live() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.live_events_record(array[new.id],
    array[case new.status when 'active' then 'in_service' else 'out_of_service' end], array[null::tstzrange]);
  return null;
end;
$$;
comment on function app_private.tg_spots__live() is E'Live event of a spot put out of service or back in service.';

drop trigger if exists _800_live on app_public.spots;
create trigger _800_live after update of status on app_public.spots
  for each row when (new.status is distinct from old.status)
  execute function app_private.tg_spots__live();

create or replace function app_private.live_watch(listener uuid, tiles text[], retention interval) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  -- This listener's tiles are exactly `tiles`, seen now.
  delete from app_private.live_watched_tiles w
  where w.listener = live_watch.listener and w.tile <> all (live_watch.tiles);
  insert into app_private.live_watched_tiles (tile, listener)
  select distinct t, live_watch.listener from unnest(live_watch.tiles) t
  on conflict (tile, listener) do update set seen_at = now();
  -- Listeners that died without saying so, and events no client can resume from.
  delete from app_private.live_watched_tiles w where w.seen_at < now() - interval '10 minutes';
  delete from app_private.live_events e where e.at < now() - live_watch.retention;
end;
$$;
comment on function app_private.live_watch(uuid, text[], interval) is
  E'An API process''s live tiles (replacing its earlier list, refreshing their time), and housekeeping: stale listeners and events older than retention removed.';

-- Event ids are taken when an event is written, but transactions commit in
-- their own order: event 100 may commit after event 101, and a client that
-- saw 101 and then lost its connection would never be sent 100 by `id > 101`.
-- So a resume also sends the lower-numbered events whose transaction the last
-- event's snapshot did not see: those may have committed after it. Events it
-- saw committed before it, so a client that got it got them. Some of those
-- sent may have committed between that snapshot and that commit, so the
-- client had them already: an event is a spot's new state, so receiving it
-- twice changes nothing. (The snapshot, not its xmin: xmin is the oldest
-- transaction running anywhere on the server, which would resend events of
-- every transaction since.)
create or replace function app_private.live_events_since(after_id bigint, tiles text[]) returns setof app_private.live_events
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select e.* from app_private.live_events e
  where e.tile = any (live_events_since.tiles)
    and (e.id > live_events_since.after_id
         or (e.id < live_events_since.after_id
             and not pg_visible_in_snapshot(e.xid, (select l.snapshot from app_private.live_events l
                                                     where l.id = live_events_since.after_id))))
  order by e.id
  limit 1000;
$$;
comment on function app_private.live_events_since(bigint, text[]) is
  E'Events of the given tiles after an event id, oldest first (at most 1,000): what an SSE client that resumes with Last-Event-ID missed, including lower-numbered events whose transaction committed after that event was written.';
--! EndIncluded live_events.sql
--! Included staff_audit.sql
-- The staff audit log: every change staff make to customers, notes, spots,
-- rates, blocks, refunds, roles and operator zones, and every enforcement
-- lookup, written by triggers in the same transaction as the change (a
-- rolled-back change leaves no audit row). Admins read it through the API;
-- nobody writes it except these security definer functions: the API roles
-- have no insert, update or delete grant on it (table_access.sql).

create table if not exists app_public.audit_log (
  id            bigint generated always as identity primary key,
  at            timestamptz not null default now(),
  -- No foreign key: the log outlives the users it names.
  actor_user_id bigint,
  actor_role    text not null,
  table_name    text not null,
  record_id     text,
  action        text not null check (action in ('insert', 'update', 'delete', 'lookup')),
  old_values    jsonb,
  new_values    jsonb
);
create index if not exists audit_log_row_idx on app_public.audit_log (table_name, record_id, at);
create index if not exists audit_log_actor_idx on app_public.audit_log (actor_user_id, at);
create index if not exists audit_log_at_idx on app_public.audit_log (at);
comment on table app_public.audit_log is
  E'@behavior -insert -update -delete\nWho changed what and when: one row per staff change (customers, notes, spots, rates, blocks, refunds, roles, zones) or enforcement lookup, written in the same transaction. Admins only; read-only.';
comment on column app_public.audit_log.at is E'When the change was made (its transaction''s time).';
comment on column app_public.audit_log.actor_user_id is E'The signed-in staff member who made it.';
comment on column app_public.audit_log.actor_role is E'The actor''s role then: operator, admin or enforcement.';
comment on column app_public.audit_log.table_name is E'What was changed: customers, customer_notes, spots, rates, blocks, refunds, users (roles), operator_zones, or enforcement_lookups.';
comment on column app_public.audit_log.record_id is E'The changed row''s id (as text; users and zones: the user id).';
comment on column app_public.audit_log.action is E'insert, update, delete, or lookup (enforcement).';
comment on column app_public.audit_log.old_values is E'The changed columns before (update, delete).';
comment on column app_public.audit_log.new_values is E'The changed columns after (insert, update), or a lookup''s question and answer.';

create or replace function app_hidden.current_actor_role() returns text
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A connection that never took an API role (the owner's: CLI, worker,
  -- imports) is the system. Security definer functions change current_user
  -- but not the `role` setting, so this sees the request's role inside them.
  select coalesce(
    (select u.role from app_public.users u where u.id = app_public.current_user_id()),
    case when coalesce(current_setting('role', true), 'none') in ('none', '') then 'system' else 'anonymous' end);
$$;
comment on function app_hidden.current_actor_role() is
  E'The role of whoever is making the current change: a user''s role, ''system'' for the owner''s own connections, ''anonymous'' for signed-out API requests.';

create or replace function app_private.audit_write(
  table_name text, record_id text, action text, old_values jsonb, new_values jsonb
) returns void
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_public.audit_log (actor_user_id, actor_role, table_name, record_id, action, old_values, new_values)
  values (app_public.current_user_id(), app_hidden.current_actor_role(),
          audit_write.table_name, audit_write.record_id, audit_write.action, audit_write.old_values, audit_write.new_values);
$$;
comment on function app_private.audit_write(text, text, text, jsonb, jsonb) is
  E'Appends one audit row for the current actor.';

create or replace function app_private.tg__audit() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb;
  v_new jsonb;
  v_row_id text;
  v_changed text[];
begin
  -- Staff changes only. A driver's or guest's own side effects (their
  -- customer record appearing when they book) are their history, and the
  -- system's bulk work (the meter import rewriting thousands of spots, the
  -- CLI) would drown the log: neither is a staff change.
  -- Operators and admins are the requests that run as app_operator (the only
  -- staff whose writes reach these triggers: enforcement officers write
  -- lookups through audit_write): everything else returns before any query,
  -- which keeps a guest's booking as cheap as before.
  if current_setting('role', true) is distinct from 'app_operator'
     or app_hidden.current_actor_role() not in ('operator', 'admin') then
    return null;
  end if;
  -- Only now: the rows' JSON would be wasted on every change that is not staff's.
  v_old := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  v_new := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
  v_row_id := coalesce(v_new, v_old) ->> coalesce(tg_argv[1], 'id');
  if tg_op = 'UPDATE' then
    -- Only what changed, without the bookkeeping columns every write touches.
    select array_agg(k) into v_changed
    from jsonb_object_keys(v_new) k
    where k not in ('updated_at', 'updated_by', 'search_text') and (v_old -> k) is distinct from (v_new -> k);
    if v_changed is null then
      return null;
    end if;
    select jsonb_object_agg(k, v_old -> k) into v_old from unnest(v_changed) k;
    select jsonb_object_agg(k, v_new -> k) into v_new from unnest(v_changed) k;
  end if;
  perform app_private.audit_write(
    coalesce(tg_argv[0], tg_table_name),
    v_row_id,
    lower(tg_op), v_old, v_new);
  return null;
end;
$$;
comment on function app_private.tg__audit() is
  E'AFTER row trigger: writes the change (changed columns only, for updates) to app_public.audit_log when staff (operator, admin, enforcement) made it. Arguments: the audited name (default the table''s) and the key column (default id).';

drop trigger if exists _900_audit on app_public.spots;
create trigger _900_audit after insert or update or delete on app_public.spots
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.rates;
create trigger _900_audit after insert or update or delete on app_public.rates
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.rate_hours;
create trigger _900_audit after insert or update or delete on app_public.rate_hours
  for each row execute function app_private.tg__audit('rate_hours', 'rate_id');
drop trigger if exists _900_audit_blocks on app_public.reservations;
create trigger _900_audit_blocks after insert or update on app_public.reservations
  for each row when (new.kind = 'block') execute function app_private.tg__audit('blocks');
drop trigger if exists _900_audit on app_private.refunds;
create trigger _900_audit after insert or update on app_private.refunds
  for each row execute function app_private.tg__audit('refunds');
drop trigger if exists _900_audit_role on app_public.users;
create trigger _900_audit_role after update of role on app_public.users
  for each row when (old.role is distinct from new.role) execute function app_private.tg__audit('users');

create or replace function app_public.audit_entries(
  table_name text default null,
  record_id text default null,
  actor_user_id bigint default null,
  since timestamptz default null,
  until timestamptz default null
) returns setof app_public.audit_log
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The only way to read the log: no API role has a grant on the table.
  perform app_hidden.assert_admin();
  perform app_hidden.assert_filter_length(audit_entries.table_name, 63, 'tableName'),
          app_hidden.assert_filter_length(audit_entries.record_id, 100, 'recordId');
  return query
  select a.* from app_public.audit_log a
  where (audit_entries.table_name is null or a.table_name = audit_entries.table_name)
    and (audit_entries.record_id is null or a.record_id = audit_entries.record_id)
    and (audit_entries.actor_user_id is null or a.actor_user_id = audit_entries.actor_user_id)
    and (audit_entries.since is null or a.at >= audit_entries.since)
    and (audit_entries.until is null or a.at < audit_entries.until)
  order by a.at desc, a.id desc;
end;
$$;
comment on function app_public.audit_entries(text, text, bigint, timestamptz, timestamptz) is
  E'Admins only (SMA10): the audit log, newest first, filtered by what was changed (table name, row id), who changed it, and a time range [since, until). A table name over 63 characters or a row id over 100 is refused (22001).';
--! EndIncluded staff_audit.sql
--! Included reservations_triggers.sql
-- Triggers on reservations: the audit row, the reminder time and the emails
-- of every change, in the transaction that made it; and the one function that
-- queues a reservation's jobs. Security definer because app_private's tables
-- are the owner's alone, and the writer may be any API role.
-- force_generic_plan: plpgsql otherwise re-plans these statements with custom
-- plans on the first calls of every connection (graphile_worker.add_jobs
-- measured 0.85 ms per call, 0.3 ms with generic plans).

create or replace function app_hidden.reservation_email_data_of(r app_public.reservations) returns setof jsonb
  language sql stable
as $$
  -- A set of one row, in sql, with no SET clause: called in FROM (lateral),
  -- PostgreSQL inlines it into the caller's query as a join. A function
  -- called once per row costs about five times as much, and every booking
  -- and every end of the end-of-day burst writes one email a reservation.
  select jsonb_strip_nulls(jsonb_build_object(
    'reservationId', r.id,
    'spotId', r.spot_id,
    'spot', app_public.spots_description(s),
    'startsAt', app_hidden.iso_time(lower(r.period)),
    'endsAt', app_hidden.iso_time(upper(r.period)),
    'timeZone', rt.time_zone,
    'amount', r.amount,
    'currency', r.currency,
    'status', r.status,
    'holdExpiresAt', app_hidden.iso_time(r.hold_expires_at),
    -- Guests' emails lead to the page that asks for the manage code (emails/reservation.ts
    -- makes the link); the token itself is never stored.
    'isGuest', r.user_id is null))
  from app_public.spots s
  join app_public.rates rt on rt.id = s.rate_id
  where s.id = r.spot_id;
$$;
comment on function app_hidden.reservation_email_data_of(app_public.reservations) is
  E'What every reservation email''s template receives (see README: email data keys), as a set of one row for use in FROM: statements that write many emails join it (inlined).';

create or replace function app_hidden.reservation_email_data(r app_public.reservations) returns jsonb
  language plpgsql stable
  -- Given a row variable, the planner chose a custom plan at every call, planning
  -- the inlined joins again each time: 200 µs a call, 20 µs with the generic plan.
  set plan_cache_mode to force_generic_plan
as $$
begin
  return (select d from app_hidden.reservation_email_data_of(r) d);
end;
$$;
comment on function app_hidden.reservation_email_data(app_public.reservations) is
  E'What one reservation email''s template receives (reservation_email_data_of of one row).';

-- The side effects of a change are written per statement, not per row: the
-- due-work sweep ends hundreds of reservations in one UPDATE, and per-row
-- triggers cost about 0.5 ms a row there (a plpgsql call, a plan and an
-- insert each for the audit row, the email and the live event). The
-- statement's rows reach the set-based functions below as one array of
-- (old_row, new_row) pairs (old_row null for an insert), built once from the
-- transition tables. They are plpgsql, as is reservations_live: a sql function
-- with a SET clause is never inlined, and PostgreSQL 15 plans its statement
-- again at every call; plpgsql keeps the plan (measured: pgbench of reserve()
-- at 8 clients went from about 880 to 1,300 bookings/s).

do $$
begin
  create type app_private.reservation_change as (old_row app_public.reservations, new_row app_public.reservations);
exception when duplicate_object then null;
end;
$$;
comment on type app_private.reservation_change is
  E'One row of an insert or update statement on reservations: the row before (null for an insert) and after.';

create or replace function app_private.reservations_audit(changes app_private.reservation_change[])
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  insert into app_private.reservation_events
    (reservation_id, action, old_status, new_status, old_period, new_period, old_amount, new_amount,
     actor_user_id, actor_role)
  select n.id, a.action, o.status, n.status, o.period, n.period, o.amount, n.amount,
         app_public.current_user_id(),
         -- SECURITY DEFINER changes current_user, not the `role` setting the API set.
         coalesce(nullif(current_setting('role', true), 'none'), 'system:' || session_user)
  from unnest(reservations_audit.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then case when n.kind = 'block' then 'blocked' else 'reserved' end
      when n.status is distinct from o.status then n.status::text  -- confirmed, cancelled, completed, expired, …
      when n.period is distinct from o.period then 'end_changed'
      when n.amount is distinct from o.amount or n.hold_expires_at is distinct from o.hold_expires_at then 'updated'
    end as action) a   -- null: nothing a person would call a change
  where a.action is not null
  order by c.ordinality;
end;
$$;
comment on function app_private.reservations_audit(app_private.reservation_change[]) is
  E'Writes the audit row of each inserted or changed reservation of one statement (old_row null for an insert).';

-- Due work lives in the reservation row itself, not in one future job per
-- reservation: its end (upper(period)), its hold deadline (hold_expires_at)
-- and its reminder (remind_at). app_private.due_work_sweep finds what fell
-- due (indexed, SKIP LOCKED) and queues only work that is due now. Booking
-- therefore queues no job: each add_job NOTIFYs, even for a future run_at,
-- and NOTIFYing commits serialise on one cluster-wide lock (STACK-NOTES §11:
-- three keyed add_jobs took booking from ~2,200 to ~450 tx/s at 8 clients).

create or replace function app_private.tg_reservations__remind_at() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_remind_at timestamptz;
begin
  if new.kind <> 'reservation' or new.status <> 'confirmed' then
    new.remind_at := null;
  elsif tg_op = 'INSERT' or new.status is distinct from old.status or new.period is distinct from old.period then
    -- A reminder only when it would come after the start and in the future
    -- (one confirmed too late for it gets none); a stay under an hour is
    -- reminded a quarter of its length before its end (booking_reminder_at).
    v_remind_at := app_hidden.booking_reminder_at(new.period);
    new.remind_at := case when v_remind_at > greatest(now(), lower(new.period)) then v_remind_at end;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_reservations__remind_at() is
  E'Sets remind_at, when the due-work sweep emails a confirmed reservation''s reminder (booking_reminder_at: 15 minutes before its end, a quarter of the stay for one under an hour); moved with the end, cleared once it is no longer confirmed.';

create or replace function app_private.reservation_job_key(task text, reservation_id bigint) returns text
  language sql immutable
as $$
  -- reservation__charge -> reservation_charge:<id>
  select replace(reservation_job_key.task, '__', '_') || ':' || reservation_job_key.reservation_id;
$$;
comment on function app_private.reservation_job_key(text, bigint) is
  E'The graphile-worker job key of a reservation''s job: one waiting job per task and reservation (queuing again replaces it).';

create or replace function app_private.queue_reservation_jobs(
  task text,
  reservation_ids bigint[],
  run_at timestamptz default null,
  priority int default 0,
  max_attempts int default 10
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
begin
  if coalesce(cardinality(queue_reservation_jobs.reservation_ids), 0) = 0 then
    return;
  end if;
  -- A job of the same key that is running (this very job, queuing its own
  -- next run; or another worker's) is superseded. graphile-worker would keep
  -- its row, keyless and marked failed for good (attempts = max_attempts), and
  -- a worker dying before completing it would leave that row for ever: a
  -- failed job in the metrics though its successor does the work. Deleted
  -- instead, in this transaction: completing or failing a deleted job changes
  -- nothing. (Reservation jobs have no named queue, which would stay locked.)
  delete from graphile_worker._private_jobs j
  where j.key = any(array(select app_private.reservation_job_key(queue_reservation_jobs.task, id)
                          from unnest(queue_reservation_jobs.reservation_ids) id))
    and j.locked_at is not null and j.job_queue_id is null;
  -- One add_jobs call, one NOTIFY, however many reservations.
  perform graphile_worker.add_jobs(array(
    select (queue_reservation_jobs.task, json_build_object('reservationId', id), null,
            coalesce(queue_reservation_jobs.run_at, now()), queue_reservation_jobs.max_attempts,
            app_private.reservation_job_key(queue_reservation_jobs.task, id),
            queue_reservation_jobs.priority, null)::graphile_worker.job_spec
    from unnest(queue_reservation_jobs.reservation_ids) id));
end;
$$;
comment on function app_private.queue_reservation_jobs(text, bigint[], timestamptz, int, int) is
  E'Every job of a reservation is queued here, keyed by reservation_job_key: one add_jobs call for many reservations. Priority: lower runs first (new charges 0, retries of old failures 5, emails 10).';

create or replace function app_private.reservations_emails(changes app_private.reservation_change[])
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The same dedupe key twice (a replayed change) is one email, as email_enqueue.
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select e.template, n.email,
         coalesce(d.data, '{}') || case e.template
           when 'reservation_cancelled' then jsonb_build_object('reason',
             case when app_hidden.current_user_is_staff() and n.user_id is distinct from app_public.current_user_id()
                  then 'cancelled_by_operator' else 'cancelled' end)
           when 'reservation_changed' then jsonb_build_object(
             'previousEndsAt', app_hidden.iso_time(upper(o.period)), 'previousAmount', o.amount)
           else '{}'::jsonb end,
         e.template || ':' || n.id || case when e.template = 'reservation_changed'
           then ':' || extract(epoch from n.updated_at) else '' end
  from unnest(reservations_emails.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then 'reservation_held'
      when n.status is distinct from o.status then case n.status
        when 'confirmed' then 'reservation_confirmed'
        when 'cancelled' then 'reservation_cancelled'
        when 'expired'   then 'reservation_expired'
        when 'completed' then 'reservation_ended'
      end  -- payment_failed: the payments code writes that email
      when n.period is distinct from o.period and app_hidden.holds_spot(n.status) then 'reservation_changed'
    end as template) e
  left join lateral app_hidden.reservation_email_data_of(c.new_row) d(data) on true
  where n.kind = 'reservation' and e.template is not null
  order by c.ordinality
  on conflict on constraint emails_dedupe_key_key do nothing;
end;
$$;
comment on function app_private.reservations_emails(app_private.reservation_change[]) is
  E'Queues the email of each inserted or changed reservation of one statement in the outbox: reservation_held, _confirmed, _changed, _cancelled, _expired (a hold never confirmed), _ended.';

create or replace function app_private.tg_reservations__changes() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan
as $$
declare
  v_changes app_private.reservation_change[];
begin
  if tg_op = 'INSERT' then
    v_changes := array(select row(null, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n order by n.id);
  else
    v_changes := array(select row(row(o.*)::app_public.reservations, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n join old_rows o on o.id = n.id order by n.id);
  end if;
  if cardinality(v_changes) = 0 then
    return null;
  end if;
  perform app_private.reservations_audit(v_changes);
  perform app_private.reservations_emails(v_changes);
  perform app_private.reservations_live(v_changes);
  return null;
end;
$$;
comment on function app_private.tg_reservations__changes() is
  E'After each insert or update statement on reservations: its audit rows, emails and live events, set-based (reservations_audit, reservations_emails, reservations_live).';

drop trigger if exists _500_audit on app_public.reservations;
drop trigger if exists _700_notify on app_public.reservations;
drop trigger if exists _800_live on app_public.reservations;
drop trigger if exists _500_changes_inserted on app_public.reservations;
create trigger _500_changes_inserted after insert on app_public.reservations
  referencing new table as new_rows
  for each statement execute function app_private.tg_reservations__changes();
drop trigger if exists _500_changes_updated on app_public.reservations;
create trigger _500_changes_updated after update on app_public.reservations
  referencing old table as old_rows new table as new_rows
  for each statement execute function app_private.tg_reservations__changes();
drop function if exists app_private.tg_reservations__audit();
drop function if exists app_private.tg_reservations__notify();
drop function if exists app_private.tg_reservations__live();
--! EndIncluded reservations_triggers.sql
