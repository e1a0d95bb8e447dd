/**
 * seed:generate — deterministic demo inventory in the column layout of New York City's open
 * "Parking Meters Locations and Status" data, plus a trailing `Hourly_Rate` column.
 *
 *   npm run cli -- seed:generate                          # sql/seed/nyc_parking_meters.csv (3,000 meters)
 *   npm run cli -- seed:generate --count 1000000 --out /tmp/meters_1m.csv
 *   options: --count N (default 3000)  --out FILE  --seed S (default 20261123)
 *
 * The same arguments always give byte-identical output: every random choice comes from one
 * seeded PRNG (mulberry32) consumed in a fixed order, and coordinates are rounded to 7 places.
 *
 * How the meters are placed. Each neighbourhood ("area") is a local street grid: an origin
 * intersection (lat, lng), a bearing for its "avenue" axis u (Manhattan's grid is turned
 * ~29° east of true north) and the perpendicular "street" axis v (bearing + 90°). Streets are
 * straight segments on either axis with a name, a half-width and an extent. The grids are
 * data, in sql/seed/nyc_streets.yaml (its header explains the format); this file turns them
 * into block faces and meters. A block face is
 * the curb of one side of a street between two consecutive crossing streets; meters stand on
 * the curb every 6.0–7.2 m (one per parking space, sometimes a gap for a hydrant, driveway or
 * bus stop), starting a few metres after the crossing street's corner. All meters of a face
 * share its Meter_Hours, Hourly_Rate and Pay By Cell Number (the ParkNYC zone), and get
 * consecutive Meter Numbers: borough digit (1 Manhattan, 2 Bronx, 3 Brooklyn, 4 Queens,
 * 5 Staten Island) followed by a six-digit running number (seven once it passes 999,999).
 *
 * Which faces get meters. Up to 10,000 meters come from the "core" areas only — Manhattan
 * between Houston St and 110th St, Downtown Brooklyn/Boerum Hill, Park Slope and
 * Williamsburg — with 60 % of the meters in Manhattan. Larger counts (benchmarks) draw from
 * every area (Harlem, Washington Heights, south and central Brooklyn, Queens, the Bronx,
 * Staten Island too) in proportion to their capacity: a little over a million spaces in all
 * (a larger --count is refused).
 * Commercial avenues and major crosstown streets are three times as likely to be metered.
 *
 * Meter_Hours grammar (exactly what this generator emits, and what app_private.spots_import
 * accepts — see migrations/fixtures/spots_import.sql):
 *
 *   meter_hours := limit " " class " " schedule { " " schedule }
 *   limit       := hours "HR"                 hours = 1..24, no leading zero: the maximum stay
 *   class       := "Com" | "Pas"              commercial vehicles only | passenger vehicles
 *   schedule    := days " " window
 *   days        := day | day "-" day          a range runs forward and may wrap (Sat-Mon)
 *   day         := "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun"
 *   window      := hhmm "-" hhmm              opens < closes, same day; closes may be 2400
 *   hhmm        := four digits, 0000..2400, minutes 00..59
 *
 *   e.g. "1HR Com Mon-Fri 0700-1900", "2HR Pas Mon-Sat 0800-2200 Sun 1200-1900",
 *        "24HR Pas Mon-Sun 0000-2400" (metered around the clock).
 * Outside its windows a meter is free. Days not named are free all day.
 *
 * Hourly rates: Manhattan below 86th St $5.50–$7.50 (Midtown highest), elsewhere
 * $3.50–$4.50.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';

export const DEFAULT_OUT = resolve(import.meta.dirname, '../sql/seed/nyc_parking_meters.csv');
export const DEFAULT_COUNT = 3000;
export const DEFAULT_SEED = 20261123;
const CORE_LIMIT = 10_000;

export const HEADER = [
  'Meter Number',
  'Status',
  'Pay By Cell Number',
  'Meter_Hours',
  'Parking_Facility_Name',
  'Facility',
  'Borough',
  'On_Street',
  'Side_of_Street',
  'From_Street',
  'To_Street',
  'Latitude',
  'Longitude',
  'Location',
  'Hourly_Rate',
];

// ---------------------------------------------------------------------------------------
// Deterministic randomness

type Rng = () => number;

/** mulberry32: tiny, fast, good enough for placing meters; same seed, same sequence. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function between(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

function pick<T>(rng: Rng, choices: ReadonlyArray<readonly [T, number]>): T {
  let total = 0;
  for (const [, w] of choices) total += w;
  let r = rng() * total;
  for (const [value, w] of choices) {
    r -= w;
    if (r < 0) return value;
  }
  return choices[choices.length - 1][0];
}

// ---------------------------------------------------------------------------------------
// Areas: local grids of named streets

type Axis = 'u' | 'v';
type Borough = 'Manhattan' | 'Bronx' | 'Brooklyn' | 'Queens' | 'Staten Island';
const BOROUGH_DIGIT: Record<Borough, string> = {
  Manhattan: '1',
  Bronx: '2',
  Brooklyn: '3',
  Queens: '4',
  'Staten Island': '5',
};

interface Street {
  name: string;
  /** 'u': runs along the avenue axis (placed at v = at); 'v': a cross street (at u = at). */
  axis: Axis;
  at: number;
  lo: number;
  hi: number;
  /** Metres from the centre line to the curb. */
  halfWidth: number;
  /** Shops, offices: more likely metered, commercial hours more likely. */
  busy: boolean;
  /** Compass sides with no curbside parking (a park, a river). */
  noSide: string;
  /** Only there to end other streets' block faces. */
  crossOnly: boolean;
}

