// The OpenAPI document against the real server: every Express route is
// described, and every described operation answers a real request with one of
// its documented statuses, content types and required fields.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OPENAPI_DOCUMENT } from '../server/openapi.ts';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { TEST_PASSWORD } from './helpers/auth.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  // No built web app: its catch-all page route is not part of the HTTP API described here.
  api = await startApi(db, { webDistDir: '' });
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

type Schema = { $ref?: string; required?: string[] };
type Operation = {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
};
const doc = OPENAPI_DOCUMENT as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, op })),
);

/** Express 5's routes: "METHOD /path" for every app.get/app.post/…. */
function expressRoutes(): string[] {
  const stack = (
    api.handle.app as unknown as {
      router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
    }
  ).router.stack;
  return stack.flatMap((layer) =>
    // Express writes a path parameter :id, OpenAPI {id}.
    layer.route
      ? Object.keys(layer.route.methods).map(
          (m) => `${m.toUpperCase()} ${layer.route?.path.replace(/:(\w+)/g, '{$1}')}`,
        )
      : [],
  );
}

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** At least one real request per documented operation (a new operation without one fails the last test). */
const SAMPLES: Array<[string, RequestInit]> = [
  ['GET /health', {}],
  ['GET /ready', {}],
  ['GET /metrics', {}],
  ['GET /openapi.json', {}],
  ['GET /docs', {}],
  ['POST /graphql', { method: 'POST', ...json({ query: '{ __typename }' }) }],
  ['POST /graphql', { method: 'POST', ...json({ query: '{ nope' }) }],
  [
    'POST /auth/register',
    { method: 'POST', ...json({ email: 'openapi@example.com', name: 'Open Api', password: TEST_PASSWORD }) },
  ],
  ['POST /auth/register', { method: 'POST', ...json({ email: 'not an email', name: 'X', password: TEST_PASSWORD }) }],
  ['POST /auth/login', { method: 'POST', ...json({ email: 'openapi@example.com', password: TEST_PASSWORD }) }],
  ['POST /auth/login', { method: 'POST', ...json({ email: 'openapi@example.com', password: 'wrong password!' }) }],
  ['POST /auth/logout', { method: 'POST' }],
  ['GET /auth/google', { redirect: 'manual' }],
  ['GET /auth/google/callback', { redirect: 'manual' }],
  ['GET /auth/facebook', { redirect: 'manual' }],
  ['GET /auth/facebook/callback', { redirect: 'manual' }],
  ['POST /customers/{id}/photo', { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' }],
  ['GET /customers/{id}/photo', {}],
  ['POST /webhooks/stripe', { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: '{}' }],
  ['GET /live/spots', {}], // no area: 400 SMV01 (a stream that answers 200 never ends)
];

function resolve(schema: Schema): Schema {
  return schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop() as string] : schema;
}

test('every Express route is documented with its method', () => {
  const documented = new Set(operations.map((o) => o.key));
  const routes = expressRoutes();
  assert.ok(routes.length >= 10, `found ${routes.length} routes`);
  assert.equal(
    routes.filter((r) => !documented.has(r)),
    [],
  );
});

test('every documented operation is served: an Express route, or GraphQL mounted by grafserv', () => {
  const routes = new Set(expressRoutes());
  assert.equal(
    operations.map((o) => o.key).filter((k) => !routes.has(k)),
    ['POST /graphql'],
  );
});

test('every sample answers with a documented status, content type and required fields', async () => {
  const seen = new Set<string>();
  for (const [key, init] of SAMPLES) {
    const operation = operations.find((o) => o.key === key);
    assert.ok(operation, `${key} is documented`);
    seen.add(key);
    const res = await fetch(`${api.url}${operation.path}`, { method: 'GET', ...init });
    const documented = operation.op.responses[String(res.status)];
    assert.ok(documented, `${key} answered ${res.status}, documented: ${Object.keys(operation.op.responses)}`);
    const type = res.headers.get('content-type')?.split(';')[0];
    const body = await res.text();
    if (!documented.content) {
      assert.is(body, '', `${key} ${res.status} has no body`);
      continue;
    }
    assert.ok(type && documented.content[type], `${key} ${res.status}: ${type} is documented`);
    if (type === 'application/json') {
      const value = JSON.parse(body);
      for (const field of resolve(documented.content[type].schema).required ?? []) {
        assert.ok(Object.hasOwn(value, field), `${key} ${res.status}: ${field} in ${body}`);
      }
    }
  }
  assert.equal(
    operations.map((o) => o.key).filter((k) => !seen.has(k)),
    [],
    'operations without a sample',
  );
});

test('/openapi.json is the document; /docs renders every operation without outside assets', async () => {
  assert.equal(await (await fetch(`${api.url}/openapi.json`)).json(), JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  const page = await (await fetch(`${api.url}/docs`)).text();
  for (const { path, op } of operations) {
    assert.ok(page.includes(`id="${op.operationId}"`), `${op.operationId} on the page`);
    assert.ok(page.includes(`<code>${path}</code>`), `${path} on the page`);
  }
  assert.not.match(page, /<script|src="http|href="http/);
});

test.run();
