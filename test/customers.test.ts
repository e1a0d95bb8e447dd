// Customers through GraphQL: accounts and guest emails alike, search with
// typos, sort and page, history (reservations, charges, refunds), edits with
// created_by/updated_by from the session, notes, soft delete (gone from every
// list and search, kept in the audit log) and restore; bad input refused
// with a code and nothing written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { postJson } from './helpers/auth.ts';
import { createSpot } from './helpers/spots.ts';
import { staffTablesDigest, useStaffApi } from './helpers/staff.ts';
import { committedSchema } from './helpers/committed_schema.ts';
import type { GraphQLInputObjectType } from 'postgraphile/graphql';
import { ANON } from './helpers/db.ts';
import { hoursFromNow, reserve } from './helpers/reservations.ts';

const ctx = useStaffApi(import.meta.filename, test);

const staff = () => ctx.callers['operator out of zone'].headers;

async function ok(query: string, vars: Record<string, unknown> = {}, headers = staff()) {
  const res = await ctx.api.gql(query, vars, headers);
  assert.is(res.errors, undefined, JSON.stringify(res.errors));
  return res.data;
}

async function create(email: string, name: string, surname: string): Promise<string> {
  return (
    await ok(
      `mutation ($e: String!, $n: String!, $s: String!) { createCustomer(input: { email: $e, name: $n, surname: $s }) { result { rowId } } }`,
      { e: email, n: name, s: surname },
    )
  ).createCustomer.result.rowId;
}

const search = async (q: string) =>
  (await ok(`query ($q: String!) { searchCustomers(query: $q) { nodes { email } } }`, { q })).searchCustomers.nodes.map(
    (n: any) => n.email,
  );

test('accounts and guest emails become customers, with their reservations and payments', async () => {
  // Setup: a driver signs up; a guest books and is charged and refunded.
  const reg = await postJson(ctx.api, '/auth/register', {
    email: 'signed.up@example.test',
    name: 'Sign Up',
    password: 'a long passphrase 1',
  });
  assert.is(reg.status, 201);
  const spot = await createSpot(ctx.db, { lat: 40.7, lng: -73.9 });
  const r = await reserve(ctx.db, ANON, {
    spotId: spot,
    startsAt: hoursFromNow(2),
    durationMinutes: 60,
    email: 'guest.only@example.test',
  });
  const {
    rows: [charge],
  } = await ctx.db.owner.query(
    `insert into app_private.charges (reservation_id, amount, currency, idempotency_key, status, succeeded_at)
    values ($1, 400, 'USD', 'k-cust', 'succeeded', now()) returning id`,
    [r.id],
  );
  await ctx.db.owner.query(
    `insert into app_private.refunds (charge_id, amount, idempotency_key, status) values ($1, 150, 'rk-cust', 'succeeded')`,
    [charge.id],
  );

  // Action
  const data = await ok(`query { customers(first: 1, condition: { email: "guest.only@example.test" }) { nodes {
      email userId reservations(first: 10) { nodes { rowId status } } payments(first: 10) { nodes { reservationId kind amount status } } } }
    account: customers(first: 1, condition: { email: "signed.up@example.test" }) { nodes { email name userId } } }`);

  // Assertions
  const [guest] = data.customers.nodes;
  assert.equal(guest.reservations.nodes, [{ rowId: r.id, status: 'held' }]);
  assert.is(guest.userId, null);
  assert.equal(guest.payments.nodes, [
    { reservationId: r.id, kind: 'charge', amount: 400, status: 'succeeded' },
    { reservationId: r.id, kind: 'refund', amount: 150, status: 'succeeded' },
  ]);
  const [account] = data.account.nodes;
  assert.equal([account.name, account.userId], ['Sign Up', reg.body.userId]);
});

