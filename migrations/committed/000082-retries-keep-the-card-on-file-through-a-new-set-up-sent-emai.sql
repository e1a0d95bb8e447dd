--! Previous: sha1:615f64eba3212bc598c464cda72480b4976832ac
--! Hash: sha1:35a7e889a70ba2f0a38ec2262eb6ede6de9cbc48
--! Message: Retries keep the card on file through a new set-up; sent emails drop plain tokens; a started hold's end-now quote is 0

-- Opening the pay page of a payment_failed reservation asks for a new card
-- set-up, which wiped the card on file: every scheduled retry then found no
-- card (no_payment_method) and never reached Stripe. The declined card is now
-- kept for the retries until a new card is actually set up.
alter table app_private.setup_intents
  add column if not exists retry_customer text,
  add column if not exists retry_payment_method text;
comment on column app_private.setup_intents.retry_customer is
  E'While a new set-up after a decline is unfinished: the Stripe customer of the declined card the retries keep charging.';
comment on column app_private.setup_intents.retry_payment_method is
  E'While a new set-up after a decline is unfinished: the declined card the retries keep charging.';
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
  -- The card stays barred from confirming others until this one is paid
  -- (card_unpaid), whatever set-up is asked for afterwards.
  insert into app_private.declined_cards (reservation_id, card_fingerprint)
  select si.reservation_id, si.card_fingerprint from app_private.setup_intents si
  where si.reservation_id = v_c.reservation_id and si.status = 'succeeded' and si.card_fingerprint is not null
  on conflict do nothing;
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
  E'Records a failed attempt: the reservation becomes payment_failed, its card is recorded as declined (app_private.declined_cards), the driver is emailed a link to pay, and for a decline (retryable) the next retry is scheduled (see charge_retry_delay); a request the provider refused as such (not retryable) is not retried.';

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

create or replace function app_private.charges_requeue_exhausted(max_rows int default 500) returns int
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_jobs bigint[];
begin
  -- A charge job fails (and is retried with graphile-worker's back-off) only
  -- while Stripe cannot be reached or answers 5xx; declines are recorded, not
  -- thrown. After max_attempts (about 3.6 hours) graphile-worker stops, and
  -- nothing else would charge those stays: an outage of an afternoon would
  -- leave them unpaid for good. They start again from attempt 0. Looked for at
  -- most every 10 minutes: graphile-worker's jobs have no index for this.
  if app_private.rate_limit_hit('charges_requeue', 'sweep') > 0 then
    return 0;
  end if;
  v_jobs := array(select j.id from graphile_worker.jobs j
                  where j.task_identifier = 'reservation__charge' and j.attempts >= j.max_attempts
                    and j.locked_at is null
                  order by j.id limit charges_requeue_exhausted.max_rows);
  if cardinality(v_jobs) > 0 then
    perform graphile_worker.reschedule_jobs(v_jobs, run_at => now(), attempts => 0);
  end if;
  return cardinality(v_jobs);
end;
$$;
comment on function app_private.charges_requeue_exhausted(int) is
  E'Every 10 minutes at most (the due-work sweep calls it every second): charge jobs that used up their attempts (Stripe unreachable for hours) run again from attempt 0; the charge keeps its idempotency key, so none is made twice. Returns how many jobs.';

-- (Its columns changed: create or replace cannot change a function's result type.)
drop function if exists app_private.reservation_card_of(bigint);
create function app_private.reservation_card_of(reservation_id bigint)
  returns table (customer text, payment_method text, chargeable boolean)
  language sql stable
as $$
  -- sql with no SET clause: inlined where it is joined (lateral).
  select card.customer, card.payment_method, card.customer is not null and card.payment_method is not null
  from app_private.setup_intents si
  join app_private.stripe_customers cu on cu.id = si.customer_id
  -- A new set-up asked for after a decline (the pay page opened) keeps the
  -- retries on the card on file until a new card is actually set up.
  cross join lateral (
    select case when si.status = 'succeeded' then cu.stripe_customer_id else si.retry_customer end as customer,
           case when si.status = 'succeeded' then si.payment_method else si.retry_payment_method end as payment_method
  ) card
  where si.reservation_id = reservation_card_of.reservation_id
    and (si.status = 'succeeded' or si.retry_payment_method is not null)
  limit 1;
$$;
comment on function app_private.reservation_card_of(bigint) is
  E'The Stripe customer and card a reservation''s set-up left to charge off-session (while a new set-up after a decline is not finished, the declined card, which the retries keep trying), and whether both are there to charge (no row: none set up).';

create or replace function app_private.charges_prepare(reservation_ids bigint[]) returns setof jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  -- Every statement below reads the batch's rows by key. plpgsql keeps a
  -- statement's generic plan for the connection's life, and one planned while
  -- charges was nearly empty (a new database, a burst's first batches) scans
  -- the whole table at every call: at 10,000 charges that took 107 µs a charge
  -- against 56 µs with index scans only.
  set enable_seqscan to off
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
  -- (key_first_sent_at: the key's first use, kept across re-sends, what
  -- lookUpFirst reads next time; set now for a key about to be sent, that is
  -- when there is a card to charge.)
  update app_private.charges c
  set attempt = c.attempt + 1,
      idempotency_key = app_private.payment_key_of(r, 'charge-' || (c.attempt + 1)),
      key_first_sent_at = case when card.chargeable then now() end,
      status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
  from app_public.reservations r
  left join lateral app_private.reservation_card_of(r.id) card on true
  where c.reservation_id = any(v_ids) and r.id = c.reservation_id
    and c.status = 'failed' and r.status = 'payment_failed' and c.next_retry_at <= now();

  -- The first attempt of a completed reservation. ('pending' already: an
  -- earlier run died or lost its answer; the same key again.)
  insert into app_private.charges (reservation_id, amount, currency, idempotency_key, key_first_sent_at)
  select r.id, r.amount, r.currency, app_private.payment_key_of(r, 'charge-1'),
         case when card.chargeable then now() end
  from app_public.reservations r
  left join lateral app_private.reservation_card_of(r.id) card on true
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
        'action', case when card.chargeable then 'charge' else 'no_card' end,
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
        'lookUpFirst', coalesce(card.chargeable and now() - c.key_first_sent_at >= interval '23 hours', false))
    end order by u.n)
  into v_prepared
  from unnest(v_ids) with ordinality u(id, n)
  left join app_public.reservations r on r.id = u.id
  left join app_private.charges c on c.reservation_id = r.id
  left join lateral app_private.reservation_card_of(r.id) card on true;

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
  -- The outcomes drive the update, each charge read by its key. A generic plan
  -- made while charges was nearly empty scanned every charge of a burst for
  -- each batch (13 ms a batch at 10,000); filtering on `c.id = any(v_ids)` as
  -- well kept the index but ran the outcomes again for every charge (a
  -- nested loop over the unnest: 2,500 rows for a batch of 50, about 12 % of
  -- the function). Index scans only: one probe an outcome.
  set enable_seqscan to off
as $$
declare
  v_done     app_private.charges[];
  v_ids      bigint[];
  v_attempts int[];
  v_intents  text[];
begin
  select array_agg((x->>'chargeId')::bigint order by n), array_agg((x->>'attempt')::int order by n),
         array_agg(x->>'paymentIntentId' order by n)
  into v_ids, v_attempts, v_intents
  from jsonb_array_elements(charges_succeeded.outcomes) with ordinality x(x, n);
  with o as (
    select * from unnest(v_ids, v_attempts, v_intents) o(charge_id, attempt, payment_intent_id)
  ), done as (
    update app_private.charges c
    set status = 'succeeded', stripe_payment_intent_id = o.payment_intent_id,
        succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
    from o
    where c.id = o.charge_id and c.attempt = o.attempt and c.status in ('pending', 'processing')
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
  v_r := app_private.card_rules_again(v_r, v_si);
  if v_r.status = 'confirmed' then
    return app_private.setup_intent_json(v_si, v_r);
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
    -- (held): set up a new one under a new key. A declined card stays the one
    -- the scheduled retries charge (reservation_card_of) until the new one is
    -- set up: asking is not giving (the pay page asks as it opens).
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1)),
        customer_id = v_customer_id,
        stripe_setup_intent_id = null, client_secret = null, status = 'new',
        payment_method = null, succeeded_at = null,
        retry_customer = case when v_r.status = 'payment_failed'
                              then (select c.stripe_customer_id from app_private.stripe_customers c where c.id = si.customer_id) end,
        retry_payment_method = case when v_r.status = 'payment_failed' then si.payment_method end
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

