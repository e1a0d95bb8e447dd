// Parking-meter rows from the city's open data, streamed: CSV ("Parking Meters
// Locations and Status", with or without an Hourly_Rate column) or a JSON array
// of objects (the same data from the city's JSON API), turned into the row
// objects app_private.spots_import takes, and sent to SQL in batches. Used by
// `spots:import` (cli/spots__import.ts) and the inventory sync
// (tasks/spots__sync.ts). Node only reads and splits; every rule about what a
// row means lives in SQL (migrations/fixtures/spots_import.sql).
//
// Memory: input is read in pieces of at most 16 kB, rows are produced per piece
// and sent in batches, so a run holds at most one batch plus one piece's rows
// (importMeterRows reports the most it held), however long the file.
import { isBlank, readCsv } from './csv_parse.ts';

/** Header (normalised: lower case, runs of other characters → "_") → key sent to SQL. */
const COLUMNS: Record<string, string> = {
  meter_number: 'meter_number',
  status: 'status',
  pay_by_cell_number: 'pay_by_cell_number',
  meter_hours: 'meter_hours',
  parking_facility_name: 'parking_facility_name',
  facility: 'facility',
  borough: 'borough',
  on_street: 'on_street',
  side_of_street: 'side_of_street',
  from_street: 'from_street',
  to_street: 'to_street',
  latitude: 'latitude',
  longitude: 'longitude',
  // The city's JSON API names the coordinates lat / long.
  lat: 'latitude',
  long: 'longitude',
  location: 'location',
  hourly_rate: 'hourly_rate',
};
/** Without an Hourly_Rate a row takes its zone's price (app_private.meter_zone_prices). */
const REQUIRED = ['meter_number', 'meter_hours', 'on_street'];

export class MeterDataError extends Error {}

export type MeterRow = Record<string, string | number>;

/** A file read as it goes, or a body already in memory (the sync's). */
type Input = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** One input row: the row for SQL (with row_number), or why Node could not make one. */
export interface MeterItem {
  line: number;
  row?: MeterRow;
  reject?: string;
}

export function normaliseHeader(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

function checkColumns(present: Set<string | undefined>, found: string[], where: string): void {
  const missing = REQUIRED.filter((k) => !present.has(k));
  if (!present.has('location') && !(present.has('latitude') && present.has('longitude'))) {
    missing.push('latitude', 'longitude');
  }
  if (missing.length)
    throw new MeterDataError(`${where}: the header lacks ${missing.join(', ')} (found: ${found.join(', ')})`);
}

/** Input cut into pieces of at most 16 kB (views, not copies), so one piece holds a few hundred rows at most. */
async function* pieces(input: Input): AsyncGenerator<string | Uint8Array> {
  const MAX = 16 * 1024;
  for await (const chunk of input) {
    for (let i = 0; i < chunk.length; i += MAX) {
      yield typeof chunk === 'string' ? chunk.slice(i, i + MAX) : chunk.subarray(i, i + MAX);
    }
  }
}

/** CSV: the first record is the header; yields the rows of each piece read. */
export async function* csvMeterRows(input: Input, where: string): AsyncGenerator<MeterItem[]> {
  let keys: Array<string | undefined> | undefined;
  for await (const records of readCsv(pieces(input))) {
    const items: MeterItem[] = [];
    for (const record of records) {
      if (isBlank(record)) continue;
      if (!keys) {
        keys = record.fields.map((f) => COLUMNS[normaliseHeader(f)]);
        checkColumns(new Set(keys), record.fields, where);
        continue;
      }
      if (record.error) {
        items.push({ line: record.line, reject: `malformed CSV: ${record.error}` });
      } else if (record.fields.length !== keys.length) {
        items.push({ line: record.line, reject: `expected ${keys.length} fields, found ${record.fields.length}` });
      } else {
        const row: MeterRow = { row_number: record.line };
        keys.forEach((key, i) => {
          if (key) row[key] = record.fields[i];
        });
        items.push({ line: record.line, row });
      }
    }
    if (items.length) yield items;
  }
  if (!keys) throw new MeterDataError(`${where} is empty`);
}

/** A JSON object of the city's API → a row; its location may be GeoJSON or {latitude, longitude}. */
function jsonRow(value: unknown, line: number): MeterItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { line, reject: 'not a JSON object' };
  const row: MeterRow = { row_number: line };
  for (const [name, v] of Object.entries(value)) {
    const key = COLUMNS[normaliseHeader(name)];
    if (!key) continue;
    if (key === 'location' && typeof v === 'object' && v !== null) {
      const o = v as { type?: string; coordinates?: unknown[]; latitude?: unknown; longitude?: unknown };
      if (o.type === 'Point' && Array.isArray(o.coordinates))
        row.location = `POINT (${o.coordinates[0]} ${o.coordinates[1]})`;
      else if (o.latitude !== undefined) row.location = `(${o.latitude}, ${o.longitude})`;
    } else if (typeof v === 'string' || typeof v === 'number') {
      row[key] = String(v);
    }
  }
  return { line, row };
}

/**
 * A JSON array of objects, parsed one element at a time: the scanner keeps only
 * the text of the element being read. line = the element's position (1-based).
 */
