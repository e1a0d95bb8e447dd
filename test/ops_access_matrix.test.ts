// Who may do what among the operators' and analysts' operations (issue 14),
// through GraphQL over HTTP: every new operation × every caller (admin, an
// operator whose zone holds the spot, an operator of another zone, an
// enforcement officer, a driver, an analyst, anonymous). An allowed cell
// checks the answer and what it wrote; a refused cell checks the documented
// code and that no staff table (audit log included) changed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRate, createSpot } from './helpers/spots.ts';
import { STAFF_CALLERS, type StaffCaller, staffTablesDigest, useStaffApi, ZONE } from './helpers/staff.ts';
import { hoursFromNow } from './helpers/reservations.ts';

const ctx = useStaffApi(import.meta.filename, test);

const STAFF: StaffCaller[] = ['admin', 'operator in zone', 'operator out of zone'];
const SIGNED_IN: StaffCaller[] = STAFF_CALLERS.filter((c) => c !== 'anonymous');

/** Expected outcome per caller: null = allowed, else the code. */
function only(
  allowed: StaffCaller[],
  refused: string | ((c: StaffCaller) => string),
): (c: StaffCaller) => string | null {
  return (c) => (allowed.includes(c) ? null : typeof refused === 'string' ? refused : refused(c));
}
const zoned = (otherCode: string) =>
  only(['admin', 'operator in zone'], (c) => (c === 'operator out of zone' ? 'SMO02' : otherCode));

let made = 0;
const unique = () => `${process.pid}-${(made += 1)}`;

async function customer(): Promise<string> {
  const {
    rows: [c],
  } = await ctx.db.owner.query(
    `insert into app_public.customers (email, name, surname) values ($1, 'Grace', 'Hopper') returning id::text`,
    [`customer-${unique()}@example.test`],
  );
  return c.id;
}
/** A rate whose only spot is in the other operator's zone (Queens): that operator may change it. */
async function queensRate(): Promise<number> {
  const rate = await createRate(ctx.db);
  await createSpot(ctx.db, { lat: 40.72 + made * 1e-4, lng: -73.8, rateId: rate, borough: 'Queens' });
  made += 1;
  return rate;
}
/** Who may put a Brooklyn spot on the Queens operator's rate: admins only (SMO12 takes no rate from a zone). */
const joinsQueensRate = only(['admin'], (c) =>
  c === 'operator in zone' ? 'SMO12' : c === 'operator out of zone' ? 'SMO02' : 'SMO01',
);
/** A spot in the in-zone operator's borough, on a rate of its own. */
async function zoneSpot(): Promise<{ spot: string; rate: number }> {
  const rate = await createRate(ctx.db);
  const spot = await createSpot(ctx.db, { lat: 40.68 + made * 1e-4, lng: -73.95, rateId: rate, borough: ZONE });
  made += 1;
  return { spot, rate };
}
async function ownerQuery(sql: string, params: unknown[]) {
  return (await ctx.db.owner.query(sql, params)).rows;
}

interface Operation {
  query: string;
  expect: (c: StaffCaller) => string | null;
  vars(caller: StaffCaller): Promise<Record<string, unknown>>;
  /** For an allowed cell: the answer and what changed. */
  check(data: any, vars: Record<string, any>, caller: StaffCaller): Promise<void>;
}

const userIdOf = (c: StaffCaller) => ctx.callers[c].user?.id ?? null;