create or replace function app_private.card_rules_again(r app_public.reservations, si app_private.setup_intents)
  returns app_public.reservations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Set up at Stripe but left held by the card's rules (SMP09, SMP10): they
  -- may pass now (its debt paid, or one of its reservations over). Nested,
  -- not one condition: with no set-up si.status is NULL, and AND would go on
  -- to call the function that confirms.
  if r.status = 'held' and si.status is not distinct from 'succeeded' then
    if app_private.confirm_if_card_allows(r.id, si.card_fingerprint) then
      select * into r from app_public.reservations x where x.id = r.id;
    end if;
  end if;
  return r;
end;
$$;
comment on function app_private.card_rules_again(app_public.reservations, app_private.setup_intents) is
  E'The reservation as it is once its card''s rules are applied again: a held one whose set-up succeeded but was refused by them (card_unpaid, card_at_limit) is confirmed if they pass now; any other comes back as given.';

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
  v_r := app_private.card_rules_again(v_r, v_si);
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

-- A sent email's plain one-time token (reset, verification, invitation,
-- guest manage link) stayed in the outbox, still usable by whoever reads the
-- database or a backup. Sending now removes it; already sent rows lose it here.
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
              25, 'send_email:' || q.id, 10, null)::graphile_worker.job_spec
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
  update app_private.emails e
  set attempts = e.attempts + 1, last_error = left(email_send_failed.error, 500)
  where e.id = email_send_failed.email_id;
end;
$$;
comment on function app_private.email_send_failed(bigint, text) is
  E'Records a failed sending attempt of an outbox row (the send_email job is retried with back-off).';
--! EndIncluded email_enqueue.sql
update app_private.emails
set data = data - array['token', 'manageToken']
where sent_at is not null and (data ? 'token' or data ? 'manageToken');

-- reservationEndQuote for now priced a started hold that endReservation
-- expires uncharged: its quote for now is 0.
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
  v_quote app_public.price_quote;
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
  v_quote := app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
  -- Ended now without a card, a hold expires uncharged (end_reservation).
  if reservation_end_quote.ends_at is null and v_r.status = 'held' then
    v_quote.amount := 0;
  end if;
  return v_quote;
end;
$$;
comment on function app_public.reservation_end_quote(bigint, timestamptz, text) is
  E'What your reservation would cost if it ended at endsAt (left out: now, what endReservation would charge; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended: its quote for now is 0. Guests pass the manage token (SMB06 otherwise); refused as the change or the end would be: SMB03 for an end not after the start, SMB09 for now before the start, and for a later end SMB02 (spot out of service), SMB13 (an unpaid charge of the driver or card) or SMB04 (beyond the spot''s maximum stay); SMB07 once it is completed, cancelled or expired.';

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
