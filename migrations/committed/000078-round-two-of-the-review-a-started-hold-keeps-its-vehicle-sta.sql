--! Previous: sha1:3a6ebf67fb1842aec7d131667d28ae755158e9b9
--! Hash: sha1:8bdc5f558a0d9131cd4cf26683e780c8aeadf62b
--! Message: Round two of the review: a started hold keeps its vehicle, stays over count against the maximum, and five smaller mends

-- Round two of this stop's review:
-- - attacker: setReservationVehicle let a started hold swap its plate off
--   before lapsing, dodging the lapsed-hold rule (enforcement kept answering
--   valid); a started hold's vehicle is now fixed until a card confirms it
--   (SMB09). Every event row records the plate before and after.
-- - attacker: the maximum stay joined only stays still holding the spot, so
--   ending one and booking again at once reset it; stays over and used
--   (completed, payment failed) count too, and the plate alone joins them.
-- - attacker: a second card set-up asked while a new card's charge was on its
--   way took that card from it (a failed attempt, a second email); only a
--   card already declined makes way for a new set-up.
-- - client developer: Customer.payments answered SMC01 for non-staff and
--   nulled the object above it (currentUser); now empty, as RLS answers.
-- - client developer: a dozen addresses could still lock the owner out
--   through the per-email sign-in ceiling; addresses the account has signed in
--   from are not counted against it (as password reset already does).
-- - client developer: reservationEndQuote refuses what the change or end
--   would (SMB02, SMB13, SMB09); SMB13 for a card's debt names no one else's
--   reservation (app_private.assert_may_extend, shared).
alter table app_private.reservation_events
  add column if not exists old_plate text,
  add column if not exists new_plate text;
comment on column app_private.reservation_events.old_plate is E'The plate and state the reservation named before the change (null: none).';
comment on column app_private.reservation_events.new_plate is E'The plate and state it names after.';
drop function if exists app_private.unpaid_behind(app_public.reservations);
--! Included reservations_rules.sql
-- The booking rules' constants and the checks every booking function shares.
-- A constant lives in one immutable function so SQL, tests and README quote
-- the same number.

create or replace function app_hidden.booking_hold_time() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_hold_time() is
  E'How long a new reservation stays held without confirmed payment set-up before it expires (capped at its end).';

create or replace function app_hidden.booking_reminder_lead() returns interval
  language sql immutable as $$ select interval '15 minutes' $$;
comment on function app_hidden.booking_reminder_lead() is
  E'How long before a confirmed reservation ends its driver gets a reminder (less for stays under an hour: booking_reminder_at).';

create or replace function app_hidden.booking_reminder_at(period tstzrange) returns timestamptz
  language sql immutable
as $$
  -- A stay under an hour is reminded a quarter of its length before its end
  -- (a 2-minute stay: 30 s before), so a short stay still gets its reminder
  -- while there is time left to extend.
  select upper(period) - least(app_hidden.booking_reminder_lead(), (upper(period) - lower(period)) / 4);
$$;
comment on function app_hidden.booking_reminder_at(tstzrange) is
  E'When the reminder of a stay is due: 15 minutes before its end, or a quarter of the stay before its end when it lasts under an hour.';

create or replace function app_hidden.booking_horizon() returns interval
  language sql immutable as $$ select interval '90 days' $$;
comment on function app_hidden.booking_horizon() is
  E'How far ahead a reservation may start (the same as search''s horizon).';

create or replace function app_hidden.max_stay() returns interval
  language sql immutable as $$ select interval '7 days' $$;
comment on function app_hidden.max_stay() is
  E'The longest stay anywhere: the longest window a quote or a search prices (assert_window), and the most a spot''s own maximum stay may be (spot_max_stay).';

create or replace function app_hidden.holds_per_driver() returns int
  language sql immutable as $$ select 3 $$;
comment on function app_hidden.holds_per_driver() is
  E'How many reservations one email or signed-in driver may hold at once (held, not yet expired) before SMB12.';

create or replace function app_hidden.guest_bookings_per_email_hour() returns int
  language sql immutable as $$ select 10 $$;
comment on function app_hidden.guest_bookings_per_email_hour() is
  E'How many guest reservations one email may be given in an hour, whatever became of them, before SMB12: each one mails that address, and cancelling frees its hold at once.';

create or replace function app_hidden.holds_per_address() returns int
  language sql stable as $$
  -- The API sends the server's HOLDS_PER_ADDRESS with every request (server/config.ts, whose
  -- default is this one); other callers (the CLI, tests in SQL) get the default.
  select coalesce(nullif(current_setting('app.holds_per_address', true), '')::int, 10)
$$;
comment on function app_hidden.holds_per_address() is
  E'How many reservations one client address may hold at once before SMB12: app.holds_per_address (the server''s HOLDS_PER_ADDRESS), else 10.';

create or replace function app_hidden.booking_start_grace() returns interval
  language sql immutable as $$ select interval '5 minutes' $$;
comment on function app_hidden.booking_start_grace() is
  E'A start this little in the past (a slow phone, a skewed clock) is read as "now"; earlier is refused.';

create or replace function app_hidden.block_max_length() returns interval
  language sql immutable as $$ select interval '366 days' $$;
comment on function app_hidden.block_max_length() is E'Longest single operator block.';

create or replace function app_hidden.human_duration(d interval) returns text
  language sql immutable
as $$
  -- 90 minutes -> "1 h 30 min"; 2 hours -> "2 h"; days are written as hours.
  select concat_ws(' ',
    case when floor(extract(epoch from d) / 3600) > 0 then floor(extract(epoch from d) / 3600)::bigint || ' h' end,
    case when floor(extract(epoch from d) / 60)::bigint % 60 > 0 then (floor(extract(epoch from d) / 60)::bigint % 60) || ' min' end);
$$;
comment on function app_hidden.human_duration(interval) is E'A length of time in words a driver reads (h, min).';

create or replace function app_hidden.lock_spot(spot_id bigint) returns void
  language sql volatile
as $$
  -- One advisory lock per spot, held to the end of the transaction. Writers of
  -- a spot's periods queue here instead of on each other's uncommitted index
  -- entries in the exclusion constraint (which collapses throughput under
  -- contention); the constraint stays the guarantee. Key space 7340 = 'booking'.
  -- Rule: every write that leaves a row spot-holding (insert, new period,
  -- held -> confirmed) takes this lock first, after the row lock if it has
  -- one; writes that free a spot (cancel, end, expire) need not.
  -- Otherwise two writers can wait on each other's index entries: a deadlock.
  select pg_advisory_xact_lock(7340, (lock_spot.spot_id % 2147483647)::int);
$$;
comment on function app_hidden.lock_spot(bigint) is
  E'Serialises the writers of one spot''s reservations until the transaction ends.';

create or replace function app_hidden.min_stay() returns interval
  language sql immutable as $$ select interval '1 minute' $$;
comment on function app_hidden.min_stay() is
  E'The shortest reservation, by duration or by end, and a changed end before the start (SMB03).';

create or replace function app_hidden.assert_min_stay(time_window tstzrange) returns void
  language plpgsql immutable
as $$
begin
  if upper(time_window) - lower(time_window) < app_hidden.min_stay() then
    raise exception 'A reservation lasts at least %', app_hidden.human_duration(app_hidden.min_stay())
      using errcode = 'SMB03';
  end if;
end;
$$;
comment on function app_hidden.assert_min_stay(tstzrange) is
  E'Error SMB03 when the window is shorter than min_stay.';

create or replace function app_hidden.booking_window(
  starts_at timestamptz, ends_at timestamptz, duration_minutes int
) returns tstzrange
  language plpgsql stable
as $$
declare
  v_start timestamptz := coalesce(booking_window.starts_at, now());
  v_end   timestamptz;
