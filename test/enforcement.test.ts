// Vehicles and enforcement over GraphQL: a plate given to reserve, saved
// vehicles, and the officers' lookup before, during and after a
// reservation, at the right and the wrong spot, each lookup audited; the
// enforcement role sees nothing else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSpot } from './helpers/spots.ts';
import { useStaffApi } from './helpers/staff.ts';
import { hoursFromNow, writeCounts } from './helpers/reservations.ts';

const ctx = useStaffApi(import.meta.filename, test);

const RESERVE = `mutation ($spot: BigInt!, $from: Datetime, $plate: String, $state: String) {
  reserve(input: { spotId: $spot, startsAt: $from, durationMinutes: 60, plate: $plate, plateState: $state }) {
    result { reservation { rowId plate plateState } } } }`;
const LOOKUP = `mutation ($plate: String!, $state: String, $spot: BigInt) {
  enforcementLookup(input: { plate: $plate, plateState: $state, spotId: $spot }) { result { plate plateState spotId valid validUntil timeZone } } }`;

async function lookup(plate: string, spot?: string, state: string | null = 'NY') {
  const res = await ctx.api.gql(LOOKUP, { plate, state, spot }, ctx.callers.enforcement.headers);
  assert.is(res.errors, undefined, JSON.stringify(res.errors));
  return res.data.enforcementLookup.result;
}

let n = 0;
const spot = () => createSpot(ctx.db, { lat: 40.71 + (n += 1) * 1e-3, lng: -73.99 });

test('reserve takes an optional plate; a malformed one is refused and nothing written', async () => {
  const s = await spot();
  const res = await ctx.api.gql(RESERVE, { spot: s, plate: 'ab-12 cd', state: 'ny' }, ctx.callers.driver.headers);
  assert.equal(res.data.reserve.result.reservation.plate, 'AB12CD');
  assert.is(res.data.reserve.result.reservation.plateState, 'NY');
  const none = await ctx.api.gql(RESERVE, { spot: await spot() }, ctx.callers.driver.headers);
  assert.is(none.data.reserve.result.reservation.plate, null, 'the plate stays optional');
  const before = await writeCounts(ctx.db);
  const bad = await ctx.api.gql(RESERVE, { spot: await spot(), plate: 'NOT A PLATE!' }, ctx.callers.driver.headers);
  assert.is(bad.errors?.[0]?.extensions?.code, 'SME01');
  assert.equal(await writeCounts(ctx.db), before);
});

test('the lookup before, during and after a reservation, and at another spot', async () => {
  // Setup: a reservation starting in two hours for plate TAXI42 (NY).
  const s = await spot();
  const other = await spot();
  const made = await ctx.api.gql(
    RESERVE,
    { spot: s, from: hoursFromNow(2), plate: 'TAXI42', state: 'NY' },
    ctx.callers.driver.headers,
  );
  const id = made.data.reserve.result.reservation.rowId;
  const audited = async () =>
    (
      await ctx.db.owner.query(
        `select count(*)::int as n from app_public.audit_log where table_name = 'enforcement_lookups' and action = 'lookup'`,
      )
    ).rows[0].n;
  const auditedBefore = await audited();

  // Before: not yet valid.
  assert.equal(await lookup('taxi 42', s), {
    plate: 'TAXI42',
    plateState: 'NY',
    spotId: s,
    valid: false,
    validUntil: null,
    timeZone: 'America/New_York',
  });

  // During: the owner moves the window over now (the clock of the database decides).
  await ctx.db.owner.query(
    `update app_public.reservations set period = tstzrange(now() - interval '10 minutes', now() + interval '50 minutes'),
    status = 'confirmed', hold_expires_at = null where id = $1`,
    [id],
  );
  const during = await lookup('TAXI42', s);
  assert.is(during.valid, true);
  const {
    rows: [r],
  } = await ctx.db.owner.query('select upper(period) as ends from app_public.reservations where id = $1', [id]);
  assert.is(new Date(during.validUntil).getTime(), r.ends.getTime());
  assert.equal(await lookup('TAXI42'), { ...during, spotId: s }, 'without a spot: the spot it holds');
  assert.is((await lookup('TAXI42', other)).valid, false, 'another spot');
  assert.is((await lookup('TAXI42', s, 'NJ')).valid, false, 'another state');
  assert.is((await lookup('TAXI42', s, null)).valid, true, 'state not given');

  // After: ended and completed.
  await ctx.db.owner.query(
    `update app_public.reservations set period = tstzrange(now() - interval '2 hours', now() - interval '1 hour'),
    status = 'completed' where id = $1`,
    [id],
  );
  assert.is((await lookup('TAXI42', s)).valid, false);

  // Every lookup is in the audit log.
  assert.is(await audited(), auditedBefore + 7);
  const {
    rows: [entry],
  } = await ctx.db.owner.query(
    `select actor_user_id::text, actor_role, new_values from app_public.audit_log where table_name = 'enforcement_lookups' order by id desc limit 1`,
  );
  assert.equal(
    [entry.actor_user_id, entry.actor_role, entry.new_values.plate, entry.new_values.valid],
    [ctx.callers.enforcement.user!.id, 'enforcement', 'TAXI42', false],
  );
});

