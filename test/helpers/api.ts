// The real API (Express + PostGraphile) on an ephemeral port, against a test database.
import { makeApp, listen, type AppHandle } from '../../server/app.ts';
import { loadConfig, type ServerConfig } from '../../server/config.ts';
import { createTestDb, type TestDb } from './db.ts';

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export interface TestApi {
  url: string;
  handle: AppHandle;
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

export async function startApi(db: TestDb, overrides: Partial<ServerConfig> = {}): Promise<TestApi> {
  process.env.GRAPHILE_ENV ??= 'development';
  const config = loadConfig(process.env, { db: db.urls, port: 0, isDev: false, ...overrides });
  const handle = await makeApp(config);
  const port = await listen(handle, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  // The port is known only now; OAuth callbacks are built from publicUrl at request time.
  if (!overrides.publicUrl) config.publicUrl = url;
  return {
    url,
    handle,
    async gql(query, variables = {}, headers = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: GraphQLResponse['errors'] };
      return { status: res.status, ...body };
    },
    close: () => handle.close(),
  };
}

/** A test file's own database and the API on it, for its test.before (closeAll them in test.after). */
export async function startDbAndApi(
  file: string,
  overrides: Partial<ServerConfig> = {},
): Promise<{ db: TestDb; api: TestApi }> {
  const db = await createTestDb(file);
  return { db, api: await startApi(db, overrides) };
}

/** Closes what a test file started, in the order given, skipping what never started. */
export async function closeAll(...started: Array<{ close(): Promise<unknown> } | undefined>): Promise<void> {
  for (const s of started) await s?.close();
}
