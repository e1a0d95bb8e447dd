-- Security (issue 9): query cost, client addresses, hold and sign-in limits,
-- account pre-hijack, passwords, one email rule, documented codes for bad input.

-- Sign-in throttle keyed by (email, client address): a pair that keeps going
-- over waits twice as long each time (app_private.rate_limit_hit).
alter table app_private.rate_limits add column if not exists strikes int not null default 0;
comment on column app_private.rate_limits.strikes is
  E'Windows in a row this key went over the limit (escalating buckets wait period × 2^strikes).';

-- Where each reservation was asked for from, to bound active holds per client address.
create table if not exists app_private.reservation_origins (
  reservation_id bigint primary key references app_public.reservations on delete cascade,
  client_ip      inet not null
);
comment on table app_private.reservation_origins is
  E'The client address each reservation was made from (when the request carried one): holds per address are bounded (SMB12).';
create index if not exists reservation_origins_client_ip_idx on app_private.reservation_origins (client_ip);
-- Active holds per email and per driver, counted at every booking.
create index if not exists reservations_held_email_idx on app_public.reservations (email) where status = 'held';
create index if not exists reservations_held_user_idx on app_public.reservations (user_id) where status = 'held';

--!include common_passwords.sql
--!include accounts_core.sql
--!include accounts_password.sql
--!include accounts_staff.sql
--!include current_user.sql
--!include reservations_rules.sql
--!include reservations_booking.sql
--!include spots_near.sql

-- One email rule for every path that stores an address (app_hidden.email_is_valid):
-- the functions refuse with their own codes first; these catch any other writer.
-- Not valid: rows from before are left as they are, every new or changed one is checked.
alter table app_public.users drop constraint if exists users_email_check;
alter table app_public.users add constraint users_email_check check (app_hidden.email_is_valid(email::text)) not valid;
alter table app_public.reservations drop constraint if exists reservations_email_check;
alter table app_public.reservations add constraint reservations_email_check check (app_hidden.email_is_valid(email::text)) not valid;

-- Stripe budget and batched charges (issue 16).
--!include rate_budgets.sql
--!include payments_charge.sql
--!include reservations_lifecycle.sql

--! Message: Inventory sync, spot change history, live availability events, saved spots

-- Sync runs: one row per attempt of the inventory sync (tasks/spots__sync.ts),
-- with what it saw and did; operators read them through the API.
create table if not exists app_public.spot_sync_runs (
  id            bigint generated always as identity primary key,
  source_url    text not null check (length(source_url) <= 2000),
  started_at    timestamptz not null default now(),
  finished_at   timestamptz,
  outcome       text not null default 'running'
                check (outcome in ('running', 'succeeded', 'not_modified', 'failed')),
  rows_seen     int not null default 0,
  inserted      int not null default 0,
  changed       int not null default 0,
  unchanged     int not null default 0,
  removed       int not null default 0,
  rejected      int not null default 0,
  rejects       jsonb not null default '[]',
  error         text
);
comment on table app_public.spot_sync_runs is
  E'One run of the inventory sync from the city''s meter data: rows seen, inserted, changed, unchanged, removed (put out of service because the snapshot no longer lists them), rejected (the first 100 with reasons), or why it failed. Operators only.';
comment on column app_public.spot_sync_runs.outcome is
  E'running, succeeded, not_modified (the source answered 304: nothing read), or failed (nothing changed; see error).';
comment on column app_public.spot_sync_runs.rejects is E'The first 100 rejected rows: [{line, reason}].';
create index if not exists spot_sync_runs_started_idx on app_public.spot_sync_runs (started_at desc);

-- The source's HTTP validators and back-off, one row per source URL.
create table if not exists app_private.spot_sync_sources (
  source_url     text primary key,
  etag           text,
  last_modified  text,
  failures       int not null default 0,
  retry_at       timestamptz,
  last_error     text,
  updated_at     timestamptz not null default now()
);
comment on table app_private.spot_sync_sources is
  E'Per source URL: the ETag / Last-Modified of the last snapshot applied (sent back as If-None-Match / If-Modified-Since), consecutive failures and when to try again (back-off).';

