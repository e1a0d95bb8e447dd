--! Previous: sha1:0aa234fe8585b632f2cfeb9b6ab388ea8508e4e5
--! Hash: sha1:d7263d8de2d8296b269ad49eb3e537192266b048
--! Message: One function for the live event JSON

-- One function writes an availability event's JSON, for the NOTIFY and for the
-- replay after Last-Event-ID alike (they were two copies of it).

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

-- plpgsql, not sql: a sql function whose body holds a subquery is never
-- inlined, and PostgreSQL 15 plans it again at every call (32 µs a booking).
create or replace function app_private.live_anyone_watching() returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Listeners refresh their tiles every 30 s; one silent for 90 s is gone.
  return exists (select from app_private.live_watched_tiles w where w.seen_at > now() - interval '90 seconds');
end;
$$;
comment on function app_private.live_anyone_watching() is
  E'Whether any API process has a live client (a watched tile refreshed within 90 seconds). Without one, no change records an event.';

create or replace function app_private.live_event_json(e app_private.live_events) returns text
  language sql stable
  -- Times always with +00:00, whatever the session's time zone: a replayed
  -- event must be the same bytes as the live one was.
  set timezone to 'UTC'
as $$
  select json_build_object(
    'id', e.id, 'spotId', e.spot_id::text, 'lat', e.lat, 'lng', e.lng, 'reason', e.reason,
    'startsAt', e.starts_at, 'endsAt', e.ends_at)::text;
$$;
comment on function app_private.live_event_json(app_private.live_events) is
  E'An availability event as clients get it (the NOTIFY payload, and the replay after Last-Event-ID): ids and positions, nothing about who booked.';

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
  select count(pg_notify('live:' || r.tile, app_private.live_event_json(r)))
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
  -- watching, that work and the call cost every booking about 100 µs for nothing.
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
