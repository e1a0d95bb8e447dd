--! Previous: sha1:b51b95b863420ec856b603f09a275a41c705b9ce
--! Hash: sha1:d5e305fc1f36d991b27fc438a8876ac46a8de351
--! Message: Email data and payment keys inlined where one statement writes many

-- Email data and payment keys inlined where a statement writes many: one
-- definition each, as a function PostgreSQL can inline (sql, no SET clause).
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
--! Included payments_charge.sql
-- Payment keys (every Stripe idempotency key of a reservation) and the final
-- off-session charge's state, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

create or replace function app_private.payment_key_of(r app_public.reservations, what text) returns text
  language sql stable
as $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours). An expression in sql with no
  -- SET clause, so a statement that keys a batch of charges inlines it.
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || what;
$$;
comment on function app_private.payment_key_of(app_public.reservations, text) is
  E'The Stripe idempotency key of one request about the reservation r (what: setup-1, charge-2, …).';

create or replace function app_private.payment_key(reservation_id bigint, what text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.payment_key_of(r, payment_key.what)
  from app_public.reservations r where r.id = payment_key.reservation_id;
$$;
comment on function app_private.payment_key(bigint, text) is
  E'The Stripe idempotency key of one request about a reservation (what: setup-1, charge-2, …).';

create or replace function app_private.charge_retry_delay(attempt int) returns interval
  language sql immutable
as $$
  -- After a decline or authentication_required: retry 1 day, then 3 days,
  -- then 7 days after each failed attempt; after the 4th attempt stop and
  -- leave it to the driver's pay link (or an operator).
  select case charge_retry_delay.attempt
    when 1 then interval '1 day'
    when 2 then interval '3 days'
    when 3 then interval '7 days'
  end;
$$;
comment on function app_private.charge_retry_delay(int) is
  E'How long after failed attempt N the charge is retried (1 d, 3 d, 7 d); null = no more automatic retries.';

create or replace function app_private.charge_failed(
  charge_id bigint, attempt int, failure_code text, failure_message text, payment_intent_id text,
  retryable boolean default true
) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  -- A request the provider refuses as such (amount below its minimum, a card
  -- or customer gone) fails the same way every time: no automatic retry, only
  -- the driver's new card (or an operator) can settle it.
  v_retry timestamptz := case when charge_failed.retryable
    then now() + app_private.charge_retry_delay(charge_failed.attempt) end;
begin
  update app_private.charges c
  set status = 'failed', failure_code = charge_failed.failure_code,
      failure_message = left(charge_failed.failure_message, 500),
      stripe_payment_intent_id = coalesce(charge_failed.payment_intent_id, c.stripe_payment_intent_id),
      next_retry_at = v_retry
  where c.id = charge_failed.charge_id and c.attempt = charge_failed.attempt and c.status = 'pending'
  returning * into v_c;
  if v_c.id is null then
    return null;
  end if;
  update app_public.reservations r set status = 'payment_failed'
  where r.id = v_c.reservation_id and r.status = 'completed';
  perform app_private.email_enqueue('payment_failed', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency,
                            'failureCode', v_c.failure_code, 'attempt', v_c.attempt, 'nextRetryAt', v_retry,
                            'providerRefused', not charge_failed.retryable),
    'payment_failed:' || r.id || ':' || v_c.attempt)
  from app_public.reservations r where r.id = v_c.reservation_id;
  if v_retry is not null then
    -- Priority 5: when it falls due in a burst, new charges go first.
    perform app_private.queue_reservation_jobs('reservation__charge', array[v_c.reservation_id],
      run_at => v_retry, priority => 5);
  end if;
  return v_retry;
end;
$$;
comment on function app_private.charge_failed(bigint, int, text, text, text, boolean) is
  E'Records a failed attempt: the reservation becomes payment_failed, the driver is emailed a link to pay, and for a decline (retryable) the next retry is scheduled (see charge_retry_delay); a request the provider refused as such (not retryable) is not retried.';

