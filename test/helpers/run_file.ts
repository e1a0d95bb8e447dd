// One test file in a process of its own, judged by the runner's rules: it
// passes only when it ran at least one test, every test passed, none was
// skipped (a `test.only` or `test.skip` left in) and it exited cleanly.

import { spawn } from 'node:child_process';

export interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  output: string;
  ms: number;
}

const HOOK_ERRORS = new URL('./uvu_hook_errors.ts', import.meta.url).pathname;
const TIMEOUT_MS = 240_000;
// A browser file starts the whole product and Chromium, and builds the web app: give it longer.
const BROWSER_TIMEOUT_MS = 480_000;
// TEST_FILE_TIMEOUT_S replaces both: `npm run test:reliability`'s soak alone runs ten minutes.
const TIMEOUT_OVERRIDE_MS = Number(process.env.TEST_FILE_TIMEOUT_S ?? 0) * 1000;

export function runFile(file: string, env: NodeJS.ProcessEnv): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', HOOK_ERRORS, file], {
      env: { ...process.env, ...env, NO_COLOR: '1' },
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    // A file that hangs (an unclosed server) counts as failed rather than stalling CI.
    const limit =
      TIMEOUT_OVERRIDE_MS > 0
        ? TIMEOUT_OVERRIDE_MS
        : /\/web_[^/]*\.test\.ts$/.test(file)
          ? BROWSER_TIMEOUT_MS
          : TIMEOUT_MS;
    const timer = setTimeout(() => {
      output += `\n[runner] timed out after ${limit / 1000} s`;
      child.kill('SIGKILL');
    }, limit);
    child.on('close', (code) => {
      clearTimeout(timer);
      const verdict = judge(output, code);
      resolve({
        file,
        ...verdict,
        output: verdict.note ? `${output}\n[runner] ${verdict.note}` : output,
        ms: Date.now() - started,
      });
    });
  });
}

/** Counts from uvu's summary and the exit code; `note` says why the runner added failures. */
export function judge(
  output: string,
  exitCode: number | null,
): { passed: number; failed: number; skipped: number; note?: string } {
  const num = (label: string) => Number(output.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped');
  if (Number.isNaN(total) || Number.isNaN(passed) || Number.isNaN(skipped)) {
    return {
      passed: 0,
      failed: 1,
      skipped: 0,
      note: 'no uvu summary: the file crashed, hung or never called test.run()',
    };
  }
  const failed = total - passed;
  if (total + skipped === 0) return { passed, failed: 1, skipped, note: 'the file ran no test' };
  if (skipped > 0)
    return {
      passed,
      failed: failed + skipped,
      skipped,
      note: `${skipped} test(s) skipped: a test.only or test.skip is left in`,
    };
  if (exitCode !== 0 && failed === 0)
    return { passed, failed: 1, skipped, note: `exit code ${exitCode} although every test passed` };
  return { passed, failed, skipped };
}