test("a driver's rename reaches their customer record, until staff name the record themselves", async () => {
  const driver = ctx.callers.driver;
  const rename = async (name: string) => {
    const res = await ctx.api.gql(
      `mutation ($id: BigInt!, $n: String!) { updateUser(input: { rowId: $id, patch: { name: $n } }) { user { name } } }`,
      { id: driver.user!.id, n: name },
      driver.headers,
    );
    assert.is(res.errors, undefined, JSON.stringify(res.errors));
  };
  const record = async () =>
    (
      await ok(
        `query ($u: BigInt!) { customers(first: 1, condition: { userId: $u }) { nodes { rowId name surname updatedBy } } }`,
        {
          u: driver.user!.id,
        },
      )
    ).customers.nodes[0];

  await rename('Grace Brewster');
  const followed = await record();
  assert.equal([followed.name, followed.updatedBy], ['Grace Brewster', null], 'the rename, stamped as nobody on staff');

  // Staff know her by another name: a later rename of the account leaves theirs.
  await ok(
    `mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, name: "Amazing Grace", surname: "Hopper" }) { clientMutationId } }`,
    {
      id: followed.rowId,
    },
  );
  await rename('Grace Murray');
  assert.equal([(await record()).name, (await record()).surname], ['Amazing Grace', 'Hopper']);
});

test('search by name, surname or email, with typos; sort and page', async () => {
  await create('marie.curie@example.test', 'Marie', 'Curie');
  await create('pierre@example.test', 'Pierre', 'Curie');
  await create('smith.j@example.test', 'John', 'Smith');
  await create('other@example.test', 'Alan', 'Turing');
  // Best match first; near misses may follow it.
  assert.equal((await search('curie')).slice(0, 2).sort(), ['marie.curie@example.test', 'pierre@example.test']);
  assert.is((await search('smiht'))[0], 'smith.j@example.test', 'swapped letters');
  assert.is((await search('Smyth'))[0], 'smith.j@example.test', 'a wrong letter');
  assert.is((await search('marie'))[0], 'marie.curie@example.test', 'name');
  assert.not.ok((await search('turing')).includes('smith.j@example.test'), 'unrelated names do not match');
  assert.equal(await search('pierre@'), ['pierre@example.test'], 'an email matches as typed');
  assert.equal(await search('qqqqq'), []);

  const page = async (offset: number) =>
    (
      await ok(
        `query ($o: Int!) { customers(condition: { surname: "Curie" }, orderBy: [NAME_DESC], first: 1, offset: $o) {
    totalCount nodes { name } pageInfo { hasNextPage } } }`,
        { o: offset },
      )
    ).customers;
  assert.equal(await page(0), { totalCount: 2, nodes: [{ name: 'Pierre' }], pageInfo: { hasNextPage: true } });
  assert.equal(await page(1), { totalCount: 2, nodes: [{ name: 'Marie' }], pageInfo: { hasNextPage: false } });
});

test('soft-deleted customers vanish from every list and search, stay in the audit log, and come back', async () => {
  // Setup
  const id = await create('vanishing@example.test', 'Vera', 'Vanish');
  await ok(
    `mutation ($id: BigInt!) { addCustomerNote(input: { customerId: $id, body: "Asked to be forgotten" }) { clientMutationId } }`,
    { id },
  );

  // Action
  await ok(`mutation ($id: BigInt!) { deleteCustomer(input: { customerId: $id }) { clientMutationId } }`, { id });

  // Assertions: every way staff can list or find a customer.
  const lists = await ok(
    `query ($id: BigInt!) { customer(rowId: $id) { rowId }
    all: customers { nodes { rowId } } byEmail: customers(condition: { email: "vanishing@example.test" }) { totalCount }
    customerNotes { nodes { customerId } } }`,
    { id },
  );
  assert.is(lists.customer, null);
  assert.not.ok(lists.all.nodes.some((n: any) => n.rowId === id));
  assert.is(lists.byEmail.totalCount, 0);
  assert.not.ok(
    lists.customerNotes.nodes.some((n: any) => n.customerId === id),
    'its notes too',
  );
  for (const q of ['vanish', 'vera', 'vanishing@example.test', 'vanihs']) {
    assert.not.ok((await search(q)).includes('vanishing@example.test'), q);
  }
  const res = await ctx.api.gql(
    `mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, name: "X" }) { clientMutationId } }`,
    { id },
    staff(),
  );
  assert.is(res.errors?.[0]?.extensions?.code, 'SMC03');
  // Its email stays taken; the refusal names the deleted customer, the one way staff learn what to restore.
  for (const [what, query, vars] of [
    [
      'create',
      `mutation { createCustomer(input: { email: "Vanishing@example.test", name: "V", surname: "W" }) { clientMutationId } }`,
      {},
    ],
    [
      'update',
      `mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, email: "vanishing@example.test" }) { clientMutationId } }`,
      { id: await create('other-vanisher@example.test', 'O', 'V') },
    ],
  ] as const) {
    const taken = await ctx.api.gql(query, vars, staff());
    assert.is(taken.errors?.[0]?.extensions?.code, 'SMC02', what);
    assert.match(
      taken.errors?.[0]?.message ?? '',
      new RegExp(`Deleted customer ${id} has this email: restore it`),
      what,
    );
  }
  const live = await ctx.api.gql(
    `mutation { createCustomer(input: { email: "other-vanisher@example.test", name: "V", surname: "W" }) { clientMutationId } }`,
    {},
    staff(),
  );
  assert.equal(
    [live.errors?.[0]?.extensions?.code, live.errors?.[0]?.message],
    ['SMC02', 'A customer with this email already exists'],
  );

  const audit = await ok(
    `query ($id: String!) { auditEntries(tableName: "customers", recordId: $id) { nodes { action newValues } } }`,
    { id },
    ctx.callers.admin.headers,
  );
  assert.equal(
    audit.auditEntries.nodes.map((e: any) => e.action),
    ['update', 'insert'],
  );
  assert.ok(audit.auditEntries.nodes[0].newValues.deleted_at, 'the deletion is recorded');

  await ok(`mutation ($id: BigInt!) { restoreCustomer(input: { customerId: $id }) { clientMutationId } }`, { id });
  assert.is((await search('vanish'))[0], 'vanishing@example.test');
});

