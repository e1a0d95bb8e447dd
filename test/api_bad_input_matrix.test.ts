// The bad-input matrix (issue 9): generated from the schema clients see
// (data/schema.graphql), every argument of every query and mutation — and every
// field of a mutation's input — is sent each bad value its type allows: the
// wrong type, numbers out of range, huge and NUL-laden strings, malformed and
// out-of-range dates, bad ids, enums, UUIDs and cursors. Over HTTP, as a signed-in
// admin (so the value reaches SQL rather than stopping at a permission check).
// Every answer must carry a documented code (never INTERNAL, never a 5xx), and
// nothing may be written. Then the issue's own list of inputs that ended INTERNAL.
import { test } from 'uvu';
import { committedSchema } from './helpers/committed_schema.ts';
import * as assert from 'uvu/assert';
import {
  getNamedType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  getNullableType,
} from 'postgraphile/graphql';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { writtenState } from './helpers/written_state.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { createReservation, startEmulator, stripeConfigFor } from './helpers/payments.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { ERROR_CODES } from '../server/error_codes.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;
let admin: Awaited<ReturnType<typeof createSignedInUser>>;
let spotId: string;
let held: Awaited<ReturnType<typeof createReservation>>;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  api = await startApi(db, { stripe: stripeConfigFor(emulator) });
  admin = await createSignedInUser(db, api, { role: 'admin' });
  spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: await createRate(db, { hourlyPrice: 400 }) });
  held = await createReservation(db, { spotId, startsIn: 180 });
});

test.after(async () => {
  await api?.close();
  await emulator?.close();
  await db?.close();
});

const DOCUMENTED = new Set([...Object.keys(ERROR_CODES).filter((c) => c !== 'INTERNAL'), 'BAD_REQUEST']);

const future = (h: number) => new Date(Date.now() + h * 3600e3).toISOString();
const HUGE = 'x'.repeat(50_000);

/** Bad values for a type, by its name: wrong types, out of range, huge, NUL, malformed. */
function badValues(type: GraphQLInputType): unknown[] {
  const named = getNamedType(type);
  if (isListType(getNullableType(type))) return ['not a list', { a: 1 }];
  if (isInputObjectType(named)) return ['not an object', 12, [1, 2]];
  if (isEnumType(named)) return ['NOT_A_VALUE', 1, 'a\u0000b'];
  switch (named.name) {
    case 'BigInt':
      return ['abc', '9223372036854775808', '-9223372036854775809', '1.5', '', { n: 1 }, 'a\u0000b'];
    case 'Int':
      return ['abc', 2147483648, -2147483649, 1.5, true];
    case 'Float':
      return ['abc', 1e308, -1e308, { n: 1 }];
    case 'String':
      return [123, { s: 'x' }, 'a\u0000b', HUGE, '\u202E\u0000\u200B'];
    case 'Datetime':
      return [
        'yesterday',
        '2026-13-45T25:61:00Z',
        '2026-12-03T10:00:00+25:00',
        '294277-01-01T00:00:00Z',
        '',
        1,
        'a\u0000b',
      ];
    case 'UUID':
      return ['not-a-uuid', 123, '', 'a\u0000b'];
    case 'Cursor':
      return ['not-a-cursor', 123, 'WyJuYXR1cmFsIiwieCJd'];
    case 'ID':
      return ['not-an-id', 123, 'WyJzcG90cyIsIjk5OTk5OTk5OTk5OTk5OTk5OTkiXQ=='];
    case 'Boolean':
      return ['yes', 1];
    case 'Time':
      return ['25:61', 'noon', 1];
    default:
      return ['?', 1];
  }
}

