// Mounts the GraphQL API (POST /graphql) and, in development, the Ruru IDE.
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import { postgraphile } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import { makePreset } from '../graphile.config.ts';
import { pgSettingsFor } from '../request_identity.ts';
import type { ServerConfig } from '../config.ts';
import { makePaymentConfigPlugin } from '../plugins/payment_config.ts';
import { makePaymentsPlugin } from '../plugins/payments.ts';
import { makeSignInProvidersPlugin } from '../plugins/sign_in_providers.ts';
import { markGraphqlReady } from './installHealth.ts';
import { makePool } from './installDatabasePools.ts';

/** The schema plugins that need this server's configuration (also used by `npm run db:schema`). */
export function configuredPlugins(config: ServerConfig): GraphileConfig.Plugin[] {
  return [makePaymentsPlugin(config.stripe), makePaymentConfigPlugin(config.stripe), makeSignInProvidersPlugin(config)];
}

export async function installPostGraphile(
  app: Express, httpServer: Server, config: ServerConfig, onClose: (fn: () => Promise<void>) => void,
): Promise<void> {
  const pool = makePool(app, 'graphql', { connectionString: config.db.authenticator, max: config.poolSize }, onClose);
  const pgl = postgraphile(makePreset({
    pool,
    rootUrl: config.db.root,
    isDev: config.isDev,
    ide: config.graphqlIde,
    introspection: config.graphqlIntrospection,
    pgSettings: pgSettingsFor,
    plugins: configuredPlugins(config),
  }));
  // Bodies parsed here, before grafserv (which uses req.body when present), so
  // pgSettingsFor can tell an anonymous mutation from a query. The limit is grafserv's.
  app.use('/graphql', express.json({ limit: '100kb' }));
  const serv = pgl.createServ(grafserv);
  await serv.addTo(app, httpServer);
  markGraphqlReady(app);
  onClose(async () => { await pgl.release(); });
}