interface Face {
  area: Area;
  street: Street;
  side: 1 | -1;
  sideLetter: string;
  from: Street;
  to: Street;
  p0: number;
  p1: number;
  weight: number;
}

interface Area {
  name: string;
  borough: Borough;
  tier: 'core' | 'extended';
  lat0: number;
  lng0: number;
  /** Bearing of the u axis, degrees clockwise from true north. */
  bearing: number;
  streets: Street[];
  /** Face midpoints (u, v) inside a park, cemetery or rail yard. */
  exclude?: (u: number, v: number) => boolean;
  /** Cents per hour for a face. */
  rate: (face: Face, mid: { u: number; v: number }) => number;
  hours: (face: Face, rng: Rng) => string;
}

interface StreetOptions {
  halfWidth?: number;
  busy?: boolean;
  noSide?: string;
}

function street(name: string, axis: Axis, at: number, lo: number, hi: number, o: StreetOptions = {}): Street {
  return {
    name,
    axis,
    at,
    lo: Math.min(lo, hi),
    hi: Math.max(lo, hi),
    halfWidth: o.halfWidth ?? (axis === 'u' ? 12 : 9),
    busy: o.busy ?? false,
    noSide: o.noSide ?? '',
    crossOnly: false,
  };
}

// Meter_Hours vocabulary (see the grammar above)
const H = {
  com1: '1HR Com Mon-Fri 0700-1900',
  com2: '2HR Com Mon-Fri 0700-1800',
  com3: '3HR Com Mon-Fri 0700-1900',
  pas1: '1HR Pas Mon-Sat 0900-1900',
  pas2: '2HR Pas Mon-Sat 0900-1900',
  pas2bk: '2HR Pas Mon-Sat 0830-1900',
  pas2sun: '2HR Pas Mon-Sat 0800-2200 Sun 1200-1900',
  pas2sat: '2HR Pas Mon-Fri 0900-1900 Sat 0900-1600',
  pas3: '3HR Pas Mon-Sat 0900-2200',
  pas4: '4HR Pas Mon-Sun 0900-2200',
  pas4sat: '4HR Pas Mon-Sat 0800-1900',
  pas12: '12HR Pas Mon-Sat 0700-1900',
  pas24: '24HR Pas Mon-Sun 0000-2400',
} as const;

