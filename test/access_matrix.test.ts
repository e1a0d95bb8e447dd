// Who may do what to a reservation, through GraphQL over HTTP: every
// reservation, payment and block operation × every caller (anonymous,
// anonymous with another reservation's real manage token, another driver, an
// analyst, an operator, an operator whose zones do not hold the spot, an
// admin, and the row's rightful party) × every kind
// of row (a signed-in driver's reservation, a guest's, an operator's block, a
// guest reservation claimed by its driver at sign-in). Rows are made by the
// product's own functions (reserve, card set-up, the worker's charge). An
// allowed cell checks the row the API returned and the change in the
// database; a refused cell checks the documented code and that nothing
// changed (the row, its events, emails, jobs, payment rows and Stripe).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, identityOf, type TestDb, ANON, callAs } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { createSignedInUser, signIn } from './helpers/auth.ts';
import type { StripeEmulator } from '../stripe-emulator/index.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import {
  browserConfirmsSetup,
  chargeThroughWorker,
  startEmulator,
  stripeConfigFor,
  useEmulatorInEnv,
} from './helpers/payments.ts';
import { hoursFromNow, reserve } from './helpers/reservations.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { closeMailTransports } from '../lib/mail_transport.ts';

let db: TestDb;
let api: TestApi;
let emulator: StripeEmulator;
let smtp: SmtpSink;

type User = Awaited<ReturnType<typeof createSignedInUser>>;
let driver: User;
let claimant: User;
let blocker: User;
let callers: Record<Caller, { headers: Record<string, string>; token: string | null }>;
let rate: number;

const CALLERS = [
  'anonymous',
  'anonymous with another token',
  'another driver',
  'analyst',
  'operator',
  'operator of another zone',
  'admin',
  'rightful party',
] as const;
type Caller = (typeof CALLERS)[number];
const TARGETS = ['driver', 'guest', 'block', 'claimed'] as const;
type Target = (typeof TARGETS)[number];
/** What state an operation needs its row in. */
type State = 'upcoming' | 'started' | 'setUp' | 'charged';

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  emulator = await startEmulator();
  smtp = await startSmtpSink();
  useEmulatorInEnv(emulator);
  Object.assign(process.env, { SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port) });
  // Dozens of rows set up with the one test card (pm_card_visa): past the per-card bound (SMP09) otherwise.
  api = await startApi(db, { stripe: stripeConfigFor(emulator), cardUpcomingMax: 1_000_000 });
  // No webhooks: a card set up at Stripe stays unconfirmed until confirmReservationPayment.
  emulator.setWebhook(null);
  rate = await createRate(db, { hourlyPrice: 300, minimumCharge: 500 });
  driver = await createSignedInUser(db, api);
  claimant = await createSignedInUser(db, api, { email: 'claimant@example.com' });
  blocker = await createSignedInUser(db, api, { role: 'operator' });
  const attackerToken = (
    await reserve(db, ANON, {
      spotId: await spot(),
      startsAt: at(30),
      durationMinutes: 30,
      email: 'attacker@example.com',
    })
  ).manage_token!;
  callers = {
    anonymous: { headers: {}, token: null },
    'anonymous with another token': { headers: {}, token: attackerToken },
    'another driver': { headers: (await createSignedInUser(db, api)).headers, token: null },
    analyst: { headers: (await createSignedInUser(db, api, { role: 'analyst' })).headers, token: null },
    operator: { headers: (await createSignedInUser(db, api, { role: 'operator' })).headers, token: null },
    'operator of another zone': { headers: (await zonedOperator('Queens')).headers, token: null },
    admin: { headers: (await createSignedInUser(db, api, { role: 'admin' })).headers, token: null },
    // Filled per row: the owner's session, the guest's own token, the claimant's session.
    'rightful party': { headers: {}, token: null },
  };
});

/** An operator acting in one borough only; the file's spots have none, so all are outside it. */
async function zonedOperator(borough: string): Promise<User> {
  const operator = await createSignedInUser(db, api, { role: 'operator' });
  await db.owner.query('insert into app_public.operator_zones (user_id, borough) values ($1, $2)', [
    operator.id,
    borough,
  ]);
  return operator;
}

