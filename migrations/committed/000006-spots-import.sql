--! Previous: sha1:bed2c4c6bf1b3fb3461f7c9f947eefc551b95967
--! Hash: sha1:982a2fdc34c821fbf6e81eb2261a1cf78c70023a
--! Message: spots import

-- The city meter import (npm run cli -- spots:import FILE, and npm start's seeding).

--! Included spots_import.sql
-- Spot inventory import from the city's parking-meter data ("Parking Meters
-- Locations and Status" plus an Hourly_Rate column). The CLI
-- (`npm run cli -- spots:import FILE`, cli/spots__import.ts) only splits the
-- CSV into rows; every rule about what a row means lives here:
--
--   * Meter_Hours is parsed by app_private.meter_hours_parse (grammar below);
--     its "<N>HR" prefix is the spot's max_stay.
--   * A rate is identified by price + metered hours: code
--     'meter-<cents>-<schedule>', e.g. meter-550-mon-sat-0900-1900, or
--     meter-550-24x7 (no rate_hours rows: metered around the clock). Rates and
--     their rate_hours are created when first seen and then left alone.
--   * Spots are upserted on external_id (the meter number). A row whose values
--     all match the stored spot is "unchanged" and not written, so importing the
--     same file twice writes nothing the second time.
--   * A row that breaks a rule is "rejected" with a reason and writes nothing,
--     not even its rate.
--
-- Meter_Hours grammar (what cli/seed__generate.ts emits; case-insensitive):
--
--   meter_hours := limit " " class " " schedule { " " schedule }
--   limit       := 1..24 "HR"                  the maximum stay
--   class       := "Com" | "Pas"               commercial vehicles | passenger vehicles
--   schedule    := days " " hhmm "-" hhmm      metered window, opens < closes
--   days        := day [ "-" day ]             a range runs forward and may wrap (Sat-Mon)
--   day         := Mon | Tue | Wed | Thu | Fri | Sat | Sun
--   hhmm        := 0000..2359, or 2400 as a closing time
--
-- Windows of one day must not overlap. "Mon-Sun 0000-2400" means metered
-- around the clock. Days not named are free.

create or replace function app_private.meter_hours_parse(
  meter_hours text,
  out max_stay interval,
  out vehicle_class text,
  out schedule text,
  out hours jsonb,
  out error text
)
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
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
$$;
comment on function app_private.meter_hours_parse(text) is
  E'Parses a city Meter_Hours text such as "2HR Pas Mon-Sat 0800-2200 Sun 1200-1900": the maximum stay, the vehicle class, a canonical schedule (''24x7'' when metered around the clock), the metered windows as [{isodow, opens, closes}] (empty when 24x7), or why it cannot be read.';

create or replace function app_private.spots_import(rows jsonb)
  returns table (row_number int, outcome text, reason text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
    case when v.why is null then round(ltrim(f.hourly_rate, '$ ')::numeric * 100)::int end,
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
      when f.hourly_rate is null then 'missing Hourly_Rate'
      when f.hourly_rate !~ '^\$?\s*[0-9]{1,4}(\.[0-9]{1,2})?$' then 'Hourly_Rate is not a price in dollars'
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
  insert into app_public.rates (code, name, hourly_price)
  select distinct on (t.rate_code)
    t.rate_code,
    '$' || to_char(t.price / 100.0, 'FM9990.00') || '/h, '
      || case when t.schedule = '24x7' then 'around the clock' else t.schedule end,
    t.price
  from pg_temp.spots_import_rows_v1 t
  where t.why is null
  order by t.rate_code
  on conflict (code) do nothing;

  insert into app_public.rate_hours (rate_id, isodow, opens, closes)
  select r.id, (h ->> 'isodow')::int, (h ->> 'opens')::time, (h ->> 'closes')::time
  from (select distinct rate_code, hours from pg_temp.spots_import_rows_v1 where why is null) t
  join app_public.rates r on r.code = t.rate_code
  cross join lateral jsonb_array_elements(t.hours) as h
  on conflict (rate_id, isodow, opens) do nothing;

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
$$;
revoke all on function app_private.spots_import(jsonb) from public;
comment on function app_private.spots_import(jsonb) is
  E'Imports parking meters: rows is a JSON array of objects keyed by the city CSV''s column names in snake_case (meter_number, status, pay_by_cell_number, meter_hours, borough, on_street, side_of_street, from_street, to_street, latitude, longitude, location, hourly_rate) plus an optional row_number for reporting. Derives each row''s rate (price + Meter_Hours), upserts rates, rate_hours and spots (on external_id), and returns one row per input row: inserted, updated, unchanged, or rejected with a reason. Rejected rows write nothing. Idempotent.';
--! EndIncluded spots_import.sql