const MANHATTAN_BUSY: ReadonlyArray<readonly [string, number]> = [
  [H.com1, 4],
  [H.com3, 2],
  [H.pas2, 2],
  [H.pas2sun, 2],
  [H.pas3, 1],
  [H.pas24, 0.5],
];
const MANHATTAN_QUIET: ReadonlyArray<readonly [string, number]> = [
  [H.pas2, 3],
  [H.pas2sun, 3],
  [H.pas3, 2],
  [H.pas4, 1],
  [H.com1, 1],
  [H.pas24, 0.4],
];
const MANHATTAN_UPTOWN: ReadonlyArray<readonly [string, number]> = [
  [H.pas2, 4],
  [H.pas1, 1],
  [H.pas2sun, 1],
  [H.pas4, 1],
  [H.com2, 1],
];
const OUTER_BUSY: ReadonlyArray<readonly [string, number]> = [
  [H.pas2bk, 4],
  [H.pas1, 1],
  [H.com1, 1],
  [H.com2, 1],
  [H.pas2sun, 1],
  [H.pas24, 0.3],
];
const OUTER_QUIET: ReadonlyArray<readonly [string, number]> = [
  [H.pas2, 3],
  [H.pas2bk, 2],
  [H.pas2sat, 1],
  [H.pas4sat, 1],
  [H.pas12, 0.5],
  [H.pas4, 0.5],
];

// ---------------------------------------------------------------------------------------
// The street data: sql/seed/nyc_streets.yaml (its header explains the format)

export const STREETS_FILE = resolve(import.meta.dirname, '../sql/seed/nyc_streets.yaml');

/** A street's kind in the data file: a named preset or the options themselves. */
type Kind = 'busy' | 'wide' | StreetOptions;
const KINDS: Record<'busy' | 'wide', StreetOptions> = {
  busy: { busy: true, halfWidth: 12 },
  wide: { busy: true, halfWidth: 15 },
};

/** One street of a grid: name, position (metres across the axis it runs along), kind. */
type Entry = readonly [string, number, Kind?];

/** Streets FROM..TO named by a pattern, evenly spaced from an anchor number. */
interface NumberedRun {
  numbered: [number, number];
  name: string;
  names?: Record<string, string>;
  at: Record<string, number>;
  step: number;
  busy?: number[];
  wide?: number[];
  also?: Array<{ name: string; offset: number; numbered?: [number, number]; every?: number }>;
}

/** Named streets evenly spaced from an anchor name. */
interface NamedRun {
  run: Array<string | [string, Kind]>;
  at: Record<string, number>;
  step: number;
}

type Line = Entry | NumberedRun | NamedRun;

interface GridData {
  name: string;
  borough: Borough;
  tier: Area['tier'];
  origin: [number, number];
  bearing: number;
  /** Cents an hour on a quiet street. */
  rate: number;
  avenues: Line[];
  streets: Line[];
  exclude?: Array<{ u: [number, number]; v: [number, number] }>;
}

interface ManhattanSlice {
  name: string;
  tier: Area['tier'];
  manhattan: [number, number];
}

interface ManhattanData {
  origin: [number, number];
  bearing: number;
  numbering: { street: number; block: number };
  avenueHalfWidth: number;
  wide: number[];
  rates: Array<[number, number]>;
  midtownHours: [number, number];
  avenues: Array<[string, number, number, number, Kind?]>;
  streets: Array<{ numbered: [number, number]; name: string; v: [number, number]; kind?: Kind }>;
}

interface StreetData {
  manhattan: ManhattanData;
  areas: Array<GridData | ManhattanSlice>;
}

function optionsOf(kind: Kind | undefined): StreetOptions {
  if (kind === undefined) return {};
  if (typeof kind !== 'string') return kind;
  if (!Object.hasOwn(KINDS, kind)) throw new Error(`${STREETS_FILE}: unknown street kind "${kind}"`);
  return KINDS[kind];
}

/** The one `{NAME_OR_NUMBER: POSITION}` pair of a run's `at`. */
function anchorOf(at: Record<string, number>): [string, number] {
  const pairs = Object.entries(at);
  if (pairs.length !== 1) throw new Error(`${STREETS_FILE}: "at" names one street, got ${JSON.stringify(at)}`);
  return pairs[0];
}

function fillIn(pattern: string, n: number): string {
  return pattern.replace('{n}', String(n));
}