-- Prices of meters whose data has no Hourly_Rate (the city's real file), by
-- pay-by-cell zone; zone '*' is the default.
create table if not exists app_private.meter_zone_prices (
  zone          text primary key check (length(zone) between 1 and 50),
  hourly_price  int not null check (hourly_price > 0 and hourly_price <= 100000)
);
comment on table app_private.meter_zone_prices is
  E'Hourly price in cents for meter rows without an Hourly_Rate, by Pay By Cell zone; zone ''*'' applies to every other zone.';
insert into app_private.meter_zone_prices (zone, hourly_price) values ('*', 450) on conflict (zone) do nothing;

-- Change history of spots, written by a trigger on spots.
create table if not exists app_public.spot_changes (
  id           bigint generated always as identity primary key,
  spot_id      bigint not null references app_public.spots (id) on delete cascade,
  field        text not null,
  old_value    text,
  new_value    text,
  changed_at   timestamptz not null default now(),
  sync_run_id  bigint references app_public.spot_sync_runs (id) on delete set null,
  source       text not null check (source in ('sync', 'import', 'edit'))
);
comment on table app_public.spot_changes is
  E'Every real change of a spot''s inventory fields (a write that changes nothing leaves no row): which spot, which field, old and new value, when, and from which sync run or source.';
comment on column app_public.spot_changes.field is
  E'created (a new spot), or the field that changed: location, street, side_of_street, from_street, to_street, borough, zone, rate, max_stay, status, meter_hours, is_accessible, has_ev_charger.';
comment on column app_public.spot_changes.source is E'sync (the inventory sync), import (spots:import) or edit (anything else, e.g. an operator).';
create index if not exists spot_changes_spot_idx on app_public.spot_changes (spot_id, id);
create index if not exists spot_changes_run_idx on app_public.spot_changes (sync_run_id);
create index if not exists spot_changes_changed_at_idx on app_public.spot_changes (changed_at, id);

-- Live events: availability changes of spots in map tiles that some API
-- process watches (app_private.live_watched_tiles), kept a while for SSE
-- clients resuming with Last-Event-ID.
create table if not exists app_private.live_watched_tiles (
  tile         text not null,
  listener     uuid not null,
  seen_at      timestamptz not null default now(),
  primary key (tile, listener)
);
comment on table app_private.live_watched_tiles is
  E'Map tiles (0.05° squares, "<floor(lat/0.05)>:<floor(lng/0.05)>") that a live API process listens to, refreshed while it does: spot changes elsewhere send no NOTIFY.';

create table if not exists app_private.live_events (
  id          bigint generated always as identity primary key,
  tile        text not null,
  spot_id     bigint not null,
  lat         double precision not null,
  lng         double precision not null,
  reason      text not null,
  starts_at   timestamptz,
  ends_at     timestamptz,
  at          timestamptz not null default now()
);
comment on table app_private.live_events is
  E'Availability events of watched tiles, kept for LIVE_EVENT_RETENTION so SSE clients can resume (Last-Event-ID). Ids and positions only: no reservation, user or email.';
create index if not exists live_events_tile_idx on app_private.live_events (tile, id);

-- Saved spots.
create table if not exists app_public.saved_spots (
  user_id   bigint not null references app_public.users (id) on delete cascade,
  spot_id   bigint not null references app_public.spots (id) on delete cascade,
  saved_at  timestamptz not null default now(),
  primary key (user_id, spot_id)
);
comment on table app_public.saved_spots is E'Spots a driver saved (bookmarks); each driver sees only their own.';
create index if not exists saved_spots_spot_idx on app_public.saved_spots (spot_id);

drop type if exists app_public.saved_spot_status cascade;
create type app_public.saved_spot_status as (
  spot      app_public.spots,
  saved_at  timestamptz,
  available boolean,
  price     app_public.price_quote
);
comment on type app_public.saved_spot_status is
  E'A saved spot, when it was saved, whether it is free for the asked window, and its price for that window.';

--!include filters.sql
--!include spots_import.sql
--!include spot_changes.sql
--!include spots_sync.sql
--!include live_events.sql
--!include saved_spots.sql

-- Operators and analysts (issue 14): the staff audit log, customers, operator
-- zones and the spot and rate functions, blocks scoped to zones, vehicles and
-- the enforcement role, analysts' views.
--!include staff_audit.sql
--!include customers.sql
--!include customer_photos.sql
--!include spots_admin.sql
--!include reservations_blocks.sql
--!include accounts_staff.sql
--!include vehicles_enforcement.sql
-- reserve() gained the optional plate and plate_state arguments.
drop function if exists app_public.reserve(bigint, timestamptz, timestamptz, int, text);
--!include reservations_booking.sql
--!include analytics.sql
--!include table_access.sql