test.after(async () => {
  await api?.close();
  closeMailTransports();
  await emulator?.close();
  await smtp?.close();
  await db?.close();
});

// Every instant of the file derives from one fixed base, so an hour boundary
// passing mid-run cannot shift one window against another.
const BASE = hoursFromNow(0);
const at = (hours: number) => new Date(BASE.getTime() + hours * 3600e3);

let spots = 0;
const spot = () => createSpot(db, { lat: 40.7 + (spots += 1) * 0.0005, lng: -73.99, rateId: rate });

interface Row {
  id: string;
  target: Target;
  rightful: { headers: Record<string, string>; token: string | null };
}

/** A row of one kind in one state, made as the product makes it. */
async function makeRow(target: Target, state: State): Promise<Row> {
  const window =
    state === 'started' || state === 'charged' ? { durationMinutes: 60 } : { startsAt: at(2), durationMinutes: 60 };
  let row: Row;
  if (target === 'block') {
    const [from, to] = 'startsAt' in window ? [at(2), at(3)] : [new Date(), at(1)];
    const [b] = await callAs(db, identityOf(blocker), 'select (app_public.block_spot($1, $2, $3)).id::text as id', [
      await spot(),
      from,
      to,
    ]);
    return { id: b.id, target, rightful: { headers: blocker.headers, token: null } };
  }
  if (target === 'driver') {
    const r = await reserve(db, identityOf(driver), { spotId: await spot(), ...window });
    row = { id: r.id, target, rightful: { headers: driver.headers, token: null } };
  } else if (target === 'guest') {
    const r = await reserve(db, ANON, { spotId: await spot(), email: 'guest@example.com', ...window });
    row = { id: r.id, target, rightful: { headers: {}, token: r.manage_token } };
  } else {
    // A guest reservation on the claimant's address, claimed when the claimant signs in.
    const r = await reserve(db, ANON, { spotId: await spot(), email: claimant.email, ...window });
    const session = await signIn(api, claimant.email);
    const {
      rows: [claimed],
    } = await db.owner.query('select user_id::text from app_public.reservations where id = $1', [r.id]);
    assert.is(claimed.user_id, claimant.id, 'claimed at sign-in');
    row = { id: r.id, target, rightful: { headers: session.headers, token: null } };
  }
  if (state === 'setUp' || state === 'charged' || state === 'started') {
    const setUp = await call(SETUP, row, row.rightful);
    assert.is(setUp.errors, undefined, JSON.stringify(setUp.errors));
    await browserConfirmsSetup(emulator, setUp.data.setupReservationPayment.setupIntentId, 'pm_card_visa');
  }
  // Parked with a card on file (one still held would expire when ended; one confirmed without a
  // card would fail its charge and leave its driver unpaid, SMB13).
  if (state === 'charged' || state === 'started') {
    assert.is((await call(CONFIRM, row, row.rightful)).data?.confirmReservationPayment.reservationStatus, 'confirmed');
  }
  if (state === 'charged') {
    assert.is((await call(END, row, row.rightful)).data?.endReservation.result.reservation.status, 'completed');
  }
  return row;
}

const MY_READ = `query ($id: BigInt!) { myReservation(reservationId: $id) { rowId status } }`;
const GUEST_READ = `query ($id: BigInt!, $t: String) { guestReservation(reservationId: $id, manageToken: $t) { rowId status } }`;
const CHANGE = `mutation ($id: BigInt!, $t: String, $endsAt: Datetime!) {
  changeReservationEnd(input: { reservationId: $id, manageToken: $t, endsAt: $endsAt }) { result { reservation { rowId status endsAt } } } }`;
const END = `mutation ($id: BigInt!, $t: String) { endReservation(input: { reservationId: $id, manageToken: $t }) { result { reservation { rowId status } } } }`;
const CANCEL = `mutation ($id: BigInt!, $t: String) { cancelReservation(input: { reservationId: $id, manageToken: $t }) { result { reservation { rowId status } } } }`;
const VEHICLE = `mutation ($id: BigInt!, $t: String) {
  setReservationVehicle(input: { reservationId: $id, manageToken: $t, plate: "mtx 42", plateState: "ny" }) { result { reservation { rowId plate plateState } } } }`;
