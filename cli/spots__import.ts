// `npm run cli -- spots:import FILE [--batch-size N] [--show N]`
//
// Loads parking meters from a CSV in the layout of New York City's open "Parking
// Meters Locations and Status" data plus an Hourly_Rate column (see
// cli/seed__generate.ts). Node only reads the file: it splits records (cli/csv_parse.ts),
// maps the header to keys, and sends batches as JSON to app_private.spots_import
// (migrations/fixtures/spots_import.sql), where every rule about rates, hours, spots and
// rejects lives. Node itself rejects only what it cannot hand over as a row: a malformed
// CSV record, a record with the wrong number of fields, or a meter number already seen
// earlier in the file (a later batch would otherwise overwrite the earlier row).
//
// Each batch is one statement, committed on its own unless the caller's client is in a
// transaction; an interrupted import can simply be run again.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { dbUrls } from '../lib/db_urls.ts';
import { isBlank, readCsv, type CsvRecord } from './csv_parse.ts';
import { loggerFor } from '../lib/logger.ts';
import { usageOf } from './commands.ts';

/** CSV header (normalised: lower case, runs of other characters → "_") → key sent to SQL. */
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
  location: 'location',
  hourly_rate: 'hourly_rate',
};
const REQUIRED = ['meter_number', 'meter_hours', 'on_street', 'hourly_rate'];

export type Outcome = 'inserted' | 'updated' | 'unchanged' | 'rejected';

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
  rows: number;
}

export interface ImportOptions {
  onProgress?: (progress: ImportProgress) => void;
  /** Rows per call of app_private.spots_import (default 1,000). */
  batchSize?: number;
  /** How many reject reasons to keep in the summary (default 100). */
  keepRejects?: number;
}

export interface ImportSummary {
  file: string;
  /** Data rows read (blank lines not counted). */
  rows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** The first keepRejects rejects, by line of the file (the header is line 1). */
  rejects: Array<{ line: number; reason: string }>;
  ms: number;
}