const OPERATIONS: Record<string, Operation> = {
  createCustomer: {
    query: `mutation ($email: String!) { createCustomer(input: { email: $email, name: "Ada", surname: "Lovelace" }) {
      result { rowId email name surname createdBy } } }`,
    expect: only(STAFF, 'SMC01'),
    vars: async () => ({ email: `ada-${unique()}@example.test` }),
    async check(data, vars, caller) {
      const r = data.createCustomer.result;
      assert.equal([r.email, r.name, r.surname, r.createdBy], [vars.email, 'Ada', 'Lovelace', userIdOf(caller)]);
    },
  },
  updateCustomer: {
    query: `mutation ($id: BigInt!) { updateCustomer(input: { customerId: $id, surname: "Hopper-Murray" }) {
      result { rowId surname updatedBy } } }`,
    expect: only(STAFF, 'SMC01'),
    vars: async () => ({ id: await customer() }),
    async check(data, vars, caller) {
      assert.equal(data.updateCustomer.result, {
        rowId: vars.id,
        surname: 'Hopper-Murray',
        updatedBy: userIdOf(caller),
      });
    },
  },
  deleteCustomer: {
    query: `mutation ($id: BigInt!) { deleteCustomer(input: { customerId: $id }) { result { rowId } } }`,
    expect: only(STAFF, 'SMC01'),
    vars: async () => ({ id: await customer() }),
    async check(_data, vars) {
      const [row] = await ownerQuery(
        'select deleted_at is not null as deleted from app_public.customers where id = $1',
        [vars.id],
      );
      assert.ok(row.deleted);
    },
  },
  restoreCustomer: {
    query: `mutation ($id: BigInt!) { restoreCustomer(input: { customerId: $id }) { result { rowId } } }`,
    expect: only(STAFF, 'SMC01'),
    async vars() {
      const id = await customer();
      await ctx.db.owner.query('update app_public.customers set deleted_at = now() where id = $1', [id]);
      return { id };
    },
    async check(data, vars) {
      assert.is(data.restoreCustomer.result.rowId, vars.id);
      const [row] = await ownerQuery('select deleted_at from app_public.customers where id = $1', [vars.id]);
      assert.is(row.deleted_at, null);
    },
  },
  addCustomerNote: {
    query: `mutation ($id: BigInt!) { addCustomerNote(input: { customerId: $id, body: "Called about a refund" }) {
      result { customerId body createdBy } } }`,
    expect: only(STAFF, 'SMC01'),
    vars: async () => ({ id: await customer() }),
    async check(data, vars, caller) {
      assert.equal(data.addCustomerNote.result, {
        customerId: vars.id,
        body: 'Called about a refund',
        createdBy: userIdOf(caller),
      });
    },
  },
  searchCustomers: {
    query: `query ($q: String!) { searchCustomers(query: $q) { nodes { rowId } } }`,
    expect: only(STAFF, 'SMC01'),
    async vars() {
      const id = await customer();
      await ctx.db.owner.query(`update app_public.customers set surname = 'Zyxwvut' where id = $1`, [id]);
      return { q: 'zyxwvt', id };
    },
    async check(data, vars) {
      assert.ok(
        data.searchCustomers.nodes.some((n: any) => n.rowId === vars.id),
        'found despite the typo',
      );
    },
  },
  // Row level security answers the others with nothing rather than an error (test/access_graph.test.ts).
  customers: {
    query: `query ($id: BigInt!) { customer(rowId: $id) { rowId email } customers(first: 5) { totalCount } }`,
    expect: () => null,
    vars: async () => ({ id: await customer() }),
    async check(data, vars, caller) {
      if (!STAFF.includes(caller)) {
        assert.equal(data, { customer: null, customers: { totalCount: 0 } });
        return;
      }
      assert.is(data.customer.rowId, vars.id);
      assert.ok(data.customers.totalCount >= 1);
    },
  },
  auditEntries: {
    query: `query { auditEntries(tableName: "customers", first: 1) { nodes { tableName action } } }`,
    expect: only(['admin'], (c) => (c === 'anonymous' ? 'SMA08' : 'SMA10')),
    async vars() {
      // A staff change, so that the newest customers entry is an insert.
      const made = await ctx.api.gql(
        `mutation ($e: String!) { createCustomer(input: { email: $e, name: "Au", surname: "Dit" }) { clientMutationId } }`,
        { e: `audited-${unique()}@example.test` },
        ctx.callers['operator in zone'].headers,
      );
      assert.is(made.errors, undefined);
      return {};
    },
    async check(data) {
      assert.equal(data.auditEntries.nodes, [{ tableName: 'customers', action: 'insert' }]);
    },
  },
  setOperatorZones: {
    query: `mutation ($id: BigInt!) { setOperatorZones(input: { userId: $id, boroughs: ["Bronx", "Manhattan"] }) { result { borough } } }`,
    expect: only(['admin'], (c) => (c === 'anonymous' ? 'SMA08' : 'SMA10')),
    async vars() {
      const [op] = await ownerQuery(
        `insert into app_public.users (email, name, role, is_verified) values ($1, 'Op', 'operator', true) returning id::text`,
        [`op-${unique()}@example.test`],
      );
      return { id: op.id };
    },
    async check(data, vars) {
      assert.equal(
        data.setOperatorZones.result.map((z: any) => z.borough),
        ['Bronx', 'Manhattan'],
      );
      const rows = await ownerQuery('select borough from app_public.operator_zones where user_id = $1 order by 1', [
        vars.id,
      ]);
      assert.equal(
        rows.map((r) => r.borough),
        ['Bronx', 'Manhattan'],
      );
    },
  },
  createSpot: {
    query: `mutation ($rate: Int!, $street: String!) { createSpot(input: { lat: 40.69, lng: -73.98, street: $street, rateId: $rate,
      borough: "${ZONE}", maxStayMinutes: 90 }) { result { rowId street borough status maxStay { hours minutes } lat } } }`,
    expect: zoned('SMO01'),
    vars: async () => ({ rate: (await zoneSpot()).rate, street: `Street ${unique()}` }),
    async check(data, vars) {
      const r = data.createSpot.result;
      assert.equal(
        [r.street, r.borough, r.status, r.maxStay, Math.round(r.lat * 100)],
        [vars.street, ZONE, 'active', { hours: 1, minutes: 30 }, 4069],
      );
    },
  },
  updateSpot: {
    query: `mutation ($id: BigInt!) { updateSpot(input: { spotId: $id, street: "Atlantic Avenue", maxStayMinutes: 60 }) {
      result { rowId street } } }`,
    expect: zoned('SMO01'),
    vars: async () => ({ id: (await zoneSpot()).spot }),
    async check(data, vars) {
      assert.equal(data.updateSpot.result, { rowId: vars.id, street: 'Atlantic Avenue' });
      const [row] = await ownerQuery(
        `select street, max_stay = interval '1 hour' as hour from app_public.spots where id = $1`,
        [vars.id],
      );
      assert.equal(row, { street: 'Atlantic Avenue', hour: true });
    },
  },
  createSpotOnAnotherZonesRate: {
    query: `mutation ($rate: Int!) { createSpot(input: { lat: 40.691, lng: -73.981, street: "Court Street", rateId: $rate,
      borough: "${ZONE}" }) { result { rowId rateId borough } } }`,
    expect: joinsQueensRate,
    vars: async () => ({ rate: await queensRate() }),
    async check(data, vars) {
      assert.equal([data.createSpot.result.rateId, data.createSpot.result.borough], [vars.rate, ZONE]);
    },
  },
  updateSpotOntoAnotherZonesRate: {
    query: `mutation ($id: BigInt!, $rate: Int!) { updateSpot(input: { spotId: $id, rateId: $rate }) { result { rowId rateId } } }`,
    expect: joinsQueensRate,
    vars: async () => ({ id: (await zoneSpot()).spot, rate: await queensRate() }),
    async check(data, vars) {
      assert.equal(data.updateSpot.result, { rowId: vars.id, rateId: vars.rate });
    },
  },
  setSpotStatus: {
    query: `mutation ($id: BigInt!) { setSpotStatus(input: { spotId: $id, status: "out_of_service" }) { result { rowId status } } }`,
    expect: zoned('SMO01'),
    vars: async () => ({ id: (await zoneSpot()).spot }),
    async check(data, vars) {
      assert.equal(data.setSpotStatus.result, { rowId: vars.id, status: 'out_of_service' });
    },
  },
  spotAffectedReservations: {
    query: `query ($id: BigInt!) { spotAffectedReservations(spotId: $id) { nodes { rowId } } }`,
    expect: zoned('SMO01'),
    async vars() {
      const { spot } = await zoneSpot();
      const [r] = await ownerQuery(
        `insert into app_public.reservations (spot_id, email, period, status, amount, currency)
        values ($1, 'affected@example.test', tstzrange($2, $3), 'confirmed', 100, 'USD') returning id::text`,
        [spot, hoursFromNow(2), hoursFromNow(3)],
      );
      return { id: spot, reservation: r.id };
    },
    async check(data, vars) {
      assert.equal(data.spotAffectedReservations.nodes, [{ rowId: vars.reservation }]);
    },
  },
  createRate: {
    query: `mutation ($code: String!) { createRate(input: { code: $code, name: "Evening", hourlyPrice: 250, billingIncrementMinutes: 15,
      minimumCharge: 50 }) { result { code hourlyPrice billingIncrement { minutes } minimumCharge currency } } }`,
    expect: only(STAFF, 'SMO01'),
    vars: async () => ({ code: `evening-${unique()}` }),
    async check(data, vars) {
      assert.equal(data.createRate.result, {
        code: vars.code,
        hourlyPrice: 250,
        billingIncrement: { minutes: 15 },
        minimumCharge: 50,
        currency: 'USD',
      });
    },
  },
  updateRate: {
    query: `mutation ($id: Int!) { updateRate(input: { rateId: $id, hourlyPrice: 999 }) { result { rowId hourlyPrice } } }`,
    expect: zoned('SMO01'),
    vars: async () => ({ id: (await zoneSpot()).rate }),
    async check(data, vars) {
      assert.equal(data.updateRate.result, { rowId: vars.id, hourlyPrice: 999 });
    },
  },
  setRateHours: {
    query: `mutation ($id: Int!) { setRateHours(input: { rateId: $id, hours: [{ isodow: 1, opens: "09:00", closes: "19:00" }] }) {
      result { rowId } } }`,
    expect: zoned('SMO01'),
    vars: async () => ({ id: (await zoneSpot()).rate }),
    async check(_data, vars) {
      const rows = await ownerQuery(
        'select isodow, opens::text, closes::text from app_public.rate_hours where rate_id = $1',
        [vars.id],
      );
      assert.equal(rows, [{ isodow: 1, opens: '09:00:00', closes: '19:00:00' }]);
    },
  },
  blockSpot: {
    query: `mutation ($id: BigInt!, $from: Datetime!, $to: Datetime!) { blockSpot(input: { spotId: $id, startsAt: $from, endsAt: $to, reason: "Paving" }) {
      result { rowId kind status } } }`,
    expect: zoned('SMB10'),
    vars: async () => ({ id: (await zoneSpot()).spot, from: hoursFromNow(5), to: hoursFromNow(6) }),
    async check(data) {
      assert.equal([data.blockSpot.result.kind, data.blockSpot.result.status], ['block', 'confirmed']);
    },
  },
  unblockSpot: {
    query: `mutation ($id: BigInt!) { unblockSpot(input: { blockId: $id }) { result { rowId status } } }`,
    expect: zoned('SMB10'),
    async vars() {
      const { spot } = await zoneSpot();
      const [b] = await ownerQuery(
        `insert into app_public.reservations (kind, spot_id, email, period, status, amount, currency)
        values ('block', $1, 'ops@example.test', tstzrange($2, $3), 'confirmed', 0, 'USD') returning id::text`,
        [spot, hoursFromNow(5), hoursFromNow(6)],
      );
      return { id: b.id };
    },
    async check(data, vars) {
      assert.equal(data.unblockSpot.result, { rowId: vars.id, status: 'cancelled' });
    },
  },
  enforcementLookup: {
    query: `mutation ($plate: String!) { enforcementLookup(input: { plate: $plate, plateState: "NY" }) { result { plate plateState valid } } }`,
    expect: only(['admin', 'enforcement'], 'SME02'),
    vars: async () => ({ plate: 'abc 123' }),
    async check(data) {
      assert.equal(data.enforcementLookup.result, { plate: 'ABC123', plateState: 'NY', valid: false });
      const [row] = await ownerQuery(
        `select count(*)::int as n from app_public.audit_log where table_name = 'enforcement_lookups'`,
        [],
      );
      assert.ok(row.n >= 1);
    },
  },
  saveVehicle: {
    query: `mutation { saveVehicle(input: { plate: "xyz-789", plateState: "nj", label: "Van" }) { result { plate plateState label userId } } }`,
    expect: only(SIGNED_IN, 'SMA08'),
    vars: async () => ({}),
    async check(data, _vars, caller) {
      assert.equal(data.saveVehicle.result, {
        plate: 'XYZ789',
        plateState: 'NJ',
        label: 'Van',
        userId: userIdOf(caller),
      });
    },
  },
  removeVehicle: {
    query: `mutation ($id: BigInt!) { removeVehicle(input: { vehicleId: $id }) { result { rowId } } }`,
    // A vehicle of the caller's own (anonymous: somebody's): only its owner removes it; signed out, sign in first.
    expect: only(SIGNED_IN, (c) => (c === 'anonymous' ? 'SMA08' : 'SME03')),
    async vars(caller) {
      const owner = userIdOf(caller) ?? userIdOf('driver');
      const [v] = await ownerQuery(
        `insert into app_public.vehicles (user_id, plate) values ($1, $2) returning id::text`,
        [owner, `R${(made += 1)}`],
      );
      return { id: v.id };
    },
    async check(data, vars) {
      assert.is(data.removeVehicle.result.rowId, vars.id);
      assert.equal(await ownerQuery('select id from app_public.vehicles where id = $1', [vars.id]), []);
    },
  },
};