test("the spot by the city's meter number on its sign: the same answer as by its id; an unknown meter, or both given, SMS04", async () => {
  const s = await spot();
  await ctx.db.owner.query(`update app_public.spots set external_id = $2 where id = $1`, [s, `30${s}74`]);
  const made = await ctx.api.gql(RESERVE, { spot: s, plate: 'METER1', state: 'NY' }, ctx.callers.driver.headers);
  await ctx.db.owner.query(
    `update app_public.reservations set status = 'confirmed', hold_expires_at = null where id = $1`,
    [made.data.reserve.result.reservation.rowId],
  );
  const BY_METER = `mutation ($plate: String!, $meter: String, $spot: BigInt) {
    enforcementLookup(input: { plate: $plate, meterNumber: $meter, spotId: $spot }) { result { spotId valid } } }`;
  const ask = (meter: string, spotId?: string) =>
    ctx.api.gql(BY_METER, { plate: 'METER1', meter, spot: spotId }, ctx.callers.enforcement.headers);
  assert.equal((await ask(` 30${s}74 `)).data.enforcementLookup.result, { spotId: s, valid: true });
  assert.equal((await ask(`30${s}74`)).data.enforcementLookup.result, {
    spotId: s,
    valid: (await lookup('METER1', s)).valid,
  });
  // The driver's emails carry it too.
  const {
    rows: [mail],
  } = await ctx.db.owner.query(
    `select data->>'meterNumber' as meter from app_private.emails where (data->>'reservationId') = $1`,
    [made.data.reserve.result.reservation.rowId],
  );
  assert.is(mail.meter, `30${s}74`);
  for (const [meter, spotId] of [
    ['99999999', undefined],
    [`30${s}74`, s],
  ] as const) {
    const res = await ask(meter, spotId);
    assert.is(res.errors?.[0]?.extensions?.code, 'SMS04', `${meter} ${spotId}`);
  }
});

test('a hold protects a plate until it ends, and only once a day: after a hold lapsed without a card mid-stay, the next does not', async () => {
  const guest = { email: `holds.${process.pid}@example.test` };
  const RESERVE_NOW = `mutation ($spot: BigInt!, $plate: String, $state: String, $email: String) {
    reserve(input: { spotId: $spot, durationMinutes: 60, plate: $plate, plateState: $state, email: $email }) {
      result { reservation { rowId holdExpiresAt } } } }`;
  const holdNow = async (plate: string, state = 'NY') => {
    const res = await ctx.api.gql(RESERVE_NOW, { spot: await spot(), plate, state, ...guest });
    assert.is(res.errors, undefined, JSON.stringify(res.errors));
    return res.data.reserve.result.reservation as { rowId: string; holdExpiresAt: string };
  };
  // A first hold, card still to come: valid until the hold ends, not the stay.
  const first = await holdNow('HOLD01');
  const asHeld = await lookup('HOLD01');
  assert.is(asHeld.valid, true);
  assert.is(new Date(asHeld.validUntil).getTime(), new Date(first.holdExpiresAt).getTime());
  // It lapses with no card (its stay had begun); a second hold right after protects nothing.
  await ctx.db.owner.query(
    `update app_public.reservations set status = 'expired', hold_expires_at = null where id = $1`,
    [first.rowId],
  );
  const second = await holdNow('HOLD01');
  assert.equal(await lookup('HOLD01'), {
    plate: 'HOLD01',
    plateState: 'NY',
    spotId: null,
    valid: false,
    validUntil: null,
    timeZone: null,
  });
  // Nor does one given another state: the state is the driver's word, and officers may not ask for it.
  await ctx.db.owner.query(
    `update app_public.reservations set status = 'expired', hold_expires_at = null where id = $1`,
    [second.rowId],
  );
  const restated = await holdNow('HOLD01', 'NJ');
  assert.is((await lookup('HOLD01', undefined, null)).valid, false, 'state not given');
  assert.is((await lookup('HOLD01', undefined, 'NJ')).valid, false, 'the state the hold was given');
  // Confirmed (a card given), it is valid again.
  await ctx.db.owner.query('select app_private.confirm_held_reservation($1)', [restated.rowId]);
  assert.is((await lookup('HOLD01', undefined, 'NJ')).valid, true);
  // Another plate's lapsed hold changes nothing for this one.
  await holdNow('HOLD02');
  assert.is((await lookup('HOLD02')).valid, true);
});