begin
  if not isfinite(v_start) then
    raise exception 'The start time is not a real date and time' using errcode = 'SMB03';
  end if;
  if v_start < now() - app_hidden.booking_start_grace() then
    raise exception 'The start time is in the past; pick a time from now on' using errcode = 'SMB03';
  end if;
  v_start := greatest(v_start, now());
  if v_start > now() + app_hidden.booking_horizon() then
    raise exception 'Reservations can start at most % days ahead',
      extract(day from app_hidden.booking_horizon()) using errcode = 'SMB05';
  end if;
  if booking_window.ends_at is not null and booking_window.duration_minutes is not null then
    raise exception 'Give an end time or a duration, not both' using errcode = 'SMB03';
  elsif booking_window.duration_minutes is not null then
    if booking_window.duration_minutes <= 0 then
      raise exception 'The duration must be at least one minute' using errcode = 'SMB03';
    end if;
    v_end := v_start + make_interval(mins => booking_window.duration_minutes);
  elsif booking_window.ends_at is not null then
    if not isfinite(booking_window.ends_at) then
      raise exception 'The end time is not a real date and time' using errcode = 'SMB03';
    end if;
    v_end := booking_window.ends_at;
  else
    raise exception 'Give an end time or a duration' using errcode = 'SMB03';
  end if;
  if v_end <= v_start then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  -- The same floor as durationMinutes' (an end a microsecond after the start was taken).
  perform app_hidden.assert_min_stay(tstzrange(v_start, v_end, '[)'));
  return tstzrange(v_start, v_end, '[)');
end;
$$;
comment on function app_hidden.booking_window(timestamptz, timestamptz, int) is
  E'The window [start, end) a reservation asks for: start defaults to now, the end is given or start + duration. Errors SMB03 (bad window) or SMB05 (beyond the horizon).';

create or replace function app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) returns void
  language plpgsql stable
as $$
begin
  if upper(time_window) - lower(time_window) > spot.max_stay then
    raise exception 'This spot can be reserved for at most %', app_hidden.human_duration(spot.max_stay)
      using errcode = 'SMB04';
  end if;
end;
$$;
comment on function app_hidden.assert_max_stay(app_public.spots, tstzrange) is
  E'Error SMB04 when the window is longer than the spot''s maximum stay.';

create or replace function app_hidden.max_stay_rest() returns interval
  language sql immutable as $$ select interval '1 hour' $$;
comment on function app_hidden.max_stay_rest() is
  E'How long a driver must be away from a spot before a new stay there counts on its own against the maximum stay (as street signs say "no return within 1 hour").';

-- The plate joined the rule, and stays already over count too (stop 33): the
-- earlier forms go, or calls with fewer arguments would match more than one.
drop function if exists app_hidden.assert_max_stay_joined(app_public.spots, tstzrange, bigint, citext, bigint);
drop function if exists app_hidden.assert_max_stay_joined(app_public.spots, tstzrange, bigint, citext, bigint, text, text);
create or replace function app_hidden.assert_max_stay_joined(
  spot app_public.spots, time_window tstzrange, user_id bigint, email citext,
  except_id bigint default null, plate text default null
) returns void
  language plpgsql stable
as $$
declare
  v_span tstzrange := time_window;
  v_next tstzrange;
  v_near tstzrange;
begin
  -- The driver's (or the guest email's) own stays on this spot less than
  -- max_stay_rest apart join this one: booked back to back, two stays within
  -- the limit are one stay beyond it. So do the stays of the same vehicle,
  -- whoever booked them: the limit is the street's, and enforcement reads the
  -- plate (its state is the driver's word, so the plate alone), so a second
  -- email for the same car must not reset it. Stays already over count as
  -- they were used (ending early trims the period), or ending a stay and
  -- booking again at once would reset it. Callers hold the spot's lock, so
  -- none is added meanwhile.
  loop
    v_near := tstzrange(lower(v_span) - app_hidden.max_stay_rest(), upper(v_span) + app_hidden.max_stay_rest(), '[)');
    select tstzrange(least(lower(v_span), min(lower(u.period))), greatest(upper(v_span), max(upper(u.period))), '[)')
    into v_next
    from (
      -- Holding the spot: through its exclusion index (spot and period).
      select r.id, r.period, r.user_id, r.email, r.plate from app_public.reservations r
      where r.spot_id = spot.id and r.kind = 'reservation' and app_hidden.holds_spot(r.status)
        and r.period && v_near
      union all
      -- Over, the spot used: through reservations_ended_stay_idx.
      select r.id, r.period, r.user_id, r.email, r.plate from app_public.reservations r
      where r.spot_id = spot.id and r.status in ('completed', 'payment_failed')
        and upper(r.period) > lower(v_near) and lower(r.period) < upper(v_near)
    ) u
    where u.id is distinct from except_id
      and (case when assert_max_stay_joined.user_id is not null then u.user_id = assert_max_stay_joined.user_id
                else u.user_id is null and u.email = assert_max_stay_joined.email end
           or u.plate = assert_max_stay_joined.plate);
    exit when v_next is null or v_next = v_span;
    v_span := v_next;
  end loop;
  if upper(v_span) - lower(v_span) > spot.max_stay then
    raise exception 'This spot can be reserved for at most % in a row: your stays there (or this vehicle''s) less than % apart count as one',
      app_hidden.human_duration(spot.max_stay), app_hidden.human_duration(app_hidden.max_stay_rest())
      using errcode = 'SMB04';
  end if;
end;
$$;
comment on function app_hidden.assert_max_stay_joined(app_public.spots, tstzrange, bigint, citext, bigint, text) is
  E'Error SMB04 when the window, joined with the same driver''s (or guest email''s), or the same plate''s, stays on the spot less than max_stay_rest apart (held, confirmed, or over and used: completed, payment failed; other than except_id), is longer than the spot''s maximum stay.';

-- The ended stays assert_max_stay_joined reads, by spot and end.
create index if not exists reservations_ended_stay_idx on app_public.reservations (spot_id, upper(period))
  where status in ('completed', 'payment_failed');

create or replace function app_hidden.guest_email(email text) returns citext
  language plpgsql immutable
as $$
begin
  if email is null or btrim(email) = '' then
    raise exception 'Sign in, or give an email address to reserve as a guest' using errcode = 'SMB08';
  end if;
  -- The one rule for addresses (accounts use it too): a looser pattern let
  -- `x<victim@example.com>` through, and the mail went to the victim.
  if not app_hidden.email_is_valid(btrim(email)) then
    raise exception 'That email address does not look right' using errcode = 'SMB08';
  end if;
  return btrim(email)::citext;
end;
$$;
comment on function app_hidden.guest_email(text) is E'A guest''s email, trimmed, or error SMB08.';

create or replace function app_hidden.iso_time(t timestamptz) returns text
  language sql stable
as $$
  -- Stable, as to_char is: declared immutable, PostgreSQL would not inline it
  -- and every email's data would pay three function calls.
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;
comment on function app_hidden.iso_time(timestamptz) is E'ISO 8601 in UTC, whatever the session time zone.';
--! EndIncluded reservations_rules.sql
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
     old_plate, new_plate, actor_user_id, actor_role)
  select n.id, a.action, o.status, n.status, o.period, n.period, o.amount, n.amount,
         -- Which car a booking named when: disputes, and enforcement's rules, read the plate.
         nullif(concat_ws(' ', o.plate, o.plate_state), ''), nullif(concat_ws(' ', n.plate, n.plate_state), ''),
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
      when n.plate is distinct from o.plate or n.plate_state is distinct from o.plate_state then 'vehicle_changed'
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
--! Included reservations_lifecycle.sql
-- A reservation's life after it is made: change its end, end it now, cancel
-- it, confirm its payment set-up, and what the scheduled jobs do at its hold
-- deadline, before its end and at its end. States:
--   held -> confirmed -> completed (-> payment_failed, by the payments code)
--   held -> expired (hold deadline passed, or its end came while still held)
--   held | confirmed -> cancelled (before the start, free of charge)

create or replace function app_hidden.assert_changeable(r app_public.reservations) returns void
  language plpgsql stable
as $$
begin
  if not app_hidden.holds_spot(r.status) or upper(r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when app_hidden.holds_spot(r.status) then 'over' else r.status::text end
      using errcode = 'SMB07';
  end if;
end;
$$;
comment on function app_hidden.assert_changeable(app_public.reservations) is
  E'Error SMB07 unless the reservation still holds its spot (held or confirmed) and is not over: what may have its end or its vehicle changed.';

create or replace function app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange)
  returns app_public.price_quote
  language sql stable
as $$
  -- Reservations made before rate_terms existed had theirs copied when it
  -- came (migration 000043); the spot's rate now is only a last resort.
  select app_hidden.quote_terms(
    coalesce(r.rate_terms,
             app_hidden.rate_terms((select s.rate_id from app_public.spots s where s.id = r.spot_id))),
    reservation_quote.time_window);
$$;
comment on function app_hidden.reservation_quote(app_public.reservations, tstzrange) is
  E'The price of a new window for a reservation under the rate terms it was booked with (rate_terms): an end moved later or earlier is priced as the rate stood at booking.';

