--! Previous: sha1:5f4b9179ea29fe4b8f65cf8c8d3373b1507b081a
--! Hash: sha1:9946c50b20efcb8c536f942ba6fc10e8e5be9ee1
--! Message: One card backs at most CARD_UPCOMING_MAX confirmed reservations still to come

-- One card may back at most CARD_UPCOMING_MAX (10) confirmed reservations
-- still to come. The hold limits count only holds; once a card is set up a
-- reservation is confirmed, costs nothing until its end and is cancelled free
-- before its start, so one card behind any number of emails could take every
-- spot of a street days ahead and let them go at the last minute. The card is
-- known by Stripe's fingerprint (the same card set up again has the same one),
-- which the server reads when a set-up succeeds (its own retrieve, or the
-- webhook's PaymentMethod).

alter table app_private.setup_intents add column if not exists card_fingerprint text;
comment on column app_private.setup_intents.card_fingerprint is
  E'Stripe''s fingerprint of the card set up (card.fingerprint of its PaymentMethod): the same card has the same one.';
create index if not exists setup_intents_card_fingerprint_idx on app_private.setup_intents (card_fingerprint)
  where status = 'succeeded';

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
    -- Booking owns the held → confirmed transition (and its email). Only a held
    -- reservation is handed over, so a replayed webhook, a second confirm, or a
    -- set-up finishing after the hold expired changes nothing.
    -- A card already backing card_upcoming_max reservations to come leaves this
    -- one held (the API answers SMP09; the hold then expires as any other).
    if exists (select from app_public.reservations r
               where r.id = setup_intent_apply.reservation_id and r.status = 'held')
       and not app_private.card_at_limit(v_si.card_fingerprint, setup_intent_apply.reservation_id) then
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
  E'Records what Stripe says of a reservation''s SetupIntent (with card_fingerprint, the card''s, when known); on success confirms the reservation unless the card is at its limit (card_at_limit), or retries a failed charge with the new card. Idempotent.';

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
--! Included payments_webhook.sql
-- Stripe webhooks, run by server/middleware/installStripeWebhook.ts as the
-- owner after the signature was verified. The inbox insert and the handling
-- share one transaction: an event is handled once, or not at all (then the
-- route answers 500 and Stripe delivers it again).

create or replace function app_private.charge_processing(charge_id bigint, attempt int, payment_intent_id text)
  returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.charges c
  set status = 'processing', stripe_payment_intent_id = charge_processing.payment_intent_id
  where c.id = charge_processing.charge_id and c.attempt = charge_processing.attempt and c.status = 'pending';
$$;
comment on function app_private.charge_processing(bigint, int, text) is
  E'Stripe accepted the charge but has not settled it; the payment_intent.* webhook finishes it.';

drop function if exists app_private.stripe_webhook_receive(jsonb);
create or replace function app_private.stripe_webhook_receive(
  event jsonb,
  card_fingerprint text default null,
  card_upcoming_max int default null
) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_obj jsonb := event->'data'->'object';
  v_reservation_id bigint;
  v_c app_private.charges;
begin
  insert into app_private.stripe_webhook_events (id, type, payload)
  values (event->>'id', event->>'type', event)
  on conflict (id) do nothing;
  if not found then
    return false;   -- a replay
  end if;

  if event->>'type' in ('setup_intent.succeeded', 'setup_intent.setup_failed', 'setup_intent.requires_action',
                        'setup_intent.canceled') then
    select si.reservation_id into v_reservation_id
    from app_private.setup_intents si where si.stripe_setup_intent_id = v_obj->>'id';
    if v_reservation_id is null and (v_obj->'metadata'->>'reservation_id') ~ '^[0-9]{1,18}$' then
      v_reservation_id := (v_obj->'metadata'->>'reservation_id')::bigint;
    end if;
    if v_reservation_id is not null then
      -- The server's limit, as the API sends it with every request (app.card_upcoming_max).
      if stripe_webhook_receive.card_upcoming_max is not null then
        perform set_config('app.card_upcoming_max', stripe_webhook_receive.card_upcoming_max::text, true);
      end if;
      perform app_private.setup_intent_apply(v_reservation_id,
        v_obj - 'payment_method' || jsonb_build_object('payment_method',
          case jsonb_typeof(v_obj->'payment_method') when 'object' then v_obj->'payment_method'->'id'
                                                     else v_obj->'payment_method' end,
          'card_fingerprint', stripe_webhook_receive.card_fingerprint));
    end if;
  elsif event->>'type' in ('payment_intent.succeeded', 'payment_intent.payment_failed') then
    -- Only charges left 'processing' wait for these; the charge task records
    -- the synchronous outcome of card charges itself.
    select c.* into v_c from app_private.charges c
    where c.stripe_payment_intent_id = v_obj->>'id' and c.status = 'processing';
    if v_c.id is not null then
      update app_private.charges c set status = 'pending' where c.id = v_c.id;
      if event->>'type' = 'payment_intent.succeeded' then
        perform app_private.charge_succeeded(v_c.id, v_c.attempt, v_obj->>'id');
      else
        perform app_private.charge_failed(v_c.id, v_c.attempt,
          coalesce(v_obj->'last_payment_error'->>'code', 'payment_failed'),
          v_obj->'last_payment_error'->>'message', v_obj->>'id');
      end if;
    end if;
  end if;
  -- Every other type is acknowledged and kept in the inbox, unhandled.
  update app_private.stripe_webhook_events e set processed_at = now() where e.id = event->>'id';
  return true;
end;
$$;
comment on function app_private.stripe_webhook_receive(jsonb, text, int) is
  E'Records a verified Stripe event once (false for a replay) and applies it: setup_intent.* → card set-up (confirming the reservation on success, unless card_fingerprint, the set-up card''s as the server looked it up, already backs card_upcoming_max reservations to come), payment_intent.* → a charge left processing.';
--! EndIncluded payments_webhook.sql