create or replace function app_private.charge_retry_now(reservation_id bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_private.charges c set next_retry_at = now()
  where c.reservation_id = charge_retry_now.reservation_id and c.status = 'failed'
    and exists (select from app_public.reservations r
                where r.id = charge_retry_now.reservation_id and r.status = 'payment_failed');
  if found then
    perform app_private.queue_reservation_jobs('reservation__charge', array[charge_retry_now.reservation_id]);
  end if;
  return found;
end;
$$;
comment on function app_private.charge_retry_now(bigint) is
  E'A failed charge whose reservation got a new card: its next attempt is due now and queued; false when there is no failed charge to retry.';

create or replace function app_private.charge_requeue(reservation_id bigint, run_at timestamptz, max_attempts int, priority int)
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The running job's key moves to this new job (graphile-worker gives a
  -- locked job's key to the new one), so the running one just ends.
  select app_private.queue_reservation_jobs('reservation__charge', array[charge_requeue.reservation_id],
    run_at => charge_requeue.run_at, priority => charge_requeue.priority,
    max_attempts => charge_requeue.max_attempts);
$$;
comment on function app_private.charge_requeue(bigint, timestamptz, int, int) is
  E'Runs a charge job again at run_at without counting the attempt that is ending (Stripe answered 429: nothing was charged); max_attempts is what the job had left, priority what it had.';

-- The end-of-day burst: charges in batches. The due-work sweep queues one
-- reservation__charge job per batch of ended reservations (payload: an array
-- of {reservationId}; graphile-worker's batch jobs retry only the entries that
-- failed); the task prepares the whole batch in one statement, sends each
-- charge to Stripe with its own idempotency key, and records the successes in
-- one statement. Per charge that is two shared statements instead of a job,
-- two transactions and a job completion of its own.

create or replace function app_private.queue_charge_batches(
  reservation_ids bigint[],
  run_at timestamptz default null,
  priority int default 0,
  max_attempts int default 10,
  batch_size int default 50
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if coalesce(cardinality(queue_charge_batches.reservation_ids), 0) = 0 then
    return;
  end if;
  -- One add_jobs call (one NOTIFY) for all the batches.
  perform graphile_worker.add_jobs(array(
    select ('reservation__charge', json_agg(json_build_object('reservationId', u.id) order by u.n), null,
            coalesce(queue_charge_batches.run_at, now()), queue_charge_batches.max_attempts, null,
            queue_charge_batches.priority, null)::graphile_worker.job_spec
    from unnest(queue_charge_batches.reservation_ids) with ordinality as u(id, n)
    group by (u.n - 1) / queue_charge_batches.batch_size));
end;
$$;
comment on function app_private.queue_charge_batches(bigint[], timestamptz, int, int, int) is
  E'Queues the charges of many reservations as reservation__charge batch jobs of batch_size each (payload: an array of {reservationId}), in one add_jobs call. Priority as queue_reservation_jobs (new charges 0).';

create or replace function app_private.charges_prepare(reservation_ids bigint[]) returns setof jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ids      bigint[] := charges_prepare.reservation_ids;
  v_free     bigint[];
  v_prepared jsonb[];
begin
  -- Each reservation, then its charge, locked in id order (every writer takes
  -- a reservation's lock before its charge's).
  perform from app_public.reservations r where r.id = any(v_ids) order by r.id for update;
  perform from app_private.charges c where c.reservation_id = any(v_ids) order by c.reservation_id for update;

  -- A failed attempt whose retry is due: a new attempt is a new request, with
  -- a new key (the old key would only replay the decline).
  update app_private.charges c
  set attempt = c.attempt + 1,
      idempotency_key = app_private.payment_key_of(r, 'charge-' || (c.attempt + 1)),
      key_first_sent_at = null,
      status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
  from app_public.reservations r
  where c.reservation_id = any(v_ids) and r.id = c.reservation_id
    and c.status = 'failed' and r.status = 'payment_failed' and c.next_retry_at <= now();

  -- The first attempt of a completed reservation. ('pending' already: an
  -- earlier run died or lost its answer; the same key again.)
  insert into app_private.charges (reservation_id, amount, currency, idempotency_key)
  select r.id, r.amount, r.currency, app_private.payment_key_of(r, 'charge-1')
  from app_public.reservations r
  where r.id = any(v_ids) and r.status = 'completed'
    and not exists (select from app_private.charges c where c.reservation_id = r.id)
  order by r.id;

  -- Nothing to charge (all of it free time): no Stripe call, still a receipt.
  with free as (
    update app_private.charges c set status = 'not_required', succeeded_at = now()
    where c.reservation_id = any(v_ids) and c.status = 'pending' and c.amount = 0
    returning c.reservation_id
  )
  select array_agg(f.reservation_id) into v_free from free f;
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select 'receipt', r.email, coalesce(ed.data, '{}') || jsonb_build_object('amount', 0),
         'receipt:' || r.id
  from app_public.reservations r
  left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
  where r.id = any(v_free)
  order by r.id
  on conflict on constraint emails_dedupe_key_key do nothing;

  select array_agg(case
      when r.id is null then jsonb_build_object('action', 'skip', 'reason', 'no such reservation')
      when c.id is null then jsonb_build_object('action', 'skip', 'reason', 'reservation is ' || r.status)
      when r.id = any(v_free) then jsonb_build_object('action', 'skip', 'reason', 'nothing to charge')
      when c.status in ('succeeded', 'not_required', 'processing') then
        jsonb_build_object('action', 'skip', 'reason', 'charge ' || c.status)
      when c.status = 'failed' and (r.status <> 'payment_failed' or c.next_retry_at is null) then
        jsonb_build_object('action', 'skip', 'reason', 'no retry scheduled')
      when c.status = 'failed' then
        jsonb_build_object('action', 'skip', 'reason', 'retry not due until ' || c.next_retry_at)
      else jsonb_build_object(
        'action', case when card.payment_method is null or card.customer is null then 'no_card' else 'charge' end,
        'chargeId', c.id,
        'reservationId', r.id,
        'attempt', c.attempt,
        'amount', c.amount,
        'currency', lower(c.currency),
        'idempotencyKey', c.idempotency_key,
        'customer', card.customer,
        'paymentMethod', card.payment_method,
        -- Stripe forgets a key 24 hours after it first saw it: an hour's
        -- margin, and the worker looks the PaymentIntent up (and adopts it)
        -- instead of trusting the key.
        'lookUpFirst', coalesce(card.payment_method is not null and card.customer is not null
                                and now() - c.key_first_sent_at >= interval '23 hours', false))
    end order by u.n)
  into v_prepared
  from unnest(v_ids) with ordinality u(id, n)
  left join app_public.reservations r on r.id = u.id
  left join app_private.charges c on c.reservation_id = r.id
  left join lateral (
    select cu.stripe_customer_id as customer, si.payment_method
    from app_private.setup_intents si
    join app_private.stripe_customers cu on cu.id = si.customer_id
    where si.reservation_id = r.id and si.status = 'succeeded'
    limit 1
  ) card on true;

  -- The key's first use, kept across re-sends (what lookUpFirst reads next time).
  update app_private.charges c set key_first_sent_at = now()
  where c.reservation_id = any(v_ids) and c.status = 'pending' and c.key_first_sent_at is null
    and exists (select from app_private.setup_intents si
                join app_private.stripe_customers cu on cu.id = si.customer_id
                where si.reservation_id = c.reservation_id and si.status = 'succeeded'
                  and si.payment_method is not null and cu.stripe_customer_id is not null);

  return query select p.prepared from unnest(v_prepared) with ordinality p(prepared, n) order by p.n;
end;
$$;
comment on function app_private.charges_prepare(bigint[]) is
  E'For each reservation, in order: makes (or finds) the charge row of a completed reservation and commits its idempotency key (and when it was first sent) before Stripe is called; says whether to charge, with what, and whether the key is old enough that Stripe may have forgotten it (lookUpFirst). Set-based: one statement a step for the whole batch.';

create or replace function app_private.charge_prepare(reservation_id bigint) returns jsonb
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select p from app_private.charges_prepare(array[charge_prepare.reservation_id]) p;
$$;
comment on function app_private.charge_prepare(bigint) is
  E'charges_prepare of one reservation: its charge row and idempotency key committed before Stripe is called, and what to do.';

create or replace function app_private.charges_succeeded(outcomes jsonb) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_done app_private.charges[];
  v_ids  bigint[] := array(select (x->>'chargeId')::bigint from jsonb_array_elements(charges_succeeded.outcomes) x);
begin
  with o as (
    select (x->>'chargeId')::bigint as charge_id, (x->>'attempt')::int as attempt, x->>'paymentIntentId' as payment_intent_id
    from jsonb_array_elements(charges_succeeded.outcomes) x
  ), done as (
    update app_private.charges c
    set status = 'succeeded', stripe_payment_intent_id = o.payment_intent_id,
        succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
    from o
    -- `c.id = any(v_ids)` reads the charges by key. Joined on o alone, the
    -- generic plan scanned every charge of the burst for each batch of ten
    -- (the statistics still said no charge was pending): 13 ms a batch at 10,000.
    where c.id = any(v_ids) and c.id = o.charge_id and c.attempt = o.attempt and c.status in ('pending', 'processing')
    returning c.*
  )
  select array_agg(d order by d.reservation_id) into v_done from done d;
  if v_done is null then
    return 0;
  end if;
  -- Paid after a failure: the reservation is complete again (before its receipt reads its status).
  update app_public.reservations r set status = 'completed'
  from unnest(v_done) d
  where r.id = d.reservation_id and r.status = 'payment_failed';
  -- The receipts, once per reservation (as email_enqueue: a dedupe key used before is no new email).
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select 'receipt', r.email,
         coalesce(ed.data, '{}')
           || jsonb_build_object('amount', d.amount, 'currency', d.currency, 'paymentIntent', d.stripe_payment_intent_id),
         'receipt:' || r.id
  from unnest(v_done) d
  join app_public.reservations r on r.id = d.reservation_id
  left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
  order by d.reservation_id
  on conflict on constraint emails_dedupe_key_key do nothing;
  return cardinality(v_done);
end;
$$;
comment on function app_private.charges_succeeded(jsonb) is
  E'Records the successful charge attempts [{chargeId, attempt, paymentIntentId}] set-based and queues their receipt emails (once per reservation); returns how many were recorded (not already recorded).';

create or replace function app_private.charge_succeeded(charge_id bigint, attempt int, payment_intent_id text)
  returns boolean
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.charges_succeeded(jsonb_build_array(jsonb_build_object(
    'chargeId', charge_succeeded.charge_id, 'attempt', charge_succeeded.attempt,
    'paymentIntentId', charge_succeeded.payment_intent_id))) = 1;
$$;
comment on function app_private.charge_succeeded(bigint, int, text) is
  E'Records a successful charge attempt and queues the receipt email (once per reservation); false when it was already recorded (charges_succeeded of one).';
--! EndIncluded payments_charge.sql
