--! Previous: sha1:982a2fdc34c821fbf6e81eb2261a1cf78c70023a
--! Hash: sha1:7cff39da4a52c9e73daaa9282adf07d355940c3b
--! Message: payments

--------------------------------------------------------------------------------
-- Payments (issue 6): Stripe customers, card set-up, the final off-session
-- charge, refunds and the webhook inbox. Everything here lives in app_private:
-- no API role reads it; security definer functions in app_hidden (called by
-- the API's Node code as the request's role) and app_private (called by the
-- worker and the webhook route as the owner) are the only ways in.
-- Written to re-run: graphile-migrate applies current.sql again on each change.

-- cascade: functions taking these row types are dropped too, and remade below.
drop function if exists app_private.stripe_webhook_receive(jsonb);
drop table if exists app_private.stripe_webhook_events cascade;
drop table if exists app_private.refunds cascade;
drop table if exists app_private.charges cascade;
drop table if exists app_private.setup_intents cascade;
drop table if exists app_private.stripe_customers cascade;

-- One Stripe customer per signed-in user, or per guest email address.
create table app_private.stripe_customers (
  id                 bigint generated always as identity primary key,
  user_id            bigint unique references app_public.users on delete cascade,
  guest_email        citext unique check (length(guest_email) <= 254),
  -- Sent with customers.create, stored before the call, so a retried set-up
  -- after a crash finds the same customer at Stripe instead of a second one.
  idempotency_key    text not null unique,
  stripe_customer_id text unique,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  constraint stripe_customers_one_owner check ((user_id is null) <> (guest_email is null))
);
alter table app_private.stripe_customers enable row level security;
create trigger _100_timestamps before insert or update on app_private.stripe_customers
  for each row execute procedure app_private.tg__timestamps();
comment on table app_private.stripe_customers is
  E'The Stripe customer of a user (user_id) or of a guest email address (guest_email).';

-- The card set-up of a reservation: one SetupIntent (usage off_session) per
-- reservation and generation. A new generation (a new card after a failed
-- charge) gets a new idempotency key.
create table app_private.setup_intents (
  reservation_id         bigint primary key references app_public.reservations on delete cascade,
  customer_id            bigint not null references app_private.stripe_customers on delete restrict,
  generation             int not null default 1 check (generation >= 1),
  idempotency_key        text not null unique,
  stripe_setup_intent_id text unique,
  client_secret          text,
  -- Stripe's SetupIntent status, or 'new' before Stripe has been called.
  status                 text not null default 'new' check (status in
                           ('new', 'requires_payment_method', 'requires_confirmation', 'requires_action',
                            'processing', 'canceled', 'succeeded')),
  payment_method         text,
  succeeded_at           timestamptz,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now()
);
alter table app_private.setup_intents enable row level security;
create index setup_intents_customer_id_idx on app_private.setup_intents (customer_id);
create trigger _100_timestamps before insert or update on app_private.setup_intents
  for each row execute procedure app_private.tg__timestamps();
comment on table app_private.setup_intents is
  E'Card set-up (Stripe SetupIntent, usage off_session) of one reservation.';

-- The final charge: one row per reservation, ever. The idempotency key is
-- derived from the reservation and the attempt, and committed before Stripe
-- is called: a job that dies or times out after the call re-sends the same
-- key and gets Stripe's first answer back, never a second charge. Only a
-- definitive decline moves to the next attempt (and so to a new key).
create table app_private.charges (
  id                       bigint generated always as identity primary key,
  reservation_id           bigint not null unique references app_public.reservations on delete restrict,
  amount                   int not null check (amount >= 0),
  currency                 text not null check (currency ~ '^[A-Z]{3}$'),
  attempt                  int not null default 1 check (attempt >= 1),
  idempotency_key          text not null unique,
  stripe_payment_intent_id text,
  status                   text not null default 'pending'
                           check (status in ('pending', 'processing', 'succeeded', 'failed', 'not_required')),
  failure_code             text,
  failure_message          text,
  next_retry_at            timestamptz,
  succeeded_at             timestamptz,
  created_at               timestamptz not null default now(),
  updated_at               timestamptz not null default now()
);
alter table app_private.charges enable row level security;
create index charges_payment_intent_idx on app_private.charges (stripe_payment_intent_id);
create trigger _100_timestamps before insert or update on app_private.charges
  for each row execute procedure app_private.tg__timestamps();
comment on table app_private.charges is
  E'The final off-session charge of a reservation (one per reservation; attempts move to a new idempotency key only after a decline).';

