--! Previous: sha1:8904ba3d2c48c4e21935f033abcd65ddc1a16e8d
--! Hash: sha1:27f21d8b17d0d21182e1305b8e93bc69fe67c02f
--! Message: A driver's rename reaches their customer record unless staff named it

-- A driver who renamed themselves (updateUser) kept the old name on their
-- customer record, so staff searched and greeted them by it. The record now
-- follows the account's name by trigger until staff give it one of their
-- own; forget_unproved_setup relied on its own copy of that rule and now
-- relies on the trigger.
--! Included customers.sql
-- Customers: staff's record of everyone who books, accounts and guest emails
-- alike, one row per email. Drivers' accounts and guests' first reservations
-- add their row by trigger; staff create, edit, annotate, soft delete and
-- restore them through the functions below (security definer, staff only:
-- the API roles have no write grant). A soft-deleted customer is invisible to
-- every list and search (row level security) but keeps its reservations and
-- its audit rows.

create extension if not exists pg_trgm with schema public;

create table if not exists app_public.customers (
  id          bigint generated always as identity primary key,
  email       citext not null unique check (length(email) <= 254),
  name        text check (length(name) between 1 and 100),
  surname     text check (length(surname) between 1 and 100),
  user_id     bigint unique references app_public.users (id) on delete set null,
  deleted_at  timestamptz,
  created_by  bigint references app_public.users (id) on delete set null,
  updated_by  bigint references app_public.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  -- What search matches against: lower-case name, surname and email.
  search_text text not null generated always as (
    lower(coalesce(name, '') || ' ' || coalesce(surname, '') || ' ' || email::text)) stored
);
create index if not exists customers_search_trgm on app_public.customers using gin (search_text gin_trgm_ops);
create index if not exists customers_surname_idx on app_public.customers (surname, name, id);
comment on table app_public.customers is
  E'@behavior -insert -update -delete\nA customer: an account or a guest email, with the name staff know them by. Staff only; soft-deleted ones are hidden everywhere but the audit log.';
comment on column app_public.customers.user_id is E'The customer''s account, when they have one (null: a guest email).';
comment on column app_public.customers.deleted_at is E'@behavior -*\nSoft deletion: set, the row is hidden from staff.';
comment on column app_public.customers.created_by is E'The staff member who created the record (null: made by a booking or sign-up). Set by trigger.';
comment on column app_public.customers.updated_by is E'The staff member who last changed it. Set by trigger.';
comment on column app_public.customers.search_text is E'@behavior -*';

