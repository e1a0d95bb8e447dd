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
 * straight segments on either axis with a name, a half-width and an extent. A block face is
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
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const DEFAULT_OUT = resolve(import.meta.dirname, '../sql/seed/nyc_parking_meters.csv');
export const DEFAULT_COUNT = 3000;
export const DEFAULT_SEED = 20261123;
const CORE_LIMIT = 10_000;

export const HEADER = [
  'Meter Number', 'Status', 'Pay By Cell Number', 'Meter_Hours', 'Parking_Facility_Name',
  'Facility', 'Borough', 'On_Street', 'Side_of_Street', 'From_Street', 'To_Street',
  'Latitude', 'Longitude', 'Location', 'Hourly_Rate',
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
  Manhattan: '1', Bronx: '2', Brooklyn: '3', Queens: '4', 'Staten Island': '5',
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
  crossOnly?: boolean;
}

function street(name: string, axis: Axis, at: number, lo: number, hi: number, o: StreetOptions = {}): Street {
  return {
    name, axis, at, lo: Math.min(lo, hi), hi: Math.max(lo, hi),
    halfWidth: o.halfWidth ?? (axis === 'u' ? 12 : 9), busy: o.busy ?? false,
    noSide: o.noSide ?? '', crossOnly: o.crossOnly ?? false,
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
  [H.com1, 4], [H.com3, 2], [H.pas2, 2], [H.pas2sun, 2], [H.pas3, 1], [H.pas24, 0.5],
];
const MANHATTAN_QUIET: ReadonlyArray<readonly [string, number]> = [
  [H.pas2, 3], [H.pas2sun, 3], [H.pas3, 2], [H.pas4, 1], [H.com1, 1], [H.pas24, 0.4],
];
const MANHATTAN_UPTOWN: ReadonlyArray<readonly [string, number]> = [
  [H.pas2, 4], [H.pas1, 1], [H.pas2sun, 1], [H.pas4, 1], [H.com2, 1],
];
const OUTER_BUSY: ReadonlyArray<readonly [string, number]> = [
  [H.pas2bk, 4], [H.pas1, 1], [H.com1, 1], [H.com2, 1], [H.pas2sun, 1], [H.pas24, 0.3],
];
const OUTER_QUIET: ReadonlyArray<readonly [string, number]> = [
  [H.pas2, 3], [H.pas2bk, 2], [H.pas2sat, 1], [H.pas4sat, 1], [H.pas12, 0.5], [H.pas4, 0.5],
];

function outerHours(face: Face, rng: Rng): string {
  return pick(rng, face.street.busy ? OUTER_BUSY : OUTER_QUIET);
}

/** Cents for an outer-borough face: $3.50–$4.50 depending on the area and the street. */
function outerRate(base: number): (face: Face) => number {
  return (face) => Math.min(450, base + (face.street.busy ? 50 : 0));
}

// --- Manhattan --------------------------------------------------------------------------
// Origin: 5th Ave & 59th St. u grows uptown (29°), v grows east (119°). Street n is at
// u = (n - 59) * 80.47 (twenty blocks to the mile). Avenues at v metres east of 5th Ave.
const M_BLOCK = 80.47;
const mU = (n: number) => (n - 59) * M_BLOCK;
const MAJOR_STREETS = new Set([0, 14, 23, 34, 42, 57, 72, 79, 86, 96, 106, 110, 116, 125, 135, 145, 155, 168, 181]);

function manhattanAvenues(minStreet: number, maxStreet: number): Street[] {
  const av = (name: string, v: number, a: number, b: number, o: StreetOptions = {}): Street | null => {
    const lo = Math.max(a, minStreet);
    const hi = Math.min(b, maxStreet);
    if (lo >= hi) return null;
    return street(name, 'u', v, mU(lo), mU(hi), { halfWidth: 15, ...o });
  };
  const list = [
    av('AVENUE D', 2080, 0, 12), av('AVENUE C', 1830, 0, 14), av('AVENUE B', 1580, 0, 14),
    av('AVENUE A', 1330, 0, 14, { busy: true }),
    av('1 AVENUE', 1080, 0, 126, { busy: true }), av('2 AVENUE', 830, 0, 128, { busy: true }),
    av('BOWERY', 580, 0, 6, { busy: true }), av('3 AVENUE', 580, 6, 128, { busy: true }),
    av('LEXINGTON AVENUE', 420, 21, 131, { busy: true }),
    av('PARK AVENUE SOUTH', 270, 17, 32, { busy: true }),
    av('PARK AVENUE', 270, 32, 135, { halfWidth: 21 }),
    av('MADISON AVENUE', 135, 23, 135, { busy: true }),
    av('5 AVENUE', 0, 8, 59, { busy: true }),
    av('5 AVENUE', 0, 59, 110, { noSide: 'W' }),          // Central Park on the west side
    av('5 AVENUE', 0, 110, 135),
    av('MALCOLM X BOULEVARD', -280, 110, 147, { busy: true }),
    av('AVENUE OF THE AMERICAS', -280, 14, 59, { busy: true }),
    av('7 AVENUE', -560, 14, 59, { busy: true }),
    av('ADAM CLAYTON POWELL JR BOULEVARD', -560, 110, 155),
    av('8 AVENUE', -840, 14, 59, { busy: true }),
    av('CENTRAL PARK WEST', -840, 59, 110, { noSide: 'E' }),
    av('FREDERICK DOUGLASS BOULEVARD', -840, 110, 155, { busy: true }),
    av('9 AVENUE', -1120, 14, 59, { busy: true }),
    av('COLUMBUS AVENUE', -1120, 59, 110, { busy: true }),
    av('MANHATTAN AVENUE', -1120, 110, 124),
    av('10 AVENUE', -1400, 14, 59),
    av('AMSTERDAM AVENUE', -1400, 59, 190, { busy: true }),
    av('BROADWAY', -1540, 73, 190, { busy: true }),
    av('ST NICHOLAS AVENUE', -1260, 155, 190, { busy: true }),
    av('AUDUBON AVENUE', -1130, 165, 193),
    av('FORT WASHINGTON AVENUE', -1820, 155, 190),
    av('11 AVENUE', -1680, 14, 59),
    av('WEST END AVENUE', -1680, 59, 107),
    av('RIVERSIDE DRIVE', -1820, 110, 155, { noSide: 'W' }),
    av('YORK AVENUE', 1330, 60, 92),
    av('EAST END AVENUE', 1500, 79, 90),
  ];
  return list.filter((s): s is Street => s !== null);
}

function manhattanStreets(minStreet: number, maxStreet: number): Street[] {
  const out: Street[] = [];
  const add = (name: string, n: number, vLo: number, vHi: number, o: StreetOptions = {}) => {
    if (n < minStreet || n > maxStreet) return;
    const major = MAJOR_STREETS.has(n);
    out.push(street(name, 'v', mU(n), vLo, vHi, { halfWidth: major ? 15 : 9, busy: major, ...o }));
  };
  for (let n = minStreet; n <= maxStreet; n++) {
    // East side
    if (n === 0) add('EAST HOUSTON STREET', n, 580, 2080);
    else if (n === 8) add('SAINT MARKS PLACE', n, 580, 1330, { busy: true });
    else if (n <= 7) add(`EAST ${n} STREET`, n, 580, 2080);
    else if (n <= 13) add(`EAST ${n} STREET`, n, 0, 2080);
    else if (n === 14) add('EAST 14 STREET', n, 0, 1830);
    else if (n <= 59) add(`EAST ${n} STREET`, n, 0, 1080);
    else if (n <= 78 || (n >= 91 && n <= 92)) add(`EAST ${n} STREET`, n, 0, 1330);
    else if (n <= 90) add(`EAST ${n} STREET`, n, 0, 1500);
    else if (n <= 125) add(`EAST ${n} STREET`, n, 0, 1080);
    else if (n <= 135) add(`EAST ${n} STREET`, n, 0, 580);
    // West side: from 14th St (below it no west-side avenue would end a face)
    if (n < 14) continue;
    if (n <= 58) add(`WEST ${n} STREET`, n, -1680, 0);
    else if (n === 59) {
      add('CENTRAL PARK SOUTH', n, -840, 0, { noSide: 'N', busy: true });
      add('WEST 59 STREET', n, -1680, -840);
    } else if (n >= 60 && n <= 107) add(`WEST ${n} STREET`, n, -1680, -840);
    else if (n <= 109) add(`WEST ${n} STREET`, n, -1540, -840);
    else if (n === 110) {
      add('CENTRAL PARK NORTH', n, -840, 0, { noSide: 'S' });
      add('CATHEDRAL PARKWAY', n, -1820, -840);
    } else if (n <= 155) add(`WEST ${n} STREET`, n, -1820, 0);
    else if (n <= 190) add(`WEST ${n} STREET`, n, -1820, -1130);
  }
  return out;
}

function manhattanRate(_face: Face, mid: { u: number; v: number }): number {
  const n = 59 + mid.u / M_BLOCK;
  if (n < 14) return 550;
  if (n < 34) return 650;
  if (n < 60) return 750;
  if (n < 86) return 600;
  if (n < 111) return 450;
  return 400;
}

function manhattanHours(face: Face, rng: Rng): string {
  const n = 59 + ((face.street.axis === 'v' ? face.street.at : (face.p0 + face.p1) / 2) / M_BLOCK);
  if (n >= 86 || n < 14) return pick(rng, MANHATTAN_UPTOWN);
  return pick(rng, face.street.busy ? MANHATTAN_BUSY : MANHATTAN_QUIET);
}

function manhattan(name: string, tier: 'core' | 'extended', minStreet: number, maxStreet: number): Area {
  // Avenues/streets just outside the range still end the faces at its edge.
  const streets = [
    ...manhattanAvenues(minStreet, maxStreet),
    ...manhattanStreets(minStreet, maxStreet),
  ];
  if (minStreet > 0) {
    for (const s of manhattanStreets(minStreet - 1, minStreet - 1)) streets.push({ ...s, crossOnly: true });
  }
  return {
    name, borough: 'Manhattan', tier, lat0: 40.7644, lng0: -73.97335, bearing: 29, streets,
    rate: manhattanRate, hours: manhattanHours,
  };
}

// --- Generic grids ----------------------------------------------------------------------

/** An area laid out as a regular grid: where it sits (as an Area), then its streets. */
interface GridSpec extends Pick<Area, 'name' | 'borough' | 'tier' | 'lat0' | 'lng0' | 'bearing' | 'exclude'> {
  /** Streets along the u axis ("avenues"), at v metres. */
  avenues: ReadonlyArray<readonly [string, number, StreetOptions?]>;
  /** Cross streets along the v axis, at u metres. */
  streets: ReadonlyArray<readonly [string, number, StreetOptions?]>;
  rate: (face: Face, mid: { u: number; v: number }) => number;
  hours?: (face: Face, rng: Rng) => string;
}

function grid(g: GridSpec): Area {
  const vs = g.avenues.map(([, v]) => v);
  const us = g.streets.map(([, u]) => u);
  const vLo = Math.min(...vs), vHi = Math.max(...vs);
  const uLo = Math.min(...us), uHi = Math.max(...us);
  return {
    name: g.name, borough: g.borough, tier: g.tier, lat0: g.lat0, lng0: g.lng0, bearing: g.bearing,
    streets: [
      ...g.avenues.map(([name, v, o]) => street(name, 'u', v, uLo, uHi, o ?? {})),
      ...g.streets.map(([name, u, o]) => street(name, 'v', u, vLo, vHi, o ?? {})),
    ],
    exclude: g.exclude, rate: g.rate, hours: g.hours ?? outerHours,
  };
}

const busy: StreetOptions = { busy: true, halfWidth: 12 };
const wide: StreetOptions = { busy: true, halfWidth: 15 };

function numbered(from: number, to: number, name: (n: number) => string, at: (n: number) => number,
  o: (n: number) => StreetOptions | undefined = () => undefined): Array<[string, number, StreetOptions?]> {
  const out: Array<[string, number, StreetOptions?]> = [];
  for (let n = from; n <= to; n++) out.push([name(n), at(n), o(n)]);
  return out;
}

export function areas(): Area[] {
  const list: Area[] = [];
  list.push(manhattan('Manhattan: Houston St to 110th St', 'core', 0, 110));

  // Downtown Brooklyn / Boerum Hill. Origin: Court St & Atlantic Ave.
  list.push(grid({
    name: 'Downtown Brooklyn', borough: 'Brooklyn', tier: 'core',
    lat0: 40.6906, lng0: -73.9929, bearing: 32,
    avenues: [
      ['COURT STREET', 0, busy], ['SMITH STREET', 250, busy], ['HOYT STREET', 470],
      ['BOND STREET', 690], ['NEVINS STREET', 900], ['3 AVENUE', 1150, busy], ['4 AVENUE', 1480, wide],
    ],
    streets: [
      ['LIVINGSTON STREET', 255, busy], ['SCHERMERHORN STREET', 170], ['STATE STREET', 85],
      ['ATLANTIC AVENUE', 0, wide], ['PACIFIC STREET', -85], ['DEAN STREET', -170],
      ['BERGEN STREET', -255], ['WYCKOFF STREET', -340], ['WARREN STREET', -425],
      ['BALTIC STREET', -510], ['BUTLER STREET', -595],
    ],
    rate: outerRate(400),
  }));

  // Park Slope. Origin: 4th Ave & Union St.
  list.push(grid({
    name: 'Park Slope', borough: 'Brooklyn', tier: 'core',
    lat0: 40.6771, lng0: -73.9831, bearing: 33,
    avenues: [
      ['4 AVENUE', 0, wide], ['5 AVENUE', 240, busy], ['6 AVENUE', 440], ['7 AVENUE', 640, busy],
      ['8 AVENUE', 840], ['PROSPECT PARK WEST', 1040, { noSide: 'E' }],
    ],
    streets: [
      ['STERLING PLACE', 288], ['ST JOHNS PLACE', 216], ['LINCOLN PLACE', 144], ['BERKELEY PLACE', 72],
      ['UNION STREET', 0, busy], ['PRESIDENT STREET', -72], ['CARROLL STREET', -144],
      ['GARFIELD PLACE', -216], ['1 STREET', -288],
      ...numbered(2, 15, (n) => `${n} STREET`, (n) => -288 - 72 * (n - 1), (n) => (n === 9 ? busy : undefined)),
    ],
    rate: outerRate(350),
  }));

  // Williamsburg. Origin: Bedford Ave & North 7th St.
  list.push(grid({
    name: 'Williamsburg', borough: 'Brooklyn', tier: 'core',
    lat0: 40.7172, lng0: -73.957, bearing: 32,
    avenues: [
      ['KENT AVENUE', -420, busy], ['WYTHE AVENUE', -280], ['BERRY STREET', -140],
      ['BEDFORD AVENUE', 0, busy], ['DRIGGS AVENUE', 140], ['ROEBLING STREET', 280],
      ['HAVEMEYER STREET', 420],
    ],
    streets: [
      ...numbered(3, 12, (n) => `NORTH ${n} STREET`, (n) => (n - 7) * 92),
      ['NORTH 1 STREET', -460], ['METROPOLITAN AVENUE', -552, wide], ['GRAND STREET', -644, wide],
      ...numbered(1, 5, (n) => `SOUTH ${n} STREET`, (n) => -644 - 92 * n),
    ],
    rate: outerRate(400),
  }));

  // ---- extended areas, only for large --count ------------------------------------------
  list.push(manhattan('Manhattan: Harlem', 'extended', 111, 155));
  list.push(manhattan('Manhattan: Washington Heights', 'extended', 156, 190));

  // Sunset Park, Borough Park, Bay Ridge, Dyker Heights. Origin: 4th Ave & 36th St.
  list.push(grid({
    name: 'Sunset Park to Bay Ridge', borough: 'Brooklyn', tier: 'extended',
    lat0: 40.6552, lng0: -74.0036, bearing: 31,
    avenues: numbered(2, 18, (n) => `${n} AVENUE`, (n) => (n - 4) * 250, (n) => (n === 4 ? wide : n === 5 || n === 8 || n === 13 ? busy : undefined)),
    streets: numbered(20, 101, (n) => `${n} STREET`, (n) => -(n - 36) * 84, (n) => (n % 10 === 6 ? busy : undefined)),
    exclude: (u, v) =>
      (u > 0 && u < 1350 && v > 500 && v < 1800) || // Green-Wood Cemetery
      (u < -(86 - 36) * 84 && v > (7 - 4) * 250 + 1), // below 86th St only Bay Ridge goes on
    rate: outerRate(350),
  }));

  // Bensonhurst and Gravesend, in the same frame: east of 18th Ave, then the Bay streets.
  list.push(grid({
    name: 'Bensonhurst', borough: 'Brooklyn', tier: 'extended',
    lat0: 40.6552, lng0: -74.0036, bearing: 31,
    avenues: numbered(18, 26, (n) => (n === 22 ? 'BAY PARKWAY' : `${n} AVENUE`), (n) => 3500 + (n - 18) * 150, (n) => (n === 18 || n === 22 ? busy : undefined)),
    streets: [
      ...numbered(65, 86, (n) => `${n} STREET`, (n) => -(n - 36) * 84, (n) => (n === 86 ? wide : undefined)),
      ...numbered(7, 50, (n) => `BAY ${n} STREET`, (n) => -(86 - 36) * 84 - (n - 6) * 80),
    ],
    rate: outerRate(350),
  }));

  // Flatbush, Midwood, Sheepshead Bay. Origin: East 16th St & Avenue J.
  const FLATBUSH_NAMES: Record<number, string> = { 20: 'OCEAN AVENUE', 25: 'BEDFORD AVENUE', 31: 'NOSTRAND AVENUE' };
  const letters = ['H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z'];
  const northOfH = ['GLENWOOD ROAD', 'FARRAGUT ROAD', 'FOSTER AVENUE', 'NEWKIRK AVENUE', 'DITMAS AVENUE',
    'CORTELYOU ROAD', 'BEVERLEY ROAD', 'TILDEN AVENUE', 'SNYDER AVENUE', 'CHURCH AVENUE'];
  list.push(grid({
    name: 'Flatbush to Canarsie', borough: 'Brooklyn', tier: 'extended',
    lat0: 40.6251, lng0: -73.9606, bearing: -8,
    avenues: [
      ['CONEY ISLAND AVENUE', -1030, busy], ['OCEAN PARKWAY', -1200, wide],
      ...numbered(1, 105, (n) => FLATBUSH_NAMES[n] ?? `EAST ${n} STREET`, (n) => (n - 16) * 64,
        (n) => (FLATBUSH_NAMES[n] ? busy : undefined)),
    ],
    streets: [
      ...letters.map((l, i) => [`AVENUE ${l}`, -(i - 2) * 265, l === 'J' || l === 'M' || l === 'U' ? busy : undefined] as [string, number, StreetOptions?]),
      ...northOfH.map((n, i) => [n, 530 + 135 * (i + 1), n === 'CHURCH AVENUE' || n === 'CORTELYOU ROAD' ? busy : undefined] as [string, number, StreetOptions?]),
    ],
    rate: outerRate(350),
  }));

  // Bedford-Stuyvesant and Crown Heights. Origin: Nostrand Ave & Fulton St.
  const bedStuyStreets = [
    'FLUSHING AVENUE', 'PARK AVENUE', 'MYRTLE AVENUE', 'WILLOUGHBY AVENUE', 'VERNON AVENUE',
    'DEKALB AVENUE', 'KOSCIUSZKO STREET', 'LAFAYETTE AVENUE', 'VAN BUREN STREET', 'GREENE AVENUE',
    'GATES AVENUE', 'QUINCY STREET', 'MONROE STREET', 'MADISON STREET', 'PUTNAM AVENUE',
    'JEFFERSON AVENUE', 'HANCOCK STREET', 'HALSEY STREET', 'MACON STREET', 'MACDONOUGH STREET',
    'DECATUR STREET', 'BAINBRIDGE STREET', 'CHAUNCEY STREET', 'MARION STREET', 'FULTON STREET',
    'HERKIMER STREET', 'ATLANTIC AVENUE', 'PACIFIC STREET', 'DEAN STREET', 'BERGEN STREET',
    'ST MARKS AVENUE', 'PROSPECT PLACE', 'PARK PLACE', 'STERLING PLACE', 'ST JOHNS PLACE',
    'LINCOLN PLACE', 'EASTERN PARKWAY',
  ];
  const fultonIndex = bedStuyStreets.indexOf('FULTON STREET');
  const bedStuyAvenues = [
    'CLASSON AVENUE', 'FRANKLIN AVENUE', 'BEDFORD AVENUE', 'NOSTRAND AVENUE', 'MARCY AVENUE',
    'TOMPKINS AVENUE', 'THROOP AVENUE', 'MARCUS GARVEY BOULEVARD', 'LEWIS AVENUE',
    'STUYVESANT AVENUE', 'MALCOLM X BOULEVARD', 'PATCHEN AVENUE', 'RALPH AVENUE', 'HOWARD AVENUE',
    'SARATOGA AVENUE',
  ];
  const nostrandIndex = bedStuyAvenues.indexOf('NOSTRAND AVENUE');
  const busyNames = new Set(['FULTON STREET', 'ATLANTIC AVENUE', 'MYRTLE AVENUE', 'DEKALB AVENUE',
    'NOSTRAND AVENUE', 'BEDFORD AVENUE', 'FRANKLIN AVENUE', 'EASTERN PARKWAY', 'RALPH AVENUE']);
  list.push(grid({
    name: 'Bedford-Stuyvesant', borough: 'Brooklyn', tier: 'extended',
    lat0: 40.6804, lng0: -73.9504, bearing: -6,
    avenues: bedStuyAvenues.map((n, i) => [n, (i - nostrandIndex) * 235, busyNames.has(n) ? busy : undefined] as [string, number, StreetOptions?]),
    streets: bedStuyStreets.map((n, i) => [n, (fultonIndex - i) * 80, busyNames.has(n) ? busy : undefined] as [string, number, StreetOptions?]),
    rate: outerRate(350),
  }));

  // Astoria. Origin: 31st St & 30th Ave. Queens numbering: streets grow east, avenues south.
  const astoriaAves: Array<[string, number, StreetOptions?]> = [];
  for (let k = 20; k <= 36; k++) {
    const name = k === 23 ? 'DITMARS BOULEVARD' : k === 25 ? 'ASTORIA BOULEVARD' : k === 33 ? 'BROADWAY' : `${k} AVENUE`;
    astoriaAves.push([name, -(k - 30) * 160, k === 30 || k === 23 || k === 33 ? busy : undefined]);
    if (k % 2 === 0 && k < 36) astoriaAves.push([`${k} ROAD`, -(k - 30) * 160 - 80]);
  }
  list.push(grid({
    name: 'Astoria', borough: 'Queens', tier: 'extended',
    lat0: 40.7666, lng0: -73.9214, bearing: 34,
    avenues: numbered(12, 49, (n) => `${n} STREET`, (n) => (n - 31) * 85, (n) => (n === 31 || n === 30 || n === 36 ? busy : undefined)),
    streets: astoriaAves,
    rate: outerRate(350),
  }));

  // Jackson Heights, Elmhurst, Corona. Origin: 74th St & Roosevelt Ave.
  const jhAves = ['30 AVENUE', '31 AVENUE', '32 AVENUE', 'NORTHERN BOULEVARD', '34 AVENUE', '35 AVENUE',
    '37 AVENUE', 'ROOSEVELT AVENUE', '41 AVENUE', '43 AVENUE', '45 AVENUE', '47 AVENUE', '51 AVENUE'];
  list.push(grid({
    name: 'Jackson Heights', borough: 'Queens', tier: 'extended',
    lat0: 40.7466, lng0: -73.8912, bearing: -3,
    avenues: numbered(69, 114, (n) => `${n} STREET`, (n) => (n - 74) * 80, (n) => (n === 74 || n === 82 || n === 103 ? busy : undefined)),
    streets: jhAves.map((n, i) => [n, (7 - i) * 160, ['NORTHERN BOULEVARD', 'ROOSEVELT AVENUE', '37 AVENUE'].includes(n) ? busy : undefined] as [string, number, StreetOptions?]),
    rate: outerRate(350),
  }));

  // Flushing and Fresh Meadows. Origin: Main St & Roosevelt Ave.
  const flushingAves: Array<[string, number, StreetOptions?]> = [];
  let fu = 0;
  for (let n = 39; n <= 73; n++) {
    const name = n === 39 ? 'ROOSEVELT AVENUE' : n === 41 ? 'SANFORD AVENUE' : n === 57 ? 'HORACE HARDING EXPRESSWAY' : `${n} AVENUE`;
    flushingAves.push([name, fu, n === 39 || n === 57 ? busy : undefined]);
    if (n >= 56) {
      flushingAves.push([`${n} ROAD`, fu - 80]);
      if (n % 2 === 1) flushingAves.push([`${n} DRIVE`, fu - 160]);
      fu -= n % 2 === 1 ? 240 : 160;
    } else fu -= 110;
  }
  for (let n = 38; n >= 33; n--) flushingAves.push([n === 37 ? 'NORTHERN BOULEVARD' : `${n} AVENUE`, (39 - n) * 110, n === 37 ? busy : undefined]);
  list.push(grid({
    name: 'Flushing', borough: 'Queens', tier: 'extended',
    lat0: 40.7596, lng0: -73.83, bearing: 2,
    avenues: [
      ['COLLEGE POINT BOULEVARD', -320, busy], ['PRINCE STREET', -110], ['MAIN STREET', 0, wide],
      ...numbered(140, 192, (n) => (n === 164 ? 'FRESH MEADOW LANE' : n === 172 ? 'UTOPIA PARKWAY' : n === 145 ? 'KISSENA BOULEVARD' : n === 149 ? 'PARSONS BOULEVARD' : `${n} STREET`),
        (n) => 150 + (n - 140) * 76, (n) => (n === 145 || n === 149 || n === 164 ? busy : undefined)),
    ],
    streets: flushingAves,
    exclude: (u, v) => u < -700 && u > -1900 && v > 600 && v < 1500, // Kissena Park
    rate: outerRate(350),
  }));

  // Woodhaven, Ozone Park, Jamaica, Hollis, South Jamaica, Springfield Gardens. Origin: 160th St & Jamaica Ave.
  const jamaicaAves: Array<[string, number, StreetOptions?]> = [];
  const JAMAICA_NAMES: Record<number, string> = { 87: 'HILLSIDE AVENUE', 89: 'JAMAICA AVENUE', 94: 'LIBERTY AVENUE', 101: 'LINDEN BOULEVARD', 133: 'NORTH CONDUIT AVENUE' };
  for (let n = 84; n <= 147; n++) {
    const u = -(n - 89) * 118;
    jamaicaAves.push([JAMAICA_NAMES[n] ?? `${n} AVENUE`, u, JAMAICA_NAMES[n] ? busy : undefined]);
    if (n >= 104 && n % 3 === 0) jamaicaAves.push([`${n} ROAD`, u - 59]);
  }
  list.push(grid({
    name: 'Jamaica', borough: 'Queens', tier: 'extended',
    lat0: 40.702, lng0: -73.799, bearing: -10,
    avenues: numbered(75, 230, (n) => (n === 150 ? 'SUTPHIN BOULEVARD' : n === 98 ? 'WOODHAVEN BOULEVARD' : n === 168 ? 'MERRICK BOULEVARD' : n === 188 ? 'FRANCIS LEWIS BOULEVARD' : `${n} STREET`),
      (n) => (n - 160) * 74, (n) => (n === 150 || n === 168 || n === 188 || n === 121 ? busy : undefined)),
    streets: jamaicaAves,
    exclude: (u, v) => u < -(124 - 89) * 118 && v > (118 - 160) * 74 && v < (165 - 160) * 74, // JFK airport
    rate: outerRate(350),
  }));

  // Forest Hills and Rego Park. Origin: 105th St & 66th Ave; avenues, roads and drives.
  const fhAves: Array<[string, number, StreetOptions?]> = [];
  for (let n = 62; n <= 72; n++) {
    const u = -(n - 66) * 240;
    fhAves.push([n === 71 ? 'CONTINENTAL AVENUE' : `${n} AVENUE`, u, n === 71 ? busy : undefined]);
    if (n < 72) fhAves.push([`${n} ROAD`, u - 80], [`${n} DRIVE`, u - 160]);
  }
  list.push(grid({
    name: 'Forest Hills', borough: 'Queens', tier: 'extended',
    lat0: 40.7288, lng0: -73.8460, bearing: -10,
    avenues: numbered(97, 112, (n) => (n === 108 ? 'AUSTIN STREET' : `${n} STREET`), (n) => (n - 105) * 80, (n) => (n === 108 ? busy : undefined)),
    streets: fhAves,
    rate: outerRate(350),
  }));

  // Ridgewood, Glendale, Middle Village. Origin: 70th St & Cooper Ave.
  const rgAves: Array<[string, number, StreetOptions?]> = [];
  const RG_NAMES: Record<number, string> = { 60: 'METROPOLITAN AVENUE', 70: 'MYRTLE AVENUE', 80: 'COOPER AVENUE', 66: 'ELIOT AVENUE' };
  for (let n = 58; n <= 80; n++) {
    rgAves.push([RG_NAMES[n] ?? `${n} AVENUE`, (80 - n) * 110, RG_NAMES[n] ? busy : undefined]);
  }
  list.push(grid({
    name: 'Ridgewood and Middle Village', borough: 'Queens', tier: 'extended',
    lat0: 40.706, lng0: -73.89, bearing: -4,
    avenues: numbered(53, 88, (n) => (n === 80 ? 'WOODHAVEN BOULEVARD' : n === 69 ? 'FRESH POND ROAD' : `${n} STREET`), (n) => (n - 70) * 80, (n) => (n === 80 || n === 69 ? busy : undefined)),
    streets: rgAves,
    rate: outerRate(350),
  }));

  // Sunnyside and Woodside. Origin: 46th St & Queens Blvd.
  list.push(grid({
    name: 'Sunnyside and Woodside', borough: 'Queens', tier: 'extended',
    lat0: 40.7432, lng0: -73.9185, bearing: 0,
    avenues: numbered(39, 68, (n) => (n === 61 ? 'WOODSIDE AVENUE' : `${n} STREET`), (n) => (n - 46) * 82, (n) => (n === 46 || n === 61 ? busy : undefined)),
    streets: numbered(37, 50, (n) => (n === 43 ? 'QUEENS BOULEVARD' : n === 40 ? 'SKILLMAN AVENUE' : n === 48 ? 'GREENPOINT AVENUE' : `${n} AVENUE`), (n) => -(n - 43) * 95,
      (n) => (n === 43 || n === 48 ? wide : undefined)),
    rate: outerRate(350),
  }));

  // Bayside. Origin: Bell Blvd (213th St) & 41st Ave.
  list.push(grid({
    name: 'Bayside', borough: 'Queens', tier: 'extended',
    lat0: 40.7627, lng0: -73.7696, bearing: 2,
    avenues: numbered(201, 232, (n) => (n === 213 ? 'BELL BOULEVARD' : `${n} STREET`), (n) => (n - 213) * 75, (n) => (n === 213 ? busy : undefined)),
    streets: numbered(32, 50, (n) => (n === 37 ? 'NORTHERN BOULEVARD' : `${n} AVENUE`), (n) => -(n - 41) * 118, (n) => (n === 37 ? busy : undefined)),
    rate: outerRate(350),
  }));

  // Bronx: Grand Concourse, Fordham. Origin: Grand Concourse & East 161st St.
  const bxAves = [
    ['UNIVERSITY AVENUE', -700], ['JEROME AVENUE', -330, busy], ['WALTON AVENUE', -140],
    ['GRAND CONCOURSE', 0, wide], ['SHERIDAN AVENUE', 130], ['MORRIS AVENUE', 260, busy],
    ['COLLEGE AVENUE', 390], ['TELLER AVENUE', 520], ['CLAY AVENUE', 650], ['PARK AVENUE', 800],
    ['WEBSTER AVENUE', 950, busy], ['WASHINGTON AVENUE', 1100], ['BATHGATE AVENUE', 1250],
    ['3 AVENUE', 1400, busy], ['BROOK AVENUE', 1550],
  ] as Array<[string, number, StreetOptions?]>;
  list.push(grid({
    name: 'Grand Concourse', borough: 'Bronx', tier: 'extended',
    lat0: 40.8275, lng0: -73.9235, bearing: 24,
    avenues: bxAves,
    streets: numbered(149, 204, (n) => (n === 190 ? 'EAST FORDHAM ROAD' : `EAST ${n} STREET`),
      (n) => (n - 161) * 125, (n) => (n === 149 || n === 161 || n === 170 || n === 190 ? busy : undefined)),
    rate: outerRate(350),
  }));

  // Bronx: Williamsbridge and Wakefield. Origin: White Plains Rd & East 219th St.
  list.push(grid({
    name: 'Williamsbridge', borough: 'Bronx', tier: 'extended',
    lat0: 40.8803, lng0: -73.8626, bearing: 12,
    avenues: [
      ['BRONXWOOD AVENUE', -520], ['PAULDING AVENUE', -360], ['HOLLAND AVENUE', -200],
      ['WHITE PLAINS ROAD', 0, wide], ['BARNES AVENUE', 160], ['BRONX BOULEVARD', -680],
      ['LACONIA AVENUE', 480], ['WILLETT AVENUE', 320], ['SCHIEFFELIN AVENUE', 640],
      ['CARPENTER AVENUE', 800], ['DIGNEY AVENUE', 960],
    ],
    streets: numbered(204, 243, (n) => (n === 233 ? 'EAST 233 STREET' : `EAST ${n} STREET`), (n) => (n - 219) * 85, (n) => (n === 233 || n === 222 ? busy : undefined)),
    rate: outerRate(350),
  }));

  // Bronx: Soundview and Castle Hill. Origin: Castle Hill Ave & Westchester Ave.
  const shAves = ['BOYNTON AVENUE', 'ELDER AVENUE', 'MANOR AVENUE', 'STRATFORD AVENUE', 'WHEELER AVENUE',
    'WHITE PLAINS ROAD', 'OLMSTEAD AVENUE', 'CASTLE HILL AVENUE', 'PUGSLEY AVENUE', 'OLMSTEAD PLACE',
    'HAVEMEYER AVENUE', 'VIRGINIA AVENUE', 'ZEREGA AVENUE', 'BEACH AVENUE'];
  const shStreets = ['WESTCHESTER AVENUE', 'GLEASON AVENUE', 'WATSON AVENUE', 'ELLIS AVENUE',
    'BRUCKNER BOULEVARD', 'LAFAYETTE AVENUE', 'SEWARD AVENUE', 'RANDALL AVENUE', 'GILDERSLEEVE AVENUE',
    'NEWMAN AVENUE', 'ELLIS PLACE', 'QUIMBY AVENUE', 'TURNBULL AVENUE', 'LACOMBE AVENUE'];
  list.push(grid({
    name: 'Castle Hill', borough: 'Bronx', tier: 'extended',
    lat0: 40.8345, lng0: -73.8513, bearing: 5,
    avenues: shAves.map((n, i) => [n, (i - 7) * 150, n === 'CASTLE HILL AVENUE' || n === 'WHITE PLAINS ROAD' ? busy : undefined] as [string, number, StreetOptions?]),
    streets: shStreets.map((n, i) => [n, -i * 120, n === 'WESTCHESTER AVENUE' || n === 'BRUCKNER BOULEVARD' ? wide : undefined] as [string, number, StreetOptions?]),
    rate: outerRate(350),
  }));

  // Staten Island: St. George and Stapleton. Origin: Bay St & Victory Blvd.
  list.push(grid({
    name: 'St. George', borough: 'Staten Island', tier: 'extended',
    lat0: 40.6372, lng0: -74.0764, bearing: 20,
    avenues: [
      ['BAY STREET', 0, busy], ['VAN DUZER STREET', -180], ['ST PAULS AVENUE', -340],
      ['CASSIDY PLACE', -480], ['HOWARD AVENUE', -640], ['HAMILTON AVENUE', -800],
    ],
    streets: [
      ['RICHMOND TERRACE', 900, busy], ['STUYVESANT PLACE', 700], ['HYATT STREET', 520],
      ['CENTRAL AVENUE', 360], ['WALL STREET', 180], ['VICTORY BOULEVARD', 0, busy],
      ['CEBRA AVENUE', -160], ['SWAN STREET', -320], ['BEACH STREET', -480], ['CANAL STREET', -640, busy],
      ['WRIGHT STREET', -800], ['WATER STREET', -960], ['TOMPKINS AVENUE', -1120], ['BROAD STREET', -1280, busy],
    ],
    rate: outerRate(350),
  }));
  return list;
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
  let uLo = Infinity, uHi = -Infinity, vLo = Infinity, vHi = -Infinity;
  for (const st of area.streets) {
    if (st.axis === 'u') { vLo = Math.min(vLo, st.at); vHi = Math.max(vHi, st.at); uLo = Math.min(uLo, st.lo); uHi = Math.max(uHi, st.hi); }
    else { uLo = Math.min(uLo, st.at); uHi = Math.max(uHi, st.at); vLo = Math.min(vLo, st.lo); vHi = Math.max(vHi, st.hi); }
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
      const sideBearing = st.axis === 'u' ? area.bearing + (side === 1 ? 90 : 270) : area.bearing + (side === 1 ? 0 : 180);
      const sideLetter = compass(sideBearing);
      if (st.noSide.includes(sideLetter)) continue;
      const probe = st.at + side; // a crossing street must exist on this side of the street
      const crossings = others
        .filter((t) => t.lo <= probe && probe <= t.hi && t.at >= st.lo && t.at <= st.hi)
        .sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
      const unique: Street[] = [];
      for (const t of crossings) if (!unique.length || Math.abs(unique[unique.length - 1].at - t.at) > 1) unique.push(t);
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
  const facesByArea = all.map((area, i) => facesOf(area).filter((face) => {
    const [lat, lng] = midpoint(face);
    return !all.slice(0, i).some((other) => covers(other, lat, lng));
  }));
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
        meterNumber, status, zone, hours, '', 'On Street', area.borough, st.name, face.sideLetter,
        face.from.name, face.to.name, la, ln, `(${la}, ${ln})`, (rate / 100).toFixed(2),
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
  const parts = Object.entries(summary.byBorough).map(([b, n]) => `${b} ${n}`).join(', ');
  console.log(`wrote ${summary.count} meters on ${summary.faces} block faces (${parts}) to ` +
    `${displayPath(summary.file)} in ${Math.round(performance.now() - started)} ms`);
}

if (import.meta.main) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