create or replace function app_public.reservation_end_quote(
  reservation_id bigint,
  ends_at timestamptz,
  manage_token text default null
) returns app_public.price_quote
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations := app_private.reservation_for_caller(
    reservation_end_quote.reservation_id, reservation_end_quote.manage_token, false);
  v_end timestamptz;
  v_spot app_public.spots;
begin
  -- Only what can still be ended or moved has such a price.
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and can no longer be ended or changed', v_r.status using errcode = 'SMB07';
  end if;
  -- Left out: now, what endReservation would charge (and refuse, not started).
  if reservation_end_quote.ends_at is null and lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)' using errcode = 'SMB09';
  end if;
  v_end := coalesce(reservation_end_quote.ends_at, now());
  if not isfinite(v_end) then
    raise exception 'Give the end time to price' using errcode = 'SMB03';
  end if;
  if v_end <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  -- A later end meets what changeReservationEnd would check.
  if v_end > upper(v_r.period) then
    select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
    perform app_private.assert_may_extend(v_r, v_spot);
    perform app_hidden.assert_max_stay(v_spot, tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  return app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
end;
$$;
comment on function app_public.reservation_end_quote(bigint, timestamptz, text) is
  E'What your reservation would cost if it ended at endsAt (left out: now, what endReservation would charge; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended. Guests pass the manage token (SMB06 otherwise); refused as the change or the end would be: SMB03 for an end not after the start, SMB09 for now before the start, and for a later end SMB02 (spot out of service), SMB13 (an unpaid charge of the driver or card) or SMB04 (beyond the spot''s maximum stay); SMB07 once it is completed, cancelled or expired.';

create or replace function app_private.assert_may_extend(r app_public.reservations, spot app_public.spots)
  returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_unpaid bigint;
begin
  -- Reservations made before a spot went out of service are honoured as
  -- made; more time on it would be a new use.
  if spot.status <> 'active' then
    raise exception 'This spot is out of service: the reservation can be shortened, not extended' using errcode = 'SMB02';
  end if;
  -- More time is more credit: not while the verified driver who booked it, or
  -- the card behind it, has a charge that failed and is still unpaid (the
  -- debts reserve, SMB13, and the card set-up, SMP10, look for). A declined
  -- card would otherwise stretch every reservation it backed before the
  -- decline, and fail again at each end.
  select min(u.id) into v_unpaid from app_public.reservations u
  where u.status = 'payment_failed' and u.id <> r.id
    and r.verified_booker_id is not null and u.verified_booker_id = r.verified_booker_id;
  if v_unpaid is not null then
    raise exception 'Reservation #% is unpaid (its charge failed): pay it with another card before extending this one', v_unpaid
      using errcode = 'SMB13';
  end if;
  -- The card's debt may be someone else's reservation: no number.
  if exists (select from app_private.setup_intents si
             join app_private.declined_cards d on d.card_fingerprint = si.card_fingerprint
             join app_public.reservations u on u.id = d.reservation_id
             where si.reservation_id = r.id and u.id <> r.id and u.status = 'payment_failed') then
    raise exception 'The card on this reservation has an unpaid charge: pay it with another card, or give this reservation another card, before extending it'
      using errcode = 'SMB13';
  end if;
end;
$$;
comment on function app_private.assert_may_extend(app_public.reservations, app_public.spots) is
  E'Error SMB02 when the spot is out of service, SMB13 when the verified driver who booked r, or the card behind r, has an unpaid failed charge: what refuses a later end (changeReservationEnd and its quote).';

create or replace function app_public.change_reservation_end(
  reservation_id bigint,
  ends_at timestamptz,
  manage_token text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r      app_public.reservations;
  v_spot   app_public.spots;
  v_window tstzrange;
  v_quote  app_public.price_quote;
begin
  v_r := app_private.reservation_for_caller(change_reservation_end.reservation_id, change_reservation_end.manage_token, true);
  perform app_hidden.assert_changeable(v_r);
  if change_reservation_end.ends_at is null or not isfinite(change_reservation_end.ends_at) then
    raise exception 'Give the new end time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at <= now() then
    raise exception 'The new end time has already passed' using errcode = 'SMB09';
  end if;
  if change_reservation_end.ends_at <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at = upper(v_r.period) then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  v_window := tstzrange(lower(v_r.period), change_reservation_end.ends_at, '[)');
  -- Not started yet, it is still a booking: the floor reserve has. (Started,
  -- any end still to come will do: it is ending it a little later.)
  if lower(v_r.period) > now() then
    perform app_hidden.assert_min_stay(v_window);
  end if;
  select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  v_quote := app_hidden.reservation_quote(v_r, v_window);

  -- Row lock first (above), then the spot's: every writer takes them in this order.
  perform app_hidden.lock_spot(v_r.spot_id);
  if change_reservation_end.ends_at > upper(v_r.period) then
    perform app_private.assert_may_extend(v_r, v_spot);
    perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_r.user_id, v_r.email, v_r.id, v_r.plate);
  end if;
  begin
    update app_public.reservations r
    set period = v_window, amount = v_quote.amount, currency = v_quote.currency,
        -- A hold never outlives the reservation it holds.
        hold_expires_at = case when r.status = 'held'
          then least(r.hold_expires_at, upper(v_window)) end
    where r.id = v_r.id
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, the spot is taken by someone else after your current end time'
      using errcode = 'SMB01';
  end;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.change_reservation_end(bigint, timestamptz, text) is
  E'Moves the end of your reservation (longer or shorter) and re-prices it at the rate it was booked under (a rate changed since does not apply). Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start or leaves less than a minute (SMB03), extends a reservation on a spot out of service (SMB02), exceeds the spot''s maximum stay (SMB04), extends while a reservation of the same verified driver or card is unpaid (SMB13), or the reservation is over, cancelled or expired (SMB07).';

create or replace function app_private.complete_reservation(reservation_id bigint, ended_at timestamptz)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r     app_public.reservations;
  v_end   timestamptz;
  v_quote app_public.price_quote;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = complete_reservation.reservation_id for update;
  -- Never an empty period: one microsecond is the least a started reservation lasts.
  v_end := greatest(least(complete_reservation.ended_at, upper(v_r.period)),
                    lower(v_r.period) + interval '1 microsecond');
  if v_end = upper(v_r.period) then
    v_quote := row(v_r.amount, v_r.currency, null)::app_public.price_quote;  -- ran its course: as quoted
  else
    v_quote := app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  update app_public.reservations r
  set status = 'completed', period = tstzrange(lower(v_r.period), v_end, '[)'),
      amount = v_quote.amount, currency = v_quote.currency, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  -- The final charge: implemented by the payments code (task reservation__charge).
  perform app_private.queue_reservation_jobs('reservation__charge', array[v_r.id]);
  return v_r;
end;
$$;
comment on function app_private.complete_reservation(bigint, timestamptz) is
  E'Marks a reservation completed at ended_at (at most its end), fixes the final amount (the time used, minimum charge included, when it ends early) and queues its charge.';

create or replace function app_public.end_reservation(reservation_id bigint, manage_token text default null)
  returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(end_reservation.reservation_id, end_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be ended', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)'
      using errcode = 'SMB09';
  end if;
  if v_r.status = 'held' then
    -- No card was ever set up: ended, it is what its end would make of it
    -- (reservations_end_due), expired with nothing to charge. Completing it
    -- would charge a card that does not exist and leave a debt on the email.
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    where r.id = v_r.id
    returning * into v_r;
    return row(v_r, null)::app_public.reservation_result;
  end if;
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;
comment on function app_public.end_reservation(bigint, text) is
  E'Ends a reservation that has started, now: it is charged for the time used at the rate it was booked under (never less than the rate''s minimum charge) and the spot is free again. One still held (no card set up) expires instead, with no charge. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

create or replace function app_public.set_reservation_vehicle(
  reservation_id bigint,
  plate text,
  plate_state text default null,
  manage_token text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r     app_public.reservations;
  v_plate text;
  v_state text;
begin
  v_r := app_private.reservation_for_caller(set_reservation_vehicle.reservation_id, set_reservation_vehicle.manage_token, true);
  perform app_hidden.assert_changeable(v_r);
  select v.plate, v.plate_state into v_plate, v_state
  from app_hidden.vehicle(set_reservation_vehicle.plate, set_reservation_vehicle.plate_state) v;
  if v_plate is not distinct from v_r.plate and v_state is not distinct from v_r.plate_state then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  -- A hold that lapses after its start bars its plate's next holds for a day
  -- (enforcement_lookup): swapping the plate off before it lapses would dodge
  -- that, so a started hold keeps its vehicle until a card confirms it.
  if v_r.status = 'held' and lower(v_r.period) <= now() then
    raise exception 'A hold''s vehicle cannot change once it has started: give a card first' using errcode = 'SMB09';
  end if;
  -- Another car on the same stay is that car's stay: it meets the spot's
  -- maximum with that car's stays around it, as booking it would.
  perform app_hidden.lock_spot(v_r.spot_id);
  if v_plate is not null then
    perform app_hidden.assert_max_stay_joined((select s from app_public.spots s where s.id = v_r.spot_id),
                                              v_r.period, null, null, v_r.id, v_plate);
  end if;
  update app_public.reservations r set plate = v_plate, plate_state = v_state
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.set_reservation_vehicle(bigint, text, text, text) is
  E'Names the vehicle parked on your reservation (a plate left out removes it), for enforcement: a driver who booked without one, or changed cars. Guests pass the manage token (SMB06 otherwise). SME01 for a malformed plate or a state without a plate, SMB04 when that vehicle''s stays on the spot less than an hour apart would exceed its maximum, SMB09 for a hold already started (a card first), SMB07 once the reservation is over, cancelled or expired.';

create or replace function app_public.cancel_reservation(reservation_id bigint, manage_token text default null)
  returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(cancel_reservation.reservation_id, cancel_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be cancelled', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) <= now() then
    raise exception 'This reservation has already started; end it now instead (%)',
      case when v_r.status = 'held' then 'no card was set up, so nothing is charged'
           else 'you pay only for the time used' end
      using errcode = 'SMB09';
  end if;
  update app_public.reservations r
  set status = 'cancelled', amount = 0, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;
comment on function app_public.cancel_reservation(bigint, text) is
  E'Cancels a reservation before it starts, free of charge (nothing is ever charged for a cancelled reservation). Once it has started, end it instead (SMB09). Guests pass the manage token.';

create or replace function app_private.confirm_held_reservation(reservation_id bigint)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = confirm_held_reservation.reservation_id and r.kind = 'reservation'
  for update;
  if not found then
    raise exception 'There is no reservation %', coalesce(confirm_held_reservation.reservation_id::text, '(none given)') using errcode = 'SMB06';
  end if;
  if v_r.status = 'confirmed' then
    return v_r;  -- a replayed webhook or a second confirm: nothing to do
  end if;
  if v_r.status <> 'held' then
    raise exception 'This reservation is % and can no longer be confirmed', v_r.status using errcode = 'SMB07';
  end if;
  -- The confirmed row is a new entry in the exclusion index: without the spot
  -- lock, this update and a concurrent reserve() of an overlapping window
  -- could each wait for the other (a deadlock, seen in the randomized test).
  perform app_hidden.lock_spot(v_r.spot_id);
  update app_public.reservations r
  set status = 'confirmed', hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;
comment on function app_private.confirm_held_reservation(bigint) is
  E'held -> confirmed (the payments code calls it once the card is set up). Idempotent; SMB07 when the hold already expired or the reservation was cancelled.';

--------------------------------------------------------------------------------
-- Due work: what the due_work__sweep task runs, about every second, as the
-- owner. Each function takes at most max_rows due rows (oldest first, SKIP
-- LOCKED, so sweeps running side by side split the work instead of waiting)
-- and returns how many it handled; the task calls it again while it returns
-- max_rows. Each row leaves the "due" condition in the same statement, so a
-- row is handled once.

create or replace function app_private.reservations_end_due(max_rows int default 500) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ended int;
  v_completed bigint[];
begin
  with due as (
    select r.id from app_public.reservations r
    where r.kind = 'reservation' and app_hidden.holds_spot(r.status) and upper(r.period) <= now()
    order by upper(r.period)
    limit reservations_end_due.max_rows
    for update skip locked
  ), ended as (
    -- Ran its course: charged as quoted. Still held at its end: expired, no
    -- charge, and its amount 0 as a cancelled one's (it read as a price due).
    update app_public.reservations r
    set status = case when r.status = 'held' then 'expired' else 'completed' end::app_public.reservation_status,
        amount = case when r.status = 'held' then 0 else r.amount end,
        hold_expires_at = null
    from due where r.id = due.id
    returning r.id, r.status
  )
  select count(*)::int, array_agg(e.id) filter (where e.status = 'completed')
  into v_ended, v_completed from ended e;
  -- Their charges, in batch jobs queued by one add_jobs call.
  perform app_private.queue_charge_batches(v_completed);
  return v_ended;
end;
$$;
comment on function app_private.reservations_end_due(int) is
  E'Ends reservations whose end has come: confirmed -> completed (spot free, charge queued in a batch job), still held -> expired. At most max_rows; returns how many.';

create or replace function app_private.holds_expire_due(max_rows int default 500) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with due as (
    select r.id from app_public.reservations r
    where r.status = 'held' and r.hold_expires_at <= now()
    order by r.hold_expires_at
    limit holds_expire_due.max_rows
    for update skip locked
  ), expired as (
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    from due where r.id = due.id
    returning 1
  )
  select count(*)::int from expired;
$$;
comment on function app_private.holds_expire_due(int) is
  E'Expires holds whose deadline passed without a confirmed card, freeing their spots. At most max_rows; returns how many.';

create or replace function app_private.reminders_send_due(max_rows int default 500) returns int
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  with due as (
    select r.id from app_public.reservations r
    where r.remind_at <= now()
    order by r.remind_at
    limit reminders_send_due.max_rows
    for update skip locked
  ), reminded as (
    update app_public.reservations r
    set remind_at = null
    from due where r.id = due.id
    returning r.*
  )
  -- Once per end time: a reminder re-armed by a changed end is a new email.
  select count(app_private.email_enqueue('reservation_reminder', m.email, d.data,
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  left join lateral app_hidden.reservation_email_data_of(m::app_public.reservations) d(data) on true
  where m.status = 'confirmed' and upper(m.period) > now();
$$;
comment on function app_private.reminders_send_due(int) is
  E'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';
--! EndIncluded reservations_lifecycle.sql
--! Included reservations_booking.sql
-- Reserving a spot. Security definer because the row is written with a price
-- the caller must not choose and, for guests, a secret the caller must not
-- read back; API roles have no insert grant on reservations at all.

-- (Its second parameter was renamed: a verified booker's, not any account's.)
drop function if exists app_private.assert_hold_allowed(citext, bigint, inet);
create or replace function app_private.assert_hold_allowed(email citext, verified_booker_id bigint, client_ip inet) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_per_address int := app_hidden.holds_per_address();
  v_per_hour    int := app_hidden.guest_bookings_per_email_hour();
  v_held        int;
begin
  -- One script must not hold every spot in the city (a hold costs nothing for
  -- booking_hold_time) nor mail-bomb an address. Counted under a lock per email and
  -- per address, always in that order, so concurrent bookings cannot each
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('holds:email:' || lower(email::text), 0));
  perform pg_advisory_xact_lock(hashtextextended('holds:ip:' || host(client_ip), 0));
  -- Each count starts from the driver's or the email's own rows and stops at
  -- the limit; one query per case, since plpgsql's generic plan of a query
  -- covering both read every held reservation in the city at every booking.
  -- (`offset 0` keeps the deadline out of the index choice: the driver's and
  -- the email's indexes are read, never the index of every hold by deadline.)
  if assert_hold_allowed.verified_booker_id is not null then
    -- A verified driver's own holds only: holds a stranger made as a guest
    -- with the driver's address (claimed into the account at sign-in or not)
    -- must not lock the driver out. An unverified account is counted by its
    -- email, as a guest is: nobody has proved the address is theirs.
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.verified_booker_id = assert_hold_allowed.verified_booker_id offset 0) h
      where h.hold_expires_at > now()) held;
  else
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.email = assert_hold_allowed.email offset 0) h
      where h.hold_expires_at > now()) held;
    -- Holds come and go (cancelled at once, each with two emails): guests are
    -- also bounded by how many reservations their email was given this hour.
    if (select count(*) from (
          select from app_public.reservations r
          where r.user_id is null and r.email = assert_hold_allowed.email and r.created_at > now() - interval '1 hour'
          limit v_per_hour) made) >= v_per_hour then
      raise exception 'Too many guest reservations for this email in the last hour (at most %): try again later, or sign in to a verified account',
        v_per_hour using errcode = 'SMB12';
    end if;
  end if;
  if v_held >= app_hidden.holds_per_driver()
     or (select count(*) from (
          select from app_private.reservation_origins o
          where o.client_ip = assert_hold_allowed.client_ip
            -- A scalar subquery, never turned into a join: one key look-up per row of this address.
            and (select r.status = 'held' and r.hold_expires_at > now()
                 from app_public.reservations r where r.id = o.reservation_id) is true
          limit v_per_address) held) >= v_per_address then
    raise exception 'Too many reservations waiting for a card: finish or cancel one first (at most % per email or account, and a limit per network address)',
      app_hidden.holds_per_driver() using errcode = 'SMB12';
  end if;
end;
$$;
comment on function app_private.assert_hold_allowed(citext, bigint, inet) is
  E'Error SMB12 when one more hold would give a verified driver (the holds they booked themselves; pass null for a guest or an unverified account, counted by email) or an email more than holds_per_driver (3) active holds (held, not yet expired), a client address more than holds_per_address (the server''s HOLDS_PER_ADDRESS, 10 by default), or a guest email more than guest_bookings_per_email_hour (10) reservations in the last hour.';

create or replace function app_public.reserve(
  spot_id bigint,
  starts_at timestamptz default null,
  ends_at timestamptz default null,
  duration_minutes int default null,
  email text default null,
  plate text default null,
  plate_state text default null
) returns app_public.reservation_result
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_email   citext;
  v_window  tstzrange;
  v_spot    app_public.spots;
  v_rate    app_public.rates;
  v_hours   app_public.rate_hours[];
  v_terms   jsonb;
  v_quote   app_public.price_quote;
  v_token   text;
  v_unpaid  bigint;
  -- The account, when its email is verified: only then does it answer for
  -- what it books (SMB13, its own hold count).
  v_booker  bigint;
  v_r       app_public.reservations;
  v_ip      inet := app_hidden.client_ip();
  v_plate   text;
  v_state   text;
begin
  -- The vehicle is optional; a malformed one is refused (SME01) before anything is written.
  select v.plate, v.plate_state into v_plate, v_state from app_hidden.vehicle(reserve.plate, reserve.plate_state) v;
  if v_user_id is not null then
    -- A signed-in driver's reservation goes to their account's address.
    select u.email, case when u.is_verified then u.id end into v_email, v_booker from app_public.users u where u.id = v_user_id;
    -- A driver whose charge failed books nothing more until it is paid: a
    -- card that sets up but never pays would otherwise park for free forever.
    -- Only what the driver booked with the address proved counts: anyone can
    -- book as a guest with someone's email (claimed at their sign-in), or
    -- sign up with it before its owner does.
    select min(r.id) into v_unpaid from app_public.reservations r where r.verified_booker_id = v_booker and r.status = 'payment_failed';
    if v_unpaid is not null then
      raise exception 'You have an unpaid reservation (#%): pay it with another card first', v_unpaid using errcode = 'SMB13';
    end if;
  else
    v_email := app_hidden.guest_email(reserve.email);
  end if;
  v_window := app_hidden.booking_window(reserve.starts_at, reserve.ends_at, reserve.duration_minutes);
  if reserve.spot_id is null then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  end if;

  perform app_hidden.lock_spot(reserve.spot_id);
  select s.* into v_spot from app_public.spots s where s.id = reserve.spot_id;
  if not found then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  elsif v_spot.status <> 'active' then
    raise exception 'This spot is out of service and cannot be reserved' using errcode = 'SMB02';
  end if;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_user_id, v_email, null, v_plate);
  -- The rate's terms as they are now: this quote and every later re-pricing of
  -- the reservation (ended early, moved end) come from this copy, so a rate
  -- changed afterwards never changes what this driver was promised.
  select r.* into v_rate from app_public.rates r where r.id = v_spot.rate_id;
  v_hours := array(select h from app_public.rate_hours h where h.rate_id = v_rate.id);
  v_quote := app_hidden.quote_of(v_rate, v_hours, v_window);
  v_terms := app_hidden.rate_terms_of(v_rate, v_hours);
  -- Bookings through the API carry the client's address (every mutation does:
  -- server/request_identity.ts) and are bounded; SQL run by the owner (tests,
  -- maintenance, the CLI) has no client and is not.
  if v_ip is not null then
    perform app_private.assert_hold_allowed(v_email, v_booker, v_ip);
  end if;

  begin
    insert into app_public.reservations (spot_id, user_id, verified_booker_id, email, period, status, amount, currency,
                                         hold_expires_at, plate, plate_state, rate_terms)
    values (v_spot.id, v_user_id, v_booker, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
            least(now() + app_hidden.booking_hold_time(), upper(v_window)), v_plate, v_state, v_terms)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, this spot is already taken for part of that time' using errcode = 'SMB01';
  end;

  if v_ip is not null then
    insert into app_private.reservation_origins (reservation_id, client_ip) values (v_r.id, v_ip);
  end if;
  if v_user_id is null then
    v_token := app_private.new_manage_token();
    insert into app_private.reservation_secrets (reservation_id, manage_token_hash)
    values (v_r.id, app_private.manage_token_hash(v_token));
  end if;
  return row(v_r, v_token)::app_public.reservation_result;
