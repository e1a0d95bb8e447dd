-- Stripe forgets idempotency keys after 24 hours: the charge row keeps when
-- its key was first sent, so a re-send after that looks the PaymentIntent up.
alter table app_private.charges add column if not exists key_first_sent_at timestamptz;
comment on column app_private.charges.key_first_sent_at is
  E'When the current idempotency key was first sent to Stripe (null: not yet); reset with a new key.';

--!include payments_charge.sql
