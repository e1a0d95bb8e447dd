--! Previous: sha1:3d6c7edb35d620977154dcde9725efcce1abe974
--! Hash: sha1:6b6946d60979a157d974e96e45a8c0be0ea40785
--! Message: Refunds reach the driver

-- Refunds reach the driver: each reservation keeps what was refunded of its
-- charge (refunded, shown on its page), and a refund made emails the driver.
alter table app_public.reservations
  add column if not exists refunded int not null default 0 constraint reservations_refunded_not_negative check (refunded >= 0);
comment on column app_public.reservations.refunded is
  E'How much of the charge was refunded, in minor units of the currency (0 when nothing was).';
update app_public.reservations r set refunded = t.total
from (select c.reservation_id, sum(f.amount)::int as total
      from app_private.refunds f join app_private.charges c on c.id = f.charge_id
      where f.status = 'succeeded' group by c.reservation_id) t
where r.id = t.reservation_id and r.refunded <> t.total;

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
  select * into v_c from app_private.charges c
  where c.id = coalesce(v_f.charge_id, (select f.charge_id from app_private.refunds f where f.id = refund_record.refund_id));
  if v_f.status = 'succeeded' then
    -- Recorded just now (a retried request finds it done and skips this): the
    -- driver sees it on the reservation and is told, once.
    update app_public.reservations r set refunded = r.refunded + v_f.amount where r.id = v_c.reservation_id;
    insert into app_private.emails (template, recipient, data, dedupe_key)
    select 'refund', r.email,
           coalesce(ed.data, '{}')
             || jsonb_build_object('refundAmount', v_f.amount, 'refunded', r.refunded, 'charged', v_c.amount,
                                   'currency', v_c.currency),
           'refund:' || v_f.id
    from app_public.reservations r
    left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
    where r.id = v_c.reservation_id
    on conflict on constraint emails_dedupe_key_key do nothing;
  end if;
  if v_f.id is null then
    select * into v_f from app_private.refunds f where f.id = refund_record.refund_id;
  end if;
  return jsonb_build_object(
    'refundId', v_f.id, 'reservationId', v_c.reservation_id, 'amount', v_f.amount, 'currency', v_c.currency,
    'status', v_f.status, 'stripeRefundId', v_f.stripe_refund_id,
    'refundedTotal', (select coalesce(sum(f.amount), 0) from app_private.refunds f
                      where f.charge_id = v_c.id and f.status = 'succeeded'));
end;
$$;
comment on function app_hidden.refund_record(bigint, text, text, text) is
  E'Staff only: records Stripe''s answer to a refund (a pending Stripe refund counts as made); one made adds to the reservation''s refunded total and emails the driver (refund), once.';
--! EndIncluded payments_refund.sql
