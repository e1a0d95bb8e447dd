// The client address reaches SQL for every request shape (issue 9, item 4;
// issue 18, item 8): JSON and application/graphql bodies, a mutation picked by
// operationName from a document that starts with a query, signed-in requests,
// and X-Forwarded-For only behind TRUST_PROXY. A batch is refused (SMQ05) and
// counts nothing, so no shape moves a per-address bucket without being counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser, TEST_PASSWORD } from './helpers/auth.ts';
import { createRate, createSpot } from './helpers/spots.ts';

let db: TestDb;
let api: TestApi;
let proxied: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  proxied = await startApi(db, { trustProxy: 1 });
});

test.after(() => closeAll(proxied, api, db));

const hits = async (bucket: string, key: string) =>
  (
    await db.owner.query(
      'select coalesce((select hits from app_private.rate_limits where bucket = $1 and key = $2), 0)::int as n',
      [bucket, key],
    )
  ).rows[0].n as number;

type Shape = (
  target: TestApi,
  query: string,
  headers?: Record<string, string>,
) => Promise<{ status: number; body: any }>;

async function send(target: TestApi, body: string, contentType: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/json', ...headers },
    body,
  });
  return { status: res.status, body: await res.json() };
}

/** The same mutation in every body shape /graphql takes. */
const SHAPES: Record<string, Shape> = {
  'application/json': (t, q, h) => send(t, JSON.stringify({ query: q }), 'application/json', h),
  'application/json; charset=utf-8': (t, q, h) =>
    send(t, JSON.stringify({ query: q }), 'application/json; charset=utf-8', h),
  'application/graphql': (t, q, h) => send(t, q, 'application/graphql', h),
  'a query first, the mutation chosen by operationName': (t, q, h) =>
    send(
      t,
      JSON.stringify({
        query: `query First { __typename } mutation Second ${q.replace(/^mutation/, '')}`,
        operationName: 'Second',
      }),
      'application/json',
      h,
    ),
};

test('every body shape carries the client address into SQL: forgotPassword, register and login count per address', async () => {
  await db.owner.query('delete from app_private.rate_limits');
  let n = 0;
  for (const [label, shape] of Object.entries(SHAPES)) {
    n += 1;
    const before = {
      reset: await hits('reset_ip', '127.0.0.1'),
      register: await hits('register_ip', '127.0.0.1'),
      login: await hits('login_ip', '127.0.0.1'),
    };
    const forgot = await shape(
      api,
      `mutation { forgotPassword(input: { email: "nobody${n}@example.com" }) { result } }`,
    );
    assert.equal(forgot.body.data, { forgotPassword: { result: true } }, label);
    const register = await shape(
      api,
      `mutation { register(input: { email: "shape${n}@example.com", name: "Shape", password: "${TEST_PASSWORD}" }) { result { userId } } }`,
    );
    assert.ok(register.body.data?.register?.result?.userId, `${label}: ${JSON.stringify(register.body)}`);
    const login = await shape(
      api,
      `mutation { login(input: { email: "shape${n}@example.com", password: "wrong wrong wrong" }) { token } }`,
    );
    assert.is(login.body.errors?.[0]?.extensions?.code, 'SMA01', label);
    assert.equal(
      {
        reset: await hits('reset_ip', '127.0.0.1'),
        register: await hits('register_ip', '127.0.0.1'),
        login: await hits('login_ip', '127.0.0.1'),
      },
      { reset: before.reset + 1, register: before.register + 1, login: before.login + 1 },
      label,
    );
  }
});

test('a per-address limit holds for every shape: with the bucket full, each shape is refused SMA02 and writes nothing', async () => {
  await db.owner.query('delete from app_private.rate_limits');
  await db.owner.query(
    `insert into app_private.rate_limits (bucket, key, window_start, hits) values ('reset_ip', '127.0.0.1', now(), 20)`,
  );
  for (const [label, shape] of Object.entries(SHAPES)) {
    const res = await shape(api, `mutation { forgotPassword(input: { email: "someone@example.com" }) { result } }`);
    assert.is(res.body.errors?.[0]?.extensions?.code, 'SMA02', label);
  }
  const {
    rows: [e],
  } = await db.owner.query(`select count(*)::int as n from app_private.emails where template = 'password_reset'`);
  assert.is(e.n, 0);
});

test('a batch is refused whole (SMQ05) and counts nothing: it cannot run mutations past the limits', async () => {
  await db.owner.query('delete from app_private.rate_limits');
  const batch = Array.from({ length: 30 }, (_, i) => ({
    query: `mutation { forgotPassword(input: { email: "batch${i}@example.com" }) { result } }`,
  }));
  const res = await send(api, JSON.stringify(batch), 'application/json');
  assert.equal([res.status, res.body.errors[0].extensions.code], [400, 'SMQ05']);
  assert.is(await hits('reset_ip', '127.0.0.1'), 0);
});

