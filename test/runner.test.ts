// The runner's verdict on a file (test/helpers/run_file.ts), run on real uvu
// files in test/fixtures/runner/: a file passes only when it ran tests and all
// of them passed; no test, a test.only or test.skip left in, a crash or a
// missing test.run() each count as failures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { runFile, type FileResult } from './helpers/run_file.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/runner/${name}.ts`, import.meta.url));

const EXPECTED: Array<[string, { passed: number; failed: number; skipped: number }, RegExp | undefined]> = [
  ['passing', { passed: 2, failed: 0, skipped: 0 }, undefined],
  ['failing', { passed: 1, failed: 1, skipped: 0 }, undefined],
  ['no_tests', { passed: 0, failed: 1, skipped: 0 }, /ran no test/],
  ['only', { passed: 1, failed: 2, skipped: 2 }, /test\.only or test\.skip/],
  ['skip', { passed: 1, failed: 1, skipped: 1 }, /test\.only or test\.skip/],
  ['crashes', { passed: 0, failed: 1, skipped: 0 }, /no uvu summary/],
  ['no_run', { passed: 0, failed: 1, skipped: 0 }, /no uvu summary/],
];

const results = new Map<string, FileResult>();
test.before(async () => {
  // The fixtures need no database: run them all at once.
  await Promise.all(
    EXPECTED.map(async ([name]) => {
      results.set(name, await runFile(fixture(name), {}));
    }),
  );
});

for (const [name, counts, note] of EXPECTED) {
  test(`${name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`, () => {
    const result = results.get(name)!;
    assert.equal({ passed: result.passed, failed: result.failed, skipped: result.skipped }, counts, result.output);
    if (note) assert.match(result.output, note);
    else assert.not.match(result.output, /\[runner\]/);
  });
}

test.run();
