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

--!include payments_access.sql
--!include payments_setup.sql
--!include payments_charge.sql
--!include payments_refund.sql
--!include payments_webhook.sql