create table if not exists app_public.customer_notes (
  id          bigint generated always as identity primary key,
  customer_id bigint not null references app_public.customers (id) on delete cascade,
  body        text not null check (length(body) between 1 and 2000),
  created_by  bigint references app_public.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index if not exists customer_notes_customer_idx on app_public.customer_notes (customer_id, created_at);
comment on table app_public.customer_notes is E'@behavior -insert -update -delete\nStaff notes on a customer, newest last.';

create or replace function app_private.tg__staff_stamps() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- From the session, never from the client; only staff requests (they run
  -- as app_operator) stamp a name: a row a booking or sign-up adds has none.
  v_staff bigint := case when current_setting('role', true) = 'app_operator' then app_public.current_user_id() end;
begin
  if tg_op = 'INSERT' then
    new.created_by := v_staff;
  else
    new.created_by := old.created_by;
    if to_jsonb(new) ? 'updated_by' then
      new := jsonb_populate_record(new, jsonb_build_object('updated_by', v_staff));
    end if;
  end if;
  return new;
end;
$$;
comment on function app_private.tg__staff_stamps() is
  E'BEFORE trigger: created_by (insert) and updated_by (update, when the table has it) from the current session when it is staff''s, else null.';

drop trigger if exists _100_timestamps on app_public.customers;
create trigger _100_timestamps before insert or update on app_public.customers
  for each row execute function app_private.tg__timestamps();
drop trigger if exists _110_staff_stamps on app_public.customers;
create trigger _110_staff_stamps before insert or update on app_public.customers
  for each row execute function app_private.tg__staff_stamps();
drop trigger if exists _100_timestamps on app_public.customer_notes;
create trigger _100_timestamps before insert or update on app_public.customer_notes
  for each row execute function app_private.tg__timestamps();
drop trigger if exists _110_staff_stamps on app_public.customer_notes;
create trigger _110_staff_stamps before insert or update on app_public.customer_notes
  for each row execute function app_private.tg__staff_stamps();
drop trigger if exists _900_audit on app_public.customers;
create trigger _900_audit after insert or update or delete on app_public.customers
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.customer_notes;
create trigger _900_audit after insert or update or delete on app_public.customer_notes
  for each row execute function app_private.tg__audit();

--------------------------------------------------------------------------------
-- Everyone who books becomes a customer: accounts when made, guest emails at
-- their first reservation.

create or replace function app_private.tg__customer_from_booker() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_table_name = 'users' then
    insert into app_public.customers (email, name, user_id)
    values (new.email, new.name, new.id)
    on conflict (email) do update set user_id = excluded.user_id
      where app_public.customers.user_id is null;
  else
    insert into app_public.customers (email) values (new.email) on conflict (email) do nothing;
  end if;
  return null;
end;
$$;
comment on function app_private.tg__customer_from_booker() is
  E'AFTER INSERT trigger on users (drivers) and reservations: makes sure the account or guest email has a customer row (a soft-deleted one stays deleted).';

drop trigger if exists _800_customer on app_public.users;
create trigger _800_customer after insert on app_public.users
  for each row when (new.role = 'driver') execute function app_private.tg__customer_from_booker();
drop trigger if exists _800_customer on app_public.reservations;
create trigger _800_customer after insert on app_public.reservations
  for each row when (new.kind = 'reservation' and new.user_id is null)
  execute function app_private.tg__customer_from_booker();

create or replace function app_private.tg_users__customer_name() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The customer record starts with the account's name. It follows the
  -- account's renames (updateUser, a reset of an unproved account) until
  -- staff give it a name of their own: then the names differ, and staff's stays.
  update app_public.customers c set name = new.name
  where c.user_id = new.id and c.name is not distinct from old.name and new.name is distinct from old.name;
  return null;
end;
$$;
comment on function app_private.tg_users__customer_name() is
  E'AFTER UPDATE OF name trigger on users: the account''s customer record takes the new name, unless staff changed the record''s name.';

drop trigger if exists _810_customer_name on app_public.users;
create trigger _810_customer_name after update of name on app_public.users
  for each row execute function app_private.tg_users__customer_name();

-- Everyone who booked before customers existed.
insert into app_public.customers (email, name, user_id)
select u.email, u.name, u.id from app_public.users u where u.role = 'driver'
on conflict (email) do nothing;
insert into app_public.customers (email)
select distinct r.email from app_public.reservations r where r.kind = 'reservation' and r.user_id is null
on conflict (email) do nothing;

--------------------------------------------------------------------------------
-- Staff operations

create or replace function app_hidden.assert_staff() returns bigint
  language plpgsql stable
as $$
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins may manage customers' using errcode = 'SMC01';
  end if;
  return app_public.current_user_id();
end;
$$;
comment on function app_hidden.assert_staff() is E'The current user''s id when an operator or admin, else error SMC01.';

create or replace function app_hidden.customer_live(customer_id bigint) returns app_public.customers
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  select c.* into v_c from app_public.customers c where c.id = customer_live.customer_id and c.deleted_at is null;
  if v_c.id is null then
    raise exception 'There is no customer %', coalesce(customer_live.customer_id::text, '(none given)') using errcode = 'SMC03';
  end if;
  return v_c;
end;
$$;
comment on function app_hidden.customer_live(bigint) is E'The customer when it exists and is not deleted, else error SMC03.';

create or replace function app_hidden.customer_name(value text) returns text
  language plpgsql immutable
as $$
begin
  if value is null or value ~ '[[:cntrl:]]' or length(btrim(value)) not between 1 and 100 then
    raise exception 'A customer needs a name and a surname of 1 to 100 characters' using errcode = 'SMC04';
  end if;
  return btrim(value);
end;
$$;
comment on function app_hidden.customer_name(text) is E'A trimmed name or surname of 1–100 characters without control characters, else error SMC04.';

create or replace function app_hidden.raise_customer_email_taken(email text) returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_deleted bigint;
begin
  -- A soft-deleted customer keeps its email but shows in no list or search:
  -- staff need its number to restore it rather than a dead end.
  select c.id into v_deleted from app_public.customers c
  where c.email = raise_customer_email_taken.email::citext and c.deleted_at is not null;
  if v_deleted is not null then
    raise exception 'Deleted customer % has this email: restore it (restoreCustomer) instead', v_deleted
      using errcode = 'SMC02';
  end if;
  raise exception 'A customer with this email already exists' using errcode = 'SMC02';
end;
$$;
comment on function app_hidden.raise_customer_email_taken(text) is
  E'Raises SMC02 for an email another customer has, naming the customer when it is a deleted one (to restore).';

create or replace function app_public.create_customer(email text, name text, surname text) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  begin
    insert into app_public.customers (email, name, surname)
    values (app_hidden.assert_email(email), app_hidden.customer_name(name), app_hidden.customer_name(surname))
    returning * into v_c;
  exception when unique_violation then
    perform app_hidden.raise_customer_email_taken(email);
  end;
  return v_c;
end;
$$;
comment on function app_public.create_customer(text, text, text) is
  E'Staff (SMC01): a new customer record with a unique email (SMC02; SMA03 when not an email) and a name and surname (SMC04).';

create or replace function app_public.update_customer(
  customer_id bigint, email text default null, name text default null, surname text default null
) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  begin
    update app_public.customers c
    set email = case when update_customer.email is null then c.email else app_hidden.assert_email(update_customer.email) end,
        name = case when update_customer.name is null then c.name else app_hidden.customer_name(update_customer.name) end,
        surname = case when update_customer.surname is null then c.surname else app_hidden.customer_name(update_customer.surname) end
    where c.id = v_c.id
    returning * into v_c;
  exception when unique_violation then
    perform app_hidden.raise_customer_email_taken(update_customer.email);
  end;
  return v_c;
end;
$$;
comment on function app_public.update_customer(bigint, text, text, text) is
  E'Staff (SMC01): changes a customer''s email, name or surname (null: unchanged). SMC03 unknown or deleted, SMC02 email taken, SMC04 bad name.';

create or replace function app_public.delete_customer(customer_id bigint) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  update app_public.customers c set deleted_at = now() where c.id = v_c.id returning * into v_c;
  return v_c;
end;
$$;
comment on function app_public.delete_customer(bigint) is
  E'Staff (SMC01): soft-deletes a customer: gone from every list and search, kept with its reservations and audit rows; restoreCustomer brings it back. SMC03 unknown or already deleted.';

create or replace function app_public.restore_customer(customer_id bigint) returns app_public.customers
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  update app_public.customers c set deleted_at = null
  where c.id = restore_customer.customer_id and c.deleted_at is not null
  returning * into v_c;
  if v_c.id is null then
    raise exception 'There is no deleted customer %', coalesce(restore_customer.customer_id::text, '(none given)') using errcode = 'SMC03';
  end if;
  return v_c;
end;
$$;
comment on function app_public.restore_customer(bigint) is
  E'Staff (SMC01): undoes deleteCustomer. SMC03 when no deleted customer has this id.';

create or replace function app_public.add_customer_note(customer_id bigint, body text) returns app_public.customer_notes
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_n app_public.customer_notes;
begin
  perform app_hidden.assert_staff();
  perform app_hidden.customer_live(customer_id);
  if body is null or length(btrim(body)) not between 1 and 2000 then
    raise exception 'A note has 1 to 2000 characters' using errcode = 'SMC05';
  end if;
  insert into app_public.customer_notes (customer_id, body) values (add_customer_note.customer_id, btrim(body))
  returning * into v_n;
  return v_n;
end;
$$;
comment on function app_public.add_customer_note(bigint, text) is
  E'Staff (SMC01): adds a note (1–2000 characters, SMC05) to a customer (SMC03 unknown or deleted).';

create or replace function app_public.search_customers(query text) returns setof app_public.customers
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_q text := lower(btrim(coalesce(query, '')));
begin
  perform app_hidden.assert_staff();
  if length(v_q) not between 1 and 200 then
    raise exception 'Search for 1 to 200 characters' using errcode = 'SMC06';
  end if;
  -- Typo-tolerant: trigram similarity of the query with the closest part of
  -- name + surname + email, so "smiht" finds Smith. A query with an @ is an
  -- email and matches as typed (trigrams of a shared domain would match
  -- everyone). Row level security hides soft-deleted rows.
  return query
  select c.* from app_public.customers c
  -- 0.3 lets one swapped or wrong letter in a 5-letter name through ("smiht",
  -- "smyth" → smith) without matching unrelated short words. (Written out
  -- rather than as a function's `set pg_trgm.word_similarity_threshold`: a
  -- migration re-run in a session that has not loaded pg_trgm may not set it.)
  where strpos(c.search_text, v_q) > 0 or (strpos(v_q, '@') = 0 and word_similarity(v_q, c.search_text) >= 0.3)
  order by word_similarity(v_q, c.search_text) desc, c.surname nulls last, c.name, c.id;
end;
$$;
comment on function app_public.search_customers(text) is
  E'Staff (SMC01): customers whose name, surname or email match the query, best first; typos allowed (trigram similarity) unless the query contains an @. SMC06 for an empty or overlong query.';

--------------------------------------------------------------------------------
-- A customer's history: reservations, charges, refunds.

create or replace function app_public.customers_reservations(c app_public.customers) returns setof app_public.reservations
  language sql stable
as $$
  select r.* from app_public.reservations r
  where r.kind = 'reservation' and (r.email = c.email or r.user_id = c.user_id)
  order by lower(r.period) desc;
$$;
comment on function app_public.customers_reservations(app_public.customers) is E'The customer''s reservations, latest start first.';

drop type if exists app_public.customer_payment cascade;
create type app_public.customer_payment as (
  reservation_id bigint,
  kind text,
  amount int,
  currency text,
  status text,
  at timestamptz
);
comment on type app_public.customer_payment is E'A charge or a refund of one of a customer''s reservations.';
comment on column app_public.customer_payment.kind is E'charge or refund.';
comment on column app_public.customer_payment.status is E'pending, processing, succeeded, failed, not_required (charges); pending, succeeded, failed (refunds).';

create or replace function app_public.customers_payments(c app_public.customers) returns setof app_public.customer_payment
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A field of a row only staff see: empty for anyone else, as row level
  -- security leaves the row's other relations (an error would null the
  -- object it hangs off, e.g. a driver's currentUser).
  if not app_hidden.current_user_is_staff() then
    return;
  end if;
  return query
  select x.reservation_id, x.kind, x.amount, x.currency, x.status, x.at
  from app_public.customers_reservations(c) r
  cross join lateral (
    select ch.reservation_id, 'charge'::text as kind, ch.amount, ch.currency, ch.status, ch.created_at as at
    from app_private.charges ch where ch.reservation_id = r.id
    union all
    select ch.reservation_id, 'refund', f.amount, ch.currency, f.status, f.created_at
    from app_private.charges ch join app_private.refunds f on f.charge_id = ch.id
    where ch.reservation_id = r.id
  ) x
  order by x.at;
end;
$$;
comment on function app_public.customers_payments(app_public.customers) is E'Staff: the charges and refunds of the customer''s reservations, oldest first (empty for anyone else).';
--! EndIncluded customers.sql
--! Included accounts_staff.sql
-- Accounts: roles, staff pre-registration (the CLI and admins), and sign-in
-- through Google or Facebook.

--------------------------------------------------------------------------------
-- Roles

create or replace function app_hidden.current_user_is_admin() returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select u.role = 'admin' from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;
comment on function app_hidden.current_user_is_admin() is E'True when the signed-in user is an admin.';

create or replace function app_hidden.assert_admin() returns bigint
  language plpgsql stable
as $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if not app_hidden.current_user_is_admin() then
    raise exception 'Only an admin may do this' using errcode = 'SMA10';
  end if;
  -- Staff administration is one of the actions that need a verified email.
  perform app_hidden.assert_verified();
  return v_user_id;
end;
$$;
comment on function app_hidden.assert_admin() is
  E'The current user''s id when a verified admin, else error SMA10 (not an admin), SMA11 (email not verified) or SMA08 (signed out).';

create or replace function app_hidden.assert_role(role text) returns text
  language plpgsql immutable
as $$
begin
  if role is null or role not in ('driver', 'operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'A role is one of driver, operator, admin, analyst, enforcement' using errcode = 'SMA16';
  end if;
  return role;
end;
$$;
comment on function app_hidden.assert_role(text) is E'The role when it is one of the five, else error SMA16.';

create or replace function app_public.set_user_role(user_id bigint, role text) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_admin_id bigint := app_hidden.assert_admin();
  v_user app_public.users;
begin
  perform app_hidden.assert_role(role);
  if set_user_role.user_id = v_admin_id then
    -- Keeps at least one admin: an admin cannot demote themselves.
    raise exception 'You cannot change your own role; ask another admin' using errcode = 'SMA16';
  end if;
  select u.* into v_user from app_public.users u where u.id = set_user_role.user_id for update;
  if v_user.id is null then
    raise exception 'There is no user %', coalesce(set_user_role.user_id::text, '(none given)') using errcode = 'SMA17';
  end if;
  -- Anyone may sign up with an address they do not own (a colleague's, a
  -- staff domain's) and wait: a staff role goes only to an account that has
  -- proved its email, as an invitation does when its link is followed.
  if set_user_role.role <> 'driver' and not v_user.is_verified then
    raise exception 'This account has not verified its email; a staff role needs a verified account (or invite them)'
      using errcode = 'SMA19';
  end if;
  -- The role is read at every request's session look-up, so it takes effect
  -- on the user's next request without signing them out.
  update app_public.users u set role = set_user_role.role
  where u.id = v_user.id
  returning u.* into v_user;
  return v_user;
end;
$$;
comment on function app_public.set_user_role(bigint, text) is
  E'Admins only: gives a user another role (driver, operator, admin, analyst, enforcement); not your own; a role other than driver only to a verified account (SMA19). Takes effect on the user''s next request.';

--------------------------------------------------------------------------------
-- Creating users outside sign-up: the CLI and admins' staff invitations

create or replace function app_private.user_create(
  email text, name text, role text, password text default null, invited_by text default null
) returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_name text := app_hidden.assert_name(coalesce(nullif(btrim(name), ''), split_part(btrim(email), '@', 1)));
  v_user_id bigint;
  v_token text;
begin
  perform app_hidden.assert_role(role);
  begin
    -- Whoever creates the account vouches for the address only with a
    -- password; an invitation is verified when its link is followed.
    insert into app_public.users (email, name, role, is_verified)
    values (v_email, v_name, role, password is not null)
    returning id into v_user_id;
  exception when unique_violation then
    raise exception 'An account with this email already exists' using errcode = 'SMA06';
  end;
  if password is not null then
    perform app_private.password_set(v_user_id, app_hidden.assert_password(password, email));
  else
    v_token := app_private.user_token_issue(v_user_id, 'invite', v_email, app_hidden.user_token_valid_for('invite'));
    perform app_private.email_enqueue('staff_invite', v_email, jsonb_build_object(
      'name', v_name, 'role', role, 'invitedBy', coalesce(invited_by, 'Secure My Spot'),
      'token', v_token,
      'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('invite')));
  end if;
  return v_user_id;
end;
$$;
comment on function app_private.user_create(text, text, text, text, text) is
  E'Creates a user with a role (pre-registration): with a password (verified at once), or else with a 7-day invitation link emailed as staff_invite. Used by `npm run cli -- user:create` and invite_staff.';

create or replace function app_public.invite_staff(email text, name text, role text) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_admin app_public.users;
  v_user_id bigint;
  v_user app_public.users;
begin
  select u.* into v_admin from app_public.users u where u.id = app_hidden.assert_admin();
  if role is null or role not in ('operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'Staff are operators, admins, analysts or enforcement officers' using errcode = 'SMA16';
  end if;
  v_user_id := app_private.user_create(email, name, role, null, v_admin.name);
  select u.* into v_user from app_public.users u where u.id = v_user_id;
  return v_user;
end;
$$;
comment on function app_public.invite_staff(text, text, text) is
  E'Admins only: pre-registers a staff member (operator, admin, analyst or enforcement officer) and emails them a link to set a password (7 days). Only pre-registered staff may sign in with Google or Facebook.';

--------------------------------------------------------------------------------
-- Google and Facebook. The server does the OAuth exchange; SQL keeps the
-- state (single use, so a replayed callback is refused) and decides who the
-- provider's answer signs in.

create or replace function app_private.oauth_state_create(
  provider text, state text, code_verifier text, nonce text, intent text, redirect_to text
) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_private.oauth_states (state_hash, provider, code_verifier, nonce, intent, redirect_to, created_at, expires_at)
  values (app_private.token_hash(state), provider, code_verifier, nonce, intent, redirect_to,
          app_hidden.clock_now(), app_hidden.clock_now() + interval '10 minutes');
$$;
comment on function app_private.oauth_state_create(text, text, text, text, text, text) is
  E'Remembers an OAuth round trip''s state, PKCE verifier and nonce for 10 minutes.';

create or replace function app_private.oauth_state_consume(provider text, state text) returns app_private.oauth_states
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  update app_private.oauth_states s set used_at = app_hidden.clock_now()
  where s.state_hash = app_private.token_hash(oauth_state_consume.state)
    and s.provider = oauth_state_consume.provider
    and s.used_at is null
    and s.expires_at > app_hidden.clock_now()
  returning s.*;
$$;
comment on function app_private.oauth_state_consume(text, text) is
  E'The round trip a callback''s state belongs to, once: null when unknown, expired or already used.';

-- Whoever made an account whose address nobody proved may be a stranger
-- waiting for its owner (pre-hijack). When the owner proves the address
-- (a provider's verified sign-in, or a password reset link), nothing the
-- stranger set may stay: their name would greet the owner in every email.
create or replace function app_private.forget_unproved_setup(user_id bigint, name text) returns app_public.users
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
begin
  -- The customer record follows (trigger _810_customer_name on users).
  update app_public.users u
  set name = coalesce(nullif(btrim(forget_unproved_setup.name), ''), split_part(u.email::text, '@', 1))
  where u.id = forget_unproved_setup.user_id
  returning u.* into v_user;
  -- Saved cars and spots fill in the owner's next bookings (the web app picks a
  -- saved car): a stranger's plate would be the one enforcement finds covered.
  delete from app_public.vehicles v where v.user_id = v_user.id;
  delete from app_public.saved_spots s where s.user_id = v_user.id;
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = v_user.id and t.used_at is null;
  delete from app_private.user_identities i where i.user_id = v_user.id;
  return v_user;
end;
$$;
comment on function app_private.forget_unproved_setup(bigint, text) is
  E'For an account whose email was never verified, as its owner proves the address: the name becomes the one given (else the email''s local part), on the customer record too unless staff changed it, saved vehicles and spots are removed, every session is revoked, pending email links are voided and provider links removed. Returns the updated user.';

create or replace function app_private.reclaim_unverified_account(user_id bigint, provider text, name text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users := app_private.forget_unproved_setup(reclaim_unverified_account.user_id, name);
begin
  -- The provider path sets no password: the stranger's goes too.
  delete from app_private.user_secrets s where s.user_id = v_user.id;
  perform app_private.email_enqueue('account_secured', v_user.email,
    jsonb_build_object('name', v_user.name, 'provider', reclaim_unverified_account.provider));
end;
$$;
comment on function app_private.reclaim_unverified_account(bigint, text, text) is
  E'When a provider-verified sign-in meets an unverified account with its email: app_private.forget_unproved_setup with the provider''s name, removes the password and emails the owner (account_secured). The caller then links the provider and marks the email verified.';

create or replace function app_private.oauth_sign_in(
  provider text, subject text, email text, email_verified boolean, name text,
  intent text, staff_domains text[], client_ip inet
) returns app_public.auth_session
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_email citext;
  v_session record;
begin
  if subject is null or subject = '' then
    raise exception 'The provider did not say who you are' using errcode = 'SMA13';
  end if;
  select u.* into v_user
  from app_private.user_identities i join app_public.users u on u.id = i.user_id
  where i.provider = oauth_sign_in.provider and i.subject = oauth_sign_in.subject;

  if v_user.id is null then
    if email is null or not app_hidden.email_is_valid(btrim(email)) then
      raise exception 'Your % account has no usable email address', provider using errcode = 'SMA12';
    end if;
    v_email := btrim(email)::citext;
    select u.* into v_user from app_public.users u where u.email = v_email;
    if v_user.id is not null and not coalesce(email_verified, false) then
      -- Linking to an existing account on an address the provider has not
      -- checked would let anyone claim it.
      raise exception 'Your % email address is not verified; sign in with your password', provider using errcode = 'SMA12';
    end if;
    if v_user.id is not null and not v_user.is_verified then
      -- The provider proved the address; whoever made this account did not.
      -- It may be an attacker's, waiting for its owner (pre-hijack): keep
      -- nothing they set.
      perform app_private.reclaim_unverified_account(v_user.id, provider, name);
    end if;
    if v_user.id is null then
      if intent = 'staff' or split_part(v_email::text, '@', 2) ilike any (coalesce(staff_domains, '{}')) then
        raise exception 'This email is not registered as staff; ask an admin to invite you' using errcode = 'SMA12';
      end if;
      insert into app_public.users (email, name, is_verified)
      values (v_email, app_hidden.assert_name(coalesce(nullif(btrim(name), ''), split_part(v_email::text, '@', 1))),
              coalesce(email_verified, false))
      returning * into v_user;
    end if;
    insert into app_private.user_identities (user_id, provider, subject, email, created_at)
    values (v_user.id, provider, subject, v_email, app_hidden.clock_now());
  end if;

  if intent = 'staff' and v_user.role = 'driver' then
    raise exception 'This email is not registered as staff; ask an admin to invite you' using errcode = 'SMA12';
  end if;
  update app_private.user_identities i set last_sign_in_at = app_hidden.clock_now()
  where i.provider = oauth_sign_in.provider and i.subject = oauth_sign_in.subject;
  if coalesce(email_verified, false) and email is not null then
    perform app_private.mark_verified(v_user.id, btrim(email)::citext);
  end if;
  perform app_private.claim_guest_reservations(v_user.id);
  select * into v_session from app_private.session_create(v_user.id, provider, client_ip);
  return (v_user.id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;
comment on function app_private.oauth_sign_in(text, text, text, boolean, text, text, text[], inet) is
  E'Signs in the person a provider vouched for: their linked account, else the account with their (provider-verified) email (an unverified one is first reclaimed: app_private.reclaim_unverified_account), else a new driver — but never a new account on intent ''staff'' or on a staff email domain (error SMA12). Opens a session.';
--! EndIncluded accounts_staff.sql
