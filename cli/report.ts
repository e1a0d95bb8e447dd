// `npm run cli -- report NAME --from YYYY-MM-DD --to YYYY-MM-DD [--format table|csv]`:
// runs sql/reports/NAME.sql, the same file an analyst runs with psql
// (`psql -v from=… -v to=… -f …`): its :'from' and :'to' become bound
// parameters, never text pasted into SQL. Values are printed as PostgreSQL
// writes them. CSV is written by csv-stringify (quoting, RFC 4180; formulas
// defused, see defuseFormula). Connects
// with REPORTS_DATABASE_URL (an analyst's login in production), else the owner.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import pg from 'pg';
import { dbUrls } from '../lib/db_urls.ts';
import { urlVar } from '../lib/env.ts';
import { usageOf } from './commands.ts';

const REPORTS_DIR = new URL('../sql/reports/', import.meta.url);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The reports the CLI can run: the files of sql/reports that take a period. */
export function reportNames(): string[] {
  return readdirSync(REPORTS_DIR)
    .filter((f) => f.endsWith('.sql') && readFileSync(new URL(f, REPORTS_DIR), 'utf8').includes(":'from'"))
    .map((f) => f.slice(0, -'.sql'.length))
    .sort();
}

export class ReportUsageError extends Error {}

export interface ReportResult {
  columns: string[];
  rows: string[][];
}

/** Runs one report on a client; every value comes back as PostgreSQL's text (null as ''). */
export async function runReport(
  client: pg.Client | pg.PoolClient,
  name: string,
  from: string,
  to: string,
): Promise<ReportResult> {
  if (!reportNames().includes(name))
    throw new ReportUsageError(`Unknown report ${JSON.stringify(name)}; reports: ${reportNames().join(', ')}`);
  for (const [flag, value] of [
    ['--from', from],
    ['--to', to],
  ]) {
    // Date.parse reads 2026-02-30 as March 2nd: a real date is one that reads back the same.
    const parsed = DATE.test(value ?? '') ? new Date(`${value}T00:00:00Z`) : null;
    if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value)
      throw new ReportUsageError(`${flag} must be a date YYYY-MM-DD`);
  }
  if (from >= to) throw new ReportUsageError('--from must be before --to (the period is [from, to))');
  const sql = readFileSync(new URL(`${name}.sql`, REPORTS_DIR), 'utf8')
    .replaceAll(":'from'", '$1')
    .replaceAll(":'to'", '$2');
  const result = await client.query({
    text: sql,
    values: [from, to],
    rowMode: 'array',
    types: { getTypeParser: () => (v: string) => v },
  });
  return {
    columns: result.fields.map((f) => f.name),
    rows: (result.rows as Array<Array<string | null>>).map((row) => row.map((v) => v ?? '')),
  };
}

/**
 * Text that a spreadsheet would run as a formula (=, +, -, @, tab or CR first) is written with a
 * leading apostrophe: operators name rates and streets, and an analyst opens the file. Numbers,
 * negative ones included, stay numbers.
 */
function defuseFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) && !/^-?\d+(\.\d+)?$/.test(value) ? `'${value}` : value;
}

export function asCsv(report: ReportResult): string {
  return stringify([report.columns, ...report.rows], { cast: { string: defuseFormula } });
}

/** Columns padded to their widest value; numbers right-aligned. */
export function asTable(report: ReportResult): string {
  const widths = report.columns.map((c, i) => Math.max(c.length, ...report.rows.map((r) => r[i].length)));
  const numeric = report.columns.map(
    (_, i) => report.rows.length > 0 && report.rows.every((r) => r[i] === '' || /^-?\d+(\.\d+)?$/.test(r[i])),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    line(report.columns),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...report.rows.map(line),
    `(${report.rows.length} row${report.rows.length === 1 ? '' : 's'})`,
  ].join('\n');
}

const parseReportArgs = (args: string[]) =>
  parseArgs({
    args,
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string', default: 'table' } },
  });

function usageExit(message?: string): never {
  console.error(`${message ? `${message}\n` : ''}${usageOf('report')}\nReports: ${reportNames().join(', ')}`);
  process.exit(2);
}

export default async function main(args: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseReportArgs>;
  try {
    parsed = parseReportArgs(args);
  } catch (err) {
    // An unknown option or one without its value is a bad argument as any other (exit 2, not a crash).
    usageExit((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...extra] = positionals;
  // One report a run: a second name or a stray word would otherwise be ignored without a word.
  if (extra.length) usageExit(`One report a run; unexpected: ${extra.join(' ')}`);
  if (!name || !values.from || !values.to || !['table', 'csv'].includes(values.format!)) usageExit();
  const client = new pg.Client({
    connectionString: urlVar(process.env, 'REPORTS_DATABASE_URL', dbUrls().owner, ['postgres:', 'postgresql:']),
  });
  await client.connect();
  try {
    const report = await runReport(client, name, values.from, values.to);
    process.stdout.write(values.format === 'csv' ? asCsv(report) : `${asTable(report)}\n`);
  } catch (err) {
    if (!(err instanceof ReportUsageError)) throw err;
    console.error(err.message);
    process.exitCode = 2;
  } finally {
    await client.end();
  }
}
