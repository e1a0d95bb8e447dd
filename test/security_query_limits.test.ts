// Query cost bounds (issue 9, item 3), in the layers README's *Limits* lists:
// validation before execution (depth SMQ01, aliases SMQ02, size SMQ03,
// introspection SMQ06), page sizes on every connection of the schema (SMQ04),
// one operation per request (SMQ05), grafserv's own refusals coded, the API
// role's statement_timeout, and explain only on request.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildSchema,
  getNamedType,
  GraphQLError,
  isNonNullType,
  isObjectType,
  type GraphQLField,
} from 'postgraphile/graphql';
import type { TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { createRate, createSpot, north } from './helpers/spots.ts';
import { maskError } from '../server/mask_error.ts';
import { QUERY_LIMITS } from '../server/query_limits.ts';

let db: TestDb;
let api: TestApi;
let dev: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  // What development runs: the IDE (and explain on request) and introspection on.
  dev = await startApi(db, { graphqlIde: true, graphqlIntrospection: true });
  const rateId = await createRate(db, { hourlyPrice: 300 });
  for (let i = 0; i < 120; i += 1) await createSpot(db, { lat: north(40.75, i * 20), lng: -73.99, rateId });
});

test.after(() => closeAll(dev, api, db));

const code = (res: any) => res.errors?.[0]?.extensions?.code;
const at = (h: number) => new Date(Date.now() + h * 3600e3).toISOString();

