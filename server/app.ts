// Assembles the HTTP server. Each install* adds one concern; reading this list
// tells what the server does.
import { createServer, type Server, type ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import type { ServerConfig } from './config.ts';
import { installRequestLog } from './middleware/installRequestLog.ts';
import { installSecurityHeaders } from './middleware/installSecurityHeaders.ts';
import { installDatabasePools } from './middleware/installDatabasePools.ts';
import { installMetrics } from './middleware/installMetrics.ts';
import { installHealth } from './middleware/installHealth.ts';
import { installApiDocs } from './middleware/installApiDocs.ts';
import { installCors } from './middleware/installCors.ts';
import { installCookies } from './middleware/installCookies.ts';
import { installRequestSettings } from './middleware/installRequestSettings.ts';
import { installSession } from './middleware/installSession.ts';
import { installCsrf } from './middleware/installCsrf.ts';
import { installAuthRoutes } from './middleware/installAuthRoutes.ts';
import { installOAuthRoutes } from './middleware/installOAuthRoutes.ts';
import { installStripeWebhook } from './middleware/installStripeWebhook.ts';
import { installLiveEvents } from './middleware/installLiveEvents.ts';
import { installPostGraphile } from './middleware/installPostGraphile.ts';
import { installCustomerPhotos } from './middleware/installCustomerPhotos.ts';
import { installWebApp } from './middleware/installWebApp.ts';
import { installErrorHandler } from './middleware/installErrorHandler.ts';

export interface AppHandle {
  app: Express;
  httpServer: Server;
  /** Stops accepting requests, lets those in flight finish (at most 10 s), then releases pools; once, however often called. */
  close(): Promise<void>;
}

export async function makeApp(config: ServerConfig): Promise<AppHandle> {
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY proxies: their X-Forwarded-For gives the client's address (clientAddress; rate limits use it).
  app.set('trust proxy', config.trustProxy);
  const httpServer = createServer(app);
  // Responses not yet finished, so that close() can tell their clients not to reuse the connection.
  const inFlight = new Set<ServerResponse>();
  httpServer.on('request', (_req, res: ServerResponse) => {
    if (closing) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const closers: Array<() => Promise<void>> = [];
  const onClose = (fn: () => Promise<void>) => closers.unshift(fn);
  let closing: Promise<void> | undefined;

  installRequestLog(app);
  installSecurityHeaders(app);
  installDatabasePools(app, config, onClose);
  installMetrics(app, config);
  installHealth(app);
  installApiDocs(app);
  installStripeWebhook(app, config);
  installCors(app, config);
  installCookies(app, config);
  installRequestSettings(app, config);
  installSession(app, config, onClose);
  installCsrf(app, config);
  installAuthRoutes(app, config);
  installOAuthRoutes(app, config);
  installLiveEvents(app, config, onClose);
  await installPostGraphile(app, httpServer, config, onClose);
  installCustomerPhotos(app, config, onClose);
  installWebApp(app, config);
  installErrorHandler(app);

  return {
    app,
    httpServer,
    close() {
      closing ??= drainAndClose(app, httpServer, inFlight, closers);
      return closing;
    },
  };
}

/** How long close() lets requests in flight finish before cutting their connections. */
const DRAIN_MS = 10_000;

/**
 * Stops accepting connections, ends long-lived streams at once (websockets,
 * SSE: app.locals.beforeClose), lets requests in flight finish — a booking's
 * answer and manage token must reach its client once its transaction
 * committed — closing each keep-alive connection as it goes idle, and cuts
 * what is left after DRAIN_MS. Then releases the pools, in reverse order of install.
 */
async function drainAndClose(
  app: Express,
  httpServer: Server,
  inFlight: Set<ServerResponse>,
  closers: Array<() => Promise<void>>,
): Promise<void> {
  for (const fn of (app.locals.beforeClose ?? []) as Array<() => void>) fn();
  // Answered with `Connection: close`: the client does not send another request on a closing connection.
  for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
  await new Promise<void>((resolve) => {
    const idle = setInterval(() => httpServer.closeIdleConnections(), 50);
    const cut = setTimeout(() => httpServer.closeAllConnections(), DRAIN_MS);
    httpServer.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    httpServer.closeIdleConnections();
  });
  for (const fn of closers) await fn();
}

export async function listen(handle: AppHandle, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    handle.httpServer.once('error', reject);
    handle.httpServer.listen(port, host, () => resolve());
  });
  const address = handle.httpServer.address();
  return typeof address === 'object' && address ? address.port : port;
}
