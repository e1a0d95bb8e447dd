// `npm run cli -- <command> [args]`: the ops and analyst CLI. A command `a:b`
// lives in cli/a__b.ts, whose default export receives the remaining arguments.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI_DIR = dirname(fileURLToPath(import.meta.url));
const [command, ...args] = process.argv.slice(2);

function commands(): string[] {
  return readdirSync(CLI_DIR)
    .filter((f) => /^[a-z]+__[a-z_]+\.ts$/.test(f))
    .map((f) => f.replace(/\.ts$/, '').replace('__', ':'))
    .sort();
}

const file = command && /^[a-z]+:[a-z_]+$/.test(command) ? join(CLI_DIR, `${command.replace(':', '__')}.ts`) : undefined;
if (!file || !existsSync(file)) {
  console.error(`Usage: npm run cli -- <command> [args]\nCommands: ${commands().join(', ')}`);
  process.exit(command ? 2 : 0);
}
const mod = await import(file) as { default?: (args: string[]) => Promise<void> | void };
if (typeof mod.default !== 'function') {
  console.error(`${command} is a helper module, not a command`);
  process.exit(2);
}
try {
  await mod.default(args);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