/** Sends a raw body to /graphql; returns status, headers and the parsed answer. */
async function raw(target: TestApi, body: string, headers: Record<string, string>, method = 'POST') {
  const res = await fetch(`${target.url}/graphql`, {
    method,
    headers: { accept: 'application/json', ...headers },
    body: method === 'GET' ? undefined : body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A query exactly `depth` fields deep: rates > nodes > spots > nodes > rate > spots > … > a leaf. */
function ofDepth(depth: number): string {
  const cycle = ['spots(first: 1)', 'nodes', 'rate'];
  const path = ['rates(first: 1)', 'nodes'];
  while (path.length < depth - 1) path.push(cycle[(path.length - 2) % 3]);
  const last = path[path.length - 1];
  let query = last.startsWith('spots') || last.startsWith('rates') ? 'totalCount' : 'rowId';
  for (const field of path.slice(0, depth - 1).reverse()) query = `${field} { ${query} }`;
  return `{ ${query} }`;
}

test("the issue's queries are refused before they run, while a trivial query still answers", async () => {
  // The nested query: 50 × 50 × 50 rows asked for.
  const nestedQuery = `{ spots(first: 50) { nodes { rate { spots(first: 50) { nodes { rate { spots(first: 50) { nodes { rowId description } } } } } } } } }`;
  // 600 aliased spotsNear, each a full search.
  // 600 aliased spotsNear, each a full search (the window defaults to the next hour), in under 100 kB.
  const aliased = `{ ${Array.from({ length: 600 }, (_, i) => `s${i}: spotsNear(lat: 40.75, lng: -73.99, radius: 50, first: 100) { nodes { distance } }`).join(' ')} }`;
  assert.ok(aliased.length < 100_000, `${aliased.length} bytes`);
  await api.gql('{ spots(first: 1) { totalCount } }'); // a warm API: the first request also builds caches
  for (const [label, query, expected] of [
    ['nested', nestedQuery, 'SMQ03'],
    ['600 aliases', aliased, 'SMQ02'],
  ] as const) {
    let ms = 0;
    const timed = async () => {
      const started = performance.now();
      const res = await api.gql(query);
      ms = performance.now() - started;
      return res;
    };
    const [refused, trivial] = await Promise.all([timed(), api.gql('{ spots(first: 1) { totalCount } }')]);
    assert.is(code(refused), expected, label);
    assert.is('data' in refused, false, `${label}: refused before execution (no data at all)`);
    // How long a refusal takes is a figure, not a verdict (timings are not pass/fail here).
    console.log(`${label}: refused in ${Math.round(ms)} ms`);
    assert.is(trivial.data.spots.totalCount, 120, `${label}: the concurrent query answered`);
  }
});

test('depth, aliases and size: the limit itself passes, one more is refused', async () => {
  // Depth: 10 answers, 11 is refused.
  const ten = await api.gql(ofDepth(QUERY_LIMITS.maxDepth));
  assert.equal(ten.errors, undefined, ofDepth(QUERY_LIMITS.maxDepth));
  assert.is(code(await api.gql(ofDepth(QUERY_LIMITS.maxDepth + 1))), 'SMQ01');
  // Aliases: 20 pass, 21 do not (__typename aliases count too).
  const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
  assert.equal((await api.gql(aliases(QUERY_LIMITS.maxAliases))).errors, undefined);
  assert.is(code(await api.gql(aliases(QUERY_LIMITS.maxAliases + 1))), 'SMQ02');
  // Fields, through a fragment used many times (expanded, so it counts each time).
  const fragment = `fragment F on Spot { ${Array.from({ length: 20 }, () => 'rowId lat lng').join(' ')} }`;
  const manyFields = `{ spots(first: 1) { nodes { ...F rate { spots(first: 1) { nodes { ...F rate { spots(first: 1) { nodes { ...F ...F ...F ...F } } } } } } } } } ${fragment}`;
  assert.is(code(await api.gql(manyFields)), 'SMQ03');
  // Rows: 100 + 100 × 19 = 2,000 is the most; 100 + 100 × 20 is refused.
  const rows = (inner: number) =>
    `{ spots(first: 100) { nodes { rate { spots(first: ${inner}) { nodes { rowId } } } } } }`;
  assert.is(code(await api.gql(rows(19))), undefined);
  assert.is(code(await api.gql(rows(20))), 'SMQ03');
});

/** A chain of `levels` fragments, each spreading the next one twice, ending in `leaf` on Query. */
function fragmentChain(levels: number, leaf: string): string {
  const chain = Array.from({ length: levels }, (_, i) => `fragment A${i} on Query { ...A${i + 1} ...A${i + 1} }`);
  return `query { ...A0 } ${chain.join(' ')} fragment A${levels} on Query { ${leaf} }`;
}

test('fragments count as expanded, without being expanded: a spread chain doubling 60 times (2^60 fields) is refused at once', async () => {
  // As expanded: 2^7 = 128 fields pass, 2^8 = 256 are more than 250.
  assert.is(code(await api.gql(fragmentChain(7, '__typename'))), undefined);
  assert.is(code(await api.gql(fragmentChain(8, '__typename'))), 'SMQ03');
  // Aliases and depth through spreads: 2^4 = 16 aliases pass, 2^5 = 32 do not.
  assert.is(code(await api.gql(fragmentChain(4, 'a: __typename'))), undefined);
  assert.is(code(await api.gql(fragmentChain(5, 'a: __typename'))), 'SMQ02');
  // Rows multiply through a fragment as they do inline: 100 + 100 × 19 pass, 100 + 100 × 20 do not.
  const rowsVia = (inner: number) =>
    `{ spots(first: 100) { nodes { ...R } } } fragment R on Spot { rate { spots(first: ${inner}) { nodes { rowId } } } }`;
  assert.is(code(await api.gql(rowsVia(19))), undefined);
  assert.is(code(await api.gql(rowsVia(20))), 'SMQ03');
  // Expanding this one would never end (each level doubles the work); measured once per
  // fragment it is refused like any other, and the server keeps answering.
  const [huge, health] = await Promise.all([api.gql(fragmentChain(60, '__typename')), api.gql('{ __typename }')]);
  assert.is(code(huge), 'SMQ03');
  assert.equal(health.data, { __typename: 'Query' });
});

/** Every connection field of the Query type, read from the committed SDL (what clients see). */
function rootConnections(): Array<GraphQLField<unknown, unknown>> {
  const schema = buildSchema(readFileSync(new URL('../data/schema.graphql', import.meta.url), 'utf8'));
  const fields = Object.values(schema.getQueryType()!.getFields());
  return fields.filter((f) => {
    const type = getNamedType(f.type);
    return isObjectType(type) && 'pageInfo' in type.getFields() && f.args.some((a) => a.name === 'first');
  });
}

/** Values for a field's required arguments that are well formed (the page size is checked first anyway). */
function requiredArgs(field: GraphQLField<unknown, unknown>): string {
  const sample: Record<string, string> = {
    BigInt: '"1"',
    Float: '1',
    Int: '1',
    String: '"x"',
    Datetime: `"${at(1)}"`,
    Boolean: 'true',
  };
  return field.args
    .filter((a) => isNonNullType(a.type))
    .map((a) => `${a.name}: ${sample[getNamedType(a.type).name] ?? '"1"'}`)
    .join(', ');
}

test('every connection of the schema: first/last past 0…100 and a negative offset are SMQ04, literal or variable; none given reads 100', async () => {
  const connections = rootConnections();
  assert.ok(connections.length >= 8, `found ${connections.map((c) => c.name)}`);
  const driver = await createSignedInUser(db, api);
  const wrong: string[] = [];
  for (const field of connections) {
    const extra = requiredArgs(field);
    const call = (page: string) => `${field.name}(${[extra, page].filter(Boolean).join(', ')}) { totalCount }`;
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ['first: -1', `{ ${call('first: -1')} }`, {}],
      ['first: 101', `{ ${call('first: 101')} }`, {}],
      ['first: $n = 1000', `query ($n: Int) { ${call('first: $n')} }`, { n: 1000 }],
      ['offset: -1', `{ ${call('offset: -1')} }`, {}],
      ...(field.args.some((a) => a.name === 'last')
        ? [['last: 101', `{ ${call('last: 101')} }`, {}] as [string, string, Record<string, unknown>]]
        : []),
    ];
    for (const [label, query, variables] of cases) {
      const res = await api.gql(query, variables, driver.headers);
      if (code(res) !== 'SMQ04')
        wrong.push(`${field.name} ${label}: ${res.status} ${JSON.stringify(res.errors ?? res.data)}`);
    }
    const ok = await api.gql(`{ ${call('first: 100')} }`, {}, driver.headers);
    if (ok.errors?.some((e) => e.extensions?.code === 'SMQ04')) wrong.push(`${field.name} first: 100 refused`);
  }
  assert.equal(wrong, []);
  // No page size given: 100 rows, and pageInfo says there are more.
  const all = await api.gql('{ spots { totalCount pageInfo { hasNextPage } nodes { rowId } } }');
  assert.equal(
    [all.data.spots.totalCount, all.data.spots.nodes.length, all.data.spots.pageInfo.hasNextPage],
    [120, 100, true],
  );
  // Nested connections are bounded too.
  assert.is(code(await api.gql('{ rates(first: 1) { nodes { spots(first: 500) { totalCount } } } }')), 'SMQ04');
});

test('a document nested too deep to parse is SMQ01, whatever nests; braces in strings and comments do not count', async () => {
  const levels = 6000;
  const documents = {
    fields: `${'{ a '.repeat(levels)}${'}'.repeat(levels)}`,
    lists: `{ spot(rowId: ${'['.repeat(levels)}1${']'.repeat(levels)}) { rowId } }`,
    'input objects': `{ spot(rowId: ${'{ a: '.repeat(levels)}1${'}'.repeat(levels)}) { rowId } }`,
  };
  for (const [what, query] of Object.entries(documents)) {
    const res = await raw(api, JSON.stringify({ query }), { 'content-type': 'application/json' });
    assert.is(res.body.errors[0].extensions.code, 'SMQ01', what);
    assert.match(res.body.errors[0].message, /nests more than 64 levels/, what);
  }
  // Only the document's own nesting counts: the same characters inside a comment, a string or a
  // block string reach the resolver (refused there for a visitor, SMC01: the document was read).
  const inside = '{['.repeat(levels);
  for (const query of [
    `# ${inside}\n{ __typename }`,
    `{ searchCustomers(query: "${inside}") { totalCount } }`,
    `{ searchCustomers(query: """${inside} \\""" }""") { totalCount } }`,
  ]) {
    const res = await api.gql(query);
    assert.is.not(code(res), 'SMQ01', query.slice(0, 40));
    assert.ok(code(res) === undefined || code(res) === 'SMC01', `${query.slice(0, 40)}: ${code(res)}`);
  }
});

test("one operation per request: a batch is SMQ05; grafserv's own refusals carry a code", async () => {
  const batch = await raw(api, JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]), {
    'content-type': 'application/json',
  });
  assert.equal([batch.status, batch.body.errors[0].extensions.code], [400, 'SMQ05']);
  const form = await raw(api, 'query=%7B__typename%7D', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal([form.status, form.body.errors[0].extensions.code], [415, 'BAD_REQUEST']);
  const notString = await raw(api, JSON.stringify({ query: 42 }), { 'content-type': 'application/json' });
  assert.equal([notString.status, notString.body.errors[0].extensions.code], [400, 'BAD_REQUEST']);
  const get = await raw(api, '', {}, 'GET');
  assert.equal([get.status, get.body.errors[0].extensions.code], [405, 'BAD_REQUEST']);
  const malformed = await raw(api, '{"query": ', { 'content-type': 'application/json' });
  assert.equal([malformed.status, malformed.body.errors[0].extensions.code], [400, 'BAD_REQUEST']);
  // application/graphql bodies are measured like JSON ones.
  const deep = await raw(api, ofDepth(12), { 'content-type': 'application/graphql' });
  assert.is(deep.body.errors[0].extensions.code, 'SMQ01');
});

test('introspection and explain: off in production, on in development, explain only when asked', async () => {
  const INTROSPECT = '{ __schema { queryType { name } } }';
  assert.is(code(await api.gql(INTROSPECT)), 'SMQ06');
  assert.is(code(await api.gql('{ __type(name: "Spot") { name } }')), 'SMQ06');
  assert.equal((await api.gql('{ __typename }')).data, { __typename: 'Query' }, '__typename is not introspection');
  assert.equal((await dev.gql(INTROSPECT)).data, { __schema: { queryType: { name: 'Query' } } });
  // Explain: never in production; in development only with the IDE's header.
  const SEARCH = '{ spots(first: 1) { nodes { rowId } } }';
  const explained = async (target: TestApi, headers: Record<string, string>) => {
    const res = await raw(target, JSON.stringify({ query: SEARCH }), {
      'content-type': 'application/json',
      ...headers,
    });
    return res.body.extensions?.explain !== undefined;
  };
  assert.is(await explained(api, { 'x-postgraphile-explain': 'on' }), false, 'production ignores the header');
  assert.is(await explained(dev, {}), false, 'development without the header');
  assert.is(await explained(dev, { 'x-postgraphile-explain': 'on' }), true, 'development with the header');
  // The IDE: off in production.
  assert.is((await fetch(`${api.url}/graphiql`, { headers: { accept: 'text/html' } })).status, 404);
  assert.is((await fetch(`${dev.url}/graphiql`, { headers: { accept: 'text/html' } })).status, 200);
});

/** A setting as provisioning stores it on the API's login role, and as a fresh API connection runs with it. */
async function apiRoleSetting(name: string): Promise<{ stored: string[]; seen: string }> {
  const {
    rows: [role],
  } = await db.owner.query(
    `select setconfig from pg_db_role_setting where setrole = 'app_authenticator'::regrole and setdatabase = 0`,
  );
  const {
    rows: [seen],
  } = await db.auth.query(`show ${name}`);
  return { stored: role.setconfig, seen: seen[name] };
}

test("statement_timeout: 15 s on the API's login role, and a cancelled statement is answered 57014 with the documented message", async () => {
  const timeout = await apiRoleSetting('statement_timeout');
  assert.ok(timeout.stored.includes('statement_timeout=15s'), JSON.stringify(timeout.stored));
  assert.is(timeout.seen, '15s', 'a fresh API connection runs with it');
  const cancelled = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
  const masked = maskError(new GraphQLError('x', { originalError: cancelled }));
  assert.equal(
    [masked.extensions.code, masked.message],
    ['57014', 'The request ran longer than the database allows (15 s) and was cancelled; nothing was changed.'],
  );
});

test("log_min_error_statement: a refusal's statement text stays out of PostgreSQL's log for the API's login role", async () => {
  const statement = await apiRoleSetting('log_min_error_statement');
  assert.ok(statement.stored.includes('log_min_error_statement=panic'), JSON.stringify(statement.stored));
  assert.is(statement.seen, 'panic', 'a fresh API connection runs with it');
  // The ERROR line itself is still written (a deadlock keeps its detail).
  const messages = await apiRoleSetting('log_min_messages');
  assert.ok(['warning', 'notice', 'info', 'debug1', 'error'].includes(messages.seen), messages.seen);
});

test.run();
