--! Previous: sha1:75620624a1bcbbc960cb60ecfde39c15144528da
--! Hash: sha1:5d7e543df3fbdc5d1fa06805642d415d1483fc07
--! Message: Guest manage tokens are made and hashed by plpgsql functions, not planned at each call

--! Included reservations_access.sql
-- Who may act on a reservation: its signed-in owner, staff, or whoever holds
-- the guest manage token. One function decides, for every function that reads,
-- changes, ends, cancels or pays for a single reservation.

-- These two are plpgsql, not sql: a sql function with a SET clause is never
-- inlined, and PostgreSQL 15 plans its statement again at every call (every
-- guest booking makes a token, every guest request hashes one).
create or replace function app_private.manage_token_hash(token text) returns bytea
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return public.digest(convert_to(token, 'UTF8'), 'sha256');
end;
$$;
comment on function app_private.manage_token_hash(text) is E'What is stored of a guest manage token.';

create or replace function app_private.new_manage_token() returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- 24 random bytes, URL-safe base64 (32 characters).
  return translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_');
end;
$$;
comment on function app_private.new_manage_token() is E'A fresh guest manage token.';

create or replace function app_hidden.holds_spot(status app_public.reservation_status) returns boolean
  language sql immutable
as $$
  -- The statuses the exclusion constraint and spot_occupancy count as taking
  -- the spot (their predicates in committed migrations spell out the same pair).
  select status in ('held', 'confirmed');
$$;
comment on function app_hidden.holds_spot(app_public.reservation_status) is
  E'True for the statuses in which a reservation takes its spot (held, confirmed); false for null.';

create or replace function app_private.reservation_for_caller(
  reservation_id bigint,
  manage_token text,
  lock_row boolean
) returns app_public.reservations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.reservations;
begin
  -- Blocks (kind 'block') are operators' business, handled by unblock_spot.
  if reservation_for_caller.lock_row then
    select r.* into v_r from app_public.reservations r
    where r.id = reservation_for_caller.reservation_id and r.kind = 'reservation'
    for update;
  else
    select r.* into v_r from app_public.reservations r
    where r.id = reservation_for_caller.reservation_id and r.kind = 'reservation';
  end if;
  -- Each alternative is coalesced on its own: signed out, current_user_id()
  -- is null, and `null or false` is null, which `if not …` would let through.
  if (found
      and (coalesce(v_r.user_id = app_public.current_user_id(), false)
           or coalesce(app_hidden.current_user_is_staff(), false)
           or coalesce(reservation_for_caller.manage_token <> '' and exists (
                    select from app_private.reservation_secrets s
                    where s.reservation_id = v_r.id
                      and s.manage_token_hash = app_private.manage_token_hash(reservation_for_caller.manage_token)),
                  false))) is not true
  then
    -- One answer for "no such id", "not yours" and "wrong token": an id says
    -- nothing about whether it exists.
    raise exception 'We could not find that reservation for you; check its number (and, as a guest, the manage code from your booking)'
      using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;
comment on function app_private.reservation_for_caller(bigint, text, boolean) is
  E'The reservation (locked for update when lock_row) when the caller owns it, is staff, or gives its guest manage token; else error SMB06. The one access decision for a single reservation.';
--! EndIncluded reservations_access.sql
