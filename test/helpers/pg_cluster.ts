// A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temp folder, on
// a port given by the caller), for tests that crash or replicate the database:
// the shared server must never be stopped. PostGIS comes with the Debian
// package. PostgreSQL refuses to run as root, so as root the tools run as the
// postgres user. The project's provisioning is then run against it with
// ROOT_DATABASE_URL (cli/main.ts db:migrate).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export interface Cluster {
  port: number;
  dir: string;
  rootUrl: string;
  /** `pg_ctl stop -m immediate` (a crash: no checkpoint, recovery at the next start) or `fast`. */
  stop(mode?: 'immediate' | 'fast'): void;
  start(): void;
  destroy(): void;
}

function asPostgres(cmd: string, args: string[]): string {
  const root = process.getuid?.() === 0;
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ownedByPostgres(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
}

function makeCluster(dir: string, port: number, settings: string[] = []): Cluster {
  const ctl = (args: string[]) => asPostgres(join(BIN, 'pg_ctl'), ['-D', dir, ...args]);
  const cluster: Cluster = {
    port,
    dir,
    rootUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: (mode = 'fast') => {
      ctl(['stop', '-m', mode, '-w']);
    },
    start: () => {
      ctl([
        'start',
        '-w',
        '-t',
        '60',
        '-l',
        join(dir, 'server.log'),
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on` +
          settings.map((s) => ` -c ${s}`).join(''),
      ]);
    },
    destroy: () => {
      spawnSync('runuser', ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), '-D', dir, 'stop', '-m', 'immediate'], {
        stdio: 'ignore',
      });
      rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
  return cluster;
}

/** A new cluster on `port` (trust authentication on 127.0.0.1), started, with extra `name=value` settings. */
export function createCluster(port: number, settings: string[] = []): Cluster {
  const parent = mkdtempSync(join(tmpdir(), 'sms-pg-'));
  ownedByPostgres(parent);
  const dir = join(parent, 'data');
  asPostgres(join(BIN, 'initdb'), [
    '-D',
    dir,
    '-U',
    'postgres',
    '--auth=trust',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  asPostgres('sh', ['-c', `echo "host replication all 127.0.0.1/32 trust" >> ${dir}/pg_hba.conf`]);
  const cluster = makeCluster(dir, port, settings);
  cluster.start();
  return cluster;
}

/** A streaming replica of `primary` on `port` (pg_basebackup -R), started. */
export function createReplica(primary: Cluster, port: number): Cluster {
  const parent = mkdtempSync(join(tmpdir(), 'sms-pg-replica-'));
  ownedByPostgres(parent);
  const dir = join(parent, 'data');
  asPostgres(join(BIN, 'pg_basebackup'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
    '-D',
    dir,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
  ]);
  const cluster = makeCluster(dir, port);
  cluster.start();
  return cluster;
}
