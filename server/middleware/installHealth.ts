// GET /health: 200 when the database answers, 503 otherwise. For load balancers.
import type { Express } from 'express';
import { ownerPoolOf } from './installDatabasePools.ts';

export function installHealth(app: Express): void {
  app.get('/health', async (_req, res) => {
    try {
      await ownerPoolOf(app).query('select 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'unavailable' });
    }
  });
}