/** A line of the data file as the streets it stands for, in order. */
function entriesOf(line: Line): Entry[] {
  // Array.isArray does not narrow a readonly tuple type, hence the casts.
  if (Array.isArray(line)) return [line as Entry];
  if ('run' in line) {
    const [name0, at0] = anchorOf(line.at);
    const names = line.run.map((item) => (typeof item === 'string' ? item : item[0]));
    const i0 = names.indexOf(name0);
    if (i0 < 0) throw new Error(`${STREETS_FILE}: "at" names ${name0}, which is not in its run`);
    return line.run.map((item, i) => {
      const at = at0 + (i - i0) * line.step;
      return typeof item === 'string' ? [item, at] : [item[0], at, item[1]];
    });
  }
  const run = line as NumberedRun;
  const [key, at0] = anchorOf(run.at);
  const n0 = Number(key);
  const [from, to] = run.numbered;
  const dir = from <= to ? 1 : -1;
  const out: Entry[] = [];
  for (let n = from; n !== to + dir; n += dir) {
    const at = at0 + (n - n0) * run.step;
    const kind = run.wide?.includes(n) ? 'wide' : run.busy?.includes(n) ? 'busy' : undefined;
    out.push([run.names?.[n] ?? fillIn(run.name, n), at, kind]);
    for (const also of run.also ?? []) {
      const [lo, hi] = also.numbered ?? [Math.min(from, to), Math.max(from, to)];
      if (n >= lo && n <= hi && (n - lo) % (also.every ?? 1) === 0) out.push([fillIn(also.name, n), at + also.offset]);
    }
  }
  return out;
}

function outerHours(face: Face, rng: Rng): string {
  return pick(rng, face.street.busy ? OUTER_BUSY : OUTER_QUIET);
}

/** An area laid out as a regular grid: avenues span its streets, streets span its avenues. */
function grid(g: GridData): Area {
  const avenues = g.avenues.flatMap(entriesOf);
  const streets = g.streets.flatMap(entriesOf);
  const vs = avenues.map(([, v]) => v);
  const us = streets.map(([, u]) => u);
  const vLo = Math.min(...vs),
    vHi = Math.max(...vs);
  const uLo = Math.min(...us),
    uHi = Math.max(...us);
  const boxes = g.exclude ?? [];
  return {
    name: g.name,
    borough: g.borough,
    tier: g.tier,
    lat0: g.origin[0],
    lng0: g.origin[1],
    bearing: g.bearing,
    streets: [
      ...avenues.map(([name, v, kind]) => street(name, 'u', v, uLo, uHi, optionsOf(kind))),
      ...streets.map(([name, u, kind]) => street(name, 'v', u, vLo, vHi, optionsOf(kind))),
    ],
    exclude: (u, v) => boxes.some((b) => u > b.u[0] && u < b.u[1] && v > b.v[0] && v < b.v[1]),
    // Outer boroughs: $3.50–$4.50 depending on the area and the street.
    rate: (face) => Math.min(450, g.rate + (face.street.busy ? 50 : 0)),
    hours: outerHours,
  };
}

/** The part of the Manhattan grid between two street numbers, as an area. */
function manhattan(m: ManhattanData, slice: ManhattanSlice): Area {
  const [minStreet, maxStreet] = slice.manhattan;
  const { street: n0, block } = m.numbering;
  const mU = (n: number) => (n - n0) * block;
  const avenues = m.avenues.flatMap(([name, v, a, b, kind]) => {
    const lo = Math.max(a, minStreet);
    const hi = Math.min(b, maxStreet);
    return lo < hi ? [street(name, 'u', v, mU(lo), mU(hi), { halfWidth: m.avenueHalfWidth, ...optionsOf(kind) })] : [];
  });
  const crossStreets = (lo: number, hi: number): Street[] => {
    const out: Street[] = [];
    for (let n = lo; n <= hi; n++) {
      for (const s of m.streets) {
        if (n < s.numbered[0] || n > s.numbered[1]) continue;
        const major = m.wide.includes(n) ? KINDS.wide : {};
        out.push(street(fillIn(s.name, n), 'v', mU(n), s.v[0], s.v[1], { ...major, ...optionsOf(s.kind) }));
      }
    }
    return out;
  };
  // The streets just below the range still end the faces at its lower edge.
  const edge = crossStreets(minStreet - 1, minStreet - 1).map((s) => ({ ...s, crossOnly: true }));
  const streetNumber = (u: number) => n0 + u / block;
  const [midtownFrom, midtownTo] = m.midtownHours;
  return {
    name: slice.name,
    borough: 'Manhattan',
    tier: slice.tier,
    lat0: m.origin[0],
    lng0: m.origin[1],
    bearing: m.bearing,
    streets: [...avenues, ...crossStreets(minStreet, maxStreet), ...edge],
    rate: (_face, mid) => {
      const n = streetNumber(mid.u);
      const band = m.rates.find(([below]) => n < below);
      if (!band) throw new Error(`${STREETS_FILE}: manhattan.rates has no band for street ${n}`);
      return band[1];
    },
    hours: (face, rng) => {
      const n = streetNumber(face.street.axis === 'v' ? face.street.at : (face.p0 + face.p1) / 2);
      if (n < midtownFrom || n >= midtownTo) return pick(rng, MANHATTAN_UPTOWN);
      return pick(rng, face.street.busy ? MANHATTAN_BUSY : MANHATTAN_QUIET);
    },
  };
}

