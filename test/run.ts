// The test command's runner: migrates the template database once, then runs
// every test file in a process of its own (two at a time, one per core; the
// long ones first), and ends with the line `N passed, N failed, N skipped`
// and the time taken. A file
// that runs no test or skips any fails (test/helpers/run_file.ts): a suite that
// quietly stops running its tests proves nothing.

import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropTemplate, prepareTemplate } from './helpers/db.ts';
import { runFile, type FileResult } from './helpers/run_file.ts';

const TEST_DIR = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
// The files that take a minute or more (browsers, the whole product, fault schedules) start
// first, so that the run does not end with one lane busy on a long file and the other idle.
const LONG_FIRST = [/^web_(?!error_messages)/, /^reliability_/, /^spots_sync\./, /^stripe_rate_limits\./];
const rank = (f: string) => {
  const i = LONG_FIRST.findIndex((re) => re.test(f));
  return i === -1 ? LONG_FIRST.length : i;
};
const files = readdirSync(TEST_DIR)
  .filter((f) => f.endsWith('.test.ts') && (!filter || filter.test(f)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  .map((f) => join(TEST_DIR, f));
const parallel = Number(process.env.TEST_PARALLEL ?? 2);

const runStarted = Date.now();
const template = await prepareTemplate();
const results: FileResult[] = [];
const queue = [...files];
await Promise.all(
  Array.from({ length: parallel }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const result = await runFile(file, { SMS_TEST_TEMPLATE: template, GRAPHILE_ENV: 'development' });
      results.push(result);
      const name = relative(process.cwd(), file);
      const mark = result.failed > 0 ? 'FAIL' : 'ok  ';
      console.log(
        `${mark} ${name}  ${result.passed} passed, ${result.failed} failed (${(result.ms / 1000).toFixed(1)} s)`,
      );
      if (result.failed > 0) console.log(result.output.replace(/^/gm, '    '));
      // TEST_SHOW_OUTPUT=1 (npm run test:reliability): a passing file's printed figures too, without its JSON log lines.
      else if (process.env.TEST_SHOW_OUTPUT === '1') {
        const printed = result.output
          .split('\n')
          .map((line) => line.replace(/\{"level".*$/, '').trimEnd())
          .filter((line) => line.trim());
        console.log(printed.map((line) => `    ${line}`).join('\n'));
      }
    }
  }),
);

await dropTemplate();
const sum = (k: 'passed' | 'failed' | 'skipped') => results.reduce((n, r) => n + r[k], 0);
console.log(
  `${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped (${((Date.now() - runStarted) / 1000).toFixed(0)} s)`,
);
process.exit(sum('failed') > 0 ? 1 : 0);