create table app_private.refunds (
  id               bigint generated always as identity primary key,
  charge_id        bigint not null references app_private.charges on delete restrict,
  amount           int not null check (amount > 0),
  idempotency_key  text not null unique,
  stripe_refund_id text unique,
  status           text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  failure_message  text,
  requested_by     bigint references app_public.users on delete set null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
alter table app_private.refunds enable row level security;
-- One refund in flight per charge: a retried request finds and re-sends it
-- (same key) instead of starting a second one.
create unique index refunds_one_pending_idx on app_private.refunds (charge_id) where status = 'pending';
create trigger _100_timestamps before insert or update on app_private.refunds
  for each row execute procedure app_private.tg__timestamps();
comment on table app_private.refunds is E'Operator refunds (full or partial) of a reservation''s charge.';

-- Webhook inbox: Stripe delivers at least once; the event id makes a replay a no-op.
create table app_private.stripe_webhook_events (
  id           text primary key,
  type         text not null,
  payload      jsonb not null,
  received_at  timestamptz not null default now(),
  processed_at timestamptz
);
alter table app_private.stripe_webhook_events enable row level security;
comment on table app_private.stripe_webhook_events is
  E'Every verified Stripe webhook event, once (by event id).';

--! Included payments_access.sql
-- Payments: who may act on a reservation's payment, and the data payment
-- emails carry.

create or replace function app_hidden.payment_guest_token_ok(reservation_id bigint, manage_token text) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Booking keeps only a hash of each guest's manage token.
  select coalesce(payment_guest_token_ok.manage_token <> '' and exists (
    select from app_private.reservation_secrets s
    where s.reservation_id = payment_guest_token_ok.reservation_id
      and s.manage_token_hash = app_private.manage_token_hash(payment_guest_token_ok.manage_token)), false);
$$;
comment on function app_hidden.payment_guest_token_ok(bigint, text) is
  E'True when manage_token is the guest manage token of the reservation (booking''s reservation_secrets).';

create or replace function app_hidden.reservation_for_payment(reservation_id bigint, manage_token text default null)
  returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = reservation_for_payment.reservation_id and r.kind = 'reservation'
  for update;
  -- Someone else's reservation is reported exactly like a missing one.
  if v_r.id is null or not (
       (v_r.user_id is not null and v_r.user_id = app_public.current_user_id())
       or app_hidden.current_user_is_staff()
       or app_hidden.payment_guest_token_ok(v_r.id, reservation_for_payment.manage_token))
  then
    raise exception 'There is no reservation % that you can pay for', reservation_for_payment.reservation_id
      using errcode = 'SMP01';
  end if;
  return v_r;
end;
$$;
comment on function app_hidden.reservation_for_payment(bigint, text) is
  E'The reservation, locked, when the caller owns it, is staff, or holds its guest manage token; else error SMP01.';

create or replace function app_private.payment_email_data(reservation_id bigint) returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  -- The same fields as booking's emails (spot, window, time zone, amount, manage link path).
  select app_hidden.reservation_email_data(r)
  from app_public.reservations r
  where r.id = payment_email_data.reservation_id;
$$;
comment on function app_private.payment_email_data(bigint) is
  E'What receipt and payment_failed emails show: booking''s reservation email data.';

create or replace function app_private.payment_confirm_reservation(reservation_id bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Booking owns the held → confirmed transition (and its email). Only a held
  -- reservation is handed over, so a replayed webhook, a second confirm, or a
  -- set-up finishing after the hold expired changes nothing.
  if exists (select from app_public.reservations r
             where r.id = payment_confirm_reservation.reservation_id and r.status = 'held') then
    perform app_private.confirm_reservation_payment(payment_confirm_reservation.reservation_id);
  end if;
end;
$$;
comment on function app_private.payment_confirm_reservation(bigint) is
  E'Confirms a held reservation whose card is set up (booking''s app_private.confirm_reservation_payment); no-op otherwise.';
--! EndIncluded payments_access.sql
--! Included payments_setup.sql
-- Card set-up. The API's Node code (server/payments_plugin.ts) calls these as
-- the request's role, in separate short transactions around its Stripe calls:
--   prepare (authorise, rows and idempotency keys committed) → Stripe
--   customers.create / setupIntents.create → record.
-- Each re-authorises the caller, so none of them trusts Node's word for who asks.

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
  v_r := app_hidden.reservation_for_payment(payment_setup_prepare.reservation_id, payment_setup_prepare.manage_token);
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
  v_r := app_hidden.reservation_for_payment(payment_customer_record.reservation_id, payment_customer_record.manage_token);
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
    perform app_private.payment_confirm_reservation(setup_intent_apply.reservation_id);
    -- A new card after a failed charge: charge it now rather than at the next
    -- scheduled retry.
    update app_private.charges c set next_retry_at = now()
    where c.reservation_id = setup_intent_apply.reservation_id and c.status = 'failed'
      and exists (select from app_public.reservations r
                  where r.id = setup_intent_apply.reservation_id and r.status = 'payment_failed');
    if found then
      perform graphile_worker.add_job('reservation__charge',
        json_build_object('reservationId', setup_intent_apply.reservation_id),
        job_key => 'reservation_charge:' || setup_intent_apply.reservation_id, job_key_mode => 'replace');
    end if;
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
  v_r := app_hidden.reservation_for_payment(payment_setup_record.reservation_id, payment_setup_record.manage_token);
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
  v_r := app_hidden.reservation_for_payment(payment_setup_lookup.reservation_id, payment_setup_lookup.manage_token);
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
--! EndIncluded payments_setup.sql
--! Included payments_charge.sql
-- The final off-session charge, run by tasks/reservation__charge.ts as the
-- owner: prepare (commits the charge row and its idempotency key) → Stripe
-- paymentIntents.create(off_session, confirm) → succeeded or failed.

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

  return jsonb_build_object(
    'action', case when v_pm is null or v_customer is null then 'no_card' else 'charge' end,
    'chargeId', v_c.id,
    'reservationId', v_r.id,
    'attempt', v_c.attempt,
    'amount', v_c.amount,
    'currency', lower(v_c.currency),
    'idempotencyKey', v_c.idempotency_key,
    'customer', v_customer,
    'paymentMethod', v_pm);
end;
$$;
comment on function app_private.charge_prepare(bigint) is
  E'Makes (or finds) the charge row of a completed reservation and commits its idempotency key before Stripe is called; says whether to charge, and with what.';

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
  charge_id bigint, attempt int, failure_code text, failure_message text, payment_intent_id text
) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_private.charges;
  v_retry timestamptz := now() + app_private.charge_retry_delay(charge_failed.attempt);
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
                            'failureCode', v_c.failure_code, 'attempt', v_c.attempt, 'nextRetryAt', v_retry),
    'payment_failed:' || r.id || ':' || v_c.attempt)
  from app_public.reservations r where r.id = v_c.reservation_id;
  if v_retry is not null then
    perform graphile_worker.add_job('reservation__charge', json_build_object('reservationId', v_c.reservation_id),
      run_at => v_retry, job_key => 'reservation_charge:' || v_c.reservation_id, job_key_mode => 'replace');
  end if;
  return v_retry;
