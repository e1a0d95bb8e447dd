--! Previous: sha1:cefebd991b15bab56c4cfdb693869aa3258c115c
--! Hash: sha1:7cce4cdbc6c938adf907737ab6a453529fd829fc
--! Message: Reset forgets the stranger's cars, spots and customer name; meter- rate codes are the import's; inviteStaff audited

-- Second review round:
-- - A reset of an unproved account kept the stranger's saved cars and spots
--   (the web app picks a saved car for the owner's next booking: enforcement
--   would find the stranger's plate covered) and their name on the customer
--   record: both go now.
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
  v_old_name text;
begin
  select u.name into v_old_name from app_public.users u where u.id = forget_unproved_setup.user_id;
  update app_public.users u
  set name = coalesce(nullif(btrim(forget_unproved_setup.name), ''), split_part(u.email::text, '@', 1))
  where u.id = forget_unproved_setup.user_id
  returning u.* into v_user;
  -- The customer record the sign-up made carries the same chosen name, unless staff changed it since.
  update app_public.customers c set name = left(v_user.name, 100)
  where c.user_id = v_user.id and c.name is not distinct from v_old_name;
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
-- - An operator could create a rate under a code the city import would use
--   (meter-…) and so price meters outside their zones; such codes are the
--   import's. A borough given to updateSpot is trimmed, as createSpot does.
--! Included spots_admin.sql
-- Operators' inventory work: zones (boroughs) an operator may act in, and
-- creating and editing spots and rates. The spot and rate functions are
-- security invoker: they write as the request's role (app_operator), so the
-- zone rule is row level security on spots and rates (table_access.sql), not
-- just a check in the function. An operator with no zone rows acts
-- everywhere (as before zones existed); with zone rows, only there. Admins
-- act everywhere.

create table if not exists app_public.operator_zones (
  user_id bigint not null references app_public.users (id) on delete cascade,
  borough text not null check (length(borough) between 1 and 50),
  primary key (user_id, borough)
);
comment on table app_public.operator_zones is
  E'@behavior -insert -update -delete\nThe boroughs an operator may act in (no rows: everywhere). Set by admins with setOperatorZones.';

drop trigger if exists _900_audit on app_public.operator_zones;
create trigger _900_audit after insert or delete on app_public.operator_zones
  for each row execute function app_private.tg__audit('operator_zones', 'user_id');

create or replace function app_hidden.current_user_may_manage(borough text) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce((
    select case
      when u.role = 'admin' then true
      when u.role = 'operator' then
        not exists (select from app_public.operator_zones z where z.user_id = u.id)
        or exists (select from app_public.operator_zones z
                   -- Boroughs are free text: "brooklyn" is in a Brooklyn zone.
                   where z.user_id = u.id and lower(z.borough) = lower(btrim(current_user_may_manage.borough)))
      else false
    end
    from app_public.users u where u.id = app_public.current_user_id()), false);
$$;
comment on function app_hidden.current_user_may_manage(text) is
  E'True when the signed-in user may act on spots in this borough: admins always, operators without zones always, operators with zones in theirs.';

create or replace function app_hidden.current_user_may_manage_rate(rate_id int) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A rate is shared by spots: changing it changes their prices, so an
  -- operator may change only a rate whose spots are all in their zones.
  select app_hidden.current_user_is_staff()
     and not exists (select from app_public.spots s
                     where s.rate_id = current_user_may_manage_rate.rate_id
                       and not app_hidden.current_user_may_manage(s.borough));
$$;
comment on function app_hidden.current_user_may_manage_rate(int) is
  E'True when the signed-in staff member may change this rate: every spot using it is in their zones.';

create or replace function app_hidden.assert_manages_spot(spot_id bigint) returns app_public.spots
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_s app_public.spots;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage spots' using errcode = 'SMO01';
  end if;
  select s.* into v_s from app_public.spots s where s.id = assert_manages_spot.spot_id;
  if v_s.id is null then
    raise exception 'There is no spot %', coalesce(assert_manages_spot.spot_id::text, '(none given)') using errcode = 'SMO03';
  end if;
  if not app_hidden.current_user_may_manage(v_s.borough) then
    raise exception 'Spot % is outside your zones', assert_manages_spot.spot_id using errcode = 'SMO02';
  end if;
  return v_s;
end;
$$;
comment on function app_hidden.assert_manages_spot(bigint) is
  E'The spot, when the current user may act on it; else SMO01 (not staff), SMO03 (no such spot) or SMO02 (outside their zones).';

create or replace function app_public.set_operator_zones(user_id bigint, boroughs text[]) returns setof app_public.operator_zones
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_hidden.assert_admin();
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id) then
    raise exception 'There is no user %', coalesce(set_operator_zones.user_id::text, '(none given)') using errcode = 'SMA17';
  end if;
  if not exists (select from app_public.users u where u.id = set_operator_zones.user_id and u.role = 'operator') then
    raise exception 'User % is not an operator', coalesce(set_operator_zones.user_id::text, '(none given)') using errcode = 'SMO04';
  end if;
  -- An empty list means everywhere: a list left out must not mean it too, or
  -- a forgotten argument would widen an operator's reach.
  if boroughs is null then
    raise exception 'Give the boroughs (an empty list: everywhere)' using errcode = 'SMO10';
  end if;
  -- (A borough with no spot yet is allowed: zones may be set up before the spots.)
  if exists (select from unnest(boroughs) b where length(btrim(b)) not between 1 and 100 or b is null) then
    raise exception 'Each borough is named, in 1 to 100 characters' using errcode = 'SMO10';
  end if;
  -- Boroughs compare without case or surrounding spaces (current_user_may_manage):
  -- "Queens" and " queens " are one zone, kept as first written.
  delete from app_public.operator_zones z
  where z.user_id = set_operator_zones.user_id
    and lower(z.borough) <> all (array(select lower(btrim(b)) from unnest(boroughs) b));
  insert into app_public.operator_zones (user_id, borough)
  select distinct on (lower(btrim(b))) set_operator_zones.user_id, btrim(b)
  from unnest(boroughs) with ordinality as given(b, n)
  where not exists (select from app_public.operator_zones z
                    where z.user_id = set_operator_zones.user_id and lower(z.borough) = lower(btrim(b)))
  order by lower(btrim(b)), n
  on conflict do nothing;
  return query select z.* from app_public.operator_zones z where z.user_id = set_operator_zones.user_id order by z.borough;