const SETUP = `mutation ($id: BigInt!, $t: String) {
  setupReservationPayment(input: { reservationId: $id, manageToken: $t }) { reservationId reservationStatus setupIntentId setupIntentStatus clientSecret } }`;
const CONFIRM = `mutation ($id: BigInt!, $t: String) { confirmReservationPayment(input: { reservationId: $id, manageToken: $t }) { reservationId reservationStatus } }`;
const REFUND = `mutation ($id: BigInt!) { refundReservation(input: { reservationId: $id }) { reservationId amount currency status refundedTotal } }`;
const UNBLOCK = `mutation ($id: BigInt!) { unblockSpot(input: { blockId: $id }) { result { rowId status } } }`;

const END_QUOTE = `query ($id: BigInt!, $t: String, $endsAt: Datetime!) {
  reservationEndQuote(reservationId: $id, manageToken: $t, endsAt: $endsAt) { amount currency } }`;

const NEW_END = at(4).toISOString();

function call(query: string, row: Row, who: { headers: Record<string, string>; token: string | null }) {
  return api.gql(query, { id: row.id, t: who.token, endsAt: NEW_END }, who.headers);
}

/** The row and everything hanging off it, plus Stripe's counts: what a refusal must leave alone. */
async function snapshot(id: string): Promise<unknown> {
  const {
    rows: [s],
  } = await db.owner.query(
    `select
    (select to_jsonb(r) from app_public.reservations r where r.id = $1) as row,
    (select count(*) from app_private.reservation_events e where e.reservation_id = $1)::int as events,
    (select count(*) from app_private.emails)::int as emails,
    (select count(*) from graphile_worker.jobs)::int as jobs,
    (select count(*) from app_private.setup_intents si where si.reservation_id = $1)::int as setup_intents,
    (select count(*) from app_private.charges c where c.reservation_id = $1)::int as charges,
    (select count(*) from app_private.refunds)::int as refunds`,
    [id],
  );
  const { requests, customers, setup_intents, payment_intents, refunds } = emulator.state();
  return { ...s, stripe: { requests, customers, setup_intents, payment_intents, refunds } };
}

async function dbRow(id: string) {
  const {
    rows: [r],
  } = await db.owner.query(
    `select status::text, upper(period) as ends_at, user_id::text from app_public.reservations where id = $1`,
    [id],
  );
  return r;
}

interface Operation {
  query: string;
  state: State;
  /** The code refusing this caller on this row, or null when allowed. */
  refusal(caller: Caller, target: Target): string | null;
  /** For an allowed cell: checks the answer and what changed. */
  allowed(row: Row, data: any): Promise<void>;
}

const isStaff = (c: Caller) => c === 'operator' || c === 'operator of another zone' || c === 'admin';
/** Staff, or a block's rightful party: the operator who made it. */
const staffOn = (c: Caller, t: Target) => isStaff(c) || (c === 'rightful party' && t === 'block');
const onReservation = (rightfulToo: boolean) => (c: Caller, t: Target) =>
  t === 'block' ? 'SMB06' : isStaff(c) || (rightfulToo && c === 'rightful party') ? null : 'SMB06';
/** A change: staff read every row but change another's only on a spot in their zones (SMO02). */
const inZones =
  (refusal: (c: Caller, t: Target) => string | null) =>
  (c: Caller, t: Target): string | null =>
    c === 'operator of another zone' && refusal('operator', t) === null ? 'SMO02' : refusal(c, t);