end;
$$;
comment on function app_public.reserve(bigint, timestamptz, timestamptz, int, text, text, text) is
  E'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you (email is not used: the account''s address is), refused while a reservation you booked with your email verified is unpaid (SMB13). Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes. plate and plateState (optional) name the vehicle parked on it, for enforcement (SME01 when malformed). At most 3 holds at once per email or account and 10 per client address, and 10 guest reservations an hour per email (SMB12).';
--! EndIncluded reservations_booking.sql
--! Included customers.sql
-- Customers: staff's record of everyone who books, accounts and guest emails
-- alike, one row per email. Drivers' accounts and guests' first reservations
-- add their row by trigger; staff create, edit, annotate, soft delete and
-- restore them through the functions below (security definer, staff only:
-- the API roles have no write grant). A soft-deleted customer is invisible to
-- every list and search (row level security) but keeps its reservations and
-- its audit rows.

create extension if not exists pg_trgm with schema public;

create table if not exists app_public.customers (
  id          bigint generated always as identity primary key,
  email       citext not null unique check (length(email) <= 254),
  name        text check (length(name) between 1 and 100),
  surname     text check (length(surname) between 1 and 100),
  user_id     bigint unique references app_public.users (id) on delete set null,
  deleted_at  timestamptz,
  created_by  bigint references app_public.users (id) on delete set null,
  updated_by  bigint references app_public.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  -- What search matches against: lower-case name, surname and email.
  search_text text not null generated always as (
    lower(coalesce(name, '') || ' ' || coalesce(surname, '') || ' ' || email::text)) stored
);
create index if not exists customers_search_trgm on app_public.customers using gin (search_text gin_trgm_ops);
create index if not exists customers_surname_idx on app_public.customers (surname, name, id);
comment on table app_public.customers is
  E'@behavior -insert -update -delete\nA customer: an account or a guest email, with the name staff know them by. Staff only; soft-deleted ones are hidden everywhere but the audit log.';