/** Every area of the street data, in its order. */
export function areas(): Area[] {
  const data = parse(readFileSync(STREETS_FILE, 'utf8')) as StreetData;
  return data.areas.map((a) => ('manhattan' in a ? manhattan(data.manhattan, a) : grid(a)));
}

// ---------------------------------------------------------------------------------------
// Geometry

function compass(bearing: number): string {
  const b = ((bearing % 360) + 360) % 360;
  if (b >= 315 || b < 45) return 'N';
  if (b < 135) return 'E';
  if (b < 225) return 'S';
  return 'W';
}

const DEG = Math.PI / 180;

function toLatLng(area: Area, u: number, v: number): [number, number] {
  const s = Math.sin(area.bearing * DEG);
  const c = Math.cos(area.bearing * DEG);
  const east = u * s + v * c;
  const north = u * c - v * s;
  const lat = area.lat0 + north / 111_132;
  const lng = area.lng0 + east / (111_320 * Math.cos(area.lat0 * DEG));
  return [lat, lng];
}

function toLocal(area: Area, lat: number, lng: number): { u: number; v: number } {
  const s = Math.sin(area.bearing * DEG);
  const c = Math.cos(area.bearing * DEG);
  const north = (lat - area.lat0) * 111_132;
  const east = (lng - area.lng0) * 111_320 * Math.cos(area.lat0 * DEG);
  return { u: east * s + north * c, v: east * c - north * s };
}

/** Whether a point falls inside the rectangle an area's streets span (plus a margin). */
function covers(area: Area, lat: number, lng: number, margin = 30): boolean {
  const { u, v } = toLocal(area, lat, lng);
  let uLo = Infinity,
    uHi = -Infinity,
    vLo = Infinity,
    vHi = -Infinity;
  for (const st of area.streets) {
    if (st.axis === 'u') {
      vLo = Math.min(vLo, st.at);
      vHi = Math.max(vHi, st.at);
      uLo = Math.min(uLo, st.lo);
      uHi = Math.max(uHi, st.hi);
    } else {
      uLo = Math.min(uLo, st.at);
      uHi = Math.max(uHi, st.at);
      vLo = Math.min(vLo, st.lo);
      vHi = Math.max(vHi, st.hi);
    }
  }
  return u > uLo - margin && u < uHi + margin && v > vLo - margin && v < vHi + margin;
}

function midpoint(face: Face): [number, number] {
  const along = (face.p0 + face.p1) / 2;
  const st = face.street;
  return st.axis === 'u' ? toLatLng(face.area, along, st.at) : toLatLng(face.area, st.at, along);
}

