-- Booking core: what a reservation needs beyond the foundation's table (hold
-- deadline, operator blocks, guest manage tokens, an audit trail), the booking
-- functions, and the triggers that queue each reservation's future work.
-- Re-runnable: every statement tolerates having run before.

--------------------------------------------------------------------------------
-- Reservations: new columns

alter table app_public.reservations
  add column if not exists kind text not null default 'reservation',
  add column if not exists hold_expires_at timestamptz,
  add column if not exists note text;

alter table app_public.reservations drop constraint if exists reservations_kind_check;
alter table app_public.reservations add constraint reservations_kind_check
  check (kind in ('reservation', 'block'));
alter table app_public.reservations drop constraint if exists reservations_note_check;
alter table app_public.reservations add constraint reservations_note_check
  check (length(note) <= 500);
-- Only a held reservation has a hold deadline (reserve() always sets one; a
-- row written directly, e.g. by an import, may leave it null: never expires).
alter table app_public.reservations drop constraint if exists reservations_hold_check;
alter table app_public.reservations add constraint reservations_hold_check
  check (hold_expires_at is null or status = 'held');

comment on column app_public.reservations.kind is
  E'reservation (a driver''s), or block (an operator took the spot out of use for the period). Both are subject to the same no-overlap constraint.';
comment on column app_public.reservations.hold_expires_at is
  E'While held: when the hold lapses unless payment set-up confirms it.';
comment on column app_public.reservations.note is E'An operator''s reason for a block.';

create index if not exists reservations_held_idx on app_public.reservations (hold_expires_at)
  where status = 'held';
create index if not exists reservations_spot_id_idx on app_public.reservations (spot_id);

--------------------------------------------------------------------------------
-- Guest manage tokens: only a hash, and out of every API role's reach.

create table if not exists app_private.reservation_secrets (
  reservation_id    bigint primary key references app_public.reservations on delete cascade,
  manage_token_hash bytea not null
);
alter table app_private.reservation_secrets enable row level security;
comment on table app_private.reservation_secrets is
  E'SHA-256 of a guest reservation''s manage token; the token itself is shown once, by reserve().';

--------------------------------------------------------------------------------
-- Audit: one row per insert or change of a reservation, written by a trigger.

create table if not exists app_private.reservation_events (
  id             bigint generated always as identity primary key,
  reservation_id bigint not null references app_public.reservations on delete cascade,
  action         text not null,
  old_status     app_public.reservation_status,
  new_status     app_public.reservation_status not null,
  old_period     tstzrange,
  new_period     tstzrange not null,
  old_amount     int,
  new_amount     int not null,
  actor_user_id  bigint,
  actor_role     text not null,
  at             timestamptz not null default now()
);
alter table app_private.reservation_events enable row level security;
create index if not exists reservation_events_reservation_id_idx
  on app_private.reservation_events (reservation_id, id);
comment on table app_private.reservation_events is
  E'Audit trail: who changed which reservation how (action, before/after status, period and amount).';

--------------------------------------------------------------------------------
-- What reserve() returns.

drop type if exists app_public.reservation_receipt cascade;
create type app_public.reservation_receipt as (
  reservation  app_public.reservations,
  manage_token text
);
comment on type app_public.reservation_receipt is
  E'A new reservation, and for a guest the one-time manage token (null for signed-in drivers).';
comment on column app_public.reservation_receipt.manage_token is
  E'Guests only: the secret that, with the reservation id, reads, changes, ends or cancels it. Shown once; keep it.';

--! include email_enqueue.sql
--! include quote.sql
--! include reservations_rules.sql
--! include reservations_access.sql
--! include reservations_booking.sql
--! include reservations_blocks.sql
--! include reservations_read.sql
--! include reservations_lifecycle.sql
--! include reservations_triggers.sql

--------------------------------------------------------------------------------
-- Triggers (functions live in reservations_triggers.sql)

drop trigger if exists _500_audit on app_public.reservations;
create trigger _500_audit after insert or update on app_public.reservations
  for each row execute procedure app_private.tg_reservations__audit();

drop trigger if exists _600_schedule_jobs on app_public.reservations;
create trigger _600_schedule_jobs after insert or update of status, period, hold_expires_at
  on app_public.reservations
  for each row execute procedure app_private.tg_reservations__schedule_jobs();

drop trigger if exists _700_notify on app_public.reservations;
create trigger _700_notify after insert or update of status, period on app_public.reservations
  for each row execute procedure app_private.tg_reservations__notify();
