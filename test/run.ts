// The test command's runner: migrates the template database once, then runs
// every test file in a process of its own (two at a time, one per core), and
// ends with the line `N passed, N failed, N skipped`.

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareTemplate } from './helpers/db.ts';

const TEST_DIR = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
const files = readdirSync(TEST_DIR)
  .filter((f) => f.endsWith('.test.ts') && (!filter || filter.test(f)))
  .sort()
  .map((f) => join(TEST_DIR, f));
const parallel = Number(process.env.TEST_PARALLEL ?? 2);

interface FileResult { file: string; passed: number; failed: number; skipped: number; output: string; ms: number }

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, NO_COLOR: '1', SMS_TEST_TEMPLATE_READY: '1', GRAPHILE_ENV: 'development' },
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    // A file that hangs (an unclosed server) counts as failed rather than stalling CI.
    const timer = setTimeout(() => { output += '\n[runner] timed out after 240 s'; child.kill('SIGKILL'); }, 240_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const num = (label: string) => Number(output.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      const ms = Date.now() - started;
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        // No summary: the file crashed before or while running its tests.
        resolve({ file, passed: 0, failed: 1, skipped: 0, output, ms });
      } else {
        const failed = total - passed + (code !== 0 && total === passed ? 1 : 0);
        resolve({ file, passed, failed, skipped: Number.isNaN(skipped) ? 0 : skipped, output, ms });
      }
    });
  });
}

await prepareTemplate();
const results: FileResult[] = [];
const queue = [...files];
await Promise.all(Array.from({ length: parallel }, async () => {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const result = await runFile(file);
    results.push(result);
    const name = relative(process.cwd(), file);
    const mark = result.failed > 0 ? 'FAIL' : 'ok  ';
    console.log(`${mark} ${name}  ${result.passed} passed, ${result.failed} failed (${(result.ms / 1000).toFixed(1)} s)`);
    if (result.failed > 0) console.log(result.output.replace(/^/gm, '    '));
  }
}));

const sum = (k: 'passed' | 'failed' | 'skipped') => results.reduce((n, r) => n + r[k], 0);
console.log(`${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
process.exit(sum('failed') > 0 ? 1 : 0);
