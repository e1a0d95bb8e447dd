// The staff audit log: one row per staff change (customer, note, spot, rate,
// rate hours, block, refund, role, zones), written in the change's own
// transaction, with who, when and old → new; admins read and filter it
// through auditEntries; no API role can write, change or delete a row.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asRole, identityOf, sqlstateOf, ANON } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { useStaffApi, ZONE } from './helpers/staff.ts';
import { committedSchema } from './helpers/committed_schema.ts';
import { hoursFromNow, reserve } from './helpers/reservations.ts';

const ctx = useStaffApi(import.meta.filename, test);

const ENTRIES = `query ($table: String, $record: String, $actor: BigInt, $since: Datetime, $until: Datetime) {
  auditEntries(tableName: $table, recordId: $record, actorUserId: $actor, since: $since, until: $until) {
    nodes { at actorUserId actorRole tableName recordId action oldValues newValues } } }`;

async function entries(vars: Record<string, unknown>) {
  const res = await ctx.api.gql(ENTRIES, vars, ctx.callers.admin.headers);
  assert.is(res.errors, undefined, JSON.stringify(res.errors));
  return res.data.auditEntries.nodes as Array<Record<string, any>>;
}

async function gqlOk(query: string, vars: Record<string, unknown>, headers: Record<string, string>) {
  const res = await ctx.api.gql(query, vars, headers);
  assert.is(res.errors, undefined, JSON.stringify(res.errors));
  return res.data;
}

const operator = () => ctx.callers['operator in zone'];

