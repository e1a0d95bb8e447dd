// The web app's development server (Vite), as `npm start` runs it: serves
// web/ with hot reload and forwards the API's paths to the API, so the app,
// its session cookie and the emailed links (WEB_URL) share one origin.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');

/** Paths the API answers; everything else is the web app. */
const API_PATHS = [
  '^/graphql',
  '^/graphiql',
  '^/auth/',
  '^/health$',
  '^/ready$',
  '^/metrics$',
  '^/docs',
  '^/openapi\\.json$',
  '^/webhooks/',
  '^/live/',
  '^/customers/\\d+/photo',
];

export interface WebDevServer {
  url: string;
  close(): Promise<void>;
}

export async function startWebDevServer(options: {
  apiUrl: string;
  host: string;
  port: number;
}): Promise<WebDevServer> {
  const server = await createServer({
    root: WEB_DIR,
    configFile: join(WEB_DIR, 'vite.config.ts'),
    // Pre-bundled dependencies; tests give each stack its own folder so parallel servers never share one.
    cacheDir: process.env.WEB_CACHE_DIR,
    logLevel: 'warn',
    server: {
      host: options.host,
      port: options.port,
      strictPort: true,
      // As the API's own answers (server/middleware/installSecurityHeaders.ts): no other site may
      // frame the app's pages (a refund button under a decoy), nor sniff types, nor get the referrer.
      headers: {
        'Content-Security-Policy': "frame-ancestors 'none'",
        'X-Frame-Options': 'DENY',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      },
      // The Host header stays the web app's, so the API sees a same-origin request.
      proxy: Object.fromEntries(API_PATHS.map((path) => [path, { target: options.apiUrl, ws: true }])),
    },
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`,
    close: () => server.close(),
  };
}
