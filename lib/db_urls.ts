// Where the databases are. Every connection string can come from the
// environment; the defaults fit a local PostgreSQL with trust authentication
// on 127.0.0.1:5432 (the Debian package's default), so a fresh machine needs none.
import { urlVar } from './env.ts';

const PG = ['postgres:', 'postgresql:'] as const;

export interface DbUrls {
  /** A superuser, connected to a maintenance database (never the app's). */
  root: string;
  /** app_owner: owns every object, runs migrations and the worker. */
  owner: string;
  /** Where graphile-migrate checks a commit before writing it. */
  shadow: string;
  /** app_authenticator: the API pool's login, which becomes a request's role. */
  authenticator: string;
  database: string;
}

export const DEFAULT_ROOT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url: string, database: string, user?: string, password?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user !== undefined) {
    u.username = user;
    u.password = password ?? '';
  }
  return u.toString();
}

export function dbUrls(env: NodeJS.ProcessEnv = process.env, database?: string): DbUrls {
  const root = urlVar(env, 'ROOT_DATABASE_URL', DEFAULT_ROOT_URL, PG);
  const ownerUrl = urlVar(env, 'DATABASE_URL', '', PG);
  const name = database ?? (ownerUrl ? new URL(ownerUrl).pathname.slice(1) : 'secure_my_spot');
  const ownerPassword = env.DATABASE_OWNER_PASSWORD ?? 'app_owner_dev';
  const authPassword = env.DATABASE_AUTHENTICATOR_PASSWORD ?? 'app_authenticator_dev';
  const owner = database === undefined && ownerUrl ? ownerUrl : withDatabase(root, name, 'app_owner', ownerPassword);
  return {
    root,
    owner,
    shadow:
      (database === undefined && urlVar(env, 'SHADOW_DATABASE_URL', '', PG)) || withDatabase(owner, `${name}_shadow`),
    authenticator:
      (database === undefined && urlVar(env, 'AUTH_DATABASE_URL', '', PG)) ||
      withDatabase(owner, name, 'app_authenticator', authPassword),
    database: name,
  };
}

/**
 * READ_DATABASE_URL: the API's login (app_authenticator) on a streaming replica
 * of the database, which serves anonymous search (server/read_routing.ts); null
 * when unset: every request goes to the primary.
 */
export function readDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string | null {
  return urlVar(env, 'READ_DATABASE_URL', '', PG) || null;
}

/** The variables graphile-migrate and graphile-worker read. */
export function migrateEnv(urls: DbUrls): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: urls.owner,
    SHADOW_DATABASE_URL: urls.shadow,
    ROOT_DATABASE_URL: urls.root,
  };
}
