// GET /health: liveness — the process is up and serving HTTP; nothing else is
// checked, so an orchestrator restarts only a process that is really stuck.
// GET /ready: readiness — database, migrations and the GraphQL schema
// (lib/readiness.ts); 503 with the failing check while any is not ok, so a
// load balancer sends no traffic to this process.
import type { Express } from 'express';
import { checkReadiness } from '../../lib/readiness.ts';
import { ownerPoolOf } from './installDatabasePools.ts';

/** installPostGraphile calls this once the GraphQL schema is built and mounted. */
export function markGraphqlReady(app: Express): void {
  app.locals.graphqlReady = true;
}

export function installHealth(app: Express): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const { ready, checks } = await checkReadiness(ownerPoolOf(app), {
      graphql: app.locals.graphqlReady === true || 'schema not built yet',
    });
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
}