test('created_by, updated_by and timestamps come from the session', async () => {
  const creator = ctx.callers['operator in zone'];
  const editor = ctx.callers.admin;
  const id = (
    await ok(
      `mutation { createCustomer(input: { email: "stamped@example.test", name: "Stan", surname: "Stamp" }) {
    result { rowId createdBy updatedBy createdAt } } }`,
      {},
      creator.headers,
    )
  ).createCustomer.result;
  assert.equal([id.createdBy, id.updatedBy], [creator.user!.id, null]);
  const edited = (
    await ok(
      `mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, email: "stamped2@example.test" }) {
    result { createdBy updatedBy createdAt updatedAt } } }`,
      { id: id.rowId },
      editor.headers,
    )
  ).updateCustomer.result;
  assert.equal(
    [edited.createdBy, edited.updatedBy, edited.createdAt],
    [creator.user!.id, editor.user!.id, id.createdAt],
  );
  assert.ok(new Date(edited.updatedAt) > new Date(id.createdAt));
  // The API offers no way to set them: not among createCustomer's inputs.
  const input = committedSchema().getType('CreateCustomerInput') as GraphQLInputObjectType;
  assert.equal(Object.keys(input.getFields()).sort(), ['clientMutationId', 'email', 'name', 'surname']);
});

test('bad input: a code, and nothing written', async () => {
  await create('taken@example.test', 'Tak', 'En');
  const id = await create('editable@example.test', 'Ed', 'It');
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      'mutation { createCustomer(input: { email: "TAKEN@example.test", name: "A", surname: "B" }) { clientMutationId } }',
      {},
      'SMC02',
    ],
    [
      'mutation { createCustomer(input: { email: "not-an-email", name: "A", surname: "B" }) { clientMutationId } }',
      {},
      'SMA03',
    ],
    [
      'mutation { createCustomer(input: { email: "new@example.test", name: "A", surname: "  " }) { clientMutationId } }',
      {},
      'SMC04',
    ],
    ['mutation { createCustomer(input: { email: "new@example.test", name: "A" }) { clientMutationId } }', {}, 'SMC04'],
    [
      'mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, email: "taken@example.test" }) { clientMutationId } }',
      { id },
      'SMC02',
    ],
    ['mutation { updateCustomer(input: { customerId: "999999", name: "A" }) { clientMutationId } }', {}, 'SMC03'],
    [
      'mutation ($id: BigInt!) { addCustomerNote(input: { customerId: $id, body: "" }) { clientMutationId } }',
      { id },
      'SMC05',
    ],
    ['mutation { restoreCustomer(input: { customerId: "999999" }) { clientMutationId } }', {}, 'SMC03'],
    ['query { searchCustomers(query: "  ") { totalCount } }', {}, 'SMC06'],
  ];
  for (const [query, vars, code] of cases) {
    const before = await staffTablesDigest(ctx.db);
    const res = await ctx.api.gql(query, vars, staff());
    assert.is(res.errors?.[0]?.extensions?.code, code, query);
    assert.equal(await staffTablesDigest(ctx.db), before, query);
  }
});

test.run();
