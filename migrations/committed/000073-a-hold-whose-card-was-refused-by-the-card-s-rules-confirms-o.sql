--! Previous: sha1:368e694c8a1c2e84d57c600e1479de2a5e7ad875
--! Hash: sha1:98f75de561406fdef53eb05234ee3f972b5ffa25
--! Message: A hold whose card was refused by the card's rules confirms once the card passes, or takes another card

-- A client developer's find (stop 33): a held reservation whose card set up
-- but was refused by the card's rules (SMP09 at its limit, SMP10 unpaid) could
-- neither be confirmed once the card passed (confirm answered SMP09 from the
-- stored state, even with the debt paid) nor take another card (setup answered
-- the same succeeded set-up). Confirm and set-up now re-apply the card's rules
-- (app_private.confirm_if_card_allows, shared with the webhook's path), and a
-- set-up still refused makes way for a new one under a new key.
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
  elsif v_si.status = 'succeeded' then
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