comment on column app_public.customers.user_id is E'The customer''s account, when they have one (null: a guest email).';
comment on column app_public.customers.deleted_at is E'@behavior -*\nSoft deletion: set, the row is hidden from staff.';
comment on column app_public.customers.created_by is E'The staff member who created the record (null: made by a booking or sign-up). Set by trigger.';
comment on column app_public.customers.updated_by is E'The staff member who last changed it. Set by trigger.';
comment on column app_public.customers.search_text is E'@behavior -*';

create table if not exists app_public.customer_notes (
  id          bigint generated always as identity primary key,
  customer_id bigint not null references app_public.customers (id) on delete cascade,
  body        text not null check (length(body) between 1 and 2000),
  created_by  bigint references app_public.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index if not exists customer_notes_customer_idx on app_public.customer_notes (customer_id, created_at);
comment on table app_public.customer_notes is E'@behavior -insert -update -delete\nStaff notes on a customer, newest last.';

create or replace function app_private.tg__staff_stamps() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- From the session, never from the client; only staff requests (they run
  -- as app_operator) stamp a name: a row a booking or sign-up adds has none.
  v_staff bigint := case when current_setting('role', true) = 'app_operator' then app_public.current_user_id() end;
begin
  if tg_op = 'INSERT' then
    new.created_by := v_staff;
  else
    new.created_by := old.created_by;
    if to_jsonb(new) ? 'updated_by' then
      new := jsonb_populate_record(new, jsonb_build_object('updated_by', v_staff));
    end if;
  end if;
  return new;
end;
$$;
comment on function app_private.tg__staff_stamps() is
  E'BEFORE trigger: created_by (insert) and updated_by (update, when the table has it) from the current session when it is staff''s, else null.';

drop trigger if exists _100_timestamps on app_public.customers;
create trigger _100_timestamps before insert or update on app_public.customers
  for each row execute function app_private.tg__timestamps();
drop trigger if exists _110_staff_stamps on app_public.customers;
create trigger _110_staff_stamps before insert or update on app_public.customers
  for each row execute function app_private.tg__staff_stamps();
drop trigger if exists _100_timestamps on app_public.customer_notes;
create trigger _100_timestamps before insert or update on app_public.customer_notes
  for each row execute function app_private.tg__timestamps();
drop trigger if exists _110_staff_stamps on app_public.customer_notes;
create trigger _110_staff_stamps before insert or update on app_public.customer_notes
  for each row execute function app_private.tg__staff_stamps();
drop trigger if exists _900_audit on app_public.customers;
create trigger _900_audit after insert or update or delete on app_public.customers
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.customer_notes;
create trigger _900_audit after insert or update or delete on app_public.customer_notes
  for each row execute function app_private.tg__audit();

--------------------------------------------------------------------------------
-- Everyone who books becomes a customer: accounts when made, guest emails at
-- their first reservation.

create or replace function app_private.tg__customer_from_booker() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_table_name = 'users' then
    insert into app_public.customers (email, name, user_id)
    values (new.email, new.name, new.id)
    on conflict (email) do update set user_id = excluded.user_id
      where app_public.customers.user_id is null;
  else
    insert into app_public.customers (email) values (new.email) on conflict (email) do nothing;
  end if;
  return null;
end;
$$;
comment on function app_private.tg__customer_from_booker() is
  E'AFTER INSERT trigger on users (drivers) and reservations: makes sure the account or guest email has a customer row (a soft-deleted one stays deleted).';

drop trigger if exists _800_customer on app_public.users;
create trigger _800_customer after insert on app_public.users
  for each row when (new.role = 'driver') execute function app_private.tg__customer_from_booker();
drop trigger if exists _800_customer on app_public.reservations;
create trigger _800_customer after insert on app_public.reservations
  for each row when (new.kind = 'reservation' and new.user_id is null)
  execute function app_private.tg__customer_from_booker();

-- Everyone who booked before customers existed.
insert into app_public.customers (email, name, user_id)
select u.email, u.name, u.id from app_public.users u where u.role = 'driver'
on conflict (email) do nothing;
insert into app_public.customers (email)
select distinct r.email from app_public.reservations r where r.kind = 'reservation' and r.user_id is null
on conflict (email) do nothing;

--------------------------------------------------------------------------------
-- Staff operations

create or replace function app_hidden.assert_staff() returns bigint
  language plpgsql stable
as $$
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins may manage customers' using errcode = 'SMC01';
  end if;
  return app_public.current_user_id();
end;
$$;
comment on function app_hidden.assert_staff() is E'The current user''s id when an operator or admin, else error SMC01.';

create or replace function app_hidden.customer_live(customer_id bigint) returns app_public.customers
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  select c.* into v_c from app_public.customers c where c.id = customer_live.customer_id and c.deleted_at is null;
  if v_c.id is null then
    raise exception 'There is no customer %', coalesce(customer_live.customer_id::text, '(none given)') using errcode = 'SMC03';
  end if;
  return v_c;
end;
$$;
comment on function app_hidden.customer_live(bigint) is E'The customer when it exists and is not deleted, else error SMC03.';

create or replace function app_hidden.customer_name(value text) returns text
  language plpgsql immutable
as $$
begin
  if value is null or value ~ '[[:cntrl:]]' or length(btrim(value)) not between 1 and 100 then
    raise exception 'A customer needs a name and a surname of 1 to 100 characters' using errcode = 'SMC04';
  end if;
  return btrim(value);
end;
$$;
comment on function app_hidden.customer_name(text) is E'A trimmed name or surname of 1–100 characters without control characters, else error SMC04.';

create or replace function app_public.create_customer(email text, name text, surname text) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  begin
    insert into app_public.customers (email, name, surname)
    values (app_hidden.assert_email(email), app_hidden.customer_name(name), app_hidden.customer_name(surname))
    returning * into v_c;
  exception when unique_violation then
    raise exception 'A customer with this email already exists' using errcode = 'SMC02';
  end;
  return v_c;
end;
$$;
comment on function app_public.create_customer(text, text, text) is
  E'Staff (SMC01): a new customer record with a unique email (SMC02; SMA03 when not an email) and a name and surname (SMC04).';

create or replace function app_public.update_customer(
  customer_id bigint, email text default null, name text default null, surname text default null
) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  begin
    update app_public.customers c
    set email = case when update_customer.email is null then c.email else app_hidden.assert_email(update_customer.email) end,
        name = case when update_customer.name is null then c.name else app_hidden.customer_name(update_customer.name) end,
        surname = case when update_customer.surname is null then c.surname else app_hidden.customer_name(update_customer.surname) end
    where c.id = v_c.id
    returning * into v_c;
  exception when unique_violation then
    raise exception 'A customer with this email already exists' using errcode = 'SMC02';
  end;
  return v_c;
end;
$$;
comment on function app_public.update_customer(bigint, text, text, text) is
  E'Staff (SMC01): changes a customer''s email, name or surname (null: unchanged). SMC03 unknown or deleted, SMC02 email taken, SMC04 bad name.';

create or replace function app_public.delete_customer(customer_id bigint) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  update app_public.customers c set deleted_at = now() where c.id = v_c.id returning * into v_c;
  return v_c;
end;
$$;
comment on function app_public.delete_customer(bigint) is
  E'Staff (SMC01): soft-deletes a customer: gone from every list and search, kept with its reservations and audit rows; restoreCustomer brings it back. SMC03 unknown or already deleted.';

create or replace function app_public.restore_customer(customer_id bigint) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  update app_public.customers c set deleted_at = null
  where c.id = restore_customer.customer_id and c.deleted_at is not null
  returning * into v_c;
  if v_c.id is null then
    raise exception 'There is no deleted customer %', coalesce(restore_customer.customer_id::text, '(none given)') using errcode = 'SMC03';
  end if;
  return v_c;
end;
$$;
comment on function app_public.restore_customer(bigint) is
  E'Staff (SMC01): undoes deleteCustomer. SMC03 when no deleted customer has this id.';

create or replace function app_public.add_customer_note(customer_id bigint, body text) returns app_public.customer_notes
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_n app_public.customer_notes;
begin
  perform app_hidden.assert_staff();
  perform app_hidden.customer_live(customer_id);
  if body is null or length(btrim(body)) not between 1 and 2000 then
    raise exception 'A note has 1 to 2000 characters' using errcode = 'SMC05';
  end if;
  insert into app_public.customer_notes (customer_id, body) values (add_customer_note.customer_id, btrim(body))
  returning * into v_n;
  return v_n;
end;
$$;
comment on function app_public.add_customer_note(bigint, text) is
  E'Staff (SMC01): adds a note (1–2000 characters, SMC05) to a customer (SMC03 unknown or deleted).';

create or replace function app_public.search_customers(query text) returns setof app_public.customers
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_q text := lower(btrim(coalesce(query, '')));
begin
  perform app_hidden.assert_staff();
  if length(v_q) not between 1 and 200 then
    raise exception 'Search for 1 to 200 characters' using errcode = 'SMC06';
  end if;
  -- Typo-tolerant: trigram similarity of the query with the closest part of
  -- name + surname + email, so "smiht" finds Smith. A query with an @ is an
  -- email and matches as typed (trigrams of a shared domain would match
  -- everyone). Row level security hides soft-deleted rows.
  return query
  select c.* from app_public.customers c
  -- 0.3 lets one swapped or wrong letter in a 5-letter name through ("smiht",
  -- "smyth" → smith) without matching unrelated short words. (Written out
  -- rather than as a function's `set pg_trgm.word_similarity_threshold`: a
  -- migration re-run in a session that has not loaded pg_trgm may not set it.)
  where strpos(c.search_text, v_q) > 0 or (strpos(v_q, '@') = 0 and word_similarity(v_q, c.search_text) >= 0.3)
  order by word_similarity(v_q, c.search_text) desc, c.surname nulls last, c.name, c.id;
end;
$$;
comment on function app_public.search_customers(text) is
  E'Staff (SMC01): customers whose name, surname or email match the query, best first; typos allowed (trigram similarity) unless the query contains an @. SMC06 for an empty or overlong query.';

--------------------------------------------------------------------------------
-- A customer's history: reservations, charges, refunds.

create or replace function app_public.customers_reservations(c app_public.customers) returns setof app_public.reservations
  language sql stable
as $$
  select r.* from app_public.reservations r
  where r.kind = 'reservation' and (r.email = c.email or r.user_id = c.user_id)
  order by lower(r.period) desc;
$$;
comment on function app_public.customers_reservations(app_public.customers) is E'The customer''s reservations, latest start first.';

drop type if exists app_public.customer_payment cascade;
create type app_public.customer_payment as (
  reservation_id bigint,
  kind text,
  amount int,
  currency text,
  status text,
  at timestamptz
);
comment on type app_public.customer_payment is E'A charge or a refund of one of a customer''s reservations.';
comment on column app_public.customer_payment.kind is E'charge or refund.';
comment on column app_public.customer_payment.status is E'pending, processing, succeeded, failed, not_required (charges); pending, succeeded, failed (refunds).';

create or replace function app_public.customers_payments(c app_public.customers) returns setof app_public.customer_payment
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A field of a row only staff see: empty for anyone else, as row level
  -- security leaves the row's other relations (an error would null the
  -- object it hangs off, e.g. a driver's currentUser).
  if not app_hidden.current_user_is_staff() then
    return;
  end if;
  return query
  select x.reservation_id, x.kind, x.amount, x.currency, x.status, x.at
  from app_public.customers_reservations(c) r
  cross join lateral (
    select ch.reservation_id, 'charge'::text as kind, ch.amount, ch.currency, ch.status, ch.created_at as at
    from app_private.charges ch where ch.reservation_id = r.id
    union all
    select ch.reservation_id, 'refund', f.amount, ch.currency, f.status, f.created_at
    from app_private.charges ch join app_private.refunds f on f.charge_id = ch.id
    where ch.reservation_id = r.id
  ) x
  order by x.at;
end;
$$;
comment on function app_public.customers_payments(app_public.customers) is E'Staff: the charges and refunds of the customer''s reservations, oldest first (empty for anyone else).';
--! EndIncluded customers.sql
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
  -- Nor is it counted for an address the account has signed in from: a
  -- stranger with a dozen addresses must not keep the owner out at home.
  if v_retry = 0 and not exists (select from app_private.sessions s
                                 where s.user_id = v_user_id and s.client_ip = login_attempt.client_ip) then
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
  -- not for an address the account has signed in from: a stranger with a few
  -- addresses must not keep the owner from resetting at home.
  if not exists (select from app_private.sessions s
                 where s.user_id = v_user.id and s.client_ip = app_hidden.client_ip()) then
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
begin
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  perform app_private.password_set(v_user.id, app_hidden.assert_password(new_password, v_user.email));
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
  E'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, signs out every session of the account and, for a reset, emails password_changed. Sign in afterwards.';

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
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

create or replace function app_private.card_unpaid(card_fingerprint text) returns boolean
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A card that set up fine but whose charge then failed would otherwise park
  -- again and again without paying: it confirms nothing new until that debt is
  -- paid (with another card, on the reservation that failed).
  -- Read from the declines recorded, not from the reservation's set-up: asking
  -- for a new set-up resets that, and cleared the debt without paying it.
  select card_unpaid.card_fingerprint is not null and exists (
    select from app_private.declined_cards d
    join app_public.reservations r on r.id = d.reservation_id
    where d.card_fingerprint = card_unpaid.card_fingerprint and r.status = 'payment_failed');
$$;
comment on function app_private.card_unpaid(text) is
  E'Whether a charge on this card (its fingerprint) was declined for a reservation still unpaid (app_private.declined_cards): then it confirms no other reservation (SMP10).';

create or replace function app_hidden.takes_card(status app_public.reservation_status) returns boolean
  language sql immutable
as $$
  select status in ('held', 'payment_failed');
$$;
comment on function app_hidden.takes_card(app_public.reservation_status) is
  E'Whether a reservation in this status takes a card: held (to confirm it) or payment_failed (to pay it).';

create or replace function app_private.refuse_no_card(r app_public.reservations) returns void
  language plpgsql
as $$
begin
  raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
    r.id, r.status using errcode = 'SMP02';
end;
$$;
comment on function app_private.refuse_no_card(app_public.reservations) is
  E'Raises SMP02 for a reservation that takes no card (app_hidden.takes_card).';

create or replace function app_private.setup_intent_json(si app_private.setup_intents, reservation app_public.reservations)
  returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select jsonb_build_object(
    'reservationId', reservation.id,
    'reservationStatus', reservation.status,
    'email', reservation.email,
    'userId', reservation.user_id,
    'customerRowId', c.id,
    'customerKey', c.idempotency_key,
    'stripeCustomerId', c.stripe_customer_id,
    'generation', si.generation,
    'setupKey', si.idempotency_key,
    'setupIntentId', si.stripe_setup_intent_id,
    'clientSecret', si.client_secret,
    'setupStatus', si.status,
    'takesCard', app_hidden.takes_card(reservation.status),
    -- Why a card set up at Stripe left the reservation held: its unpaid debt (SMP10), else its limit (SMP09).
    -- (Looked up only then.)
    'cardUnpaid', case when si.status = 'succeeded' and reservation.status = 'held'
                       then app_private.card_unpaid(si.card_fingerprint) else false end)
  from app_private.stripe_customers c
  where c.id = si.customer_id;
$$;

create or replace function app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_customer_id bigint;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_prepare.reservation_id, payment_setup_prepare.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id for update;

  if not app_hidden.takes_card(v_r.status) then
    -- Asking again once the card is set up returns the same answer.
    if v_si.status = 'succeeded' then
      return app_private.setup_intent_json(v_si, v_r);
    end if;
    perform app_private.refuse_no_card(v_r);
  end if;

  -- Set up, but left held by the card's rules (SMP09, SMP10): confirmed if the
  -- card passes now; else (below) the driver gives another card on this hold.
  -- (Nested, not one condition: with no set-up yet v_si.status is NULL, and
  -- AND would go on to call the function that confirms.)
  if v_r.status = 'held' and v_si.status is not distinct from 'succeeded' then
    if app_private.confirm_if_card_allows(v_r.id, v_si.card_fingerprint) then
      select * into v_r from app_public.reservations r where r.id = v_r.id;
      return app_private.setup_intent_json(v_si, v_r);
    end if;
  end if;

  if v_r.user_id is not null then
    insert into app_private.stripe_customers (user_id, idempotency_key)
    values (v_r.user_id, 'smp-cus-' || gen_random_uuid())
    on conflict (user_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.user_id = v_r.user_id;
  else
    -- A guest's customer belongs to this one reservation. Shared by email, it
    -- would put every card ever saved under that email within reach of anyone
    -- who books with it (a card of the customer can confirm the customer's set-ups).
    insert into app_private.stripe_customers (guest_email, guest_reservation_id, idempotency_key)
    values (v_r.email, v_r.id, 'smp-cus-' || gen_random_uuid())
    on conflict (guest_reservation_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.guest_reservation_id = v_r.id;
  end if;

  if v_si.reservation_id is null then
    insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key)
    values (v_r.id, v_customer_id, app_private.payment_key(v_r.id, 'setup-1'))
    returning * into v_si;
  elsif v_si.status = 'succeeded'
        and (v_r.status = 'held'
             -- Payment failed: only once the card on file was charged and
             -- declined. One given since is being charged now (charge_retry_now);
             -- a second set-up asked meanwhile must not take it away from
             -- that charge.
             or exists (select from app_private.charges c
                        where c.reservation_id = v_r.id and c.status = 'failed'
                          and c.updated_at >= v_si.succeeded_at)) then
    -- The card on file was declined (payment_failed), or refused by its rules
    -- (held): set up a new one under a new key.
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1)),
        customer_id = v_customer_id,
        stripe_setup_intent_id = null, client_secret = null, status = 'new',
        payment_method = null, succeeded_at = null
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_prepare(bigint, text) is
  E'Authorises the caller, makes (or finds) the Stripe customer and set-up rows of a held or payment-failed reservation with their idempotency keys, and returns what the Stripe calls need: a new set-up (new key) when the card on file was declined, or set up but refused by the card''s rules (SMP09, SMP10) and still refused.';

create or replace function app_hidden.payment_customer_record(
  reservation_id bigint, manage_token text, stripe_customer_id text
) returns text
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_id text;
begin
  v_r := app_private.reservation_for_caller(payment_customer_record.reservation_id, payment_customer_record.manage_token, true);
  -- A concurrent request made the same call with the same key and got the same
  -- customer; the first one recorded wins either way.
  update app_private.stripe_customers c
  set stripe_customer_id = coalesce(c.stripe_customer_id, payment_customer_record.stripe_customer_id)
  from app_private.setup_intents si
  where si.reservation_id = v_r.id and c.id = si.customer_id
  returning c.stripe_customer_id into v_id;
  return v_id;
end;
$$;
comment on function app_hidden.payment_customer_record(bigint, text, text) is
  E'Records the Stripe customer id of the reservation''s customer (first write wins); returns the recorded id.';

create or replace function app_hidden.card_upcoming_max() returns int
  language sql stable as $$
  -- The API sends the server's CARD_UPCOMING_MAX (server/config.ts, whose
  -- default is this one); other callers get the default.
  select coalesce(nullif(current_setting('app.card_upcoming_max', true), '')::int, 10)
