// `npm run cli -- spots:import FILE [--batch-size N] [--show N]`
//
// Loads parking meters from a CSV in the layout of New York City's open "Parking
// Meters Locations and Status" data, with an Hourly_Rate column (see
// cli/seed__generate.ts) or without (the zone's price applies). Node only reads
// the file: lib/meter_rows.ts splits records, maps the header to keys, and sends
// batches as JSON to app_private.spots_import
// (migrations/fixtures/spots_import.sql), where every rule about rates, hours, spots and
// rejects lives. Node itself rejects only what it cannot hand over as a row: a malformed
// CSV record, a record with the wrong number of fields, text PostgreSQL cannot store (a
// NUL character), or a meter number already seen earlier in the file (a later batch
// would otherwise overwrite the earlier row).
//
// Each batch is one statement, committed on its own unless the caller's client is in a
// transaction; an interrupted import can simply be run again.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { dbUrls } from '../lib/db_urls.ts';
import { csvMeterRows, importMeterRows, MeterDataError, type MeterTotals, type SqlOutcome } from '../lib/meter_rows.ts';
import { loggerFor } from '../lib/logger.ts';
import { usageOf } from './commands.ts';

export type Outcome = SqlOutcome['outcome'];

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

/** The outcome counts and first rejects (by line of the file; the header is line 1), the file and the time taken. */
export type ImportSummary = Omit<MeterTotals, 'maxRowsHeld'> & { file: string; ms: number };

/** Anything with pg's query(): a Client, a PoolClient or a Pool. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** A file the import cannot read as meter data (a missing column, an empty file), or missing migrations. */
export class ImportError extends MeterDataError {}

// One batch, marked as an import for the change history (spot_changes.source)
// by a setting local to the statement's transaction: the function's argument
// depends on set_config's result, so the setting is made before the import
// runs, on whatever connection of a pool the statement lands.
const IMPORT_BATCH = `select r.row_number, r.outcome, r.reason
  from (select set_config('app.change_source', 'import', true) as source) c,
  lateral app_private.spots_import(case when c.source is not null then $1::jsonb end) r`;

export async function importSpots(
  client: Queryable,
  file: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const started = performance.now();
  const path = resolve(file);
  const totalBytes = (await stat(path)).size;

  const probe = await client.query(`select to_regprocedure('app_private.spots_import(jsonb)') is not null as ok`);
  if (!probe.rows[0]?.ok) {
    throw new ImportError('app_private.spots_import(jsonb) is missing: run the migrations (npm run db:migrate)');
  }
  const stream = createReadStream(path);
  let bytesRead = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      bytesRead += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  try {
    const totals = await importMeterRows(
      csvMeterRows(counted(), displayPath(path)),
      async (batch) => (await client.query<SqlOutcome>(IMPORT_BATCH, [JSON.stringify(batch)])).rows,
      {
        batchSize: options.batchSize,
        keepRejects: options.keepRejects,
        rejectDuplicates: true,
        onBatch: (rows) => options.onProgress?.({ bytesRead, totalBytes, rows }),
      },
    );
    options.onProgress?.({ bytesRead: totalBytes, totalBytes, rows: totals.rows });
    const { maxRowsHeld: _held, ...counts } = totals;
    return { file: path, ...counts, ms: Math.round(performance.now() - started) };
  } catch (err) {
    if (err instanceof MeterDataError && !(err instanceof ImportError)) throw new ImportError(err.message);
    throw err;
  } finally {
    stream.destroy();
  }
}

function progressBar(p: ImportProgress, width = 30): string {
  const ratio = p.totalBytes ? Math.min(1, p.bytesRead / p.totalBytes) : 1;
  const done = Math.round(ratio * width);
  return (
    `\r[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ` +
    `${p.rows.toLocaleString('en-US')} rows`
  );
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
  if (!Number.isInteger(show) || show < 0) throw new ImportError('--show must be a whole number, 0 or more');
  const batchSize = Number(values['batch-size'] ?? 1000);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ImportError('--batch-size must be a positive integer');
  const tty = process.stdout.isTTY === true;
  const client = new pg.Client({ connectionString: dbUrls().owner });
  await client.connect();
  try {
    const summary = await importSpots(client, positionals[0], {
      batchSize,
      keepRejects: show,
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