const OPERATIONS: Record<string, Operation> = {
  myReservation: {
    query: MY_READ,
    state: 'upcoming',
    refusal: (c, t) => {
      if (c.startsWith('anonymous') || (c === 'rightful party' && t === 'guest')) return 'SMB11';
      // Every other rightful party is signed in: the owner, the claimant, the blocking operator.
      return isStaff(c) || c === 'rightful party' ? null : 'SMB06';
    },
    async allowed(row, data) {
      assert.equal(data.myReservation, { rowId: row.id, status: (await dbRow(row.id)).status });
    },
  },
  guestReservation: {
    query: GUEST_READ,
    state: 'upcoming',
    refusal: onReservation(true),
    async allowed(row, data) {
      assert.equal(data.guestReservation, { rowId: row.id, status: 'held' });
    },
  },
  reservationEndQuote: {
    query: END_QUOTE,
    state: 'upcoming',
    refusal: onReservation(true),
    async allowed(row, data) {
      // 2 h at the file's rate, as booked; nothing written (the refusal snapshot covers the rest).
      const {
        rows: [q],
      } = await db.owner.query(
        `select (app_hidden.quote_rate(s.rate_id, tstzrange(lower(r.period), $2::timestamptz))).amount
         from app_public.reservations r join app_public.spots s on s.id = r.spot_id where r.id = $1`,
        [row.id, NEW_END],
      );
      assert.equal(data.reservationEndQuote, { amount: q.amount, currency: 'USD' });
    },
  },
  changeReservationEnd: {
    query: CHANGE,
    state: 'upcoming',
    refusal: inZones(onReservation(true)),
    async allowed(row, data) {
      const r = data.changeReservationEnd.result.reservation;
      assert.is(r.rowId, row.id);
      assert.is(new Date(r.endsAt).toISOString(), NEW_END);
      assert.is((await dbRow(row.id)).ends_at.toISOString(), NEW_END);
    },
  },
  endReservation: {
    query: END,
    state: 'started',
    refusal: inZones(onReservation(true)),
    async allowed(row, data) {
      assert.equal(data.endReservation.result.reservation, { rowId: row.id, status: 'completed' });
      assert.is((await dbRow(row.id)).status, 'completed');
    },
  },
  setReservationVehicle: {
    query: VEHICLE,
    state: 'upcoming',
    refusal: inZones(onReservation(true)),
    async allowed(row, data) {
      assert.equal(data.setReservationVehicle.result.reservation, { rowId: row.id, plate: 'MTX42', plateState: 'NY' });
      const { rows } = await db.owner.query('select plate, plate_state from app_public.reservations where id = $1', [
        row.id,
      ]);
      assert.equal(rows, [{ plate: 'MTX42', plate_state: 'NY' }]);
    },
  },
  cancelReservation: {
    query: CANCEL,
    state: 'upcoming',
    refusal: inZones(onReservation(true)),
    async allowed(row, data) {
      assert.equal(data.cancelReservation.result.reservation, { rowId: row.id, status: 'cancelled' });
      assert.is((await dbRow(row.id)).status, 'cancelled');
    },
  },
  setupReservationPayment: {
    query: SETUP,
    state: 'upcoming',
    refusal: inZones(onReservation(true)),
    async allowed(row, data) {
      const p = data.setupReservationPayment;
      assert.is(p.reservationId, row.id);
      assert.is(p.reservationStatus, 'held');
      assert.is(p.setupIntentStatus, 'requires_payment_method');
      assert.ok(p.clientSecret?.startsWith(`${p.setupIntentId}_secret`), p.clientSecret);
      const { rows } = await db.owner.query(
        'select stripe_setup_intent_id from app_private.setup_intents where reservation_id = $1',
        [row.id],
      );
      assert.equal(
        rows.map((r) => r.stripe_setup_intent_id),
        [p.setupIntentId],
      );
    },
  },
  confirmReservationPayment: {
    query: CONFIRM,
    state: 'setUp',
    refusal: inZones(onReservation(true)),
    async allowed(row, data) {
      assert.equal(data.confirmReservationPayment, { reservationId: row.id, reservationStatus: 'confirmed' });
      assert.is((await dbRow(row.id)).status, 'confirmed');
    },
  },
  refundReservation: {
    query: REFUND,
    state: 'charged',
    // A block is no reservation: SMB06, as every reservation operation answers it.
    refusal: inZones((c, t) => (!staffOn(c, t) ? 'SMP05' : t === 'block' ? 'SMB06' : null)),
    async allowed(row, data) {
      const {
        rows: [charge],
      } = await db.owner.query(
        `select amount, currency from app_private.charges where reservation_id = $1 and status = 'succeeded'`,
        [row.id],
      );
      assert.is(charge.amount, 500, 'the rate’s minimum charge, computed by the product');
      assert.equal(data.refundReservation, {
        reservationId: row.id,
        amount: charge.amount,
        currency: charge.currency,
        status: 'succeeded',
        refundedTotal: charge.amount,
      });
      const { rows } = await db.owner.query(
        `select f.amount, f.status from app_private.refunds f join app_private.charges c on c.id = f.charge_id where c.reservation_id = $1`,
        [row.id],
      );
      assert.equal(rows, [{ amount: 500, status: 'succeeded' }]);
    },
  },
  unblockSpot: {
    query: UNBLOCK,
    state: 'upcoming',
    refusal: inZones((c, t) => (!staffOn(c, t) ? 'SMB10' : t === 'block' ? null : 'SMB06')),
    async allowed(row, data) {
      assert.equal(data.unblockSpot.result, { rowId: row.id, status: 'cancelled' });
      assert.is((await dbRow(row.id)).status, 'cancelled');
    },
  },
};