$$;
comment on function app_hidden.card_upcoming_max() is
  E'How many confirmed reservations still to come one card (its fingerprint) may back before another is refused (SMP09): app.card_upcoming_max (the server''s CARD_UPCOMING_MAX), else 10.';

create or replace function app_private.card_at_limit(card_fingerprint text, reservation_id bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if card_at_limit.card_fingerprint is null then
    return false;
  end if;
  -- Hold limits count holds; a confirmed reservation costs nothing until its
  -- end and can be cancelled free before its start, so without this one card
  -- (behind any number of emails) could hold every spot of a street for days.
  -- Counted under a lock per card, so two confirmations at once cannot both
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('card:' || card_at_limit.card_fingerprint, 0));
  return (select count(*) from (
    select from app_private.setup_intents si
    join app_public.reservations r on r.id = si.reservation_id
    where si.card_fingerprint = card_at_limit.card_fingerprint and si.status = 'succeeded'
      and r.id <> card_at_limit.reservation_id and r.status = 'confirmed' and upper(r.period) > now()
    limit app_hidden.card_upcoming_max()) backed) >= app_hidden.card_upcoming_max();
end;
$$;
comment on function app_private.card_at_limit(text, bigint) is
  E'Whether the card already backs card_upcoming_max confirmed reservations still to come (other than this one): then this one is not confirmed.';