/** Anything with pg's query(): a Client, a PoolClient or a Pool. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export function normaliseHeader(name: string): string {
  return name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

export class ImportError extends Error {}

export async function importSpots(client: Queryable, file: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 1000;
  const keepRejects = options.keepRejects ?? 100;
  const path = resolve(file);
  const totalBytes = (await stat(path)).size;
  const summary: ImportSummary = {
    file: path, rows: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, rejects: [], ms: 0,
  };
  // Node's own rejects of a batch come before SQL's for the same batch, so keep a
  // margin and cut to the first keepRejects lines at the end.
  const trim = () => {
    summary.rejects.sort((a, b) => a.line - b.line);
    summary.rejects.length = Math.min(summary.rejects.length, keepRejects);
  };
  const reject = (line: number, reason: string) => {
    summary.rejected++;
    if (keepRejects <= 0) return;
    summary.rejects.push({ line, reason });
    if (summary.rejects.length >= keepRejects + batchSize + 100) trim();
  };

  const probe = await client.query(`select to_regprocedure('app_private.spots_import(jsonb)') is not null as ok`);
  if (!probe.rows[0]?.ok) {
    throw new ImportError('app_private.spots_import(jsonb) is missing: run the migrations (npm run db:migrate)');
  }

  let keys: Array<string | undefined> | undefined;
  const seen = new Map<string, number>(); // meter number → line where first seen
  let batch: Array<Record<string, string | number>> = [];
  const stream = createReadStream(path);
  let bytesRead = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      bytesRead += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }

  const flush = async () => {
    if (!batch.length) return;
    const { rows } = await client.query<{ row_number: number; outcome: Outcome; reason: string | null }>(
      'select row_number, outcome, reason from app_private.spots_import($1::jsonb)', [JSON.stringify(batch)]);
    for (const r of rows) {
      if (r.outcome === 'rejected') reject(r.row_number, r.reason ?? 'rejected');
      else summary[r.outcome]++;
    }
    batch = [];
    options.onProgress?.({ bytesRead, totalBytes, rows: summary.rows });
  };

  const take = async (record: CsvRecord) => {
    if (!keys) {
      keys = record.fields.map((f) => COLUMNS[normaliseHeader(f)]);
      const present = new Set(keys);
      const missing = REQUIRED.filter((k) => !present.has(k));
      if (!present.has('location') && !(present.has('latitude') && present.has('longitude'))) {
        missing.push('latitude', 'longitude');
      }
      if (missing.length) {
        throw new ImportError(`${displayPath(path)}: the header lacks ${missing.join(', ')} ` +
          `(found: ${record.fields.join(', ')})`);
      }
      return;
    }
    summary.rows++;
    if (record.error) return reject(record.line, `malformed CSV: ${record.error}`);
    if (record.fields.length !== keys.length) {
      return reject(record.line, `expected ${keys.length} fields, found ${record.fields.length}`);
    }
    const row: Record<string, string | number> = { row_number: record.line };
    keys.forEach((key, i) => { if (key) row[key] = record.fields[i]; });
    const meter = String(row.meter_number ?? '').trim();
    if (meter) {
      const first = seen.get(meter);
      if (first !== undefined) return reject(record.line, `duplicate meter number (first on row ${first})`);
      seen.set(meter, record.line);
    }
    batch.push(row);
    if (batch.length >= batchSize) await flush();
  };

  try {
    for await (const records of readCsv(counted())) {
      for (const record of records) {
        if (isBlank(record)) continue;
        await take(record);
      }
    }
    if (!keys) throw new ImportError(`${displayPath(path)} is empty`);
    await flush();
  } finally {
    stream.destroy();
  }
  options.onProgress?.({ bytesRead: totalBytes, totalBytes, rows: summary.rows });
  summary.ms = Math.round(performance.now() - started);
  trim();
  return summary;
}

function progressBar(p: ImportProgress, width = 30): string {
  const ratio = p.totalBytes ? Math.min(1, p.bytesRead / p.totalBytes) : 1;
  const done = Math.round(ratio * width);
  return `\r[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ` +
    `${p.rows.toLocaleString('en-US')} rows`;
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function formatSummary(s: ImportSummary, show: number): string {
  const n = (x: number) => x.toLocaleString('en-US').padStart(10);
  const lines = [
    `${displayPath(s.file)}: ${s.rows.toLocaleString('en-US')} rows in ${(s.ms / 1000).toFixed(1)} s`,
    `  inserted  ${n(s.inserted)}`,
    `  updated   ${n(s.updated)}`,
    `  unchanged ${n(s.unchanged)}`,
    `  rejected  ${n(s.rejected)}`,
  ];
  const shown = s.rejects.slice(0, show);
  if (shown.length) {
    lines.push(`First ${shown.length} reject${shown.length === 1 ? '' : 's'}:`);
    for (const r of shown) lines.push(`  line ${r.line}: ${r.reason}`);
  }
  return lines.join('\n');
}

export default async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'batch-size': { type: 'string' },
      show: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new ImportError(`One FILE, please.\n${usageOf('spots:import')}`);
  const show = Number(values.show ?? 20);
  const batchSize = Number(values['batch-size'] ?? 1000);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ImportError('--batch-size must be a positive integer');
  const tty = process.stdout.isTTY === true;
  const client = new pg.Client({ connectionString: dbUrls().owner });
  await client.connect();
  try {
    const summary = await importSpots(client, positionals[0], {
      batchSize,
      keepRejects: Math.max(show, 0),
      onProgress: tty ? (p) => process.stdout.write(progressBar(p)) : undefined,
    });
    if (tty) process.stdout.write('\n');
    console.log(formatSummary(summary, show));
  } finally {
    await client.end();
  }
}

if (import.meta.main) {
  main().catch((err) => {
    loggerFor('cli').error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
