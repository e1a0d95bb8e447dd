// spots:import — the CSV reader (no database), then the import of the shipped demo
// file and of hand-made rows through app_private.spots_import, against a real database.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CsvParser, parseCsv } from '../lib/csv_parse.ts';
import { HEADER } from '../cli/seed__generate.ts';
import { importSpots, ImportError, type ImportSummary } from '../cli/spots__import.ts';
import { createTestDb, sqlstateOf, type TestDb } from './helpers/db.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SEED_FILE = join(ROOT, 'sql', 'seed', 'nyc_parking_meters.csv');

// ---------------------------------------------------------------------------------------
// CSV reader

const csv = suite('csv parser');

csv('splits fields and records; quotes hold commas, quotes and line breaks', () => {
  // Setup
  const text = 'a,b,c\r\n1,"two, 2","say ""hi"""\r\n"multi\nline",,x\n\nlast,"",end';
  // Action
  const records = parseCsv(text);
  // Assertions
  assert.equal(
    records.map((r) => r.fields),
    [['a', 'b', 'c'], ['1', 'two, 2', 'say "hi"'], ['multi\nline', '', 'x'], [''], ['last', '', 'end']],
  );
  assert.equal(
    records.map((r) => r.line),
    [1, 2, 3, 5, 6],
  );
  assert.ok(records.every((r) => r.error === undefined));
});

csv('LF, CRLF and lone CR all end a record; no empty record after the final break', () => {
  assert.equal(
    parseCsv('a,b\nc,d\n').map((r) => r.fields),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
  );
  assert.equal(
    parseCsv('a,b\r\nc,d\r\n').map((r) => r.fields),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
  );
  assert.equal(
    parseCsv('a,b\rc,d').map((r) => r.fields),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
  );
  assert.equal(
    parseCsv('a,b\rc,d').map((r) => r.line),
    [1, 2],
  );
  assert.equal(parseCsv(''), []);
  assert.equal(
    parseCsv('x,').map((r) => r.fields),
    [['x', '']],
  );
});

csv('a byte order mark is dropped; a quote inside an unquoted field is kept', () => {
  assert.equal(
    parseCsv('\ufeffMeter Number,b\n1,2').map((r) => r.fields),
    [
      ['Meter Number', 'b'],
      ['1', '2'],
    ],
  );
  assert.equal(
    parseCsv('5" pipe,x').map((r) => r.fields),
    [['5" pipe', 'x']],
  );
});

csv('malformed records carry an error and the reader goes on', () => {
  const after = parseCsv('"ab"c,d\nok,1\n');
  assert.is(after[0].error, 'text after a closing quote');
  assert.equal(after[0].fields, ['abc', 'd']);
  assert.equal(after[1], { line: 2, fields: ['ok', '1'] });
  const open = parseCsv('x,"never closed\nmore');
  assert.is(open.length, 1);
  assert.is(open[0].error, 'unterminated quoted field');
  assert.equal(open[0].fields, ['x', 'never closed\nmore']);
});

