// The API's database pools. The owner pool serves the few things the server
// does outside GraphQL (readiness, metrics, session look-up, webhook inbox);
// other installs make their own with makePool (sessions, PostGraphile's
// app_authenticator pool). Every pool logs lost connections instead of
// crashing, is reported by /metrics, and is ended when the server closes.
import pg from 'pg';
import type { Express } from 'express';
import type { ServerConfig } from '../config.ts';
import { loggerFor } from '../../lib/logger.ts';

export function poolsOf(app: Express): Map<string, pg.Pool> {
  app.locals.pools ??= new Map<string, pg.Pool>();
  return app.locals.pools as Map<string, pg.Pool>;
}

export function makePool(
  app: Express,
  name: string,
  poolConfig: pg.PoolConfig,
  onClose: (fn: () => Promise<void>) => void,
): pg.Pool {
  const pool = new pg.Pool(poolConfig);
  const log = loggerFor('api').child({ pool: name });
  pool.on('error', (err) => log.error(`idle connection lost: ${err.message}`));
  pool.on('connect', (client) => client.on('error', (err) => log.warn(`connection lost: ${err.message}`)));
  poolsOf(app).set(name, pool);
  onClose(() => pool.end());
  return pool;
}

export function installDatabasePools(
  app: Express,
  config: ServerConfig,
  onClose: (fn: () => Promise<void>) => void,
): pg.Pool {
  return makePool(app, 'owner', { connectionString: config.db.owner, max: 4 }, onClose);
}

export function ownerPoolOf(app: Express): pg.Pool {
  return poolsOf(app).get('owner') as pg.Pool;
}
