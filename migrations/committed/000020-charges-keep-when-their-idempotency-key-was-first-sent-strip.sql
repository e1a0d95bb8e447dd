--! Previous: sha1:695f04046c35db476b34ec177a13ca2af70c3111
--! Hash: sha1:3754f740b4fed7120b065c0a7193354c5820b53b
--! Message: Charges keep when their idempotency key was first sent (Stripe forgets keys after 24 hours)

-- Stripe forgets idempotency keys after 24 hours: the charge row keeps when
-- its key was first sent, so a re-send after that looks the PaymentIntent up.
alter table app_private.charges add column if not exists key_first_sent_at timestamptz;
comment on column app_private.charges.key_first_sent_at is
  E'When the current idempotency key was first sent to Stripe (null: not yet); reset with a new key.';

--! Included payments_charge.sql
-- Payment keys (every Stripe idempotency key of a reservation) and the final
-- off-session charge's state, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

create or replace function app_private.payment_key(reservation_id bigint, what text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours).
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || payment_key.what
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

create or replace function app_private.charge_prepare(reservation_id bigint) returns jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
  v_c app_private.charges;
  v_customer text;
  v_pm text;
  v_key_age interval;
begin
  select r.* into v_r from app_public.reservations r where r.id = charge_prepare.reservation_id for update;
  if v_r.id is null then
    return jsonb_build_object('action', 'skip', 'reason', 'no such reservation');
  end if;
  select c.* into v_c from app_private.charges c where c.reservation_id = v_r.id for update;

  if v_c.id is not null then
    if v_c.status in ('succeeded', 'not_required', 'processing') then
      return jsonb_build_object('action', 'skip', 'reason', 'charge ' || v_c.status);
    elsif v_c.status = 'failed' then
      if v_r.status <> 'payment_failed' or v_c.next_retry_at is null then
        return jsonb_build_object('action', 'skip', 'reason', 'no retry scheduled');
      end if;
      if v_c.next_retry_at > now() then
        return jsonb_build_object('action', 'skip', 'reason', 'retry not due until ' || v_c.next_retry_at);
      end if;
      -- A new attempt after a decline is a new request: a new key (the old
      -- key would only replay the decline).
      update app_private.charges c
      set attempt = c.attempt + 1,
          idempotency_key = app_private.payment_key(v_r.id, 'charge-' || (c.attempt + 1)),
          key_first_sent_at = null,
          status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
      where c.id = v_c.id
      returning * into v_c;
    end if;
    -- 'pending': an earlier run died or lost its answer; same key again.
  else
    if v_r.status <> 'completed' then
      return jsonb_build_object('action', 'skip', 'reason', 'reservation is ' || v_r.status);
    end if;
    insert into app_private.charges (reservation_id, amount, currency, idempotency_key)
    values (v_r.id, v_r.amount, v_r.currency, app_private.payment_key(v_r.id, 'charge-1'))
    returning * into v_c;
  end if;

  if v_c.amount = 0 then
    -- Nothing to charge (all of it free time): no Stripe call, still a receipt.
    update app_private.charges c set status = 'not_required', succeeded_at = now() where c.id = v_c.id;
    perform app_private.email_enqueue('receipt', v_r.email,
      app_private.payment_email_data(v_r.id) || jsonb_build_object('amount', 0),
      'receipt:' || v_r.id);
    return jsonb_build_object('action', 'skip', 'reason', 'nothing to charge');
  end if;

  select cu.stripe_customer_id, si.payment_method into v_customer, v_pm
  from app_private.setup_intents si
  join app_private.stripe_customers cu on cu.id = si.customer_id
  where si.reservation_id = v_r.id and si.status = 'succeeded';

  if v_pm is not null and v_customer is not null then
    -- The key's first use, kept across re-sends: Stripe forgets a key 24
    -- hours after it first saw it, and after that a re-send would charge again.
    v_key_age := now() - coalesce(v_c.key_first_sent_at, now());
    if v_c.key_first_sent_at is null then
      update app_private.charges c set key_first_sent_at = now() where c.id = v_c.id;
    end if;
  end if;

  return jsonb_build_object(
    'action', case when v_pm is null or v_customer is null then 'no_card' else 'charge' end,
    'chargeId', v_c.id,
    'reservationId', v_r.id,
    'attempt', v_c.attempt,
    'amount', v_c.amount,
    'currency', lower(v_c.currency),
    'idempotencyKey', v_c.idempotency_key,
    'customer', v_customer,
    'paymentMethod', v_pm,
    -- An hour's margin before Stripe's 24: the worker looks the PaymentIntent up
    -- (and adopts it) instead of trusting the key.
    'lookUpFirst', coalesce(v_key_age >= interval '23 hours', false));
end;
$$;
comment on function app_private.charge_prepare(bigint) is
  E'Makes (or finds) the charge row of a completed reservation and commits its idempotency key (and when it was first sent) before Stripe is called; says whether to charge, with what, and whether the key is old enough that Stripe may have forgotten it (lookUpFirst).';

create or replace function app_private.charge_succeeded(charge_id bigint, attempt int, payment_intent_id text)
  returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
begin
  update app_private.charges c
  set status = 'succeeded', stripe_payment_intent_id = charge_succeeded.payment_intent_id,
      succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
  where c.id = charge_succeeded.charge_id and c.attempt = charge_succeeded.attempt
    and c.status in ('pending', 'processing')
  returning * into v_c;
  if v_c.id is null then
    return false;
  end if;
  -- Paid after a failure: the reservation is complete again.
  update app_public.reservations r set status = 'completed'
  where r.id = v_c.reservation_id and r.status = 'payment_failed';
  perform app_private.email_enqueue('receipt', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency, 'paymentIntent', v_c.stripe_payment_intent_id),
    'receipt:' || r.id)
  from app_public.reservations r where r.id = v_c.reservation_id;
  return true;
end;
$$;
comment on function app_private.charge_succeeded(bigint, int, text) is
  E'Records a successful charge attempt and queues the receipt email (once per reservation).';

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
--! EndIncluded payments_charge.sql