/** A well-formed value for a required slot, so the bad value is the only thing wrong. */
function goodValue(name: string, type: GraphQLInputType): unknown {
  const named = getNamedType(type);
  const byName: Record<string, unknown> = {
    // No such reservation: as an admin, a real one would be set up, cancelled… whatever the other values.
    spotId,
    reservationId: '99999999',
    rowId: admin.id,
    userId: admin.id,
    blockId: '99999999',
    manageToken: held.manageToken,
    startsAt: future(2),
    endsAt: future(3),
    email: 'matrix.nobody@example.com',
    password: 'a long passphrase here',
    oldPassword: 'a long passphrase here',
    newPassword: 'another long passphrase',
    name: 'Matrix',
    role: 'operator',
    token: 'not-a-real-token',
    sessionId: '00000000-0000-0000-0000-000000000000',
    lat: 40.75,
    lng: -73.99,
    radius: 1,
    code: 'no-such-rate',
    isodow: 1,
    opens: '09:00',
    rateId: 1,
    durationMinutes: 30,
    amount: 100,
  };
  if (name in byName) return byName[name];
  if (isInputObjectType(named))
    return Object.fromEntries(
      Object.values(named.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, goodValue(f.name, f.type)]),
    );
  if (isEnumType(named)) return named.getValues()[0].value;
  return (
    {
      BigInt: '1',
      Int: 1,
      Float: 1,
      String: 'x',
      Datetime: future(2),
      UUID: '00000000-0000-0000-0000-000000000000',
      Boolean: true,
      ID: 'x',
    }[named.name] ?? 'x'
  );
}

function typeString(type: GraphQLInputType): string {
  return type.toString();
}

interface Case {
  label: string;
  query: string;
  variables: Record<string, unknown>;
}

/** The matrix: one case per (field, argument or input field, bad value). */
function cases(): Case[] {
  const schema = committedSchema();
  const out: Case[] = [];
  for (const [operation, root] of [
    ['query', schema.getQueryType()!],
    ['mutation', schema.getMutationType()!],
  ] as const) {
    for (const field of Object.values(root.getFields()) as Array<GraphQLField<unknown, unknown>>) {
      const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
      const required = (args: readonly (GraphQLArgument | GraphQLInputField)[]) =>
        args.filter((a) => isNonNullType(a.type));
      for (const arg of field.args) {
        const input = getNamedType(arg.type);
        // A mutation's `input`: each of its fields in turn (clientMutationId is echoed, not used).
        const slots =
          operation === 'mutation' && arg.name === 'input' && isInputObjectType(input)
            ? Object.values(input.getFields())
                .filter((f) => f.name !== 'clientMutationId')
                .map((f) => ({ path: ['input', f.name], type: f.type }))
            : [{ path: [arg.name], type: arg.type }];
        for (const slot of slots) {
          for (const bad of badValues(slot.type)) {
            const others = Object.fromEntries(
              required(field.args)
                .filter((a) => a.name !== slot.path[0])
                .map((a) => [a.name, goodValue(a.name, a.type)]),
            );
            let argText: string;
            const variables: Record<string, unknown> = { ...others };
            const declared = required(field.args)
              .filter((a) => a.name !== slot.path[0])
              .map((a) => `$${a.name}: ${typeString(a.type)}`);
            if (slot.path.length === 2) {
              const inputType = input as import('postgraphile/graphql').GraphQLInputObjectType;
              const rest = Object.values(inputType.getFields()).filter(
                (f) => isNonNullType(f.type) && f.name !== slot.path[1],
              );
              const restText = rest.map((f) => `${f.name}: $in_${f.name}`);
              for (const f of rest) {
                variables[`in_${f.name}`] = goodValue(f.name, f.type);
                declared.push(`$in_${f.name}: ${typeString(f.type)}`);
              }
              declared.push(`$v: ${typeString(getNullableType(slot.type) as GraphQLInputType)}`);
              argText = `input: { ${[...restText, `${slot.path[1]}: $v`].join(', ')} }`;
            } else {
              declared.push(`$v: ${typeString(getNullableType(slot.type) as GraphQLInputType)}`);
              argText = [`${slot.path[0]}: $v`, ...Object.keys(others).map((k) => `${k}: $${k}`)].join(', ');
            }
            variables.v = bad;
            const shown =
              typeof bad === 'string' && bad.length > 40 ? `${bad.slice(0, 10)}…(${bad.length})` : JSON.stringify(bad);
            out.push({
              label: `${field.name}(${slot.path.join('.')}: ${shown})`,
              query: `${operation} (${declared.join(', ')}) { ${field.name}(${argText})${selection} }`,
              variables,
            });
          }
        }
      }
    }
  }
  return out;
}