/** Every block face of an area, in a stable order. */
export function facesOf(area: Area): Face[] {
  const faces: Face[] = [];
  for (const st of area.streets) {
    if (st.crossOnly) continue;
    const others = area.streets.filter((t) => t.axis !== st.axis);
    for (const side of [1, -1] as const) {
      // The side's outward direction: +v (bearing + 90°) for u streets, +u for v streets.
      const sideBearing =
        st.axis === 'u' ? area.bearing + (side === 1 ? 90 : 270) : area.bearing + (side === 1 ? 0 : 180);
      const sideLetter = compass(sideBearing);
      if (st.noSide.includes(sideLetter)) continue;
      const probe = st.at + side; // a crossing street must exist on this side of the street
      const crossings = others
        .filter((t) => t.lo <= probe && probe <= t.hi && t.at >= st.lo && t.at <= st.hi)
        .sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
      const unique: Street[] = [];
      for (const t of crossings)
        if (!unique.length || Math.abs(unique[unique.length - 1].at - t.at) > 1) unique.push(t);
      for (let i = 0; i + 1 < unique.length; i++) {
        const from = unique[i];
        const to = unique[i + 1];
        const length = to.at - from.at - from.halfWidth - to.halfWidth;
        if (length < 30 || to.at - from.at > 450) continue; // a sliver, or a park edge
        const midAlong = (from.at + to.at) / 2;
        const mid = st.axis === 'u' ? { u: midAlong, v: st.at } : { u: st.at, v: midAlong };
        if (area.exclude?.(mid.u, mid.v)) continue;
        const busyFace = st.busy;
        faces.push({ area, street: st, side, sideLetter, from, to, p0: from.at, p1: to.at, weight: busyFace ? 3 : 1 });
      }
    }
  }
  return faces;
}

const SPACE_MIN = 6.0;
const SPACE_MAX = 7.2;
const SETBACK = 6;

/**
 * Where the meters of a face stand, as distances along the street. Each face draws from its
 * own PRNG (seeded from the run's seed and the face's index), so a face looks the same
 * whichever other faces are chosen.
 */
function curbPositions(face: Face, rng: Rng): number[] {
  const out: number[] = [];
  let p = face.p0 + face.from.halfWidth + SETBACK + rng() * 4;
  const end = face.p1 - face.to.halfWidth - SETBACK;
  while (p <= end) {
    out.push(p);
    p += between(rng, SPACE_MIN, SPACE_MAX);
    if (rng() < 0.06) p += between(rng, 8, 20); // hydrant, driveway, bus stop
  }
  return out;
}

/** PRNG of one face: seeded from the run's seed and the face's position in street order. */
function faceRng(seed: number, order: number): Rng {
  return mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(order + 1, 0x85ebca6b)) >>> 0);
}

// ---------------------------------------------------------------------------------------
// Output

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

class Writer {
  fd: number;
  buffer: string[] = [];
  size = 0;
  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }
  line(fields: string[]): void {
    const text = fields.map(csvField).join(',') + '\r\n';
    this.buffer.push(text);
    this.size += text.length;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buffer.length) writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export interface GenerateOptions {
  count?: number;
  out?: string;
  seed?: number;
}

export interface GenerateSummary {
  file: string;
  count: number;
  byBorough: Record<string, number>;
  faces: number;
}

