// The OpenAPI document against the real server: every Express route is
// described, and every described operation answers a real request with one of
// its documented statuses and content types, its JSON body valid against the
// documented schema. POST /graphql's refusals (bad token, CSRF, CORS, a body
// it cannot take) and every route's answer to an oversized body are checked
// the same way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OPENAPI_DOCUMENT } from '../server/openapi.ts';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser, signInWithCookie, TEST_PASSWORD } from './helpers/auth.ts';
import { createUser } from './helpers/db.ts';
import { photoConfigFromEnv } from '../server/photos/config.ts';

const PHOTO_MAX_BYTES = 2048;
let db: TestDb;
let api: TestApi;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  // No built web app: its catch-all page route is not part of the HTTP API described here.
  // A small photo limit, so that an oversized upload is a small request.
  api = await startApi(db, {
    webDistDir: '',
    photos: photoConfigFromEnv({ PHOTO_MAX_BYTES: String(PHOTO_MAX_BYTES) }),
  });
});

test.after(async () => {
  await api?.close();
  await db?.close();
});

type Schema = { $ref?: string; [keyword: string]: unknown };
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const TYPES: Record<string, (v: unknown) => boolean> = {
  object: isObject,
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number',
  integer: Number.isInteger,
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
};
/** Keywords that assert nothing. */
const ANNOTATIONS = new Set(['description', 'format', 'title']);

/**
 * Where a value breaks a schema of this document (JSON Schema 2020-12, the
 * keywords the document uses). A keyword this does not check fails the test
 * rather than passing unchecked.
 */
function violations(schema: Schema, value: unknown, at = '$'): string[] {
  if (schema.$ref) return violations(resolve(schema), value, at);
  const out: string[] = [];
  for (const [keyword, arg] of Object.entries(schema) as Array<[string, any]>) {
    switch (keyword) {
      case 'type': {
        const types: string[] = Array.isArray(arg) ? arg : [arg];
        if (!types.some((t) => TYPES[t](value))) out.push(`${at}: not ${types.join(' or ')}`);
        break;
      }
      case 'required':
        if (isObject(value)) for (const f of arg) if (!Object.hasOwn(value, f)) out.push(`${at}.${f}: missing`);
        break;
      case 'properties':
        if (isObject(value))
          for (const [name, sub] of Object.entries(arg))
            if (Object.hasOwn(value, name)) out.push(...violations(sub as Schema, value[name], `${at}.${name}`));
        break;
      case 'items':
        if (Array.isArray(value))
          for (const [i, item] of value.entries()) out.push(...violations(arg, item, `${at}[${i}]`));
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < arg) out.push(`${at}: fewer than ${arg} items`);
        break;
      case 'enum':
        if (!arg.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not one of ${arg}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && value.length < arg) out.push(`${at}: shorter than ${arg}`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && value.length > arg) out.push(`${at}: longer than ${arg}`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(arg, 'u').test(value)) out.push(`${at}: does not match ${arg}`);
        break;
      default:
        if (!ANNOTATIONS.has(keyword)) throw new Error(`${at}: this test does not check the keyword ${keyword}`);
    }
  }
  return out;
}

/**
 * Asserts an answer of the operation `key` is documented: its status, its
 * content type, and a JSON body valid against that response's schema. Returns the body.
 */
async function assertDocumented(key: string, res: Response, label = key): Promise<any> {
  const operation = operations.find((o) => o.key === key);
  assert.ok(operation, `${key} is documented`);
  const documented = operation.op.responses[String(res.status)];
  assert.ok(documented, `${label} answered ${res.status}, documented: ${Object.keys(operation.op.responses)}`);
  const type = res.headers.get('content-type')?.split(';')[0];
  const body = await res.text();
  if (!documented.content) {
    assert.is(body, '', `${label} ${res.status} has no body`);
    return undefined;
  }
  assert.ok(type && documented.content[type], `${label} ${res.status}: ${type} is documented`);
  if (!/^application\/(.+\+)?json$/.test(type)) return body;
  const value = JSON.parse(body);
  assert.equal(
    violations(documented.content[type].schema, value),
    [],
    `${label} ${res.status} ${type}: ${body} fits the documented schema`,
  );
  return value;
}

/** The code of an error answer, in the REST shape or GraphQL's. */
const codeOf = (body: any): string | undefined => body?.error?.code ?? body?.errors?.[0]?.extensions?.code;

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

test('every sample answers with a documented status and content type, its body fitting the schema', async () => {
  const seen = new Set<string>();
  for (const [key, init] of SAMPLES) {
    const operation = operations.find((o) => o.key === key);
    assert.ok(operation, `${key} is documented`);
    seen.add(key);
    await assertDocumented(key, await fetch(`${api.url}${operation.path}`, { method: 'GET', ...init }));
  }
  assert.equal(
    operations.map((o) => o.key).filter((k) => !seen.has(k)),
    [],
    'operations without a sample',
  );
});