let cells = 0;

for (const [name, op] of Object.entries(OPERATIONS)) {
  test(`${name}: each caller`, async () => {
    const wrong: string[] = [];
    for (const caller of STAFF_CALLERS) {
      const vars = await op.vars(caller);
      const expected = op.expect(caller);
      const before = expected === null ? null : await staffTablesDigest(ctx.db);
      const res = await ctx.api.gql(op.query, vars, ctx.callers[caller].headers);
      cells += 1;
      if (expected === null) {
        if (res.errors) {
          wrong.push(`${caller}: expected it allowed, got ${res.errors[0].extensions?.code} ${res.errors[0].message}`);
          continue;
        }
        try {
          await op.check(res.data, vars, caller);
        } catch (err) {
          wrong.push(`${caller}: allowed, but ${(err as Error).message}`);
        }
      } else {
        const got = res.errors?.[0]?.extensions?.code;
        if (got !== expected || res.status >= 500)
          wrong.push(`${caller}: expected ${expected}, got ${res.status} ${got ?? JSON.stringify(res.data)}`);
        const after = await staffTablesDigest(ctx.db);
        if (JSON.stringify(after) !== JSON.stringify(before)) wrong.push(`${caller}: refused but changed something`);
      }
    }
    assert.equal(wrong, []);
  });
}

test('the matrix covered every cell', () => {
  assert.is(cells, Object.keys(OPERATIONS).length * STAFF_CALLERS.length);
});

test.run();