end;
$$;
comment on function app_public.set_operator_zones(bigint, text[]) is
  E'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMA17 when there is no such user, SMO04 when the user is not an operator, SMO10 when the list is left out or a borough is blank.';

--------------------------------------------------------------------------------
-- Spots

create or replace function app_hidden.spot_position(lat double precision, lng double precision) returns geography
  language plpgsql immutable
as $$
begin
  if lat is null or lng is null or lat not between -90 and 90 or lng not between -180 and 180 then
    raise exception 'Coordinates must be latitude -90…90 and longitude -180…180' using errcode = 'SMS01';
  end if;
  return st_setsrid(st_makepoint(lng, lat), 4326)::geography;
end;
$$;
comment on function app_hidden.spot_position(double precision, double precision) is E'A WGS 84 point, or error SMS01 off the globe.';

create or replace function app_hidden.spot_street(street text) returns text
  language plpgsql immutable
as $$
begin
  -- Blank, a spot has no name on the map or in the list (updateSpot took '   ').
  if length(btrim(street)) between 1 and 200 then
    return btrim(street);
  end if;
  raise exception 'A spot needs its street, 1 to 200 characters' using errcode = 'SMO11';
end;
$$;
comment on function app_hidden.spot_street(text) is E'A spot''s street, trimmed, or error SMO11 when missing, blank or over 200 characters.';

create or replace function app_hidden.spot_max_stay(minutes int) returns interval
  language plpgsql immutable
as $$
begin
  if minutes is null or minutes < 1 or make_interval(mins => minutes) > app_hidden.max_stay() then
    raise exception 'A maximum stay is 1 minute to % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMO05';
  end if;
  return make_interval(mins => minutes);
end;
$$;
comment on function app_hidden.spot_max_stay(int) is
  E'A maximum stay of 1 minute to app_hidden.max_stay() (7 days), else error SMO05.';

