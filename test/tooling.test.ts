// The everyday tooling an operator or contributor relies on: the CLI lists
// exactly its real commands and explains each with --help; production code
// imports only production dependencies (so `npm ci --omit=dev` can serve,
// work and migrate); the repository's editor and runtime settings agree with
// the formatter's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { COMMANDS } from '../cli/commands.ts';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

function cli(...args: string[]) {
  const res = spawnSync(process.execPath, [join(ROOT, 'cli', 'main.ts'), ...args], { encoding: 'utf8' });
  return { status: res.status, out: res.stdout + res.stderr };
}

test('the command list names exactly the cli modules that are commands', async () => {
  // `a:b` lives in cli/a__b.ts; a one-word command (report) in cli/report.ts.
  const modules = readdirSync(join(ROOT, 'cli')).filter((f) => /^[a-z]+(__[a-z_]+)?\.ts$/.test(f));
  const runnable: string[] = [];
  for (const file of modules) {
    const source = readFileSync(join(ROOT, 'cli', file), 'utf8');
    if (/^export default /m.test(source)) runnable.push(file.replace(/\.ts$/, '').replace('__', ':'));
  }
  assert.equal(Object.keys(COMMANDS).sort(), runnable.sort());
  const list = cli();
  assert.is(list.status, 0);
  const listed = [...list.out.matchAll(/^ {2}([a-z]+(?::[a-z_]+)?) /gm)].map((m) => m[1]);
  assert.equal(listed.sort(), runnable.sort());
});

test('<command> --help prints its usage and exits 0; unknown commands exit 2', () => {
  const help = cli('user:create', '--help');
  assert.is(help.status, 0, help.out);
  assert.match(help.out, /^Usage: npm run cli -- user:create --email <email> --role /);
  assert.is(cli('db:env').status, 2, 'a helper module is not a command');
  assert.is(cli('nope:nope').status, 2);
});

/** Every .ts file under a folder, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

test('production code imports only production dependencies', () => {
  // The development entry points (npm start: mail sink and its front, emulator, web dev server; demo data) may use dev tools.
  const DEV_ONLY = new Set(['cli/start.ts', 'cli/mail_sink.ts', 'cli/web_dev_server.ts', 'cli/seed__generate.ts']);
  const folders = ['server', 'worker', 'tasks', 'cli', 'lib', 'emails'].filter((d) => {
    try {
      return statSync(join(ROOT, d)).isDirectory();
    } catch {
      return false;
    }
  });
  const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
  const offenders: string[] = [];
  for (const file of folders.flatMap((d) => tsFiles(join(ROOT, d)))) {
    const rel = relative(ROOT, file);
    if (DEV_ONLY.has(rel)) continue;
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/^\s*import [^'"]*['"]([^'".][^'"]*)['"]/gm)) {
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!allowed.has(name)) offenders.push(`${rel}: ${spec}`);
    }
  }
  assert.equal(offenders, []);
  // db:migrate is the ops path: it spawns these two binaries.
  assert.ok(pkg.dependencies['graphile-migrate'], 'graphile-migrate is a production dependency');
  assert.ok(pkg.dependencies['graphile-worker'], 'graphile-worker is a production dependency');
});

test('.nvmrc, engines and .editorconfig agree with the tooling', () => {
  const nvmrc = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim();
  assert.is(nvmrc, pkg.devDependencies.node.replace(/^\^/, '').split('.')[0]);
  // biome.jsonc without its comment lines is JSON.
  const biome = JSON.parse(readFileSync(join(ROOT, 'biome.jsonc'), 'utf8').replace(/^\s*\/\/.*$/gm, ''));
  const editorconfig = readFileSync(join(ROOT, '.editorconfig'), 'utf8');
  assert.is(biome.formatter.indentStyle, 'space');
  assert.match(editorconfig, new RegExp(`indent_size = ${biome.formatter.indentWidth}\\n`));
  assert.match(editorconfig, new RegExp(`max_line_length = ${biome.formatter.lineWidth}\\n`));
  assert.is(biome.javascript.formatter.quoteStyle, 'single');
  for (const script of ['start', 'api', 'worker', 'cli', 'db:migrate']) {
    assert.match(pkg.scripts[script], /^node --env-file-if-exists=\.env /, `${script} reads .env`);
  }
  assert.match(pkg.scripts.test, /npm run lint/);
});

test('git hooks come with npm ci: format staged files on commit, type-check on push', () => {
  // simple-git-hooks installs them from its postinstall script, which npm must be allowed to run.
  assert.ok(pkg.devDependencies['simple-git-hooks']);
  assert.is(pkg.allowScripts['simple-git-hooks'], true);
  const hooks = pkg['simple-git-hooks'];
  assert.match(hooks['pre-commit'], /biome format --write --staged/);
  assert.match(hooks['pre-push'], /npm run typecheck/);
  // Without node_modules (a fresh clone before npm ci) a hook steps aside instead of failing.
  for (const hook of Object.values(hooks) as string[]) assert.match(hook, /^test -x node_modules\/\.bin\//);
});

test.run();
