// Where the web app (the SPA) is: emailed links and OAuth redirects lead there,
// and its origins are the ones CORS lets in. Read by the API, the worker's
// emails and the CLI alike.

import { urlVar } from './env.ts';

const DEFAULT_CORS_ORIGINS = 'http://127.0.0.1:5173,http://localhost:5173';

/** Origins allowed by CORS (CORS_ORIGINS, comma-separated). */
export function corsOriginsOf(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.CORS_ORIGINS ?? DEFAULT_CORS_ORIGINS).split(',').filter(Boolean);
}

/** The web app's address, which emailed links (verification, manage, pay) point at. */
export function webUrlOf(env: NodeJS.ProcessEnv = process.env): string {
  return urlVar(env, 'WEB_URL', corsOriginsOf(env)[0] ?? 'http://localhost:5173').replace(/\/+$/, '');
}