test('an oversized body is refused 413 BAD_REQUEST "Request body too large" in every shape, and counts nothing', async () => {
  await db.owner.query('delete from app_private.rate_limits');
  const big = `mutation { forgotPassword(input: { email: "big@example.com" }) { result } } # ${'x'.repeat(200_000)}`;
  for (const [name, body, type] of [
    ['application/json', JSON.stringify({ query: big }), 'application/json'],
    ['application/graphql', big, 'application/graphql'],
  ] as const) {
    const res = await send(api, body, type);
    assert.is(res.status, 413, name);
    assert.equal(
      [res.body.errors?.[0]?.extensions?.code, res.body.errors?.[0]?.message],
      ['BAD_REQUEST', 'Request body too large'],
      name,
    );
  }
  assert.is(await hits('reset_ip', '127.0.0.1'), 0);
});

test('TRUST_PROXY: the forwarded address is the key for every shape; without it X-Forwarded-For is ignored', async () => {
  await db.owner.query('delete from app_private.rate_limits');
  let n = 0;
  for (const [label, shape] of Object.entries(SHAPES)) {
    n += 1;
    const forwarded = `203.0.113.${n}`;
    await shape(proxied, `mutation { forgotPassword(input: { email: "fwd${n}@example.com" }) { result } }`, {
      'x-forwarded-for': forwarded,
    });
    assert.is(await hits('reset_ip', forwarded), 1, `${label}: counted for the forwarded address`);
    await shape(api, `mutation { forgotPassword(input: { email: "spoof${n}@example.com" }) { result } }`, {
      'x-forwarded-for': forwarded,
    });
    assert.is(await hits('reset_ip', forwarded), 1, `${label}: an untrusted header moved nothing`);
    assert.is(await hits('reset_ip', '127.0.0.1'), n, `${label}: counted for the real peer instead`);
  }
  // Two proxies' worth of header: with TRUST_PROXY=1 the address one hop back is the client's.
  await SHAPES['application/json'](
    proxied,
    'mutation { forgotPassword(input: { email: "chain@example.com" }) { result } }',
    { 'x-forwarded-for': '198.51.100.66, 203.0.113.200' },
  );
  assert.is(await hits('reset_ip', '203.0.113.200'), 1);
  assert.is(await hits('reset_ip', '198.51.100.66'), 0, 'a client-written hop further back is not trusted');
  // A forwarded entry that is no address must not mean "no address" (every per-address limit skipped).
  const peer = await hits('reset_ip', '127.0.0.1');
  await SHAPES['application/graphql'](
    proxied,
    'mutation { forgotPassword(input: { email: "junk@example.com" }) { result } }',
    { 'x-forwarded-for': 'not-an-address' },
  );
  assert.is(await hits('reset_ip', '127.0.0.1'), peer + 1, 'counted for the peer');
});

test("signed-in requests carry the address too, in every shape: a driver's hold records where it came from", async () => {
  const driver = await createSignedInUser(db, proxied);
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: await createRate(db) });
  let n = 0;
  for (const [label, shape] of Object.entries(SHAPES)) {
    n += 1;
    const startsAt = new Date(Date.now() + (2 + n * 2) * 3600e3).toISOString();
    const res = await shape(
      proxied,
      `mutation { reserve(input: { spotId: "${spotId}", startsAt: "${startsAt}", durationMinutes: 30 }) { result { reservation { rowId } } } }`,
      { ...driver.headers, 'x-forwarded-for': `192.0.2.${n}` },
    );
    const id = res.body.data?.reserve?.result?.reservation?.rowId;
    assert.ok(id, `${label}: ${JSON.stringify(res.body)}`);
    const {
      rows: [o],
    } = await db.owner.query(
      'select host(client_ip) as ip from app_private.reservation_origins where reservation_id = $1',
      [id],
    );
    assert.is(o?.ip, `192.0.2.${n}`, label);
    // Cancelled, so the next shape's hold is not over the driver's limit of 3 (SMB12).
    const cancel = await proxied.gql(
      'mutation ($id: BigInt!) { cancelReservation(input: { reservationId: $id }) { result { reservation { status } } } }',
      { id },
      driver.headers,
    );
    assert.is(cancel.data?.cancelReservation?.result?.reservation?.status, 'cancelled', JSON.stringify(cancel));
  }
});

test.run();