test('a reservation booked without the plate state holds whatever state the officer reads', async () => {
  const s = await spot();
  const made = await ctx.api.gql(RESERVE, { spot: s, plate: 'NOSTATE1' }, ctx.callers.driver.headers);
  const id = made.data.reserve.result.reservation.rowId;
  await ctx.db.owner.query(`select app_private.confirm_held_reservation($1)`, [id]);
  assert.is((await lookup('NOSTATE1', s, null)).valid, true);
  assert.is((await lookup('NOSTATE1', s, 'NY')).valid, true, 'the officer gives the state they read');
  assert.is((await lookup('NOSTATE1', undefined, 'NJ')).valid, true);
});

test('saved vehicles: own only', async () => {
  const saved = await ctx.api.gql(
    `mutation { saveVehicle(input: { plate: "own 1", plateState: "ny" }) { result { rowId } } }`,
    {},
    ctx.callers.driver.headers,
  );
  const id = saved.data.saveVehicle.result.rowId;
  const again = await ctx.api.gql(
    `mutation { saveVehicle(input: { plate: "OWN1", plateState: "NY", label: "Car" }) { result { rowId label } } }`,
    {},
    ctx.callers.driver.headers,
  );
  assert.equal(again.data.saveVehicle.result, { rowId: id, label: 'Car' }, 'saving again updates the label');
  const mine = await ctx.api.gql(`query { vehicles { nodes { rowId plate } } }`, {}, ctx.callers.driver.headers);
  assert.equal(mine.data.vehicles.nodes, [{ rowId: id, plate: 'OWN1' }]);
  const theirs = await ctx.api.gql(`query { vehicles { nodes { rowId } } }`, {}, ctx.callers.analyst.headers);
  assert.equal(theirs.data.vehicles.nodes, []);
  const steal = await ctx.api.gql(
    `mutation ($id: BigInt!) { removeVehicle(input: { vehicleId: $id }) { clientMutationId } }`,
    { id },
    ctx.callers.analyst.headers,
  );
  assert.is(steal.errors?.[0]?.extensions?.code, 'SME03');
});

test('an enforcement officer sees nothing else: no customers, other reservations, users or audit', async () => {
  const h = ctx.callers.enforcement.headers;
  const res = await ctx.api.gql(`query { reservations { totalCount } users { totalCount } }`, {}, h);
  assert.equal(res.data, { reservations: { totalCount: 0 }, users: { totalCount: 1 } }, 'only themself');
  assert.equal((await ctx.api.gql(`query { customers { totalCount } }`, {}, h)).data, { customers: { totalCount: 0 } });
  assert.is((await ctx.api.gql(`query { auditEntries { totalCount } }`, {}, h)).errors?.[0]?.extensions?.code, 'SMA10');
  assert.is(
    (await ctx.api.gql(`query { searchCustomers(query: "a") { totalCount } }`, {}, h)).errors?.[0]?.extensions?.code,
    'SMC01',
  );
});

test.run();
