// Everything the server reads from the environment, in one place.
import { dbUrls, type DbUrls } from '../cli/db__env.ts';

export interface ServerConfig {
  db: DbUrls;
  port: number;
  host: string;
  isDev: boolean;
  /** Public URL of the API, used in links that emails carry. */
  publicUrl: string;
  /** Origins allowed by CORS for the SPA. */
  corsOrigins: string[];
  /** Connections in the API's pool. */
  poolSize: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const port = Number(env.PORT ?? 5678);
  const host = env.HOST ?? '127.0.0.1';
  return {
    db: dbUrls(env),
    port,
    host,
    isDev: env.NODE_ENV !== 'production',
    publicUrl: env.PUBLIC_URL ?? `http://${host}:${port}`,
    corsOrigins: (env.CORS_ORIGINS ?? 'http://127.0.0.1:5173,http://localhost:5173').split(',').filter(Boolean),
    poolSize: Number(env.API_POOL_SIZE ?? 10),
    ...overrides,
  };
}