export async function* jsonMeterRows(input: Input, where: string): AsyncGenerator<MeterItem[]> {
  const decoder = new TextDecoder();
  let state = 'before' as 'before' | 'between' | 'inside' | 'after';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let element = '';
  let n = 0;
  for await (const chunk of pieces(input)) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const items: MeterItem[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (state === 'inside') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === '\\') escaped = true;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          depth--;
          if (depth === 0) {
            element += text.slice(start, i + 1);
            n++;
            try {
              items.push(jsonRow(JSON.parse(element), n));
            } catch {
              throw new MeterDataError(`${where}: element ${n} is not valid JSON`);
            }
            element = '';
            state = 'between';
          }
        }
        continue;
      }
      if (/\s/.test(c) || (c === '\ufeff' && state === 'before')) continue;
      if (state === 'before') {
        if (c !== '[') throw new MeterDataError(`${where}: expected a JSON array of meter objects`);
        state = 'between';
      } else if (state === 'between') {
        if (c === ']') state = 'after';
        else if (c === ',') continue;
        else if (c === '{' || c === '[') {
          state = 'inside';
          depth = 1;
          start = i;
        } else throw new MeterDataError(`${where}: expected an object at element ${n + 1}`);
      } else {
        throw new MeterDataError(`${where}: text after the end of the array`);
      }
    }
    if (state === 'inside') element += text.slice(start);
    if (items.length) yield items;
  }
  if (state !== 'after') throw new MeterDataError(`${where}: the JSON array is cut short`);
}

export interface SqlOutcome {
  row_number: number;
  outcome: 'inserted' | 'updated' | 'unchanged' | 'rejected';
  reason: string | null;
}

export interface MeterTotals {
  /** Data rows read (blank lines not counted). */
  rows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** The first keepRejects rejects, by line. */
  rejects: Array<{ line: number; reason: string }>;
  /** The most rows held in memory at once (a batch plus the rows of the chunk being read). */
  maxRowsHeld: number;
}

export interface BatchOptions {
  /** Rows per SQL call (default 1,000). */
  batchSize?: number;
  /** How many reject reasons to keep (default 100). */
  keepRejects?: number;
  /** Reject a meter number seen earlier in the input (spots:import; the sync does it in SQL). */
  rejectDuplicates?: boolean;
  /** Called after each batch (progress). */
  onBatch?: (rows: number) => void;
}

/** Why PostgreSQL could not take the row: jsonb refuses \u0000 and a lone surrogate (and with them the whole batch). */
function unstorable(row: MeterRow): string | undefined {
  for (const [key, value] of Object.entries(row)) {
    if (typeof value !== 'string') continue;
    if (value.includes('\0')) return `${key} contains a NUL character`;
    if (!value.isWellFormed()) return `${key} is not valid Unicode (a lone surrogate)`;
  }
  return undefined;
}

/** Sends the rows to SQL in batches (sendBatch answers one outcome per row) and adds up the outcomes. */
export async function importMeterRows(
  items: AsyncIterable<MeterItem[]>,
  sendBatch: (rows: MeterRow[]) => Promise<SqlOutcome[]>,
  options: BatchOptions = {},
): Promise<MeterTotals> {
  const batchSize = options.batchSize ?? 1000;
  const keepRejects = options.keepRejects ?? 100;
  const totals: MeterTotals = {
    rows: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    rejects: [],
    maxRowsHeld: 0,
  };
  // Node's own rejects of a batch come before SQL's for the same batch, so keep
  // a margin and cut to the first keepRejects lines at the end.
  const trim = () => {
    totals.rejects.sort((a, b) => a.line - b.line);
    totals.rejects.length = Math.min(totals.rejects.length, keepRejects);
  };
  const reject = (line: number, reason: string) => {
    totals.rejected++;
    if (keepRejects <= 0) return;
    totals.rejects.push({ line, reason });
    if (totals.rejects.length >= keepRejects + batchSize + 100) trim();
  };
  const seen = options.rejectDuplicates ? new Map<string, number>() : undefined;
  let batch: MeterRow[] = [];
  const flush = async () => {
    if (!batch.length) return;
    for (const r of await sendBatch(batch)) {
      if (r.outcome === 'rejected') reject(r.row_number, r.reason ?? 'rejected');
      else totals[r.outcome]++;
    }
    batch = [];
    options.onBatch?.(totals.rows);
  };
  for await (const chunk of items) {
    for (let i = 0; i < chunk.length; i++) {
      const item = chunk[i];
      totals.rows++;
      totals.maxRowsHeld = Math.max(totals.maxRowsHeld, batch.length + chunk.length - i);
      const why = item.reject ?? (item.row ? unstorable(item.row) : 'rejected');
      if (why !== undefined || !item.row) {
        reject(item.line, why ?? 'rejected');
        continue;
      }
      const meter = String(item.row.meter_number ?? '').trim();
      if (seen && meter) {
        const first = seen.get(meter);
        if (first !== undefined) {
          reject(item.line, `duplicate meter number (first on row ${first})`);
          continue;
        }
        seen.set(meter, item.line);
      }
      batch.push(item.row);
      if (batch.length >= batchSize) await flush();
    }
  }
  await flush();
  trim();
  return totals;
}