export function generate(options: GenerateOptions = {}): GenerateSummary {
  const count = options.count ?? DEFAULT_COUNT;
  const file = resolve(options.out ?? DEFAULT_OUT);
  const rng = mulberry32(options.seed ?? DEFAULT_SEED);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${count}`);

  const useCore = count <= CORE_LIMIT;
  const all = areas().filter((a) => !useCore || a.tier === 'core');
  // Grids are rectangles; where one would overlap an earlier one, the earlier one wins.
  const facesByArea = all.map((area, i) =>
    facesOf(area).filter((face) => {
      const [lat, lng] = midpoint(face);
      return !all.slice(0, i).some((other) => covers(other, lat, lng));
    }),
  );
  const allFaces = facesByArea.flat();
  const spaces = new Map<Face, number[]>();
  const seed = options.seed ?? DEFAULT_SEED;
  const positionsOf = (face: Face, order: number) => {
    let p = spaces.get(face);
    if (!p) spaces.set(face, (p = curbPositions(face, faceRng(seed, order))));
    return p;
  };
  if (!useCore) {
    const capacity = allFaces.reduce((n, f, i) => n + positionsOf(f, i).length, 0);
    if (count > capacity) throw new Error(`--count ${count} is more than these street grids hold (${capacity})`);
  }

  // Weighted random order of faces (exponential races: key = -ln(U) / weight), per group.
  // Core: 60 % Manhattan, 40 % Brooklyn split by capacity. Extended: one group, by capacity.
  type Group = { faces: Face[]; quota: number };
  const groups: Group[] = [];
  if (useCore) {
    const m = facesByArea.filter((_, i) => all[i].borough === 'Manhattan').flat();
    const b = facesByArea.filter((_, i) => all[i].borough !== 'Manhattan').flat();
    const mQuota = Math.round(count * 0.6);
    groups.push({ faces: m, quota: mQuota }, { faces: b, quota: count - mQuota });
  } else {
    groups.push({ faces: facesByArea.flat(), quota: count });
  }
  const chosen: Array<{ face: Face; order: number; positions: number[] }> = [];
  const orderOf = new Map<Face, number>();
  for (const [i, f] of allFaces.entries()) orderOf.set(f, i);
  for (const g of groups) {
    const keyed = g.faces.map((face) => ({ face, key: -Math.log(1 - rng()) / face.weight }));
    keyed.sort((a, b) => a.key - b.key);
    let left = g.quota;
    for (const { face } of keyed) {
      if (left <= 0) break;
      const order = orderOf.get(face)!;
      const positions = positionsOf(face, order).slice(0, left);
      if (!positions.length) continue;
      chosen.push({ face, order, positions });
      left -= positions.length;
    }
    if (left > 0) throw new Error(`not enough street space for ${g.quota} meters in one group`);
  }
  // Write faces in street order, so meter numbers run along the streets.
  chosen.sort((a, b) => a.order - b.order);

  mkdirSync(dirname(file), { recursive: true });
  const w = new Writer(file);
  w.line(HEADER);
  const seq: Record<string, number> = {};
  const zones: Record<string, number> = {};
  const byBorough: Record<string, number> = {};
  let written = 0;
  for (const { face, order, positions } of chosen) {
    // A second stream for the face's attributes, independent of how many spaces were taken.
    const frng = faceRng(seed ^ 0x5bd1e995, order);
    const { area, street: st } = face;
    const digit = BOROUGH_DIGIT[area.borough];
    seq[digit] = (seq[digit] ?? 10_000 + Math.floor(rng() * 20_000)) + 1 + Math.floor(rng() * 40);
    zones[digit] = (zones[digit] ?? 100_000 + Math.floor(rng() * 50_000)) + 1 + Math.floor(rng() * 7);
    const zone = `${digit}${String(zones[digit]).padStart(6, '0')}`;
    const mid = st.axis === 'u' ? { u: (face.p0 + face.p1) / 2, v: st.at } : { u: st.at, v: (face.p0 + face.p1) / 2 };
    const rate = area.rate(face, mid);
    const hours = area.hours(face, frng);
    const faceInactive = frng() < 0.01;
    const lateral = face.side * (st.halfWidth - 0.8);
    for (const p of positions) {
      const jitter = (frng() - 0.5) * 0.4; // meters are not installed to the centimetre
      const u = st.axis === 'u' ? p : st.at + lateral + jitter;
      const v = st.axis === 'u' ? st.at + lateral + jitter : p;
      const [lat, lng] = toLatLng(area, u, v);
      const la = lat.toFixed(7);
      const ln = lng.toFixed(7);
      const meterNumber = `${digit}${String(seq[digit]).padStart(6, '0')}`;
      seq[digit] += 1;
      const status = faceInactive || frng() < 0.025 ? 'Inactive' : 'Active';
      w.line([
        meterNumber,
        status,
        zone,
        hours,
        '',
        'On Street',
        area.borough,
        st.name,
        face.sideLetter,
        face.from.name,
        face.to.name,
        la,
        ln,
        `(${la}, ${ln})`,
        (rate / 100).toFixed(2),
      ]);
      written++;
      byBorough[area.borough] = (byBorough[area.borough] ?? 0) + 1;
    }
  }
  w.close();
  return { file, count: written, byBorough, faces: chosen.length };
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export default async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run cli -- seed:generate [--count N] [--out FILE] [--seed S]');
    return;
  }
  const started = performance.now();
  const summary = generate({
    count: values.count === undefined ? undefined : Number(values.count),
    out: values.out,
    seed: values.seed === undefined ? undefined : Number(values.seed),
  });
  const parts = Object.entries(summary.byBorough)
    .map(([b, n]) => `${b} ${n}`)
    .join(', ');
  console.log(
    `wrote ${summary.count} meters on ${summary.faces} block faces (${parts}) to ` +
      `${displayPath(summary.file)} in ${Math.round(performance.now() - started)} ms`,
  );
}

if (import.meta.main) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
