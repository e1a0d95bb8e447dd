// Following the graph never fails for lack of privilege: every relation the API
// shows, from a public spot or from the caller's own user, answers for every
// kind of caller, with exactly the rows row level security lets that caller
// see. (A table granted to fewer roles used to fail the whole statement with
// 42501, so a public spot asked for with its reservations came back null.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSpot } from './helpers/spots.ts';
import { STAFF_CALLERS, type StaffCaller, useStaffApi, ZONE } from './helpers/staff.ts';

const ctx = useStaffApi(import.meta.filename, test);

const STAFF: StaffCaller[] = ['admin', 'operator in zone', 'operator out of zone'];

const GRAPH = `query ($spot: BigInt!) {
  spot(rowId: $spot) {
    rowId
    reservations(first: 10) { nodes { rowId user { rowId } } }
    savedSpots(first: 10) { nodes { userId user { rowId } } }
    spotChanges(first: 10) { nodes { syncRun { rowId } } }
  }
  currentUser {
    rowId
    customer { email customerNotes(first: 10) { totalCount } reservations(first: 10) { totalCount } payments(first: 10) { totalCount } }
    operatorZones(first: 10) { nodes { borough } }
    vehicles(first: 10) { nodes { plate } }
    savedSpots(first: 10) { nodes { spotId } }
    reservations(first: 10) { nodes { rowId } }
  }
  customers(first: 10) { totalCount }
  customerNotes(first: 10) { totalCount }
  operatorZones(first: 10) { totalCount }
  spotSyncRuns(first: 10) { totalCount }
  vehicles(first: 10) { totalCount }
}`;

test('every relation answers for every caller, with only the rows that caller may see', async () => {
  const { db, api, callers } = ctx;
  const spot = await createSpot(db, { lat: 40.69, lng: -73.99, borough: ZONE });
  const driver = callers.driver.user!;
  const [run] = (
    await db.owner.query(
      `insert into app_public.spot_sync_runs (source_url, outcome) values ('http://example.test/m.csv', 'failed') returning id`,
    )
  ).rows;
  // The spot's history row, as if the sync had made the spot.
  await db.owner.query('update app_public.spot_changes set sync_run_id = $2 where spot_id = $1', [spot, run.id]);
  const {
    rows: [own, guest],
  } = await db.owner.query(
    `insert into app_public.reservations (spot_id, user_id, email, period, status, amount, currency)
     values ($1, $2, $3, tstzrange(now() + interval '1 hour', now() + interval '2 hours'), 'confirmed', 300, 'USD'),
            ($1, null, 'guest@example.test', tstzrange(now() + interval '3 hours', now() + interval '4 hours'), 'confirmed', 300, 'USD')
     returning id::text`,
    [spot, driver.id, driver.email],
  );
  await db.owner.query('insert into app_public.saved_spots (user_id, spot_id) values ($1, $2)', [driver.id, spot]);
  await db.owner.query(`insert into app_public.vehicles (user_id, plate) values ($1, 'GRAPH1')`, [driver.id]);
  const [customer] = (await db.owner.query('select id from app_public.customers where user_id = $1', [driver.id])).rows;
  await db.owner.query(`insert into app_public.customer_notes (customer_id, body) values ($1, 'Called')`, [
    customer.id,
  ]);

  const wrong: string[] = [];
  for (const caller of STAFF_CALLERS) {
    const res = await api.gql(GRAPH, { spot }, callers[caller].headers);
    if (res.errors) {
      wrong.push(`${caller}: ${res.errors[0].extensions?.code} ${res.errors[0].message}`);
      continue;
    }
    const d = res.data;
    const staff = STAFF.includes(caller);
    const isDriver = caller === 'driver';
    const expect = (what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got) !== JSON.stringify(want))
        wrong.push(`${caller}: ${what} ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    };
    expect('spot', d.spot?.rowId, spot);
    // Staff see every reservation and the driver behind it; a driver only their own; others none.
    const reservationIds = d.spot.reservations.nodes.map((n: any) => n.rowId).sort();
    expect('spot reservations', reservationIds, staff ? [own.id, guest.id].sort() : isDriver ? [own.id] : []);
    if (staff || isDriver)
      expect(
        "the own reservation's user",
        d.spot.reservations.nodes.find((n: any) => n.rowId === own.id)?.user?.rowId,
        driver.id,
      );
    // Saved spots are each driver's own, even from staff.
    expect(
      'spot savedSpots',
      d.spot.savedSpots.nodes,
      isDriver ? [{ userId: driver.id, user: { rowId: driver.id } }] : [],
    );
    expect('sync runs behind spot changes', d.spot.spotChanges.nodes, [
      { syncRun: staff ? { rowId: String(run.id) } : null },
    ]);
    expect('spotSyncRuns', d.spotSyncRuns.totalCount, staff ? 1 : 0);
    expect('customers', d.customers.totalCount > 0, staff);
    expect('customerNotes', d.customerNotes.totalCount, staff ? 1 : 0);
    expect('vehicles', d.vehicles.totalCount, isDriver ? 1 : 0);
    // Zones: the admin sees both operators'; each operator their own; no one else any.
    expect(
      'operatorZones',
      d.operatorZones.totalCount,
      { admin: 2, 'operator in zone': 1, 'operator out of zone': 1 }[caller as string] ?? 0,
    );
    if (caller === 'anonymous') {
      expect('currentUser', d.currentUser, null);
      continue;
    }
    const me = d.currentUser;
    expect('currentUser', me?.rowId, callers[caller].user!.id);
    // A driver's own customer row is staff data: the driver does not read it, staff would.
    expect('currentUser customer', me.customer, null);
    expect('own vehicles', me.vehicles.nodes, isDriver ? [{ plate: 'GRAPH1' }] : []);
    expect('own saved spots', me.savedSpots.nodes, isDriver ? [{ spotId: spot }] : []);
    expect('own reservations', me.reservations.nodes, isDriver ? [{ rowId: own.id }] : []);
    expect(
      'own zones',
      me.operatorZones.nodes,
      caller === 'operator in zone'
        ? [{ borough: ZONE }]
        : caller === 'operator out of zone'
          ? [{ borough: 'Queens' }]
          : [],
    );
  }
  assert.equal(wrong, []);
});

test('the same relations for staff reading a driver: the customer, its notes and reservations', async () => {
  const { api, callers } = ctx;
  const driver = callers.driver.user!;
  const q = `query ($id: BigInt!) { user(rowId: $id) { rowId customer { email customerNotes { totalCount } payments { totalCount } } vehicles { totalCount } } }`;
  const seen: Record<string, unknown> = {};
  for (const caller of STAFF_CALLERS) {
    const res = await api.gql(q, { id: driver.id }, callers[caller].headers);
    seen[caller] = res.errors
      ? res.errors[0].extensions?.code
      : res.data.user && { customer: res.data.user.customer?.email ?? null };
  }
  const asStaff = { customer: driver.email };
  assert.equal(seen, {
    admin: asStaff,
    'operator in zone': asStaff,
    'operator out of zone': asStaff,
    enforcement: null,
    driver: { customer: null },
    analyst: null,
    anonymous: null,
  });
});

test.run();
