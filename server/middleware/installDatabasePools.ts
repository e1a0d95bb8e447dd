// The owner pool, for the few things the server does outside GraphQL
// (health check, session look-up, webhook inbox). Requests' GraphQL work goes
// through PostGraphile's own app_authenticator pool.
import pg from 'pg';
import type { Express } from 'express';
import type { ServerConfig } from '../config.ts';
import { loggerFor } from '../../lib/logger.ts';

export function installDatabasePools(app: Express, config: ServerConfig, onClose: (fn: () => Promise<void>) => void): pg.Pool {
  const ownerPool = new pg.Pool({ connectionString: config.db.owner, max: 4 });
  ownerPool.on('error', (err) => loggerFor('api').error({ pool: 'owner' }, `idle connection lost: ${err.message}`));
  app.locals.ownerPool = ownerPool;
  onClose(() => ownerPool.end());
  return ownerPool;
}

export function ownerPoolOf(app: Express): pg.Pool {
  return app.locals.ownerPool as pg.Pool;
}