test('every argument of every operation, each bad value: a documented code, never INTERNAL or a 5xx, nothing written', async () => {
  const all = cases();
  assert.ok(all.length >= 200, `${all.length} cases`);
  const before = await writtenState(db, emulator);
  const wrong: string[] = [];
  for (const c of all) {
    const res = await api.gql(c.query, c.variables, admin.headers);
    const codes = (res.errors ?? []).map((e) => e.extensions?.code ?? 'NO_CODE');
    if (res.status >= 500 || codes.length === 0 || codes.some((code) => !DOCUMENTED.has(code))) {
      wrong.push(`${c.label}: ${res.status} ${codes.length ? codes.join(',') : JSON.stringify(res.data)}`);
    }
  }
  assert.equal(wrong, [], `${wrong.length} of ${all.length} cases`);
  assert.equal(await writtenState(db, emulator), before, 'nothing written');
});

test('the inputs the review saw end INTERNAL: each has its documented code now', async () => {
  const BIG = '9223372036854775808';
  const list: Array<[string, string, Record<string, unknown>, Record<string, string>, string]> = [
    [
      'quote: spot id past bigint',
      'query ($s: BigInt!) { quote(spotId: $s, startsAt: "2030-01-01T10:00:00Z", endsAt: "2030-01-01T11:00:00Z") { amount } }',
      { s: BIG },
      {},
      '22003',
    ],
    ['spot(rowId) past bigint', 'query ($s: BigInt!) { spot(rowId: $s) { rowId } }', { s: BIG }, {}, '22003'],
    [
      'guestReservation past bigint',
      'query ($s: BigInt) { guestReservation(reservationId: $s, manageToken: "x") { rowId } }',
      { s: BIG },
      {},
      '22003',
    ],
    [
      'reserve past bigint',
      `mutation ($s: BigInt) { reserve(input: { spotId: $s, durationMinutes: 30, email: "a@example.com" }) { clientMutationId } }`,
      { s: BIG },
      {},
      '22003',
    ],
    [
      'changeReservationEnd past bigint',
      `mutation ($s: BigInt) { changeReservationEnd(input: { reservationId: $s, endsAt: "2030-01-01T11:00:00Z", manageToken: "x" }) { clientMutationId } }`,
      { s: BIG },
      {},
      '22003',
    ],
    ['radius 1e308', `{ spotsNear(lat: 40.75, lng: -73.99, radius: 1e308, first: 1) { totalCount } }`, {}, {}, 'SMS02'],
    [
      'offset +25:00',
      `query ($s: BigInt!) { quote(spotId: $s, startsAt: "2030-01-01T10:00:00+25:00", endsAt: "2030-01-01T11:00:00Z") { amount } }`,
      { s: spotId },
      {},
      '22009',
    ],
    ['first: -1', '{ spots(first: -1) { totalCount } }', {}, {}, 'SMQ04'],
    [
      'depth over the limit',
      `{ rates(first: 1) { nodes { spots(first: 1) { nodes { rate { spots(first: 1) { nodes { rate { spots(first: 1) { nodes { rowId } } } } } } } } } } }`,
      {},
      {},
      'SMQ01',
    ],
  ];
  const wrong: string[] = [];
  for (const [label, query, variables, headers, code] of list) {
    const res = await api.gql(query, variables, headers);
    const got = res.errors?.[0]?.extensions?.code;
    if (got !== code) wrong.push(`${label}: expected ${code}, got ${res.status} ${got ?? JSON.stringify(res.data)}`);
  }
  assert.equal(wrong, []);
  // A batched request's error carries a code.
  const batch = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '[{"query":"{ __typename }"}]',
  });
  assert.is(((await batch.json()) as any).errors[0].extensions.code, 'SMQ05');
  // Signed out, currentUser is null, not 42501.
  assert.equal(await api.gql('{ currentUser { rowId } }'), { status: 200, data: { currentUser: null } });
  // The bearer scheme is case-insensitive.
  const token = admin.headers.authorization.slice('Bearer '.length);
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const me = await api.gql('{ currentUser { rowId } }', {}, { authorization: `${scheme} ${token}` });
    assert.is(me.data?.currentUser?.rowId, admin.id, scheme);
  }
});

test.run();
