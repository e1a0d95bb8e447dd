// README's error table and the codes the API passes through are the same list.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_CODES } from '../server/error_codes.ts';

test('README lists exactly the codes in server/error_codes.ts', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('## Errors');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const listed = [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
  assert.equal([...listed].sort(), Object.keys(ERROR_CODES).sort());
});

test.run();