create or replace function app_public.create_spot(
  lat double precision, lng double precision, street text, rate_id int,
  borough text default null, zone text default null, side_of_street text default null,
  from_street text default null, to_street text default null, max_stay_minutes int default 120,
  is_accessible boolean default false, has_ev_charger boolean default false
) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage spots' using errcode = 'SMO01';
  end if;
  if not app_hidden.current_user_may_manage(create_spot.borough) then
    raise exception 'Borough % is outside your zones', coalesce(create_spot.borough, '(none)') using errcode = 'SMO02';
  end if;
  if not exists (select from app_public.rates r where r.id = create_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(create_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.spot_position(lat, lng), app_hidden.spot_street(street), rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.create_spot(double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO05 bad maximum stay, SMO11 no street (1 to 200 characters), SMS01 bad coordinates.';

create or replace function app_public.update_spot(
  spot_id bigint, lat double precision default null, lng double precision default null, street text default null,
  rate_id int default null, borough text default null, zone text default null, side_of_street text default null,
  from_street text default null, to_street text default null, max_stay_minutes int default null,
  is_accessible boolean default null, has_ev_charger boolean default null
) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if update_spot.borough is not null and not app_hidden.current_user_may_manage(update_spot.borough) then
    raise exception 'Borough % is outside your zones', update_spot.borough using errcode = 'SMO02';
  end if;
  if update_spot.rate_id is not null and not exists (select from app_public.rates r where r.id = update_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(update_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.spot_position(lat, lng) end,
    street = case when update_spot.street is null then s.street else app_hidden.spot_street(update_spot.street) end,
    rate_id = coalesce(update_spot.rate_id, s.rate_id),
    borough = coalesce(nullif(btrim(update_spot.borough), ''), s.borough),
    zone = coalesce(update_spot.zone, s.zone),
    side_of_street = coalesce(update_spot.side_of_street, s.side_of_street),
    from_street = coalesce(update_spot.from_street, s.from_street),
    to_street = coalesce(update_spot.to_street, s.to_street),
    max_stay = case when max_stay_minutes is null then s.max_stay else app_hidden.spot_max_stay(max_stay_minutes) end,
    is_accessible = coalesce(update_spot.is_accessible, s.is_accessible),
    has_ev_charger = coalesce(update_spot.has_ev_charger, s.has_ev_charger)
  where s.id = v_s.id
  returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.update_spot(bigint, double precision, double precision, text, int, text, text, text, text, text, int, boolean, boolean) is
  E'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation, SMO11 a blank or over-long street.';

create or replace function app_public.spot_affected_reservations(spot_id bigint) returns setof app_public.reservations
  language plpgsql stable
as $$
begin
  perform app_hidden.assert_manages_spot(spot_id);
  return query
  select r.* from app_public.reservations r
  where r.spot_id = spot_affected_reservations.spot_id and r.kind = 'reservation'
    and r.status in ('held', 'confirmed') and upper(r.period) > now()
  order by lower(r.period);
end;
$$;
comment on function app_public.spot_affected_reservations(bigint) is
  E'Operators in the spot''s zone and admins: the held or confirmed reservations not yet over on this spot — the ones taking it out of service affects.';

create or replace function app_public.set_spot_status(spot_id bigint, status text) returns app_public.spots
  language plpgsql volatile
as $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if set_spot_status.status is null or set_spot_status.status not in ('active', 'out_of_service') then
    raise exception 'A spot is active or out_of_service' using errcode = 'SMO07';
  end if;
  -- Reservations already made are kept and honoured (listed by
  -- spotAffectedReservations): the spot only stops taking new ones. An
  -- operator who cannot honour one cancels it with cancelReservation.
  update app_public.spots s set status = set_spot_status.status where s.id = v_s.id returning * into v_s;
  return v_s;
end;
$$;
comment on function app_public.set_spot_status(bigint, text) is
  E'Operators in the spot''s zone and admins: takes a spot out of service (no new reservations; existing ones are kept — see spotAffectedReservations) or back into service. SMO07 for another status.';

--------------------------------------------------------------------------------
-- Rates

create or replace function app_hidden.rate_increment(minutes int) returns interval
  language plpgsql immutable
as $$
begin
  if minutes is null or minutes not between 1 and 60 then
    raise exception 'A billing increment is 1 to 60 minutes' using errcode = 'SMO08';
  end if;
  return make_interval(mins => minutes);
end;
$$;
comment on function app_hidden.rate_increment(int) is E'A billing increment of 1 to 60 minutes, else error SMO08.';

create or replace function app_hidden.rate_price_max() returns int
  language sql immutable as $$
  -- 7 days (the longest stay) at this an hour is 84,000,000, under Stripe's
  -- 99,999,999 a charge: every quote stays chargeable (rates_price_bounds).
  select 500000
$$;
comment on function app_hidden.rate_price_max() is
  E'The most a rate''s hourly price or minimum charge may be, in minor units (500,000): every quote stays chargeable.';

create or replace function app_hidden.assert_rate_money(hourly_price int, minimum_charge int, currency text) returns void
  language plpgsql stable
as $$
begin
  if hourly_price is null or hourly_price not between 0 and app_hidden.rate_price_max()
     or minimum_charge is null or minimum_charge not between 0 and app_hidden.rate_price_max() then
    raise exception 'Prices are whole minor units from 0 to %', app_hidden.rate_price_max() using errcode = 'SMO08';
  end if;
  if not exists (select from app_hidden.payment_minimums m where m.currency = assert_rate_money.currency) then
    if exists (select from app_hidden.payment_minimums m where m.currency = upper(assert_rate_money.currency)) then
      raise exception 'Write the currency in capitals: % rather than %', upper(currency), currency using errcode = 'SMO08';
    end if;
    raise exception 'Currency % cannot be charged', currency using errcode = 'SMO08';
  end if;
end;
$$;
comment on function app_hidden.assert_rate_money(int, int, text) is E'Error SMO08 unless the hourly price and the minimum charge are 0 to rate_price_max (500,000) minor units and the currency is chargeable.';

create or replace function app_public.create_rate(
  code text, name text, hourly_price int, currency text default 'USD', billing_increment_minutes int default 1,
  minimum_charge int default 0, time_zone text default 'America/New_York'
) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage rates' using errcode = 'SMO01';
  end if;
  perform app_hidden.assert_rate_money(hourly_price, minimum_charge, currency);
  if code is null or length(btrim(code)) not between 1 and 50 or name is null or length(btrim(name)) not between 1 and 100 then
    raise exception 'A rate needs a code (1 to 50 characters) and a name (1 to 100)' using errcode = 'SMO08';
  end if;
  -- The city import finds its rates by these codes (spots_import): a rate made
  -- ahead under one would take the import's meters, in any borough, at its price.
  if lower(btrim(code)) like 'meter-%' then
    raise exception 'Rate codes starting meter- belong to the city import' using errcode = 'SMO08';
  end if;
  if not exists (select from pg_timezone_names t where t.name = create_rate.time_zone) then
    raise exception 'Unknown time zone %: use an IANA name such as America/New_York', coalesce(create_rate.time_zone, 'null')
      using errcode = 'SMO08';
  end if;
  begin
    insert into app_public.rates (code, name, hourly_price, currency, billing_increment, minimum_charge, time_zone)
    values (btrim(code), btrim(name), hourly_price, currency, app_hidden.rate_increment(billing_increment_minutes),
            minimum_charge, time_zone)
    returning * into v_r;
  exception when unique_violation then
    raise exception 'Rate code % is taken', code using errcode = 'SMO09';
  end;
  return v_r;
end;
$$;
comment on function app_public.create_rate(text, text, int, text, int, int, text) is
  E'Operators and admins: a new rate metered around the clock (setRateHours limits it). SMO08 bad values (and codes starting meter-, the city import''s), SMO09 code taken.';

create or replace function app_hidden.assert_manages_rate(rate_id int) returns app_public.rates
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_r app_public.rates;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins manage rates' using errcode = 'SMO01';
  end if;
  select r.* into v_r from app_public.rates r where r.id = assert_manages_rate.rate_id;
  if v_r.id is null then
    raise exception 'There is no rate %', coalesce(assert_manages_rate.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  if not app_hidden.current_user_may_manage_rate(v_r.id) then
    raise exception 'Rate % is used by spots outside your zones', assert_manages_rate.rate_id using errcode = 'SMO02';
  end if;
  return v_r;
end;
$$;
comment on function app_hidden.assert_manages_rate(int) is
  E'The rate, when the current user may change it; else SMO01 (not staff), SMO06 (no such rate) or SMO02 (used outside their zones).';

create or replace function app_public.update_rate(
  rate_id int, name text default null, hourly_price int default null, billing_increment_minutes int default null,
  minimum_charge int default null
) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  perform app_hidden.assert_rate_money(coalesce(hourly_price, v_r.hourly_price),
                                       coalesce(minimum_charge, v_r.minimum_charge), v_r.currency);
  -- The same rule as create_rate's (a blank name was silently kept as it was).
  if update_rate.name is not null and length(btrim(update_rate.name)) not between 1 and 100 then
    raise exception 'A rate''s name is 1 to 100 characters' using errcode = 'SMO08';
  end if;
  update app_public.rates r set
    name = coalesce(btrim(update_rate.name), r.name),
    hourly_price = coalesce(update_rate.hourly_price, r.hourly_price),
    billing_increment = case when billing_increment_minutes is null then r.billing_increment
                             else app_hidden.rate_increment(billing_increment_minutes) end,
    minimum_charge = coalesce(update_rate.minimum_charge, r.minimum_charge)
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;
comment on function app_public.update_rate(int, text, int, int, int) is
  E'Operators whose zones hold every spot on the rate, and admins: changes its name or prices (null: unchanged; SMO08 as createRate for a bad value). New quotes use it; reservations keep the price they were quoted.';

create or replace function app_hidden.is_clock_time(value text) returns boolean
  language sql immutable
as $$
  select value ~ '^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?|24:00(:00(\.0{1,6})?)?)$';
$$;
comment on function app_hidden.is_clock_time(text) is
  E'Whether a text is a time of day as hours are written: HH:MM, HH:MM:SS or HH:MM:SS.ffffff, from 00:00 to 24:00.';

create or replace function app_public.set_rate_hours(rate_id int, hours jsonb) returns app_public.rates
  language plpgsql volatile
as $$
declare
  v_r app_public.rates := app_hidden.assert_manages_rate(rate_id);
begin
  if hours is null or jsonb_typeof(hours) <> 'array' or exists (
    select from jsonb_array_elements(hours) h
    where jsonb_typeof(h -> 'isodow') is distinct from 'number' or (h ->> 'isodow')::numeric not in (1, 2, 3, 4, 5, 6, 7)
       -- HH:MM, or as rateHours reads them back (HH:MM:SS.ffffff); 24:00 is the end of the day.
       -- (is not true: a time left out is null, and a null here let the row through.)
       or app_hidden.is_clock_time(h ->> 'opens') is not true or app_hidden.is_clock_time(h ->> 'closes') is not true
       or (h ->> 'opens')::time >= (h ->> 'closes')::time) then
    raise exception 'Hours are [{isodow: 1..7, opens: "HH:MM", closes: "HH:MM"}] with opens before closes' using errcode = 'SMO08';
  end if;
  delete from app_public.rate_hours h where h.rate_id = v_r.id;
  begin
    insert into app_public.rate_hours (rate_id, isodow, opens, closes)
    select v_r.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
    from jsonb_array_elements(hours) h;
  exception when exclusion_violation or unique_violation then
    -- Overlapping windows would meter the same time twice.
    raise exception 'Metered hours of one day must not overlap' using errcode = 'SMO08';
  end;
  return v_r;
end;
$$;
comment on function app_public.set_rate_hours(int, jsonb) is
  E'Operators as for updateRate, and admins: the rate''s metered hours, replacing the old ones (empty list: metered around the clock). Example: [{"isodow": 1, "opens": "09:00", "closes": "19:00"}].';

-- Operators write spots, rates and rate hours through the functions above
-- (granted columns, table_access.sql); the tables' generated create/update/
-- delete mutations stay hidden so there is one way to write each.
comment on table app_public.spots is E'@behavior -insert -update -delete\nOne on-street parking space (a meter position).';
comment on table app_public.rates is E'@behavior -insert -update -delete\nA meter tariff: price per hour in minor units, billed per increment, metered during its hours.';
comment on table app_public.rate_hours is E'@behavior -insert -update -delete\nMetered hours of a rate, per ISO weekday (1 = Monday). A rate without rows is metered around the clock; outside these hours parking is free.';
--! EndIncluded spots_admin.sql
-- - inviteStaff left no audit row: an account made with a staff role is one.
--! Included staff_audit.sql
-- The staff audit log: every change staff make to customers, notes, spots,
-- rates, blocks, refunds, roles and operator zones, and every enforcement
-- lookup, written by triggers in the same transaction as the change (a
-- rolled-back change leaves no audit row). Admins read it through the API;
-- nobody writes it except these security definer functions: the API roles
-- have no insert, update or delete grant on it (table_access.sql).

create table if not exists app_public.audit_log (
  id            bigint generated always as identity primary key,
  at            timestamptz not null default now(),
  -- No foreign key: the log outlives the users it names.
  actor_user_id bigint,
  actor_role    text not null,
  table_name    text not null,
  record_id     text,
  action        text not null check (action in ('insert', 'update', 'delete', 'lookup')),
  old_values    jsonb,
  new_values    jsonb
);
create index if not exists audit_log_row_idx on app_public.audit_log (table_name, record_id, at);
create index if not exists audit_log_actor_idx on app_public.audit_log (actor_user_id, at);
create index if not exists audit_log_at_idx on app_public.audit_log (at);
comment on table app_public.audit_log is
  E'@behavior -insert -update -delete\nWho changed what and when: one row per staff change (customers, notes, spots, rates, blocks, refunds, roles, zones) or enforcement lookup, written in the same transaction. Admins only; read-only.';
comment on column app_public.audit_log.at is E'When the change was made (its transaction''s time).';
comment on column app_public.audit_log.actor_user_id is E'The signed-in staff member who made it.';
comment on column app_public.audit_log.actor_role is E'The actor''s role then: operator, admin or enforcement.';
comment on column app_public.audit_log.table_name is E'What was changed: customers, customer_notes, spots, rates, blocks, refunds, users (roles), operator_zones, or enforcement_lookups.';
comment on column app_public.audit_log.record_id is E'The changed row''s id (as text; users and zones: the user id).';
comment on column app_public.audit_log.action is E'insert, update, delete, or lookup (enforcement).';
comment on column app_public.audit_log.old_values is E'The changed columns before (update, delete).';
comment on column app_public.audit_log.new_values is E'The changed columns after (insert, update), or a lookup''s question and answer.';

create or replace function app_hidden.current_actor_role() returns text
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A connection that never took an API role (the owner's: CLI, worker,
  -- imports) is the system. Security definer functions change current_user
  -- but not the `role` setting, so this sees the request's role inside them.
  select coalesce(
    (select u.role from app_public.users u where u.id = app_public.current_user_id()),
    case when coalesce(current_setting('role', true), 'none') in ('none', '') then 'system' else 'anonymous' end);
$$;
comment on function app_hidden.current_actor_role() is
  E'The role of whoever is making the current change: a user''s role, ''system'' for the owner''s own connections, ''anonymous'' for signed-out API requests.';

create or replace function app_private.audit_write(
  table_name text, record_id text, action text, old_values jsonb, new_values jsonb
) returns void
  language sql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  insert into app_public.audit_log (actor_user_id, actor_role, table_name, record_id, action, old_values, new_values)
  values (app_public.current_user_id(), app_hidden.current_actor_role(),
          audit_write.table_name, audit_write.record_id, audit_write.action, audit_write.old_values, audit_write.new_values);
$$;
comment on function app_private.audit_write(text, text, text, jsonb, jsonb) is
  E'Appends one audit row for the current actor.';

create or replace function app_private.tg__audit() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb;
  v_new jsonb;
  v_row_id text;
  v_changed text[];
begin
  -- Staff changes only. A driver's or guest's own side effects (their
  -- customer record appearing when they book) are their history, and the
  -- system's bulk work (the meter import rewriting thousands of spots, the
  -- CLI) would drown the log: neither is a staff change.
  -- Operators and admins are the requests that run as app_operator (the only
  -- staff whose writes reach these triggers: enforcement officers write
  -- lookups through audit_write): everything else returns before any query,
  -- which keeps a guest's booking as cheap as before.
  if current_setting('role', true) is distinct from 'app_operator'
     or app_hidden.current_actor_role() not in ('operator', 'admin') then
    return null;
  end if;
  -- Only now: the rows' JSON would be wasted on every change that is not staff's.
  v_old := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  v_new := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
  v_row_id := coalesce(v_new, v_old) ->> coalesce(tg_argv[1], 'id');
  if tg_op = 'UPDATE' then
    -- Only what changed, without the bookkeeping columns every write touches.
    select array_agg(k) into v_changed
    from jsonb_object_keys(v_new) k
    where k not in ('updated_at', 'updated_by', 'search_text') and (v_old -> k) is distinct from (v_new -> k);
    if v_changed is null then
      return null;
    end if;
    select jsonb_object_agg(k, v_old -> k) into v_old from unnest(v_changed) k;
    select jsonb_object_agg(k, v_new -> k) into v_new from unnest(v_changed) k;
  end if;
  perform app_private.audit_write(
    coalesce(tg_argv[0], tg_table_name),
    v_row_id,
    lower(tg_op), v_old, v_new);
  return null;
end;
$$;
comment on function app_private.tg__audit() is
  E'AFTER row trigger: writes the change (changed columns only, for updates) to app_public.audit_log when staff (operator, admin, enforcement) made it. Arguments: the audited name (default the table''s) and the key column (default id).';

drop trigger if exists _900_audit on app_public.spots;
create trigger _900_audit after insert or update or delete on app_public.spots
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.rates;
create trigger _900_audit after insert or update or delete on app_public.rates
  for each row execute function app_private.tg__audit();
drop trigger if exists _900_audit on app_public.rate_hours;
create trigger _900_audit after insert or update or delete on app_public.rate_hours
  for each row execute function app_private.tg__audit('rate_hours', 'rate_id');
drop trigger if exists _900_audit_blocks on app_public.reservations;
create trigger _900_audit_blocks after insert or update on app_public.reservations
  for each row when (new.kind = 'block') execute function app_private.tg__audit('blocks');
drop trigger if exists _900_audit on app_private.refunds;
create trigger _900_audit after insert or update on app_private.refunds
  for each row execute function app_private.tg__audit('refunds');
drop trigger if exists _900_audit_role on app_public.users;
create trigger _900_audit_role after update of role on app_public.users
  for each row when (old.role is distinct from new.role) execute function app_private.tg__audit('users');
-- An account made with a staff role (inviteStaff) is a role grant too. (Drivers
-- signing up are not staff changes: tg__audit records staff callers only.)
drop trigger if exists _900_audit_staff_account on app_public.users;
create trigger _900_audit_staff_account after insert on app_public.users
  for each row when (new.role <> 'driver') execute function app_private.tg__audit('users');

create or replace function app_public.audit_entries(
  table_name text default null,
  record_id text default null,
  actor_user_id bigint default null,
  since timestamptz default null,
  until timestamptz default null
) returns setof app_public.audit_log
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The only way to read the log: no API role has a grant on the table.
  perform app_hidden.assert_admin();
  perform app_hidden.assert_filter_length(audit_entries.table_name, 63, 'tableName'),
          app_hidden.assert_filter_length(audit_entries.record_id, 100, 'recordId');
  return query
  select a.* from app_public.audit_log a
  where (audit_entries.table_name is null or a.table_name = audit_entries.table_name)
    and (audit_entries.record_id is null or a.record_id = audit_entries.record_id)
    and (audit_entries.actor_user_id is null or a.actor_user_id = audit_entries.actor_user_id)
    and (audit_entries.since is null or a.at >= audit_entries.since)
    and (audit_entries.until is null or a.at < audit_entries.until)
  order by a.at desc, a.id desc;
end;
$$;
comment on function app_public.audit_entries(text, text, bigint, timestamptz, timestamptz) is
  E'Admins only (SMA10): the audit log, newest first, filtered by what was changed (table name, row id), who changed it, and a time range [since, until). A table name over 63 characters or a row id over 100 is refused (22001).';
--! EndIncluded staff_audit.sql