test('every kind of staff change writes who, when and old → new', async () => {
  // Setup
  const started = new Date();
  const op = operator();
  const rate = await createRate(ctx.db);
  const spot = await createSpot(ctx.db, { lat: 40.68, lng: -73.95, rateId: rate, borough: ZONE });

  // Action: one change of each kind, through the API.
  const customer = (
    await gqlOk(
      `mutation { createCustomer(input: { email: "audit@example.test", name: "Ann", surname: "Audit" }) { result { rowId } } }`,
      {},
      op.headers,
    )
  ).createCustomer.result.rowId;
  await gqlOk(
    `mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, name: "Anne" }) { clientMutationId } }`,
    { id: customer },
    op.headers,
  );
  const note = (
    await gqlOk(
      `mutation ($id: BigInt!) { addCustomerNote(input: { customerId: $id, body: "VIP" }) { result { rowId } } }`,
      { id: customer },
      op.headers,
    )
  ).addCustomerNote.result.rowId;
  await gqlOk(
    `mutation ($id: BigInt!) { updateSpot(input: { spotId: $id, street: "Fulton Street" }) { clientMutationId } }`,
    { id: spot },
    op.headers,
  );
  await gqlOk(
    `mutation ($id: Int!) { updateRate(input: { rateId: $id, hourlyPrice: 650 }) { clientMutationId } }`,
    { id: rate },
    op.headers,
  );
  await gqlOk(
    `mutation ($id: Int!) { setRateHours(input: { rateId: $id, hours: [{ isodow: 2, opens: "08:00", closes: "18:00" }] }) { clientMutationId } }`,
    { id: rate },
    op.headers,
  );
  const block = (
    await gqlOk(
      `mutation ($id: BigInt!, $from: Datetime!, $to: Datetime!) { blockSpot(input: { spotId: $id, startsAt: $from, endsAt: $to }) { result { rowId } } }`,
      { id: spot, from: hoursFromNow(3), to: hoursFromNow(4) },
      op.headers,
    )
  ).blockSpot.result.rowId;
  await gqlOk(
    `mutation ($id: BigInt!) { setUserRole(input: { userId: $id, role: "analyst" }) { clientMutationId } }`,
    { id: ctx.callers.driver.user!.id },
    ctx.callers.admin.headers,
  );
  await gqlOk(
    `mutation ($id: BigInt!) { setOperatorZones(input: { userId: $id, boroughs: ["${ZONE}", "Bronx"] }) { clientMutationId } }`,
    { id: op.user!.id },
    ctx.callers.admin.headers,
  );
  // A refund is prepared in SQL before Stripe is called: its row is the staff change.
  const {
    rows: [r],
  } = await ctx.db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, status, amount, currency)
    values ($1, 'paid@example.test', tstzrange(now() - interval '3 hours', now() - interval '2 hours'), 'completed', 700, 'USD') returning id`,
    [spot],
  );
  await ctx.db.owner.query(
    `insert into app_private.charges (reservation_id, amount, currency, idempotency_key, status, succeeded_at)
    values ($1, 700, 'USD', 'k-audit', 'succeeded', now())`,
    [r.id],
  );
  await asRole(ctx.db, identityOf(op.user!), (c) => c.query('select app_hidden.refund_prepare($1, 200)', [r.id]), {
    commit: true,
  });

  // Assertions
  const opId = op.user!.id;
  const all = await entries({ since: started.toISOString() });
  const find = (table: string, action: string, record?: string) =>
    all.filter((e) => e.tableName === table && e.action === action && (record === undefined || e.recordId === record));
  const one = (table: string, action: string, record?: string) => {
    const found = find(table, action, record);
    assert.is(
      found.length,
      1,
      `${table} ${action} ${record ?? ''}: ${JSON.stringify(all.map((e) => [e.tableName, e.action, e.recordId]))}`,
    );
    return found[0];
  };
  const created = one('customers', 'insert', customer);
  assert.equal(
    [created.actorUserId, created.actorRole, created.newValues.email],
    [opId, 'operator', 'audit@example.test'],
  );
  assert.equal(
    [one('customers', 'update', customer).oldValues, one('customers', 'update', customer).newValues],
    [{ name: 'Ann' }, { name: 'Anne' }],
  );
  assert.is(one('customer_notes', 'insert', note).newValues.body, 'VIP');
  assert.equal(one('spots', 'update', spot).oldValues, { street: 'Test Street' });
  assert.equal(
    [one('rates', 'update', String(rate)).oldValues, one('rates', 'update', String(rate)).newValues],
    [{ hourly_price: 400 }, { hourly_price: 650 }],
  );
  assert.is(one('rate_hours', 'insert', String(rate)).newValues.opens, '08:00:00');
  assert.is(one('blocks', 'insert', block).actorUserId, opId);
  const role = one('users', 'update', ctx.callers.driver.user!.id);
  assert.equal([role.actorRole, role.oldValues, role.newValues], ['admin', { role: 'driver' }, { role: 'analyst' }]);
  assert.is(one('operator_zones', 'insert', opId).newValues.borough, 'Bronx');
  const refund = one('refunds', 'insert');
  assert.equal([refund.actorUserId, refund.newValues.amount], [opId, 200]);
  for (const e of all) assert.ok(new Date(e.at) >= new Date(started.getTime() - 1000), 'when');
});

test('filters: by table, record, actor and time range', async () => {
  const before = new Date(Date.now() - 1000).toISOString();
  const c = (
    await gqlOk(
      `mutation { createCustomer(input: { email: "filter@example.test", name: "F", surname: "Ilter" }) { result { rowId } } }`,
      {},
      ctx.callers.admin.headers,
    )
  ).createCustomer.result.rowId;
  const byRecord = await entries({ table: 'customers', record: c });
  assert.equal(
    byRecord.map((e) => e.action),
    ['insert'],
  );
  assert.equal(
    (await entries({ actor: ctx.callers.admin.user!.id, table: 'customers', since: before })).map((e) => e.recordId),
    [c],
  );
  assert.equal(await entries({ table: 'customers', record: c, until: before }), []);
});

test("a change rolled back leaves no audit row; a booking or the owner's writes are not staff changes", async () => {
  const count = async () => (await ctx.db.owner.query('select count(*)::int as n from app_public.audit_log')).rows[0].n;
  const n = await count();
  await asRole(ctx.db, identityOf(operator().user!), async (client) => {
    await client.query(`select app_public.create_customer('rolled.back@example.test', 'Roll', 'Back')`);
    assert.is(
      (
        await client.query(
          `select count(*)::int as n from app_public.customers where email = 'rolled.back@example.test'`,
        )
      ).rows[0].n,
      1,
    );
  }); // rolled back
  assert.is(await count(), n);
  const spot = await createSpot(ctx.db, { lat: 40.7, lng: -73.9 });
  assert.is(await count(), n, "the owner's own writes (imports, the CLI) are not staff changes");
  await reserve(ctx.db, ANON, {
    spotId: spot,
    startsAt: hoursFromNow(2),
    durationMinutes: 30,
    email: 'guest.booker@example.test',
  });
  assert.is(await count(), n, 'a guest becoming a customer by booking is history, not a staff change');
  const { rows } = await ctx.db.owner.query(
    `select 1 from app_public.customers where email = 'guest.booker@example.test'`,
  );
  assert.is(rows.length, 1);
});

test('no API role can write, change, delete or read the log directly', async () => {
  // The committed SDL, which test/schema.test.ts keeps equal to the API's (introspection is off here, as in production).
  const mutations = Object.keys(committedSchema().getMutationType()!.getFields());
  assert.equal(
    mutations.filter((m) => /audit/i.test(m)),
    [],
  );
  const {
    rows: [row],
  } = await ctx.db.owner.query('select id from app_public.audit_log limit 1');
  for (const [who, identity] of [
    ['anonymous', ANON],
    ['driver', identityOf(ctx.callers.driver.user!)],
    ['admin', identityOf(ctx.callers.admin.user!)],
  ] as const) {
    for (const sql of [
      `insert into app_public.audit_log (actor_role, table_name, action) values ('admin', 'x', 'insert')`,
      `update app_public.audit_log set actor_role = 'x' where id = ${row.id}`,
      `delete from app_public.audit_log where id = ${row.id}`,
      'select * from app_public.audit_log',
    ]) {
      const code = await sqlstateOf(asRole(ctx.db, identity, (c) => c.query(sql)));
      assert.is(code, '42501', `${who}: ${sql}`);
    }
  }
  const res = await ctx.api.gql(
    `mutation { createAuditLog(input: {}) { clientMutationId } }`,
    {},
    ctx.callers.admin.headers,
  );
  assert.is(res.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
});

test.run();
