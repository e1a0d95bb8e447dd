--! Previous: sha1:3754f740b4fed7120b065c0a7193354c5820b53b
--! Hash: sha1:28ebe0a72caa355897721c4ed5de63e14c1582c6
--! Message: Card set-up survives a Stripe customer that Stripe no longer knows

-- Card set-up survives a Stripe customer that Stripe no longer knows.
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

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
    'setupStatus', si.status)
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

  if v_r.status not in ('held', 'payment_failed') then
    -- Asking again once the card is set up returns the same answer.
    if v_si.status = 'succeeded' then
      return app_private.setup_intent_json(v_si, v_r);
    end if;
    raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
      v_r.id, v_r.status using errcode = 'SMP02';
  end if;

  if v_r.user_id is not null then
    insert into app_private.stripe_customers (user_id, idempotency_key)
    values (v_r.user_id, 'smp-cus-' || gen_random_uuid())
    on conflict (user_id) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.user_id = v_r.user_id;
  else
    insert into app_private.stripe_customers (guest_email, idempotency_key)
    values (v_r.email, 'smp-cus-' || gen_random_uuid())
    on conflict (guest_email) do nothing;
    select c.id into v_customer_id from app_private.stripe_customers c where c.guest_email = v_r.email;
  end if;

  if v_si.reservation_id is null then
    insert into app_private.setup_intents (reservation_id, customer_id, idempotency_key)
    values (v_r.id, v_customer_id, app_private.payment_key(v_r.id, 'setup-1'))
    returning * into v_si;
  elsif v_r.status = 'payment_failed' and v_si.status = 'succeeded' then
    -- The card on file was declined: set up a new one under a new key.
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
  E'Authorises the caller, makes (or finds) the Stripe customer and set-up rows of a held or payment-failed reservation with their idempotency keys, and returns what the Stripe calls need.';

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

create or replace function app_private.setup_intent_apply(reservation_id bigint, intent jsonb) returns app_private.setup_intents
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_si app_private.setup_intents;
  v_status text := intent->>'status';
begin
  update app_private.setup_intents si
  set stripe_setup_intent_id = coalesce(si.stripe_setup_intent_id, intent->>'id'),
      client_secret = coalesce(si.client_secret, intent->>'client_secret'),
      -- Never back from succeeded: a stale read must not undo a set-up.
      status = case when si.status = 'succeeded' then si.status else v_status end,
      payment_method = case when si.status = 'succeeded' then si.payment_method
                            else coalesce(intent->>'payment_method', si.payment_method) end,
      succeeded_at = case when si.status <> 'succeeded' and v_status = 'succeeded' then now() else si.succeeded_at end
  where si.reservation_id = setup_intent_apply.reservation_id
    and (si.stripe_setup_intent_id is null or si.stripe_setup_intent_id = intent->>'id')
  returning * into v_si;

  if v_si.status = 'succeeded' then
    -- Booking owns the held → confirmed transition (and its email). Only a held
    -- reservation is handed over, so a replayed webhook, a second confirm, or a
    -- set-up finishing after the hold expired changes nothing.
    if exists (select from app_public.reservations r
               where r.id = setup_intent_apply.reservation_id and r.status = 'held') then
      perform app_private.confirm_held_reservation(setup_intent_apply.reservation_id);
    end if;
    -- A new card after a failed charge: charge it now rather than at the next
    -- scheduled retry.
    perform app_private.charge_retry_now(setup_intent_apply.reservation_id);
  end if;
  return v_si;
end;
$$;
comment on function app_private.setup_intent_apply(bigint, jsonb) is
  E'Records what Stripe says of a reservation''s SetupIntent; on success confirms the reservation (or retries a failed charge with the new card). Idempotent.';

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
    raise exception 'Reservation % has no card set-up to confirm: call setupReservationPayment first', v_r.id
      using errcode = 'SMP03';
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;
comment on function app_hidden.payment_setup_lookup(bigint, text) is
  E'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started).';

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
