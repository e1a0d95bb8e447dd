// `npm run bench -- <name> [args]` runs bench/<name>.ts.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const dir = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
const file = name ? join(dir, `${name}.ts`) : '';
if (!name || !existsSync(file) || name === 'run' || name === 'helpers') {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !['run.ts', 'helpers.ts'].includes(f))
    .map((f) => f.slice(0, -3));
  console.error(`Usage: npm run bench -- <${names.join('|')}> [args]`);
  process.exit(2);
}
process.exit(spawnSync(process.execPath, [file, ...args], { stdio: 'inherit' }).status ?? 1);
