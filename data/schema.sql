--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: analytics; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA analytics;

--
-- Name: app_hidden; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA app_hidden;

--
-- Name: app_private; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA app_private;

--
-- Name: app_public; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA app_public;

--
-- Name: SCHEMA app_public; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON SCHEMA app_public IS 'Secure My Spot: find, reserve and pay for on-street parking.';

--
-- Name: btree_gist; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

--
-- Name: EXTENSION btree_gist; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION btree_gist IS 'support for indexing common datatypes in GiST';

--
-- Name: citext; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;

--
-- Name: EXTENSION citext; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION citext IS 'data type for case-insensitive character strings';

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';

--
-- Name: pgcrypto; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

--
-- Name: EXTENSION pgcrypto; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';

--
-- Name: postgis; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;

--
-- Name: EXTENSION postgis; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION postgis IS 'PostGIS geometry and geography spatial types and functions';

--
-- Name: reservation_status; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.reservation_status AS ENUM (
    'held',
    'confirmed',
    'completed',
    'cancelled',
    'expired',
    'payment_failed'
);

--
-- Name: TYPE reservation_status; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.reservation_status IS 'held: waiting for card set-up; confirmed: paid for by a set-up card; completed: ended and charged; cancelled; expired: hold never confirmed; payment_failed: the final charge failed.';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: reservations; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.reservations (
    id bigint NOT NULL,
    spot_id bigint NOT NULL,
    user_id bigint,
    email public.citext NOT NULL,
    period tstzrange NOT NULL,
    status app_public.reservation_status DEFAULT 'held'::app_public.reservation_status NOT NULL,
    amount integer NOT NULL,
    currency text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    kind text DEFAULT 'reservation'::text NOT NULL,
    hold_expires_at timestamp with time zone,
    note text,
    remind_at timestamp with time zone,
    plate text,
    plate_state text,
    rate_terms jsonb,
    refunded integer DEFAULT 0 NOT NULL,
    verified_booker_id bigint,
    CONSTRAINT reservations_amount_check CHECK ((amount >= 0)),
    CONSTRAINT reservations_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT reservations_hold_check CHECK (((hold_expires_at IS NULL) OR (status = 'held'::app_public.reservation_status))),
    CONSTRAINT reservations_kind_check CHECK ((kind = ANY (ARRAY['reservation'::text, 'block'::text]))),
    CONSTRAINT reservations_note_check CHECK ((length(note) <= 500)),
    CONSTRAINT reservations_period_check CHECK (((NOT isempty(period)) AND lower_inc(period) AND (NOT upper_inc(period)) AND (NOT lower_inf(period)) AND (NOT upper_inf(period)))),
    CONSTRAINT reservations_plate_check CHECK ((plate ~ '^[A-Z0-9]{1,10}$'::text)),
    CONSTRAINT reservations_plate_state_check CHECK ((plate_state ~ '^[A-Z]{2,3}$'::text)),
    CONSTRAINT reservations_refunded_not_negative CHECK ((refunded >= 0))
);

--
-- Name: TABLE reservations; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.reservations IS 'A spot reserved for a time window by a signed-in driver or a guest.';

--
-- Name: COLUMN reservations.period; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.period IS 'The reserved window, start included, end excluded.';

--
-- Name: COLUMN reservations.amount; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.amount IS 'Price in minor units, quoted and locked when the window was set.';

--
-- Name: COLUMN reservations.kind; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.kind IS 'reservation (a driver''s), or block (an operator took the spot out of use for the period). Both are subject to the same no-overlap constraint.';

--
-- Name: COLUMN reservations.hold_expires_at; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.hold_expires_at IS 'While held: when the hold lapses unless payment set-up confirms it.';

--
-- Name: COLUMN reservations.note; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.note IS 'An operator''s reason for a block.';

--
-- Name: COLUMN reservations.remind_at; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.remind_at IS '@behavior -*
When the due-work sweep emails the reminder of this confirmed reservation; null when none is due.';

--
-- Name: COLUMN reservations.plate; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.plate IS 'The licence plate of the vehicle parked on it (normalised), when the driver gave one.';

--
-- Name: COLUMN reservations.plate_state; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.plate_state IS 'The plate''s state or province code, e.g. NY.';

--
-- Name: COLUMN reservations.rate_terms; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.rate_terms IS '@behavior -*
The rate''s terms when the reservation was made (app_hidden.rate_terms): ending it early or moving its end is priced by them.';

--
-- Name: COLUMN reservations.refunded; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.refunded IS 'How much of the charge was refunded, in minor units of the currency (0 when nothing was).';

--
-- Name: COLUMN reservations.verified_booker_id; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservations.verified_booker_id IS '@behavior -*
The account that booked it, when that account''s email was verified then (null: booked as a guest, or by an unverified account). Only such a reservation bars its account while unpaid (SMB13) and counts among its holds; a guest reservation claimed later never does.';

--
-- Name: reservation_change; Type: TYPE; Schema: app_private; Owner: -
--

CREATE TYPE app_private.reservation_change AS (
	old_row app_public.reservations,
	new_row app_public.reservations
);

--
-- Name: TYPE reservation_change; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TYPE app_private.reservation_change IS 'One row of an insert or update statement on reservations: the row before (null for an insert) and after.';

--
-- Name: auth_session; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.auth_session AS (
	user_id bigint,
	session_id uuid,
	token text
);

--
-- Name: TYPE auth_session; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.auth_session IS 'A new session: the user, the session id and its bearer token (shown only this once).';

--
-- Name: customer_payment; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.customer_payment AS (
	reservation_id bigint,
	kind text,
	amount integer,
	currency text,
	status text,
	at timestamp with time zone
);

--
-- Name: TYPE customer_payment; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.customer_payment IS 'A charge or a refund of one of a customer''s reservations.';

--
-- Name: COLUMN customer_payment.kind; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customer_payment.kind IS 'charge or refund.';

--
-- Name: COLUMN customer_payment.status; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customer_payment.status IS 'pending, processing, succeeded, failed, not_required (charges); pending, succeeded, failed (refunds).';

--
-- Name: distance_unit; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.distance_unit AS ENUM (
    'km',
    'mi'
);

--
-- Name: TYPE distance_unit; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.distance_unit IS 'Kilometres or statute miles.';

--
-- Name: enforcement_answer; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.enforcement_answer AS (
	plate text,
	plate_state text,
	spot_id bigint,
	valid boolean,
	valid_until timestamp with time zone,
	checked_at timestamp with time zone,
	time_zone text
);

--
-- Name: TYPE enforcement_answer; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.enforcement_answer IS 'Whether a plate holds a valid reservation now; nothing about who holds it.';

--
-- Name: COLUMN enforcement_answer.spot_id; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.enforcement_answer.spot_id IS 'The spot asked about, or (asked without one) the spot the valid reservation is at.';

--
-- Name: COLUMN enforcement_answer.valid; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.enforcement_answer.valid IS 'True while a confirmed reservation for this plate covers now, or one still held (until its hold ends, and not after another hold of the plate lapsed mid-stay in the last 24 hours).';

--
-- Name: COLUMN enforcement_answer.valid_until; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.enforcement_answer.valid_until IS 'When that reservation ends, or its hold does (null when not valid).';

--
-- Name: COLUMN enforcement_answer.time_zone; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.enforcement_answer.time_zone IS 'The spot''s time zone (its rate''s), to read valid_until on the street''s clock; null when no spot is known.';

--
-- Name: price_quote; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.price_quote AS (
	amount integer,
	currency text,
	metered interval
);

--
-- Name: TYPE price_quote; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.price_quote IS 'A price for a window: amount in minor units, currency, and how much of the window is metered.';

--
-- Name: reservation_result; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.reservation_result AS (
	reservation app_public.reservations,
	manage_token text
);

--
-- Name: TYPE reservation_result; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.reservation_result IS 'What every reservation mutation returns: the reservation as it left it, and the one-time guest manage token when one was issued (reserve as a guest); null otherwise.';

--
-- Name: COLUMN reservation_result.manage_token; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.reservation_result.manage_token IS 'Only when one is issued (a guest''s reserve): the secret that, with the reservation id, reads, changes, ends, cancels or pays for it. Shown once; keep it.';

--
-- Name: max_stay(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.max_stay() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '7 days' $$;

--
-- Name: FUNCTION max_stay(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.max_stay() IS 'The longest stay anywhere: the longest window a quote or a search prices (assert_window), and the most a spot''s own maximum stay may be (spot_max_stay).';

--
-- Name: spots; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.spots (
    id bigint NOT NULL,
    external_id text,
    location public.geography(Point,4326) NOT NULL,
    street text NOT NULL,
    side_of_street text,
    from_street text,
    to_street text,
    borough text,
    zone text,
    rate_id integer NOT NULL,
    max_stay interval DEFAULT '02:00:00'::interval NOT NULL,
    is_accessible boolean DEFAULT false NOT NULL,
    has_ev_charger boolean DEFAULT false NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    meter_hours text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT spots_borough_check CHECK ((length(borough) <= 50)),
    CONSTRAINT spots_from_street_check CHECK ((length(from_street) <= 200)),
    CONSTRAINT spots_max_stay_check CHECK (((max_stay > '00:00:00'::interval) AND (max_stay <= app_hidden.max_stay()))),
    CONSTRAINT spots_side_of_street_check CHECK ((length(side_of_street) <= 20)),
    CONSTRAINT spots_status_check CHECK ((status = ANY (ARRAY['active'::text, 'out_of_service'::text]))),
    CONSTRAINT spots_street_check CHECK (((length(street) >= 1) AND (length(street) <= 200))),
    CONSTRAINT spots_to_street_check CHECK ((length(to_street) <= 200)),
    CONSTRAINT spots_zone_check CHECK ((length(zone) <= 50))
);

--
-- Name: TABLE spots; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.spots IS '@behavior -insert -update -delete
One on-street parking space (a meter position).';

--
-- Name: COLUMN spots.external_id; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spots.external_id IS 'The city''s meter number, used to match imports.';

--
-- Name: COLUMN spots.location; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spots.location IS '@behavior -*
WGS 84 point; exposed as lat/lng.';

--
-- Name: COLUMN spots.zone; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spots.zone IS 'Operator zone the spot belongs to.';

--
-- Name: COLUMN spots.max_stay; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spots.max_stay IS 'Longest reservation this spot accepts.';

--
-- Name: COLUMN spots.status; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spots.status IS 'active, or out_of_service (never offered).';

--
-- Name: COLUMN spots.meter_hours; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spots.meter_hours IS 'The meter''s posted hours as published by the city, e.g. "2HR Pas Mon-Sat 0900-1900".';

--
-- Name: saved_spot_status; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.saved_spot_status AS (
	spot app_public.spots,
	saved_at timestamp with time zone,
	available boolean,
	price app_public.price_quote
);

--
-- Name: TYPE saved_spot_status; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.saved_spot_status IS 'A saved spot, when it was saved, whether it is free for the asked window, and its price for that window.';

--
-- Name: session_info; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.session_info AS (
	id uuid,
	method text,
	created_at timestamp with time zone,
	last_active_at timestamp with time zone,
	expires_at timestamp with time zone,
	is_current boolean
);

--
-- Name: TYPE session_info; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.session_info IS 'One of your sessions: how it was opened, when, when last used (to the minute), when it will end unless used, and whether it is this one.';

--
-- Name: spot_match; Type: TYPE; Schema: app_public; Owner: -
--

CREATE TYPE app_public.spot_match AS (
	spot app_public.spots,
	distance double precision,
	price app_public.price_quote
);

--
-- Name: TYPE spot_match; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TYPE app_public.spot_match IS 'A spot available for the asked window, its distance in the asked unit and its price for the window.';

--
-- Name: assert_admin(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_admin() RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION assert_admin(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_admin() IS 'The current user''s id when a verified admin, else error SMA10 (not an admin), SMA11 (email not verified) or SMA08 (signed out).';

--
-- Name: assert_changeable(app_public.reservations); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_changeable(r app_public.reservations) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
begin
  if not app_hidden.holds_spot(r.status) or upper(r.period) <= now() then
    raise exception 'This reservation is %, so it can no longer be changed',
      case when app_hidden.holds_spot(r.status) then 'over' else r.status::text end
      using errcode = 'SMB07';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_changeable(r app_public.reservations); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_changeable(r app_public.reservations) IS 'Error SMB07 unless the reservation still holds its spot (held or confirmed) and is not over: what may have its end or its vehicle changed.';

--
-- Name: assert_email(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_email(email text) RETURNS public.citext
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if not app_hidden.email_is_valid(btrim(email)) then
    raise exception 'That is not an email address we can use (plain ASCII, like name@example.com)'
      using errcode = 'SMA03';
  end if;
  return btrim(email)::citext;
end;
$$;

--
-- Name: FUNCTION assert_email(email text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_email(email text) IS 'The trimmed address, or error SMA03.';

--
-- Name: assert_filter_length(text, integer, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_filter_length(value text, max_chars integer, what text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if length(assert_filter_length.value) > assert_filter_length.max_chars then
    raise exception '% is longer than % characters', assert_filter_length.what, assert_filter_length.max_chars
      using errcode = '22001';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_filter_length(value text, max_chars integer, what text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_filter_length(value text, max_chars integer, what text) IS 'Refuses (22001) a text filter longer than max_chars characters; what names the filter in the message.';

--
-- Name: rate_price_max(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.rate_price_max() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$
  -- 7 days (the longest stay) at this an hour is 84,000,000, under Stripe's
  -- 99,999,999 a charge: every quote stays chargeable (rates_price_bounds).
  select 500000
$$;

--
-- Name: FUNCTION rate_price_max(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.rate_price_max() IS 'The most a rate''s hourly price or minimum charge may be, in minor units (500,000): every quote stays chargeable.';

--
-- Name: rates; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.rates (
    id integer NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    hourly_price integer NOT NULL,
    currency text DEFAULT 'USD'::text NOT NULL,
    billing_increment interval DEFAULT '00:01:00'::interval NOT NULL,
    minimum_charge integer DEFAULT 0 NOT NULL,
    time_zone text DEFAULT 'America/New_York'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT rates_billing_increment_check CHECK (((billing_increment > '00:00:00'::interval) AND (billing_increment <= '01:00:00'::interval))),
    CONSTRAINT rates_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT rates_hourly_price_check CHECK ((hourly_price >= 0)),
    CONSTRAINT rates_minimum_charge_check CHECK ((minimum_charge >= 0)),
    CONSTRAINT rates_price_bounds CHECK (((hourly_price <= app_hidden.rate_price_max()) AND (minimum_charge <= app_hidden.rate_price_max())))
);

--
-- Name: TABLE rates; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.rates IS '@behavior -insert -update -delete
A meter tariff: price per hour in minor units, billed per increment, metered during its hours.';

--
-- Name: COLUMN rates.hourly_price; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.rates.hourly_price IS 'Price of one metered hour in minor units (cents).';

--
-- Name: COLUMN rates.billing_increment; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.rates.billing_increment IS 'Metered time is rounded up to a whole number of these.';

--
-- Name: COLUMN rates.minimum_charge; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.rates.minimum_charge IS 'Least amount charged for a reservation that has any metered time (the payment provider''s minimum for the currency applies as well).';

--
-- Name: COLUMN rates.time_zone; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.rates.time_zone IS 'IANA time zone in which the operating hours are read.';

--
-- Name: assert_manages_rate(integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_manages_rate(rate_id integer) RETURNS app_public.rates
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION assert_manages_rate(rate_id integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_manages_rate(rate_id integer) IS 'The rate, when the current user may change it; else SMO01 (not staff), SMO06 (no such rate) or SMO02 (used outside their zones).';

--
-- Name: assert_manages_spot(bigint); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_manages_spot(spot_id bigint) RETURNS app_public.spots
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION assert_manages_spot(spot_id bigint); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_manages_spot(spot_id bigint) IS 'The spot, when the current user may act on it; else SMO01 (not staff), SMO03 (no such spot) or SMO02 (outside their zones).';

--
-- Name: assert_max_stay(app_public.spots, tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
begin
  if upper(time_window) - lower(time_window) > spot.max_stay then
    raise exception 'This spot can be reserved for at most %', app_hidden.human_duration(spot.max_stay)
      using errcode = 'SMB04';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_max_stay(spot app_public.spots, time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) IS 'Error SMB04 when the window is longer than the spot''s maximum stay.';

--
-- Name: assert_max_stay_joined(app_public.spots, tstzrange, bigint, public.citext, bigint, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_max_stay_joined(spot app_public.spots, time_window tstzrange, user_id bigint, email public.citext, except_id bigint DEFAULT NULL::bigint, plate text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_span tstzrange := time_window;
  v_next tstzrange;
  v_near tstzrange;
begin
  -- The driver's (or the guest email's) own stays on this spot less than
  -- max_stay_rest apart join this one: booked back to back, two stays within
  -- the limit are one stay beyond it. So do the stays of the same vehicle,
  -- whoever booked them: the limit is the street's, and enforcement reads the
  -- plate (its state is the driver's word, so the plate alone), so a second
  -- email for the same car must not reset it. Stays already over count as
  -- they were used (ending early trims the period), or ending a stay and
  -- booking again at once would reset it. Callers hold the spot's lock, so
  -- none is added meanwhile.
  loop
    v_near := tstzrange(lower(v_span) - app_hidden.max_stay_rest(), upper(v_span) + app_hidden.max_stay_rest(), '[)');
    select tstzrange(least(lower(v_span), min(lower(u.period))), greatest(upper(v_span), max(upper(u.period))), '[)')
    into v_next
    from (
      -- Holding the spot: through its exclusion index (spot and period).
      select r.id, r.period, r.user_id, r.email, r.plate from app_public.reservations r
      where r.spot_id = spot.id and r.kind = 'reservation' and app_hidden.holds_spot(r.status)
        and r.period && v_near
      union all
      -- Over, the spot used: through reservations_ended_stay_idx.
      select r.id, r.period, r.user_id, r.email, r.plate from app_public.reservations r
      where r.spot_id = spot.id and r.status in ('completed', 'payment_failed')
        and upper(r.period) > lower(v_near) and lower(r.period) < upper(v_near)
    ) u
    where u.id is distinct from except_id
      and (case when assert_max_stay_joined.user_id is not null then u.user_id = assert_max_stay_joined.user_id
                else u.user_id is null and u.email = assert_max_stay_joined.email end
           or u.plate = assert_max_stay_joined.plate);
    exit when v_next is null or v_next = v_span;
    v_span := v_next;
  end loop;
  if upper(v_span) - lower(v_span) > spot.max_stay then
    raise exception 'This spot can be reserved for at most % in a row: your stays there (or this vehicle''s) less than % apart count as one',
      app_hidden.human_duration(spot.max_stay), app_hidden.human_duration(app_hidden.max_stay_rest())
      using errcode = 'SMB04';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_max_stay_joined(spot app_public.spots, time_window tstzrange, user_id bigint, email public.citext, except_id bigint, plate text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_max_stay_joined(spot app_public.spots, time_window tstzrange, user_id bigint, email public.citext, except_id bigint, plate text) IS 'Error SMB04 when the window, joined with the same driver''s (or guest email''s), or the same plate''s, stays on the spot less than max_stay_rest apart (held, confirmed, or over and used: completed, payment failed; other than except_id), is longer than the spot''s maximum stay.';

--
-- Name: assert_min_stay(tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_min_stay(time_window tstzrange) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if upper(time_window) - lower(time_window) < app_hidden.min_stay() then
    raise exception 'A reservation lasts at least %', app_hidden.human_duration(app_hidden.min_stay())
      using errcode = 'SMB03';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_min_stay(time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_min_stay(time_window tstzrange) IS 'Error SMB03 when the window is shorter than min_stay.';

--
-- Name: assert_name(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
declare
  -- Unicode spaces (Zs), listed because the C.UTF-8 locale's [[:space:]] misses some.
  c_space constant text := '\u0020\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000';
  -- Controls (C0, DEL, C1), line/paragraph separators and every format
  -- character (Cf: soft hyphen, zero-width and bidi controls, word joiners,
  -- invisible operators, tags): they let a name display as something else.
  c_refused constant text := '[\u0001-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2'
    '\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB'
    '\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F]';
  -- Letters and symbols that print nothing (Hangul fillers, the blank Braille
  -- pattern, combining grapheme joiner, Khmer inherent vowels, variation
  -- selectors): allowed beside visible characters, not as a whole name.
  c_blank constant text := '[' || c_space || '\u034F\u115F\u1160\u17B4\u17B5\u2800\u3164\uFFA0\uFE00-\uFE0F\U000E0100-\U000E01EF]';
  v_name text := regexp_replace(normalize(coalesce(name, ''), NFC), '^[' || c_space || ']+|[' || c_space || ']+$', '', 'g');
begin
  if length(v_name) not between 1 and 100 or v_name ~ c_refused or regexp_replace(v_name, c_blank, '', 'g') = '' then
    raise exception 'A name must be 1 to 100 characters without control or invisible formatting characters'
      using errcode = 'SMA05';
  end if;
  return v_name;
end;
$_$;

--
-- Name: FUNCTION assert_name(name text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_name(name text) IS 'The one rule for names: trimmed of spaces, NFC-normalised, 1 to 100 characters, no control or format character, not only invisible ones; else error SMA05.';

--
-- Name: assert_password(text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_password(password text, email text DEFAULT NULL::text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  -- NFKC, as NIST SP 800-63B advises: the same password typed on another
  -- keyboard (composed or decomposed accents, full-width digits) still matches.
  v_password text := normalize(coalesce(password, ''), NFKC);
  -- What guessers try first: the password itself, and its stem without the
  -- digits and symbols people append ("basketball1!" is "basketball").
  v_lower text := lower(v_password);
  v_stem text := regexp_replace(lower(v_password), '[0-9[:punct:][:space:]]+$', '');
begin
  if length(v_password) < 10 or octet_length(v_password) > 72 then
    raise exception 'A password must be at least 10 characters and at most 72 bytes' using errcode = 'SMA04';
  end if;
  if btrim(v_password) = '' or v_password ~ '^(.)\1*$' then
    raise exception 'A password must not be only one repeated character' using errcode = 'SMA04';
  end if;
  if email is not null and lower(v_password) = lower(btrim(email)) then
    raise exception 'A password must not be your email address' using errcode = 'SMA04';
  end if;
  -- NIST SP 800-63B: refuse passwords from lists of commonly used ones
  -- (migrations/fixtures/common_passwords.sql), and digits alone, which are
  -- dates, phone numbers and keyboard runs far more often than not.
  if v_password ~ '^[0-9[:space:]]+$'
     or exists (select from app_private.common_passwords c where c.password in (v_lower, v_stem)) then
    raise exception 'This password is too common or too easy to guess: choose another, e.g. a few unrelated words'
      using errcode = 'SMA04';
  end if;
  return v_password;
end;
$_$;

--
-- Name: FUNCTION assert_password(password text, email text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_password(password text, email text) IS 'The NFKC-normalised password when it meets the rule (10 characters to 72 bytes, not one repeated character, not the email, not digits only, not a common password or one with digits or symbols appended), else error SMA04.';

--
-- Name: assert_rate_money(integer, integer, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_rate_money(hourly_price integer, minimum_charge integer, currency text) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION assert_rate_money(hourly_price integer, minimum_charge integer, currency text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_rate_money(hourly_price integer, minimum_charge integer, currency text) IS 'Error SMO08 unless the hourly price and the minimum charge are 0 to rate_price_max (500,000) minor units and the currency is chargeable.';

--
-- Name: assert_role(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_role(role text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if role is null or role not in ('driver', 'operator', 'admin', 'analyst', 'enforcement') then
    raise exception 'A role is one of driver, operator, admin, analyst, enforcement' using errcode = 'SMA16';
  end if;
  return role;
end;
$$;

--
-- Name: FUNCTION assert_role(role text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_role(role text) IS 'The role when it is one of the five, else error SMA16.';

--
-- Name: assert_signed_in(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_signed_in() RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_user_id bigint := app_public.current_user_id();
begin
  if v_user_id is null then
    raise exception 'Sign in first' using errcode = 'SMA08';
  end if;
  return v_user_id;
end;
$$;

--
-- Name: FUNCTION assert_signed_in(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_signed_in() IS 'The current user''s id, or error SMA08.';

--
-- Name: assert_staff(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_staff() RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators and admins may manage customers' using errcode = 'SMC01';
  end if;
  return app_public.current_user_id();
end;
$$;

--
-- Name: FUNCTION assert_staff(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_staff() IS 'The current user''s id when an operator or admin, else error SMC01.';

--
-- Name: assert_verified(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_verified() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if not exists (select from app_public.users u where u.id = v_user_id and u.is_verified) then
    raise exception 'Verify your email address first: follow the link we sent you' using errcode = 'SMA11';
  end if;
  return v_user_id;
end;
$$;

--
-- Name: FUNCTION assert_verified(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_verified() IS 'The current user''s id when their email is verified, else error SMA11 (or SMA08 when signed out). Functions for actions that need a verified email call it.';

--
-- Name: assert_window(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.assert_window(starts_at timestamp with time zone, ends_at timestamp with time zone) RETURNS tstzrange
    LANGUAGE plpgsql STABLE
    AS $$
begin
  if starts_at is null or ends_at is null then
    raise exception 'A window needs a start and an end' using errcode = 'SMS03';
  end if;
  if ends_at <= starts_at then
    raise exception 'The end of a window must be after its start' using errcode = 'SMS03';
  end if;
  if ends_at - starts_at > app_hidden.max_stay() then
    raise exception 'A window may last at most % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMS03';
  end if;
  if starts_at > now() + app_hidden.booking_horizon() then
    raise exception 'A window may start at most % days ahead', extract(day from app_hidden.booking_horizon())
      using errcode = 'SMS03';
  end if;
  return tstzrange(starts_at, ends_at, '[)');
end;
$$;

--
-- Name: FUNCTION assert_window(starts_at timestamp with time zone, ends_at timestamp with time zone); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.assert_window(starts_at timestamp with time zone, ends_at timestamp with time zone) IS 'The window [starts_at, ends_at) when it is one the product can price and book (at most max_stay long, starting within booking_horizon), else error SMS03.';

--
-- Name: block_max_length(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.block_max_length() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '366 days' $$;

--
-- Name: FUNCTION block_max_length(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.block_max_length() IS 'Longest single operator block.';

--
-- Name: booking_hold_time(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.booking_hold_time() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '15 minutes' $$;

--
-- Name: FUNCTION booking_hold_time(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.booking_hold_time() IS 'How long a new reservation stays held without confirmed payment set-up before it expires (capped at its end).';

--
-- Name: booking_horizon(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.booking_horizon() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '90 days' $$;

--
-- Name: FUNCTION booking_horizon(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.booking_horizon() IS 'How far ahead a reservation may start (the same as search''s horizon).';

--
-- Name: booking_reminder_at(tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.booking_reminder_at(period tstzrange) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE
    AS $$
  -- A stay under an hour is reminded a quarter of its length before its end
  -- (a 2-minute stay: 30 s before), so a short stay still gets its reminder
  -- while there is time left to extend.
  select upper(period) - least(app_hidden.booking_reminder_lead(), (upper(period) - lower(period)) / 4);
$$;

--
-- Name: FUNCTION booking_reminder_at(period tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.booking_reminder_at(period tstzrange) IS 'When the reminder of a stay is due: 15 minutes before its end, or a quarter of the stay before its end when it lasts under an hour.';

--
-- Name: booking_reminder_lead(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.booking_reminder_lead() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '15 minutes' $$;

--
-- Name: FUNCTION booking_reminder_lead(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.booking_reminder_lead() IS 'How long before a confirmed reservation ends its driver gets a reminder (less for stays under an hour: booking_reminder_at).';

--
-- Name: booking_start_grace(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.booking_start_grace() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '5 minutes' $$;

--
-- Name: FUNCTION booking_start_grace(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.booking_start_grace() IS 'A start this little in the past (a slow phone, a skewed clock) is read as "now"; earlier is refused.';

--
-- Name: booking_window(timestamp with time zone, timestamp with time zone, integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.booking_window(starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer) RETURNS tstzrange
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_start timestamptz := coalesce(booking_window.starts_at, now());
  v_end   timestamptz;
begin
  if not isfinite(v_start) then
    raise exception 'The start time is not a real date and time' using errcode = 'SMB03';
  end if;
  if v_start < now() - app_hidden.booking_start_grace() then
    raise exception 'The start time is in the past; pick a time from now on' using errcode = 'SMB03';
  end if;
  v_start := greatest(v_start, now());
  if v_start > now() + app_hidden.booking_horizon() then
    raise exception 'Reservations can start at most % days ahead',
      extract(day from app_hidden.booking_horizon()) using errcode = 'SMB05';
  end if;
  if booking_window.ends_at is not null and booking_window.duration_minutes is not null then
    raise exception 'Give an end time or a duration, not both' using errcode = 'SMB03';
  elsif booking_window.duration_minutes is not null then
    if booking_window.duration_minutes <= 0 then
      raise exception 'The duration must be at least one minute' using errcode = 'SMB03';
    end if;
    v_end := v_start + make_interval(mins => booking_window.duration_minutes);
  elsif booking_window.ends_at is not null then
    if not isfinite(booking_window.ends_at) then
      raise exception 'The end time is not a real date and time' using errcode = 'SMB03';
    end if;
    v_end := booking_window.ends_at;
  else
    raise exception 'Give an end time or a duration' using errcode = 'SMB03';
  end if;
  if v_end <= v_start then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  -- The same floor as durationMinutes' (an end a microsecond after the start was taken).
  perform app_hidden.assert_min_stay(tstzrange(v_start, v_end, '[)'));
  return tstzrange(v_start, v_end, '[)');
end;
$$;

--
-- Name: FUNCTION booking_window(starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.booking_window(starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer) IS 'The window [start, end) a reservation asks for: start defaults to now, the end is given or start + duration. Errors SMB03 (bad window) or SMB05 (beyond the horizon).';

--
-- Name: card_upcoming_max(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.card_upcoming_max() RETURNS integer
    LANGUAGE sql STABLE
    AS $$
  -- The API sends the server's CARD_UPCOMING_MAX (server/config.ts, whose
  -- default is this one); other callers get the default.
  select coalesce(nullif(current_setting('app.card_upcoming_max', true), '')::int, 10)
$$;

--
-- Name: FUNCTION card_upcoming_max(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.card_upcoming_max() IS 'How many confirmed reservations still to come one card (its fingerprint) may back before another is refused (SMP09): app.card_upcoming_max (the server''s CARD_UPCOMING_MAX), else 10.';

--
-- Name: client_ip(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.client_ip() RETURNS inet
    LANGUAGE plpgsql STABLE
    AS $$
begin
  return nullif(current_setting('app.client_ip', true), '')::inet;
exception when invalid_text_representation then
  return null;
end;
$$;

--
-- Name: FUNCTION client_ip(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.client_ip() IS 'The request''s client address (pgSettings app.client_ip), or null.';

--
-- Name: clock_now(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.clock_now() RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    AS $$
  select coalesce(nullif(current_setting('app.test_now', true), '')::timestamptz, now());
$$;

--
-- Name: FUNCTION clock_now(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.clock_now() IS 'The time accounts rules use: the setting app.test_now when a test set it, else now().';

--
-- Name: current_actor_role(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.current_actor_role() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- A connection that never took an API role (the owner's: CLI, worker,
  -- imports) is the system. Security definer functions change current_user
  -- but not the `role` setting, so this sees the request's role inside them.
  select coalesce(
    (select u.role from app_public.users u where u.id = app_public.current_user_id()),
    case when coalesce(current_setting('role', true), 'none') in ('none', '') then 'system' else 'anonymous' end);
$$;

--
-- Name: FUNCTION current_actor_role(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.current_actor_role() IS 'The role of whoever is making the current change: a user''s role, ''system'' for the owner''s own connections, ''anonymous'' for signed-out API requests.';

--
-- Name: current_user_is_admin(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.current_user_is_admin() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(
    (select u.role = 'admin' from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;

--
-- Name: FUNCTION current_user_is_admin(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.current_user_is_admin() IS 'True when the signed-in user is an admin.';

--
-- Name: current_user_is_staff(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.current_user_is_staff() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(
    (select u.role in ('operator', 'admin') from app_public.users u where u.id = app_public.current_user_id()),
    false);
$$;

--
-- Name: FUNCTION current_user_is_staff(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.current_user_is_staff() IS 'True when the signed-in user is an operator or an admin (the roles whose requests run as app_operator).';

--
-- Name: current_user_may_join_rate(integer, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.current_user_may_join_rate(rate_id integer, borough text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- A zoned operator may change a rate only while every spot on it is in
  -- their zones (current_user_may_manage_rate). An operator of another zone
  -- who put one of their spots on that rate would take it from them, so an
  -- operator's spot joins a rate only when no zoned operator who manages the
  -- rate today lacks the spot's borough. Admins decide for everyone; a rate
  -- no spot uses yet belongs to no zone.
  select app_hidden.current_user_is_admin()
      or not exists (
        select from app_public.users op
        where op.role = 'operator'
          and exists (select from app_public.spots s where s.rate_id = current_user_may_join_rate.rate_id)
          and not exists (select from app_public.spots s
                          where s.rate_id = current_user_may_join_rate.rate_id
                            and not exists (select from app_public.operator_zones z
                                            where z.user_id = op.id and lower(z.borough) = lower(btrim(s.borough))))
          and not exists (select from app_public.operator_zones z
                          where z.user_id = op.id
                            and lower(z.borough) = lower(btrim(current_user_may_join_rate.borough))));
$$;

--
-- Name: FUNCTION current_user_may_join_rate(rate_id integer, borough text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.current_user_may_join_rate(rate_id integer, borough text) IS 'True when the signed-in staff member may put a spot of this borough on this rate: an admin, or no zoned operator who can change the rate today lacks the borough (SMO12 otherwise).';

--
-- Name: current_user_may_manage(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.current_user_may_manage(borough text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION current_user_may_manage(borough text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.current_user_may_manage(borough text) IS 'True when the signed-in user may act on spots in this borough: admins always, operators without zones always, operators with zones in theirs.';

--
-- Name: current_user_may_manage_rate(integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.current_user_may_manage_rate(rate_id integer) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- A rate is shared by spots: changing it changes their prices, so an
  -- operator may change only a rate whose spots are all in their zones.
  select app_hidden.current_user_is_staff()
     and not exists (select from app_public.spots s
                     where s.rate_id = current_user_may_manage_rate.rate_id
                       and not app_hidden.current_user_may_manage(s.borough));
$$;

--
-- Name: FUNCTION current_user_may_manage_rate(rate_id integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.current_user_may_manage_rate(rate_id integer) IS 'True when the signed-in staff member may change this rate: every spot using it is in their zones.';

--
-- Name: customers; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.customers (
    id bigint NOT NULL,
    email public.citext NOT NULL,
    name text,
    surname text,
    user_id bigint,
    deleted_at timestamp with time zone,
    created_by bigint,
    updated_by bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    search_text text GENERATED ALWAYS AS (lower(((((COALESCE(name, ''::text) || ' '::text) || COALESCE(surname, ''::text)) || ' '::text) || (email)::text))) STORED NOT NULL,
    photo_key text,
    photo_content_type text,
    photo_updated_at timestamp with time zone,
    CONSTRAINT customers_email_check CHECK ((length((email)::text) <= 254)),
    CONSTRAINT customers_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT customers_surname_check CHECK (((length(surname) >= 1) AND (length(surname) <= 100)))
);

--
-- Name: TABLE customers; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.customers IS '@behavior -insert -update -delete
A customer: an account or a guest email, with the name staff know them by. Staff only; soft-deleted ones are hidden everywhere but the audit log.';

--
-- Name: COLUMN customers.user_id; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.user_id IS 'The customer''s account, when they have one (null: a guest email).';

--
-- Name: COLUMN customers.deleted_at; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.deleted_at IS '@behavior -*
Soft deletion: set, the row is hidden from staff.';

--
-- Name: COLUMN customers.created_by; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.created_by IS 'The staff member who created the record (null: made by a booking or sign-up). Set by trigger.';

--
-- Name: COLUMN customers.updated_by; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.updated_by IS 'The staff member who last changed it. Set by trigger.';

--
-- Name: COLUMN customers.search_text; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.search_text IS '@behavior -*';

--
-- Name: COLUMN customers.photo_key; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.photo_key IS '@behavior -*
Where the photo''s bytes are stored.';

--
-- Name: COLUMN customers.photo_content_type; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.photo_content_type IS '@behavior -*';

--
-- Name: COLUMN customers.photo_updated_at; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.customers.photo_updated_at IS 'When the photo was last replaced (null: no photo).';

--
-- Name: customer_live(bigint); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.customer_live(customer_id bigint) RETURNS app_public.customers
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION customer_live(customer_id bigint); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.customer_live(customer_id bigint) IS 'The customer when it exists and is not deleted, else error SMC03.';

--
-- Name: customer_name(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.customer_name(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if value is null or value ~ '[[:cntrl:]]' or length(btrim(value)) not between 1 and 100 then
    raise exception 'A customer needs a name and a surname of 1 to 100 characters' using errcode = 'SMC04';
  end if;
  return btrim(value);
end;
$$;

--
-- Name: FUNCTION customer_name(value text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.customer_name(value text) IS 'A trimmed name or surname of 1–100 characters without control characters, else error SMC04.';

--
-- Name: customer_photo_attach(bigint, text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.customer_photo_attach(customer_id bigint, photo_key text, content_type text) RETURNS app_public.customers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_c app_public.customers := app_hidden.customer_photo_check(customer_id);
begin
  update app_public.customers c
  set photo_key = customer_photo_attach.photo_key, photo_content_type = customer_photo_attach.content_type,
      photo_updated_at = now()
  where c.id = v_c.id
  returning * into v_c;
  return v_c;
end;
$$;

--
-- Name: FUNCTION customer_photo_attach(customer_id bigint, photo_key text, content_type text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.customer_photo_attach(customer_id bigint, photo_key text, content_type text) IS 'Staff: records a stored photo as the customer''s (after the same checks as customer_photo_check). The customer''s audit row shows the old and new key.';

--
-- Name: customer_photo_check(bigint); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.customer_photo_check(customer_id bigint) RETURNS app_public.customers
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_hidden.assert_staff();
  return app_hidden.customer_live(customer_id);
end;
$$;

--
-- Name: FUNCTION customer_photo_check(customer_id bigint); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.customer_photo_check(customer_id bigint) IS 'The customer when the current user is staff (SMC01) and the customer exists and is not deleted (SMC03): asked before an upload is processed and before a photo is served.';

--
-- Name: db_role_for(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.db_role_for(role text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select case when role in ('operator', 'admin') then 'app_operator' else 'app_user' end;
$$;

--
-- Name: FUNCTION db_role_for(role text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.db_role_for(role text) IS 'The database role a user''s requests run as: app_operator for operators and admins, app_user otherwise (drivers and analysts).';

--
-- Name: email_is_valid(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.email_is_valid(email text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $_$
  -- ASCII only: internationalised addresses are refused rather than risk
  -- look-alike characters (Cyrillic "а" for Latin "a") naming another account.
  select email is not null
    and length(email) <= 254
    and email ~ '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$'
    and length(split_part(email, '@', 1)) <= 64;
$_$;

--
-- Name: FUNCTION email_is_valid(email text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.email_is_valid(email text) IS 'True for a plain ASCII address local@domain.tld (local part at most 64, whole at most 254 characters).';

--
-- Name: geo_point(double precision, double precision); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.geo_point(lat double precision, lng double precision) RETURNS public.geography
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if lat is null or lng is null then
    raise exception 'Give both a latitude and a longitude' using errcode = 'SMS01';
  end if;
  if not (lat between -90 and 90) or not (lng between -180 and 180) then
    raise exception 'Latitude must be between -90 and 90 and longitude between -180 and 180'
      using errcode = 'SMS01';
  end if;
  return st_setsrid(st_makepoint(lng, lat), 4326)::geography;
end;
$$;

--
-- Name: FUNCTION geo_point(lat double precision, lng double precision); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.geo_point(lat double precision, lng double precision) IS 'A WGS 84 point (a spot''s place, or where to search around), or error SMS01 when a coordinate is missing or off the globe.';

--
-- Name: guest_bookings_per_email_hour(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.guest_bookings_per_email_hour() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ select 10 $$;

--
-- Name: FUNCTION guest_bookings_per_email_hour(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.guest_bookings_per_email_hour() IS 'How many guest reservations one email may be given in an hour, whatever became of them, before SMB12: each one mails that address, and cancelling frees its hold at once.';

--
-- Name: guest_email(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.guest_email(email text) RETURNS public.citext
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if email is null or btrim(email) = '' then
    raise exception 'Sign in, or give an email address to reserve as a guest' using errcode = 'SMB08';
  end if;
  -- The one rule for addresses (accounts use it too): a looser pattern let
  -- `x<victim@example.com>` through, and the mail went to the victim.
  if not app_hidden.email_is_valid(btrim(email)) then
    raise exception 'That email address does not look right' using errcode = 'SMB08';
  end if;
  return btrim(email)::citext;
end;
$$;

--
-- Name: FUNCTION guest_email(email text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.guest_email(email text) IS 'A guest''s email, trimmed, or error SMB08.';

--
-- Name: holds_per_address(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.holds_per_address() RETURNS integer
    LANGUAGE sql STABLE
    AS $$
  -- The API sends the server's HOLDS_PER_ADDRESS with every request (server/config.ts, whose
  -- default is this one); other callers (the CLI, tests in SQL) get the default.
  select coalesce(nullif(current_setting('app.holds_per_address', true), '')::int, 10)
$$;

--
-- Name: FUNCTION holds_per_address(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.holds_per_address() IS 'How many reservations one client address may hold at once before SMB12: app.holds_per_address (the server''s HOLDS_PER_ADDRESS), else 10.';

--
-- Name: holds_per_driver(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.holds_per_driver() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ select 3 $$;

--
-- Name: FUNCTION holds_per_driver(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.holds_per_driver() IS 'How many reservations one email or signed-in driver may hold at once (held, not yet expired) before SMB12.';

--
-- Name: holds_spot(app_public.reservation_status); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.holds_spot(status app_public.reservation_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  -- The statuses the exclusion constraint and spot_occupancy count as taking
  -- the spot (their predicates in committed migrations spell out the same pair).
  select status in ('held', 'confirmed');
$$;

--
-- Name: FUNCTION holds_spot(status app_public.reservation_status); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.holds_spot(status app_public.reservation_status) IS 'True for the statuses in which a reservation takes its spot (held, confirmed); false for null.';

--
-- Name: human_duration(interval); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.human_duration(d interval) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  -- 90 minutes -> "1 h 30 min"; 2 hours -> "2 h"; days are written as hours.
  select concat_ws(' ',
    case when floor(extract(epoch from d) / 3600) > 0 then floor(extract(epoch from d) / 3600)::bigint || ' h' end,
    case when floor(extract(epoch from d) / 60)::bigint % 60 > 0 then (floor(extract(epoch from d) / 60)::bigint % 60) || ' min' end);
$$;

--
-- Name: FUNCTION human_duration(d interval); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.human_duration(d interval) IS 'A length of time in words a driver reads (h, min).';

--
-- Name: is_clock_time(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.is_clock_time(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $_$
  select value ~ '^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?|24:00(:00(\.0{1,6})?)?)$';
$_$;

--
-- Name: FUNCTION is_clock_time(value text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.is_clock_time(value text) IS 'Whether a text is a time of day as hours are written: HH:MM, HH:MM:SS or HH:MM:SS.ffffff, from 00:00 to 24:00.';

--
-- Name: iso_time(timestamp with time zone); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.iso_time(t timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  -- Stable, as to_char is: declared immutable, PostgreSQL would not inline it
  -- and every email's data would pay three function calls.
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;

--
-- Name: FUNCTION iso_time(t timestamp with time zone); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.iso_time(t timestamp with time zone) IS 'ISO 8601 in UTC, whatever the session time zone.';

--
-- Name: live_tile(double precision, double precision); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.live_tile(lat double precision, lng double precision) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select floor(lat / 0.05)::int || ':' || floor(lng / 0.05)::int;
$$;

--
-- Name: FUNCTION live_tile(lat double precision, lng double precision); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.live_tile(lat double precision, lng double precision) IS 'The live-event tile of a point: "<floor(lat / 0.05)>:<floor(lng / 0.05)>".';

--
-- Name: local_instant(timestamp without time zone, text, boolean); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.local_instant(local_time timestamp without time zone, time_zone text, earliest boolean) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_plain timestamptz := local_time at time zone local_instant.time_zone;
  -- The zone's UTC offset a few hours either side (clocks move by 2 hours at
  -- most, and months apart): different only when they change near here.
  v_before interval := ((v_plain - interval '3 hours') at time zone local_instant.time_zone)
                       - ((v_plain - interval '3 hours') at time zone 'UTC');
  v_after interval := ((v_plain + interval '3 hours') at time zone local_instant.time_zone)
                      - ((v_plain + interval '3 hours') at time zone 'UTC');
  -- The local time read with each offset; a reading is real when the clock shows it then.
  v_with_before timestamptz := (local_time - v_before) at time zone 'UTC';
  v_with_after timestamptz := (local_time - v_after) at time zone 'UTC';
  v_before_real boolean := (v_with_before at time zone local_instant.time_zone) = local_time;
  v_after_real boolean := (v_with_after at time zone local_instant.time_zone) = local_time;
  v_lo timestamptz;
  v_hi timestamptz;
  v_mid timestamptz;
begin
  if v_before = v_after then
    return v_plain;
  elsif v_before_real and v_after_real then
    -- Clocks fell back: this local time happens twice.
    return case when earliest then least(v_with_before, v_with_after) else greatest(v_with_before, v_with_after) end;
  elsif v_before_real then
    return v_with_before;
  elsif v_after_real then
    return v_with_after;
  end if;
  -- Clocks sprang forward over this local time: it never happens, and the
  -- clock passes it at the change. Find that instant (to the second) between
  -- the two readings: before it the clock shows less, from it more.
  v_lo := least(v_with_before, v_with_after);
  v_hi := greatest(v_with_before, v_with_after);
  while v_hi - v_lo > interval '1 second' loop
    v_mid := v_lo + (v_hi - v_lo) / 2;
    if (v_mid at time zone local_instant.time_zone) >= local_time then
      v_hi := v_mid;
    else
      v_lo := v_mid;
    end if;
  end loop;
  return date_trunc('second', v_hi);
end;
$$;

--
-- Name: FUNCTION local_instant(local_time timestamp without time zone, time_zone text, earliest boolean); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.local_instant(local_time timestamp without time zone, time_zone text, earliest boolean) IS 'The instant a local clock time happens in the time zone: the earliest or latest of the two when clocks fall back, the change itself when clocks spring forward over it. For clocks that move by any amount (30 minutes in some zones).';

--
-- Name: lock_spot(bigint); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.lock_spot(spot_id bigint) RETURNS void
    LANGUAGE sql
    AS $$
  -- One advisory lock per spot, held to the end of the transaction. Writers of
  -- a spot's periods queue here instead of on each other's uncommitted index
  -- entries in the exclusion constraint (which collapses throughput under
  -- contention); the constraint stays the guarantee. Key space 7340 = 'booking'.
  -- Rule: every write that leaves a row spot-holding (insert, new period,
  -- held -> confirmed) takes this lock first, after the row lock if it has
  -- one; writes that free a spot (cancel, end, expire) need not.
  -- Otherwise two writers can wait on each other's index entries: a deadlock.
  select pg_advisory_xact_lock(7340, (lock_spot.spot_id % 2147483647)::int);
$$;

--
-- Name: FUNCTION lock_spot(spot_id bigint); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.lock_spot(spot_id bigint) IS 'Serialises the writers of one spot''s reservations until the transaction ends.';

--
-- Name: login(text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.login(email text, password text) RETURNS TABLE(status text, user_id bigint, session_id uuid, token text, retry_after integer)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select * from app_private.login_attempt(login.email, login.password, app_hidden.client_ip());
$$;

--
-- Name: FUNCTION login(email text, password text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.login(email text, password text) IS 'app_private.login_attempt for the GraphQL login mutation (server/login_plugin.ts): never raises, so a failed attempt''s count commits with the request; the plugin turns the status into SMA01/SMA02 afterwards.';

--
-- Name: max_stay_rest(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.max_stay_rest() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '1 hour' $$;

--
-- Name: FUNCTION max_stay_rest(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.max_stay_rest() IS 'How long a driver must be away from a spot before a new stay there counts on its own against the maximum stay (as street signs say "no return within 1 hour").';

--
-- Name: rate_hours; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.rate_hours (
    rate_id integer NOT NULL,
    isodow integer NOT NULL,
    opens time without time zone NOT NULL,
    closes time without time zone NOT NULL,
    CONSTRAINT rate_hours_check CHECK ((closes > opens)),
    CONSTRAINT rate_hours_isodow_check CHECK (((isodow >= 1) AND (isodow <= 7)))
);

--
-- Name: TABLE rate_hours; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.rate_hours IS '@behavior -insert -update -delete
Metered hours of a rate, per ISO weekday (1 = Monday). A rate without rows is metered around the clock; outside these hours parking is free.';

--
-- Name: COLUMN rate_hours.closes; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.rate_hours.closes IS 'Local closing time; 24:00 means midnight at the end of the day.';

--
-- Name: metered_time(app_public.rate_hours[], text, tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.metered_time(hours app_public.rate_hours[], time_zone text, time_window tstzrange) RETURNS interval
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_metered interval;
  v_steady boolean;
begin
  if coalesce(cardinality(metered_time.hours), 0) = 0 then
    return upper(time_window) - lower(time_window);
  end if;
  -- Nearly always the clocks do not change within a day of the window: every
  -- local time then happens once, and reading it is one conversion.
  v_steady := ((lower(time_window) - interval '2 days') at time zone metered_time.time_zone)
                - ((lower(time_window) - interval '2 days') at time zone 'UTC')
              = ((upper(time_window) + interval '2 days') at time zone metered_time.time_zone)
                - ((upper(time_window) + interval '2 days') at time zone 'UTC');
  select sum(upper(o.overlap) - lower(o.overlap)) into v_metered
  -- The local calendar days (dates in the rate's zone) the window touches.
  -- Dates, not timestamptz: a timestamptz day starts at midnight of the
  -- *session's* time zone and would shift every opening hour with it.
  from generate_series(0,
         (upper(time_window) at time zone metered_time.time_zone)::date
           - (lower(time_window) at time zone metered_time.time_zone)::date) as i(n)
  cross join lateral (select (lower(time_window) at time zone metered_time.time_zone)::date + i.n as day) d
  join unnest(metered_time.hours) h on h.isodow = extract(isodow from d.day)
  -- `date + time` is a local time (24:00 is the next midnight). Near a clock
  -- change, local_instant reads it: a meter opens the first time the clock
  -- shows its opening and closes the last time it shows its closing, and a
  -- time the clocks skip is the change itself. The windows of one day never
  -- overlap (rate_hours_no_overlap), so their sum is the metered time.
  cross join lateral (
    select time_window * tstzrange(
      case when v_steady then (d.day + h.opens) at time zone metered_time.time_zone
           else app_hidden.local_instant(d.day + h.opens, metered_time.time_zone, true) end,
      case when v_steady then (d.day + h.closes) at time zone metered_time.time_zone
           else app_hidden.local_instant(d.day + h.closes, metered_time.time_zone, false) end,
      '[)') as overlap
  ) o
  where not isempty(o.overlap);
  return coalesce(v_metered, interval '0');
end;
$$;

--
-- Name: FUNCTION metered_time(hours app_public.rate_hours[], time_zone text, time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.metered_time(hours app_public.rate_hours[], time_zone text, time_window tstzrange) IS 'How much of the window falls in the metered hours, read in the time zone (all of it when there are no hours: metered around the clock).';

--
-- Name: min_stay(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.min_stay() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '1 minute' $$;

--
-- Name: FUNCTION min_stay(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.min_stay() IS 'The shortest reservation, by duration or by end, and a changed end before the start (SMB03).';

--
-- Name: password_check_hit(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.password_check_hit() RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.rate_limit_hit('password_check', app_public.current_user_id()::text);
$$;

--
-- Name: FUNCTION password_check_hit(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.password_check_hit() IS 'Counts one changePassword attempt of the signed-in user (in a transaction of its own, before the attempt, so a wrong password that raises SMA09 is still counted); 0 when allowed, else the seconds to wait (SMA02). Signed out: 0.';

--
-- Name: payment_customer_forget(bigint, text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.payment_customer_forget(reservation_id bigint, manage_token text, stripe_customer_id text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION payment_customer_forget(reservation_id bigint, manage_token text, stripe_customer_id text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.payment_customer_forget(reservation_id bigint, manage_token text, stripe_customer_id text) IS 'Forgets a Stripe customer id that Stripe no longer knows (deleted there, or a development emulator restarted), with fresh idempotency keys for the customer and the set-up, so the next card set-up makes a new customer.';

--
-- Name: payment_customer_record(bigint, text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.payment_customer_record(reservation_id bigint, manage_token text, stripe_customer_id text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION payment_customer_record(reservation_id bigint, manage_token text, stripe_customer_id text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.payment_customer_record(reservation_id bigint, manage_token text, stripe_customer_id text) IS 'Records the Stripe customer id of the reservation''s customer (first write wins); returns the recorded id.';

--
-- Name: payment_setup_lookup(bigint, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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
  v_r := app_private.card_rules_again(v_r, v_si);
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;

--
-- Name: FUNCTION payment_setup_lookup(reservation_id bigint, manage_token text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text) IS 'Authorises the caller and returns the reservation''s set-up (error SMP03 when none was started, SMP02 when none was and the reservation takes no card); a held reservation whose card set up but was refused by the card''s rules is confirmed if they pass now.';

--
-- Name: payment_setup_prepare(bigint, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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
  v_r := app_private.card_rules_again(v_r, v_si);
  if v_r.status = 'confirmed' then
    return app_private.setup_intent_json(v_si, v_r);
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
  elsif v_si.status = 'succeeded'
        and (v_r.status = 'held'
             -- Payment failed: only once the card on file was charged and
             -- declined. One given since is being charged now (charge_retry_now);
             -- a second set-up asked meanwhile must not take it away from
             -- that charge.
             or exists (select from app_private.charges c
                        where c.reservation_id = v_r.id and c.status = 'failed'
                          and c.updated_at >= v_si.succeeded_at)) then
    -- The card on file was declined (payment_failed), or refused by its rules
    -- (held): set up a new one under a new key. A declined card stays the one
    -- the scheduled retries charge (reservation_card_of) until the new one is
    -- set up: asking is not giving (the pay page asks as it opens).
    update app_private.setup_intents si
    set generation = si.generation + 1,
        idempotency_key = app_private.payment_key(v_r.id, 'setup-' || (si.generation + 1)),
        customer_id = v_customer_id,
        stripe_setup_intent_id = null, client_secret = null, status = 'new',
        payment_method = null, succeeded_at = null,
        retry_customer = case when v_r.status = 'payment_failed'
                              then (select c.stripe_customer_id from app_private.stripe_customers c where c.id = si.customer_id) end,
        retry_payment_method = case when v_r.status = 'payment_failed' then si.payment_method end
    where si.reservation_id = v_r.id
    returning * into v_si;
  end if;
  return app_private.setup_intent_json(v_si, v_r);
end;
$$;

--
-- Name: FUNCTION payment_setup_prepare(reservation_id bigint, manage_token text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text) IS 'Authorises the caller, makes (or finds) the Stripe customer and set-up rows of a held or payment-failed reservation with their idempotency keys, and returns what the Stripe calls need: a new set-up (new key) when the card on file was declined, or set up but refused by the card''s rules (SMP09, SMP10) and still refused.';

--
-- Name: payment_setup_record(bigint, text, jsonb); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.payment_setup_record(reservation_id bigint, manage_token text, intent jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION payment_setup_record(reservation_id bigint, manage_token text, intent jsonb); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.payment_setup_record(reservation_id bigint, manage_token text, intent jsonb) IS 'Authorises the caller and records the reservation''s SetupIntent as Stripe returned it (confirming the reservation once it succeeded).';

--
-- Name: plate(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.plate(plate text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
declare
  -- Plates are compared as officers read them: upper case, without spaces,
  -- dashes or dots.
  v_plate text := upper(regexp_replace(coalesce(plate, ''), '[\s.\-]', '', 'g'));
begin
  if v_plate !~ '^[A-Z0-9]{1,10}$' then
    raise exception 'A licence plate is 1 to 10 letters and digits' using errcode = 'SME01';
  end if;
  return v_plate;
end;
$_$;

--
-- Name: FUNCTION plate(plate text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.plate(plate text) IS 'A licence plate normalised (upper case, no spaces, dashes or dots), else error SME01.';

--
-- Name: plate_state(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.plate_state(state text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
begin
  if state is null then
    return null;
  end if;
  if upper(btrim(state)) !~ '^[A-Z]{2,3}$' then
    raise exception 'A plate''s state is a 2 or 3 letter code, e.g. NY' using errcode = 'SME01';
  end if;
  return upper(btrim(state));
end;
$_$;

--
-- Name: FUNCTION plate_state(state text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.plate_state(state text) IS 'A state or province code (2–3 letters) in upper case, null when not given, else error SME01.';

--
-- Name: quote_of(app_public.rates, app_public.rate_hours[], tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.quote_of(rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange) RETURNS app_public.price_quote
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_metered interval := app_hidden.metered_time(quote_of.hours, (quote_of.rate).time_zone, time_window);
  v_increment numeric := extract(epoch from (quote_of.rate).billing_increment);
  v_amount int;
begin
  -- rates_price_bounds keeps the largest amount (7 days at the highest hourly
  -- price) within an int and within what Stripe charges at most.
  v_amount := case
    when v_metered = interval '0' then 0
    else greatest(
      (quote_of.rate).minimum_charge,
      (select m.minimum_amount from app_hidden.payment_minimums m where m.currency = (quote_of.rate).currency),
      round(ceil(extract(epoch from v_metered) / v_increment) * v_increment * (quote_of.rate).hourly_price / 3600.0)::int)
  end;
  return (v_amount, (quote_of.rate).currency, v_metered)::app_public.price_quote;
end;
$$;

--
-- Name: FUNCTION quote_of(rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.quote_of(rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange) IS 'The price of a window under a rate''s terms, in its minor units: nothing when none of it is metered, else never below the rate''s minimum charge or the payment provider''s minimum for the currency.';

--
-- Name: quote_rate(integer, tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.quote_rate(rate_id integer, time_window tstzrange) RETURNS app_public.price_quote
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_rate app_public.rates;
begin
  select * into v_rate from app_public.rates r where r.id = quote_rate.rate_id;
  if not found then
    return null;
  end if;
  return app_hidden.quote_of(v_rate,
                             array(select h from app_public.rate_hours h where h.rate_id = v_rate.id),
                             time_window);
end;
$$;

--
-- Name: FUNCTION quote_rate(rate_id integer, time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.quote_rate(rate_id integer, time_window tstzrange) IS 'The price of a window at a rate as it is now (quote_of): what searches and new bookings are quoted.';

--
-- Name: quote_terms(jsonb, tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.quote_terms(terms jsonb, time_window tstzrange) RETURNS app_public.price_quote
    LANGUAGE plpgsql STABLE
    AS $$
begin
  return app_hidden.quote_of(
    jsonb_populate_record(null::app_public.rates, quote_terms.terms),
    array(select row(null, (h ->> 0)::int, (h ->> 1)::time, (h ->> 2)::time)::app_public.rate_hours
          from jsonb_array_elements(quote_terms.terms -> 'hours') h),
    time_window);
end;
$$;

--
-- Name: FUNCTION quote_terms(terms jsonb, time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.quote_terms(terms jsonb, time_window tstzrange) IS 'The price of a window under terms kept by rate_terms_of (quote_of).';

--
-- Name: raise_customer_email_taken(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.raise_customer_email_taken(email text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION raise_customer_email_taken(email text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.raise_customer_email_taken(email text) IS 'Raises SMC02 for an email another customer has, naming the customer when it is a deleted one (to restore).';

--
-- Name: rate_increment(integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.rate_increment(minutes integer) RETURNS interval
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if minutes is null or minutes not between 1 and 60 then
    raise exception 'A billing increment is 1 to 60 minutes' using errcode = 'SMO08';
  end if;
  return make_interval(mins => minutes);
end;
$$;

--
-- Name: FUNCTION rate_increment(minutes integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.rate_increment(minutes integer) IS 'A billing increment of 1 to 60 minutes, else error SMO08.';

--
-- Name: rate_terms(integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.rate_terms(rate_id integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select app_hidden.rate_terms_of(r, array(select h from app_public.rate_hours h where h.rate_id = r.id))
  from app_public.rates r
  where r.id = rate_terms.rate_id;
$$;

--
-- Name: FUNCTION rate_terms(rate_id integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.rate_terms(rate_id integer) IS 'The terms of a rate as it is now (rate_terms_of).';

--
-- Name: rate_terms_of(app_public.rates, app_public.rate_hours[]); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.rate_terms_of(rate app_public.rates, hours app_public.rate_hours[]) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  -- Only what prices a window, and the hours as [isodow, opens, closes]: a
  -- copy rides in every reservation row (and in what its triggers copy).
  select jsonb_build_object(
    'hourly_price', (rate_terms_of.rate).hourly_price,
    'billing_increment', (rate_terms_of.rate).billing_increment,
    'minimum_charge', (rate_terms_of.rate).minimum_charge,
    'currency', (rate_terms_of.rate).currency,
    'time_zone', (rate_terms_of.rate).time_zone,
    'hours', coalesce((select jsonb_agg(jsonb_build_array(h.isodow, h.opens, h.closes) order by h.isodow, h.opens)
                       from unnest(rate_terms_of.hours) h), '[]'));
$$;

--
-- Name: FUNCTION rate_terms_of(rate app_public.rates, hours app_public.rate_hours[]); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.rate_terms_of(rate app_public.rates, hours app_public.rate_hours[]) IS 'A rate''s terms as a reservation keeps them (the pricing columns and the metered hours): the reservation is priced by them for life (quote_terms), whatever becomes of the rate.';

--
-- Name: refund_prepare(bigint, integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.refund_prepare(reservation_id bigint, amount integer DEFAULT NULL::integer) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_c app_private.charges;
  v_refunded int;
  v_amount int;
  v_f app_private.refunds;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators may refund' using errcode = 'SMP05';
  end if;
  -- The answer every other reservation operation gives an unknown id.
  if not exists (select from app_public.reservations r
                 where r.id = refund_prepare.reservation_id and r.kind = 'reservation') then
    raise exception 'There is no reservation %', coalesce(refund_prepare.reservation_id::text, '(none given)')
      using errcode = 'SMB06';
  end if;
  if not app_hidden.current_user_may_manage((
      select s.borough from app_public.reservations r join app_public.spots s on s.id = r.spot_id
      where r.id = refund_prepare.reservation_id)) then
    raise exception 'Reservation % is on a spot outside your zones', refund_prepare.reservation_id using errcode = 'SMO02';
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
      raise exception 'A refund of % % minor units is already in progress for reservation %', v_f.amount, v_c.currency, refund_prepare.reservation_id
        using errcode = 'SMP07';
    end if;
  else
    select coalesce(sum(f.amount), 0) into v_refunded from app_private.refunds f
    where f.charge_id = v_c.id and f.status = 'succeeded';
    v_amount := coalesce(refund_prepare.amount, v_c.amount - v_refunded);
    if v_amount <= 0 or v_amount > v_c.amount - v_refunded then
      raise exception 'A refund must be more than 0 and at most what is still refundable: % % minor units', v_c.amount - v_refunded, v_c.currency
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

--
-- Name: FUNCTION refund_prepare(reservation_id bigint, amount integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.refund_prepare(reservation_id bigint, amount integer) IS 'Staff only (SMP05), on a spot in their zones (SMO02): makes the refund row (amount defaults to what remains refundable; SMB06 for no such reservation, SMP06 when nothing is refundable, SMP07 when another refund is in flight) and returns what refunds.create needs.';

--
-- Name: refund_record(bigint, text, text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_f app_private.refunds;
  v_c app_private.charges;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators may refund' using errcode = 'SMP05';
  end if;
  perform app_private.refund_apply(refund_record.refund_id, refund_record.stripe_refund_id, refund_record.status,
                                   refund_record.failure_message);
  select * into v_f from app_private.refunds f where f.id = refund_record.refund_id;
  select * into v_c from app_private.charges c where c.id = v_f.charge_id;
  return jsonb_build_object(
    'refundId', v_f.id, 'reservationId', v_c.reservation_id, 'amount', v_f.amount, 'currency', v_c.currency,
    'status', v_f.status, 'stripeRefundId', v_f.stripe_refund_id,
    'refundedTotal', (select coalesce(sum(f.amount), 0) from app_private.refunds f
                      where f.charge_id = v_c.id and f.status = 'succeeded'));
end;
$$;

--
-- Name: FUNCTION refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text) IS 'Staff only: records Stripe''s answer to the operator''s refund (app_private.refund_apply) and returns it with the reservation''s refunded total.';

--
-- Name: require_sign_in(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.require_sign_in() RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_id bigint := app_public.current_user_id();
begin
  if v_id is null then
    raise exception 'Sign in to see your reservations (guests: use the reservation number and manage code)'
      using errcode = 'SMB11';
  end if;
  return v_id;
end;
$$;

--
-- Name: FUNCTION require_sign_in(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.require_sign_in() IS 'The signed-in user''s id, or error SMB11.';

--
-- Name: reservation_email_data(app_public.reservations); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.reservation_email_data(r app_public.reservations) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
  return (select d from app_hidden.reservation_email_data_of(r) d);
end;
$$;

--
-- Name: FUNCTION reservation_email_data(r app_public.reservations); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.reservation_email_data(r app_public.reservations) IS 'What one reservation email''s template receives (reservation_email_data_of of one row).';

--
-- Name: reservation_email_data_of(app_public.reservations); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.reservation_email_data_of(r app_public.reservations) RETURNS SETOF jsonb
    LANGUAGE sql STABLE
    AS $$
  -- A set of one row, in sql, with no SET clause: called in FROM (lateral),
  -- PostgreSQL inlines it into the caller's query as a join. A function
  -- called once per row costs about five times as much, and every booking
  -- and every end of the end-of-day burst writes one email a reservation.
  select jsonb_strip_nulls(jsonb_build_object(
    'reservationId', r.id,
    'spotId', r.spot_id,
    'spot', app_public.spots_description(s),
    -- The number on the meter's sign (the city's), which tells one spot of a block from the next.
    'meterNumber', s.external_id,
    'startsAt', app_hidden.iso_time(lower(r.period)),
    'endsAt', app_hidden.iso_time(upper(r.period)),
    'timeZone', rt.time_zone,
    'amount', r.amount,
    'currency', r.currency,
    'status', r.status,
    'holdExpiresAt', app_hidden.iso_time(r.hold_expires_at),
    -- Guests' emails lead to the page that asks for the manage code (emails/reservation.ts
    -- makes the link); the token itself is never stored.
    'isGuest', r.user_id is null))
  from app_public.spots s
  join app_public.rates rt on rt.id = s.rate_id
  where s.id = r.spot_id;
$$;

--
-- Name: FUNCTION reservation_email_data_of(r app_public.reservations); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.reservation_email_data_of(r app_public.reservations) IS 'What every reservation email''s template receives (see README: email data keys), as a set of one row for use in FROM: statements that write many emails join it (inlined).';

--
-- Name: reservation_quote(app_public.reservations, tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange) RETURNS app_public.price_quote
    LANGUAGE sql STABLE
    AS $$
  -- Reservations made before rate_terms existed had theirs copied when it
  -- came (migration 000043); the spot's rate now is only a last resort.
  select app_hidden.quote_terms(
    coalesce(r.rate_terms,
             app_hidden.rate_terms((select s.rate_id from app_public.spots s where s.id = r.spot_id))),
    reservation_quote.time_window);
$$;

--
-- Name: FUNCTION reservation_quote(r app_public.reservations, time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange) IS 'The price of a new window for a reservation under the rate terms it was booked with (rate_terms): an end moved later or earlier is priced as the rate stood at booking.';

--
-- Name: search_radius_metres(double precision, app_public.distance_unit); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.search_radius_metres(radius double precision, unit app_public.distance_unit) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  -- 'NaN' sorts above every number in PostgreSQL, so it is refused by name.
  -- Compared in the radius's own unit: multiplying first overflows for huge radii (1e308).
  if radius is null then
    raise exception 'Give a radius: more than 0 and at most 50 km (31 mi)' using errcode = 'SMS02';
  end if;
  if radius = 'NaN' or radius <= 0 or radius > 50000 / app_hidden.unit_metres(coalesce(unit, 'km')) then
    raise exception 'The radius must be more than 0 and at most 50 km (31 mi)' using errcode = 'SMS02';
  end if;
  return radius * app_hidden.unit_metres(coalesce(unit, 'km'));
end;
$$;

--
-- Name: FUNCTION search_radius_metres(radius double precision, unit app_public.distance_unit); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.search_radius_metres(radius double precision, unit app_public.distance_unit) IS 'The radius in metres, or error SMS02 unless 0 < radius <= 50 km.';

--
-- Name: search_window(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.search_window(starts_at timestamp with time zone, ends_at timestamp with time zone) RETURNS tstzrange
    LANGUAGE sql STABLE
    AS $$
  select app_hidden.assert_window(
    coalesce(starts_at, now()),
    coalesce(ends_at, coalesce(starts_at, now()) + interval '1 hour'));
$$;

--
-- Name: FUNCTION search_window(starts_at timestamp with time zone, ends_at timestamp with time zone); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.search_window(starts_at timestamp with time zone, ends_at timestamp with time zone) IS 'The window a search asks about: from now unless a start is given, one hour long unless an end is given.';

--
-- Name: session_idle_timeout(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.session_idle_timeout() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '24 hours' $$;

--
-- Name: FUNCTION session_idle_timeout(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.session_idle_timeout() IS 'A session unused this long is over.';

--
-- Name: session_max_age(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.session_max_age() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '30 days' $$;

--
-- Name: FUNCTION session_max_age(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.session_max_age() IS 'No session lives longer than this, however busy.';

--
-- Name: session_touch_interval(); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.session_touch_interval() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '1 minute' $$;

--
-- Name: FUNCTION session_touch_interval(); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.session_touch_interval() IS 'last_active_at is written at most this often, so busy sessions do not write on every request.';

--
-- Name: sign_up_gate(text, text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.sign_up_gate(email text, name text, password text) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.sign_up_gate(sign_up_gate.email, sign_up_gate.name, sign_up_gate.password, app_hidden.client_ip());
$$;

--
-- Name: FUNCTION sign_up_gate(email text, name text, password text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.sign_up_gate(email text, name text, password text) IS 'app_private.sign_up_gate for the GraphQL register mutation (server/plugins/sign_up_gate.ts), which runs it in a transaction of its own before register: 0, or the seconds to wait.';

--
-- Name: spot_max_stay(integer); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.spot_max_stay(minutes integer) RETURNS interval
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if minutes is null or minutes < 1 or make_interval(mins => minutes) > app_hidden.max_stay() then
    raise exception 'A maximum stay is 1 minute to % days', extract(day from app_hidden.max_stay())
      using errcode = 'SMO05';
  end if;
  return make_interval(mins => minutes);
end;
$$;

--
-- Name: FUNCTION spot_max_stay(minutes integer); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.spot_max_stay(minutes integer) IS 'A maximum stay of 1 minute to app_hidden.max_stay() (7 days), else error SMO05.';

--
-- Name: spot_street(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.spot_street(street text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  -- Blank, a spot has no name on the map or in the list (updateSpot took '   ').
  if length(btrim(street)) between 1 and 200 then
    return btrim(street);
  end if;
  raise exception 'A spot needs its street, 1 to 200 characters' using errcode = 'SMO11';
end;
$$;

--
-- Name: FUNCTION spot_street(street text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.spot_street(street text) IS 'A spot''s street, trimmed, or error SMO11 when missing, blank or over 200 characters.';

--
-- Name: spot_time_zone(bigint); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.spot_time_zone(spot_id bigint) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select rt.time_zone from app_public.spots s join app_public.rates rt on rt.id = s.rate_id where s.id = spot_time_zone.spot_id;
$$;

--
-- Name: FUNCTION spot_time_zone(spot_id bigint); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.spot_time_zone(spot_id bigint) IS 'A spot''s time zone: its rate''s, the one its street signs read.';

--
-- Name: takes_card(app_public.reservation_status); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.takes_card(status app_public.reservation_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  select status in ('held', 'payment_failed');
$$;

--
-- Name: FUNCTION takes_card(status app_public.reservation_status); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.takes_card(status app_public.reservation_status) IS 'Whether a reservation in this status takes a card: held (to confirm it) or payment_failed (to pay it).';

--
-- Name: unit_metres(app_public.distance_unit); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.unit_metres(unit app_public.distance_unit) RETURNS double precision
    LANGUAGE sql IMMUTABLE
    AS $$
  select case unit when 'mi' then 1609.344 else 1000.0 end;
$$;

--
-- Name: FUNCTION unit_metres(unit app_public.distance_unit); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.unit_metres(unit app_public.distance_unit) IS 'Metres in one unit.';

--
-- Name: user_token_valid_for(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.user_token_valid_for(kind text) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
  select case user_token_valid_for.kind
    when 'verify_email' then interval '3 days'
    when 'password_reset' then interval '1 hour'
    when 'invite' then interval '7 days'
  end;
$$;

--
-- Name: FUNCTION user_token_valid_for(kind text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.user_token_valid_for(kind text) IS 'How long a one-time emailed link of a kind works: email verification 3 days, password reset 1 hour, staff invitation 7 days.';

--
-- Name: vehicle(text, text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.vehicle(given_plate text, given_state text, OUT plate text, OUT plate_state text) RETURNS record
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  -- The vehicle is optional, but a state alone names none: refused rather
  -- than silently dropped.
  if given_plate is null then
    if nullif(btrim(given_state), '') is not null then
      raise exception 'Give the plate with its state' using errcode = 'SME01';
    end if;
    return;
  end if;
  plate := app_hidden.plate(given_plate);
  plate_state := app_hidden.plate_state(given_state);
end;
$$;

--
-- Name: FUNCTION vehicle(given_plate text, given_state text, OUT plate text, OUT plate_state text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.vehicle(given_plate text, given_state text, OUT plate text, OUT plate_state text) IS 'The plate and state a booking names, normalised (both null when no plate is given), else error SME01 (a malformed plate or state, or a state without a plate).';

--
-- Name: verify_email_check_hit(text); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.verify_email_check_hit(token text) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce((select app_private.rate_limit_hit('password_check', t.user_id::text)
                   from app_private.user_tokens t
                   where t.token_hash = app_private.token_hash(verify_email_check_hit.token) and t.kind = 'verify_email'), 0);
$$;

--
-- Name: FUNCTION verify_email_check_hit(token text); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.verify_email_check_hit(token text) IS 'Counts one password given to verifyEmail against the account the token is for (the changePassword bucket: 10 in 15 minutes), in a transaction of its own before the attempt; 0 when allowed (or no such token), else the seconds to wait (SMA02).';

--
-- Name: window_length(tstzrange); Type: FUNCTION; Schema: app_hidden; Owner: -
--

CREATE FUNCTION app_hidden.window_length(time_window tstzrange) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
  select upper(time_window) - lower(time_window);
$$;

--
-- Name: FUNCTION window_length(time_window tstzrange); Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON FUNCTION app_hidden.window_length(time_window tstzrange) IS 'Elapsed time from the start to the end of a window.';

--
-- Name: assert_hold_allowed(public.citext, bigint, inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.assert_hold_allowed(email public.citext, verified_booker_id bigint, client_ip inet) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_per_address int := app_hidden.holds_per_address();
  v_per_hour    int := app_hidden.guest_bookings_per_email_hour();
  v_held        int;
begin
  -- One script must not hold every spot in the city (a hold costs nothing for
  -- booking_hold_time) nor mail-bomb an address. Counted under a lock per email and
  -- per address, always in that order, so concurrent bookings cannot each
  -- see room for one more.
  perform pg_advisory_xact_lock(hashtextextended('holds:email:' || lower(email::text), 0));
  perform pg_advisory_xact_lock(hashtextextended('holds:ip:' || host(client_ip), 0));
  -- Each count starts from the driver's or the email's own rows and stops at
  -- the limit; one query per case, since plpgsql's generic plan of a query
  -- covering both read every held reservation in the city at every booking.
  -- (`offset 0` keeps the deadline out of the index choice: the driver's and
  -- the email's indexes are read, never the index of every hold by deadline.)
  if assert_hold_allowed.verified_booker_id is not null then
    -- A verified driver's own holds only: holds a stranger made as a guest
    -- with the driver's address (claimed into the account at sign-in or not)
    -- must not lock the driver out. An unverified account is counted by its
    -- email, as a guest is: nobody has proved the address is theirs.
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.verified_booker_id = assert_hold_allowed.verified_booker_id offset 0) h
      where h.hold_expires_at > now()) held;
  else
    select count(*) into v_held from (
      select from (select r.hold_expires_at from app_public.reservations r
                   where r.status = 'held' and r.email = assert_hold_allowed.email offset 0) h
      where h.hold_expires_at > now()) held;
    -- Holds come and go (cancelled at once, each with two emails): guests are
    -- also bounded by how many reservations their email was given this hour.
    if (select count(*) from (
          select from app_public.reservations r
          where r.user_id is null and r.email = assert_hold_allowed.email and r.created_at > now() - interval '1 hour'
          limit v_per_hour) made) >= v_per_hour then
      raise exception 'Too many guest reservations for this email in the last hour (at most %): try again later, or sign in to a verified account',
        v_per_hour using errcode = 'SMB12';
    end if;
  end if;
  if v_held >= app_hidden.holds_per_driver()
     or (select count(*) from (
          select from app_private.reservation_origins o
          where o.client_ip = assert_hold_allowed.client_ip
            -- A scalar subquery, never turned into a join: one key look-up per row of this address.
            and (select r.status = 'held' and r.hold_expires_at > now()
                 from app_public.reservations r where r.id = o.reservation_id) is true
          limit v_per_address) held) >= v_per_address then
    raise exception 'Too many reservations waiting for a card: finish or cancel one first (at most % per email or account, and a limit per network address)',
      app_hidden.holds_per_driver() using errcode = 'SMB12';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_hold_allowed(email public.citext, verified_booker_id bigint, client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.assert_hold_allowed(email public.citext, verified_booker_id bigint, client_ip inet) IS 'Error SMB12 when one more hold would give a verified driver (the holds they booked themselves; pass null for a guest or an unverified account, counted by email) or an email more than holds_per_driver (3) active holds (held, not yet expired), a client address more than holds_per_address (the server''s HOLDS_PER_ADDRESS, 10 by default), or a guest email more than guest_bookings_per_email_hour (10) reservations in the last hour.';

--
-- Name: assert_may_extend(app_public.reservations, app_public.spots); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.assert_may_extend(r app_public.reservations, spot app_public.spots) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_unpaid bigint;
begin
  -- Reservations made before a spot went out of service are honoured as
  -- made; more time on it would be a new use.
  if spot.status <> 'active' then
    raise exception 'This spot is out of service: the reservation can be shortened, not extended' using errcode = 'SMB02';
  end if;
  -- More time is more credit: not while the verified driver who booked it, or
  -- the card behind it, has a charge that failed and is still unpaid (the
  -- debts reserve, SMB13, and the card set-up, SMP10, look for). A declined
  -- card would otherwise stretch every reservation it backed before the
  -- decline, and fail again at each end.
  select min(u.id) into v_unpaid from app_public.reservations u
  where u.status = 'payment_failed' and u.id <> r.id
    and r.verified_booker_id is not null and u.verified_booker_id = r.verified_booker_id;
  if v_unpaid is not null then
    raise exception 'Reservation #% is unpaid (its charge failed): pay it with another card before extending this one', v_unpaid
      using errcode = 'SMB13';
  end if;
  -- The card's debt may be someone else's reservation: no number.
  if exists (select from app_private.setup_intents si
             join app_private.declined_cards d on d.card_fingerprint = si.card_fingerprint
             join app_public.reservations u on u.id = d.reservation_id
             where si.reservation_id = r.id and u.id <> r.id and u.status = 'payment_failed') then
    raise exception 'The card on this reservation has an unpaid charge: pay it with another card, or give this reservation another card, before extending it'
      using errcode = 'SMB13';
  end if;
end;
$$;

--
-- Name: FUNCTION assert_may_extend(r app_public.reservations, spot app_public.spots); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.assert_may_extend(r app_public.reservations, spot app_public.spots) IS 'Error SMB02 when the spot is out of service, SMB13 when the verified driver who booked r, or the card behind r, has an unpaid failed charge: what refuses a later end (changeReservationEnd and its quote).';

--
-- Name: assert_new_end(app_public.reservations, app_public.spots, tstzrange); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.assert_new_end(r app_public.reservations, spot app_public.spots, time_window tstzrange) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Not started yet, it is still a booking: the floor reserve has. (Started,
  -- any end still to come will do: it is ending it a little later.)
  if lower(r.period) > now() then
    perform app_hidden.assert_min_stay(time_window);
  end if;
  perform app_hidden.assert_max_stay(spot, time_window);
  if upper(time_window) > upper(r.period) then
    perform app_private.assert_may_extend(r, spot);
    perform app_hidden.assert_max_stay_joined(spot, time_window, r.user_id, r.email, r.id, r.plate);
  end if;
end;
$$;

--
-- Name: FUNCTION assert_new_end(r app_public.reservations, spot app_public.spots, time_window tstzrange); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.assert_new_end(r app_public.reservations, spot app_public.spots, time_window tstzrange) IS 'What refuses moving r''s end to the end of time_window, besides the spot being taken (the exclusion constraint): the least stay before the start (SMB03), the spot''s maximum stay alone (SMB04) and, for a later end, app_private.assert_may_extend (SMB02, SMB13) and the maximum stay joined with the driver''s or plate''s other stays (SMB04). changeReservationEnd and its quote.';

--
-- Name: audit_write(text, text, text, jsonb, jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.audit_write(table_name text, record_id text, action text, old_values jsonb, new_values jsonb) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  insert into app_public.audit_log (actor_user_id, actor_role, table_name, record_id, action, old_values, new_values)
  values (app_public.current_user_id(), app_hidden.current_actor_role(),
          audit_write.table_name, audit_write.record_id, audit_write.action, audit_write.old_values, audit_write.new_values);
$$;

--
-- Name: FUNCTION audit_write(table_name text, record_id text, action text, old_values jsonb, new_values jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.audit_write(table_name text, record_id text, action text, old_values jsonb, new_values jsonb) IS 'Appends one audit row for the current actor.';

--
-- Name: card_at_limit(text, bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.card_at_limit(card_fingerprint text, reservation_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION card_at_limit(card_fingerprint text, reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.card_at_limit(card_fingerprint text, reservation_id bigint) IS 'Whether the card already backs card_upcoming_max confirmed reservations still to come (other than this one): then this one is not confirmed.';

--
-- Name: setup_intents; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.setup_intents (
    reservation_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    generation integer DEFAULT 1 NOT NULL,
    idempotency_key text NOT NULL,
    stripe_setup_intent_id text,
    client_secret text,
    status text DEFAULT 'new'::text NOT NULL,
    payment_method text,
    succeeded_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    card_fingerprint text,
    retry_customer text,
    retry_payment_method text,
    CONSTRAINT setup_intents_generation_check CHECK ((generation >= 1)),
    CONSTRAINT setup_intents_status_check CHECK ((status = ANY (ARRAY['new'::text, 'requires_payment_method'::text, 'requires_confirmation'::text, 'requires_action'::text, 'processing'::text, 'canceled'::text, 'succeeded'::text])))
);

--
-- Name: TABLE setup_intents; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.setup_intents IS 'Card set-up (Stripe SetupIntent, usage off_session) of one reservation.';

--
-- Name: COLUMN setup_intents.card_fingerprint; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.setup_intents.card_fingerprint IS 'Stripe''s fingerprint of the card set up (card.fingerprint of its PaymentMethod): the same card has the same one.';

--
-- Name: COLUMN setup_intents.retry_customer; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.setup_intents.retry_customer IS 'While a new set-up after a decline is unfinished: the Stripe customer of the declined card the retries keep charging.';

--
-- Name: COLUMN setup_intents.retry_payment_method; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.setup_intents.retry_payment_method IS 'While a new set-up after a decline is unfinished: the declined card the retries keep charging.';

--
-- Name: card_rules_again(app_public.reservations, app_private.setup_intents); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.card_rules_again(r app_public.reservations, si app_private.setup_intents) RETURNS app_public.reservations
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Set up at Stripe but left held by the card's rules (SMP09, SMP10): they
  -- may pass now (its debt paid, or one of its reservations over). Nested,
  -- not one condition: with no set-up si.status is NULL, and AND would go on
  -- to call the function that confirms.
  if r.status = 'held' and si.status is not distinct from 'succeeded' then
    if app_private.confirm_if_card_allows(r.id, si.card_fingerprint) then
      select * into r from app_public.reservations x where x.id = r.id;
    end if;
  end if;
  return r;
end;
$$;

--
-- Name: FUNCTION card_rules_again(r app_public.reservations, si app_private.setup_intents); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.card_rules_again(r app_public.reservations, si app_private.setup_intents) IS 'The reservation as it is once its card''s rules are applied again: a held one whose set-up succeeded but was refused by them (card_unpaid, card_at_limit) is confirmed if they pass now; any other comes back as given.';

--
-- Name: card_unpaid(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.card_unpaid(card_fingerprint text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION card_unpaid(card_fingerprint text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.card_unpaid(card_fingerprint text) IS 'Whether a charge on this card (its fingerprint) was declined for a reservation still unpaid (app_private.declined_cards): then it confirms no other reservation (SMP10).';

--
-- Name: charge_failed(bigint, integer, text, text, text, boolean); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_failed(charge_id bigint, attempt integer, failure_code text, failure_message text, payment_intent_id text, retryable boolean DEFAULT true) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_c app_private.charges;
  -- A request the provider refuses as such (amount below its minimum, a card
  -- or customer gone) fails the same way every time: no automatic retry, only
  -- the driver's new card (or an operator) can settle it.
  v_retry timestamptz := case when charge_failed.retryable
    then now() + app_private.charge_retry_delay(charge_failed.attempt) end;
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
  -- The card stays barred from confirming others until this one is paid
  -- (card_unpaid), whatever set-up is asked for afterwards.
  insert into app_private.declined_cards (reservation_id, card_fingerprint)
  select si.reservation_id, si.card_fingerprint from app_private.setup_intents si
  where si.reservation_id = v_c.reservation_id and si.status = 'succeeded' and si.card_fingerprint is not null
  on conflict do nothing;
  perform app_private.email_enqueue('payment_failed', r.email,
    app_private.payment_email_data(r.id)
      || jsonb_build_object('amount', v_c.amount, 'currency', v_c.currency,
                            'failureCode', v_c.failure_code, 'attempt', v_c.attempt, 'nextRetryAt', v_retry,
                            'providerRefused', not charge_failed.retryable),
    'payment_failed:' || r.id || ':' || v_c.attempt)
  from app_public.reservations r where r.id = v_c.reservation_id;
  if v_retry is not null then
    -- Priority 5: when it falls due in a burst, new charges go first.
    perform app_private.queue_reservation_jobs('reservation__charge', array[v_c.reservation_id],
      run_at => v_retry, priority => 5);
  end if;
  return v_retry;
end;
$$;

--
-- Name: FUNCTION charge_failed(charge_id bigint, attempt integer, failure_code text, failure_message text, payment_intent_id text, retryable boolean); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_failed(charge_id bigint, attempt integer, failure_code text, failure_message text, payment_intent_id text, retryable boolean) IS 'Records a failed attempt: the reservation becomes payment_failed, its card is recorded as declined (app_private.declined_cards), the driver is emailed a link to pay, and for a decline (retryable) the next retry is scheduled (see charge_retry_delay); a request the provider refused as such (not retryable) is not retried.';

--
-- Name: charge_prepare(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_prepare(reservation_id bigint) RETURNS jsonb
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select p from app_private.charges_prepare(array[charge_prepare.reservation_id]) p;
$$;

--
-- Name: FUNCTION charge_prepare(reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_prepare(reservation_id bigint) IS 'charges_prepare of one reservation: its charge row and idempotency key committed before Stripe is called, and what to do.';

--
-- Name: charge_processing(bigint, integer, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_processing(charge_id bigint, attempt integer, payment_intent_id text) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  update app_private.charges c
  set status = 'processing', stripe_payment_intent_id = charge_processing.payment_intent_id
  where c.id = charge_processing.charge_id and c.attempt = charge_processing.attempt and c.status = 'pending';
$$;

--
-- Name: FUNCTION charge_processing(charge_id bigint, attempt integer, payment_intent_id text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_processing(charge_id bigint, attempt integer, payment_intent_id text) IS 'Stripe accepted the charge but has not settled it; the payment_intent.* webhook finishes it.';

--
-- Name: charge_requeue(bigint, timestamp with time zone, integer, integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_requeue(reservation_id bigint, run_at timestamp with time zone, max_attempts integer, priority integer) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- The running job's key moves to this new job (graphile-worker gives a
  -- locked job's key to the new one), so the running one just ends.
  select app_private.queue_reservation_jobs('reservation__charge', array[charge_requeue.reservation_id],
    run_at => charge_requeue.run_at, priority => charge_requeue.priority,
    max_attempts => charge_requeue.max_attempts);
$$;

--
-- Name: FUNCTION charge_requeue(reservation_id bigint, run_at timestamp with time zone, max_attempts integer, priority integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_requeue(reservation_id bigint, run_at timestamp with time zone, max_attempts integer, priority integer) IS 'Runs a charge job again at run_at without counting the attempt that is ending (Stripe answered 429: nothing was charged); max_attempts is what the job had left, priority what it had.';

--
-- Name: charge_retry_delay(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_retry_delay(attempt integer) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
  -- After a decline or authentication_required: retry 1 day, then 3 days,
  -- then 7 days after each failed attempt; after the 4th attempt stop and
  -- leave it to the driver's pay link (or an operator).
  select case charge_retry_delay.attempt
    when 1 then interval '1 day'
    when 2 then interval '3 days'
    when 3 then interval '7 days'
  end;
$$;

--
-- Name: FUNCTION charge_retry_delay(attempt integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_retry_delay(attempt integer) IS 'How long after failed attempt N the charge is retried (1 d, 3 d, 7 d); null = no more automatic retries.';

--
-- Name: charge_retry_now(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_retry_now(reservation_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  update app_private.charges c set next_retry_at = now()
  where c.reservation_id = charge_retry_now.reservation_id and c.status = 'failed'
    and exists (select from app_public.reservations r
                where r.id = charge_retry_now.reservation_id and r.status = 'payment_failed');
  if found then
    perform app_private.queue_reservation_jobs('reservation__charge', array[charge_retry_now.reservation_id]);
  end if;
  return found;
end;
$$;

--
-- Name: FUNCTION charge_retry_now(reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_retry_now(reservation_id bigint) IS 'A failed charge whose reservation got a new card: its next attempt is due now and queued; false when there is no failed charge to retry.';

--
-- Name: charge_succeeded(bigint, integer, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charge_succeeded(charge_id bigint, attempt integer, payment_intent_id text) RETURNS boolean
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.charges_succeeded(jsonb_build_array(jsonb_build_object(
    'chargeId', charge_succeeded.charge_id, 'attempt', charge_succeeded.attempt,
    'paymentIntentId', charge_succeeded.payment_intent_id))) = 1;
$$;

--
-- Name: FUNCTION charge_succeeded(charge_id bigint, attempt integer, payment_intent_id text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charge_succeeded(charge_id bigint, attempt integer, payment_intent_id text) IS 'Records a successful charge attempt and queues the receipt email (once per reservation); false when it was already recorded (charges_succeeded of one).';

--
-- Name: charges_behind(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charges_behind() RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- A charge job due over a second ago and still there (done jobs are
  -- deleted): one waiting for a worker, or taken but not finished. Taken
  -- counts too: a worker's local queue takes jobs long before it runs them.
  -- Out of a burst a batch is done within the second; a job waiting for its
  -- retry has a run_at in the future, a job out of attempts is not counted.
  -- Not while Stripe's rate limit paces the charges (the shared budget owes
  -- turns, or has sent callers away): then waiting emails would not make a
  -- charge any sooner, and they use the time the charges spend waiting.
  return exists (
      select from graphile_worker._private_jobs j
      where j.task_id = (select t.id from graphile_worker._private_tasks t where t.identifier = 'reservation__charge')
        and j.run_at < now() - interval '1 second' and j.attempts < j.max_attempts)
    and not exists (
      select from app_private.rate_budgets b
      where b.name = 'stripe'
        and (b.refused_until > now() or app_private.rate_budget_tokens_at(b, now()) < 0));
end;
$$;

--
-- Name: FUNCTION charges_behind(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charges_behind() IS 'True while charges are behind for want of workers (a charge job due over a second ago is not done yet, and Stripe''s rate limit is not what paces them): the end-of-day burst. emails_queue_due holds the burst''s own emails back meanwhile.';

--
-- Name: charges_prepare(bigint[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charges_prepare(reservation_ids bigint[]) RETURNS SETOF jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
declare
  v_ids      bigint[] := charges_prepare.reservation_ids;
  v_free     bigint[];
  v_prepared jsonb[];
begin
  -- Each reservation, then its charge, locked in id order (every writer takes
  -- a reservation's lock before its charge's).
  perform from app_public.reservations r where r.id = any(v_ids) order by r.id for update;
  perform from app_private.charges c where c.reservation_id = any(v_ids) order by c.reservation_id for update;

  -- A failed attempt whose retry is due: a new attempt is a new request, with
  -- a new key (the old key would only replay the decline).
  -- (key_first_sent_at: the key's first use, kept across re-sends, what
  -- lookUpFirst reads next time; set now for a key about to be sent, that is
  -- when there is a card to charge.)
  update app_private.charges c
  set attempt = c.attempt + 1,
      idempotency_key = app_private.payment_key_of(r, 'charge-' || (c.attempt + 1)),
      key_first_sent_at = case when card.chargeable then now() end,
      status = 'pending', next_retry_at = null, stripe_payment_intent_id = null
  from app_public.reservations r
  left join lateral app_private.reservation_card_of(r.id) card on true
  where c.reservation_id = any(v_ids) and r.id = c.reservation_id
    and c.status = 'failed' and r.status = 'payment_failed' and c.next_retry_at <= now();

  -- The first attempt of a completed reservation. ('pending' already: an
  -- earlier run died or lost its answer; the same key again.)
  insert into app_private.charges (reservation_id, amount, currency, idempotency_key, key_first_sent_at)
  select r.id, r.amount, r.currency, app_private.payment_key_of(r, 'charge-1'),
         case when card.chargeable then now() end
  from app_public.reservations r
  left join lateral app_private.reservation_card_of(r.id) card on true
  where r.id = any(v_ids) and r.status = 'completed'
    and not exists (select from app_private.charges c where c.reservation_id = r.id)
  order by r.id;

  -- Nothing to charge (all of it free time): no Stripe call, still a receipt.
  with free as (
    update app_private.charges c set status = 'not_required', succeeded_at = now()
    where c.reservation_id = any(v_ids) and c.status = 'pending' and c.amount = 0
    returning c.reservation_id
  )
  select array_agg(f.reservation_id) into v_free from free f;
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select 'receipt', r.email, coalesce(ed.data, '{}') || jsonb_build_object('amount', 0),
         'receipt:' || r.id
  from app_public.reservations r
  left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
  where r.id = any(v_free)
  order by r.id
  on conflict on constraint emails_dedupe_key_key do nothing;

  select array_agg(case
      when r.id is null then jsonb_build_object('action', 'skip', 'reason', 'no such reservation')
      when c.id is null then jsonb_build_object('action', 'skip', 'reason', 'reservation is ' || r.status)
      when r.id = any(v_free) then jsonb_build_object('action', 'skip', 'reason', 'nothing to charge')
      when c.status in ('succeeded', 'not_required', 'processing') then
        jsonb_build_object('action', 'skip', 'reason', 'charge ' || c.status)
      when c.status = 'failed' and (r.status <> 'payment_failed' or c.next_retry_at is null) then
        jsonb_build_object('action', 'skip', 'reason', 'no retry scheduled')
      when c.status = 'failed' then
        jsonb_build_object('action', 'skip', 'reason', 'retry not due until ' || c.next_retry_at)
      else jsonb_build_object(
        'action', case when card.chargeable then 'charge' else 'no_card' end,
        'chargeId', c.id,
        'reservationId', r.id,
        'attempt', c.attempt,
        'amount', c.amount,
        'currency', lower(c.currency),
        'idempotencyKey', c.idempotency_key,
        'customer', card.customer,
        'paymentMethod', card.payment_method,
        -- Stripe forgets a key 24 hours after it first saw it: an hour's
        -- margin, and the worker looks the PaymentIntent up (and adopts it)
        -- instead of trusting the key.
        'lookUpFirst', coalesce(card.chargeable and now() - c.key_first_sent_at >= interval '23 hours', false))
    end order by u.n)
  into v_prepared
  from unnest(v_ids) with ordinality u(id, n)
  left join app_public.reservations r on r.id = u.id
  left join app_private.charges c on c.reservation_id = r.id
  left join lateral app_private.reservation_card_of(r.id) card on true;

  return query select p.prepared from unnest(v_prepared) with ordinality p(prepared, n) order by p.n;
end;
$$;

--
-- Name: FUNCTION charges_prepare(reservation_ids bigint[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charges_prepare(reservation_ids bigint[]) IS 'For each reservation, in order: makes (or finds) the charge row of a completed reservation and commits its idempotency key (and when it was first sent) before Stripe is called; says whether to charge, with what, and whether the key is old enough that Stripe may have forgotten it (lookUpFirst). Set-based: one statement a step for the whole batch.';

--
-- Name: charges_requeue_exhausted(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charges_requeue_exhausted(max_rows integer DEFAULT 500) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_jobs bigint[];
begin
  -- A charge job fails (and is retried with graphile-worker's back-off) only
  -- while Stripe cannot be reached or answers 5xx; declines are recorded, not
  -- thrown. After max_attempts (about 3.6 hours) graphile-worker stops, and
  -- nothing else would charge those stays: an outage of an afternoon would
  -- leave them unpaid for good. They start again from attempt 0. Looked for at
  -- most every 10 minutes: graphile-worker's jobs have no index for this.
  if app_private.rate_limit_hit('charges_requeue', 'sweep') > 0 then
    return 0;
  end if;
  v_jobs := array(select j.id from graphile_worker.jobs j
                  where j.task_identifier = 'reservation__charge' and j.attempts >= j.max_attempts
                    and j.locked_at is null
                  order by j.id limit charges_requeue_exhausted.max_rows);
  if cardinality(v_jobs) > 0 then
    perform graphile_worker.reschedule_jobs(v_jobs, run_at => now(), attempts => 0);
  end if;
  return cardinality(v_jobs);
end;
$$;

--
-- Name: FUNCTION charges_requeue_exhausted(max_rows integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charges_requeue_exhausted(max_rows integer) IS 'Every 10 minutes at most (the due-work sweep calls it every second): charge jobs that used up their attempts (Stripe unreachable for hours) run again from attempt 0; the charge keeps its idempotency key, so none is made twice. Returns how many jobs.';

--
-- Name: charges_succeeded(jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.charges_succeeded(outcomes jsonb) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
declare
  v_done     app_private.charges[];
  v_ids      bigint[];
  v_attempts int[];
  v_intents  text[];
begin
  select array_agg((x->>'chargeId')::bigint order by n), array_agg((x->>'attempt')::int order by n),
         array_agg(x->>'paymentIntentId' order by n)
  into v_ids, v_attempts, v_intents
  from jsonb_array_elements(charges_succeeded.outcomes) with ordinality x(x, n);
  with o as (
    select * from unnest(v_ids, v_attempts, v_intents) o(charge_id, attempt, payment_intent_id)
  ), done as (
    update app_private.charges c
    set status = 'succeeded', stripe_payment_intent_id = o.payment_intent_id,
        succeeded_at = now(), failure_code = null, failure_message = null, next_retry_at = null
    from o
    where c.id = o.charge_id and c.attempt = o.attempt and c.status in ('pending', 'processing')
    returning c.*
  )
  select array_agg(d order by d.reservation_id) into v_done from done d;
  if v_done is null then
    return 0;
  end if;
  -- Paid after a failure: the reservation is complete again (before its receipt reads its status).
  update app_public.reservations r set status = 'completed'
  from unnest(v_done) d
  where r.id = d.reservation_id and r.status = 'payment_failed';
  -- The receipts, once per reservation (as email_enqueue: a dedupe key used before is no new email).
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select 'receipt', r.email,
         coalesce(ed.data, '{}')
           || jsonb_build_object('amount', d.amount, 'currency', d.currency, 'paymentIntent', d.stripe_payment_intent_id),
         'receipt:' || r.id
  from unnest(v_done) d
  join app_public.reservations r on r.id = d.reservation_id
  left join lateral app_hidden.reservation_email_data_of(r) ed(data) on true
  order by d.reservation_id
  on conflict on constraint emails_dedupe_key_key do nothing;
  return cardinality(v_done);
end;
$$;

--
-- Name: FUNCTION charges_succeeded(outcomes jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.charges_succeeded(outcomes jsonb) IS 'Records the successful charge attempts [{chargeId, attempt, paymentIntentId}] set-based and queues their receipt emails (once per reservation); returns how many were recorded (not already recorded).';

--
-- Name: claim_guest_reservations(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.claim_guest_reservations(user_id bigint) RETURNS integer
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  with claimed as (
    -- Anyone may book as a guest with any email: an unpaid one made that way is
    -- not put on the account (it would bar the owner from booking, SMB13).
    update app_public.reservations r set user_id = u.id
    from app_public.users u
    where u.id = claim_guest_reservations.user_id and u.is_verified
      and r.user_id is null and r.email = u.email and r.status <> 'payment_failed'
    returning r.id
  ), revoked as (
    -- Now the account's: whoever booked it keeps no say over it through its manage token.
    delete from app_private.reservation_secrets s using claimed c where s.reservation_id = c.id
  )
  select count(*)::int from claimed;
$$;

--
-- Name: FUNCTION claim_guest_reservations(user_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.claim_guest_reservations(user_id bigint) IS 'Gives a verified user the guest reservations made with their email (but not an unpaid one), and voids their manage tokens; returns how many.';

--
-- Name: complete_reservation(bigint, timestamp with time zone); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.complete_reservation(reservation_id bigint, ended_at timestamp with time zone) RETURNS app_public.reservations
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r     app_public.reservations;
  v_end   timestamptz;
  v_quote app_public.price_quote;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = complete_reservation.reservation_id for update;
  -- Never an empty period: one microsecond is the least a started reservation lasts.
  v_end := greatest(least(complete_reservation.ended_at, upper(v_r.period)),
                    lower(v_r.period) + interval '1 microsecond');
  if v_end = upper(v_r.period) then
    v_quote := row(v_r.amount, v_r.currency, null)::app_public.price_quote;  -- ran its course: as quoted
  else
    v_quote := app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
  end if;
  update app_public.reservations r
  set status = 'completed', period = tstzrange(lower(v_r.period), v_end, '[)'),
      amount = v_quote.amount, currency = v_quote.currency, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  -- The final charge: implemented by the payments code (task reservation__charge).
  perform app_private.queue_reservation_jobs('reservation__charge', array[v_r.id]);
  return v_r;
end;
$$;

--
-- Name: FUNCTION complete_reservation(reservation_id bigint, ended_at timestamp with time zone); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.complete_reservation(reservation_id bigint, ended_at timestamp with time zone) IS 'Marks a reservation completed at ended_at (at most its end), fixes the final amount (the time used, minimum charge included, when it ends early) and queues its charge.';

--
-- Name: confirm_held_reservation(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.confirm_held_reservation(reservation_id bigint) RETURNS app_public.reservations
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r app_public.reservations;
begin
  select r.* into v_r from app_public.reservations r
  where r.id = confirm_held_reservation.reservation_id and r.kind = 'reservation'
  for update;
  if not found then
    raise exception 'There is no reservation %', coalesce(confirm_held_reservation.reservation_id::text, '(none given)') using errcode = 'SMB06';
  end if;
  if v_r.status = 'confirmed' then
    return v_r;  -- a replayed webhook or a second confirm: nothing to do
  end if;
  if v_r.status <> 'held' then
    raise exception 'This reservation is % and can no longer be confirmed', v_r.status using errcode = 'SMB07';
  end if;
  -- The confirmed row is a new entry in the exclusion index: without the spot
  -- lock, this update and a concurrent reserve() of an overlapping window
  -- could each wait for the other (a deadlock, seen in the randomized test).
  perform app_hidden.lock_spot(v_r.spot_id);
  update app_public.reservations r
  set status = 'confirmed', hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return v_r;
end;
$$;

--
-- Name: FUNCTION confirm_held_reservation(reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.confirm_held_reservation(reservation_id bigint) IS 'held -> confirmed (the payments code calls it once the card is set up). Idempotent; SMB07 when the hold already expired or the reservation was cancelled.';

--
-- Name: confirm_if_card_allows(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.confirm_if_card_allows(reservation_id bigint, card_fingerprint text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION confirm_if_card_allows(reservation_id bigint, card_fingerprint text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.confirm_if_card_allows(reservation_id bigint, card_fingerprint text) IS 'Confirms a held reservation whose card set-up succeeded, unless the card has an unpaid failed charge (card_unpaid) or is at its limit (card_at_limit); true when it confirmed it.';

--
-- Name: due_work_schedule(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.due_work_schedule(every_ms integer) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- One waiting sweep at a time (its key); queued by the running sweep for
  -- its successor, at worker start, and each minute by the crontab in case
  -- the chain broke.
  -- On the next boundary (whole seconds for every 1000 ms), where ends tend
  -- to fall: a reservation ending at 18:00:00 is ended at once, not up to a
  -- period later; the worker processes wake up there (worker/sweep_clock.ts).
  select graphile_worker.add_job('due_work__sweep', '{}'::json,
    run_at => to_timestamp((floor(extract(epoch from clock_timestamp()) * 1000 / due_work_schedule.every_ms) + 1)
                           * due_work_schedule.every_ms / 1000.0),
    max_attempts => 25, job_key => 'due_work_sweep', job_key_mode => 'replace');
$$;

--
-- Name: FUNCTION due_work_schedule(every_ms integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.due_work_schedule(every_ms integer) IS 'Queues the next due-work sweep on the next boundary of every_ms milliseconds (the next whole second for 1000), replacing a waiting one.';

--
-- Name: email_data_spent(jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.email_data_spent(data jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  -- Only hashes of one-time tokens are stored anywhere else: once an email is
  -- mailed or given up, the plain token (a password reset, verification or
  -- invitation link's, a guest manage token) leaves the outbox too, or a
  -- database reader or a backup would hold live keys to accounts and reservations.
  select data - array['token', 'manageToken'];
$$;

--
-- Name: FUNCTION email_data_spent(data jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.email_data_spent(data jsonb) IS 'An outbox row''s data without the plain one-time tokens it carried (token, manageToken): what stays once the email is sent or given up.';

--
-- Name: email_enqueue(text, public.citext, jsonb, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.email_enqueue(template text, recipient public.citext, data jsonb DEFAULT '{}'::jsonb, dedupe_key text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_id bigint;
begin
  -- The same dedupe key twice (a retried job, a replayed webhook) is one email.
  -- No job here: queuing one NOTIFYs, and the writer's commit would then
  -- serialise with every other NOTIFYing commit (booking writes an email).
  insert into app_private.emails (template, recipient, data, dedupe_key)
  values (email_enqueue.template, email_enqueue.recipient, coalesce(email_enqueue.data, '{}'), email_enqueue.dedupe_key)
  on conflict on constraint emails_dedupe_key_key do nothing
  returning id into v_id;
  return v_id;
end;
$$;

--
-- Name: FUNCTION email_enqueue(template text, recipient public.citext, data jsonb, dedupe_key text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.email_enqueue(template text, recipient public.citext, data jsonb, dedupe_key text) IS 'Writes an email to the outbox in the caller''s transaction (the due-work sweep queues its sending within about a second); returns its id, or null when dedupe_key was already used.';

--
-- Name: email_send_attempts_max(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.email_send_attempts_max() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$
  select 25;
$$;

--
-- Name: FUNCTION email_send_attempts_max(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.email_send_attempts_max() IS 'How many times an email is tried (its send_email job''s max_attempts) before it is given up.';

--
-- Name: email_send_failed(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.email_send_failed(email_id bigint, error text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- The last attempt failed: the email is given up (nothing queues it again), and
  -- its plain one-time token with it, as email_sent drops it once mailed.
  update app_private.emails e
  set attempts = e.attempts + 1, last_error = left(email_send_failed.error, 500),
      data = case when e.attempts + 1 >= app_private.email_send_attempts_max()
                  then app_private.email_data_spent(e.data) else e.data end
  where e.id = email_send_failed.email_id;
end;
$$;

--
-- Name: FUNCTION email_send_failed(email_id bigint, error text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.email_send_failed(email_id bigint, error text) IS 'Records a failed sending attempt of an outbox row (the send_email job is retried with back-off); after the last one, drops the plain one-time token it carried.';

--
-- Name: email_sent(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.email_sent(email_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  update app_private.emails e
  set sent_at = now(), attempts = e.attempts + 1, last_error = null,
      data = app_private.email_data_spent(e.data)
  where e.id = email_sent.email_id;
end;
$$;

--
-- Name: FUNCTION email_sent(email_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.email_sent(email_id bigint) IS 'Marks an outbox row sent (in the transaction that locked it with email_to_send) and removes the plain one-time token it carried (token, manageToken).';

--
-- Name: email_to_send(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.email_to_send(email_id bigint) RETURNS TABLE(id bigint, template text, recipient text, data jsonb, sent_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Locked until the sender's transaction ends: a second run of the same job
  -- waits, then sees sent_at and sends nothing.
  return query
  select e.id, e.template, e.recipient::text, e.data, e.sent_at
  from app_private.emails e where e.id = email_to_send.email_id
  for update;
end;
$$;

--
-- Name: FUNCTION email_to_send(email_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.email_to_send(email_id bigint) IS 'The outbox row to send, locked for the rest of the transaction; sent_at set means it was already sent.';

--
-- Name: emails_queue_due(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.emails_queue_due(max_rows integer DEFAULT 1000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ids bigint[];
  v_jobs int;
begin
  -- Two kinds of waiting rows, each in its own partial index (a row is in
  -- one of them only): the end-of-day burst's own emails (a reservation
  -- ended, a receipt) and every other email.
  v_ids := array(
    select e.id from app_private.emails e
    where e.queued_at is null and e.template not in ('receipt', 'reservation_ended')
    order by e.id limit emails_queue_due.max_rows for update skip locked);
  -- Charges go before emails: while charges are behind, the burst's emails
  -- wait; queued meanwhile, their jobs and sending took 5-20 % of the
  -- burst's charges/s (paired runs of bench/end_burst.ts). (charges_behind
  -- reads graphile-worker's jobs without an index, 20 ms at 100,000 jobs:
  -- asked only when such an email waits.)
  if cardinality(v_ids) < emails_queue_due.max_rows
     and exists (select from app_private.emails e
                 where e.queued_at is null and e.template in ('receipt', 'reservation_ended'))
     and not app_private.charges_behind() then
    v_ids := v_ids || array(
      select e.id from app_private.emails e
      where e.queued_at is null and e.template in ('receipt', 'reservation_ended')
      order by e.id limit emails_queue_due.max_rows - cardinality(v_ids) for update skip locked);
  end if;
  if cardinality(v_ids) > 0 then
    -- One add_jobs call for the batch. Priority 10 (graphile-worker runs lower
    -- numbers first): a charge queued later still goes before these emails.
    -- A recipient's emails of one batch start a second apart, oldest first:
    -- sent at once by parallel workers, they reached the inbox in any order
    -- ("confirmed" before "held"). At most 9 s: a later one may overtake then.
    with queued as (
      update app_private.emails e set queued_at = now() where e.id = any(v_ids) returning e.id, e.recipient
    )
    select count(*) into v_jobs from graphile_worker.add_jobs(array(
      select ('send_email', json_build_object('emailId', q.id), null, now() + least(q.nth - 1, 9) * interval '1 second',
              app_private.email_send_attempts_max(), 'send_email:' || q.id, 10, null)::graphile_worker.job_spec
      from (select u.id, row_number() over (partition by u.recipient order by u.id) as nth from queued u) q));
  end if;
  return cardinality(v_ids);
end;
$$;

--
-- Name: FUNCTION emails_queue_due(max_rows integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.emails_queue_due(max_rows integer) IS 'Queues a send_email job for each outbox row not yet queued (at most max_rows, oldest first, the end-of-day burst''s emails last; one recipient''s a second apart, in order); returns how many. While charges are behind (charges_behind), a reservation''s "ended" email and its receipt wait.';

--
-- Name: users; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.users (
    id bigint NOT NULL,
    email public.citext NOT NULL,
    name text,
    role text DEFAULT 'driver'::text NOT NULL,
    is_verified boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['driver'::text, 'operator'::text, 'admin'::text, 'analyst'::text, 'enforcement'::text])))
);

--
-- Name: TABLE users; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.users IS 'A person who can sign in: a driver, or staff (operator, admin, analyst).';

--
-- Name: COLUMN users.email; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.users.email IS 'Unique, compared case-insensitively.';

--
-- Name: COLUMN users.name; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.users.name IS 'How the user is addressed (1–100 characters). Users may change their own.';

--
-- Name: COLUMN users.role; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.users.role IS 'driver (default), operator, admin or analyst.';

--
-- Name: COLUMN users.is_verified; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.users.is_verified IS 'True once the user has proved they own their email address.';

--
-- Name: forget_unproved_setup(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.forget_unproved_setup(user_id bigint, name text) RETURNS app_public.users
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION forget_unproved_setup(user_id bigint, name text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.forget_unproved_setup(user_id bigint, name text) IS 'For an account whose email was never verified, as its owner proves the address: the name becomes the one given (else the email''s local part), on the customer record too unless staff changed it, saved vehicles and spots are removed, every session is revoked, pending email links are voided and provider links removed. Returns the updated user.';

--
-- Name: holds_expire_due(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.holds_expire_due(max_rows integer DEFAULT 500) RETURNS integer
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  with due as (
    select r.id from app_public.reservations r
    where r.status = 'held' and r.hold_expires_at <= now()
    order by r.hold_expires_at
    limit holds_expire_due.max_rows
    for update skip locked
  ), expired as (
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    from due where r.id = due.id
    returning 1
  )
  select count(*)::int from expired;
$$;

--
-- Name: FUNCTION holds_expire_due(max_rows integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.holds_expire_due(max_rows integer) IS 'Expires holds whose deadline passed without a confirmed card, freeing their spots. At most max_rows; returns how many.';

--
-- Name: live_anyone_watching(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.live_anyone_watching() RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Listeners refresh their tiles every 30 s; one silent for 90 s is gone.
  return exists (select from app_private.live_watched_tiles w where w.seen_at > now() - interval '90 seconds');
end;
$$;

--
-- Name: FUNCTION live_anyone_watching(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.live_anyone_watching() IS 'Whether any API process has a live client (a watched tile refreshed within 90 seconds). Without one, no change records an event.';

--
-- Name: live_events; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.live_events (
    id bigint NOT NULL,
    tile text NOT NULL,
    spot_id bigint NOT NULL,
    lat double precision NOT NULL,
    lng double precision NOT NULL,
    reason text NOT NULL,
    starts_at timestamp with time zone,
    ends_at timestamp with time zone,
    at timestamp with time zone DEFAULT now() NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    snapshot pg_snapshot DEFAULT pg_current_snapshot() NOT NULL
);

--
-- Name: TABLE live_events; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.live_events IS 'Availability events of watched tiles, kept for LIVE_EVENT_RETENTION so SSE clients can resume (Last-Event-ID). Ids and positions only: no reservation, user or email.';

--
-- Name: COLUMN live_events.xid; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.live_events.xid IS 'The transaction that wrote the event.';

--
-- Name: COLUMN live_events.snapshot; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.live_events.snapshot IS 'The snapshot the event was written under: events of transactions it does not see may commit after this one.';

--
-- Name: live_event_json(app_private.live_events); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.live_event_json(e app_private.live_events) RETURNS text
    LANGUAGE sql STABLE
    SET "TimeZone" TO 'UTC'
    AS $$
  select json_build_object(
    'id', e.id, 'spotId', e.spot_id::text, 'lat', e.lat, 'lng', e.lng, 'reason', e.reason,
    'startsAt', e.starts_at, 'endsAt', e.ends_at)::text;
$$;

--
-- Name: FUNCTION live_event_json(e app_private.live_events); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.live_event_json(e app_private.live_events) IS 'An availability event as clients get it (the NOTIFY payload, and the replay after Last-Event-ID): ids and positions, nothing about who booked.';

--
-- Name: live_events_record(bigint[], text[], tstzrange[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_sent int;
begin
  -- Nobody watching anywhere (the usual case): one index look-up, nothing sent.
  if not app_private.live_anyone_watching() then
    return;
  end if;
  with e as (
    select u.spot_id, u.reason, u.time_window, u.n, st_y(s.location::geometry) as lat, st_x(s.location::geometry) as lng
    from unnest(live_events_record.spot_ids, live_events_record.reasons, live_events_record.windows)
      with ordinality as u(spot_id, reason, time_window, n)
    join app_public.spots s on s.id = u.spot_id
  ), recorded as (
    insert into app_private.live_events (tile, spot_id, lat, lng, reason, starts_at, ends_at)
    select t.tile, e.spot_id, e.lat, e.lng, e.reason, lower(e.time_window), upper(e.time_window)
    from e cross join lateral (select app_hidden.live_tile(e.lat, e.lng) as tile) t
    -- Watched: a listener refreshed it within 90 s (listeners refresh every 30 s).
    where exists (select from app_private.live_watched_tiles w
                  where w.tile = t.tile and w.seen_at > now() - interval '90 seconds')
    order by e.n
    returning *
  )
  select count(pg_notify('live:' || r.tile, app_private.live_event_json(r)))
  into v_sent
  from (select * from recorded order by id) r;
end;
$$;

--
-- Name: FUNCTION live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[]) IS 'Records and NOTIFYs an availability event of each spot (spot_ids, reasons and windows aligned) whose tile is watched by a live API process; the others cost nothing but a look-up.';

--
-- Name: live_events_since(bigint, text[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.live_events_since(after_id bigint, tiles text[]) RETURNS SETOF app_private.live_events
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select e.* from app_private.live_events e
  where e.tile = any (live_events_since.tiles)
    and (e.id > live_events_since.after_id
         or (e.id < live_events_since.after_id
             and not pg_visible_in_snapshot(e.xid, (select l.snapshot from app_private.live_events l
                                                     where l.id = live_events_since.after_id))))
  order by e.id
  limit 1000;
$$;

--
-- Name: FUNCTION live_events_since(after_id bigint, tiles text[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.live_events_since(after_id bigint, tiles text[]) IS 'Events of the given tiles after an event id, oldest first (at most 1,000): what an SSE client that resumes with Last-Event-ID missed, including lower-numbered events whose transaction committed after that event was written.';

--
-- Name: live_watch(uuid, text[], interval); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.live_watch(listener uuid, tiles text[], retention interval) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  -- This listener's tiles are exactly `tiles`, seen now.
  delete from app_private.live_watched_tiles w
  where w.listener = live_watch.listener and w.tile <> all (live_watch.tiles);
  insert into app_private.live_watched_tiles (tile, listener)
  select distinct t, live_watch.listener from unnest(live_watch.tiles) t
  on conflict (tile, listener) do update set seen_at = now();
  -- Listeners that died without saying so, and events no client can resume from.
  delete from app_private.live_watched_tiles w where w.seen_at < now() - interval '10 minutes';
  delete from app_private.live_events e where e.at < now() - live_watch.retention;
end;
$$;

--
-- Name: FUNCTION live_watch(listener uuid, tiles text[], retention interval); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.live_watch(listener uuid, tiles text[], retention interval) IS 'An API process''s live tiles (replacing its earlier list, refreshing their time), and housekeeping: stale listeners and events older than retention removed.';

--
-- Name: login_attempt(text, text, inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.login_attempt(email text, password text, client_ip inet) RETURNS TABLE(status text, user_id bigint, session_id uuid, token text, retry_after integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_key text := left(lower(btrim(coalesce(email, ''))), 254);
  v_pair text := v_key || ' ' || coalesce(host(client_ip), '');
  v_retry int;
  v_user_id bigint;
  v_session record;
begin
  -- The email's own ceiling counts only attempts its (email, address) pair and
  -- the address were allowed: an address already refused cannot go on using
  -- it up, which would lock the owner out from every other address too.
  v_retry := greatest(
    app_private.rate_limit_hit('login_pair', v_pair),
    app_private.rate_limit_hit('login_ip', host(client_ip)));
  select u.id into v_user_id from app_public.users u where u.email = v_key::citext;
  -- Nor is it counted for an address the account has signed in from.
  if v_retry = 0 and not app_private.signed_in_from(v_user_id, login_attempt.client_ip) then
    v_retry := app_private.rate_limit_hit('login_email', v_key);
  end if;
  if v_retry > 0 then
    return query select 'limited'::text, null::bigint, null::uuid, null::text, v_retry;
    return;
  end if;
  -- password_matches does the bcrypt work even for an unknown user.
  if not app_private.password_matches(coalesce(v_user_id, -1), password) then
    return query select 'invalid'::text, null::bigint, null::uuid, null::text, 0;
    return;
  end if;
  -- The owner is in: this email's counts start again (the pair's strikes too).
  delete from app_private.rate_limits r
  where (r.bucket = 'login_email' and r.key = v_key) or (r.bucket = 'login_pair' and r.key = v_pair);
  -- Guest reservations made with a verified user's address since last time.
  perform app_private.claim_guest_reservations(v_user_id);
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return query select 'ok'::text, v_user_id, v_session.session_id, v_session.token, 0;
end;
$$;

--
-- Name: FUNCTION login_attempt(email text, password text, client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.login_attempt(email text, password text, client_ip inet) IS 'One sign-in attempt, counted per (email, client address), per email and per client address: status ok (with a new session and its token), invalid (wrong email or password, the same answer for both), or limited (retry_after seconds).';

--
-- Name: manage_token_hash(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.manage_token_hash(token text) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return public.digest(convert_to(token, 'UTF8'), 'sha256');
end;
$$;

--
-- Name: FUNCTION manage_token_hash(token text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.manage_token_hash(token text) IS 'What is stored of a guest manage token.';

--
-- Name: mark_verified(bigint, public.citext); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.mark_verified(user_id bigint, email public.citext) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Only the address the proof was sent to counts.
  update app_public.users u set is_verified = true
  where u.id = mark_verified.user_id and u.email = mark_verified.email and not u.is_verified;
  perform app_private.claim_guest_reservations(mark_verified.user_id);
end;
$$;

--
-- Name: FUNCTION mark_verified(user_id bigint, email public.citext); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.mark_verified(user_id bigint, email public.citext) IS 'Marks the user verified when email is still their address, and claims their guest reservations.';

--
-- Name: meter_hours_parse(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.meter_hours_parse(meter_hours text, OUT max_stay interval, OUT vehicle_class text, OUT schedule text, OUT hours jsonb, OUT error text) RETURNS record
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_days constant text[] := array['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  v_day_re constant text := '(mon|tue|wed|thu|fri|sat|sun)';
  v_window_re text;
  v_head text[];
  v_part text[];
  v_first int;
  v_last int;
  v_day int;
  v_opens time;
  v_closes time;
  v_isodows int[] := '{}';
  v_openings time[] := '{}';
  v_closings time[] := '{}';
  v_overlap int;
  v_by_day text[] := array_fill(''::text, array[7]);
  v_segments text[] := '{}';
  v_start int;
begin
  if meter_hours is null or btrim(meter_hours) = '' then
    error := 'empty';
    return;
  end if;

  -- "<N>HR <class> <schedules>"
  v_head := regexp_match(meter_hours, '^\s*([0-9]{1,2})HR\s+(com|pas)\s+(.*\S)\s*$', 'i');
  if v_head is null then
    error := 'expected "<N>HR Com|Pas <days> <hhmm>-<hhmm>"';
    return;
  end if;
  if v_head[1]::int not between 1 and 24 or v_head[1] like '0%' then
    error := 'time limit must be 1HR to 24HR';
    return;
  end if;
  max_stay := make_interval(hours => v_head[1]::int);
  vehicle_class := case lower(v_head[2]) when 'com' then 'commercial' else 'passenger' end;

  -- The schedule list must consist of nothing but "<days> <hhmm>-<hhmm>" items.
  v_window_re := v_day_re || '(?:-' || v_day_re || ')?\s+([0-9]{2})([0-9]{2})-([0-9]{2})([0-9]{2})';
  if v_head[3] !~* ('^' || v_window_re || '(\s+' || v_window_re || ')*$') then
    error := 'expected "<days> <hhmm>-<hhmm>" after "' || v_head[1] || 'HR ' || v_head[2] || '"';
    return;
  end if;

  for v_part in select m from regexp_matches(v_head[3], v_window_re, 'gi') as m loop
    v_first := array_position(v_days, initcap(v_part[1]));
    v_last := coalesce(array_position(v_days, initcap(v_part[2])), v_first);
    if v_part[3]::int > 23 or v_part[4]::int > 59 then
      error := 'bad opening time ' || v_part[3] || v_part[4];
      return;
    end if;
    if (v_part[5]::int > 23 or v_part[6]::int > 59) and v_part[5] || v_part[6] <> '2400' then
      error := 'bad closing time ' || v_part[5] || v_part[6];
      return;
    end if;
    v_opens := make_time(v_part[3]::int, v_part[4]::int, 0);
    v_closes := case when v_part[5] || v_part[6] = '2400' then time '24:00'
                     else make_time(v_part[5]::int, v_part[6]::int, 0) end;
    if v_closes <= v_opens then
      error := 'closing time ' || v_part[5] || v_part[6] || ' is not after opening time '
        || v_part[3] || v_part[4] || ' (windows past midnight are not supported)';
      return;
    end if;
    -- Every day of the range, wrapping from Sun to Mon.
    v_day := v_first;
    loop
      v_isodows := v_isodows || v_day;
      v_openings := v_openings || v_opens;
      v_closings := v_closings || v_closes;
      exit when v_day = v_last;
      v_day := v_day % 7 + 1;
    end loop;
  end loop;

  -- No two windows of the same day may overlap (this also catches a day named twice).
  select a.d into v_overlap
  from unnest(v_isodows, v_openings, v_closings) with ordinality as a(d, o, c, i)
  join unnest(v_isodows, v_openings, v_closings) with ordinality as b(d, o, c, i)
    on a.d = b.d and a.i < b.i and a.o < b.c and b.o < a.c
  limit 1;
  if v_overlap is not null then
    error := 'overlapping hours on ' || v_days[v_overlap];
    return;
  end if;

  -- Metered all day every day: no rate_hours rows at all.
  if (select count(*) from unnest(v_isodows, v_openings, v_closings) as w(d, o, c)
      where o = time '00:00' and c = time '24:00') = 7 then
    schedule := '24x7';
    hours := '[]';
    return;
  end if;

  hours := (
    select jsonb_agg(jsonb_build_object('isodow', d, 'opens', o, 'closes', c) order by d, o)
    from unnest(v_isodows, v_openings, v_closings) as w(d, o, c));

  -- Canonical text: each day's windows, then runs of consecutive days with the
  -- same windows, e.g. 'Mon-Sat 0800-2200, Sun 1200-1900'. Equal hours written
  -- differently ("Mon-Fri … Sat …" vs "Mon-Sat …") give the same schedule.
  for v_day in 1..7 loop
    v_by_day[v_day] := coalesce((
      select string_agg(to_char(o, 'HH24MI') || '-' || case when c = time '24:00' then '2400' else to_char(c, 'HH24MI') end,
                        ' ' order by o)
      from unnest(v_isodows, v_openings, v_closings) as w(d, o, c)
      where d = v_day), '');
  end loop;
  v_start := 1;
  for v_day in 1..7 loop
    if v_day = 7 or v_by_day[v_day + 1] <> v_by_day[v_day] then
      if v_by_day[v_day] <> '' then
        v_segments := v_segments || (
          v_days[v_start] || case when v_day > v_start then '-' || v_days[v_day] else '' end
          || ' ' || v_by_day[v_day]);
      end if;
      v_start := v_day + 1;
    end if;
  end loop;
  schedule := array_to_string(v_segments, ', ');
end;
$_$;

--
-- Name: FUNCTION meter_hours_parse(meter_hours text, OUT max_stay interval, OUT vehicle_class text, OUT schedule text, OUT hours jsonb, OUT error text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.meter_hours_parse(meter_hours text, OUT max_stay interval, OUT vehicle_class text, OUT schedule text, OUT hours jsonb, OUT error text) IS 'Parses a city Meter_Hours text such as "2HR Pas Mon-Sat 0800-2200 Sun 1200-1900": the maximum stay, the vehicle class, a canonical schedule (''24x7'' when metered around the clock), the metered windows as [{isodow, opens, closes}] (empty when 24x7), or why it cannot be read.';

--
-- Name: new_manage_token(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.new_manage_token() RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- 24 random bytes, URL-safe base64 (32 characters).
  return translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_');
end;
$$;

--
-- Name: FUNCTION new_manage_token(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.new_manage_token() IS 'A fresh guest manage token.';

--
-- Name: new_token(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.new_token() RETURNS text
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select rtrim(translate(encode(gen_random_bytes(32), 'base64'), '+/', '-_'), '=');
$$;

--
-- Name: FUNCTION new_token(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.new_token() IS 'A fresh 256-bit token, base64url without padding.';

--
-- Name: oauth_sign_in(text, text, text, boolean, text, text, text[], inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.oauth_sign_in(provider text, subject text, email text, email_verified boolean, name text, intent text, staff_domains text[], client_ip inet) RETURNS app_public.auth_session
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION oauth_sign_in(provider text, subject text, email text, email_verified boolean, name text, intent text, staff_domains text[], client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.oauth_sign_in(provider text, subject text, email text, email_verified boolean, name text, intent text, staff_domains text[], client_ip inet) IS 'Signs in the person a provider vouched for: their linked account, else the account with their (provider-verified) email (an unverified one is first reclaimed: app_private.reclaim_unverified_account), else a new driver — but never a new account on intent ''staff'' or on a staff email domain (error SMA12). Opens a session.';

--
-- Name: oauth_states; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.oauth_states (
    state_hash bytea NOT NULL,
    provider text NOT NULL,
    code_verifier text NOT NULL,
    nonce text,
    intent text NOT NULL,
    redirect_to text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT oauth_states_intent_check CHECK ((intent = ANY (ARRAY['sign_in'::text, 'staff'::text]))),
    CONSTRAINT oauth_states_provider_check CHECK ((provider = ANY (ARRAY['google'::text, 'facebook'::text])))
);

--
-- Name: TABLE oauth_states; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.oauth_states IS 'OAuth round trips in flight: state (hashed), PKCE verifier and nonce; single use, 10 minutes.';

--
-- Name: oauth_state_consume(text, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.oauth_state_consume(provider text, state text) RETURNS app_private.oauth_states
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  update app_private.oauth_states s set used_at = app_hidden.clock_now()
  where s.state_hash = app_private.token_hash(oauth_state_consume.state)
    and s.provider = oauth_state_consume.provider
    and s.used_at is null
    and s.expires_at > app_hidden.clock_now()
  returning s.*;
$$;

--
-- Name: FUNCTION oauth_state_consume(provider text, state text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.oauth_state_consume(provider text, state text) IS 'The round trip a callback''s state belongs to, once: null when unknown, expired or already used.';

--
-- Name: oauth_state_create(text, text, text, text, text, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.oauth_state_create(provider text, state text, code_verifier text, nonce text, intent text, redirect_to text) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  insert into app_private.oauth_states (state_hash, provider, code_verifier, nonce, intent, redirect_to, created_at, expires_at)
  values (app_private.token_hash(state), provider, code_verifier, nonce, intent, redirect_to,
          app_hidden.clock_now(), app_hidden.clock_now() + interval '10 minutes');
$$;

--
-- Name: FUNCTION oauth_state_create(provider text, state text, code_verifier text, nonce text, intent text, redirect_to text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.oauth_state_create(provider text, state text, code_verifier text, nonce text, intent text, redirect_to text) IS 'Remembers an OAuth round trip''s state, PKCE verifier and nonce for 10 minutes.';

--
-- Name: password_hash(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.password_hash(password text) RETURNS text
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select crypt(password, gen_salt('bf', 10));
$$;

--
-- Name: FUNCTION password_hash(password text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.password_hash(password text) IS 'bcrypt hash (cost 10) of an already normalised password.';

--
-- Name: password_matches(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.password_matches(user_id bigint, password text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_hash text;
  v_password text := normalize(coalesce(password, ''), NFKC);
begin
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = password_matches.user_id;
  if v_hash is null then
    -- Same work as a real check, so timing does not tell whether the account
    -- exists or has a password.
    perform crypt(v_password, gen_salt('bf', 10));
    return false;
  end if;
  return crypt(v_password, v_hash) = v_hash;
end;
$$;

--
-- Name: FUNCTION password_matches(user_id bigint, password text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.password_matches(user_id bigint, password text) IS 'True when the password is the user''s; false for a user without one (after the same bcrypt work).';

--
-- Name: password_set(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.password_set(user_id bigint, password text) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (password_set.user_id, app_private.password_hash(password_set.password), app_hidden.clock_now())
  on conflict (user_id) do update
    set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
  -- A reset link asked for before the change must not undo it (it may be the
  -- reason for the change): every unused one stops working.
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = password_set.user_id and t.kind in ('password_reset', 'invite') and t.used_at is null;
$$;

--
-- Name: FUNCTION password_set(user_id bigint, password text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.password_set(user_id bigint, password text) IS 'Stores a new (already validated) password for a user and voids their unused password reset and invitation links.';

--
-- Name: payment_email_data(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.payment_email_data(reservation_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- The same fields as booking's emails (spot, window, time zone, amount, manage link path).
  select app_hidden.reservation_email_data(r)
  from app_public.reservations r
  where r.id = payment_email_data.reservation_id;
$$;

--
-- Name: FUNCTION payment_email_data(reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.payment_email_data(reservation_id bigint) IS 'What receipt and payment_failed emails show: booking''s reservation email data.';

--
-- Name: payment_key(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.payment_key(reservation_id bigint, what text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.payment_key_of(r, payment_key.what)
  from app_public.reservations r where r.id = payment_key.reservation_id;
$$;

--
-- Name: FUNCTION payment_key(reservation_id bigint, what text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.payment_key(reservation_id bigint, what text) IS 'The Stripe idempotency key of one request about a reservation (what: setup-1, charge-2, …).';

--
-- Name: payment_key_of(app_public.reservations, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.payment_key_of(r app_public.reservations, what text) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  -- Derived from the reservation: its id plus its creation instant, so that a
  -- rebuilt database reusing id 1 never replays another database's request
  -- at Stripe (keys live there for 24 hours). An expression in sql with no
  -- SET clause, so a statement that keys a batch of charges inlines it.
  select 'smp-res-' || r.id || '-' || (extract(epoch from r.created_at) * 1000)::bigint || '-' || what;
$$;

--
-- Name: FUNCTION payment_key_of(r app_public.reservations, what text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.payment_key_of(r app_public.reservations, what text) IS 'The Stripe idempotency key of one request about the reservation r (what: setup-1, charge-2, …).';

--
-- Name: queue_charge_batches(bigint[], timestamp with time zone, integer, integer, integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.queue_charge_batches(reservation_ids bigint[], run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, priority integer DEFAULT 0, max_attempts integer DEFAULT 10, batch_size integer DEFAULT 50) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if coalesce(cardinality(queue_charge_batches.reservation_ids), 0) = 0 then
    return;
  end if;
  -- One add_jobs call (one NOTIFY) for all the batches.
  perform graphile_worker.add_jobs(array(
    select ('reservation__charge', json_agg(json_build_object('reservationId', u.id) order by u.n), null,
            coalesce(queue_charge_batches.run_at, now()), queue_charge_batches.max_attempts, null,
            queue_charge_batches.priority, null)::graphile_worker.job_spec
    from unnest(queue_charge_batches.reservation_ids) with ordinality as u(id, n)
    group by (u.n - 1) / queue_charge_batches.batch_size));
end;
$$;

--
-- Name: FUNCTION queue_charge_batches(reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer, batch_size integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.queue_charge_batches(reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer, batch_size integer) IS 'Queues the charges of many reservations as reservation__charge batch jobs of batch_size each (payload: an array of {reservationId}), in one add_jobs call. Priority as queue_reservation_jobs (new charges 0).';

--
-- Name: queue_reservation_jobs(text, bigint[], timestamp with time zone, integer, integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.queue_reservation_jobs(task text, reservation_ids bigint[], run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, priority integer DEFAULT 0, max_attempts integer DEFAULT 10) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
  if coalesce(cardinality(queue_reservation_jobs.reservation_ids), 0) = 0 then
    return;
  end if;
  -- A job of the same key that is running (this very job, queuing its own
  -- next run; or another worker's) is superseded. graphile-worker would keep
  -- its row, keyless and marked failed for good (attempts = max_attempts), and
  -- a worker dying before completing it would leave that row for ever: a
  -- failed job in the metrics though its successor does the work. Deleted
  -- instead, in this transaction: completing or failing a deleted job changes
  -- nothing. (Reservation jobs have no named queue, which would stay locked.)
  delete from graphile_worker._private_jobs j
  where j.key = any(array(select app_private.reservation_job_key(queue_reservation_jobs.task, id)
                          from unnest(queue_reservation_jobs.reservation_ids) id))
    and j.locked_at is not null and j.job_queue_id is null;
  -- One add_jobs call, one NOTIFY, however many reservations.
  perform graphile_worker.add_jobs(array(
    select (queue_reservation_jobs.task, json_build_object('reservationId', id), null,
            coalesce(queue_reservation_jobs.run_at, now()), queue_reservation_jobs.max_attempts,
            app_private.reservation_job_key(queue_reservation_jobs.task, id),
            queue_reservation_jobs.priority, null)::graphile_worker.job_spec
    from unnest(queue_reservation_jobs.reservation_ids) id));
end;
$$;

--
-- Name: FUNCTION queue_reservation_jobs(task text, reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.queue_reservation_jobs(task text, reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer) IS 'Every job of a reservation is queued here, keyed by reservation_job_key: one add_jobs call for many reservations. Priority: lower runs first (new charges 0, retries of old failures 5, emails 10).';

--
-- Name: rate_budget_take(text, double precision, double precision, interval, integer, timestamp with time zone); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.rate_budget_take(name text, per_second double precision, burst double precision, max_wait interval, calls integer DEFAULT 1, at timestamp with time zone DEFAULT clock_timestamp(), OUT waits double precision[], OUT retry_after double precision) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_b app_private.rate_budgets;
  v_tokens float8;
  v_max float8 := extract(epoch from rate_budget_take.max_wait);
  v_wait float8;
  v_behind float8;
  v_retry_at timestamptz;
  v_refused_until timestamptz;
begin
  -- The configuration comes with each call (every process reads the same
  -- settings), so a changed limit takes effect at the next call.
  insert into app_private.rate_budgets as b (name, per_second, burst, tokens, updated_at)
  values (rate_budget_take.name, rate_budget_take.per_second, rate_budget_take.burst, rate_budget_take.burst, rate_budget_take.at)
  on conflict on constraint rate_budgets_pkey do update
    set per_second = excluded.per_second, burst = excluded.burst
  returning * into v_b;
  -- Refilled since the last call.
  v_tokens := app_private.rate_budget_tokens_at(v_b, rate_budget_take.at);
  -- Call k (from 0) may leave when the bucket has had k + 1 tokens: the calls
  -- granted leave per_second apart once the burst is spent. The bucket's
  -- clock is the later of `at` and its last update (a caller whose clock was
  -- read before it waited for the row lock), and waits count from the
  -- caller's `at`: a caller leaves at at + wait on its own clock, so how long
  -- this statement took does not move its calls onto another caller's turns.
  v_behind := greatest(0, extract(epoch from v_b.updated_at - rate_budget_take.at));
  waits := '{}';
  for k in 0 .. rate_budget_take.calls - 1 loop
    v_wait := greatest(0, v_behind + (k + 1 - v_tokens) / v_b.per_second);
    if v_wait > v_max then
      retry_after := v_wait;
      exit;
    end if;
    waits := waits || v_wait;
  end loop;
  if retry_after is not null then
    -- Each refused caller comes back after the turns of those refused before
    -- it. Told only the first free turn, every batch of a burst would come
    -- back at the same moment, be refused together again, and keep due
    -- charge jobs ahead of every email for the whole burst.
    v_retry_at := greatest(rate_budget_take.at + make_interval(secs => retry_after),
                           coalesce(v_b.refused_until, rate_budget_take.at));
    retry_after := extract(epoch from v_retry_at - rate_budget_take.at);
    v_refused_until := v_retry_at
      + make_interval(secs => (rate_budget_take.calls - cardinality(waits)) / v_b.per_second);
  end if;
  update app_private.rate_budgets b
  set tokens = v_tokens - cardinality(waits),
      updated_at = greatest(b.updated_at, rate_budget_take.at),
      refused_until = coalesce(v_refused_until, b.refused_until)
  where b.name = rate_budget_take.name;
end;
$$;

--
-- Name: FUNCTION rate_budget_take(name text, per_second double precision, burst double precision, max_wait interval, calls integer, at timestamp with time zone, OUT waits double precision[], OUT retry_after double precision); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.rate_budget_take(name text, per_second double precision, burst double precision, max_wait interval, calls integer, at timestamp with time zone, OUT waits double precision[], OUT retry_after double precision) IS 'Reserves up to `calls` calls from the named budget (per_second, up to burst at once): waits holds, for each call granted, the seconds before it may leave (0 while tokens last, then per_second apart); calls whose turn is further off than max_wait are not granted (nothing taken) and retry_after says when the first of them would be. Both count from `at`, the caller''s clock when it asked (a call leaves at at + wait). One row lock per reservation, shared by every worker process.';

--
-- Name: rate_budgets; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.rate_budgets (
    name text NOT NULL,
    per_second double precision NOT NULL,
    burst double precision NOT NULL,
    tokens double precision NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    refused_until timestamp with time zone,
    CONSTRAINT rate_budgets_burst_check CHECK ((burst >= (1)::double precision)),
    CONSTRAINT rate_budgets_per_second_check CHECK ((per_second > (0)::double precision))
);

--
-- Name: TABLE rate_budgets; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.rate_budgets IS 'Token buckets of outside calls shared by every worker process (e.g. stripe): tokens left at updated_at, refilled per_second up to burst.';

--
-- Name: COLUMN rate_budgets.refused_until; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.rate_budgets.refused_until IS 'The end of the turns promised to the callers refused so far: the next refused caller is told to come back after it.';

--
-- Name: rate_budget_tokens_at(app_private.rate_budgets, timestamp with time zone); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.rate_budget_tokens_at(b app_private.rate_budgets, at timestamp with time zone) RETURNS double precision
    LANGUAGE sql IMMUTABLE
    AS $$
  -- sql with no SET clause: inlined where it is called. A clock read earlier
  -- than the bucket's last update does not take tokens back.
  select least(b.burst, b.tokens + greatest(0, extract(epoch from at - b.updated_at)) * b.per_second);
$$;

--
-- Name: FUNCTION rate_budget_tokens_at(b app_private.rate_budgets, at timestamp with time zone); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.rate_budget_tokens_at(b app_private.rate_budgets, at timestamp with time zone) IS 'The tokens the bucket b holds at `at`: refilled per_second since its last update, never above burst; negative while it owes turns it granted with a wait.';

--
-- Name: rate_limit_hit(text, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.rate_limit_hit(bucket text, key text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_rule record := app_private.rate_limit_rule(bucket);
  v_hits int;
  v_start timestamptz;
  v_strikes int;
begin
  if key is null then
    return 0;
  end if;
  -- A window ends after its period, doubled for each window in a row that
  -- went over (escalating buckets only, at most a day); a new window starts
  -- the count again and keeps the strike if the last one went over.
  insert into app_private.rate_limits as r (bucket, key, window_start, hits, strikes)
  values (rate_limit_hit.bucket, rate_limit_hit.key, v_now, 1, 0)
  on conflict on constraint rate_limits_pkey do update set
    window_start = case when r.window_start <= v_now - app_private.rate_limit_period(v_rule.period, v_rule.escalates, r.strikes) then v_now else r.window_start end,
    strikes = case
      when r.window_start > v_now - app_private.rate_limit_period(v_rule.period, v_rule.escalates, r.strikes) then r.strikes
      when v_rule.escalates and r.hits > v_rule.max_hits then r.strikes + 1
      else 0 end,
    hits = case when r.window_start <= v_now - app_private.rate_limit_period(v_rule.period, v_rule.escalates, r.strikes) then 1 else r.hits + 1 end
  returning r.hits, r.window_start, r.strikes into v_hits, v_start, v_strikes;
  if v_hits > v_rule.max_hits then
    return greatest(1, ceil(extract(epoch from (v_start + app_private.rate_limit_period(v_rule.period, v_rule.escalates, v_strikes) - v_now))))::int;
  end if;
  return 0;
end;
$$;

--
-- Name: FUNCTION rate_limit_hit(bucket text, key text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.rate_limit_hit(bucket text, key text) IS 'Counts one hit on (bucket, key); returns 0 when allowed, else the seconds until the window ends.';

--
-- Name: rate_limit_period(interval, boolean, integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.rate_limit_period(period interval, escalates boolean, strikes integer) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
  select case when escalates then least(period * power(2, least(strikes, 16)), interval '24 hours') else period end;
$$;

--
-- Name: FUNCTION rate_limit_period(period interval, escalates boolean, strikes integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.rate_limit_period(period interval, escalates boolean, strikes integer) IS 'A window''s length: the bucket''s period, doubled per strike (windows in a row that went over) for escalating buckets, at most 24 hours.';

--
-- Name: rate_limit_raise(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.rate_limit_raise(retry_after integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  if retry_after > 0 then
    raise exception 'Too many attempts. Try again in % seconds.', retry_after
      using errcode = 'SMA02', detail = retry_after::text;
  end if;
end;
$$;

--
-- Name: FUNCTION rate_limit_raise(retry_after integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.rate_limit_raise(retry_after integer) IS 'Raises SMA02 (detail = seconds to wait) when retry_after > 0.';

--
-- Name: rate_limit_rule(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.rate_limit_rule(bucket text, OUT max_hits integer, OUT period interval, OUT escalates boolean) RETURNS record
    LANGUAGE sql IMMUTABLE
    AS $$
  select r.max_hits, r.period, r.escalates
  from (values
    -- Sign-in is counted per (email, client address) first: an attacker's
    -- failures lock out only that pair, not the owner elsewhere. A pair that
    -- keeps failing waits twice as long each time (15 min, 30 min, 1 h … 24 h).
    -- The per-email ceiling is ten times higher: it takes ten addresses to
    -- hold an email back, and the owner's successful sign-in clears it.
    ('login_pair',     10, interval '15 minutes', true),
    ('login_email',   100, interval '15 minutes', false),
    ('login_ip',      100, interval '15 minutes', false),
    -- Password resets as sign-in: per (email, address) first, so a stranger
    -- asking for someone's resets uses up only their own; the per-email
    -- ceiling bounds the mail an address can be sent from many addresses.
    ('reset_pair',      3, interval '1 hour', false),
    ('reset_email',    10, interval '1 hour', false),
    ('reset_ip',       20, interval '1 hour', false),
    ('register_ip',    20, interval '1 hour', false),
    ('verify_resend',   3, interval '1 hour', false),
    ('manage_link_reservation', 3, interval '1 hour', false),
    ('manage_link_total', 10, interval '1 hour', false),
    -- Not a client's: how often the sweep looks for charge jobs that used up their attempts.
    ('charges_requeue', 1, interval '10 minutes', false),
    ('manage_link_ip', 20, interval '1 hour', false),
    -- changePassword checks the current password: a stolen session must not
    -- guess it faster than sign-in could (counted per user, every attempt).
    ('password_check', 10, interval '15 minutes', false)
  ) as r(bucket, max_hits, period, escalates)
  where r.bucket = rate_limit_rule.bucket;
$$;

--
-- Name: FUNCTION rate_limit_rule(bucket text, OUT max_hits integer, OUT period interval, OUT escalates boolean); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.rate_limit_rule(bucket text, OUT max_hits integer, OUT period interval, OUT escalates boolean) IS 'How many hits a bucket allows per period (the documented limits), and whether a key that went over waits twice as long each time.';

--
-- Name: reclaim_unverified_account(bigint, text, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reclaim_unverified_account(user_id bigint, provider text, name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user app_public.users := app_private.forget_unproved_setup(reclaim_unverified_account.user_id, name);
begin
  -- The provider path sets no password: the stranger's goes too.
  delete from app_private.user_secrets s where s.user_id = v_user.id;
  perform app_private.email_enqueue('account_secured', v_user.email,
    jsonb_build_object('name', v_user.name, 'provider', reclaim_unverified_account.provider));
end;
$$;

--
-- Name: FUNCTION reclaim_unverified_account(user_id bigint, provider text, name text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reclaim_unverified_account(user_id bigint, provider text, name text) IS 'When a provider-verified sign-in meets an unverified account with its email: app_private.forget_unproved_setup with the provider''s name, removes the password and emails the owner (account_secured). The caller then links the provider and marks the email verified.';

--
-- Name: refund_apply(bigint, text, text, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.refund_apply(refund_id bigint, stripe_refund_id text, status text, failure_message text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_f app_private.refunds;
begin
  -- Only a refund still in flight: the operator's request and Stripe's
  -- refund.* webhook may both report it, in either order, and it counts once.
  update app_private.refunds f
  set stripe_refund_id = coalesce(f.stripe_refund_id, refund_apply.stripe_refund_id),
      status = case when refund_apply.status in ('succeeded', 'pending') then 'succeeded' else 'failed' end,
      failure_message = refund_apply.failure_message
  where f.id = refund_apply.refund_id and f.status = 'pending'
  returning * into v_f;
  if v_f.status = 'succeeded' then
    perform app_private.refund_made(v_f.id);
  end if;
end;
$$;

--
-- Name: FUNCTION refund_apply(refund_id bigint, stripe_refund_id text, status text, failure_message text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.refund_apply(refund_id bigint, stripe_refund_id text, status text, failure_message text) IS 'Records Stripe''s answer to a refund in flight (a pending Stripe refund counts as made: app_private.refund_made); nothing when it was recorded already.';

--
-- Name: refund_from_stripe(jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.refund_from_stripe(refund jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_c app_private.charges;
  v_f app_private.refunds;
  v_status text := refund->>'status';
begin
  if jsonb_typeof(refund->'amount') is distinct from 'number' or coalesce(refund->>'id', '') = '' then
    return;
  end if;
  -- Locked as refund_prepare locks it: what is refundable changes one refund at a time.
  select c.* into v_c from app_private.charges c
  where c.stripe_payment_intent_id = refund->>'payment_intent' and c.status = 'succeeded'
  for update;
  if v_c.id is null then
    return;
  end if;
  select f.* into v_f from app_private.refunds f
  where f.charge_id = v_c.id
    and (f.stripe_refund_id = refund->>'id'
         or (f.stripe_refund_id is null and f.id::text = refund->'metadata'->>'refund_id'));
  if v_f.id is null then
    -- Made outside the app (Stripe's dashboard): the books and the driver learn of it here.
    if v_status in ('succeeded', 'pending') and (refund->>'amount')::numeric between 1 and v_c.amount then
      insert into app_private.refunds (charge_id, amount, idempotency_key, stripe_refund_id, status)
      values (v_c.id, (refund->>'amount')::int, 'stripe:' || (refund->>'id'), refund->>'id', 'succeeded')
      returning * into v_f;
      perform app_private.refund_made(v_f.id);
    end if;
  elsif v_f.status = 'pending' then
    perform app_private.refund_apply(v_f.id, refund->>'id', v_status, refund->>'failure_reason');
  elsif v_f.status = 'succeeded' and v_status in ('failed', 'canceled') then
    -- Counted when Stripe took it (pending), and then it could not be paid out.
    update app_private.refunds f
    set status = 'failed', failure_message = coalesce(refund->>'failure_reason', v_status)
    where f.id = v_f.id;
    update app_public.reservations r set refunded = r.refunded - v_f.amount where r.id = v_c.reservation_id;
  end if;
end;
$$;

--
-- Name: FUNCTION refund_from_stripe(refund jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.refund_from_stripe(refund jsonb) IS 'Applies a refund.* webhook''s refund to the books: the app''s own refund in flight is recorded once, one made outside the app (Stripe''s dashboard) is recorded and emailed, and one counted and then failed at Stripe comes off the refunded total.';

--
-- Name: refund_made(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.refund_made(refund_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_f app_private.refunds;
  v_c app_private.charges;
  v_r app_public.reservations;
begin
  select * into v_f from app_private.refunds f where f.id = refund_made.refund_id;
  select * into v_c from app_private.charges c where c.id = v_f.charge_id;
  update app_public.reservations r set refunded = r.refunded + v_f.amount where r.id = v_c.reservation_id
  returning * into v_r;
  perform app_private.email_enqueue('refund', v_r.email,
    app_hidden.reservation_email_data(v_r)
      || jsonb_build_object('refundAmount', v_f.amount, 'refunded', v_r.refunded, 'charged', v_c.amount,
                            'currency', v_c.currency),
    'refund:' || v_f.id);
end;
$$;

--
-- Name: FUNCTION refund_made(refund_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.refund_made(refund_id bigint) IS 'A refund just recorded as made: adds it to the reservation''s refunded total and emails the driver (refund), once per refund.';

--
-- Name: refuse_no_card(app_public.reservations); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.refuse_no_card(r app_public.reservations) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  raise exception 'Reservation % is %: only a held reservation, or one whose payment failed, takes a card',
    r.id, r.status using errcode = 'SMP02';
end;
$$;

--
-- Name: FUNCTION refuse_no_card(r app_public.reservations); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.refuse_no_card(r app_public.reservations) IS 'Raises SMP02 for a reservation that takes no card (app_hidden.takes_card).';

--
-- Name: register(text, text, text, inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.register(email text, name text, password text, client_ip inet) RETURNS app_public.auth_session
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_name text := app_hidden.assert_name(name);
  v_password text := app_hidden.assert_password(password, email);
  v_user_id bigint;
  v_session record;
begin
  -- Counted beforehand by app_private.sign_up_gate (its own transaction).
  begin
    insert into app_public.users (email, name) values (v_email, v_name) returning id into v_user_id;
  exception when unique_violation then
    raise exception 'An account with this email already exists: sign in, or reset your password'
      using errcode = 'SMA06';
  end;
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (v_user_id, app_private.password_hash(v_password), app_hidden.clock_now());
  perform app_private.send_verification(v_user_id);
  select * into v_session from app_private.session_create(v_user_id, 'password', client_ip);
  return (v_user_id, v_session.session_id, v_session.token)::app_public.auth_session;
end;
$$;

--
-- Name: FUNCTION register(email text, name text, password text, client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.register(email text, name text, password text, client_ip inet) IS 'Creates a driver with a password, queues the verification email and opens a session. The attempt is counted by app_private.sign_up_gate first.';

--
-- Name: reminders_send_due(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reminders_send_due(max_rows integer DEFAULT 500) RETURNS integer
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  with due as (
    select r.id from app_public.reservations r
    where r.remind_at <= now()
    order by r.remind_at
    limit reminders_send_due.max_rows
    for update skip locked
  ), reminded as (
    update app_public.reservations r
    set remind_at = null
    from due where r.id = due.id
    returning r.*
  )
  -- Once per end time: a reminder re-armed by a changed end is a new email.
  select count(app_private.email_enqueue('reservation_reminder', m.email, d.data,
           'reservation_reminder:' || m.id || ':' || extract(epoch from upper(m.period))::bigint))::int
  from reminded m
  left join lateral app_hidden.reservation_email_data_of(m::app_public.reservations) d(data) on true
  where m.status = 'confirmed' and upper(m.period) > now();
$$;

--
-- Name: FUNCTION reminders_send_due(max_rows integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reminders_send_due(max_rows integer) IS 'Emails the reminder of confirmed reservations whose remind_at has come (once per end time). At most max_rows; returns how many.';

--
-- Name: reservation_card_of(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservation_card_of(reservation_id bigint) RETURNS TABLE(customer text, payment_method text, chargeable boolean)
    LANGUAGE sql STABLE
    AS $$
  -- sql with no SET clause: inlined where it is joined (lateral).
  select card.customer, card.payment_method, card.customer is not null and card.payment_method is not null
  from app_private.setup_intents si
  join app_private.stripe_customers cu on cu.id = si.customer_id
  -- A new set-up asked for after a decline (the pay page opened) keeps the
  -- retries on the card on file until a new card is actually set up.
  cross join lateral (
    select case when si.status = 'succeeded' then cu.stripe_customer_id else si.retry_customer end as customer,
           case when si.status = 'succeeded' then si.payment_method else si.retry_payment_method end as payment_method
  ) card
  where si.reservation_id = reservation_card_of.reservation_id
    and (si.status = 'succeeded' or si.retry_payment_method is not null)
  limit 1;
$$;

--
-- Name: FUNCTION reservation_card_of(reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservation_card_of(reservation_id bigint) IS 'The Stripe customer and card a reservation''s set-up left to charge off-session (while a new set-up after a decline is not finished, the declined card, which the retries keep trying), and whether both are there to charge (no row: none set up).';

--
-- Name: reservation_for_caller(bigint, text, boolean); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservation_for_caller(reservation_id bigint, manage_token text, lock_row boolean) RETURNS app_public.reservations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r app_public.reservations;
  v_own boolean;
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
  v_own := coalesce(v_r.user_id = app_public.current_user_id(), false)
           or coalesce(reservation_for_caller.manage_token <> '' and exists (
                 select from app_private.reservation_secrets s
                 where s.reservation_id = v_r.id
                   and s.manage_token_hash = app_private.manage_token_hash(reservation_for_caller.manage_token)),
               false);
  if (found and (v_own or coalesce(app_hidden.current_user_is_staff(), false))) is not true then
    -- One answer for "no such id", "not yours" and "wrong token": an id says
    -- nothing about whether it exists.
    raise exception 'We could not find that reservation for you; check its number (and, as a guest, the manage code from your booking)'
      using errcode = 'SMB06';
  end if;
  -- Staff read every reservation, but change another's only on a spot in
  -- their zones, as they do the spot itself.
  if reservation_for_caller.lock_row and not v_own then
    if not app_hidden.current_user_may_manage((select s.borough from app_public.spots s where s.id = v_r.spot_id)) then
      raise exception 'Reservation % is on a spot outside your zones', v_r.id using errcode = 'SMO02';
    end if;
  end if;
  return v_r;
end;
$$;

--
-- Name: FUNCTION reservation_for_caller(reservation_id bigint, manage_token text, lock_row boolean); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservation_for_caller(reservation_id bigint, manage_token text, lock_row boolean) IS 'The reservation (locked for update when lock_row) when the caller owns it, is staff, or gives its guest manage token; else error SMB06. Staff changing (lock_row) another''s reservation on a spot outside their zones: SMO02. The one access decision for a single reservation.';

--
-- Name: reservation_job_key(text, bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservation_job_key(task text, reservation_id bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  -- reservation__charge -> reservation_charge:<id>
  select replace(reservation_job_key.task, '__', '_') || ':' || reservation_job_key.reservation_id;
$$;

--
-- Name: FUNCTION reservation_job_key(task text, reservation_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservation_job_key(task text, reservation_id bigint) IS 'The graphile-worker job key of a reservation''s job: one waiting job per task and reservation (queuing again replaces it).';

--
-- Name: reservations_audit(app_private.reservation_change[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservations_audit(changes app_private.reservation_change[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  insert into app_private.reservation_events
    (reservation_id, action, old_status, new_status, old_period, new_period, old_amount, new_amount,
     old_plate, new_plate, actor_user_id, actor_role)
  select n.id, a.action, o.status, n.status, o.period, n.period, o.amount, n.amount,
         -- Which car a booking named when: disputes, and enforcement's rules, read the plate.
         nullif(concat_ws(' ', o.plate, o.plate_state), ''), nullif(concat_ws(' ', n.plate, n.plate_state), ''),
         app_public.current_user_id(),
         -- SECURITY DEFINER changes current_user, not the `role` setting the API set.
         coalesce(nullif(current_setting('role', true), 'none'), 'system:' || session_user)
  from unnest(reservations_audit.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then case when n.kind = 'block' then 'blocked' else 'reserved' end
      when n.status is distinct from o.status then n.status::text  -- confirmed, cancelled, completed, expired, …
      when n.period is distinct from o.period then 'end_changed'
      when n.amount is distinct from o.amount or n.hold_expires_at is distinct from o.hold_expires_at then 'updated'
      when n.plate is distinct from o.plate or n.plate_state is distinct from o.plate_state then 'vehicle_changed'
    end as action) a   -- null: nothing a person would call a change
  where a.action is not null
  order by c.ordinality;
end;
$$;

--
-- Name: FUNCTION reservations_audit(changes app_private.reservation_change[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservations_audit(changes app_private.reservation_change[]) IS 'Writes the audit row of each inserted or changed reservation of one statement (old_row null for an insert).';

--
-- Name: reservations_emails(app_private.reservation_change[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservations_emails(changes app_private.reservation_change[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- The same dedupe key twice (a replayed change) is one email, as email_enqueue.
  insert into app_private.emails (template, recipient, data, dedupe_key)
  select e.template, n.email,
         coalesce(d.data, '{}') || case e.template
           when 'reservation_cancelled' then jsonb_build_object('reason',
             case when app_hidden.current_user_is_staff() and n.user_id is distinct from app_public.current_user_id()
                  then 'cancelled_by_operator' else 'cancelled' end)
           -- A hold ended in a request (endReservation) rather than lapsing by itself (the worker's jobs).
           when 'reservation_expired' then case
             when current_setting('role', true) not in ('app_anonymous', 'app_user', 'app_operator') then '{}'::jsonb
             when app_hidden.current_user_is_staff() and n.user_id is distinct from app_public.current_user_id()
               then jsonb_build_object('reason', 'ended_by_operator')
             else jsonb_build_object('reason', 'ended') end
           when 'reservation_changed' then jsonb_build_object(
             'previousEndsAt', app_hidden.iso_time(upper(o.period)), 'previousAmount', o.amount)
           else '{}'::jsonb end,
         e.template || ':' || n.id || case when e.template = 'reservation_changed'
           then ':' || extract(epoch from n.updated_at) else '' end
  from unnest(reservations_emails.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select case
      when o.id is null then 'reservation_held'
      when n.status is distinct from o.status then case n.status
        when 'confirmed' then 'reservation_confirmed'
        when 'cancelled' then 'reservation_cancelled'
        when 'expired'   then 'reservation_expired'
        when 'completed' then 'reservation_ended'
      end  -- payment_failed: the payments code writes that email
      when n.period is distinct from o.period and app_hidden.holds_spot(n.status) then 'reservation_changed'
    end as template) e
  left join lateral app_hidden.reservation_email_data_of(c.new_row) d(data) on true
  where n.kind = 'reservation' and e.template is not null
  order by c.ordinality
  on conflict on constraint emails_dedupe_key_key do nothing;
end;
$$;

--
-- Name: FUNCTION reservations_emails(changes app_private.reservation_change[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservations_emails(changes app_private.reservation_change[]) IS 'Queues the email of each inserted or changed reservation of one statement in the outbox: reservation_held, _confirmed, _changed, _cancelled, _expired (a hold never confirmed), _ended.';

--
-- Name: reservations_end_due(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservations_end_due(max_rows integer DEFAULT 500) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ended int;
  v_completed bigint[];
begin
  with due as (
    select r.id from app_public.reservations r
    where r.kind = 'reservation' and app_hidden.holds_spot(r.status) and upper(r.period) <= now()
    order by upper(r.period)
    limit reservations_end_due.max_rows
    for update skip locked
  ), ended as (
    -- Ran its course: charged as quoted. Still held at its end: expired, no
    -- charge, and its amount 0 as a cancelled one's (it read as a price due).
    update app_public.reservations r
    set status = case when r.status = 'held' then 'expired' else 'completed' end::app_public.reservation_status,
        amount = case when r.status = 'held' then 0 else r.amount end,
        hold_expires_at = null
    from due where r.id = due.id
    returning r.id, r.status
  )
  select count(*)::int, array_agg(e.id) filter (where e.status = 'completed')
  into v_ended, v_completed from ended e;
  -- Their charges, in batch jobs queued by one add_jobs call.
  perform app_private.queue_charge_batches(v_completed);
  return v_ended;
end;
$$;

--
-- Name: FUNCTION reservations_end_due(max_rows integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservations_end_due(max_rows integer) IS 'Ends reservations whose end has come: confirmed -> completed (spot free, charge queued in a batch job), still held -> expired. At most max_rows; returns how many.';

--
-- Name: reservations_live(app_private.reservation_change[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.reservations_live(changes app_private.reservation_change[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Checked before the statement's changes are taken apart: with nobody
  -- watching, that work and the call cost every booking about 100 µs for nothing.
  if not app_private.live_anyone_watching() then
    return;
  end if;
  perform app_private.live_events_record(array_agg(n.spot_id order by c.ordinality),
                                         array_agg(e.reason order by c.ordinality),
                                         array_agg(e.time_window order by c.ordinality))
  from unnest(reservations_live.changes) with ordinality c
  cross join lateral (select (c.new_row).*) n
  left join lateral (select (c.old_row).*) o on true
  cross join lateral (select app_hidden.holds_spot(n.status) as now_holds,
                             o.id is not null and app_hidden.holds_spot(o.status) as was_holds) h
  cross join lateral (select * from (values
      (h.now_holds and not h.was_holds, 'taken', n.period),
      (h.was_holds and not h.now_holds, 'freed', o.period),
      (h.now_holds and h.was_holds and n.period is distinct from o.period, 'changed', n.period)
    ) v(happened, reason, time_window) where v.happened) e;
end;
$$;

--
-- Name: FUNCTION reservations_live(changes app_private.reservation_change[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.reservations_live(changes app_private.reservation_change[]) IS 'Live event of each reservation or block of one statement: taken (starts holding its spot), freed (cancelled, expired, ended, payment failed), changed (its window moved).';

--
-- Name: send_verification(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.send_verification(user_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user app_public.users;
  v_token text;
begin
  select u.* into v_user from app_public.users u where u.id = send_verification.user_id;
  v_token := app_private.user_token_issue(v_user.id, 'verify_email', v_user.email,
    app_hidden.user_token_valid_for('verify_email'));
  -- No name: whoever signed up chose it, and the address may be someone
  -- else's (a name like "SECURITY ALERT: … https://…" would greet them).
  perform app_private.email_enqueue('verify_email', v_user.email,
    jsonb_build_object('token', v_token,
                       'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('verify_email')));
end;
$$;

--
-- Name: FUNCTION send_verification(user_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.send_verification(user_id bigint) IS 'Issues an email verification link (3 days) and queues the verify_email email.';

--
-- Name: session_create(bigint, text, inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.session_create(user_id bigint, method text, client_ip inet DEFAULT NULL::inet) RETURNS TABLE(session_id uuid, token text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_token text := app_private.new_token();
  v_id uuid;
begin
  insert into app_private.sessions (user_id, token_hash, created_at, last_active_at, method, client_ip)
  values (session_create.user_id, app_private.token_hash(v_token), app_hidden.clock_now(), app_hidden.clock_now(),
          session_create.method, session_create.client_ip)
  returning id into v_id;
  return query select v_id, v_token;
end;
$$;

--
-- Name: FUNCTION session_create(user_id bigint, method text, client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.session_create(user_id bigint, method text, client_ip inet) IS 'Opens a session for a user; returns its id and its token (the only time the token exists outside the client).';

--
-- Name: session_lookup(bytea); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.session_lookup(token_hash bytea) RETURNS TABLE(session_id uuid, user_id bigint, db_role text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_session app_private.sessions;
  v_role text;
begin
  select s.* into v_session from app_private.sessions s
  where s.token_hash = session_lookup.token_hash
    and s.revoked_at is null
    and s.last_active_at > v_now - app_hidden.session_idle_timeout()
    and s.created_at > v_now - app_hidden.session_max_age();
  if v_session.id is null then
    return;
  end if;
  -- Sliding expiry: use renews the session, but at most once a minute, so a
  -- busy client does not turn every read into a write.
  if v_session.last_active_at < v_now - app_hidden.session_touch_interval() then
    update app_private.sessions s set last_active_at = v_now where s.id = v_session.id;
  end if;
  select u.role into v_role from app_public.users u where u.id = v_session.user_id;
  return query select v_session.id, v_session.user_id, app_hidden.db_role_for(v_role);
end;
$$;

--
-- Name: FUNCTION session_lookup(token_hash bytea); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.session_lookup(token_hash bytea) IS 'The live session a token hash opens (renewing it when last renewed over a minute ago), with the database role its requests use; no row when the token is unknown, revoked, idle over 24 h or older than 30 days.';

--
-- Name: session_revoke(uuid); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.session_revoke(session_id uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = session_revoke.session_id and s.revoked_at is null;
  return found;
end;
$$;

--
-- Name: FUNCTION session_revoke(session_id uuid); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.session_revoke(session_id uuid) IS 'Revokes one session; true when it was live.';

--
-- Name: sessions_sweep(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.sessions_sweep() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_now timestamptz := app_hidden.clock_now();
  v_count int;
begin
  -- A session no request can use any more is only a liability: drop it.
  delete from app_private.sessions
  where revoked_at is not null
     or last_active_at < v_now - app_hidden.session_idle_timeout()
     or created_at < v_now - app_hidden.session_max_age();
  get diagnostics v_count = row_count;
  -- Dead one-time links, OAuth round trips and rate limit windows go too.
  delete from app_private.user_tokens where expires_at < v_now - interval '1 day';
  delete from app_private.oauth_states where expires_at < v_now - interval '1 hour';
  delete from app_private.rate_limits where window_start < v_now - interval '1 day';
  return v_count;
end;
$$;

--
-- Name: FUNCTION sessions_sweep(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.sessions_sweep() IS 'Deletes revoked, idle and too old sessions (returns how many), and expired one-time tokens, OAuth states and rate limit windows. Run by the sessions__sweep cron task.';

--
-- Name: setup_intent_apply(bigint, jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.setup_intent_apply(reservation_id bigint, intent jsonb) RETURNS app_private.setup_intents
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION setup_intent_apply(reservation_id bigint, intent jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.setup_intent_apply(reservation_id bigint, intent jsonb) IS 'Records what Stripe says of a reservation''s SetupIntent (with card_fingerprint, the card''s, when known); on success confirms the reservation unless the card has an unpaid failed charge (card_unpaid) or is at its limit (card_at_limit), or retries a failed charge with the new card. Idempotent.';

--
-- Name: setup_intent_json(app_private.setup_intents, app_public.reservations); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.setup_intent_json(si app_private.setup_intents, reservation app_public.reservations) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: sign_up_gate(text, text, text, inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.sign_up_gate(email text, name text, password text, client_ip inet) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Input that register would refuse is refused here with its own code, uncounted:
  -- it says nothing about which accounts exist.
  perform app_hidden.assert_email(email), app_hidden.assert_name(name), app_hidden.assert_password(password, email);
  return app_private.rate_limit_hit('register_ip', host(sign_up_gate.client_ip));
end;
$$;

--
-- Name: FUNCTION sign_up_gate(email text, name text, password text, client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.sign_up_gate(email text, name text, password text, client_ip inet) IS 'Checks a sign-up''s input (SMA03–SMA05) and counts the attempt from its client address (20 an hour); returns 0, or the seconds to wait. Callers run it in a statement of its own, committed before app_private.register, so a sign-up register refuses with SMA06 (the email has an account) still counts: else trying addresses one by one would tell which have accounts, for free.';

--
-- Name: signed_in_from(bigint, inet); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.signed_in_from(user_id bigint, client_ip inet) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- The per-email ceilings (sign-in, password reset) bound what many addresses
  -- together may try; an address the account has signed in from is the
  -- owner's, and a stranger with a dozen addresses must not keep the owner out
  -- there. (Unknown account or address: false.)
  select exists (select from app_private.sessions s
                 where s.user_id = signed_in_from.user_id and s.client_ip = signed_in_from.client_ip);
$$;

--
-- Name: FUNCTION signed_in_from(user_id bigint, client_ip inet); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.signed_in_from(user_id bigint, client_ip inet) IS 'Whether the account has had a session from this client address: such an address is spared the per-email sign-in and reset ceilings.';

--
-- Name: spot_change_source(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spot_change_source(OUT sync_run_id bigint, OUT source text) RETURNS record
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select r.id, case
    when r.id is not null then 'sync'
    when current_setting('app.change_source', true) = 'import' then 'import'
    else 'edit' end
  from (select nullif(current_setting('app.sync_run_id', true), '')::bigint as id) r;
$$;

--
-- Name: FUNCTION spot_change_source(OUT sync_run_id bigint, OUT source text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spot_change_source(OUT sync_run_id bigint, OUT source text) IS 'Where the spot writes of this transaction come from: the sync run (app.sync_run_id), an import (app.change_source), else an edit.';

--
-- Name: spot_history_fields(app_public.spots); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spot_history_fields(s app_public.spots) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select jsonb_build_object(
    'location', round(st_y(s.location::geometry)::numeric, 7) || ',' || round(st_x(s.location::geometry)::numeric, 7),
    'street', s.street,
    'side_of_street', s.side_of_street,
    'from_street', s.from_street,
    'to_street', s.to_street,
    'borough', s.borough,
    'zone', s.zone,
    'rate', (select r.code from app_public.rates r where r.id = s.rate_id),
    'max_stay', s.max_stay::text,
    'status', s.status,
    'meter_hours', s.meter_hours,
    'is_accessible', s.is_accessible,
    'has_ev_charger', s.has_ev_charger);
$$;

--
-- Name: FUNCTION spot_history_fields(s app_public.spots); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spot_history_fields(s app_public.spots) IS 'The fields of a spot the change history follows, as text values (location as "lat,lng", rate as its code).';

--
-- Name: spots_import(jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_import(rows jsonb) RETURNS TABLE(row_number integer, outcome text, reason text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  -- Plain decimals only (no exponent; the rules below also cap the length), so
  -- the casts can never fail. Unbounded repeats: PostgreSQL's regex engine is
  -- several times slower on {m,n} counts, and this runs twice per row.
  v_number_re constant text := '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$';
begin
  if jsonb_typeof(spots_import.rows) is distinct from 'array' then
    raise exception 'spots_import expects a JSON array of row objects' using errcode = '22023';
  end if;

  -- One staging row per input row, in input order. The temporary table is made
  -- once per session and emptied at every commit, so the statements below keep
  -- their cached plans from one batch to the next (a table created per call
  -- would make every call plan them again). Rename it when its columns change:
  -- a session that outlived a migration still holds the old one.
  if to_regclass('pg_temp.spots_import_rows_v1') is null then
    create temp table spots_import_rows_v1 (
      ord            int primary key,
      line           int not null,
      external_id    text,
      status         text,
      zone           text,
      meter_hours    text,
      borough        text,
      street         text,
      side_of_street text,
      from_street    text,
      to_street      text,
      lat            double precision,
      lng            double precision,
      price          int,
      max_stay       interval,
      schedule       text,
      hours          jsonb,
      rate_code      text,
      why            text
    ) on commit delete rows;
  end if;
  -- Rows of an earlier call in this transaction (none after a commit). Not
  -- truncate: that would make the cached plans stale too.
  delete from pg_temp.spots_import_rows_v1;

  -- 1. Fields, trimmed (blank = missing), and the field rules: the first rule a
  --    row breaks is its reason. Coordinates come from Latitude/Longitude, or
  --    when both are blank from Location, which the city has written both as
  --    "(lat, lng)" and as "POINT (lng lat)". (->> on anything but a JSON object
  --    gives null, so a stray scalar is a row with every field missing.)
  insert into pg_temp.spots_import_rows_v1 (
    ord, line, external_id, status, zone, meter_hours, borough, street,
    side_of_street, from_street, to_street, lat, lng, price, why)
  select
    r.ord,
    case when r.e ->> 'row_number' ~ '^[0-9]{1,9}$' then (r.e ->> 'row_number')::int else r.ord::int end,
    f.meter_number, f.status, f.pay_by_cell_number, f.meter_hours, f.borough, f.on_street,
    upper(f.side_of_street), f.from_street, f.to_street,
    -- The casts only run for rows that passed the rules, so they cannot fail.
    case when v.why is null then c.lat_text::double precision end,
    case when v.why is null then c.lng_text::double precision end,
    case when v.why is null then
      coalesce(round(ltrim(f.hourly_rate, '$ ')::numeric * 100)::int, z.zone_price) end,
    v.why
  from jsonb_array_elements(spots_import.rows) with ordinality as r(e, ord)
  cross join lateral (
    select
      nullif(btrim(r.e ->> 'meter_number'), '') as meter_number,
      nullif(btrim(r.e ->> 'status'), '') as status,
      nullif(btrim(r.e ->> 'pay_by_cell_number'), '') as pay_by_cell_number,
      nullif(btrim(r.e ->> 'meter_hours'), '') as meter_hours,
      nullif(btrim(r.e ->> 'borough'), '') as borough,
      nullif(btrim(r.e ->> 'on_street'), '') as on_street,
      nullif(btrim(r.e ->> 'side_of_street'), '') as side_of_street,
      nullif(btrim(r.e ->> 'from_street'), '') as from_street,
      nullif(btrim(r.e ->> 'to_street'), '') as to_street,
      nullif(btrim(r.e ->> 'latitude'), '') as latitude,
      nullif(btrim(r.e ->> 'longitude'), '') as longitude,
      nullif(btrim(r.e ->> 'location'), '') as location,
      nullif(btrim(r.e ->> 'hourly_rate'), '') as hourly_rate
  ) f
  cross join lateral (
    select
      case when m.from_location then coalesce(m.lp[1], m.pp[2]) else f.latitude end as lat_text,
      case when m.from_location then coalesce(m.lp[2], m.pp[1]) else f.longitude end as lng_text
    from (
      select
        f.latitude is null and f.longitude is null as from_location,
        case when f.latitude is null and f.longitude is null then
          regexp_match(f.location, '^\(\s*([^,\s]+)\s*,\s*([^,\s)]+)\s*\)$') end as lp,
        case when f.latitude is null and f.longitude is null then
          regexp_match(f.location, '^POINT\s*\(\s*(\S+)\s+([^\s)]+)\s*\)$', 'i') end as pp
    ) m
  ) c
  -- The city's own file has no Hourly_Rate: such rows take their zone's price
  -- (app_private.meter_zone_prices; zone '*' for every other zone).
  cross join lateral (
    select coalesce(
      (select p.hourly_price from app_private.meter_zone_prices p where p.zone = f.pay_by_cell_number),
      (select p.hourly_price from app_private.meter_zone_prices p where p.zone = '*')) as zone_price
  ) z
  cross join lateral (
    select case
      when f.meter_number is null then 'missing meter number'
      when length(f.meter_number) > 50 or f.meter_number !~ '^[A-Za-z0-9][A-Za-z0-9._/-]*$' then 'malformed meter number'
      when c.lat_text is null then 'missing latitude'
      when length(c.lat_text) > 30 or c.lat_text !~ v_number_re then 'latitude is not a number'
      when c.lat_text::double precision not between -90 and 90 then 'latitude out of range'
      when c.lng_text is null then 'missing longitude'
      when length(c.lng_text) > 30 or c.lng_text !~ v_number_re then 'longitude is not a number'
      when c.lng_text::double precision not between -180 and 180 then 'longitude out of range'
      when f.on_street is null then 'missing On_Street'
      when length(f.on_street) > 200 then 'On_Street longer than 200 characters'
      when length(f.from_street) > 200 then 'From_Street longer than 200 characters'
      when length(f.to_street) > 200 then 'To_Street longer than 200 characters'
      when length(f.side_of_street) > 20 then 'Side_of_Street longer than 20 characters'
      when length(f.borough) > 50 then 'Borough longer than 50 characters'
      when length(f.pay_by_cell_number) > 50 then 'Pay By Cell Number longer than 50 characters'
      when f.hourly_rate is null and z.zone_price is null then 'missing Hourly_Rate and no price for its zone'
      when f.hourly_rate !~ '^\$?\s*[0-9]{1,4}(\.[0-9]{1,2})?$' then 'Hourly_Rate is not a price in dollars'
      -- The rates' bound: a larger price could not be charged for a long stay.
      when round(ltrim(f.hourly_rate, '$ ')::numeric * 100) > app_hidden.rate_price_max()
        then 'Hourly_Rate is above $' || to_char(app_hidden.rate_price_max() / 100.0, 'FM9990.00')
      when f.meter_hours is null then 'missing Meter_Hours'
    end as why
  ) v;

  -- 2. A meter number twice in one call: the first row counts, the others are
  --    rejected (the upsert below could not touch one spot twice anyway).
  if exists (
    select from pg_temp.spots_import_rows_v1
    where why is null
    group by external_id
    having count(*) > 1
  ) then
    update pg_temp.spots_import_rows_v1 t
    set why = 'duplicate meter number (first on row ' || d.first_line || ')'
    from (
      select ord,
             first_value(line) over (partition by external_id order by ord) as first_line,
             row_number() over (partition by external_id order by ord) as n
      from pg_temp.spots_import_rows_v1
      where why is null
    ) d
    where d.ord = t.ord and d.n > 1;
  end if;

  -- 3. Meter_Hours, parsed once per distinct text (a batch has a handful); the
  --    materialized CTE keeps the planner from calling the parser once per row.
  --    The rate code is the price and the canonical schedule.
  with parsed as materialized (
    select d.meter_hours, h.*
    from (select distinct meter_hours from pg_temp.spots_import_rows_v1 where why is null) d
    cross join lateral app_private.meter_hours_parse(d.meter_hours) h
  )
  update pg_temp.spots_import_rows_v1 t
  set max_stay = p.max_stay,
      schedule = p.schedule,
      hours = p.hours,
      why = case when p.error is not null then 'unparseable Meter_Hours: ' || p.error end,
      rate_code = case when p.error is null then
        'meter-' || t.price || '-' || lower(regexp_replace(p.schedule, '[^A-Za-z0-9]+', '-', 'g')) end
  from parsed p
  where p.meter_hours = t.meter_hours and t.why is null;

  -- 4. Rates of the accepted rows: created on first sight, with their hours;
  --    an existing rate (and any edit an operator made to it) is left alone.
  --    Hours go only to the rates made here: an existing rate's hours may be
  --    an operator's, and adding the file's beside them would overlap them.
  with created as (
    insert into app_public.rates (code, name, hourly_price)
    select distinct on (t.rate_code)
      t.rate_code,
      '$' || to_char(t.price / 100.0, 'FM9990.00') || '/h, '
        || case when t.schedule = '24x7' then 'around the clock' else t.schedule end,
      t.price
    from pg_temp.spots_import_rows_v1 t
    where t.why is null
    order by t.rate_code
    on conflict (code) do nothing
    returning id, code
  )
  insert into app_public.rate_hours (rate_id, isodow, opens, closes)
  select c.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
  from (select distinct rate_code, hours from pg_temp.spots_import_rows_v1 where why is null) t
  join created c on c.code = t.rate_code
  cross join lateral jsonb_array_elements(t.hours) as h;

  -- 5. Spots: insert new meter numbers; update a known one only when something
  --    differs, so an unchanged row writes nothing (xmax = 0 tells a fresh
  --    insert from an update). One row per input row comes back, in order.
  return query
  with written as (
    insert into app_public.spots as s (
      external_id, location, street, side_of_street, from_street, to_street,
      borough, zone, rate_id, max_stay, status, meter_hours)
    select
      t.external_id,
      st_setsrid(st_makepoint(t.lng, t.lat), 4326)::geography,
      t.street, t.side_of_street, t.from_street, t.to_street, t.borough, t.zone,
      r.id, t.max_stay,
      case when lower(t.status) = 'active' then 'active' else 'out_of_service' end,
      t.meter_hours
    from pg_temp.spots_import_rows_v1 t
    join app_public.rates r on r.code = t.rate_code
    where t.why is null
    on conflict (external_id) do update
    set location = excluded.location,
        street = excluded.street,
        side_of_street = excluded.side_of_street,
        from_street = excluded.from_street,
        to_street = excluded.to_street,
        borough = excluded.borough,
        zone = excluded.zone,
        rate_id = excluded.rate_id,
        max_stay = excluded.max_stay,
        status = excluded.status,
        meter_hours = excluded.meter_hours
    where (st_asbinary(s.location), s.street, s.side_of_street, s.from_street, s.to_street,
           s.borough, s.zone, s.rate_id, s.max_stay, s.status, s.meter_hours)
          is distinct from
          (st_asbinary(excluded.location), excluded.street, excluded.side_of_street,
           excluded.from_street, excluded.to_street, excluded.borough, excluded.zone,
           excluded.rate_id, excluded.max_stay, excluded.status, excluded.meter_hours)
    returning s.external_id, s.xmax = 0 as is_new
  )
  select t.line,
         case
           when t.why is not null then 'rejected'
           when w.is_new then 'inserted'
           when w.is_new is not null then 'updated'
           else 'unchanged'
         end,
         t.why
  from pg_temp.spots_import_rows_v1 t
  left join written w on w.external_id = t.external_id and t.why is null
  order by t.ord;
end;
$_$;

--
-- Name: FUNCTION spots_import(rows jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_import(rows jsonb) IS 'Imports parking meters: rows is a JSON array of objects keyed by the city CSV''s column names in snake_case (meter_number, status, pay_by_cell_number, meter_hours, borough, on_street, side_of_street, from_street, to_street, latitude, longitude, location, hourly_rate) plus an optional row_number for reporting; without hourly_rate the zone''s price (app_private.meter_zone_prices) applies. Derives each row''s rate (price + Meter_Hours), upserts rates, rate_hours and spots (on external_id), and returns one row per input row: inserted, updated, unchanged, or rejected with a reason. Rejected rows write nothing. Idempotent.';

--
-- Name: spots_sync_batch(bigint, jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_batch(run_id bigint, rows jsonb) RETURNS TABLE(row_number integer, outcome text, reason text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_fresh jsonb;
  v_dups  jsonb;
begin
  if current_setting('app.sync_run_id', true) is distinct from spots_sync_batch.run_id::text then
    raise exception 'spots_sync_batch: set app.sync_run_id to the run id in this transaction first' using errcode = '22023';
  end if;
  -- The meter numbers this run has seen, for spots_sync_finish; gone at commit.
  if to_regclass('pg_temp.spots_sync_seen') is null then
    create temp table spots_sync_seen (external_id text primary key) on commit drop;
  end if;
  -- A meter listed twice in one snapshot: the first row counts.
  select coalesce(jsonb_agg(r.e order by r.ord) filter (where s.external_id is null), '[]'),
         coalesce(jsonb_agg(r.e order by r.ord) filter (where s.external_id is not null), '[]')
    into v_fresh, v_dups
  from jsonb_array_elements(spots_sync_batch.rows) with ordinality as r(e, ord)
  left join pg_temp.spots_sync_seen s on s.external_id = nullif(btrim(r.e ->> 'meter_number'), '');
  return query
    select (d ->> 'row_number')::int, 'rejected'::text, 'duplicate meter number (listed earlier in the snapshot)'::text
    from jsonb_array_elements(v_dups) d;
  return query select * from app_private.spots_import(v_fresh);
  -- Every listed meter counts as seen, even a row rejected for a bad field:
  -- a typo in the feed must not take a meter out of service.
  insert into pg_temp.spots_sync_seen (external_id)
  select distinct t.external_id from pg_temp.spots_import_rows_v1 t where t.external_id is not null
  on conflict do nothing;
end;
$$;

--
-- Name: FUNCTION spots_sync_batch(run_id bigint, rows jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_batch(run_id bigint, rows jsonb) IS 'Imports one batch of a sync run through app_private.spots_import (same rows, same answers) and remembers the meter numbers seen; a meter already seen in this run is rejected as a duplicate.';

--
-- Name: spots_sync_begin(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_begin(source_url text, OUT run_id bigint, OUT etag text, OUT last_modified text, OUT retry_at timestamp with time zone) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  select s.etag, s.last_modified, s.retry_at into etag, last_modified, retry_at
  from app_private.spot_sync_sources s where s.source_url = spots_sync_begin.source_url;
  if retry_at > now() then
    return;  -- backing off: no run
  end if;
  retry_at := null;
  -- Runs of a source never overlap (one queue), so one still running now was
  -- cut short by a worker that died: its transaction died with it, nothing changed.
  update app_public.spot_sync_runs r
  set finished_at = now(), outcome = 'failed', error = 'interrupted: the worker stopped during the run; nothing was changed'
  where r.source_url = spots_sync_begin.source_url and r.outcome = 'running';
  -- A 30 s interval makes 2,880 runs a day, nearly all 304s: those are kept a
  -- week (runs that changed something stay, with the history they wrote).
  delete from app_public.spot_sync_runs r
  where r.outcome = 'not_modified' and r.started_at < now() - interval '7 days';
  insert into app_public.spot_sync_runs (source_url) values (spots_sync_begin.source_url) returning id into run_id;
end;
$$;

--
-- Name: FUNCTION spots_sync_begin(source_url text, OUT run_id bigint, OUT etag text, OUT last_modified text, OUT retry_at timestamp with time zone); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_begin(source_url text, OUT run_id bigint, OUT etag text, OUT last_modified text, OUT retry_at timestamp with time zone) IS 'Starts a sync run of a source: the run id and the validators to send (If-None-Match / If-Modified-Since), or no run and the time to retry while the source is backed off. Closes a run a dead worker left running (failed, nothing changed) and forgets 304 runs older than a week.';

--
-- Name: spots_sync_failed(bigint, text, integer, integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_failed(run_id bigint, error text, backoff_seconds integer, backoff_max_seconds integer) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_source   text;
  v_failures int;
  v_retry_at timestamptz;
begin
  update app_public.spot_sync_runs set finished_at = now(), outcome = 'failed', error = left(spots_sync_failed.error, 2000)
  where id = spots_sync_failed.run_id returning source_url into v_source;
  insert into app_private.spot_sync_sources as s (source_url, failures, last_error)
  values (v_source, 1, left(spots_sync_failed.error, 2000))
  on conflict (source_url) do update
  set failures = s.failures + 1, last_error = excluded.last_error, updated_at = now()
  returning s.failures into v_failures;
  -- backoff_seconds, doubling with each failure in a row, at most backoff_max_seconds.
  v_retry_at := now() + make_interval(secs => least(
    spots_sync_failed.backoff_max_seconds::double precision,
    spots_sync_failed.backoff_seconds * power(2, least(v_failures - 1, 30))));
  update app_private.spot_sync_sources set retry_at = v_retry_at where source_url = v_source;
  return v_retry_at;
end;
$$;

--
-- Name: FUNCTION spots_sync_failed(run_id bigint, error text, backoff_seconds integer, backoff_max_seconds integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_failed(run_id bigint, error text, backoff_seconds integer, backoff_max_seconds integer) IS 'Records a failed sync run (its transaction already rolled back: nothing changed) and backs the source off: backoff_seconds, doubling per failure in a row, at most backoff_max_seconds; returns when to try again.';

--
-- Name: spots_sync_finish(bigint, text, text, integer, integer, integer, integer, integer, jsonb); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_finish(run_id bigint, etag text, last_modified text, rows_seen integer, inserted integer, changed integer, unchanged integer, rejected integer, rejects jsonb) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_removed int;
  v_active  int;
  v_source  text;
begin
  if to_regclass('pg_temp.spots_sync_seen') is null then
    raise exception 'spots_sync_finish: no batch of this run in this transaction' using errcode = '22023';
  end if;
  select count(*) filter (where not exists (select from pg_temp.spots_sync_seen x where x.external_id = s.external_id)),
         count(*)
    into v_removed, v_active
  from app_public.spots s where s.external_id is not null and s.status = 'active';
  if v_removed > app_private.spots_sync_removed_max(v_active) then
    raise exception 'The snapshot leaves out % of the % active meters; one run may take at most % out of service (a cut or wrong file?)',
      v_removed, v_active, app_private.spots_sync_removed_max(v_active);
  end if;
  update app_public.spots s set status = 'out_of_service'
  where s.external_id is not null and s.status = 'active'
    and not exists (select from pg_temp.spots_sync_seen x where x.external_id = s.external_id);
  get diagnostics v_removed = row_count;
  update app_public.spot_sync_runs r
  set finished_at = now(), outcome = 'succeeded', rows_seen = spots_sync_finish.rows_seen,
      inserted = spots_sync_finish.inserted, changed = spots_sync_finish.changed,
      unchanged = spots_sync_finish.unchanged, removed = v_removed,
      rejected = spots_sync_finish.rejected, rejects = spots_sync_finish.rejects
  where r.id = spots_sync_finish.run_id
  returning r.source_url into v_source;
  insert into app_private.spot_sync_sources as s (source_url, etag, last_modified)
  values (v_source, spots_sync_finish.etag, spots_sync_finish.last_modified)
  on conflict (source_url) do update
  set etag = excluded.etag, last_modified = excluded.last_modified, failures = 0, retry_at = null,
      last_error = null, updated_at = now();
  return v_removed;
end;
$$;

--
-- Name: FUNCTION spots_sync_finish(run_id bigint, etag text, last_modified text, rows_seen integer, inserted integer, changed integer, unchanged integer, rejected integer, rejects jsonb); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_finish(run_id bigint, etag text, last_modified text, rows_seen integer, inserted integer, changed integer, unchanged integer, rejected integer, rejects jsonb) IS 'Ends a successful sync run inside its transaction: puts active meters the snapshot did not list out of service (returns how many; more than app_private.spots_sync_removed_max fails the run), writes the run''s summary, keeps the source''s validators and clears its back-off.';

--
-- Name: spots_sync_not_modified(bigint); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_not_modified(run_id bigint) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  with run as (
    update app_public.spot_sync_runs set finished_at = now(), outcome = 'not_modified'
    where id = spots_sync_not_modified.run_id returning source_url)
  update app_private.spot_sync_sources s set failures = 0, retry_at = null, last_error = null, updated_at = now()
  from run where s.source_url = run.source_url;
$$;

--
-- Name: FUNCTION spots_sync_not_modified(run_id bigint); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_not_modified(run_id bigint) IS 'Ends a sync run whose source answered 304 Not Modified: nothing read, back-off cleared.';

--
-- Name: spots_sync_removed_max(integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_removed_max(active integer) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$
  -- A city retires a few meters at a time. A snapshot that leaves out more is
  -- far likelier a cut or wrong file, and would empty the map: 20 % of the
  -- active meters at most, and never fewer than 50 (small inventories).
  select greatest(50, ceil(spots_sync_removed_max.active * 0.2)::int);
$$;

--
-- Name: FUNCTION spots_sync_removed_max(active integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_removed_max(active integer) IS 'How many of a source''s active meters one sync run may put out of service: 20 %, at least 50. A run that would remove more fails, changing nothing.';

--
-- Name: spots_sync_schedule(timestamp with time zone); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.spots_sync_schedule(run_at timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- One waiting sync (job key), in a queue of its own so two never run at once.
  select graphile_worker.add_job('spots__sync', '{}'::json, queue_name => 'spots_sync',
    run_at => spots_sync_schedule.run_at, max_attempts => 3, job_key => 'spots_sync', job_key_mode => 'replace');
$$;

--
-- Name: FUNCTION spots_sync_schedule(run_at timestamp with time zone); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.spots_sync_schedule(run_at timestamp with time zone) IS 'Queues the next inventory sync at run_at (replacing a waiting one).';

--
-- Name: stripe_webhook_receive(jsonb, text, integer); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.stripe_webhook_receive(event jsonb, card_fingerprint text DEFAULT NULL::text, card_upcoming_max integer DEFAULT NULL::integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
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
      -- The server's limit, as the API sends it with every request (app.card_upcoming_max).
      if stripe_webhook_receive.card_upcoming_max is not null then
        perform set_config('app.card_upcoming_max', stripe_webhook_receive.card_upcoming_max::text, true);
      end if;
      perform app_private.setup_intent_apply(v_reservation_id,
        v_obj - 'payment_method' || jsonb_build_object('payment_method',
          case jsonb_typeof(v_obj->'payment_method') when 'object' then v_obj->'payment_method'->'id'
                                                     else v_obj->'payment_method' end,
          'card_fingerprint', stripe_webhook_receive.card_fingerprint));
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
  elsif event->>'type' in ('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated') then
    perform app_private.refund_from_stripe(v_obj);
  end if;
  -- Every other type is acknowledged and kept in the inbox, unhandled.
  update app_private.stripe_webhook_events e set processed_at = now() where e.id = event->>'id';
  return true;
end;
$_$;

--
-- Name: FUNCTION stripe_webhook_receive(event jsonb, card_fingerprint text, card_upcoming_max integer); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.stripe_webhook_receive(event jsonb, card_fingerprint text, card_upcoming_max integer) IS 'Records a verified Stripe event once (false for a replay) and applies it: setup_intent.* → card set-up (confirming the reservation on success, unless card_fingerprint, the set-up card''s as the server looked it up, already backs card_upcoming_max reservations to come), payment_intent.* → a charge left processing, refund.* → app_private.refund_from_stripe.';

--
-- Name: tg__audit(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION tg__audit(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg__audit() IS 'AFTER row trigger: writes the change (changed columns only, for updates) to app_public.audit_log when staff (operator, admin, enforcement) made it. Arguments: the audited name (default the table''s) and the key column (default id).';

--
-- Name: tg__customer_from_booker(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg__customer_from_booker() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION tg__customer_from_booker(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg__customer_from_booker() IS 'AFTER INSERT trigger on users (drivers) and reservations: makes sure the account or guest email has a customer row (a soft-deleted one stays deleted).';

--
-- Name: tg__staff_stamps(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg__staff_stamps() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION tg__staff_stamps(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg__staff_stamps() IS 'BEFORE trigger: created_by (insert) and updated_by (update, when the table has it) from the current session when it is staff''s, else null.';

--
-- Name: tg__timestamps(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg__timestamps() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  new.created_at := case when tg_op = 'INSERT' then now() else old.created_at end;
  new.updated_at := case
    when tg_op = 'UPDATE' and old.updated_at >= now() then old.updated_at + interval '1 millisecond'
    else now()
  end;
  return new;
end;
$$;

--
-- Name: FUNCTION tg__timestamps(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg__timestamps() IS 'Keeps created_at fixed and updated_at strictly increasing on every write.';

--
-- Name: tg_reservations__changes(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_reservations__changes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
  v_changes app_private.reservation_change[];
begin
  if tg_op = 'INSERT' then
    v_changes := array(select row(null, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n order by n.id);
  else
    v_changes := array(select row(row(o.*)::app_public.reservations, row(n.*)::app_public.reservations)::app_private.reservation_change
                       from new_rows n join old_rows o on o.id = n.id order by n.id);
  end if;
  if cardinality(v_changes) = 0 then
    return null;
  end if;
  perform app_private.reservations_audit(v_changes);
  perform app_private.reservations_emails(v_changes);
  perform app_private.reservations_live(v_changes);
  return null;
end;
$$;

--
-- Name: FUNCTION tg_reservations__changes(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_reservations__changes() IS 'After each insert or update statement on reservations: its audit rows, emails and live events, set-based (reservations_audit, reservations_emails, reservations_live).';

--
-- Name: tg_reservations__remind_at(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_reservations__remind_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_remind_at timestamptz;
begin
  if new.kind <> 'reservation' or new.status <> 'confirmed' then
    new.remind_at := null;
  elsif tg_op = 'INSERT' or new.status is distinct from old.status or new.period is distinct from old.period then
    -- A reminder only when it would come after the start and in the future
    -- (one confirmed too late for it gets none); a stay under an hour is
    -- reminded a quarter of its length before its end (booking_reminder_at).
    v_remind_at := app_hidden.booking_reminder_at(new.period);
    new.remind_at := case when v_remind_at > greatest(now(), lower(new.period)) then v_remind_at end;
  end if;
  return new;
end;
$$;

--
-- Name: FUNCTION tg_reservations__remind_at(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_reservations__remind_at() IS 'Sets remind_at, when the due-work sweep emails a confirmed reservation''s reminder (booking_reminder_at: 15 minutes before its end, a quarter of the stay for one under an hour); moved with the end, cleared once it is no longer confirmed.';

--
-- Name: tg_spots__history_inserted(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_spots__history_inserted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  insert into app_public.spot_changes (spot_id, field, old_value, new_value, sync_run_id, source)
  select n.id, 'created', null, n.external_id, src.sync_run_id, src.source
  from new_spots n cross join app_private.spot_change_source() src;
  return null;
end;
$$;

--
-- Name: FUNCTION tg_spots__history_inserted(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_spots__history_inserted() IS 'One ''created'' spot_changes row per new spot, with the sync run or source from the transaction''s settings.';

--
-- Name: tg_spots__history_updated(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_spots__history_updated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  insert into app_public.spot_changes (spot_id, field, old_value, new_value, sync_run_id, source)
  select n.id, f.key, f.old_value, f.new_value, src.sync_run_id, src.source
  from new_spots n
  join old_spots o on o.id = n.id
  cross join lateral (
    select nv.key, ov.value #>> '{}' as old_value, nv.value #>> '{}' as new_value
    from jsonb_each(app_private.spot_history_fields(n)) nv
    join jsonb_each(app_private.spot_history_fields(o)) ov using (key)
    where nv.value is distinct from ov.value
  ) f
  cross join app_private.spot_change_source() src
  order by n.id;
  return null;
end;
$$;

--
-- Name: FUNCTION tg_spots__history_updated(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_spots__history_updated() IS 'One spot_changes row per followed field that an update really changed (a write that changes nothing leaves none), with the sync run or source from the transaction''s settings.';

--
-- Name: tg_spots__live(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_spots__live() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.live_events_record(array[new.id],
    array[case new.status when 'active' then 'in_service' else 'out_of_service' end], array[null::tstzrange]);
  return null;
end;
$$;

--
-- Name: FUNCTION tg_spots__live(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_spots__live() IS 'Live event of a spot put out of service or back in service.';

--
-- Name: tg_users__customer_name(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_users__customer_name() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- The customer record starts with the account's name. It follows the
  -- account's renames (updateUser, a reset of an unproved account) until
  -- staff give it a name of their own: then the names differ, and staff's stays.
  update app_public.customers c set name = new.name
  where c.user_id = new.id and c.name is not distinct from old.name and new.name is distinct from old.name;
  return null;
end;
$$;

--
-- Name: FUNCTION tg_users__customer_name(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_users__customer_name() IS 'AFTER UPDATE OF name trigger on users: the account''s customer record takes the new name, unless staff changed the record''s name.';

--
-- Name: tg_users__name(); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.tg_users__name() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Every path that writes a name (sign-up, updateUser, invitations, OAuth,
  -- the CLI, a migration) passes this trigger, so none can skip the rule.
  new.name := app_hidden.assert_name(new.name);
  return new;
end;
$$;

--
-- Name: FUNCTION tg_users__name(); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.tg_users__name() IS 'Stores users.name as app_hidden.assert_name returns it, or refuses the write with SMA05.';

--
-- Name: token_hash(text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.token_hash(token text) RETURNS bytea
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select digest(coalesce(token, ''), 'sha256');
$$;

--
-- Name: FUNCTION token_hash(token text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.token_hash(token text) IS 'SHA-256 of a token: what tables keep instead of the token.';

--
-- Name: user_create(text, text, text, text, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.user_create(email text, name text, role text, password text DEFAULT NULL::text, invited_by text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION user_create(email text, name text, role text, password text, invited_by text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.user_create(email text, name text, role text, password text, invited_by text) IS 'Creates a user with a role (pre-registration): with a password (verified at once), or else with a 7-day invitation link emailed as staff_invite. Used by `npm run cli -- user:create` and invite_staff.';

--
-- Name: user_token_issue(bigint, text, public.citext, interval, boolean); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.user_token_issue(user_id bigint, kind text, email public.citext, valid_for interval, replaces_older boolean DEFAULT true) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_token text := app_private.new_token();
begin
  -- A new link replaces older unused ones of the same kind, unless anyone may
  -- ask for one (a password reset): then a stranger's request would void the
  -- link the owner is about to follow.
  if user_token_issue.replaces_older then
    perform app_private.user_tokens_void(user_token_issue.user_id, user_token_issue.kind);
  end if;
  insert into app_private.user_tokens (user_id, kind, token_hash, email, created_at, expires_at)
  values (user_token_issue.user_id, user_token_issue.kind, app_private.token_hash(v_token), user_token_issue.email,
          app_hidden.clock_now(), app_hidden.clock_now() + valid_for);
  return v_token;
end;
$$;

--
-- Name: FUNCTION user_token_issue(user_id bigint, kind text, email public.citext, valid_for interval, replaces_older boolean); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.user_token_issue(user_id bigint, kind text, email public.citext, valid_for interval, replaces_older boolean) IS 'Issues a one-time token of a kind for a user (older unused ones of that kind stop working, unless replaces_older is false); returns the token.';

--
-- Name: user_tokens; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.user_tokens (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    kind text NOT NULL,
    token_hash bytea NOT NULL,
    email public.citext NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT user_tokens_kind_check CHECK ((kind = ANY (ARRAY['verify_email'::text, 'password_reset'::text, 'invite'::text])))
);

--
-- Name: TABLE user_tokens; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.user_tokens IS 'One-time links sent by email (SHA-256 of the token only): email verification, password reset, staff invitation.';

--
-- Name: user_token_use(text, text[]); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.user_token_use(token text, kinds text[]) RETURNS app_private.user_tokens
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_row app_private.user_tokens;
begin
  -- Marking it used in the same statement that finds it makes it single use
  -- even under concurrent clicks.
  update app_private.user_tokens t set used_at = app_hidden.clock_now()
  where t.token_hash = app_private.token_hash(user_token_use.token)
    and t.kind = any(user_token_use.kinds)
    and t.used_at is null
    and t.expires_at > app_hidden.clock_now()
  returning t.* into v_row;
  if v_row.id is null then
    raise exception 'This link is invalid, was already used, or has expired' using errcode = 'SMA07';
  end if;
  return v_row;
end;
$$;

--
-- Name: FUNCTION user_token_use(token text, kinds text[]); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.user_token_use(token text, kinds text[]) IS 'Consumes a one-time token of one of the kinds, or error SMA07.';

--
-- Name: user_tokens_void(bigint, text); Type: FUNCTION; Schema: app_private; Owner: -
--

CREATE FUNCTION app_private.user_tokens_void(user_id bigint, kind text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  update app_private.user_tokens t set expires_at = least(t.expires_at, app_hidden.clock_now())
  where t.user_id = user_tokens_void.user_id and t.kind = user_tokens_void.kind and t.used_at is null;
end;
$$;

--
-- Name: FUNCTION user_tokens_void(user_id bigint, kind text); Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON FUNCTION app_private.user_tokens_void(user_id bigint, kind text) IS 'Makes every unused token of a kind of a user stop working.';

--
-- Name: customer_notes; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.customer_notes (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    body text NOT NULL,
    created_by bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT customer_notes_body_check CHECK (((length(body) >= 1) AND (length(body) <= 2000)))
);

--
-- Name: TABLE customer_notes; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.customer_notes IS '@behavior -insert -update -delete
Staff notes on a customer, newest last.';

--
-- Name: add_customer_note(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.add_customer_note(customer_id bigint, body text) RETURNS app_public.customer_notes
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION add_customer_note(customer_id bigint, body text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.add_customer_note(customer_id bigint, body text) IS 'Staff (SMC01): adds a note (1–2000 characters, SMC05) to a customer (SMC03 unknown or deleted).';

--
-- Name: audit_log; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.audit_log (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor_user_id bigint,
    actor_role text NOT NULL,
    table_name text NOT NULL,
    record_id text,
    action text NOT NULL,
    old_values jsonb,
    new_values jsonb,
    CONSTRAINT audit_log_action_check CHECK ((action = ANY (ARRAY['insert'::text, 'update'::text, 'delete'::text, 'lookup'::text])))
);

--
-- Name: TABLE audit_log; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.audit_log IS '@behavior -insert -update -delete
Who changed what and when: one row per staff change (customers, notes, spots, rates, blocks, refunds, roles, zones) or enforcement lookup, written in the same transaction. Admins only; read-only.';

--
-- Name: COLUMN audit_log.at; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.at IS 'When the change was made (its transaction''s time).';

--
-- Name: COLUMN audit_log.actor_user_id; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.actor_user_id IS 'The signed-in staff member who made it.';

--
-- Name: COLUMN audit_log.actor_role; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.actor_role IS 'The actor''s role then: operator, admin or enforcement.';

--
-- Name: COLUMN audit_log.table_name; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.table_name IS 'What was changed: customers, customer_notes, spots, rates, blocks, refunds, users (roles), operator_zones, or enforcement_lookups.';

--
-- Name: COLUMN audit_log.record_id; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.record_id IS 'The changed row''s id (as text; users and zones: the user id).';

--
-- Name: COLUMN audit_log.action; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.action IS 'insert, update, delete, or lookup (enforcement).';

--
-- Name: COLUMN audit_log.old_values; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.old_values IS 'The changed columns before (update, delete).';

--
-- Name: COLUMN audit_log.new_values; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.audit_log.new_values IS 'The changed columns after (insert, update), or a lookup''s question and answer.';

--
-- Name: audit_entries(text, text, bigint, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.audit_entries(table_name text DEFAULT NULL::text, record_id text DEFAULT NULL::text, actor_user_id bigint DEFAULT NULL::bigint, since timestamp with time zone DEFAULT NULL::timestamp with time zone, until timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF app_public.audit_log
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION audit_entries(table_name text, record_id text, actor_user_id bigint, since timestamp with time zone, until timestamp with time zone); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.audit_entries(table_name text, record_id text, actor_user_id bigint, since timestamp with time zone, until timestamp with time zone) IS 'Admins only (SMA10): the audit log, newest first, filtered by what was changed (table name, row id), who changed it, and a time range [since, until). A table name over 63 characters or a row id over 100 is refused (22001).';

--
-- Name: auth_session_user(app_public.auth_session); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.auth_session_user(session app_public.auth_session) RETURNS app_public.users
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- The user of a session just opened (sign-up), for the holder of its token
  -- only: the row is not visible to the still-anonymous request otherwise.
  select u.*
  from app_private.sessions s
  join app_public.users u on u.id = s.user_id
  where s.id = session.session_id and s.user_id = session.user_id
    and s.token_hash = app_private.token_hash(session.token) and s.revoked_at is null;
$$;

--
-- Name: FUNCTION auth_session_user(session app_public.auth_session); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.auth_session_user(session app_public.auth_session) IS '@behavior -queryField
The signed-in user of this session (email, name, role, whether the email is verified).';

--
-- Name: available_spots(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.available_spots() RETURNS SETOF app_public.spots
    LANGUAGE sql STABLE
    AS $$
  select s.*
  from app_public.spots s
  where s.status = 'active'
    and not exists (
      select from app_hidden.spot_occupancy o
      where o.spot_id = s.id and o.period @> now())
  order by s.id;
$$;

--
-- Name: FUNCTION available_spots(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.available_spots() IS 'Spots in service that nobody holds right now, by id.';

--
-- Name: block_spot(bigint, timestamp with time zone, timestamp with time zone, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.block_spot(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text DEFAULT NULL::text) RETURNS app_public.reservations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user  app_public.users;
  v_start timestamptz := greatest(coalesce(block_spot.starts_at, now()), now());
  v_spot  app_public.spots;
  v_r     app_public.reservations;
begin
  select u.* into v_user from app_public.users u where u.id = app_public.current_user_id();
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators can block a spot' using errcode = 'SMB10';
  end if;
  if block_spot.ends_at is null or not isfinite(block_spot.ends_at) or not isfinite(v_start)
     or block_spot.ends_at <= v_start then
    raise exception 'A block needs an end after its start, and after now' using errcode = 'SMB03';
  end if;
  if block_spot.ends_at - v_start > app_hidden.block_max_length() then
    raise exception 'A block may last at most 366 days' using errcode = 'SMB04';
  end if;
  perform app_hidden.lock_spot(block_spot.spot_id);
  select s.* into v_spot from app_public.spots s where s.id = block_spot.spot_id;
  if not found then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  end if;
  if not app_hidden.current_user_may_manage(v_spot.borough) then
    raise exception 'Spot % is outside your zones', v_spot.id using errcode = 'SMO02';
  end if;
  begin
    insert into app_public.reservations (kind, spot_id, user_id, email, period, status, amount, currency, note)
    values ('block', v_spot.id, v_user.id, v_user.email, tstzrange(v_start, block_spot.ends_at, '[)'),
            'confirmed', 0, (select r.currency from app_public.rates r where r.id = v_spot.rate_id),
            block_spot.reason)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'The spot is reserved or already blocked during that time; cancel those reservations or remove that block first'
      using errcode = 'SMB01';
  end;
  return v_r;
end;
$$;

--
-- Name: FUNCTION block_spot(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.block_spot(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text) IS 'Operators (in the spot''s zone, SMO02) and admins: takes a spot out of use from startsAt (default now) to endsAt, e.g. for maintenance. Refused (SMB01) while a reservation overlaps; no reservation can overlap it afterwards.';

--
-- Name: cancel_reservation(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.cancel_reservation(reservation_id bigint, manage_token text DEFAULT NULL::text) RETURNS app_public.reservation_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(cancel_reservation.reservation_id, cancel_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be cancelled', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) <= now() then
    raise exception 'This reservation has already started; end it now instead (%)',
      case when v_r.status = 'held' then 'no card was set up, so nothing is charged'
           else 'you pay only for the time used' end
      using errcode = 'SMB09';
  end if;
  update app_public.reservations r
  set status = 'cancelled', amount = 0, hold_expires_at = null
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;

--
-- Name: FUNCTION cancel_reservation(reservation_id bigint, manage_token text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.cancel_reservation(reservation_id bigint, manage_token text) IS 'Cancels a reservation before it starts, free of charge (nothing is ever charged for a cancelled reservation). Once it has started, end it instead (SMB09). Guests pass the manage token.';

--
-- Name: change_password(text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.change_password(old_password text, new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user app_public.users;
  v_password text;
begin
  select u.* into v_user from app_public.users u where u.id = app_hidden.assert_signed_in();
  if not app_private.password_matches(v_user.id, old_password) then
    raise exception 'Your current password is not correct' using errcode = 'SMA09';
  end if;
  v_password := app_hidden.assert_password(new_password, v_user.email);
  perform app_private.password_set(v_user.id, v_password);
  -- Whoever else holds a session (perhaps the reason for the change) is out.
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.id is distinct from app_public.current_session_id() and s.revoked_at is null;
  perform app_private.email_enqueue('password_changed', v_user.email, jsonb_build_object('name', v_user.name));
  return true;
end;
$$;

--
-- Name: FUNCTION change_password(old_password text, new_password text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.change_password(old_password text, new_password text) IS 'Changes your password (the current one is required: SMA09 when wrong) and signs out all your other sessions. At most 10 attempts in 15 minutes (SMA02).';

--
-- Name: change_reservation_end(bigint, timestamp with time zone, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.change_reservation_end(reservation_id bigint, ends_at timestamp with time zone, manage_token text DEFAULT NULL::text) RETURNS app_public.reservation_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r      app_public.reservations;
  v_spot   app_public.spots;
  v_window tstzrange;
  v_quote  app_public.price_quote;
begin
  v_r := app_private.reservation_for_caller(change_reservation_end.reservation_id, change_reservation_end.manage_token, true);
  perform app_hidden.assert_changeable(v_r);
  if change_reservation_end.ends_at is null or not isfinite(change_reservation_end.ends_at) then
    raise exception 'Give the new end time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at <= now() then
    raise exception 'The new end time has already passed' using errcode = 'SMB09';
  end if;
  if change_reservation_end.ends_at <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  if change_reservation_end.ends_at = upper(v_r.period) then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  v_window := tstzrange(lower(v_r.period), change_reservation_end.ends_at, '[)');
  select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
  v_quote := app_hidden.reservation_quote(v_r, v_window);

  -- Row lock first (above), then the spot's: every writer takes them in this
  -- order. The joined maximum stay reads the driver's other stays on the spot.
  perform app_hidden.lock_spot(v_r.spot_id);
  perform app_private.assert_new_end(v_r, v_spot, v_window);
  begin
    update app_public.reservations r
    set period = v_window, amount = v_quote.amount, currency = v_quote.currency,
        -- A hold never outlives the reservation it holds.
        hold_expires_at = case when r.status = 'held'
          then least(r.hold_expires_at, upper(v_window)) end
    where r.id = v_r.id
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, the spot is taken by someone else after your current end time'
      using errcode = 'SMB01';
  end;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;

--
-- Name: FUNCTION change_reservation_end(reservation_id bigint, ends_at timestamp with time zone, manage_token text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.change_reservation_end(reservation_id bigint, ends_at timestamp with time zone, manage_token text) IS 'Moves the end of your reservation (longer or shorter) and re-prices it at the rate it was booked under (a rate changed since does not apply). Guests pass the manage token. Refused when the spot is taken after the current end (SMB01), the new end has passed (SMB09), is not after the start or leaves less than a minute (SMB03), extends a reservation on a spot out of service (SMB02), exceeds the spot''s maximum stay (SMB04), extends while a reservation of the same verified driver or card is unpaid (SMB13), or the reservation is over, cancelled or expired (SMB07).';

--
-- Name: create_customer(text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.create_customer(email text, name text, surname text) RETURNS app_public.customers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION create_customer(email text, name text, surname text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.create_customer(email text, name text, surname text) IS 'Staff (SMC01): a new customer record with a unique email (SMC02; SMA03 when not an email) and a name and surname (SMC04).';

--
-- Name: create_rate(text, text, integer, text, integer, integer, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.create_rate(code text, name text, hourly_price integer, currency text DEFAULT 'USD'::text, billing_increment_minutes integer DEFAULT 1, minimum_charge integer DEFAULT 0, time_zone text DEFAULT 'America/New_York'::text) RETURNS app_public.rates
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION create_rate(code text, name text, hourly_price integer, currency text, billing_increment_minutes integer, minimum_charge integer, time_zone text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.create_rate(code text, name text, hourly_price integer, currency text, billing_increment_minutes integer, minimum_charge integer, time_zone text) IS 'Operators and admins: a new rate metered around the clock (setRateHours limits it). SMO08 bad values (and codes starting meter-, the city import''s), SMO09 code taken.';

--
-- Name: create_spot(double precision, double precision, text, integer, text, text, text, text, text, integer, boolean, boolean); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.create_spot(lat double precision, lng double precision, street text, rate_id integer, borough text DEFAULT NULL::text, zone text DEFAULT NULL::text, side_of_street text DEFAULT NULL::text, from_street text DEFAULT NULL::text, to_street text DEFAULT NULL::text, max_stay_minutes integer DEFAULT 120, is_accessible boolean DEFAULT false, has_ev_charger boolean DEFAULT false) RETURNS app_public.spots
    LANGUAGE plpgsql
    AS $$
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
  if not app_hidden.current_user_may_join_rate(create_spot.rate_id, create_spot.borough) then
    raise exception 'Rate % belongs to another zone''s spots: use a rate of your own', create_spot.rate_id using errcode = 'SMO12';
  end if;
  -- Written as the request's role: row level security checks the zone again.
  insert into app_public.spots (location, street, rate_id, borough, zone, side_of_street, from_street, to_street,
                                max_stay, is_accessible, has_ev_charger)
  values (app_hidden.geo_point(lat, lng), app_hidden.spot_street(street), rate_id, nullif(btrim(borough), ''), zone, side_of_street,
          from_street, to_street, app_hidden.spot_max_stay(max_stay_minutes),
          coalesce(is_accessible, false), coalesce(has_ev_charger, false))
  returning * into v_s;
  return v_s;
end;
$$;

--
-- Name: FUNCTION create_spot(lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.create_spot(lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean) IS 'Operators in the borough''s zone and admins: a new active spot at (lat, lng). SMO01 not staff, SMO02 outside your zones, SMO06 no such rate, SMO12 a rate whose spots are all in another operator''s zones, SMO05 bad maximum stay, SMO11 no street (1 to 200 characters), SMS01 bad coordinates.';

--
-- Name: current_session_id(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.current_session_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$
  -- A pooled connection that once saw the setting reports '' rather than null.
  select nullif(current_setting('app.session_id', true), '')::uuid;
$$;

--
-- Name: FUNCTION current_session_id(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.current_session_id() IS '@behavior -queryField
The session of the current request, or null when signed out.';

--
-- Name: current_user(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public."current_user"() RETURNS app_public.users
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- Security definer so that a visitor, who may not read users at all, gets
  -- null (signed out) rather than a permission error; the row is only ever
  -- the caller's own.
  select u.* from app_public.users u where u.id = app_public.current_user_id();
$$;

--
-- Name: FUNCTION "current_user"(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public."current_user"() IS 'The signed-in user, or null when signed out.';

--
-- Name: current_user_id(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.current_user_id() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_session uuid := app_public.current_session_id();
begin
  -- plpgsql rather than sql: a security definer sql function is never inlined
  -- and planned its query again at every call (every booking calls this twice,
  -- RLS once a statement); plpgsql keeps the plan. Signed out: no query at all.
  if v_session is null then
    return null;
  end if;
  -- The server only sets live sessions, but a request can outlive its
  -- session's revocation or expiry: checked again here.
  return (
    select s.user_id
    from app_private.sessions s
    where s.id = v_session
      and s.revoked_at is null
      and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
      and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age());
end;
$$;

--
-- Name: FUNCTION current_user_id(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.current_user_id() IS '@behavior -queryField
The signed-in user''s id, or null.';

--
-- Name: customers_payments(app_public.customers); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.customers_payments(c app_public.customers) RETURNS SETOF app_public.customer_payment
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION customers_payments(c app_public.customers); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.customers_payments(c app_public.customers) IS 'Staff: the charges and refunds of the customer''s reservations, oldest first (empty for anyone else).';

--
-- Name: customers_photo_url(app_public.customers); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.customers_photo_url(c app_public.customers) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  -- The version in the query string changes with every upload, so a cached
  -- copy of an old photo is never shown for a new one.
  select case when c.photo_key is not null
    then '/customers/' || c.id || '/photo?v=' || (extract(epoch from c.photo_updated_at) * 1000)::bigint end;
$$;

--
-- Name: FUNCTION customers_photo_url(c app_public.customers); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.customers_photo_url(c app_public.customers) IS 'The photo''s path on the API (GET, staff only), or null without a photo. Upload with POST /customers/{id}/photo.';

--
-- Name: customers_reservations(app_public.customers); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.customers_reservations(c app_public.customers) RETURNS SETOF app_public.reservations
    LANGUAGE sql STABLE
    AS $$
  select r.* from app_public.reservations r
  where r.kind = 'reservation' and (r.email = c.email or r.user_id = c.user_id)
  order by lower(r.period) desc;
$$;

--
-- Name: FUNCTION customers_reservations(c app_public.customers); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.customers_reservations(c app_public.customers) IS 'The customer''s reservations, latest start first.';

--
-- Name: delete_customer(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.delete_customer(customer_id bigint) RETURNS app_public.customers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_c app_public.customers;
begin
  perform app_hidden.assert_staff();
  v_c := app_hidden.customer_live(customer_id);
  update app_public.customers c set deleted_at = now() where c.id = v_c.id returning * into v_c;
  return v_c;
end;
$$;

--
-- Name: FUNCTION delete_customer(customer_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.delete_customer(customer_id bigint) IS 'Staff (SMC01): soft-deletes a customer: gone from every list and search, kept with its reservations and audit rows; restoreCustomer brings it back. SMC03 unknown or already deleted.';

--
-- Name: end_reservation(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.end_reservation(reservation_id bigint, manage_token text DEFAULT NULL::text) RETURNS app_public.reservation_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r app_public.reservations;
begin
  v_r := app_private.reservation_for_caller(end_reservation.reservation_id, end_reservation.manage_token, true);
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and cannot be ended', v_r.status using errcode = 'SMB07';
  end if;
  if lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)'
      using errcode = 'SMB09';
  end if;
  if v_r.status = 'held' then
    -- No card was ever set up: ended, it is what its end would make of it
    -- (reservations_end_due), expired with nothing to charge. Completing it
    -- would charge a card that does not exist and leave a debt on the email.
    update app_public.reservations r
    set status = 'expired', amount = 0, hold_expires_at = null
    where r.id = v_r.id
    returning * into v_r;
    return row(v_r, null)::app_public.reservation_result;
  end if;
  return row(app_private.complete_reservation(v_r.id, now()), null)::app_public.reservation_result;
end;
$$;

--
-- Name: FUNCTION end_reservation(reservation_id bigint, manage_token text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.end_reservation(reservation_id bigint, manage_token text) IS 'Ends a reservation that has started, now: it is charged for the time used at the rate it was booked under (never less than the rate''s minimum charge) and the spot is free again. One still held (no card set up) expires instead, with no charge. Guests pass the manage token. A reservation that has not started is cancelled instead (SMB09).';

--
-- Name: enforcement_lookup(text, text, bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.enforcement_lookup(plate text, plate_state text DEFAULT NULL::text, spot_id bigint DEFAULT NULL::bigint, meter_number text DEFAULT NULL::text) RETURNS app_public.enforcement_answer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_role text := app_hidden.current_actor_role();
  v_plate text;
  v_state text;
  v_r app_public.reservations;
  v_now timestamptz := now();
  v_answer app_public.enforcement_answer;
  v_spot_id bigint := enforcement_lookup.spot_id;
begin
  if v_role is distinct from 'enforcement' and v_role is distinct from 'admin' then
    raise exception 'Only enforcement officers may look plates up' using errcode = 'SME02';
  end if;
  v_plate := app_hidden.plate(plate);
  v_state := app_hidden.plate_state(plate_state);
  -- On the street an officer reads the city's meter number off the sign; the
  -- spot id is ours. Either names the spot, not both.
  if nullif(btrim(enforcement_lookup.meter_number), '') is not null then
    if v_spot_id is not null then
      raise exception 'Give the spot or its meter number, not both' using errcode = 'SMS04';
    end if;
    select s.id into v_spot_id from app_public.spots s where s.external_id = btrim(enforcement_lookup.meter_number);
    if v_spot_id is null then
      raise exception 'There is no meter %', left(btrim(enforcement_lookup.meter_number), 50) using errcode = 'SMS04';
    end if;
  end if;
  -- A mistyped spot number must not read as "not valid".
  if v_spot_id is not null and not exists (select from app_public.spots s where s.id = v_spot_id) then
    raise exception 'There is no spot %', v_spot_id using errcode = 'SMS04';
  end if;
  -- A held reservation counts until its hold ends: its driver has booked and
  -- is giving a card. Once a day per plate: a hold that lapsed without a card
  -- after its stay had begun (the car could have parked under it) means the
  -- next ones do not count, or booking and dropping a hold every 15 minutes
  -- would park for free. The plate alone decides that: the state is the
  -- driver's word, and changing it at each hold would start the day afresh.
  select r.* into v_r from app_public.reservations r
  -- A reservation booked without a state holds whatever state the officer reads.
  where r.plate = v_plate and (v_state is null or r.plate_state is null or r.plate_state = v_state)
    and (v_spot_id is null or r.spot_id = v_spot_id)
    and r.kind = 'reservation' and r.period @> v_now
    and (r.status = 'confirmed'
         or (r.status = 'held' and r.hold_expires_at > v_now
             and not exists (
               select from app_public.reservations x
               where x.plate = r.plate and x.id <> r.id
                 and x.status = 'expired' and x.updated_at > v_now - interval '24 hours'
                 and lower(x.period) < x.updated_at)))
  order by r.status = 'confirmed' desc, upper(r.period) desc
  limit 1;
  v_answer := (v_plate, v_state, coalesce(v_spot_id, v_r.spot_id), v_r.id is not null,
               case when v_r.status = 'held' then least(v_r.hold_expires_at, upper(v_r.period)) else upper(v_r.period) end,
               v_now,
               -- The street's clock, to read valid_until as the signs do.
               app_hidden.spot_time_zone(coalesce(v_spot_id, v_r.spot_id)))::app_public.enforcement_answer;
  perform app_private.audit_write('enforcement_lookups', v_r.id::text, 'lookup', null, to_jsonb(v_answer));
  return v_answer;
end;
$$;

--
-- Name: FUNCTION enforcement_lookup(plate text, plate_state text, spot_id bigint, meter_number text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.enforcement_lookup(plate text, plate_state text, spot_id bigint, meter_number text) IS 'Enforcement officers and admins (SME02 otherwise): does this plate (state optional; SME01 when malformed) hold a confirmed reservation covering now, at this spot when one is given, or one still held (card being given; valid until its hold ends, and not after another hold of the plate lapsed without a card in the last 24 hours)? Answers without personal data; every lookup is written to the audit log. The spot by its id or by the city''s meter number on the sign (meterNumber); SMS04 for a spot or meter that does not exist, or both given.';

--
-- Name: forgot_password(text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.forgot_password(email text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_user app_public.users;
  v_token text;
begin
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('reset_pair', lower(v_email::text) || ' ' || host(app_hidden.client_ip())),
    app_private.rate_limit_hit('reset_ip', host(app_hidden.client_ip()))));
  select u.* into v_user from app_public.users u where u.email = v_email;
  -- The email's ceiling bounds the mail sent from many addresses; counted only
  -- once the pair is allowed (one address hammering must not use it up), and
  -- not for an address the account has signed in from.
  if not app_private.signed_in_from(v_user.id, app_hidden.client_ip()) then
    perform app_private.rate_limit_raise(app_private.rate_limit_hit('reset_email', lower(v_email::text)));
  end if;
  -- The answer is the same whether or not the account exists.
  if v_user.id is not null then
    -- Earlier links keep working (until used or expired): anyone may ask.
    v_token := app_private.user_token_issue(v_user.id, 'password_reset', v_user.email,
      app_hidden.user_token_valid_for('password_reset'), replaces_older => false);
    -- The name only once the address is proved (see send_verification).
    perform app_private.email_enqueue('password_reset', v_user.email,
      jsonb_build_object('name', case when v_user.is_verified then v_user.name end, 'token', v_token,
                         'expiresAt', app_hidden.clock_now() + app_hidden.user_token_valid_for('password_reset')));
  end if;
  return true;
end;
$$;

--
-- Name: FUNCTION forgot_password(email text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.forgot_password(email text) IS 'Emails a one-time password reset link (valid 1 hour; earlier links stay valid until one is used) when an account has this email; answers the same either way. Limited to 3 an hour per email and client address, 10 per email (not counting addresses the account signed in from) and 20 per client address (SMA02).';

--
-- Name: guest_reservation(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.guest_reservation(reservation_id bigint, manage_token text) RETURNS app_public.reservations
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.reservation_for_caller(guest_reservation.reservation_id, guest_reservation.manage_token, false);
$$;

--
-- Name: FUNCTION guest_reservation(reservation_id bigint, manage_token text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.guest_reservation(reservation_id bigint, manage_token text) IS 'A guest''s reservation, by its id and the manage token reserve() returned (error SMB06 otherwise).';

--
-- Name: invite_staff(text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.invite_staff(email text, name text, role text) RETURNS app_public.users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION invite_staff(email text, name text, role text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.invite_staff(email text, name text, role text) IS 'Admins only: pre-registers a staff member (operator, admin, analyst or enforcement officer) and emails them a link to set a password (7 days). Only pre-registered staff may sign in with Google or Facebook.';

--
-- Name: logout(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.logout() RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(app_private.session_revoke(app_public.current_session_id()), false);
$$;

--
-- Name: FUNCTION logout(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.logout() IS 'Signs out: revokes the session this request came with. Browsers should use POST /auth/logout, which also clears the cookie.';

--
-- Name: my_past_reservations(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.my_past_reservations() RETURNS SETOF app_public.reservations
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_user_id bigint := app_hidden.require_sign_in();
begin
  return query
    select r.* from app_public.reservations r
    where r.user_id = v_user_id and r.kind = 'reservation'
      and (not app_hidden.holds_spot(r.status) or upper(r.period) <= now())
    order by upper(r.period) desc, r.id desc;
end;
$$;

--
-- Name: FUNCTION my_past_reservations(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.my_past_reservations() IS 'Your ended, cancelled and expired reservations, latest first.';

--
-- Name: my_reservation(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.my_reservation(reservation_id bigint) RETURNS app_public.reservations
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_r app_public.reservations;
begin
  perform app_hidden.require_sign_in();
  -- Row level security decides: the owner, or staff.
  select r.* into v_r from app_public.reservations r where r.id = my_reservation.reservation_id;
  if not found then
    raise exception 'We could not find that reservation for you; check its number' using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;

--
-- Name: FUNCTION my_reservation(reservation_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.my_reservation(reservation_id bigint) IS 'One of your reservations by its id (staff: anyone''s). Guests use guestReservation with the manage token.';

--
-- Name: my_reservations(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.my_reservations() RETURNS SETOF app_public.reservations
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_user_id bigint := app_hidden.require_sign_in();
begin
  return query
    select r.* from app_public.reservations r
    where r.user_id = v_user_id and r.kind = 'reservation'
      and app_hidden.holds_spot(r.status) and upper(r.period) > now()
    order by lower(r.period), r.id;
end;
$$;

--
-- Name: FUNCTION my_reservations(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.my_reservations() IS 'Your current and upcoming reservations (held or confirmed, not yet ended), soonest first.';

--
-- Name: my_saved_spots(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.my_saved_spots(starts_at timestamp with time zone DEFAULT NULL::timestamp with time zone, ends_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF app_public.saved_spot_status
    LANGUAGE plpgsql STABLE
    AS $$
begin
  -- Signed out is SMA08, as saveSpot answers; the table's grant would refuse it with 42501.
  perform app_hidden.assert_signed_in();
  return query
    select s, v.saved_at,
      s.status = 'active'
        and s.max_stay >= app_hidden.window_length(w.w)
        and not exists (select from app_hidden.spot_occupancy o where o.spot_id = s.id and o.period && w.w),
      app_hidden.quote_rate(s.rate_id, w.w)
    from (select app_hidden.search_window(my_saved_spots.starts_at, my_saved_spots.ends_at) as w) w
    join app_public.saved_spots v on v.user_id = app_public.current_user_id()
    join app_public.spots s on s.id = v.spot_id
    order by v.saved_at desc, s.id;
end;
$$;

--
-- Name: FUNCTION my_saved_spots(starts_at timestamp with time zone, ends_at timestamp with time zone); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.my_saved_spots(starts_at timestamp with time zone, ends_at timestamp with time zone) IS 'The signed-in driver''s saved spots, newest first, each with whether it is free for the window [startsAt, endsAt) (default: the next hour) and its price for it. Signed out: SMA08.';

--
-- Name: my_sessions(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.my_sessions() RETURNS SETOF app_public.session_info
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  return query
  select s.id, s.method, s.created_at, s.last_active_at,
         least(s.last_active_at + app_hidden.session_idle_timeout(), s.created_at + app_hidden.session_max_age()),
         s.id = app_public.current_session_id()
  from app_private.sessions s
  where s.user_id = v_user_id
    and s.revoked_at is null
    and s.last_active_at > app_hidden.clock_now() - app_hidden.session_idle_timeout()
    and s.created_at > app_hidden.clock_now() - app_hidden.session_max_age()
  order by s.created_at desc;
end;
$$;

--
-- Name: FUNCTION my_sessions(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.my_sessions() IS 'The signed-in user''s live sessions, newest first (SMA08 signed out).';

--
-- Name: quote(bigint, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.quote(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone) RETURNS app_public.price_quote
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_spot   app_public.spots;
  v_window tstzrange;
begin
  if quote.spot_id is null then
    raise exception 'Give the spot to price (spotId)' using errcode = 'SMS04';
  end if;
  select s.* into v_spot from app_public.spots s where s.id = quote.spot_id;
  if not found then
    raise exception 'There is no spot %', coalesce(quote.spot_id::text, '(none given)') using errcode = 'SMS04';
  end if;
  v_window := app_hidden.assert_window(quote.starts_at, quote.ends_at);
  -- A window the spot would not accept has no price (the spot's maximum stay).
  perform app_hidden.assert_max_stay(v_spot, v_window);
  return app_hidden.quote_rate(v_spot.rate_id, v_window);
end;
$$;

--
-- Name: FUNCTION quote(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.quote(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone) IS 'What parking at a spot from startsAt to endsAt costs, in minor units of the spot''s currency (at least the rate''s minimum charge and the payment provider''s minimum, e.g. 50 for USD, when any of the window is metered). Refused (SMB04) beyond the spot''s maximum stay.';

--
-- Name: register(text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.register(email text, name text, password text) RETURNS app_public.auth_session
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.register(register.email, register.name, register.password, app_hidden.client_ip());
$$;

--
-- Name: FUNCTION register(email text, name text, password text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.register(email text, name text, password text) IS 'Signs up a driver: email (unique, plain ASCII), name (1–100 characters), password (at least 10 characters, at most 72 bytes, not one repeated character, not the email). A verification email is sent. Returns a session token, shown only this once: send it as `Authorization: Bearer <token>`. Browsers use POST /auth/register instead, which sets the session cookie.';

--
-- Name: vehicles; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.vehicles (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    plate text NOT NULL,
    plate_state text,
    label text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT vehicles_label_check CHECK (((length(label) >= 1) AND (length(label) <= 50))),
    CONSTRAINT vehicles_plate_check CHECK ((plate ~ '^[A-Z0-9]{1,10}$'::text)),
    CONSTRAINT vehicles_plate_state_check CHECK ((plate_state ~ '^[A-Z]{2,3}$'::text))
);

--
-- Name: TABLE vehicles; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.vehicles IS '@behavior -insert -update -delete
A driver''s saved vehicles (their own only).';

--
-- Name: remove_vehicle(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.remove_vehicle(vehicle_id bigint) RETURNS app_public.vehicles
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
  v_v app_public.vehicles;
begin
  delete from app_public.vehicles v
  where v.id = remove_vehicle.vehicle_id and v.user_id = v_user_id
  returning * into v_v;
  if v_v.id is null then
    raise exception 'You have no vehicle %', coalesce(remove_vehicle.vehicle_id::text, '(none given)') using errcode = 'SME03';
  end if;
  return v_v;
end;
$$;

--
-- Name: FUNCTION remove_vehicle(vehicle_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.remove_vehicle(vehicle_id bigint) IS 'Removes one of your saved vehicles (SMA08 signed out; SME03 when it is not yours or does not exist).';

--
-- Name: resend_verification_email(); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.resend_verification_email() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  if exists (select from app_public.users u where u.id = v_user_id and u.is_verified) then
    return false;
  end if;
  perform app_private.rate_limit_raise(app_private.rate_limit_hit('verify_resend', v_user_id::text));
  perform app_private.send_verification(v_user_id);
  return true;
end;
$$;

--
-- Name: FUNCTION resend_verification_email(); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.resend_verification_email() IS 'Sends a new verification link (older ones stop working); false when already verified. At most 3 an hour.';

--
-- Name: reservation_end_quote(bigint, timestamp with time zone, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.reservation_end_quote(reservation_id bigint, ends_at timestamp with time zone, manage_token text DEFAULT NULL::text) RETURNS app_public.price_quote
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r app_public.reservations := app_private.reservation_for_caller(
    reservation_end_quote.reservation_id, reservation_end_quote.manage_token, false);
  v_end timestamptz;
  v_spot app_public.spots;
  v_quote app_public.price_quote;
begin
  -- Only what can still be ended or moved has such a price.
  if not app_hidden.holds_spot(v_r.status) then
    raise exception 'This reservation is % and can no longer be ended or changed', v_r.status using errcode = 'SMB07';
  end if;
  -- Left out: now, what endReservation would charge (and refuse, not started).
  if reservation_end_quote.ends_at is null and lower(v_r.period) > now() then
    raise exception 'This reservation has not started yet; cancel it instead (free of charge)' using errcode = 'SMB09';
  end if;
  v_end := coalesce(reservation_end_quote.ends_at, now());
  if not isfinite(v_end) then
    raise exception 'Give the end time to price' using errcode = 'SMB03';
  end if;
  if reservation_end_quote.ends_at is not null then
    -- A new end: refused as changeReservationEnd would refuse it, so that no
    -- price is shown for a change that cannot be made.
    perform app_hidden.assert_changeable(v_r);
    if v_end <= now() then
      raise exception 'The new end time has already passed' using errcode = 'SMB09';
    end if;
  end if;
  if v_end <= lower(v_r.period) then
    raise exception 'The end time must be after the start time' using errcode = 'SMB03';
  end if;
  if reservation_end_quote.ends_at is not null then
    select s.* into v_spot from app_public.spots s where s.id = v_r.spot_id;
    perform app_private.assert_new_end(v_r, v_spot, tstzrange(lower(v_r.period), v_end, '[)'));
    -- The change meets the exclusion constraint; the quote looks for what it would meet.
    if v_end > upper(v_r.period)
       and exists (select from app_public.reservations o
                   where o.spot_id = v_r.spot_id and o.id <> v_r.id and app_hidden.holds_spot(o.status)
                     and o.period && tstzrange(upper(v_r.period), v_end, '[)')) then
      raise exception 'Sorry, the spot is taken by someone else after your current end time' using errcode = 'SMB01';
    end if;
  end if;
  v_quote := app_hidden.reservation_quote(v_r, tstzrange(lower(v_r.period), v_end, '[)'));
  -- Ended now without a card, a hold expires uncharged (end_reservation).
  if reservation_end_quote.ends_at is null and v_r.status = 'held' then
    v_quote.amount := 0;
  end if;
  return v_quote;
end;
$$;

--
-- Name: FUNCTION reservation_end_quote(reservation_id bigint, ends_at timestamp with time zone, manage_token text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.reservation_end_quote(reservation_id bigint, ends_at timestamp with time zone, manage_token text) IS 'What your reservation would cost if it ended at endsAt (left out: now, what endReservation would charge; later or earlier, to move its end), at the rate it was booked under: what endReservation and changeReservationEnd would charge. One still held (no card) is never charged when ended: its quote for now is 0. Guests pass the manage token (SMB06 otherwise); refused as the end or the change would be: SMB03 for an end not after the start, SMB09 for now before the start or a new end already passed, and for a new end what changeReservationEnd refuses (SMB01 the spot taken after the current end, SMB02, SMB03 under the least stay, SMB04, SMB13); SMB07 once it is over, completed, cancelled or expired.';

--
-- Name: reservations_ends_at(app_public.reservations); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.reservations_ends_at(r app_public.reservations) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    AS $$ select upper(r.period) $$;

--
-- Name: FUNCTION reservations_ends_at(r app_public.reservations); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.reservations_ends_at(r app_public.reservations) IS 'When the reservation ends (for a completed one: when it really ended).';

--
-- Name: reservations_starts_at(app_public.reservations); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.reservations_starts_at(r app_public.reservations) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    AS $$ select lower(r.period) $$;

--
-- Name: FUNCTION reservations_starts_at(r app_public.reservations); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.reservations_starts_at(r app_public.reservations) IS 'When the reservation starts.';

--
-- Name: reservations_time_zone(app_public.reservations); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.reservations_time_zone(r app_public.reservations) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select app_hidden.spot_time_zone(r.spot_id);
$$;

--
-- Name: FUNCTION reservations_time_zone(r app_public.reservations); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.reservations_time_zone(r app_public.reservations) IS 'The spot''s time zone, to show the times as the street signs read.';

--
-- Name: reserve(bigint, timestamp with time zone, timestamp with time zone, integer, text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.reserve(spot_id bigint, starts_at timestamp with time zone DEFAULT NULL::timestamp with time zone, ends_at timestamp with time zone DEFAULT NULL::timestamp with time zone, duration_minutes integer DEFAULT NULL::integer, email text DEFAULT NULL::text, plate text DEFAULT NULL::text, plate_state text DEFAULT NULL::text) RETURNS app_public.reservation_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_email   citext;
  v_window  tstzrange;
  v_spot    app_public.spots;
  v_rate    app_public.rates;
  v_hours   app_public.rate_hours[];
  v_terms   jsonb;
  v_quote   app_public.price_quote;
  v_token   text;
  v_unpaid  bigint;
  -- The account, when its email is verified: only then does it answer for
  -- what it books (SMB13, its own hold count).
  v_booker  bigint;
  v_r       app_public.reservations;
  v_ip      inet := app_hidden.client_ip();
  v_plate   text;
  v_state   text;
begin
  -- The vehicle is optional; a malformed one is refused (SME01) before anything is written.
  select v.plate, v.plate_state into v_plate, v_state from app_hidden.vehicle(reserve.plate, reserve.plate_state) v;
  if v_user_id is not null then
    -- A signed-in driver's reservation goes to their account's address.
    select u.email, case when u.is_verified then u.id end into v_email, v_booker from app_public.users u where u.id = v_user_id;
    -- A driver whose charge failed books nothing more until it is paid: a
    -- card that sets up but never pays would otherwise park for free forever.
    -- Only what the driver booked with the address proved counts: anyone can
    -- book as a guest with someone's email (claimed at their sign-in), or
    -- sign up with it before its owner does.
    select min(r.id) into v_unpaid from app_public.reservations r where r.verified_booker_id = v_booker and r.status = 'payment_failed';
    if v_unpaid is not null then
      raise exception 'You have an unpaid reservation (#%): pay it with another card first', v_unpaid using errcode = 'SMB13';
    end if;
  else
    v_email := app_hidden.guest_email(reserve.email);
  end if;
  v_window := app_hidden.booking_window(reserve.starts_at, reserve.ends_at, reserve.duration_minutes);
  if reserve.spot_id is null then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  end if;

  perform app_hidden.lock_spot(reserve.spot_id);
  select s.* into v_spot from app_public.spots s where s.id = reserve.spot_id;
  if not found then
    raise exception 'There is no such spot' using errcode = 'SMB02';
  elsif v_spot.status <> 'active' then
    raise exception 'This spot is out of service and cannot be reserved' using errcode = 'SMB02';
  end if;
  perform app_hidden.assert_max_stay(v_spot, v_window);
  perform app_hidden.assert_max_stay_joined(v_spot, v_window, v_user_id, v_email, null, v_plate);
  -- The rate's terms as they are now: this quote and every later re-pricing of
  -- the reservation (ended early, moved end) come from this copy, so a rate
  -- changed afterwards never changes what this driver was promised.
  select r.* into v_rate from app_public.rates r where r.id = v_spot.rate_id;
  v_hours := array(select h from app_public.rate_hours h where h.rate_id = v_rate.id);
  v_quote := app_hidden.quote_of(v_rate, v_hours, v_window);
  v_terms := app_hidden.rate_terms_of(v_rate, v_hours);
  -- Bookings through the API carry the client's address (every mutation does:
  -- server/request_identity.ts) and are bounded; SQL run by the owner (tests,
  -- maintenance, the CLI) has no client and is not.
  if v_ip is not null then
    perform app_private.assert_hold_allowed(v_email, v_booker, v_ip);
  end if;

  begin
    insert into app_public.reservations (spot_id, user_id, verified_booker_id, email, period, status, amount, currency,
                                         hold_expires_at, plate, plate_state, rate_terms)
    values (v_spot.id, v_user_id, v_booker, v_email, v_window, 'held', v_quote.amount, v_quote.currency,
            least(now() + app_hidden.booking_hold_time(), upper(v_window)), v_plate, v_state, v_terms)
    returning * into v_r;
  exception when exclusion_violation then
    raise exception 'Sorry, this spot is already taken for part of that time' using errcode = 'SMB01';
  end;

  if v_ip is not null then
    insert into app_private.reservation_origins (reservation_id, client_ip) values (v_r.id, v_ip);
  end if;
  if v_user_id is null then
    v_token := app_private.new_manage_token();
    insert into app_private.reservation_secrets (reservation_id, manage_token_hash)
    values (v_r.id, app_private.manage_token_hash(v_token));
  end if;
  return row(v_r, v_token)::app_public.reservation_result;
end;
$$;

--
-- Name: FUNCTION reserve(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer, email text, plate text, plate_state text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.reserve(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer, email text, plate text, plate_state text) IS 'Reserves a spot from startsAt (default now; up to 5 min in the past reads as now; at most 90 days ahead) until endsAt, or for durationMinutes. Signed in: for you (email is not used: the account''s address is), refused while a reservation you booked with your email verified is unpaid (SMB13). Signed out: as a guest, with email required, and the answer carries the one-time manageToken. The reservation starts held and expires unless payment set-up confirms it within 15 minutes. plate and plateState (optional) name the vehicle parked on it, for enforcement (SME01 when malformed). At most 3 holds at once per email or account and 10 per client address, and 10 guest reservations an hour per email (SMB12).';

--
-- Name: reset_password(text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.reset_password(token text, new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['password_reset', 'invite']);
  v_user app_public.users;
  v_password text;
begin
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  v_password := app_hidden.assert_password(new_password, v_user.email);
  -- A reset link proves the address; an account nobody had proved it for
  -- may be a stranger's setup waiting for its owner (see forget_unproved_setup).
  -- An invitation's account was made by an admin, with the name they gave.
  if v_token.kind = 'password_reset' and not v_user.is_verified and v_token.email = v_user.email then
    v_user := app_private.forget_unproved_setup(v_user.id, null);
  end if;
  perform app_private.password_set(v_user.id, v_password);
  -- The other reset links sent meanwhile stop working.
  perform app_private.user_tokens_void(v_user.id, 'password_reset');
  -- The link went to this address: following it proves the user owns it.
  perform app_private.mark_verified(v_user.id, v_token.email);
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.user_id = v_user.id and s.revoked_at is null;
  -- Whoever reset it, the owner hears of it (a reset is how a stolen inbox
  -- becomes a stolen account). Accepting an invitation sets the first password.
  if v_token.kind = 'password_reset' then
    perform app_private.email_enqueue('password_changed', v_user.email, jsonb_build_object('name', v_user.name));
  end if;
  return true;
end;
$$;

--
-- Name: FUNCTION reset_password(token text, new_password text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.reset_password(token text, new_password text) IS 'Sets a new password with the token from a password reset or staff invitation link (single use), verifies the email it was sent to, signs out every session of the account and, for a reset, emails password_changed. A reset of an account whose email was never verified also drops what its maker set (app_private.forget_unproved_setup). Sign in afterwards.';

--
-- Name: restore_customer(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.restore_customer(customer_id bigint) RETURNS app_public.customers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION restore_customer(customer_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.restore_customer(customer_id bigint) IS 'Staff (SMC01): undoes deleteCustomer. SMC03 when no deleted customer has this id.';

--
-- Name: revoke_session(uuid); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.revoke_session(session_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_hidden.assert_signed_in();
begin
  update app_private.sessions s set revoked_at = app_hidden.clock_now()
  where s.id = revoke_session.session_id and s.user_id = v_user_id and s.revoked_at is null;
  -- Null, not false, for a session that is not one of yours: the same answer
  -- whether it exists or not.
  return case when found then true end;
end;
$$;

--
-- Name: FUNCTION revoke_session(session_id uuid); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.revoke_session(session_id uuid) IS 'Signs out one of your own sessions (e.g. a lost phone); null when it is not one of your live sessions; SMA08 signed out.';

--
-- Name: saved_spots; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.saved_spots (
    user_id bigint NOT NULL,
    spot_id bigint NOT NULL,
    saved_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: TABLE saved_spots; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.saved_spots IS 'Spots a driver saved (bookmarks); each driver sees only their own.';

--
-- Name: save_spot(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.save_spot(spot_id bigint) RETURNS app_public.saved_spots
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_user bigint := app_hidden.assert_signed_in();
  v_row  app_public.saved_spots;
begin
  if not exists (select from app_public.spots s where s.id = save_spot.spot_id) then
    raise exception 'No such spot' using errcode = 'SMS04';
  end if;
  insert into app_public.saved_spots (user_id, spot_id) values (v_user, save_spot.spot_id)
  on conflict (user_id, spot_id) do nothing;
  select * into v_row from app_public.saved_spots s where s.user_id = v_user and s.spot_id = save_spot.spot_id;
  return v_row;
end;
$$;

--
-- Name: FUNCTION save_spot(spot_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.save_spot(spot_id bigint) IS 'Saves a spot for the signed-in driver; saving it again changes nothing and answers the same row. SMS04 for an unknown spot, SMA08 when signed out.';

--
-- Name: save_vehicle(text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.save_vehicle(plate text, plate_state text DEFAULT NULL::text, label text DEFAULT NULL::text) RETURNS app_public.vehicles
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id bigint := app_public.current_user_id();
  v_v app_public.vehicles;
begin
  if v_user_id is null then
    raise exception 'Sign in to save a vehicle' using errcode = 'SMA08';
  end if;
  if save_vehicle.label is not null and length(btrim(save_vehicle.label)) not between 1 and 50 then
    raise exception 'A vehicle''s label is 1 to 50 characters' using errcode = 'SME01';
  end if;
  insert into app_public.vehicles as v (user_id, plate, plate_state, label)
  values (v_user_id, app_hidden.plate(save_vehicle.plate), app_hidden.plate_state(save_vehicle.plate_state),
          nullif(btrim(save_vehicle.label), ''))
  on conflict on constraint vehicles_user_plate_key do update set label = coalesce(excluded.label, v.label)
  returning * into v_v;
  return v_v;
end;
$$;

--
-- Name: FUNCTION save_vehicle(plate text, plate_state text, label text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.save_vehicle(plate text, plate_state text, label text) IS 'Signed in (SMA08): saves a vehicle on your account (saving it again changes its label). SME01 for a bad plate or state.';

--
-- Name: search_customers(text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.search_customers(query text) RETURNS SETOF app_public.customers
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION search_customers(query text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.search_customers(query text) IS 'Staff (SMC01): customers whose name, surname or email match the query, best first; typos allowed (trigram similarity) unless the query contains an @. SMC06 for an empty or overlong query.';

--
-- Name: send_manage_link(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.send_manage_link(reservation_id bigint, email text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_email citext := app_hidden.assert_email(email);
  v_r app_public.reservations;
  v_token text;
begin
  -- Counted per reservation, email *and client address*: counted per
  -- reservation alone, anyone who knew an id could use up its quota with wrong
  -- emails; per reservation and email, anyone who knew both could use up the
  -- guest's. A wrong pair is limited exactly as the right one, so the limit
  -- never tells which email is the right one.
  perform app_private.rate_limit_raise(greatest(
    app_private.rate_limit_hit('manage_link_reservation',
                               send_manage_link.reservation_id || ' ' || lower(v_email::text) || ' ' || host(app_hidden.client_ip())),
    app_private.rate_limit_hit('manage_link_ip', host(app_hidden.client_ip()))));
  select r.* into v_r from app_public.reservations r
  where r.id = send_manage_link.reservation_id and r.kind = 'reservation' and r.user_id is null
    and r.email::citext = v_email
  for update;
  -- A ceiling on the mail one address gets from many client addresses, as
  -- for password resets, which the address the guest booked from does not meet.
  if not exists (select from app_private.reservation_origins o
                 where o.reservation_id = v_r.id and o.client_ip = app_hidden.client_ip()) then
    perform app_private.rate_limit_raise(app_private.rate_limit_hit('manage_link_total',
      send_manage_link.reservation_id || ' ' || lower(v_email::text)));
  end if;
  if v_r.id is not null then
    v_token := app_private.new_manage_token();
    -- One live token per reservation: the new hash replaces the old one.
    update app_private.reservation_secrets s set manage_token_hash = app_private.manage_token_hash(v_token)
    where s.reservation_id = v_r.id;
    -- The email's link carries the token (in its fragment: lib/web_urls.ts); the outbox row
    -- holds it only until the email is sent.
    perform app_private.email_enqueue('reservation_link', v_r.email,
      app_hidden.reservation_email_data(v_r) || jsonb_build_object('manageToken', v_token));
  end if;
  return true;
end;
$$;

--
-- Name: FUNCTION send_manage_link(reservation_id bigint, email text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.send_manage_link(reservation_id bigint, email text) IS 'Guests who lost their manage token: emails a link with a new token to the reservation''s address when reservationId and email match a guest reservation (the old token stops working), and answers true either way. At most 3 an hour per reservation, email and client address (a stranger''s requests never use up the guest''s), 10 per reservation and email from addresses other than the one it was booked from, and 20 per client address (SMA02).';

--
-- Name: operator_zones; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.operator_zones (
    user_id bigint NOT NULL,
    borough text NOT NULL,
    CONSTRAINT operator_zones_borough_check CHECK (((length(borough) >= 1) AND (length(borough) <= 50)))
);

--
-- Name: TABLE operator_zones; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.operator_zones IS '@behavior -insert -update -delete
The boroughs an operator may act in (no rows: everywhere). Set by admins with setOperatorZones.';

--
-- Name: set_operator_zones(bigint, text[]); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.set_operator_zones(user_id bigint, boroughs text[]) RETURNS SETOF app_public.operator_zones
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION set_operator_zones(user_id bigint, boroughs text[]); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.set_operator_zones(user_id bigint, boroughs text[]) IS 'Admins only (SMA10): the boroughs an operator may act in, replacing the previous list (empty: everywhere). SMA17 when there is no such user, SMO04 when the user is not an operator, SMO10 when the list is left out or a borough is blank.';

--
-- Name: set_rate_hours(integer, jsonb); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.set_rate_hours(rate_id integer, hours jsonb) RETURNS app_public.rates
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION set_rate_hours(rate_id integer, hours jsonb); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.set_rate_hours(rate_id integer, hours jsonb) IS 'Operators as for updateRate, and admins: the rate''s metered hours, replacing the old ones (empty list: metered around the clock). Example: [{"isodow": 1, "opens": "09:00", "closes": "19:00"}].';

--
-- Name: set_reservation_vehicle(bigint, text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.set_reservation_vehicle(reservation_id bigint, plate text, plate_state text DEFAULT NULL::text, manage_token text DEFAULT NULL::text) RETURNS app_public.reservation_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r     app_public.reservations;
  v_plate text;
  v_state text;
begin
  v_r := app_private.reservation_for_caller(set_reservation_vehicle.reservation_id, set_reservation_vehicle.manage_token, true);
  perform app_hidden.assert_changeable(v_r);
  select v.plate, v.plate_state into v_plate, v_state
  from app_hidden.vehicle(set_reservation_vehicle.plate, set_reservation_vehicle.plate_state) v;
  if v_plate is not distinct from v_r.plate and v_state is not distinct from v_r.plate_state then
    return row(v_r, null)::app_public.reservation_result;
  end if;
  -- A hold that lapses after its start bars its plate's next holds for a day
  -- (enforcement_lookup): swapping the plate off before it lapses would dodge
  -- that, so a started hold keeps its vehicle until a card confirms it.
  if v_r.status = 'held' and lower(v_r.period) <= now() then
    raise exception 'A hold''s vehicle cannot change once it has started: give a card first' using errcode = 'SMB09';
  end if;
  -- Another car on the same stay is that car's stay: it meets the spot's
  -- maximum with that car's stays around it, as booking it would.
  perform app_hidden.lock_spot(v_r.spot_id);
  if v_plate is not null then
    perform app_hidden.assert_max_stay_joined((select s from app_public.spots s where s.id = v_r.spot_id),
                                              v_r.period, null, null, v_r.id, v_plate);
  end if;
  update app_public.reservations r set plate = v_plate, plate_state = v_state
  where r.id = v_r.id
  returning * into v_r;
  return row(v_r, null)::app_public.reservation_result;
end;
$$;

--
-- Name: FUNCTION set_reservation_vehicle(reservation_id bigint, plate text, plate_state text, manage_token text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.set_reservation_vehicle(reservation_id bigint, plate text, plate_state text, manage_token text) IS 'Names the vehicle parked on your reservation (a plate left out removes it), for enforcement: a driver who booked without one, or changed cars. Guests pass the manage token (SMB06 otherwise). SME01 for a malformed plate or a state without a plate, SMB04 when that vehicle''s stays on the spot less than an hour apart would exceed its maximum, SMB09 for a hold already started (a card first), SMB07 once the reservation is over, cancelled or expired.';

--
-- Name: set_spot_status(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.set_spot_status(spot_id bigint, status text) RETURNS app_public.spots
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION set_spot_status(spot_id bigint, status text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.set_spot_status(spot_id bigint, status text) IS 'Operators in the spot''s zone and admins: takes a spot out of service (no new reservations; existing ones are kept — see spotAffectedReservations) or back into service. SMO07 for another status.';

--
-- Name: set_user_role(bigint, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.set_user_role(user_id bigint, role text) RETURNS app_public.users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION set_user_role(user_id bigint, role text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.set_user_role(user_id bigint, role text) IS 'Admins only: gives a user another role (driver, operator, admin, analyst, enforcement); not your own; a role other than driver only to a verified account (SMA19). Takes effect on the user''s next request.';

--
-- Name: spot_affected_reservations(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spot_affected_reservations(spot_id bigint) RETURNS SETOF app_public.reservations
    LANGUAGE plpgsql STABLE
    AS $$
begin
  perform app_hidden.assert_manages_spot(spot_id);
  return query
  select r.* from app_public.reservations r
  where r.spot_id = spot_affected_reservations.spot_id and r.kind = 'reservation'
    and r.status in ('held', 'confirmed') and upper(r.period) > now()
  order by lower(r.period);
end;
$$;

--
-- Name: FUNCTION spot_affected_reservations(spot_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spot_affected_reservations(spot_id bigint) IS 'Operators in the spot''s zone and admins: the held or confirmed reservations not yet over on this spot — the ones taking it out of service affects.';

--
-- Name: spot_changes; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.spot_changes (
    id bigint NOT NULL,
    spot_id bigint NOT NULL,
    field text NOT NULL,
    old_value text,
    new_value text,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    sync_run_id bigint,
    source text NOT NULL,
    CONSTRAINT spot_changes_source_check CHECK ((source = ANY (ARRAY['sync'::text, 'import'::text, 'edit'::text])))
);

--
-- Name: TABLE spot_changes; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.spot_changes IS 'Every real change of a spot''s inventory fields (a write that changes nothing leaves no row): which spot, which field, old and new value, when, and from which sync run or source.';

--
-- Name: COLUMN spot_changes.field; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spot_changes.field IS 'created (a new spot), or the field that changed: location, street, side_of_street, from_street, to_street, borough, zone, rate, max_stay, status, meter_hours, is_accessible, has_ev_charger.';

--
-- Name: COLUMN spot_changes.source; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spot_changes.source IS 'sync (the inventory sync), import (spots:import) or edit (anything else, e.g. an operator).';

--
-- Name: spot_change_history(text, text, text, timestamp with time zone, timestamp with time zone, bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spot_change_history(borough text DEFAULT NULL::text, street text DEFAULT NULL::text, meter text DEFAULT NULL::text, since timestamp with time zone DEFAULT NULL::timestamp with time zone, until timestamp with time zone DEFAULT NULL::timestamp with time zone, before_id bigint DEFAULT NULL::bigint) RETURNS SETOF app_public.spot_changes
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_hidden.assert_filter_length(spot_change_history.borough, 50, 'borough'),
          app_hidden.assert_filter_length(spot_change_history.street, 200, 'street'),
          app_hidden.assert_filter_length(spot_change_history.meter, 50, 'meter');
  -- Keyset pagination: newest first, 50 a page; the next page passes the last
  -- row's id as before_id. Filters: borough and meter exactly (case-insensitive
  -- borough), street as a case-insensitive substring, [since, until).
  return query
  select c.*
  from app_public.spot_changes c
  join app_public.spots s on s.id = c.spot_id
  where (spot_change_history.before_id is null or c.id < spot_change_history.before_id)
    and (spot_change_history.borough is null or lower(s.borough) = lower(spot_change_history.borough))
    and (spot_change_history.street is null or s.street ilike '%' || spot_change_history.street || '%')
    and (spot_change_history.meter is null or s.external_id = spot_change_history.meter)
    and (spot_change_history.since is null or c.changed_at >= spot_change_history.since)
    and (spot_change_history.until is null or c.changed_at < spot_change_history.until)
  order by c.id desc
  limit 50;
end;
$$;

--
-- Name: FUNCTION spot_change_history(borough text, street text, meter text, since timestamp with time zone, until timestamp with time zone, before_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spot_change_history(borough text, street text, meter text, since timestamp with time zone, until timestamp with time zone, before_id bigint) IS 'Spot inventory changes, newest first, 50 a page: filter by borough, street (part of the name), meter number and time range [since, until); for the next page pass the last rowId as beforeId. Text filters longer than 50 characters (street: 200) are refused (22001).';

--
-- Name: spots_description(app_public.spots); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spots_description(s app_public.spots) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select concat_ws(' ',
    s.street,
    case when s.side_of_street is not null then '(' || s.side_of_street || ' side)' end,
    case when s.from_street is not null and s.to_street is not null
      then 'between ' || s.from_street || ' and ' || s.to_street end);
$$;

--
-- Name: FUNCTION spots_description(s app_public.spots); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spots_description(s app_public.spots) IS 'Where the spot is, in words: street, side and cross streets.';

--
-- Name: spots_is_saved(app_public.spots); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spots_is_saved(s app_public.spots) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select exists (
    select from app_public.saved_spots v
    where v.user_id = app_public.current_user_id() and v.spot_id = s.id);
$$;

--
-- Name: FUNCTION spots_is_saved(s app_public.spots); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spots_is_saved(s app_public.spots) IS 'Whether the signed-in driver saved this spot (false when signed out).';

--
-- Name: spots_lat(app_public.spots); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spots_lat(s app_public.spots) RETURNS double precision
    LANGUAGE sql STABLE
    AS $$
  select st_y(s.location::geometry);
$$;

--
-- Name: FUNCTION spots_lat(s app_public.spots); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spots_lat(s app_public.spots) IS 'Latitude (WGS 84).';

--
-- Name: spots_lng(app_public.spots); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spots_lng(s app_public.spots) RETURNS double precision
    LANGUAGE sql STABLE
    AS $$
  select st_x(s.location::geometry);
$$;

--
-- Name: FUNCTION spots_lng(s app_public.spots); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spots_lng(s app_public.spots) IS 'Longitude (WGS 84).';

--
-- Name: spots_near(double precision, double precision, double precision, app_public.distance_unit, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.spots_near(lat double precision, lng double precision, radius double precision, unit app_public.distance_unit DEFAULT 'km'::app_public.distance_unit, starts_at timestamp with time zone DEFAULT NULL::timestamp with time zone, ends_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF app_public.spot_match
    LANGUAGE sql STABLE
    AS $$
  -- Each uncorrelated sub-select becomes an init plan: validated and computed
  -- once per query, and usable by the index scan as a constant.
  select
    s,
    (s.location <-> (select app_hidden.geo_point(spots_near.lat, spots_near.lng)))
      / app_hidden.unit_metres(coalesce(spots_near.unit, 'km')),
    app_hidden.quote_rate(s.rate_id, (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  from app_public.spots s
  -- Checked before any row is read, so a bad window is refused even where
  -- there are no spots to look at (init plans otherwise run only when used).
  where (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)) is not null
    and st_dwithin(
          s.location,
          (select app_hidden.geo_point(spots_near.lat, spots_near.lng)),
          (select app_hidden.search_radius_metres(spots_near.radius, spots_near.unit)),
          false)
    and s.status = 'active'
    and s.max_stay >= (select app_hidden.window_length(app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
    and not exists (
      select from app_hidden.spot_occupancy o
      where o.spot_id = s.id
        and o.period && (select app_hidden.search_window(spots_near.starts_at, spots_near.ends_at)))
  order by s.location <-> (select app_hidden.geo_point(spots_near.lat, spots_near.lng));
$$;

--
-- Name: FUNCTION spots_near(lat double precision, lng double precision, radius double precision, unit app_public.distance_unit, starts_at timestamp with time zone, ends_at timestamp with time zone); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.spots_near(lat double precision, lng double precision, radius double precision, unit app_public.distance_unit, starts_at timestamp with time zone, ends_at timestamp with time zone) IS 'Spots free for the whole window [startsAt, endsAt) within radius of (lat, lng), nearest first by the distance reported (great-circle, on a sphere of the Earth''s mean radius). The window defaults to the next hour from now; the radius is in unit (km unless asked) and at most 50 km.';

--
-- Name: unblock_spot(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.unblock_spot(block_id bigint) RETURNS app_public.reservations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_r app_public.reservations;
begin
  if not app_hidden.current_user_is_staff() then
    raise exception 'Only operators can unblock a spot' using errcode = 'SMB10';
  end if;
  if exists (select from app_public.reservations r join app_public.spots s on s.id = r.spot_id
             where r.id = unblock_spot.block_id and r.kind = 'block'
               and not app_hidden.current_user_may_manage(s.borough)) then
    raise exception 'This block is on a spot outside your zones' using errcode = 'SMO02';
  end if;
  update app_public.reservations r set status = 'cancelled'
  where r.id = unblock_spot.block_id and r.kind = 'block' and r.status = 'confirmed'
  returning * into v_r;
  if not found then
    raise exception 'There is no active block %', coalesce(unblock_spot.block_id::text, '(none given)') using errcode = 'SMB06';
  end if;
  return v_r;
end;
$$;

--
-- Name: FUNCTION unblock_spot(block_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.unblock_spot(block_id bigint) IS 'Operators (in the spot''s zone, SMO02) and admins: lifts a block; the spot can be reserved again.';

--
-- Name: unsave_spot(bigint); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.unsave_spot(spot_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_user bigint := app_hidden.assert_signed_in();
  v_n    int;
begin
  delete from app_public.saved_spots s where s.user_id = v_user and s.spot_id = unsave_spot.spot_id;
  get diagnostics v_n = row_count;
  return v_n > 0;
end;
$$;

--
-- Name: FUNCTION unsave_spot(spot_id bigint); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.unsave_spot(spot_id bigint) IS 'Removes a spot from the signed-in driver''s saved spots: true when it was saved, false otherwise (another driver''s saved spots are never touched).';

--
-- Name: update_customer(bigint, text, text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.update_customer(customer_id bigint, email text DEFAULT NULL::text, name text DEFAULT NULL::text, surname text DEFAULT NULL::text) RETURNS app_public.customers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION update_customer(customer_id bigint, email text, name text, surname text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.update_customer(customer_id bigint, email text, name text, surname text) IS 'Staff (SMC01): changes a customer''s email, name or surname (null: unchanged). SMC03 unknown or deleted, SMC02 email taken, SMC04 bad name.';

--
-- Name: update_rate(integer, text, integer, integer, integer); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.update_rate(rate_id integer, name text DEFAULT NULL::text, hourly_price integer DEFAULT NULL::integer, billing_increment_minutes integer DEFAULT NULL::integer, minimum_charge integer DEFAULT NULL::integer) RETURNS app_public.rates
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION update_rate(rate_id integer, name text, hourly_price integer, billing_increment_minutes integer, minimum_charge integer); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.update_rate(rate_id integer, name text, hourly_price integer, billing_increment_minutes integer, minimum_charge integer) IS 'Operators whose zones hold every spot on the rate, and admins: changes its name or prices (null: unchanged; SMO08 as createRate for a bad value). New quotes use it; reservations keep the price they were quoted.';

--
-- Name: update_spot(bigint, double precision, double precision, text, integer, text, text, text, text, text, integer, boolean, boolean); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.update_spot(spot_id bigint, lat double precision DEFAULT NULL::double precision, lng double precision DEFAULT NULL::double precision, street text DEFAULT NULL::text, rate_id integer DEFAULT NULL::integer, borough text DEFAULT NULL::text, zone text DEFAULT NULL::text, side_of_street text DEFAULT NULL::text, from_street text DEFAULT NULL::text, to_street text DEFAULT NULL::text, max_stay_minutes integer DEFAULT NULL::integer, is_accessible boolean DEFAULT NULL::boolean, has_ev_charger boolean DEFAULT NULL::boolean) RETURNS app_public.spots
    LANGUAGE plpgsql
    AS $$
declare
  v_s app_public.spots := app_hidden.assert_manages_spot(spot_id);
begin
  if update_spot.borough is not null and not app_hidden.current_user_may_manage(update_spot.borough) then
    raise exception 'Borough % is outside your zones', update_spot.borough using errcode = 'SMO02';
  end if;
  if update_spot.rate_id is not null and not exists (select from app_public.rates r where r.id = update_spot.rate_id) then
    raise exception 'There is no rate %', coalesce(update_spot.rate_id::text, '(none given)') using errcode = 'SMO06';
  end if;
  -- A spot changing rate or borough joins its rate anew.
  if (update_spot.rate_id is distinct from v_s.rate_id and update_spot.rate_id is not null)
     or (nullif(btrim(update_spot.borough), '') is not null
         and lower(btrim(update_spot.borough)) is distinct from lower(v_s.borough)) then
    if not app_hidden.current_user_may_join_rate(coalesce(update_spot.rate_id, v_s.rate_id),
                                                 coalesce(nullif(btrim(update_spot.borough), ''), v_s.borough)) then
      raise exception 'Rate % belongs to another zone''s spots: use a rate of your own', coalesce(update_spot.rate_id, v_s.rate_id)
        using errcode = 'SMO12';
    end if;
  end if;
  if (lat is null) <> (lng is null) then
    raise exception 'Give both latitude and longitude' using errcode = 'SMS01';
  end if;
  update app_public.spots s set
    location = case when lat is null then s.location else app_hidden.geo_point(lat, lng) end,
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

--
-- Name: FUNCTION update_spot(spot_id bigint, lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.update_spot(spot_id bigint, lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean) IS 'Operators in the spot''s zone and admins: changes what is given (null: unchanged). Reservations already made keep their quoted price. SMO01/SMO02/SMO03 as for every spot operation, SMO06 no such rate, SMO12 a rate (or, moving the spot, a borough) that would take the rate from the operators of another zone, SMO11 a blank or over-long street.';

--
-- Name: verify_email(text, text); Type: FUNCTION; Schema: app_public; Owner: -
--

CREATE FUNCTION app_public.verify_email(token text, password text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_token app_private.user_tokens := app_private.user_token_use(token, array['verify_email']);
begin
  -- The link proves the inbox, not that the account is the inbox owner's:
  -- anyone may sign up with an address and wait for its owner to click.
  -- Verified, that stranger's password and sessions would then hold the
  -- owner's guest bookings (claimed at each sign-in). So the account itself
  -- must be shown too: signed in as it, or its password. (A wrong one rolls
  -- back, the token stays usable; attempts are counted beforehand by the API,
  -- app_hidden.verify_email_check_hit.)
  if app_public.current_user_id() is distinct from v_token.user_id
     and not app_private.password_matches(v_token.user_id, verify_email.password) then
    raise exception 'Sign in to this account, or give its password, to verify the address. Did not sign up? Ask for a password reset with this address: the account becomes yours'
      using errcode = 'SMA20';
  end if;
  perform app_private.mark_verified(v_token.user_id, v_token.email);
  return true;
end;
$$;

--
-- Name: FUNCTION verify_email(token text, password text); Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON FUNCTION app_public.verify_email(token text, password text) IS 'Verifies an email address with the token from its verification link (single use, 3 days), signed in as the account or with its password (SMA20 otherwise: a link alone does not show the account is yours). Guest reservations made with that address become the account''s.';

--
-- Name: reservation_events; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.reservation_events (
    id bigint NOT NULL,
    reservation_id bigint NOT NULL,
    action text NOT NULL,
    old_status app_public.reservation_status,
    new_status app_public.reservation_status NOT NULL,
    old_period tstzrange,
    new_period tstzrange NOT NULL,
    old_amount integer,
    new_amount integer NOT NULL,
    actor_user_id bigint,
    actor_role text NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    old_plate text,
    new_plate text
);

--
-- Name: TABLE reservation_events; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.reservation_events IS 'Audit trail: who changed which reservation how (action, before/after status, period and amount).';

--
-- Name: COLUMN reservation_events.old_plate; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.reservation_events.old_plate IS 'The plate and state the reservation named before the change (null: none).';

--
-- Name: COLUMN reservation_events.new_plate; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.reservation_events.new_plate IS 'The plate and state it names after.';

--
-- Name: booking_funnel; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.booking_funnel AS
 SELECT ((r.created_at AT TIME ZONE 'America/New_York'::text))::date AS day,
    count(*) AS held,
    count(*) FILTER (WHERE ((r.status = ANY (ARRAY['confirmed'::app_public.reservation_status, 'completed'::app_public.reservation_status, 'payment_failed'::app_public.reservation_status])) OR (EXISTS ( SELECT
           FROM app_private.reservation_events e
          WHERE ((e.reservation_id = r.id) AND (e.new_status = 'confirmed'::app_public.reservation_status)))))) AS confirmed,
    count(*) FILTER (WHERE (r.status = 'completed'::app_public.reservation_status)) AS completed,
    count(*) FILTER (WHERE (r.status = 'expired'::app_public.reservation_status)) AS expired,
    count(*) FILTER (WHERE (r.status = 'cancelled'::app_public.reservation_status)) AS cancelled,
    count(*) FILTER (WHERE (r.status = 'payment_failed'::app_public.reservation_status)) AS payment_failed
   FROM app_public.reservations r
  WHERE (r.kind = 'reservation'::text)
  GROUP BY (((r.created_at AT TIME ZONE 'America/New_York'::text))::date);

--
-- Name: VIEW booking_funnel; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.booking_funnel IS 'Per day a reservation was made (New York time): held (every reservation starts held), confirmed (ever), completed, and the other endings: expired holds, cancellations, payment failures.';

--
-- Name: boroughs; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.boroughs AS
 WITH spellings AS (
         SELECT lower(btrim(s.borough)) AS key,
            btrim(s.borough) AS spelling,
            count(*) AS spots,
            min(s.id) AS first_spot
           FROM app_public.spots s
          GROUP BY (lower(btrim(s.borough))), (btrim(s.borough))
        )
 SELECT spellings.key,
    (array_agg(spellings.spelling ORDER BY spellings.spots DESC, spellings.first_spot))[1] AS borough,
    (sum(spellings.spots))::bigint AS spots
   FROM spellings
  GROUP BY spellings.key;

--
-- Name: VIEW boroughs; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.boroughs IS 'One row per borough however spelled on spots (key: lower case, trimmed): the spelling most spots use (ties: the oldest spot''s), and its spots. Reports group by it.';

--
-- Name: charges; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.charges (
    id bigint NOT NULL,
    reservation_id bigint NOT NULL,
    amount integer NOT NULL,
    currency text NOT NULL,
    attempt integer DEFAULT 1 NOT NULL,
    idempotency_key text NOT NULL,
    stripe_payment_intent_id text,
    status text DEFAULT 'pending'::text NOT NULL,
    failure_code text,
    failure_message text,
    next_retry_at timestamp with time zone,
    succeeded_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    key_first_sent_at timestamp with time zone,
    CONSTRAINT charges_amount_check CHECK ((amount >= 0)),
    CONSTRAINT charges_attempt_check CHECK ((attempt >= 1)),
    CONSTRAINT charges_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT charges_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'processing'::text, 'succeeded'::text, 'failed'::text, 'not_required'::text])))
);

--
-- Name: TABLE charges; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.charges IS 'The final off-session charge of a reservation (one per reservation; attempts move to a new idempotency key only after a decline).';

--
-- Name: COLUMN charges.key_first_sent_at; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.charges.key_first_sent_at IS 'When the current idempotency key was first sent to Stripe (null: not yet); reset with a new key.';

--
-- Name: refunds; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.refunds (
    id bigint NOT NULL,
    charge_id bigint NOT NULL,
    amount integer NOT NULL,
    idempotency_key text NOT NULL,
    stripe_refund_id text,
    status text DEFAULT 'pending'::text NOT NULL,
    failure_message text,
    requested_by bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT refunds_amount_check CHECK ((amount > 0)),
    CONSTRAINT refunds_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text])))
);

--
-- Name: TABLE refunds; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.refunds IS 'Operator refunds (full or partial) of a reservation''s charge.';

--
-- Name: charges; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.charges AS
 SELECT c.reservation_id,
    c.amount,
    c.currency,
    c.status,
    c.attempt,
    c.failure_code,
    c.succeeded_at,
    c.created_at,
    (COALESCE(( SELECT sum(f.amount) AS sum
           FROM app_private.refunds f
          WHERE ((f.charge_id = c.id) AND (f.status = 'succeeded'::text))), (0)::bigint))::integer AS refunded
   FROM app_private.charges c;

--
-- Name: VIEW charges; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.charges IS 'One row per reservation charged (or trying to be), with what was refunded.';

--
-- Name: daily_revenue; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.daily_revenue AS
 SELECT ((c.succeeded_at AT TIME ZONE 'America/New_York'::text))::date AS day,
    c.currency,
    count(*) AS charges,
    sum(c.amount) AS charged,
    sum(c.refunded) AS refunded,
    sum((c.amount - c.refunded)) AS net
   FROM analytics.charges c
  WHERE (c.status = 'succeeded'::text)
  GROUP BY (((c.succeeded_at AT TIME ZONE 'America/New_York'::text))::date), c.currency;

--
-- Name: VIEW daily_revenue; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.daily_revenue IS 'Money taken per day (New York time) and currency, net of refunds.';

--
-- Name: occupancy_by_hour; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.occupancy_by_hour AS
 WITH used AS (
         SELECT r.spot_id,
            r.period
           FROM app_public.reservations r
          WHERE ((r.kind = 'reservation'::text) AND (r.status = ANY (ARRAY['confirmed'::app_public.reservation_status, 'completed'::app_public.reservation_status, 'payment_failed'::app_public.reservation_status])))
        ), hours AS (
         SELECT lower(btrim(s.borough)) AS borough_key,
            h_1.hour,
            (EXTRACT(epoch FROM (LEAST(upper(u.period), h_1.hour_end) - GREATEST(lower(u.period), h_1.hour_start))) / (60)::numeric) AS minutes
           FROM ((used u
             JOIN app_public.spots s ON ((s.id = u.spot_id)))
             CROSS JOIN LATERAL ( SELECT g.g AS hour,
                    (g.g AT TIME ZONE 'America/New_York'::text) AS hour_start,
                    ((g.g + '01:00:00'::interval) AT TIME ZONE 'America/New_York'::text) AS hour_end
                   FROM generate_series(date_trunc('hour'::text, (lower(u.period) AT TIME ZONE 'America/New_York'::text)), ((upper(u.period) AT TIME ZONE 'America/New_York'::text) - '00:00:00.000001'::interval), '01:00:00'::interval) g(g)) h_1)
        )
 SELECT b.borough,
    h.hour,
    count(*) AS reservations,
    round(sum(h.minutes), 2) AS reserved_minutes,
    b.spots,
    round((sum(h.minutes) / (60.0 * (b.spots)::numeric)), 4) AS occupancy
   FROM (hours h
     JOIN analytics.boroughs b ON ((NOT (b.key IS DISTINCT FROM h.borough_key))))
  GROUP BY b.borough, b.spots, h.hour;

--
-- Name: VIEW occupancy_by_hour; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.occupancy_by_hour IS 'Per borough (spellings folded, as analytics.boroughs) and local (New York) clock hour with any use: reservations overlapping it, minutes reserved, spots in the borough, and occupancy = minutes reserved / (spots × 60). Counts confirmed, completed and payment_failed stays.';

--
-- Name: reservations; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.reservations AS
 SELECT reservations.id,
    reservations.spot_id,
    reservations.kind,
    reservations.status,
    (reservations.user_id IS NULL) AS is_guest,
    lower(reservations.period) AS starts_at,
    upper(reservations.period) AS ends_at,
    (upper(reservations.period) - lower(reservations.period)) AS duration,
    reservations.amount,
    reservations.currency,
    reservations.created_at,
    reservations.updated_at
   FROM app_public.reservations;

--
-- Name: VIEW reservations; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.reservations IS 'Every reservation and operator block, without the driver''s identity.';

--
-- Name: revenue_by_day_and_rate; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.revenue_by_day_and_rate AS
 SELECT c.day,
    r.code AS rate_code,
    c.currency,
    count(*) AS charges,
    sum(c.amount) AS charged,
    sum(c.refunded) AS refunded,
    sum((c.amount - c.refunded)) AS net
   FROM (((( SELECT ((ch.succeeded_at AT TIME ZONE 'America/New_York'::text))::date AS day,
            ch.reservation_id,
            ch.amount,
            ch.currency,
            ch.status,
            ch.attempt,
            ch.failure_code,
            ch.succeeded_at,
            ch.created_at,
            ch.refunded
           FROM analytics.charges ch
          WHERE (ch.status = 'succeeded'::text)) c
     JOIN app_public.reservations res ON ((res.id = c.reservation_id)))
     JOIN app_public.spots s ON ((s.id = res.spot_id)))
     JOIN app_public.rates r ON ((r.id = s.rate_id)))
  GROUP BY c.day, r.code, c.currency;

--
-- Name: VIEW revenue_by_day_and_rate; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.revenue_by_day_and_rate IS 'Money taken per day (New York time of the charge), rate (the spot''s current rate) and currency, net of refunds.';

--
-- Name: spots; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.spots AS
 SELECT s.id,
    s.external_id,
    s.borough,
    s.zone,
    s.street,
    s.side_of_street,
    s.from_street,
    s.to_street,
    s.status,
    s.max_stay,
    s.is_accessible,
    s.has_ev_charger,
    public.st_y((s.location)::public.geometry) AS lat,
    public.st_x((s.location)::public.geometry) AS lng,
    r.code AS rate_code,
    r.hourly_price,
    r.currency,
    r.time_zone
   FROM (app_public.spots s
     JOIN app_public.rates r ON ((r.id = s.rate_id)));

--
-- Name: VIEW spots; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.spots IS 'Every spot with its position and tariff.';

--
-- Name: stays_by_day; Type: VIEW; Schema: analytics; Owner: -
--

CREATE VIEW analytics.stays_by_day AS
 SELECT ((lower(r.period) AT TIME ZONE 'America/New_York'::text))::date AS day,
    b.borough,
    count(*) AS stays,
    round(avg((EXTRACT(epoch FROM (upper(r.period) - lower(r.period))) / (60)::numeric)), 2) AS avg_stay_minutes,
    round(avg((EXTRACT(epoch FROM GREATEST((lower(r.period) - r.created_at), '00:00:00'::interval)) / (60)::numeric)), 2) AS avg_lead_minutes
   FROM ((app_public.reservations r
     JOIN app_public.spots s ON ((s.id = r.spot_id)))
     JOIN analytics.boroughs b ON ((NOT (b.key IS DISTINCT FROM lower(btrim(s.borough))))))
  WHERE ((r.kind = 'reservation'::text) AND (r.status = 'completed'::app_public.reservation_status))
  GROUP BY (((lower(r.period) AT TIME ZONE 'America/New_York'::text))::date), b.borough;

--
-- Name: VIEW stays_by_day; Type: COMMENT; Schema: analytics; Owner: -
--

COMMENT ON VIEW analytics.stays_by_day IS 'Completed stays per day of their start (New York time) and borough (spellings folded): how many, their average length, and the average lead time between booking and start (minutes).';

--
-- Name: payment_minimums; Type: TABLE; Schema: app_hidden; Owner: -
--

CREATE TABLE app_hidden.payment_minimums (
    currency text NOT NULL,
    minimum_amount integer NOT NULL,
    CONSTRAINT payment_minimums_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT payment_minimums_minimum_amount_check CHECK ((minimum_amount > 0))
);

--
-- Name: TABLE payment_minimums; Type: COMMENT; Schema: app_hidden; Owner: -
--

COMMENT ON TABLE app_hidden.payment_minimums IS 'The payment provider''s least charge per currency, in minor units (Stripe''s published minimums).';

--
-- Name: spot_occupancy; Type: VIEW; Schema: app_hidden; Owner: -
--

CREATE VIEW app_hidden.spot_occupancy AS
 SELECT reservations.spot_id,
    reservations.period
   FROM app_public.reservations
  WHERE (reservations.status = ANY (ARRAY['held'::app_public.reservation_status, 'confirmed'::app_public.reservation_status]));

--
-- Name: charges_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.charges ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.charges_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: common_passwords; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.common_passwords (
    password text NOT NULL
);

--
-- Name: TABLE common_passwords; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.common_passwords IS 'Common passwords (lowercased, NFKC) that app_hidden.assert_password refuses; generated, see migrations/fixtures/common_passwords.sql.';

--
-- Name: declined_cards; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.declined_cards (
    reservation_id bigint NOT NULL,
    card_fingerprint text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: TABLE declined_cards; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.declined_cards IS 'Each card (Stripe''s card fingerprint) whose charge was declined for a reservation: until that reservation is paid, the card confirms no other (card_unpaid, SMP10).';

--
-- Name: due_work; Type: VIEW; Schema: app_private; Owner: -
--

CREATE VIEW app_private.due_work AS
 SELECT 'reservation_end'::text AS work,
    r.id AS reservation_id,
    upper(r.period) AS due_at
   FROM app_public.reservations r
  WHERE ((r.kind = 'reservation'::text) AND app_hidden.holds_spot(r.status))
UNION ALL
 SELECT 'hold_expiry'::text AS work,
    r.id AS reservation_id,
    r.hold_expires_at AS due_at
   FROM app_public.reservations r
  WHERE ((r.status = 'held'::app_public.reservation_status) AND (r.hold_expires_at IS NOT NULL))
UNION ALL
 SELECT 'reservation_reminder'::text AS work,
    r.id AS reservation_id,
    r.remind_at AS due_at
   FROM app_public.reservations r
  WHERE (r.remind_at IS NOT NULL);

--
-- Name: VIEW due_work; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON VIEW app_private.due_work IS 'What the due-work sweep will do to each reservation, and when: its end, its hold expiry, its reminder.';

--
-- Name: emails; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.emails (
    id bigint NOT NULL,
    template text NOT NULL,
    recipient public.citext NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    dedupe_key text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    queued_at timestamp with time zone,
    CONSTRAINT emails_recipient_check CHECK ((length((recipient)::text) <= 254)),
    CONSTRAINT emails_template_check CHECK ((template ~ '^[a-z_]+$'::text))
);

--
-- Name: TABLE emails; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.emails IS 'Outbox: one row per email, sent by the send_email task.';

--
-- Name: COLUMN emails.template; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.emails.template IS 'Which message (reservation_confirmed, receipt, verify_email, …); tasks/send_email.ts renders it.';

--
-- Name: COLUMN emails.dedupe_key; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.emails.dedupe_key IS 'Makes enqueueing idempotent, e.g. receipt:<reservation id>.';

--
-- Name: COLUMN emails.queued_at; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.emails.queued_at IS 'When the due-work sweep queued its send_email job; null = not yet.';

--
-- Name: emails_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.emails ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.emails_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: live_events_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.live_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.live_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: live_watched_tiles; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.live_watched_tiles (
    tile text NOT NULL,
    listener uuid NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: TABLE live_watched_tiles; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.live_watched_tiles IS 'Map tiles (0.05° squares, "<floor(lat/0.05)>:<floor(lng/0.05)>") that a live API process listens to, refreshed while it does: spot changes elsewhere send no NOTIFY.';

--
-- Name: meter_zone_prices; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.meter_zone_prices (
    zone text NOT NULL,
    hourly_price integer NOT NULL,
    CONSTRAINT meter_zone_prices_hourly_price_check CHECK (((hourly_price > 0) AND (hourly_price <= 100000))),
    CONSTRAINT meter_zone_prices_zone_check CHECK (((length(zone) >= 1) AND (length(zone) <= 50)))
);

--
-- Name: TABLE meter_zone_prices; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.meter_zone_prices IS 'Hourly price in cents for meter rows without an Hourly_Rate, by Pay By Cell zone; zone ''*'' applies to every other zone.';

--
-- Name: rate_limits; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.rate_limits (
    bucket text NOT NULL,
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL,
    strikes integer DEFAULT 0 NOT NULL
);

--
-- Name: TABLE rate_limits; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.rate_limits IS 'Fixed-window counters of sign-in, sign-up and reset attempts per email and per client address.';

--
-- Name: COLUMN rate_limits.strikes; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.rate_limits.strikes IS 'Windows in a row this key went over the limit (escalating buckets wait period × 2^strikes).';

--
-- Name: refunds_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.refunds ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.refunds_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: reservation_events_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.reservation_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.reservation_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: reservation_origins; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.reservation_origins (
    reservation_id bigint NOT NULL,
    client_ip inet NOT NULL
);

--
-- Name: TABLE reservation_origins; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.reservation_origins IS 'The client address each reservation was made from (when the request carried one): holds per address are bounded (SMB12).';

--
-- Name: reservation_secrets; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.reservation_secrets (
    reservation_id bigint NOT NULL,
    manage_token_hash bytea NOT NULL
);

--
-- Name: TABLE reservation_secrets; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.reservation_secrets IS 'SHA-256 of a guest reservation''s manage token; the token itself is shown once, by reserve().';

--
-- Name: sessions; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id bigint NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_active_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    method text DEFAULT 'password'::text NOT NULL,
    client_ip inet,
    CONSTRAINT sessions_method_check CHECK ((method = ANY (ARRAY['password'::text, 'google'::text, 'facebook'::text])))
);

--
-- Name: COLUMN sessions.method; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON COLUMN app_private.sessions.method IS 'How the session was opened.';

--
-- Name: spot_sync_sources; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.spot_sync_sources (
    source_url text NOT NULL,
    etag text,
    last_modified text,
    failures integer DEFAULT 0 NOT NULL,
    retry_at timestamp with time zone,
    last_error text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: TABLE spot_sync_sources; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.spot_sync_sources IS 'Per source URL: the ETag / Last-Modified of the last snapshot applied (sent back as If-None-Match / If-Modified-Since), consecutive failures and when to try again (back-off).';

--
-- Name: stored_objects; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.stored_objects (
    key text NOT NULL,
    content_type text NOT NULL,
    bytes bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT stored_objects_key_check CHECK (((length(key) >= 1) AND (length(key) <= 300)))
);

--
-- Name: TABLE stored_objects; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.stored_objects IS 'Bytes of stored files (customer photos) when PHOTO_STORAGE=postgres; written and read by the API''s owner pool after SQL checked the request.';

--
-- Name: stripe_customers; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.stripe_customers (
    id bigint NOT NULL,
    user_id bigint,
    guest_email public.citext,
    idempotency_key text NOT NULL,
    stripe_customer_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    guest_reservation_id bigint,
    CONSTRAINT stripe_customers_guest_email_check CHECK ((length((guest_email)::text) <= 254)),
    CONSTRAINT stripe_customers_one_owner CHECK (((user_id IS NULL) <> (guest_email IS NULL)))
);

--
-- Name: TABLE stripe_customers; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.stripe_customers IS 'The Stripe customer of a user (user_id), or of one guest reservation (guest_reservation_id, with its email in guest_email; rows made before migration 000050 have only the email).';

--
-- Name: stripe_customers_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.stripe_customers ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.stripe_customers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: stripe_webhook_events; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.stripe_webhook_events (
    id text NOT NULL,
    type text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    processed_at timestamp with time zone
);

--
-- Name: TABLE stripe_webhook_events; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.stripe_webhook_events IS 'Every verified Stripe webhook event, once (by event id).';

--
-- Name: user_identities; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.user_identities (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    provider text NOT NULL,
    subject text NOT NULL,
    email public.citext,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_sign_in_at timestamp with time zone,
    CONSTRAINT user_identities_provider_check CHECK ((provider = ANY (ARRAY['google'::text, 'facebook'::text]))),
    CONSTRAINT user_identities_subject_check CHECK ((length(subject) <= 255))
);

--
-- Name: TABLE user_identities; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.user_identities IS 'Google and Facebook accounts linked to users, by the provider''s stable subject id.';

--
-- Name: user_identities_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.user_identities ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.user_identities_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: user_secrets; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.user_secrets (
    user_id bigint NOT NULL,
    password_hash text,
    password_changed_at timestamp with time zone
);

--
-- Name: TABLE user_secrets; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.user_secrets IS 'Password hashes, apart from users so no API role can ever select them.';

--
-- Name: user_tokens_id_seq; Type: SEQUENCE; Schema: app_private; Owner: -
--

ALTER TABLE app_private.user_tokens ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_private.user_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: worker_processes; Type: TABLE; Schema: app_private; Owner: -
--

CREATE TABLE app_private.worker_processes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    worker_ids text[] DEFAULT '{}'::text[] NOT NULL,
    hostname text NOT NULL,
    pid integer NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: TABLE worker_processes; Type: COMMENT; Schema: app_private; Owner: -
--

COMMENT ON TABLE app_private.worker_processes IS 'Live worker processes and the graphile-worker ids they lock jobs under; a row whose advisory lock (classid 7366, hashtext(id)) is free belongs to a dead process.';

--
-- Name: audit_log_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: customer_notes_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.customer_notes ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.customer_notes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: customers_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.customers ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.customers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: rates_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.rates ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.rates_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: reservations_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.reservations ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.reservations_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: spot_changes_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.spot_changes ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.spot_changes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: spot_sync_runs; Type: TABLE; Schema: app_public; Owner: -
--

CREATE TABLE app_public.spot_sync_runs (
    id bigint NOT NULL,
    source_url text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    outcome text DEFAULT 'running'::text NOT NULL,
    rows_seen integer DEFAULT 0 NOT NULL,
    inserted integer DEFAULT 0 NOT NULL,
    changed integer DEFAULT 0 NOT NULL,
    unchanged integer DEFAULT 0 NOT NULL,
    removed integer DEFAULT 0 NOT NULL,
    rejected integer DEFAULT 0 NOT NULL,
    rejects jsonb DEFAULT '[]'::jsonb NOT NULL,
    error text,
    CONSTRAINT spot_sync_runs_outcome_check CHECK ((outcome = ANY (ARRAY['running'::text, 'succeeded'::text, 'not_modified'::text, 'failed'::text]))),
    CONSTRAINT spot_sync_runs_source_url_check CHECK ((length(source_url) <= 2000))
);

--
-- Name: TABLE spot_sync_runs; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON TABLE app_public.spot_sync_runs IS 'One run of the inventory sync from the city''s meter data: rows seen, inserted, changed, unchanged, removed (put out of service because the snapshot no longer lists them), rejected (the first 100 with reasons), or why it failed. Operators only.';

--
-- Name: COLUMN spot_sync_runs.outcome; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spot_sync_runs.outcome IS 'running, succeeded, not_modified (the source answered 304: nothing read), or failed (nothing changed; see error).';

--
-- Name: COLUMN spot_sync_runs.rejects; Type: COMMENT; Schema: app_public; Owner: -
--

COMMENT ON COLUMN app_public.spot_sync_runs.rejects IS 'The first 100 rejected rows: [{line, reason}].';

--
-- Name: spot_sync_runs_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.spot_sync_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.spot_sync_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: spots_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.spots ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.spots_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: users_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: vehicles_id_seq; Type: SEQUENCE; Schema: app_public; Owner: -
--

ALTER TABLE app_public.vehicles ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.vehicles_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: payment_minimums payment_minimums_pkey; Type: CONSTRAINT; Schema: app_hidden; Owner: -
--

ALTER TABLE ONLY app_hidden.payment_minimums
    ADD CONSTRAINT payment_minimums_pkey PRIMARY KEY (currency);

--
-- Name: charges charges_idempotency_key_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.charges
    ADD CONSTRAINT charges_idempotency_key_key UNIQUE (idempotency_key);

--
-- Name: charges charges_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.charges
    ADD CONSTRAINT charges_pkey PRIMARY KEY (id);

--
-- Name: charges charges_reservation_id_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.charges
    ADD CONSTRAINT charges_reservation_id_key UNIQUE (reservation_id);

--
-- Name: common_passwords common_passwords_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.common_passwords
    ADD CONSTRAINT common_passwords_pkey PRIMARY KEY (password);

--
-- Name: declined_cards declined_cards_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.declined_cards
    ADD CONSTRAINT declined_cards_pkey PRIMARY KEY (card_fingerprint, reservation_id);

--
-- Name: emails emails_dedupe_key_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.emails
    ADD CONSTRAINT emails_dedupe_key_key UNIQUE (dedupe_key);

--
-- Name: emails emails_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.emails
    ADD CONSTRAINT emails_pkey PRIMARY KEY (id);

--
-- Name: live_events live_events_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.live_events
    ADD CONSTRAINT live_events_pkey PRIMARY KEY (id);

--
-- Name: live_watched_tiles live_watched_tiles_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.live_watched_tiles
    ADD CONSTRAINT live_watched_tiles_pkey PRIMARY KEY (tile, listener);

--
-- Name: meter_zone_prices meter_zone_prices_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.meter_zone_prices
    ADD CONSTRAINT meter_zone_prices_pkey PRIMARY KEY (zone);

--
-- Name: oauth_states oauth_states_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.oauth_states
    ADD CONSTRAINT oauth_states_pkey PRIMARY KEY (state_hash);

--
-- Name: rate_budgets rate_budgets_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.rate_budgets
    ADD CONSTRAINT rate_budgets_pkey PRIMARY KEY (name);

--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket, key);

--
-- Name: refunds refunds_idempotency_key_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.refunds
    ADD CONSTRAINT refunds_idempotency_key_key UNIQUE (idempotency_key);

--
-- Name: refunds refunds_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.refunds
    ADD CONSTRAINT refunds_pkey PRIMARY KEY (id);

--
-- Name: refunds refunds_stripe_refund_id_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.refunds
    ADD CONSTRAINT refunds_stripe_refund_id_key UNIQUE (stripe_refund_id);

--
-- Name: reservation_events reservation_events_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.reservation_events
    ADD CONSTRAINT reservation_events_pkey PRIMARY KEY (id);

--
-- Name: reservation_origins reservation_origins_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.reservation_origins
    ADD CONSTRAINT reservation_origins_pkey PRIMARY KEY (reservation_id);

--
-- Name: reservation_secrets reservation_secrets_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.reservation_secrets
    ADD CONSTRAINT reservation_secrets_pkey PRIMARY KEY (reservation_id);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: sessions sessions_token_hash_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.sessions
    ADD CONSTRAINT sessions_token_hash_key UNIQUE (token_hash);

--
-- Name: setup_intents setup_intents_idempotency_key_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.setup_intents
    ADD CONSTRAINT setup_intents_idempotency_key_key UNIQUE (idempotency_key);

--
-- Name: setup_intents setup_intents_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.setup_intents
    ADD CONSTRAINT setup_intents_pkey PRIMARY KEY (reservation_id);

--
-- Name: setup_intents setup_intents_stripe_setup_intent_id_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.setup_intents
    ADD CONSTRAINT setup_intents_stripe_setup_intent_id_key UNIQUE (stripe_setup_intent_id);

--
-- Name: spot_sync_sources spot_sync_sources_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.spot_sync_sources
    ADD CONSTRAINT spot_sync_sources_pkey PRIMARY KEY (source_url);

--
-- Name: stored_objects stored_objects_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stored_objects
    ADD CONSTRAINT stored_objects_pkey PRIMARY KEY (key);

--
-- Name: stripe_customers stripe_customers_guest_reservation_id_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_guest_reservation_id_key UNIQUE (guest_reservation_id);

--
-- Name: stripe_customers stripe_customers_idempotency_key_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_idempotency_key_key UNIQUE (idempotency_key);

--
-- Name: stripe_customers stripe_customers_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_pkey PRIMARY KEY (id);

--
-- Name: stripe_customers stripe_customers_stripe_customer_id_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_stripe_customer_id_key UNIQUE (stripe_customer_id);

--
-- Name: stripe_customers stripe_customers_user_id_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_user_id_key UNIQUE (user_id);

--
-- Name: stripe_webhook_events stripe_webhook_events_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_webhook_events
    ADD CONSTRAINT stripe_webhook_events_pkey PRIMARY KEY (id);

--
-- Name: user_identities user_identities_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_identities
    ADD CONSTRAINT user_identities_pkey PRIMARY KEY (id);

--
-- Name: user_identities user_identities_provider_subject_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_identities
    ADD CONSTRAINT user_identities_provider_subject_key UNIQUE (provider, subject);

--
-- Name: user_secrets user_secrets_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_secrets
    ADD CONSTRAINT user_secrets_pkey PRIMARY KEY (user_id);

--
-- Name: user_tokens user_tokens_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_tokens
    ADD CONSTRAINT user_tokens_pkey PRIMARY KEY (id);

--
-- Name: user_tokens user_tokens_token_hash_key; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_tokens
    ADD CONSTRAINT user_tokens_token_hash_key UNIQUE (token_hash);

--
-- Name: worker_processes worker_processes_pkey; Type: CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.worker_processes
    ADD CONSTRAINT worker_processes_pkey PRIMARY KEY (id);

--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

--
-- Name: customer_notes customer_notes_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customer_notes
    ADD CONSTRAINT customer_notes_pkey PRIMARY KEY (id);

--
-- Name: customers customers_email_key; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customers
    ADD CONSTRAINT customers_email_key UNIQUE (email);

--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);

--
-- Name: customers customers_user_id_key; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customers
    ADD CONSTRAINT customers_user_id_key UNIQUE (user_id);

--
-- Name: operator_zones operator_zones_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.operator_zones
    ADD CONSTRAINT operator_zones_pkey PRIMARY KEY (user_id, borough);

--
-- Name: rate_hours rate_hours_no_overlap; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.rate_hours
    ADD CONSTRAINT rate_hours_no_overlap EXCLUDE USING gist (rate_id WITH =, isodow WITH =, tsrange(('2000-01-03'::date + opens), ('2000-01-03'::date + closes)) WITH &&);

--
-- Name: rate_hours rate_hours_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.rate_hours
    ADD CONSTRAINT rate_hours_pkey PRIMARY KEY (rate_id, isodow, opens);

--
-- Name: rates rates_code_key; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.rates
    ADD CONSTRAINT rates_code_key UNIQUE (code);

--
-- Name: rates rates_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.rates
    ADD CONSTRAINT rates_pkey PRIMARY KEY (id);

--
-- Name: reservations reservations_email_check; Type: CHECK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE app_public.reservations
    ADD CONSTRAINT reservations_email_check CHECK (app_hidden.email_is_valid((email)::text)) NOT VALID;

--
-- Name: reservations reservations_no_overlap; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.reservations
    ADD CONSTRAINT reservations_no_overlap EXCLUDE USING gist (spot_id WITH =, period WITH &&) WHERE ((status = ANY (ARRAY['held'::app_public.reservation_status, 'confirmed'::app_public.reservation_status])));

--
-- Name: reservations reservations_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.reservations
    ADD CONSTRAINT reservations_pkey PRIMARY KEY (id);

--
-- Name: saved_spots saved_spots_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.saved_spots
    ADD CONSTRAINT saved_spots_pkey PRIMARY KEY (user_id, spot_id);

--
-- Name: spot_changes spot_changes_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spot_changes
    ADD CONSTRAINT spot_changes_pkey PRIMARY KEY (id);

--
-- Name: spot_sync_runs spot_sync_runs_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spot_sync_runs
    ADD CONSTRAINT spot_sync_runs_pkey PRIMARY KEY (id);

--
-- Name: spots spots_external_id_key; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spots
    ADD CONSTRAINT spots_external_id_key UNIQUE (external_id);

--
-- Name: spots spots_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spots
    ADD CONSTRAINT spots_pkey PRIMARY KEY (id);

--
-- Name: users users_email_check; Type: CHECK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE app_public.users
    ADD CONSTRAINT users_email_check CHECK (app_hidden.email_is_valid((email)::text)) NOT VALID;

--
-- Name: users users_email_key; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.users
    ADD CONSTRAINT users_email_key UNIQUE (email);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: vehicles vehicles_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.vehicles
    ADD CONSTRAINT vehicles_pkey PRIMARY KEY (id);

--
-- Name: vehicles vehicles_user_plate_key; Type: CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.vehicles
    ADD CONSTRAINT vehicles_user_plate_key UNIQUE NULLS NOT DISTINCT (user_id, plate, plate_state);

--
-- Name: charges_payment_intent_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX charges_payment_intent_idx ON app_private.charges USING btree (stripe_payment_intent_id);

--
-- Name: declined_cards_reservation_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX declined_cards_reservation_idx ON app_private.declined_cards USING btree (reservation_id);

--
-- Name: emails_unqueued_later_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX emails_unqueued_later_idx ON app_private.emails USING btree (id) WHERE ((queued_at IS NULL) AND (template = ANY (ARRAY['receipt'::text, 'reservation_ended'::text])));

--
-- Name: emails_unqueued_now_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX emails_unqueued_now_idx ON app_private.emails USING btree (id) WHERE ((queued_at IS NULL) AND (template <> ALL (ARRAY['receipt'::text, 'reservation_ended'::text])));

--
-- Name: live_events_tile_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX live_events_tile_idx ON app_private.live_events USING btree (tile, id);

--
-- Name: refunds_one_pending_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE UNIQUE INDEX refunds_one_pending_idx ON app_private.refunds USING btree (charge_id) WHERE (status = 'pending'::text);

--
-- Name: reservation_events_reservation_id_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX reservation_events_reservation_id_idx ON app_private.reservation_events USING btree (reservation_id, id);

--
-- Name: reservation_origins_client_ip_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX reservation_origins_client_ip_idx ON app_private.reservation_origins USING btree (client_ip);

--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX sessions_user_id_idx ON app_private.sessions USING btree (user_id);

--
-- Name: setup_intents_card_fingerprint_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX setup_intents_card_fingerprint_idx ON app_private.setup_intents USING btree (card_fingerprint) WHERE (status = 'succeeded'::text);

--
-- Name: setup_intents_customer_id_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX setup_intents_customer_id_idx ON app_private.setup_intents USING btree (customer_id);

--
-- Name: user_identities_user_id_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX user_identities_user_id_idx ON app_private.user_identities USING btree (user_id);

--
-- Name: user_tokens_user_id_kind_idx; Type: INDEX; Schema: app_private; Owner: -
--

CREATE INDEX user_tokens_user_id_kind_idx ON app_private.user_tokens USING btree (user_id, kind);

--
-- Name: audit_log_actor_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX audit_log_actor_idx ON app_public.audit_log USING btree (actor_user_id, at);

--
-- Name: audit_log_at_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX audit_log_at_idx ON app_public.audit_log USING btree (at);

--
-- Name: audit_log_row_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX audit_log_row_idx ON app_public.audit_log USING btree (table_name, record_id, at);

--
-- Name: customer_notes_customer_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX customer_notes_customer_idx ON app_public.customer_notes USING btree (customer_id, created_at);

--
-- Name: customers_search_trgm; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX customers_search_trgm ON app_public.customers USING gin (search_text public.gin_trgm_ops);

--
-- Name: customers_surname_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX customers_surname_idx ON app_public.customers USING btree (surname, name, id);

--
-- Name: reservations_due_end_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_due_end_idx ON app_public.reservations USING btree (upper(period)) WHERE ((kind = 'reservation'::text) AND app_hidden.holds_spot(status));

--
-- Name: reservations_ended_stay_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_ended_stay_idx ON app_public.reservations USING btree (spot_id, upper(period)) WHERE (status = ANY (ARRAY['completed'::app_public.reservation_status, 'payment_failed'::app_public.reservation_status]));

--
-- Name: reservations_guest_email_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_guest_email_idx ON app_public.reservations USING btree (email) WHERE (user_id IS NULL);

--
-- Name: reservations_held_booker_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_held_booker_idx ON app_public.reservations USING btree (verified_booker_id) WHERE (status = 'held'::app_public.reservation_status);

--
-- Name: reservations_held_email_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_held_email_idx ON app_public.reservations USING btree (email) WHERE (status = 'held'::app_public.reservation_status);

--
-- Name: reservations_held_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_held_idx ON app_public.reservations USING btree (hold_expires_at) WHERE (status = 'held'::app_public.reservation_status);

--
-- Name: reservations_lapsed_plate_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_lapsed_plate_idx ON app_public.reservations USING btree (plate, updated_at) WHERE ((status = 'expired'::app_public.reservation_status) AND (plate IS NOT NULL));

--
-- Name: reservations_payment_failed_booker_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_payment_failed_booker_idx ON app_public.reservations USING btree (verified_booker_id) WHERE (status = 'payment_failed'::app_public.reservation_status);

--
-- Name: reservations_plate_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_plate_idx ON app_public.reservations USING btree (plate, period) WHERE ((plate IS NOT NULL) AND (status = ANY (ARRAY['held'::app_public.reservation_status, 'confirmed'::app_public.reservation_status])));

--
-- Name: reservations_remind_at_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_remind_at_idx ON app_public.reservations USING btree (remind_at) WHERE (remind_at IS NOT NULL);

--
-- Name: reservations_spot_id_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_spot_id_idx ON app_public.reservations USING btree (spot_id);

--
-- Name: reservations_user_id_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX reservations_user_id_idx ON app_public.reservations USING btree (user_id);

--
-- Name: saved_spots_spot_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX saved_spots_spot_idx ON app_public.saved_spots USING btree (spot_id);

--
-- Name: spot_changes_changed_at_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX spot_changes_changed_at_idx ON app_public.spot_changes USING btree (changed_at, id);

--
-- Name: spot_changes_run_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX spot_changes_run_idx ON app_public.spot_changes USING btree (sync_run_id);

--
-- Name: spot_changes_spot_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX spot_changes_spot_idx ON app_public.spot_changes USING btree (spot_id, id);

--
-- Name: spot_sync_runs_started_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX spot_sync_runs_started_idx ON app_public.spot_sync_runs USING btree (started_at DESC);

--
-- Name: spots_location_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX spots_location_idx ON app_public.spots USING gist (location);

--
-- Name: spots_rate_id_idx; Type: INDEX; Schema: app_public; Owner: -
--

CREATE INDEX spots_rate_id_idx ON app_public.spots USING btree (rate_id);

--
-- Name: charges _100_timestamps; Type: TRIGGER; Schema: app_private; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_private.charges FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: refunds _100_timestamps; Type: TRIGGER; Schema: app_private; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_private.refunds FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: setup_intents _100_timestamps; Type: TRIGGER; Schema: app_private; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_private.setup_intents FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: stripe_customers _100_timestamps; Type: TRIGGER; Schema: app_private; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_private.stripe_customers FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: refunds _900_audit; Type: TRIGGER; Schema: app_private; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE ON app_private.refunds FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('refunds');

--
-- Name: customer_notes _100_timestamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_public.customer_notes FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: customers _100_timestamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_public.customers FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: rates _100_timestamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_public.rates FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: reservations _100_timestamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_public.reservations FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: spots _100_timestamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_public.spots FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: users _100_timestamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg__timestamps();

--
-- Name: customer_notes _110_staff_stamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _110_staff_stamps BEFORE INSERT OR UPDATE ON app_public.customer_notes FOR EACH ROW EXECUTE FUNCTION app_private.tg__staff_stamps();

--
-- Name: customers _110_staff_stamps; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _110_staff_stamps BEFORE INSERT OR UPDATE ON app_public.customers FOR EACH ROW EXECUTE FUNCTION app_private.tg__staff_stamps();

--
-- Name: users _200_name; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _200_name BEFORE INSERT OR UPDATE OF name ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg_users__name();

--
-- Name: reservations _200_remind_at; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _200_remind_at BEFORE INSERT OR UPDATE OF status, period ON app_public.reservations FOR EACH ROW EXECUTE FUNCTION app_private.tg_reservations__remind_at();

--
-- Name: reservations _500_changes_inserted; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _500_changes_inserted AFTER INSERT ON app_public.reservations REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_reservations__changes();

--
-- Name: reservations _500_changes_updated; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _500_changes_updated AFTER UPDATE ON app_public.reservations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_reservations__changes();

--
-- Name: spots _600_history_inserted; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _600_history_inserted AFTER INSERT ON app_public.spots REFERENCING NEW TABLE AS new_spots FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_spots__history_inserted();

--
-- Name: spots _600_history_updated; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _600_history_updated AFTER UPDATE ON app_public.spots REFERENCING OLD TABLE AS old_spots NEW TABLE AS new_spots FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_spots__history_updated();

--
-- Name: reservations _800_customer; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _800_customer AFTER INSERT ON app_public.reservations FOR EACH ROW WHEN (((new.kind = 'reservation'::text) AND (new.user_id IS NULL))) EXECUTE FUNCTION app_private.tg__customer_from_booker();

--
-- Name: users _800_customer; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _800_customer AFTER INSERT ON app_public.users FOR EACH ROW WHEN ((new.role = 'driver'::text)) EXECUTE FUNCTION app_private.tg__customer_from_booker();

--
-- Name: spots _800_live; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _800_live AFTER UPDATE OF status ON app_public.spots FOR EACH ROW WHEN ((new.status IS DISTINCT FROM old.status)) EXECUTE FUNCTION app_private.tg_spots__live();

--
-- Name: users _810_customer_name; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _810_customer_name AFTER UPDATE OF name ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg_users__customer_name();

--
-- Name: customer_notes _900_audit; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.customer_notes FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();

--
-- Name: customers _900_audit; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.customers FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();

--
-- Name: operator_zones _900_audit; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE ON app_public.operator_zones FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('operator_zones', 'user_id');

--
-- Name: rate_hours _900_audit; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.rate_hours FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('rate_hours', 'rate_id');

--
-- Name: rates _900_audit; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.rates FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();

--
-- Name: spots _900_audit; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.spots FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();

--
-- Name: reservations _900_audit_blocks; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit_blocks AFTER INSERT OR UPDATE ON app_public.reservations FOR EACH ROW WHEN ((new.kind = 'block'::text)) EXECUTE FUNCTION app_private.tg__audit('blocks');

--
-- Name: users _900_audit_role; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit_role AFTER UPDATE OF role ON app_public.users FOR EACH ROW WHEN ((old.role IS DISTINCT FROM new.role)) EXECUTE FUNCTION app_private.tg__audit('users');

--
-- Name: users _900_audit_staff_account; Type: TRIGGER; Schema: app_public; Owner: -
--

CREATE TRIGGER _900_audit_staff_account AFTER INSERT ON app_public.users FOR EACH ROW WHEN ((new.role <> 'driver'::text)) EXECUTE FUNCTION app_private.tg__audit('users');

--
-- Name: charges charges_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.charges
    ADD CONSTRAINT charges_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES app_public.reservations(id) ON DELETE RESTRICT;

--
-- Name: declined_cards declined_cards_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.declined_cards
    ADD CONSTRAINT declined_cards_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES app_public.reservations(id) ON DELETE CASCADE;

--
-- Name: refunds refunds_charge_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.refunds
    ADD CONSTRAINT refunds_charge_id_fkey FOREIGN KEY (charge_id) REFERENCES app_private.charges(id) ON DELETE RESTRICT;

--
-- Name: refunds refunds_requested_by_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.refunds
    ADD CONSTRAINT refunds_requested_by_fkey FOREIGN KEY (requested_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

--
-- Name: reservation_events reservation_events_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.reservation_events
    ADD CONSTRAINT reservation_events_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES app_public.reservations(id) ON DELETE CASCADE;

--
-- Name: reservation_origins reservation_origins_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.reservation_origins
    ADD CONSTRAINT reservation_origins_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES app_public.reservations(id) ON DELETE CASCADE;

--
-- Name: reservation_secrets reservation_secrets_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.reservation_secrets
    ADD CONSTRAINT reservation_secrets_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES app_public.reservations(id) ON DELETE CASCADE;

--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: setup_intents setup_intents_customer_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.setup_intents
    ADD CONSTRAINT setup_intents_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES app_private.stripe_customers(id) ON DELETE RESTRICT;

--
-- Name: setup_intents setup_intents_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.setup_intents
    ADD CONSTRAINT setup_intents_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES app_public.reservations(id) ON DELETE CASCADE;

--
-- Name: stripe_customers stripe_customers_guest_reservation_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_guest_reservation_id_fkey FOREIGN KEY (guest_reservation_id) REFERENCES app_public.reservations(id) ON DELETE CASCADE;

--
-- Name: stripe_customers stripe_customers_user_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.stripe_customers
    ADD CONSTRAINT stripe_customers_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: user_identities user_identities_user_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_identities
    ADD CONSTRAINT user_identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: user_secrets user_secrets_user_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_secrets
    ADD CONSTRAINT user_secrets_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: user_tokens user_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: app_private; Owner: -
--

ALTER TABLE ONLY app_private.user_tokens
    ADD CONSTRAINT user_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: customer_notes customer_notes_created_by_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customer_notes
    ADD CONSTRAINT customer_notes_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

--
-- Name: customer_notes customer_notes_customer_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customer_notes
    ADD CONSTRAINT customer_notes_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES app_public.customers(id) ON DELETE CASCADE;

--
-- Name: customers customers_created_by_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customers
    ADD CONSTRAINT customers_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

--
-- Name: customers customers_updated_by_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customers
    ADD CONSTRAINT customers_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

--
-- Name: customers customers_user_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.customers
    ADD CONSTRAINT customers_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

--
-- Name: operator_zones operator_zones_user_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.operator_zones
    ADD CONSTRAINT operator_zones_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: rate_hours rate_hours_rate_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.rate_hours
    ADD CONSTRAINT rate_hours_rate_id_fkey FOREIGN KEY (rate_id) REFERENCES app_public.rates(id) ON DELETE CASCADE;

--
-- Name: rates rates_currency_chargeable_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.rates
    ADD CONSTRAINT rates_currency_chargeable_fkey FOREIGN KEY (currency) REFERENCES app_hidden.payment_minimums(currency);

--
-- Name: reservations reservations_spot_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.reservations
    ADD CONSTRAINT reservations_spot_id_fkey FOREIGN KEY (spot_id) REFERENCES app_public.spots(id) ON DELETE RESTRICT;

--
-- Name: reservations reservations_user_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.reservations
    ADD CONSTRAINT reservations_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

--
-- Name: saved_spots saved_spots_spot_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.saved_spots
    ADD CONSTRAINT saved_spots_spot_id_fkey FOREIGN KEY (spot_id) REFERENCES app_public.spots(id) ON DELETE CASCADE;

--
-- Name: saved_spots saved_spots_user_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.saved_spots
    ADD CONSTRAINT saved_spots_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: spot_changes spot_changes_spot_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spot_changes
    ADD CONSTRAINT spot_changes_spot_id_fkey FOREIGN KEY (spot_id) REFERENCES app_public.spots(id) ON DELETE CASCADE;

--
-- Name: spot_changes spot_changes_sync_run_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spot_changes
    ADD CONSTRAINT spot_changes_sync_run_id_fkey FOREIGN KEY (sync_run_id) REFERENCES app_public.spot_sync_runs(id) ON DELETE SET NULL;

--
-- Name: spots spots_rate_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.spots
    ADD CONSTRAINT spots_rate_id_fkey FOREIGN KEY (rate_id) REFERENCES app_public.rates(id) ON DELETE RESTRICT;

--
-- Name: vehicles vehicles_user_id_fkey; Type: FK CONSTRAINT; Schema: app_public; Owner: -
--

ALTER TABLE ONLY app_public.vehicles
    ADD CONSTRAINT vehicles_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

--
-- Name: charges; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.charges ENABLE ROW LEVEL SECURITY;

--
-- Name: common_passwords; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.common_passwords ENABLE ROW LEVEL SECURITY;

--
-- Name: declined_cards; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.declined_cards ENABLE ROW LEVEL SECURITY;

--
-- Name: emails; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.emails ENABLE ROW LEVEL SECURITY;

--
-- Name: live_events; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.live_events ENABLE ROW LEVEL SECURITY;

--
-- Name: live_watched_tiles; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.live_watched_tiles ENABLE ROW LEVEL SECURITY;

--
-- Name: meter_zone_prices; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.meter_zone_prices ENABLE ROW LEVEL SECURITY;

--
-- Name: oauth_states; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.oauth_states ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_budgets; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.rate_budgets ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_limits; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.rate_limits ENABLE ROW LEVEL SECURITY;

--
-- Name: refunds; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.refunds ENABLE ROW LEVEL SECURITY;

--
-- Name: reservation_events; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.reservation_events ENABLE ROW LEVEL SECURITY;

--
-- Name: reservation_origins; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.reservation_origins ENABLE ROW LEVEL SECURITY;

--
-- Name: reservation_secrets; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.reservation_secrets ENABLE ROW LEVEL SECURITY;

--
-- Name: sessions; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.sessions ENABLE ROW LEVEL SECURITY;

--
-- Name: setup_intents; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.setup_intents ENABLE ROW LEVEL SECURITY;

--
-- Name: spot_sync_sources; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.spot_sync_sources ENABLE ROW LEVEL SECURITY;

--
-- Name: stored_objects; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.stored_objects ENABLE ROW LEVEL SECURITY;

--
-- Name: stripe_customers; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.stripe_customers ENABLE ROW LEVEL SECURITY;

--
-- Name: stripe_webhook_events; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.stripe_webhook_events ENABLE ROW LEVEL SECURITY;

--
-- Name: user_identities; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.user_identities ENABLE ROW LEVEL SECURITY;

--
-- Name: user_secrets; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.user_secrets ENABLE ROW LEVEL SECURITY;

--
-- Name: user_tokens; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.user_tokens ENABLE ROW LEVEL SECURITY;

--
-- Name: worker_processes; Type: ROW SECURITY; Schema: app_private; Owner: -
--

ALTER TABLE app_private.worker_processes ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_log; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.audit_log ENABLE ROW LEVEL SECURITY;

--
-- Name: customer_notes; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.customer_notes ENABLE ROW LEVEL SECURITY;

--
-- Name: customers; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.customers ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_hours delete_in_zone; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY delete_in_zone ON app_public.rate_hours FOR DELETE TO app_operator USING (app_hidden.current_user_may_manage_rate(rate_id));

--
-- Name: rate_hours insert_in_zone; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY insert_in_zone ON app_public.rate_hours FOR INSERT TO app_operator WITH CHECK (app_hidden.current_user_may_manage_rate(rate_id));

--
-- Name: spots insert_in_zone; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY insert_in_zone ON app_public.spots FOR INSERT TO app_operator WITH CHECK (app_hidden.current_user_may_manage(borough));

--
-- Name: rates insert_staff; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY insert_staff ON app_public.rates FOR INSERT TO app_operator WITH CHECK (( SELECT app_hidden.current_user_is_staff() AS current_user_is_staff));

--
-- Name: operator_zones; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.operator_zones ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_hours; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.rate_hours ENABLE ROW LEVEL SECURITY;

--
-- Name: rates; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.rates ENABLE ROW LEVEL SECURITY;

--
-- Name: reservations; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.reservations ENABLE ROW LEVEL SECURITY;

--
-- Name: saved_spots; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.saved_spots ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_hours select_all; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_all ON app_public.rate_hours FOR SELECT TO app_anonymous USING (true);

--
-- Name: rates select_all; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_all ON app_public.rates FOR SELECT TO app_anonymous USING (true);

--
-- Name: spot_changes select_all; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_all ON app_public.spot_changes FOR SELECT TO app_anonymous USING (true);

--
-- Name: spots select_all; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_all ON app_public.spots FOR SELECT TO app_anonymous USING (true);

--
-- Name: customer_notes select_live; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_live ON app_public.customer_notes FOR SELECT TO app_anonymous USING ((( SELECT app_hidden.current_user_is_staff() AS current_user_is_staff) AND (EXISTS ( SELECT
   FROM app_public.customers c
  WHERE ((c.id = customer_notes.customer_id) AND (c.deleted_at IS NULL))))));

--
-- Name: customers select_live; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_live ON app_public.customers FOR SELECT TO app_anonymous USING (((deleted_at IS NULL) AND ( SELECT app_hidden.current_user_is_staff() AS current_user_is_staff)));

--
-- Name: operator_zones select_own; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_own ON app_public.operator_zones FOR SELECT TO app_anonymous USING (((user_id = ( SELECT app_public.current_user_id() AS current_user_id)) OR ( SELECT app_hidden.current_user_is_admin() AS current_user_is_admin)));

--
-- Name: reservations select_own; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_own ON app_public.reservations FOR SELECT TO app_anonymous USING (((user_id = ( SELECT app_public.current_user_id() AS current_user_id)) OR ( SELECT app_hidden.current_user_is_staff() AS current_user_is_staff)));

--
-- Name: saved_spots select_own; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_own ON app_public.saved_spots FOR SELECT TO app_anonymous USING ((user_id = ( SELECT app_public.current_user_id() AS current_user_id)));

--
-- Name: vehicles select_own; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_own ON app_public.vehicles FOR SELECT TO app_anonymous USING ((user_id = ( SELECT app_public.current_user_id() AS current_user_id)));

--
-- Name: spot_sync_runs select_staff; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_staff ON app_public.spot_sync_runs FOR SELECT TO app_anonymous USING (( SELECT app_hidden.current_user_is_staff() AS current_user_is_staff));

--
-- Name: users select_visible; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY select_visible ON app_public.users FOR SELECT TO app_anonymous USING (((id = ( SELECT app_public.current_user_id() AS current_user_id)) OR ( SELECT app_hidden.current_user_is_admin() AS current_user_is_admin) OR ((role = 'driver'::text) AND ( SELECT app_hidden.current_user_is_staff() AS current_user_is_staff))));

--
-- Name: spot_changes; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.spot_changes ENABLE ROW LEVEL SECURITY;

--
-- Name: spot_sync_runs; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.spot_sync_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: spots; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.spots ENABLE ROW LEVEL SECURITY;

--
-- Name: rates update_in_zone; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY update_in_zone ON app_public.rates FOR UPDATE TO app_operator USING (app_hidden.current_user_may_manage_rate(id));

--
-- Name: spots update_in_zone; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY update_in_zone ON app_public.spots FOR UPDATE TO app_operator USING (app_hidden.current_user_may_manage(borough)) WITH CHECK (app_hidden.current_user_may_manage(borough));

--
-- Name: users update_self; Type: POLICY; Schema: app_public; Owner: -
--

CREATE POLICY update_self ON app_public.users FOR UPDATE TO app_user USING ((id = ( SELECT app_public.current_user_id() AS current_user_id)));

--
-- Name: users; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.users ENABLE ROW LEVEL SECURITY;

--
-- Name: vehicles; Type: ROW SECURITY; Schema: app_public; Owner: -
--

ALTER TABLE app_public.vehicles ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA analytics; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA analytics TO app_analyst;

--
-- Name: SCHEMA app_hidden; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA app_hidden TO app_anonymous;

--
-- Name: SCHEMA app_public; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA app_public TO app_anonymous;

--
-- Name: TABLE reservations; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.reservations TO app_anonymous;

--
-- Name: FUNCTION max_stay(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.max_stay() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.max_stay() TO app_anonymous;

--
-- Name: TABLE spots; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.spots TO app_anonymous;

--
-- Name: COLUMN spots.location; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(location),UPDATE(location) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.street; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(street),UPDATE(street) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.side_of_street; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(side_of_street),UPDATE(side_of_street) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.from_street; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(from_street),UPDATE(from_street) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.to_street; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(to_street),UPDATE(to_street) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.borough; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(borough),UPDATE(borough) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.zone; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(zone),UPDATE(zone) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.rate_id; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(rate_id),UPDATE(rate_id) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.max_stay; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(max_stay),UPDATE(max_stay) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.is_accessible; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(is_accessible),UPDATE(is_accessible) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.has_ev_charger; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(has_ev_charger),UPDATE(has_ev_charger) ON TABLE app_public.spots TO app_operator;

--
-- Name: COLUMN spots.status; Type: ACL; Schema: app_public; Owner: -
--

GRANT UPDATE(status) ON TABLE app_public.spots TO app_operator;

--
-- Name: FUNCTION assert_admin(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_admin() TO app_anonymous;

--
-- Name: FUNCTION assert_changeable(r app_public.reservations); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_changeable(r app_public.reservations) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_changeable(r app_public.reservations) TO app_anonymous;

--
-- Name: FUNCTION assert_email(email text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_email(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_email(email text) TO app_anonymous;

--
-- Name: FUNCTION assert_filter_length(value text, max_chars integer, what text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_filter_length(value text, max_chars integer, what text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_filter_length(value text, max_chars integer, what text) TO app_anonymous;

--
-- Name: FUNCTION rate_price_max(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.rate_price_max() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.rate_price_max() TO app_anonymous;

--
-- Name: TABLE rates; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.rates TO app_anonymous;

--
-- Name: COLUMN rates.code; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(code) ON TABLE app_public.rates TO app_operator;

--
-- Name: COLUMN rates.name; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.rates TO app_operator;

--
-- Name: COLUMN rates.hourly_price; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(hourly_price),UPDATE(hourly_price) ON TABLE app_public.rates TO app_operator;

--
-- Name: COLUMN rates.currency; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(currency) ON TABLE app_public.rates TO app_operator;

--
-- Name: COLUMN rates.billing_increment; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(billing_increment),UPDATE(billing_increment) ON TABLE app_public.rates TO app_operator;

--
-- Name: COLUMN rates.minimum_charge; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(minimum_charge),UPDATE(minimum_charge) ON TABLE app_public.rates TO app_operator;

--
-- Name: COLUMN rates.time_zone; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(time_zone) ON TABLE app_public.rates TO app_operator;

--
-- Name: FUNCTION assert_manages_rate(rate_id integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_manages_rate(rate_id integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_manages_rate(rate_id integer) TO app_anonymous;

--
-- Name: FUNCTION assert_manages_spot(spot_id bigint); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_manages_spot(spot_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_manages_spot(spot_id bigint) TO app_anonymous;

--
-- Name: FUNCTION assert_max_stay(spot app_public.spots, time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_max_stay(spot app_public.spots, time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION assert_max_stay_joined(spot app_public.spots, time_window tstzrange, user_id bigint, email public.citext, except_id bigint, plate text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_max_stay_joined(spot app_public.spots, time_window tstzrange, user_id bigint, email public.citext, except_id bigint, plate text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_max_stay_joined(spot app_public.spots, time_window tstzrange, user_id bigint, email public.citext, except_id bigint, plate text) TO app_anonymous;

--
-- Name: FUNCTION assert_min_stay(time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_min_stay(time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_min_stay(time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION assert_name(name text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_name(name text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_name(name text) TO app_anonymous;

--
-- Name: FUNCTION assert_password(password text, email text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_password(password text, email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_password(password text, email text) TO app_anonymous;

--
-- Name: FUNCTION assert_rate_money(hourly_price integer, minimum_charge integer, currency text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_rate_money(hourly_price integer, minimum_charge integer, currency text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_rate_money(hourly_price integer, minimum_charge integer, currency text) TO app_anonymous;

--
-- Name: FUNCTION assert_role(role text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_role(role text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_role(role text) TO app_anonymous;

--
-- Name: FUNCTION assert_signed_in(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_signed_in() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_signed_in() TO app_anonymous;

--
-- Name: FUNCTION assert_staff(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_staff() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_staff() TO app_anonymous;

--
-- Name: FUNCTION assert_verified(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_verified() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_verified() TO app_anonymous;

--
-- Name: FUNCTION assert_window(starts_at timestamp with time zone, ends_at timestamp with time zone); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.assert_window(starts_at timestamp with time zone, ends_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assert_window(starts_at timestamp with time zone, ends_at timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION block_max_length(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.block_max_length() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.block_max_length() TO app_anonymous;

--
-- Name: FUNCTION booking_hold_time(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.booking_hold_time() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.booking_hold_time() TO app_anonymous;

--
-- Name: FUNCTION booking_horizon(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.booking_horizon() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.booking_horizon() TO app_anonymous;

--
-- Name: FUNCTION booking_reminder_at(period tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.booking_reminder_at(period tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.booking_reminder_at(period tstzrange) TO app_anonymous;

--
-- Name: FUNCTION booking_reminder_lead(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.booking_reminder_lead() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.booking_reminder_lead() TO app_anonymous;

--
-- Name: FUNCTION booking_start_grace(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.booking_start_grace() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.booking_start_grace() TO app_anonymous;

--
-- Name: FUNCTION booking_window(starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.booking_window(starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.booking_window(starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer) TO app_anonymous;

--
-- Name: FUNCTION card_upcoming_max(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.card_upcoming_max() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.card_upcoming_max() TO app_anonymous;

--
-- Name: FUNCTION client_ip(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.client_ip() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.client_ip() TO app_anonymous;

--
-- Name: FUNCTION clock_now(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.clock_now() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.clock_now() TO app_anonymous;

--
-- Name: FUNCTION current_actor_role(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.current_actor_role() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_actor_role() TO app_anonymous;

--
-- Name: FUNCTION current_user_is_admin(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.current_user_is_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_user_is_admin() TO app_anonymous;

--
-- Name: FUNCTION current_user_is_staff(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.current_user_is_staff() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_user_is_staff() TO app_anonymous;

--
-- Name: FUNCTION current_user_may_join_rate(rate_id integer, borough text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.current_user_may_join_rate(rate_id integer, borough text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_user_may_join_rate(rate_id integer, borough text) TO app_anonymous;

--
-- Name: FUNCTION current_user_may_manage(borough text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.current_user_may_manage(borough text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_user_may_manage(borough text) TO app_anonymous;

--
-- Name: FUNCTION current_user_may_manage_rate(rate_id integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.current_user_may_manage_rate(rate_id integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_user_may_manage_rate(rate_id integer) TO app_anonymous;

--
-- Name: TABLE customers; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.customers TO app_anonymous;

--
-- Name: FUNCTION customer_live(customer_id bigint); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.customer_live(customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.customer_live(customer_id bigint) TO app_anonymous;

--
-- Name: FUNCTION customer_name(value text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.customer_name(value text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.customer_name(value text) TO app_anonymous;

--
-- Name: FUNCTION customer_photo_attach(customer_id bigint, photo_key text, content_type text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.customer_photo_attach(customer_id bigint, photo_key text, content_type text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.customer_photo_attach(customer_id bigint, photo_key text, content_type text) TO app_anonymous;

--
-- Name: FUNCTION customer_photo_check(customer_id bigint); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.customer_photo_check(customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.customer_photo_check(customer_id bigint) TO app_anonymous;

--
-- Name: FUNCTION db_role_for(role text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.db_role_for(role text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.db_role_for(role text) TO app_anonymous;

--
-- Name: FUNCTION email_is_valid(email text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.email_is_valid(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.email_is_valid(email text) TO app_anonymous;

--
-- Name: FUNCTION geo_point(lat double precision, lng double precision); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.geo_point(lat double precision, lng double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.geo_point(lat double precision, lng double precision) TO app_anonymous;

--
-- Name: FUNCTION guest_bookings_per_email_hour(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.guest_bookings_per_email_hour() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.guest_bookings_per_email_hour() TO app_anonymous;

--
-- Name: FUNCTION guest_email(email text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.guest_email(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.guest_email(email text) TO app_anonymous;

--
-- Name: FUNCTION holds_per_address(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.holds_per_address() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.holds_per_address() TO app_anonymous;

--
-- Name: FUNCTION holds_per_driver(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.holds_per_driver() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.holds_per_driver() TO app_anonymous;

--
-- Name: FUNCTION holds_spot(status app_public.reservation_status); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.holds_spot(status app_public.reservation_status) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.holds_spot(status app_public.reservation_status) TO app_anonymous;

--
-- Name: FUNCTION human_duration(d interval); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.human_duration(d interval) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.human_duration(d interval) TO app_anonymous;

--
-- Name: FUNCTION is_clock_time(value text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.is_clock_time(value text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.is_clock_time(value text) TO app_anonymous;

--
-- Name: FUNCTION iso_time(t timestamp with time zone); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.iso_time(t timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.iso_time(t timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION live_tile(lat double precision, lng double precision); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.live_tile(lat double precision, lng double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.live_tile(lat double precision, lng double precision) TO app_anonymous;

--
-- Name: FUNCTION local_instant(local_time timestamp without time zone, time_zone text, earliest boolean); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.local_instant(local_time timestamp without time zone, time_zone text, earliest boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.local_instant(local_time timestamp without time zone, time_zone text, earliest boolean) TO app_anonymous;

--
-- Name: FUNCTION lock_spot(spot_id bigint); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.lock_spot(spot_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.lock_spot(spot_id bigint) TO app_anonymous;

--
-- Name: FUNCTION login(email text, password text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.login(email text, password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.login(email text, password text) TO app_anonymous;

--
-- Name: FUNCTION max_stay_rest(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.max_stay_rest() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.max_stay_rest() TO app_anonymous;

--
-- Name: TABLE rate_hours; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.rate_hours TO app_anonymous;
GRANT DELETE ON TABLE app_public.rate_hours TO app_operator;

--
-- Name: COLUMN rate_hours.rate_id; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(rate_id) ON TABLE app_public.rate_hours TO app_operator;

--
-- Name: COLUMN rate_hours.isodow; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(isodow) ON TABLE app_public.rate_hours TO app_operator;

--
-- Name: COLUMN rate_hours.opens; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(opens) ON TABLE app_public.rate_hours TO app_operator;

--
-- Name: COLUMN rate_hours.closes; Type: ACL; Schema: app_public; Owner: -
--

GRANT INSERT(closes) ON TABLE app_public.rate_hours TO app_operator;

--
-- Name: FUNCTION metered_time(hours app_public.rate_hours[], time_zone text, time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.metered_time(hours app_public.rate_hours[], time_zone text, time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.metered_time(hours app_public.rate_hours[], time_zone text, time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION min_stay(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.min_stay() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.min_stay() TO app_anonymous;

--
-- Name: FUNCTION password_check_hit(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.password_check_hit() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.password_check_hit() TO app_anonymous;

--
-- Name: FUNCTION payment_customer_forget(reservation_id bigint, manage_token text, stripe_customer_id text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.payment_customer_forget(reservation_id bigint, manage_token text, stripe_customer_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.payment_customer_forget(reservation_id bigint, manage_token text, stripe_customer_id text) TO app_anonymous;

--
-- Name: FUNCTION payment_customer_record(reservation_id bigint, manage_token text, stripe_customer_id text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.payment_customer_record(reservation_id bigint, manage_token text, stripe_customer_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.payment_customer_record(reservation_id bigint, manage_token text, stripe_customer_id text) TO app_anonymous;

--
-- Name: FUNCTION payment_setup_lookup(reservation_id bigint, manage_token text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.payment_setup_lookup(reservation_id bigint, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION payment_setup_prepare(reservation_id bigint, manage_token text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.payment_setup_prepare(reservation_id bigint, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION payment_setup_record(reservation_id bigint, manage_token text, intent jsonb); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.payment_setup_record(reservation_id bigint, manage_token text, intent jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.payment_setup_record(reservation_id bigint, manage_token text, intent jsonb) TO app_anonymous;

--
-- Name: FUNCTION plate(plate text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.plate(plate text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.plate(plate text) TO app_anonymous;

--
-- Name: FUNCTION plate_state(state text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.plate_state(state text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.plate_state(state text) TO app_anonymous;

--
-- Name: FUNCTION quote_of(rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.quote_of(rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.quote_of(rate app_public.rates, hours app_public.rate_hours[], time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION quote_rate(rate_id integer, time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.quote_rate(rate_id integer, time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.quote_rate(rate_id integer, time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION quote_terms(terms jsonb, time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.quote_terms(terms jsonb, time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.quote_terms(terms jsonb, time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION raise_customer_email_taken(email text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.raise_customer_email_taken(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.raise_customer_email_taken(email text) TO app_anonymous;

--
-- Name: FUNCTION rate_increment(minutes integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.rate_increment(minutes integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.rate_increment(minutes integer) TO app_anonymous;

--
-- Name: FUNCTION rate_terms(rate_id integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.rate_terms(rate_id integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.rate_terms(rate_id integer) TO app_anonymous;

--
-- Name: FUNCTION rate_terms_of(rate app_public.rates, hours app_public.rate_hours[]); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.rate_terms_of(rate app_public.rates, hours app_public.rate_hours[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.rate_terms_of(rate app_public.rates, hours app_public.rate_hours[]) TO app_anonymous;

--
-- Name: FUNCTION refund_prepare(reservation_id bigint, amount integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.refund_prepare(reservation_id bigint, amount integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.refund_prepare(reservation_id bigint, amount integer) TO app_anonymous;

--
-- Name: FUNCTION refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.refund_record(refund_id bigint, stripe_refund_id text, status text, failure_message text) TO app_anonymous;

--
-- Name: FUNCTION require_sign_in(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.require_sign_in() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.require_sign_in() TO app_anonymous;

--
-- Name: FUNCTION reservation_email_data(r app_public.reservations); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.reservation_email_data(r app_public.reservations) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.reservation_email_data(r app_public.reservations) TO app_anonymous;

--
-- Name: FUNCTION reservation_email_data_of(r app_public.reservations); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.reservation_email_data_of(r app_public.reservations) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.reservation_email_data_of(r app_public.reservations) TO app_anonymous;

--
-- Name: FUNCTION reservation_quote(r app_public.reservations, time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.reservation_quote(r app_public.reservations, time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION search_radius_metres(radius double precision, unit app_public.distance_unit); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.search_radius_metres(radius double precision, unit app_public.distance_unit) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.search_radius_metres(radius double precision, unit app_public.distance_unit) TO app_anonymous;

--
-- Name: FUNCTION search_window(starts_at timestamp with time zone, ends_at timestamp with time zone); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.search_window(starts_at timestamp with time zone, ends_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.search_window(starts_at timestamp with time zone, ends_at timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION session_idle_timeout(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.session_idle_timeout() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.session_idle_timeout() TO app_anonymous;

--
-- Name: FUNCTION session_max_age(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.session_max_age() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.session_max_age() TO app_anonymous;

--
-- Name: FUNCTION session_touch_interval(); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.session_touch_interval() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.session_touch_interval() TO app_anonymous;

--
-- Name: FUNCTION sign_up_gate(email text, name text, password text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.sign_up_gate(email text, name text, password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.sign_up_gate(email text, name text, password text) TO app_anonymous;

--
-- Name: FUNCTION spot_max_stay(minutes integer); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.spot_max_stay(minutes integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.spot_max_stay(minutes integer) TO app_anonymous;

--
-- Name: FUNCTION spot_street(street text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.spot_street(street text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.spot_street(street text) TO app_anonymous;

--
-- Name: FUNCTION spot_time_zone(spot_id bigint); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.spot_time_zone(spot_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.spot_time_zone(spot_id bigint) TO app_anonymous;

--
-- Name: FUNCTION takes_card(status app_public.reservation_status); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.takes_card(status app_public.reservation_status) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.takes_card(status app_public.reservation_status) TO app_anonymous;

--
-- Name: FUNCTION unit_metres(unit app_public.distance_unit); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.unit_metres(unit app_public.distance_unit) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.unit_metres(unit app_public.distance_unit) TO app_anonymous;

--
-- Name: FUNCTION user_token_valid_for(kind text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.user_token_valid_for(kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.user_token_valid_for(kind text) TO app_anonymous;

--
-- Name: FUNCTION vehicle(given_plate text, given_state text, OUT plate text, OUT plate_state text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.vehicle(given_plate text, given_state text, OUT plate text, OUT plate_state text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.vehicle(given_plate text, given_state text, OUT plate text, OUT plate_state text) TO app_anonymous;

--
-- Name: FUNCTION verify_email_check_hit(token text); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.verify_email_check_hit(token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.verify_email_check_hit(token text) TO app_anonymous;

--
-- Name: FUNCTION window_length(time_window tstzrange); Type: ACL; Schema: app_hidden; Owner: -
--

REVOKE ALL ON FUNCTION app_hidden.window_length(time_window tstzrange) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.window_length(time_window tstzrange) TO app_anonymous;

--
-- Name: FUNCTION assert_hold_allowed(email public.citext, verified_booker_id bigint, client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.assert_hold_allowed(email public.citext, verified_booker_id bigint, client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION assert_may_extend(r app_public.reservations, spot app_public.spots); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.assert_may_extend(r app_public.reservations, spot app_public.spots) FROM PUBLIC;

--
-- Name: FUNCTION assert_new_end(r app_public.reservations, spot app_public.spots, time_window tstzrange); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.assert_new_end(r app_public.reservations, spot app_public.spots, time_window tstzrange) FROM PUBLIC;

--
-- Name: FUNCTION audit_write(table_name text, record_id text, action text, old_values jsonb, new_values jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.audit_write(table_name text, record_id text, action text, old_values jsonb, new_values jsonb) FROM PUBLIC;

--
-- Name: FUNCTION card_at_limit(card_fingerprint text, reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.card_at_limit(card_fingerprint text, reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION card_rules_again(r app_public.reservations, si app_private.setup_intents); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.card_rules_again(r app_public.reservations, si app_private.setup_intents) FROM PUBLIC;

--
-- Name: FUNCTION card_unpaid(card_fingerprint text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.card_unpaid(card_fingerprint text) FROM PUBLIC;

--
-- Name: FUNCTION charge_failed(charge_id bigint, attempt integer, failure_code text, failure_message text, payment_intent_id text, retryable boolean); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_failed(charge_id bigint, attempt integer, failure_code text, failure_message text, payment_intent_id text, retryable boolean) FROM PUBLIC;

--
-- Name: FUNCTION charge_prepare(reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_prepare(reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION charge_processing(charge_id bigint, attempt integer, payment_intent_id text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_processing(charge_id bigint, attempt integer, payment_intent_id text) FROM PUBLIC;

--
-- Name: FUNCTION charge_requeue(reservation_id bigint, run_at timestamp with time zone, max_attempts integer, priority integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_requeue(reservation_id bigint, run_at timestamp with time zone, max_attempts integer, priority integer) FROM PUBLIC;

--
-- Name: FUNCTION charge_retry_delay(attempt integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_retry_delay(attempt integer) FROM PUBLIC;

--
-- Name: FUNCTION charge_retry_now(reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_retry_now(reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION charge_succeeded(charge_id bigint, attempt integer, payment_intent_id text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charge_succeeded(charge_id bigint, attempt integer, payment_intent_id text) FROM PUBLIC;

--
-- Name: FUNCTION charges_behind(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charges_behind() FROM PUBLIC;

--
-- Name: FUNCTION charges_prepare(reservation_ids bigint[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charges_prepare(reservation_ids bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION charges_requeue_exhausted(max_rows integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charges_requeue_exhausted(max_rows integer) FROM PUBLIC;

--
-- Name: FUNCTION charges_succeeded(outcomes jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.charges_succeeded(outcomes jsonb) FROM PUBLIC;

--
-- Name: FUNCTION claim_guest_reservations(user_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.claim_guest_reservations(user_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION complete_reservation(reservation_id bigint, ended_at timestamp with time zone); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.complete_reservation(reservation_id bigint, ended_at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION confirm_held_reservation(reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.confirm_held_reservation(reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION confirm_if_card_allows(reservation_id bigint, card_fingerprint text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.confirm_if_card_allows(reservation_id bigint, card_fingerprint text) FROM PUBLIC;

--
-- Name: FUNCTION due_work_schedule(every_ms integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.due_work_schedule(every_ms integer) FROM PUBLIC;

--
-- Name: FUNCTION email_data_spent(data jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.email_data_spent(data jsonb) FROM PUBLIC;

--
-- Name: FUNCTION email_enqueue(template text, recipient public.citext, data jsonb, dedupe_key text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.email_enqueue(template text, recipient public.citext, data jsonb, dedupe_key text) FROM PUBLIC;

--
-- Name: FUNCTION email_send_attempts_max(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.email_send_attempts_max() FROM PUBLIC;

--
-- Name: FUNCTION email_send_failed(email_id bigint, error text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.email_send_failed(email_id bigint, error text) FROM PUBLIC;

--
-- Name: FUNCTION email_sent(email_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.email_sent(email_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION email_to_send(email_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.email_to_send(email_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION emails_queue_due(max_rows integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.emails_queue_due(max_rows integer) FROM PUBLIC;

--
-- Name: TABLE users; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.users TO app_anonymous;

--
-- Name: COLUMN users.name; Type: ACL; Schema: app_public; Owner: -
--

GRANT UPDATE(name) ON TABLE app_public.users TO app_user;

--
-- Name: FUNCTION forget_unproved_setup(user_id bigint, name text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.forget_unproved_setup(user_id bigint, name text) FROM PUBLIC;

--
-- Name: FUNCTION holds_expire_due(max_rows integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.holds_expire_due(max_rows integer) FROM PUBLIC;

--
-- Name: FUNCTION live_anyone_watching(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.live_anyone_watching() FROM PUBLIC;

--
-- Name: FUNCTION live_event_json(e app_private.live_events); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.live_event_json(e app_private.live_events) FROM PUBLIC;

--
-- Name: FUNCTION live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.live_events_record(spot_ids bigint[], reasons text[], windows tstzrange[]) FROM PUBLIC;

--
-- Name: FUNCTION live_events_since(after_id bigint, tiles text[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.live_events_since(after_id bigint, tiles text[]) FROM PUBLIC;

--
-- Name: FUNCTION live_watch(listener uuid, tiles text[], retention interval); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.live_watch(listener uuid, tiles text[], retention interval) FROM PUBLIC;

--
-- Name: FUNCTION login_attempt(email text, password text, client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.login_attempt(email text, password text, client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION manage_token_hash(token text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.manage_token_hash(token text) FROM PUBLIC;

--
-- Name: FUNCTION mark_verified(user_id bigint, email public.citext); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.mark_verified(user_id bigint, email public.citext) FROM PUBLIC;

--
-- Name: FUNCTION meter_hours_parse(meter_hours text, OUT max_stay interval, OUT vehicle_class text, OUT schedule text, OUT hours jsonb, OUT error text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.meter_hours_parse(meter_hours text, OUT max_stay interval, OUT vehicle_class text, OUT schedule text, OUT hours jsonb, OUT error text) FROM PUBLIC;

--
-- Name: FUNCTION new_manage_token(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.new_manage_token() FROM PUBLIC;

--
-- Name: FUNCTION new_token(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.new_token() FROM PUBLIC;

--
-- Name: FUNCTION oauth_sign_in(provider text, subject text, email text, email_verified boolean, name text, intent text, staff_domains text[], client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.oauth_sign_in(provider text, subject text, email text, email_verified boolean, name text, intent text, staff_domains text[], client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION oauth_state_consume(provider text, state text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.oauth_state_consume(provider text, state text) FROM PUBLIC;

--
-- Name: FUNCTION oauth_state_create(provider text, state text, code_verifier text, nonce text, intent text, redirect_to text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.oauth_state_create(provider text, state text, code_verifier text, nonce text, intent text, redirect_to text) FROM PUBLIC;

--
-- Name: FUNCTION password_hash(password text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.password_hash(password text) FROM PUBLIC;

--
-- Name: FUNCTION password_matches(user_id bigint, password text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.password_matches(user_id bigint, password text) FROM PUBLIC;

--
-- Name: FUNCTION password_set(user_id bigint, password text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.password_set(user_id bigint, password text) FROM PUBLIC;

--
-- Name: FUNCTION payment_email_data(reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.payment_email_data(reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION payment_key(reservation_id bigint, what text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.payment_key(reservation_id bigint, what text) FROM PUBLIC;

--
-- Name: FUNCTION payment_key_of(r app_public.reservations, what text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.payment_key_of(r app_public.reservations, what text) FROM PUBLIC;

--
-- Name: FUNCTION queue_charge_batches(reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer, batch_size integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.queue_charge_batches(reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer, batch_size integer) FROM PUBLIC;

--
-- Name: FUNCTION queue_reservation_jobs(task text, reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.queue_reservation_jobs(task text, reservation_ids bigint[], run_at timestamp with time zone, priority integer, max_attempts integer) FROM PUBLIC;

--
-- Name: FUNCTION rate_budget_take(name text, per_second double precision, burst double precision, max_wait interval, calls integer, at timestamp with time zone, OUT waits double precision[], OUT retry_after double precision); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.rate_budget_take(name text, per_second double precision, burst double precision, max_wait interval, calls integer, at timestamp with time zone, OUT waits double precision[], OUT retry_after double precision) FROM PUBLIC;

--
-- Name: FUNCTION rate_budget_tokens_at(b app_private.rate_budgets, at timestamp with time zone); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.rate_budget_tokens_at(b app_private.rate_budgets, at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION rate_limit_hit(bucket text, key text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.rate_limit_hit(bucket text, key text) FROM PUBLIC;

--
-- Name: FUNCTION rate_limit_period(period interval, escalates boolean, strikes integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.rate_limit_period(period interval, escalates boolean, strikes integer) FROM PUBLIC;

--
-- Name: FUNCTION rate_limit_raise(retry_after integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.rate_limit_raise(retry_after integer) FROM PUBLIC;

--
-- Name: FUNCTION rate_limit_rule(bucket text, OUT max_hits integer, OUT period interval, OUT escalates boolean); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.rate_limit_rule(bucket text, OUT max_hits integer, OUT period interval, OUT escalates boolean) FROM PUBLIC;

--
-- Name: FUNCTION reclaim_unverified_account(user_id bigint, provider text, name text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reclaim_unverified_account(user_id bigint, provider text, name text) FROM PUBLIC;

--
-- Name: FUNCTION refund_apply(refund_id bigint, stripe_refund_id text, status text, failure_message text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.refund_apply(refund_id bigint, stripe_refund_id text, status text, failure_message text) FROM PUBLIC;

--
-- Name: FUNCTION refund_from_stripe(refund jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.refund_from_stripe(refund jsonb) FROM PUBLIC;

--
-- Name: FUNCTION refund_made(refund_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.refund_made(refund_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION refuse_no_card(r app_public.reservations); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.refuse_no_card(r app_public.reservations) FROM PUBLIC;

--
-- Name: FUNCTION register(email text, name text, password text, client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.register(email text, name text, password text, client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION reminders_send_due(max_rows integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reminders_send_due(max_rows integer) FROM PUBLIC;

--
-- Name: FUNCTION reservation_card_of(reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservation_card_of(reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION reservation_for_caller(reservation_id bigint, manage_token text, lock_row boolean); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservation_for_caller(reservation_id bigint, manage_token text, lock_row boolean) FROM PUBLIC;

--
-- Name: FUNCTION reservation_job_key(task text, reservation_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservation_job_key(task text, reservation_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION reservations_audit(changes app_private.reservation_change[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservations_audit(changes app_private.reservation_change[]) FROM PUBLIC;

--
-- Name: FUNCTION reservations_emails(changes app_private.reservation_change[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservations_emails(changes app_private.reservation_change[]) FROM PUBLIC;

--
-- Name: FUNCTION reservations_end_due(max_rows integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservations_end_due(max_rows integer) FROM PUBLIC;

--
-- Name: FUNCTION reservations_live(changes app_private.reservation_change[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.reservations_live(changes app_private.reservation_change[]) FROM PUBLIC;

--
-- Name: FUNCTION send_verification(user_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.send_verification(user_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION session_create(user_id bigint, method text, client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.session_create(user_id bigint, method text, client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION session_lookup(token_hash bytea); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.session_lookup(token_hash bytea) FROM PUBLIC;

--
-- Name: FUNCTION session_revoke(session_id uuid); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.session_revoke(session_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION sessions_sweep(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.sessions_sweep() FROM PUBLIC;

--
-- Name: FUNCTION setup_intent_apply(reservation_id bigint, intent jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.setup_intent_apply(reservation_id bigint, intent jsonb) FROM PUBLIC;

--
-- Name: FUNCTION setup_intent_json(si app_private.setup_intents, reservation app_public.reservations); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.setup_intent_json(si app_private.setup_intents, reservation app_public.reservations) FROM PUBLIC;

--
-- Name: FUNCTION sign_up_gate(email text, name text, password text, client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.sign_up_gate(email text, name text, password text, client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION signed_in_from(user_id bigint, client_ip inet); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.signed_in_from(user_id bigint, client_ip inet) FROM PUBLIC;

--
-- Name: FUNCTION spot_change_source(OUT sync_run_id bigint, OUT source text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spot_change_source(OUT sync_run_id bigint, OUT source text) FROM PUBLIC;

--
-- Name: FUNCTION spot_history_fields(s app_public.spots); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spot_history_fields(s app_public.spots) FROM PUBLIC;

--
-- Name: FUNCTION spots_import(rows jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_import(rows jsonb) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_batch(run_id bigint, rows jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_batch(run_id bigint, rows jsonb) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_begin(source_url text, OUT run_id bigint, OUT etag text, OUT last_modified text, OUT retry_at timestamp with time zone); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_begin(source_url text, OUT run_id bigint, OUT etag text, OUT last_modified text, OUT retry_at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_failed(run_id bigint, error text, backoff_seconds integer, backoff_max_seconds integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_failed(run_id bigint, error text, backoff_seconds integer, backoff_max_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_finish(run_id bigint, etag text, last_modified text, rows_seen integer, inserted integer, changed integer, unchanged integer, rejected integer, rejects jsonb); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_finish(run_id bigint, etag text, last_modified text, rows_seen integer, inserted integer, changed integer, unchanged integer, rejected integer, rejects jsonb) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_not_modified(run_id bigint); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_not_modified(run_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_removed_max(active integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_removed_max(active integer) FROM PUBLIC;

--
-- Name: FUNCTION spots_sync_schedule(run_at timestamp with time zone); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.spots_sync_schedule(run_at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION stripe_webhook_receive(event jsonb, card_fingerprint text, card_upcoming_max integer); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.stripe_webhook_receive(event jsonb, card_fingerprint text, card_upcoming_max integer) FROM PUBLIC;

--
-- Name: FUNCTION tg__audit(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg__audit() FROM PUBLIC;

--
-- Name: FUNCTION tg__customer_from_booker(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg__customer_from_booker() FROM PUBLIC;

--
-- Name: FUNCTION tg__staff_stamps(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg__staff_stamps() FROM PUBLIC;

--
-- Name: FUNCTION tg__timestamps(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg__timestamps() FROM PUBLIC;

--
-- Name: FUNCTION tg_reservations__changes(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_reservations__changes() FROM PUBLIC;

--
-- Name: FUNCTION tg_reservations__remind_at(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_reservations__remind_at() FROM PUBLIC;

--
-- Name: FUNCTION tg_spots__history_inserted(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_spots__history_inserted() FROM PUBLIC;

--
-- Name: FUNCTION tg_spots__history_updated(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_spots__history_updated() FROM PUBLIC;

--
-- Name: FUNCTION tg_spots__live(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_spots__live() FROM PUBLIC;

--
-- Name: FUNCTION tg_users__customer_name(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_users__customer_name() FROM PUBLIC;

--
-- Name: FUNCTION tg_users__name(); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.tg_users__name() FROM PUBLIC;

--
-- Name: FUNCTION token_hash(token text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.token_hash(token text) FROM PUBLIC;

--
-- Name: FUNCTION user_create(email text, name text, role text, password text, invited_by text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.user_create(email text, name text, role text, password text, invited_by text) FROM PUBLIC;

--
-- Name: FUNCTION user_token_issue(user_id bigint, kind text, email public.citext, valid_for interval, replaces_older boolean); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.user_token_issue(user_id bigint, kind text, email public.citext, valid_for interval, replaces_older boolean) FROM PUBLIC;

--
-- Name: FUNCTION user_token_use(token text, kinds text[]); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.user_token_use(token text, kinds text[]) FROM PUBLIC;

--
-- Name: FUNCTION user_tokens_void(user_id bigint, kind text); Type: ACL; Schema: app_private; Owner: -
--

REVOKE ALL ON FUNCTION app_private.user_tokens_void(user_id bigint, kind text) FROM PUBLIC;

--
-- Name: TABLE customer_notes; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.customer_notes TO app_anonymous;

--
-- Name: FUNCTION add_customer_note(customer_id bigint, body text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.add_customer_note(customer_id bigint, body text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.add_customer_note(customer_id bigint, body text) TO app_anonymous;

--
-- Name: FUNCTION audit_entries(table_name text, record_id text, actor_user_id bigint, since timestamp with time zone, until timestamp with time zone); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.audit_entries(table_name text, record_id text, actor_user_id bigint, since timestamp with time zone, until timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.audit_entries(table_name text, record_id text, actor_user_id bigint, since timestamp with time zone, until timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION auth_session_user(session app_public.auth_session); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.auth_session_user(session app_public.auth_session) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.auth_session_user(session app_public.auth_session) TO app_anonymous;

--
-- Name: FUNCTION available_spots(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.available_spots() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.available_spots() TO app_anonymous;

--
-- Name: FUNCTION block_spot(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.block_spot(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.block_spot(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, reason text) TO app_anonymous;

--
-- Name: FUNCTION cancel_reservation(reservation_id bigint, manage_token text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.cancel_reservation(reservation_id bigint, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.cancel_reservation(reservation_id bigint, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION change_password(old_password text, new_password text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.change_password(old_password text, new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.change_password(old_password text, new_password text) TO app_anonymous;

--
-- Name: FUNCTION change_reservation_end(reservation_id bigint, ends_at timestamp with time zone, manage_token text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.change_reservation_end(reservation_id bigint, ends_at timestamp with time zone, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.change_reservation_end(reservation_id bigint, ends_at timestamp with time zone, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION create_customer(email text, name text, surname text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.create_customer(email text, name text, surname text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.create_customer(email text, name text, surname text) TO app_anonymous;

--
-- Name: FUNCTION create_rate(code text, name text, hourly_price integer, currency text, billing_increment_minutes integer, minimum_charge integer, time_zone text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.create_rate(code text, name text, hourly_price integer, currency text, billing_increment_minutes integer, minimum_charge integer, time_zone text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.create_rate(code text, name text, hourly_price integer, currency text, billing_increment_minutes integer, minimum_charge integer, time_zone text) TO app_anonymous;

--
-- Name: FUNCTION create_spot(lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.create_spot(lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.create_spot(lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean) TO app_anonymous;

--
-- Name: FUNCTION current_session_id(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.current_session_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_session_id() TO app_anonymous;

--
-- Name: FUNCTION "current_user"(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public."current_user"() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public."current_user"() TO app_anonymous;

--
-- Name: FUNCTION current_user_id(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.current_user_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_user_id() TO app_anonymous;

--
-- Name: FUNCTION customers_payments(c app_public.customers); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.customers_payments(c app_public.customers) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.customers_payments(c app_public.customers) TO app_anonymous;

--
-- Name: FUNCTION customers_photo_url(c app_public.customers); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.customers_photo_url(c app_public.customers) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.customers_photo_url(c app_public.customers) TO app_anonymous;

--
-- Name: FUNCTION customers_reservations(c app_public.customers); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.customers_reservations(c app_public.customers) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.customers_reservations(c app_public.customers) TO app_anonymous;

--
-- Name: FUNCTION delete_customer(customer_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.delete_customer(customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.delete_customer(customer_id bigint) TO app_anonymous;

--
-- Name: FUNCTION end_reservation(reservation_id bigint, manage_token text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.end_reservation(reservation_id bigint, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.end_reservation(reservation_id bigint, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION enforcement_lookup(plate text, plate_state text, spot_id bigint, meter_number text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.enforcement_lookup(plate text, plate_state text, spot_id bigint, meter_number text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.enforcement_lookup(plate text, plate_state text, spot_id bigint, meter_number text) TO app_anonymous;

--
-- Name: FUNCTION forgot_password(email text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.forgot_password(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.forgot_password(email text) TO app_anonymous;

--
-- Name: FUNCTION guest_reservation(reservation_id bigint, manage_token text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.guest_reservation(reservation_id bigint, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.guest_reservation(reservation_id bigint, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION invite_staff(email text, name text, role text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.invite_staff(email text, name text, role text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.invite_staff(email text, name text, role text) TO app_anonymous;

--
-- Name: FUNCTION logout(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.logout() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.logout() TO app_anonymous;

--
-- Name: FUNCTION my_past_reservations(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.my_past_reservations() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_past_reservations() TO app_anonymous;

--
-- Name: FUNCTION my_reservation(reservation_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.my_reservation(reservation_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_reservation(reservation_id bigint) TO app_anonymous;

--
-- Name: FUNCTION my_reservations(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.my_reservations() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_reservations() TO app_anonymous;

--
-- Name: FUNCTION my_saved_spots(starts_at timestamp with time zone, ends_at timestamp with time zone); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.my_saved_spots(starts_at timestamp with time zone, ends_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_saved_spots(starts_at timestamp with time zone, ends_at timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION my_sessions(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.my_sessions() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_sessions() TO app_anonymous;

--
-- Name: FUNCTION quote(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.quote(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.quote(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION register(email text, name text, password text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.register(email text, name text, password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.register(email text, name text, password text) TO app_anonymous;

--
-- Name: TABLE vehicles; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.vehicles TO app_anonymous;

--
-- Name: FUNCTION remove_vehicle(vehicle_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.remove_vehicle(vehicle_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.remove_vehicle(vehicle_id bigint) TO app_anonymous;

--
-- Name: FUNCTION resend_verification_email(); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.resend_verification_email() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.resend_verification_email() TO app_anonymous;

--
-- Name: FUNCTION reservation_end_quote(reservation_id bigint, ends_at timestamp with time zone, manage_token text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.reservation_end_quote(reservation_id bigint, ends_at timestamp with time zone, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reservation_end_quote(reservation_id bigint, ends_at timestamp with time zone, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION reservations_ends_at(r app_public.reservations); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.reservations_ends_at(r app_public.reservations) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reservations_ends_at(r app_public.reservations) TO app_anonymous;

--
-- Name: FUNCTION reservations_starts_at(r app_public.reservations); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.reservations_starts_at(r app_public.reservations) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reservations_starts_at(r app_public.reservations) TO app_anonymous;

--
-- Name: FUNCTION reservations_time_zone(r app_public.reservations); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.reservations_time_zone(r app_public.reservations) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reservations_time_zone(r app_public.reservations) TO app_anonymous;

--
-- Name: FUNCTION reserve(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer, email text, plate text, plate_state text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.reserve(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer, email text, plate text, plate_state text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reserve(spot_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone, duration_minutes integer, email text, plate text, plate_state text) TO app_anonymous;

--
-- Name: FUNCTION reset_password(token text, new_password text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.reset_password(token text, new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reset_password(token text, new_password text) TO app_anonymous;

--
-- Name: FUNCTION restore_customer(customer_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.restore_customer(customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.restore_customer(customer_id bigint) TO app_anonymous;

--
-- Name: FUNCTION revoke_session(session_id uuid); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.revoke_session(session_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.revoke_session(session_id uuid) TO app_anonymous;

--
-- Name: TABLE saved_spots; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.saved_spots TO app_anonymous;

--
-- Name: FUNCTION save_spot(spot_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.save_spot(spot_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.save_spot(spot_id bigint) TO app_anonymous;

--
-- Name: FUNCTION save_vehicle(plate text, plate_state text, label text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.save_vehicle(plate text, plate_state text, label text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.save_vehicle(plate text, plate_state text, label text) TO app_anonymous;

--
-- Name: FUNCTION search_customers(query text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.search_customers(query text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.search_customers(query text) TO app_anonymous;

--
-- Name: FUNCTION send_manage_link(reservation_id bigint, email text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.send_manage_link(reservation_id bigint, email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.send_manage_link(reservation_id bigint, email text) TO app_anonymous;

--
-- Name: TABLE operator_zones; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.operator_zones TO app_anonymous;

--
-- Name: FUNCTION set_operator_zones(user_id bigint, boroughs text[]); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.set_operator_zones(user_id bigint, boroughs text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_operator_zones(user_id bigint, boroughs text[]) TO app_anonymous;

--
-- Name: FUNCTION set_rate_hours(rate_id integer, hours jsonb); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.set_rate_hours(rate_id integer, hours jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_rate_hours(rate_id integer, hours jsonb) TO app_anonymous;

--
-- Name: FUNCTION set_reservation_vehicle(reservation_id bigint, plate text, plate_state text, manage_token text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.set_reservation_vehicle(reservation_id bigint, plate text, plate_state text, manage_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_reservation_vehicle(reservation_id bigint, plate text, plate_state text, manage_token text) TO app_anonymous;

--
-- Name: FUNCTION set_spot_status(spot_id bigint, status text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.set_spot_status(spot_id bigint, status text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_spot_status(spot_id bigint, status text) TO app_anonymous;

--
-- Name: FUNCTION set_user_role(user_id bigint, role text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.set_user_role(user_id bigint, role text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_user_role(user_id bigint, role text) TO app_anonymous;

--
-- Name: FUNCTION spot_affected_reservations(spot_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spot_affected_reservations(spot_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spot_affected_reservations(spot_id bigint) TO app_anonymous;

--
-- Name: TABLE spot_changes; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.spot_changes TO app_anonymous;

--
-- Name: FUNCTION spot_change_history(borough text, street text, meter text, since timestamp with time zone, until timestamp with time zone, before_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spot_change_history(borough text, street text, meter text, since timestamp with time zone, until timestamp with time zone, before_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spot_change_history(borough text, street text, meter text, since timestamp with time zone, until timestamp with time zone, before_id bigint) TO app_anonymous;

--
-- Name: FUNCTION spots_description(s app_public.spots); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spots_description(s app_public.spots) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spots_description(s app_public.spots) TO app_anonymous;

--
-- Name: FUNCTION spots_is_saved(s app_public.spots); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spots_is_saved(s app_public.spots) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spots_is_saved(s app_public.spots) TO app_anonymous;

--
-- Name: FUNCTION spots_lat(s app_public.spots); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spots_lat(s app_public.spots) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spots_lat(s app_public.spots) TO app_anonymous;

--
-- Name: FUNCTION spots_lng(s app_public.spots); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spots_lng(s app_public.spots) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spots_lng(s app_public.spots) TO app_anonymous;

--
-- Name: FUNCTION spots_near(lat double precision, lng double precision, radius double precision, unit app_public.distance_unit, starts_at timestamp with time zone, ends_at timestamp with time zone); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.spots_near(lat double precision, lng double precision, radius double precision, unit app_public.distance_unit, starts_at timestamp with time zone, ends_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.spots_near(lat double precision, lng double precision, radius double precision, unit app_public.distance_unit, starts_at timestamp with time zone, ends_at timestamp with time zone) TO app_anonymous;

--
-- Name: FUNCTION unblock_spot(block_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.unblock_spot(block_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.unblock_spot(block_id bigint) TO app_anonymous;

--
-- Name: FUNCTION unsave_spot(spot_id bigint); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.unsave_spot(spot_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.unsave_spot(spot_id bigint) TO app_anonymous;

--
-- Name: FUNCTION update_customer(customer_id bigint, email text, name text, surname text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.update_customer(customer_id bigint, email text, name text, surname text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.update_customer(customer_id bigint, email text, name text, surname text) TO app_anonymous;

--
-- Name: FUNCTION update_rate(rate_id integer, name text, hourly_price integer, billing_increment_minutes integer, minimum_charge integer); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.update_rate(rate_id integer, name text, hourly_price integer, billing_increment_minutes integer, minimum_charge integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.update_rate(rate_id integer, name text, hourly_price integer, billing_increment_minutes integer, minimum_charge integer) TO app_anonymous;

--
-- Name: FUNCTION update_spot(spot_id bigint, lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.update_spot(spot_id bigint, lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.update_spot(spot_id bigint, lat double precision, lng double precision, street text, rate_id integer, borough text, zone text, side_of_street text, from_street text, to_street text, max_stay_minutes integer, is_accessible boolean, has_ev_charger boolean) TO app_anonymous;

--
-- Name: FUNCTION verify_email(token text, password text); Type: ACL; Schema: app_public; Owner: -
--

REVOKE ALL ON FUNCTION app_public.verify_email(token text, password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.verify_email(token text, password text) TO app_anonymous;

--
-- Name: TABLE booking_funnel; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.booking_funnel TO app_analyst;

--
-- Name: TABLE boroughs; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.boroughs TO app_analyst;

--
-- Name: TABLE charges; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.charges TO app_analyst;

--
-- Name: TABLE daily_revenue; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.daily_revenue TO app_analyst;

--
-- Name: TABLE occupancy_by_hour; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.occupancy_by_hour TO app_analyst;

--
-- Name: TABLE reservations; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.reservations TO app_analyst;

--
-- Name: TABLE revenue_by_day_and_rate; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.revenue_by_day_and_rate TO app_analyst;

--
-- Name: TABLE spots; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.spots TO app_analyst;

--
-- Name: TABLE stays_by_day; Type: ACL; Schema: analytics; Owner: -
--

GRANT SELECT ON TABLE analytics.stays_by_day TO app_analyst;

--
-- Name: TABLE payment_minimums; Type: ACL; Schema: app_hidden; Owner: -
--

GRANT SELECT ON TABLE app_hidden.payment_minimums TO app_anonymous;

--
-- Name: TABLE spot_occupancy; Type: ACL; Schema: app_hidden; Owner: -
--

GRANT SELECT ON TABLE app_hidden.spot_occupancy TO app_anonymous;

--
-- Name: SEQUENCE audit_log_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.audit_log_id_seq TO app_anonymous;

--
-- Name: SEQUENCE customer_notes_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.customer_notes_id_seq TO app_anonymous;

--
-- Name: SEQUENCE customers_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.customers_id_seq TO app_anonymous;

--
-- Name: SEQUENCE rates_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.rates_id_seq TO app_anonymous;

--
-- Name: SEQUENCE reservations_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.reservations_id_seq TO app_anonymous;

--
-- Name: SEQUENCE spot_changes_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.spot_changes_id_seq TO app_anonymous;

--
-- Name: TABLE spot_sync_runs; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT ON TABLE app_public.spot_sync_runs TO app_anonymous;

--
-- Name: SEQUENCE spot_sync_runs_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.spot_sync_runs_id_seq TO app_anonymous;

--
-- Name: SEQUENCE spots_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.spots_id_seq TO app_anonymous;

--
-- Name: SEQUENCE users_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.users_id_seq TO app_anonymous;

--
-- Name: SEQUENCE vehicles_id_seq; Type: ACL; Schema: app_public; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE app_public.vehicles_id_seq TO app_anonymous;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: app_hidden; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app_hidden GRANT SELECT,USAGE ON SEQUENCES  TO app_anonymous;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: app_hidden; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app_hidden GRANT ALL ON FUNCTIONS  TO app_anonymous;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: app_public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app_public GRANT SELECT,USAGE ON SEQUENCES  TO app_anonymous;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: app_public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app_public GRANT ALL ON FUNCTIONS  TO app_anonymous;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE ALL ON FUNCTIONS  FROM PUBLIC;

--
-- PostgreSQL database dump complete
--