end;
$$;
comment on function app_private.charge_failed(bigint, int, text, text, text) is
  E'Records a declined attempt: the reservation becomes payment_failed, the driver is emailed a link to pay, and the next retry is scheduled (see charge_retry_delay).';
--! EndIncluded payments_charge.sql
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
      raise exception 'A refund of % is already in progress for reservation %', v_f.amount, refund_prepare.reservation_id
        using errcode = 'SMP07';
    end if;
  else
    select coalesce(sum(f.amount), 0) into v_refunded from app_private.refunds f
    where f.charge_id = v_c.id and f.status = 'succeeded';
    v_amount := coalesce(refund_prepare.amount, v_c.amount - v_refunded);
    if v_amount <= 0 or v_amount > v_c.amount - v_refunded then
      raise exception 'A refund must be more than 0 and at most the % still refundable', v_c.amount - v_refunded
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
  E'Staff only (SMP05): makes the refund row (amount defaults to what remains refundable; SMP06 when nothing does, SMP07 when another refund is in flight) and returns what refunds.create needs.';

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
  update app_private.refunds f
  set stripe_refund_id = coalesce(f.stripe_refund_id, refund_record.stripe_refund_id),
      status = case when refund_record.status in ('succeeded', 'pending') then 'succeeded' else 'failed' end,
      failure_message = refund_record.failure_message
  where f.id = refund_record.refund_id and f.status = 'pending'
  returning * into v_f;
  if v_f.id is null then
    select * into v_f from app_private.refunds f where f.id = refund_record.refund_id;
  end if;
  select * into v_c from app_private.charges c where c.id = v_f.charge_id;
  return jsonb_build_object(
    'refundId', v_f.id, 'reservationId', v_c.reservation_id, 'amount', v_f.amount, 'currency', v_c.currency,
    'status', v_f.status, 'stripeRefundId', v_f.stripe_refund_id,
    'refundedTotal', (select coalesce(sum(f.amount), 0) from app_private.refunds f
                      where f.charge_id = v_c.id and f.status = 'succeeded'));
end;
$$;
comment on function app_hidden.refund_record(bigint, text, text, text) is
  E'Staff only: records Stripe''s answer to a refund (a pending Stripe refund counts as made).';
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

create or replace function app_private.stripe_webhook_receive(event jsonb) returns boolean
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
      perform app_private.setup_intent_apply(v_reservation_id,
        v_obj - 'payment_method' || jsonb_build_object('payment_method',
          case jsonb_typeof(v_obj->'payment_method') when 'object' then v_obj->'payment_method'->'id'
                                                     else v_obj->'payment_method' end));
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
comment on function app_private.stripe_webhook_receive(jsonb) is
  E'Records a verified Stripe event once (false for a replay) and applies it: setup_intent.* → card set-up (confirming the reservation on success), payment_intent.* → a charge left processing.';
--! EndIncluded payments_webhook.sql
