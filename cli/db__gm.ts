// `npm run cli -- db:gm <graphile-migrate args>`: graphile-migrate with this
// project's connection strings (db:status, db:commit, db:watch use it).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dbUrls, migrateEnv } from '../lib/db_urls.ts';

export default function main(args: string[]): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const res = spawnSync(join(root, 'node_modules', '.bin', 'graphile-migrate'), args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...migrateEnv(dbUrls()), PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` },
  });
  process.exitCode = res.status ?? 1;
}