csv('the same records whatever the chunk boundaries', () => {
  // Setup: quotes, doubled quotes, CRLF and a line break inside a field at every offset.
  const text = 'h1,h2\r\n"a ""q"" b","x\r\ny"\r\nplain,"tail"\r\n"",z';
  const whole = parseCsv(text);
  for (let cut = 0; cut <= text.length; cut++) {
    for (const size of [1, 2, 3]) {
      // Action
      const parser = new CsvParser();
      const records = [
        ...parser.push(text.slice(0, cut)),
        ...(() => {
          const out = [];
          for (let i = cut; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
          return out;
        })(),
        ...parser.end(),
      ];
      // Assertions
      assert.equal(records, whole, `cut at ${cut}, then chunks of ${size}`);
    }
  }
  assert.equal(
    whole.map((r) => r.line),
    [1, 2, 4, 5],
  );
});

csv('reads the shipped demo file: a header and rows of 15 fields with unique meter numbers', () => {
  const records = parseCsv(readFileSync(SEED_FILE, 'utf8'));
  assert.equal(records[0].fields, HEADER);
  const rows = records.slice(1);
  assert.ok(rows.length >= 2400, `${rows.length} rows`);
  assert.ok(rows.every((r) => r.fields.length === 15 && !r.error));
  assert.is(new Set(rows.map((r) => r.fields[0])).size, rows.length);
});

// ---------------------------------------------------------------------------------------
// Import

interface SeedRow {
  [column: string]: string;
}

function seedRows(): SeedRow[] {
  const [header, ...rows] = parseCsv(readFileSync(SEED_FILE, 'utf8'));
  return rows.map((r) => Object.fromEntries(header.fields.map((h, i) => [h, r.fields[i]])));
}

function toCsv(rows: SeedRow[], header = HEADER): string {
  const esc = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return (
    [header, ...rows.map((r) => header.map((h) => r[h] ?? ''))].map((f) => f.map(esc).join(',')).join('\r\n') + '\r\n'
  );
}

/** The metered windows a Meter_Hours text stands for, as "isodow HHMM-HHMM", written independently of the SQL. */
function expectedWindows(meterHours: string): string[] {
  const days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const m = /^\d+HR (?:Com|Pas) (.*)$/.exec(meterHours);
  if (!m) throw new Error(`test cannot read ${meterHours}`);
  const out: string[] = [];
  for (const [, d1, d2, opens, closes] of m[1].matchAll(/(\w{3})(?:-(\w{3}))? (\d{4})-(\d{4})/g)) {
    let d = days.indexOf(d1);
    const last = d2 ? days.indexOf(d2) : d;
    for (;;) {
      out.push(`${d + 1} ${opens}-${closes}`);
      if (d === last) break;
      d = (d + 1) % 7;
    }
  }
  if (out.length === 7 && out.every((w) => w.endsWith(' 0000-2400'))) return []; // around the clock
  return out.sort();
}

const spots = suite('spots:import');
let db: TestDb;
let dir: string;
const rows = seedRows();

async function importText(name: string, text: string): Promise<ImportSummary> {
  const file = join(dir, name);
  writeFileSync(file, text);
  return importSpots(db.owner, file);
}

spots.before(async () => {
  db = await createTestDb(import.meta.filename);
  dir = mkdtempSync(join(tmpdir(), 'spots-import-'));
});

spots.after(async () => {
  await db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

spots('the shipped demo file: every row inserted, with its rate and hours', async () => {
  // Action
  const progress: number[] = [];
  const summary = await importSpots(db.owner, SEED_FILE, { onProgress: (p) => progress.push(p.rows) });
  // Assertions: counts
  assert.is(summary.rows, rows.length);
  assert.equal([summary.inserted, summary.updated, summary.unchanged, summary.rejected], [rows.length, 0, 0, 0]);
  assert.equal(summary.rejects, []);
  assert.is(progress.at(-1), rows.length);
  const {
    rows: [count],
  } = await db.owner.query('select count(*)::int as n from app_public.spots');
  assert.is(count.n, rows.length);
  // One rate per price and schedule (the schedule is Meter_Hours without "<N>HR Com|Pas").
  const rateKeys = new Set(rows.map((r) => `${r.Hourly_Rate} ${r.Meter_Hours.replace(/^\S+ \S+ /, '')}`));
  const {
    rows: [rates],
  } = await db.owner.query(`select count(*)::int as n from app_public.rates where code like 'meter-%'`);
  assert.is(rates.n, rateKeys.size);
});

spots("spots carry the file's values: location, street, status, zone, max stay, price and hours", async () => {
  // Setup
  const { rows: stored } = await db.owner.query(`
    select s.external_id, st_y(s.location::geometry) as lat, st_x(s.location::geometry) as lng,
           s.street, s.side_of_street, s.from_street, s.to_street, s.borough, s.zone, s.status,
           s.meter_hours, extract(epoch from s.max_stay)::int / 3600 as max_hours,
           r.hourly_price, r.currency,
           coalesce((select array_agg(h.isodow || ' ' || to_char(h.opens, 'HH24MI') || '-'
                                      || case when h.closes = time '24:00' then '2400' else to_char(h.closes, 'HH24MI') end)
                     from app_public.rate_hours h where h.rate_id = r.id), '{}') as windows
    from app_public.spots s join app_public.rates r on r.id = s.rate_id`);
  const byId = new Map(stored.map((s) => [s.external_id, s]));
  // Assertions
  for (const row of rows) {
    const s = byId.get(row['Meter Number']);
    assert.ok(s, `meter ${row['Meter Number']} stored`);
    assert.ok(Math.abs(s.lat - Number(row.Latitude)) < 1e-9, `latitude of ${row['Meter Number']}`);
    assert.ok(Math.abs(s.lng - Number(row.Longitude)) < 1e-9, `longitude of ${row['Meter Number']}`);
    assert.equal(
      [s.street, s.side_of_street, s.from_street, s.to_street, s.borough, s.zone, s.meter_hours],
      [
        row.On_Street,
        row.Side_of_Street,
        row.From_Street,
        row.To_Street,
        row.Borough,
        row['Pay By Cell Number'],
        row.Meter_Hours,
      ],
    );
    assert.is(s.status, row.Status === 'Active' ? 'active' : 'out_of_service');
    assert.is(s.max_hours, Number(/^(\d+)HR/.exec(row.Meter_Hours)![1]));
    assert.is(s.hourly_price, Math.round(Number(row.Hourly_Rate) * 100));
    assert.is(s.currency, 'USD');
    assert.equal([...s.windows].sort(), expectedWindows(row.Meter_Hours), `hours of ${row.Meter_Hours}`);
  }
  assert.ok(
    rows.some((r) => r.Status !== 'Active'),
    'the demo file has inactive meters',
  );
  assert.ok(
    rows.some((r) => r.Meter_Hours.startsWith('24HR')),
    'the demo file has a 24/7 meter',
  );
});

spots('importing the same file again changes nothing', async () => {
  // Setup
  const before = await db.owner.query('select max(updated_at) as at, count(*)::int as n from app_public.spots');
  const ratesBefore = await db.owner.query('select count(*)::int as n from app_public.rate_hours');
  // Action
  const summary = await importSpots(db.owner, SEED_FILE);
  // Assertions
  assert.equal([summary.inserted, summary.updated, summary.unchanged, summary.rejected], [0, 0, rows.length, 0]);
  const after = await db.owner.query('select max(updated_at) as at, count(*)::int as n from app_public.spots');
  assert.equal(after.rows[0], before.rows[0]);
  const ratesAfter = await db.owner.query('select count(*)::int as n from app_public.rate_hours');
  assert.equal(ratesAfter.rows[0], ratesBefore.rows[0]);
});

spots('a changed row is updated, its neighbours unchanged', async () => {
  // Setup: move one meter a little, take another out of service and reprice a third.
  const [moved, stopped, repriced, same] = rows.filter((r) => r.Status === 'Active').slice(0, 4);
  const newLat = (Number(moved.Latitude) + 0.0001).toFixed(7);
  const changed = [
    { ...moved, Latitude: newLat, Location: `(${newLat}, ${moved.Longitude})` },
    { ...stopped, Status: 'Removed' },
    { ...repriced, Hourly_Rate: '9.25', Meter_Hours: '3HR Pas Mon-Fri 0800-1800 Sat 1000-1400' },
    same,
  ];
  // Action
  const summary = await importText('changed.csv', toCsv(changed));
  // Assertions
  assert.equal([summary.inserted, summary.updated, summary.unchanged, summary.rejected], [0, 3, 1, 0]);
  const { rows: stored } = await db.owner.query(
    `select s.external_id, st_y(s.location::geometry) as lat, s.status, s.max_stay::text, r.code, r.hourly_price
     from app_public.spots s join app_public.rates r on r.id = s.rate_id
     where s.external_id = any($1) order by s.external_id`,
    [changed.map((r) => r['Meter Number'])],
  );
  const get = (id: string) => stored.find((s) => s.external_id === id)!;
  assert.ok(Math.abs(get(moved['Meter Number']).lat - Number(newLat)) < 1e-9);
  assert.is(get(stopped['Meter Number']).status, 'out_of_service');
  assert.is(get(repriced['Meter Number']).code, 'meter-925-mon-fri-0800-1800-sat-1000-1400');
  assert.is(get(repriced['Meter Number']).hourly_price, 925);
  assert.is(get(repriced['Meter Number']).max_stay, '03:00:00');
  const { rows: hours } = await db.owner.query(
    `select h.isodow, h.opens::text, h.closes::text from app_public.rate_hours h
     join app_public.rates r on r.id = h.rate_id where r.code = $1 order by 1`,
    ['meter-925-mon-fri-0800-1800-sat-1000-1400'],
  );
  assert.equal(
    hours.map((h) => `${h.isodow} ${h.opens}-${h.closes}`),
    [
      '1 08:00:00-18:00:00',
      '2 08:00:00-18:00:00',
      '3 08:00:00-18:00:00',
      '4 08:00:00-18:00:00',
      '5 08:00:00-18:00:00',
      '6 10:00:00-14:00:00',
    ],
  );
  // Put the demo file back, for the tests after this one.
  const restored = await importSpots(db.owner, SEED_FILE);
  assert.equal([restored.updated, restored.unchanged], [3, rows.length - 3]);
});

spots('bad rows are rejected with a reason and write nothing, not even a rate', async () => {
  // Setup: a price no good row has, so a stray rate would show.
  const base = { ...rows[0], Hourly_Rate: '8.88' };
  const bad = [
    { ...base, 'Meter Number': '9900001', Latitude: '91', Location: '' },
    { ...base, 'Meter Number': '' },
    { ...base, 'Meter Number': '9900003', Meter_Hours: 'whenever the sun shines' },
    { ...base, 'Meter Number': '9900004', Latitude: 'forty', Location: '' },
    { ...base, 'Meter Number': '9900005', Longitude: '-181' },
    { ...base, 'Meter Number': '9900006', On_Street: '   ' },
    { ...base, 'Meter Number': '9900007', Hourly_Rate: 'free' },
    { ...base, 'Meter Number': '9900008', Meter_Hours: '2HR Pas Mon-Fri 0900-1900 Wed 1200-1300' },
    { ...base, 'Meter Number': '9900009', Meter_Hours: '2HR Pas Mon 2200-0200' },
  ];
  const good = {
    ...rows[1],
    'Meter Number': '9900010',
    Status: 'Active',
    Hourly_Rate: '4.75',
    On_Street: 'BROADWAY, UPPER',
  };
  const text =
    toCsv([...bad, good]) +
    '9900011,Active,too,few,fields\r\n' + // wrong field count (Node)
    toCsv([{ ...good, Status: 'Inactive' }]).split('\r\n')[1] +
    '\r\n'; // duplicate meter number (Node)
  const countBefore = await db.owner.query('select count(*)::int as n from app_public.spots');
  // Action
  const summary = await importText('bad.csv', text);
  // Assertions: reasons by line (the header is line 1)
  assert.equal([summary.inserted, summary.updated, summary.unchanged, summary.rejected], [1, 0, 0, 11]);
  assert.equal(summary.rejects, [
    { line: 2, reason: 'latitude out of range' },
    { line: 3, reason: 'missing meter number' },
    { line: 4, reason: 'unparseable Meter_Hours: expected "<N>HR Com|Pas <days> <hhmm>-<hhmm>"' },
    { line: 5, reason: 'latitude is not a number' },
    { line: 6, reason: 'longitude out of range' },
    { line: 7, reason: 'missing On_Street' },
    { line: 8, reason: 'Hourly_Rate is not a price in dollars' },
    { line: 9, reason: 'unparseable Meter_Hours: overlapping hours on Wed' },
    {
      line: 10,
      reason:
        'unparseable Meter_Hours: closing time 0200 is not after opening time 2200 (windows past midnight are not supported)',
    },
    { line: 12, reason: 'expected 15 fields, found 5' },
    { line: 13, reason: 'duplicate meter number (first on row 11)' },
  ]);
  // Nothing of the bad rows was written; the good one was, comma and all.
  const countAfter = await db.owner.query('select count(*)::int as n from app_public.spots');
  assert.is(countAfter.rows[0].n, countBefore.rows[0].n + 1);
  const { rows: stray } = await db.owner.query(
    `select external_id from app_public.spots where external_id like '99000%' order by 1`,
  );
  assert.equal(
    stray.map((s) => s.external_id),
    ['9900010'],
  );
  const {
    rows: [street],
  } = await db.owner.query(`select street, status from app_public.spots where external_id = '9900010'`);
  assert.equal(street, { street: 'BROADWAY, UPPER', status: 'active' });
  const {
    rows: [rates],
  } = await db.owner.query('select count(*)::int as n from app_public.rates where hourly_price = 888');
  assert.is(rates.n, 0);
});

spots('Location is used when Latitude and Longitude are blank', async () => {
  const row = {
    ...rows[2],
    'Meter Number': '9900020',
    Latitude: '',
    Longitude: '',
    Location: '(40.7001234, -73.9001234)',
  };
  const summary = await importText('location.csv', toCsv([row]));
  assert.is(summary.inserted, 1);
  const {
    rows: [s],
  } = await db.owner.query(
    `select st_y(location::geometry) as lat, st_x(location::geometry) as lng from app_public.spots where external_id = '9900020'`,
  );
  assert.equal(s, { lat: 40.7001234, lng: -73.9001234 });
});

spots('a file without a required column is refused before anything is written', async () => {
  const header = HEADER.filter((h) => h !== 'Meter_Hours');
  const err = await importText('no_hours.csv', toCsv([rows[0]], header)).catch((e) => e);
  assert.instance(err, ImportError);
  assert.match(err.message, /lacks meter_hours/);
});

spots("the city's own layout (no Hourly_Rate): the zone's price, else the default zone's", async () => {
  // Setup: a price for one pay-by-cell zone; the '*' default comes with the migration
  await db.owner.query(`insert into app_private.meter_zone_prices (zone, hourly_price) values ('7700001', 725)`);
  const header = HEADER.filter((h) => h !== 'Hourly_Rate');
  const zoned = { ...rows[3], 'Meter Number': '9900031', 'Pay By Cell Number': '7700001' };
  const other = { ...rows[3], 'Meter Number': '9900032', 'Pay By Cell Number': '7700002' };
  // Action
  const summary = await importText('city_layout.csv', toCsv([zoned, other], header));
  // Assertions
  assert.is(summary.inserted, 2, JSON.stringify(summary.rejects));
  const { rows: prices } = await db.owner.query(
    `select s.external_id, r.hourly_price from app_public.spots s join app_public.rates r on r.id = s.rate_id
     where s.external_id in ('9900031', '9900032') order by 1`,
  );
  const {
    rows: [fallback],
  } = await db.owner.query(`select hourly_price from app_private.meter_zone_prices where zone = '*'`);
  assert.equal(prices, [
    { external_id: '9900031', hourly_price: 725 },
    { external_id: '9900032', hourly_price: fallback.hourly_price },
  ]);
});

spots('a NUL character rejects its row only; the batches after it are imported', async () => {
  // Setup: jsonb refuses \u0000, so the whole second batch failed and the import stopped half-written.
  const row = (n: number, street = 'NUL TEST STREET') => ({
    ...rows[4],
    'Meter Number': `990004${n}`,
    On_Street: street,
  });
  const file = join(dir, 'nul.csv');
  writeFileSync(file, toCsv([row(1), row(2), row(3, 'NUL\0STREET'), row(4), row(5)]));
  // Action
  const summary = await importSpots(db.owner, file, { batchSize: 2 });
  // Assertions
  assert.equal([summary.inserted, summary.rejected], [4, 1]);
  assert.equal(summary.rejects, [{ line: 4, reason: 'on_street contains a NUL character' }]);
  const { rows: stored } = await db.owner.query(
    `select external_id from app_public.spots where external_id like '990004_' order by 1`,
  );
  assert.equal(
    stored.map((s) => s.external_id),
    ['9900041', '9900042', '9900044', '9900045'],
  );
});

spots('bad --show or --batch-size: refused before anything is written, like the other bad arguments', async () => {
  const file = join(dir, 'show.csv');
  writeFileSync(file, toCsv([{ ...rows[4], 'Meter Number': '9900051' }]));
  for (const [flag, value, message] of [
    ['--show', 'abc', '--show must be a whole number, 0 or more'],
    ['--show', '2.5', '--show must be a whole number, 0 or more'],
    ['--batch-size', '0', '--batch-size must be a positive integer'],
  ]) {
    const res = spawnSync(process.execPath, ['cli/main.ts', 'spots:import', flag, value, file], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.urls.owner, LOG_FORMAT: 'json' },
      encoding: 'utf8',
    });
    assert.is(res.status, 1, `${flag} ${value}: ${res.stdout}${res.stderr}`);
    assert.ok(`${res.stdout}${res.stderr}`.includes(message), `${flag} ${value}: ${res.stdout}${res.stderr}`);
  }
  const {
    rows: [n],
  } = await db.owner.query(`select count(*)::int as n from app_public.spots where external_id = '9900051'`);
  assert.is(n.n, 0);
});

spots('the SQL function on its own: order kept, duplicates in one call, not an array', async () => {
  // Setup
  const one = {
    meter_number: '9900030',
    latitude: '40.75',
    longitude: '-73.99',
    on_street: 'TEST STREET',
    meter_hours: '1HR Com Mon-Fri 0700-1900',
    hourly_rate: '$5.00',
    status: 'Active',
  };
  // Action
  const { rows: out } = await db.owner.query(
    'select row_number, outcome, reason from app_private.spots_import($1::jsonb)',
    [JSON.stringify([{ ...one }, { ...one, on_street: 'OTHER' }, 42])],
  );
  // Assertions: without row_number, rows are numbered by position.
  assert.equal(out, [
    { row_number: 1, outcome: 'inserted', reason: null },
    { row_number: 2, outcome: 'rejected', reason: 'duplicate meter number (first on row 1)' },
    { row_number: 3, outcome: 'rejected', reason: 'missing meter number' },
  ]);
  assert.is(await sqlstateOf(db.owner.query(`select * from app_private.spots_import('{}'::jsonb)`)), '22023');
});

spots('a price above $5000.00 an hour is rejected (a long stay could not be charged); $5000.00 is taken', async () => {
  const over = { ...rows[3], 'Meter Number': '9900020', Hourly_Rate: '5000.01' };
  const top = { ...rows[3], 'Meter Number': '9900021', Hourly_Rate: '5000.00' };
  const summary = await importText('price.csv', toCsv([over, top]));
  assert.equal(summary.rejects, [{ line: 2, reason: 'Hourly_Rate is above $5000.00' }]);
  assert.equal([summary.inserted, summary.rejected], [1, 1]);
  const {
    rows: [stored],
  } = await db.owner.query(
    `select r.hourly_price from app_public.spots s join app_public.rates r on r.id = s.rate_id where s.external_id = '9900021'`,
  );
  assert.is(stored.hourly_price, 500000);
});

spots(
  "an operator's hours on an imported rate are theirs: importing the file again adds none of the file's",
  async () => {
    // Setup: an operator meters the rate of the file's first meter around the clock on Mondays only.
    const {
      rows: [{ rate_id: rate }],
    } = await db.owner.query('select rate_id from app_public.spots where external_id = $1', [rows[0]['Meter Number']]);
    await db.owner.query('delete from app_public.rate_hours where rate_id = $1', [rate]);
    await db.owner.query(
      `insert into app_public.rate_hours (rate_id, isodow, opens, closes) values ($1, 1, '00:00', '24:00')`,
      [rate],
    );
    // Action
    const summary = await importSpots(db.owner, SEED_FILE);
    // Assertions
    assert.is(summary.rejected, 0);
    const { rows: hours } = await db.owner.query(
      `select isodow, opens::text, closes::text from app_public.rate_hours where rate_id = $1`,
      [rate],
    );
    assert.equal(hours, [{ isodow: 1, opens: '00:00:00', closes: '24:00:00' }]);
  },
);

spots('the import function is not callable by the API roles', async () => {
  const {
    rows: [r],
  } = await db.owner.query(`
    select has_function_privilege('app_anonymous', 'app_private.spots_import(jsonb)', 'execute') as anon,
           has_function_privilege('app_user', 'app_private.spots_import(jsonb)', 'execute') as usr,
           has_function_privilege('app_operator', 'app_private.spots_import(jsonb)', 'execute') as op`);
  assert.equal(r, { anon: false, usr: false, op: false });
});

csv.run();
spots.run();