create or replace function app_private.confirm_if_card_allows(reservation_id bigint, card_fingerprint text)
  returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Booking owns the held → confirmed transition (and its email). Only a held
  -- reservation is handed over, so a replayed webhook, a second confirm, or a
  -- set-up finishing after the hold expired changes nothing.
  -- A card with an unpaid failed charge, or already backing card_upcoming_max
  -- reservations to come, leaves this one held (the API answers SMP10 or
  -- SMP09; the hold then expires as any other, unless the card passes later
  -- or another card is given).
  if exists (select from app_public.reservations r
             where r.id = confirm_if_card_allows.reservation_id and r.status = 'held')
     and not app_private.card_unpaid(confirm_if_card_allows.card_fingerprint)
     and not app_private.card_at_limit(confirm_if_card_allows.card_fingerprint, confirm_if_card_allows.reservation_id) then
    perform app_private.confirm_held_reservation(confirm_if_card_allows.reservation_id);
    return true;
  end if;
  return false;
end;
$$;
comment on function app_private.confirm_if_card_allows(bigint, text) is
  E'Confirms a held reservation whose card set-up succeeded, unless the card has an unpaid failed charge (card_unpaid) or is at its limit (card_at_limit); true when it confirmed it.';

create or replace function app_private.setup_intent_apply(reservation_id bigint, intent jsonb) returns app_private.setup_intents
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_si app_private.setup_intents;
  v_status text := intent->>'status';