test("POST /graphql: each refusal answers in GraphQL's shape, with the status and schema the document gives", async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  const browser = await signInWithCookie(api, user.email);
  const query = JSON.stringify({ query: '{ __typename }' });
  const JSON_BODY = { 'content-type': 'application/json' };
  // GraphQL over HTTP: a document that does not parse or validate (or a subscription) is a 400 as
  // application/graphql-response+json, a 200 for a client that accepts only application/json.
  const invalid = (accept: string) => (accept === 'application/json' ? 200 : 400);
  const cases: Array<
    [string, number | ((accept: string) => number), string, RequestInit & { headers?: Record<string, string> }]
  > = [
    [
      'an unknown bearer token',
      401,
      'SMA15',
      { headers: { ...JSON_BODY, authorization: `Bearer ${'x'.repeat(40)}` }, body: query },
    ],
    [
      'an Authorization header that is no bearer token',
      401,
      'SMA15',
      { headers: { ...JSON_BODY, authorization: 'Basic eDp5' }, body: query },
    ],
    ['a foreign origin', 403, 'SMA18', { headers: { ...JSON_BODY, origin: 'https://evil.example' }, body: query }],
    [
      'the session cookie without X-CSRF-Token',
      403,
      'SMA14',
      { headers: { ...JSON_BODY, cookie: browser.cookie }, body: query },
    ],
    ['a body that does not parse', 400, 'BAD_REQUEST', { headers: JSON_BODY, body: '{"query":' }],
    [
      'a query that does not parse',
      invalid,
      'GRAPHQL_VALIDATION_FAILED',
      { headers: JSON_BODY, body: JSON.stringify({ query: '{ nope' }) },
    ],
    ['a batch', 400, 'SMQ05', { headers: JSON_BODY, body: `[${query}]` }],
    [
      'a query over a cost limit',
      invalid,
      'SMQ02',
      {
        headers: JSON_BODY,
        body: JSON.stringify({ query: `{ ${Array.from({ length: 21 }, (_, i) => `a${i}: __typename`).join(' ')} }` }),
      },
    ],
    [
      'a subscription',
      invalid,
      'SMV05',
      {
        headers: JSON_BODY,
        body: JSON.stringify({
          query: 'subscription { spotAvailability(lat: 40.7, lng: -74, radius: 1) { eventId } }',
        }),
      },
    ],
    ['a method other than POST', 405, 'BAD_REQUEST', { method: 'PUT', headers: JSON_BODY, body: query }],
    [
      'a form',
      415,
      'BAD_REQUEST',
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=x' },
    ],
    [
      'a JSON body over 100 kB',
      413,
      'BAD_REQUEST',
      { headers: JSON_BODY, body: JSON.stringify({ query: `{ __typename }${' '.repeat(200_000)}` }) },
    ],
    [
      'an application/graphql body over 100 kB',
      413,
      'BAD_REQUEST',
      { headers: { 'content-type': 'application/graphql' }, body: `{ __typename }${' '.repeat(200_000)}` },
    ],
  ];
  // What each Accept header gets: a GraphQL response either way (the type follows Accept).
  for (const accept of ['application/json', 'application/graphql-response+json', '*/*']) {
    for (const [what, status, code, init] of cases) {
      const label = `${what} (Accept: ${accept})`;
      const res = await fetch(`${api.url}/graphql`, {
        method: 'POST',
        ...init,
        headers: { ...init.headers, accept },
      });
      assert.is(res.status, typeof status === 'number' ? status : status(accept), label);
      const body = await assertDocumented('POST /graphql', res, label);
      assert.is(codeOf(body), code, `${label}: ${JSON.stringify(body)}`);
      assert.not.ok('error' in body, `${label}: no REST-shaped error`);
    }
  }
  const notAcceptable = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { ...JSON_BODY, accept: 'text/html' },
    body: query,
  });
  assert.is(notAcceptable.status, 406);
  assert.is(codeOf(await assertDocumented('POST /graphql', notAcceptable)), 'BAD_REQUEST');
});

test('an oversized body is answered 413 as documented, on every route that takes a body', async () => {
  const admin = await createSignedInUser(db, api, { role: 'admin', email: 'openapi-admin@example.com' });
  const {
    rows: [customer],
  } = await db.owner.query(
    `insert into app_public.customers (email, name, surname) values ('openapi-customer@example.com', 'Open', 'Api') returning id::text`,
  );
  const jsonOf = (bytes: number) => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'big@example.com', password: TEST_PASSWORD, pad: 'x'.repeat(bytes) }),
  });
  // [operation, path, request, code]: each past its route's limit.
  const cases: Array<[string, string, RequestInit, string]> = [
    ['POST /graphql', '/graphql', jsonOf(200_000), 'BAD_REQUEST'],
    ['POST /auth/register', '/auth/register', jsonOf(32_000), 'BAD_REQUEST'],
    ['POST /auth/login', '/auth/login', jsonOf(32_000), 'BAD_REQUEST'],
    ['POST /auth/logout', '/auth/logout', jsonOf(32_000), 'BAD_REQUEST'],
    [
      'POST /webhooks/stripe',
      '/webhooks/stripe',
      { headers: { 'stripe-signature': 't=1,v1=00', 'content-type': 'application/json' }, body: jsonOf(600_000).body },
      'BAD_REQUEST',
    ],
    [
      'POST /customers/{id}/photo',
      `/customers/${customer.id}/photo`,
      { headers: { 'content-type': 'image/png', ...admin.headers }, body: new Uint8Array(PHOTO_MAX_BYTES + 1) },
      'SMU01',
    ],
  ];
  for (const [key, path, init, code] of cases) {
    const res = await fetch(`${api.url}${path}`, { method: 'POST', ...init });
    assert.is(res.status, 413, key);
    const body = await assertDocumented(key, res);
    assert.is(codeOf(body), code, `${key}: ${JSON.stringify(body)}`);
    if (code === 'BAD_REQUEST') {
      assert.is(body.error?.message ?? body.errors?.[0]?.message, 'Request body too large', key);
    }
  }
  // Every operation that takes a body is tried, and no other claims a 413.
  const tried = new Set(cases.map(([key]) => key));
  assert.equal(
    operations
      .filter((o) => o.key.startsWith('POST ') || o.op.responses['413'])
      .map((o) => o.key)
      .filter((k) => !tried.has(k)),
    [],
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