/** Rows of the states the operations need, charged ones through the worker's real charge. */
async function rowsFor(needs: Array<[Target, State]>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [target, state] of needs) rows.push(await makeRow(target, state));
  const charged = rows.filter((r, i) => needs[i][1] === 'charged' && r.target !== 'block');
  if (charged.length > 0)
    await chargeThroughWorker(
      db,
      charged.map((r) => r.id),
    );
  return rows;
}

let cells = 0;

for (const [name, op] of Object.entries(OPERATIONS)) {
  test(`${name}: each caller on each kind of row`, async () => {
    // Setup: one row per kind for the refused callers, one fresh row per allowed cell.
    const refusedRows = new Map<Target, Row>();
    const allowedCells: Array<[Caller, Target]> = [];
    for (const target of TARGETS) {
      for (const caller of CALLERS) if (op.refusal(caller, target) === null) allowedCells.push([caller, target]);
    }
    const made = await rowsFor([
      ...TARGETS.map((t) => [t, op.state] as [Target, State]),
      ...allowedCells.map(([, t]) => [t, op.state] as [Target, State]),
    ]);
    for (const [i, t] of TARGETS.entries()) refusedRows.set(t, made[i]);
    const fresh = made.slice(TARGETS.length);

    const wrong: string[] = [];
    // Refused cells: the documented code, and nothing changed.
    for (const target of TARGETS) {
      const row = refusedRows.get(target)!;
      for (const caller of CALLERS) {
        const expected = op.refusal(caller, target);
        if (expected === null) continue;
        const who = caller === 'rightful party' ? row.rightful : callers[caller];
        const before = await snapshot(row.id);
        const res = await call(op.query, row, who);
        cells += 1;
        const got = res.errors?.[0]?.extensions?.code;
        if (got !== expected || res.status >= 500)
          wrong.push(
            `${caller} on ${target}: expected ${expected}, got ${res.status} ${got ?? JSON.stringify(res.data)}`,
          );
        const after = await snapshot(row.id);
        if (JSON.stringify(after) !== JSON.stringify(before))
          wrong.push(
            `${caller} on ${target}: refused but changed ${JSON.stringify(before)} → ${JSON.stringify(after)}`,
          );
      }
    }
    // Allowed cells: the row returned, and the change made.
    for (const [i, [caller, target]] of allowedCells.entries()) {
      const row = fresh[i];
      const who = caller === 'rightful party' ? row.rightful : callers[caller];
      const res = await call(op.query, row, who);
      cells += 1;
      if (res.errors) {
        wrong.push(
          `${caller} on ${target}: expected it allowed, got ${res.errors[0].extensions?.code} ${res.errors[0].message}`,
        );
        continue;
      }
      try {
        await op.allowed(row, res.data);
      } catch (err) {
        wrong.push(`${caller} on ${target}: allowed, but ${(err as Error).message}`);
      }
    }
    assert.equal(wrong, []);
  });
}

test('the matrix covered every cell', () => {
  assert.is(cells, Object.keys(OPERATIONS).length * CALLERS.length * TARGETS.length);
});

test.run();