begin
  -- The reservation's row first, then its set-up: the order confirmReservationPayment
  -- takes (reservation_for_caller locks the reservation before coming here). The
  -- webhook, taking the set-up first and the reservation second, deadlocked with
  -- it when both arrived at once on two API processes (40P01, test/scale_processes).
  perform from app_public.reservations r where r.id = setup_intent_apply.reservation_id for update;
  update app_private.setup_intents si
  set stripe_setup_intent_id = coalesce(si.stripe_setup_intent_id, intent->>'id'),
      client_secret = coalesce(si.client_secret, intent->>'client_secret'),
      -- Never back from succeeded: a stale read must not undo a set-up.
      status = case when si.status = 'succeeded' then si.status else v_status end,
      payment_method = case when si.status = 'succeeded' then si.payment_method
                            else coalesce(intent->>'payment_method', si.payment_method) end,
      card_fingerprint = case when si.status = 'succeeded' then si.card_fingerprint
                              else coalesce(intent->>'card_fingerprint', si.card_fingerprint) end,
      succeeded_at = case when si.status <> 'succeeded' and v_status = 'succeeded' then now() else si.succeeded_at end
  where si.reservation_id = setup_intent_apply.reservation_id
    and (si.stripe_setup_intent_id is null or si.stripe_setup_intent_id = intent->>'id')
  returning * into v_si;

  if v_si.status = 'succeeded' then
    perform app_private.confirm_if_card_allows(setup_intent_apply.reservation_id, v_si.card_fingerprint);
    -- A new card after a failed charge: charge it now rather than at the next
    -- scheduled retry.
    perform app_private.charge_retry_now(setup_intent_apply.reservation_id);
  end if;
  return v_si;
end;
$$;
comment on function app_private.setup_intent_apply(bigint, jsonb) is
  E'Records what Stripe says of a reservation''s SetupIntent (with card_fingerprint, the card''s, when known); on success confirms the reservation unless the card has an unpaid failed charge (card_unpaid) or is at its limit (card_at_limit), or retries a failed charge with the new card. Idempotent.';

create or replace function app_hidden.payment_setup_record(
  reservation_id bigint, manage_token text, intent jsonb
) returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_record.reservation_id, payment_setup_record.manage_token, true);
  v_si := app_private.setup_intent_apply(v_r.id, payment_setup_record.intent);
  select r.* into v_r from app_public.reservations r where r.id = v_r.id;
  if v_si.reservation_id is null then
    select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_record(bigint, text, jsonb) is
  E'Authorises the caller and records the reservation''s SetupIntent as Stripe returned it (confirming the reservation once it succeeded).';

create or replace function app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_setup_lookup.reservation_id, payment_setup_lookup.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id;
  if v_si.stripe_setup_intent_id is null then
    -- setupReservationPayment would refuse it: say so rather than send the driver there.
    if not app_hidden.takes_card(v_r.status) then
      perform app_private.refuse_no_card(v_r);
    end if;
    raise exception 'Reservation % has no card set-up to confirm: call setupReservationPayment first', v_r.id
      using errcode = 'SMP03';
  end if;
  -- Set up, but left held by the card's rules: they may pass now (its debt
  -- paid, or one of its reservations over).
  if v_r.status = 'held' and v_si.status is not distinct from 'succeeded' then
    if app_private.confirm_if_card_allows(v_r.id, v_si.card_fingerprint) then
      select * into v_r from app_public.reservations r where r.id = v_r.id;
    end if;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_lookup(bigint, text) is
  E'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started, SMP02 when none was and the reservation takes no card); a held reservation whose card set up but was refused by the card''s rules is confirmed if they pass now.';

create or replace function app_hidden.payment_customer_forget(
  reservation_id bigint, manage_token text, stripe_customer_id text
) returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r  app_public.reservations;
  v_si app_private.setup_intents;
begin
  v_r := app_private.reservation_for_caller(payment_customer_forget.reservation_id, payment_customer_forget.manage_token, true);
  select * into v_si from app_private.setup_intents si where si.reservation_id = v_r.id for update;
  -- Only the id Stripe just called unknown, and only once: a concurrent request
  -- may already have made its replacement.
  update app_private.stripe_customers c
  set stripe_customer_id = null, idempotency_key = 'smp-cus-' || gen_random_uuid()
  where c.id = v_si.customer_id and c.stripe_customer_id = payment_customer_forget.stripe_customer_id;
  -- Stripe keeps the refused set-up call under its idempotency key: the next
  -- set-up needs a key of its own.
  if v_si.stripe_setup_intent_id is null then
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1))
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_customer_forget(bigint, text, text) is
  E'Forgets a Stripe customer id that Stripe no longer knows (deleted there, or a development emulator restarted), with fresh idempotency keys for the customer and the set-up, so the next card set-up makes a new customer.';
--! EndIncluded payments_setup.sql
