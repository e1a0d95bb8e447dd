--! Previous: sha1:b6719e705c1d80427409b2de3c6f2d54723f8d4f
--! Hash: sha1:3e14f33a3a1a40a63fc82a669f38f40daed25256
--! Message: Stripe's refund webhooks reach the books: refunds made in the dashboard, and refunds failed after they were counted

-- Refunds made outside the app (an operator in Stripe's dashboard) never
-- reached its books: the reservation showed nothing refunded, the driver got
-- no email, and the app's "refund everything" then asked Stripe for more than
-- was left. A refund counted when Stripe took it (pending) and failed later
-- stayed counted. Stripe's refund.* webhooks now reach the books
-- (app_private.refund_from_stripe); the operator's request and the webhook
-- record the app's own refunds once, whichever comes first.
--! Included payments_refund.sql
-- Operator refunds: prepare (authorise, refund row + key committed) → Stripe
-- refunds.create → record. A retried request re-sends the refund in flight
-- with its key, so a lost answer never refunds twice.

create or replace function app_hidden.refund_prepare(reservation_id bigint, amount int default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  v_refunded int;
  v_amount int;
  v_f app_private.refunds;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators may refund' using errcode = 'SMP05';
  end if;
  -- The answer every other reservation operation gives an unknown id.
  if not exists (select from app_public.reservations r
                 where r.id = refund_prepare.reservation_id and r.kind = 'reservation') then
    raise exception 'There is no reservation %', coalesce(refund_prepare.reservation_id::text, '(none given)')
      using errcode = 'SMB06';
  end if;
  if not app_hidden.current_user_may_manage((
      select s.borough from app_public.reservations r join app_public.spots s on s.id = r.spot_id
      where r.id = refund_prepare.reservation_id)) then
    raise exception 'Reservation % is on a spot outside your zones', refund_prepare.reservation_id using errcode = 'SMO02';
  end if;
  select c.* into v_c from app_private.charges c
  where c.reservation_id = refund_prepare.reservation_id and c.status = 'succeeded'
  for update;
  if v_c.id is null then
    raise exception 'Reservation % has no successful charge to refund', refund_prepare.reservation_id
      using errcode = 'SMP06';
  end if;

  select * into v_f from app_private.refunds f where f.charge_id = v_c.id and f.status = 'pending';
  if v_f.id is not null then
    if refund_prepare.amount is not null and refund_prepare.amount <> v_f.amount then
      raise exception 'A refund of % % minor units is already in progress for reservation %', v_f.amount, v_c.currency, refund_prepare.reservation_id
        using errcode = 'SMP07';
    end if;
  else
    select coalesce(sum(f.amount), 0) into v_refunded from app_private.refunds f
    where f.charge_id = v_c.id and f.status = 'succeeded';
    v_amount := coalesce(refund_prepare.amount, v_c.amount - v_refunded);
    if v_amount <= 0 or v_amount > v_c.amount - v_refunded then
      raise exception 'A refund must be more than 0 and at most what is still refundable: % % minor units', v_c.amount - v_refunded, v_c.currency
        using errcode = 'SMP06';
    end if;
    insert into app_private.refunds (charge_id, amount, idempotency_key, requested_by)
    values (v_c.id, v_amount, 'smp-ref-' || gen_random_uuid(), app_public.current_user_id())
    returning * into v_f;
  end if;
  return jsonb_build_object(
    'refundId', v_f.id, 'amount', v_f.amount, 'currency', v_c.currency,
    'idempotencyKey', v_f.idempotency_key, 'paymentIntentId', v_c.stripe_payment_intent_id);
end;
$$;
comment on function app_hidden.refund_prepare(bigint, int) is
  E'Staff only (SMP05), on a spot in their zones (SMO02): makes the refund row (amount defaults to what remains refundable; SMB06 for no such reservation, SMP06 when nothing is refundable, SMP07 when another refund is in flight) and returns what refunds.create needs.';

create or replace function app_private.refund_made(refund_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_f app_private.refunds;
  v_c app_private.charges;
  v_r app_public.reservations;
begin
  select * into v_f from app_private.refunds f where f.id = refund_made.refund_id;
  select * into v_c from app_private.charges c where c.id = v_f.charge_id;
  update app_public.reservations r set refunded = r.refunded + v_f.amount where r.id = v_c.reservation_id
  returning * into v_r;
  perform app_private.email_enqueue('refund', v_r.email,
    app_hidden.reservation_email_data(v_r)
      || jsonb_build_object('refundAmount', v_f.amount, 'refunded', v_r.refunded, 'charged', v_c.amount,
                            'currency', v_c.currency),
    'refund:' || v_f.id);
end;
$$;
comment on function app_private.refund_made(bigint) is
  E'A refund just recorded as made: adds it to the reservation''s refunded total and emails the driver (refund), once per refund.';

create or replace function app_private.refund_apply(refund_id bigint, stripe_refund_id text, status text, failure_message text)
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_f app_private.refunds;
begin
  -- Only a refund still in flight: the operator's request and Stripe's
  -- refund.* webhook may both report it, in either order, and it counts once.
  update app_private.refunds f
  set stripe_refund_id = coalesce(f.stripe_refund_id, refund_apply.stripe_refund_id),
      status = case when refund_apply.status in ('succeeded', 'pending') then 'succeeded' else 'failed' end,
      failure_message = refund_apply.failure_message
  where f.id = refund_apply.refund_id and f.status = 'pending'
  returning * into v_f;
  if v_f.status = 'succeeded' then
    perform app_private.refund_made(v_f.id);
  end if;
end;
$$;
comment on function app_private.refund_apply(bigint, text, text, text) is
  E'Records Stripe''s answer to a refund in flight (a pending Stripe refund counts as made: app_private.refund_made); nothing when it was recorded already.';

create or replace function app_hidden.refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text default null)
  returns jsonb
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_f app_private.refunds;
  v_c app_private.charges;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators may refund' using errcode = 'SMP05';
  end if;
  perform app_private.refund_apply(refund_record.refund_id, refund_record.stripe_refund_id, refund_record.status,
                                   refund_record.failure_message);
  select * into v_f from app_private.refunds f where f.id = refund_record.refund_id;
  select * into v_c from app_private.charges c where c.id = v_f.charge_id;
  return jsonb_build_object(
    'refundId', v_f.id, 'reservationId', v_c.reservation_id, 'amount', v_f.amount, 'currency', v_c.currency,
    'status', v_f.status, 'stripeRefundId', v_f.stripe_refund_id,
    'refundedTotal', (select coalesce(sum(f.amount), 0) from app_private.refunds f
                      where f.charge_id = v_c.id and f.status = 'succeeded'));
end;
$$;
comment on function app_hidden.refund_record(bigint, text, text, text) is
  E'Staff only: records Stripe''s answer to the operator''s refund (app_private.refund_apply) and returns it with the reservation''s refunded total.';

create or replace function app_private.refund_from_stripe(refund jsonb) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  v_f app_private.refunds;
  v_status text := refund->>'status';
begin
  if jsonb_typeof(refund->'amount') is distinct from 'number' or coalesce(refund->>'id', '') = '' then
    return;
  end if;
  -- Locked as refund_prepare locks it: what is refundable changes one refund at a time.
  select c.* into v_c from app_private.charges c
  where c.stripe_payment_intent_id = refund->>'payment_intent' and c.status = 'succeeded'
  for update;
  if v_c.id is null then
    return;
  end if;
  select f.* into v_f from app_private.refunds f
  where f.charge_id = v_c.id
    and (f.stripe_refund_id = refund->>'id'
         or (f.stripe_refund_id is null and f.id::text = refund->'metadata'->>'refund_id'));
  if v_f.id is null then
    -- Made outside the app (Stripe's dashboard): the books and the driver learn of it here.
    if v_status in ('succeeded', 'pending') and (refund->>'amount')::numeric between 1 and v_c.amount then
      insert into app_private.refunds (charge_id, amount, idempotency_key, stripe_refund_id, status)
      values (v_c.id, (refund->>'amount')::int, 'stripe:' || (refund->>'id'), refund->>'id', 'succeeded')
      returning * into v_f;
      perform app_private.refund_made(v_f.id);
    end if;
  elsif v_f.status = 'pending' then
    perform app_private.refund_apply(v_f.id, refund->>'id', v_status, refund->>'failure_reason');
  elsif v_f.status = 'succeeded' and v_status in ('failed', 'canceled') then
    -- Counted when Stripe took it (pending), and then it could not be paid out.
    update app_private.refunds f
    set status = 'failed', failure_message = coalesce(refund->>'failure_reason', v_status)
    where f.id = v_f.id;
    update app_public.reservations r set refunded = r.refunded - v_f.amount where r.id = v_c.reservation_id;
  end if;
end;
$$;
comment on function app_private.refund_from_stripe(jsonb) is
  E'Applies a refund.* webhook''s refund to the books: the app''s own refund in flight is recorded once, one made outside the app (Stripe''s dashboard) is recorded and emailed, and one counted and then failed at Stripe comes off the refunded total.';
--! EndIncluded payments_refund.sql
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
  elsif event->>'type' in ('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated') then
    perform app_private.refund_from_stripe(v_obj);
  end if;
  -- Every other type is acknowledged and kept in the inbox, unhandled.
  update app_private.stripe_webhook_events e set processed_at = now() where e.id = event->>'id';
  return true;
end;
$$;
comment on function app_private.stripe_webhook_receive(jsonb, text, int) is
  E'Records a verified Stripe event once (false for a replay) and applies it: setup_intent.* → card set-up (confirming the reservation on success, unless card_fingerprint, the set-up card''s as the server looked it up, already backs card_upcoming_max reservations to come), payment_intent.* → a charge left processing, refund.* → app_private.refund_from_stripe.';
--! EndIncluded payments_webhook.sql
