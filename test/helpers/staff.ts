// Staff callers for the operators' API tests: one signed-in user per role,
// operators scoped to a zone (Brooklyn) and to another (Queens), and what a
// refused call must leave unchanged.
import { startApi, type TestApi } from './api.ts';
import { createSignedInUser } from './auth.ts';
import { createTestDb, type TestDb } from './db.ts';

export const STAFF_CALLERS = [
  'admin',
  'operator in zone',
  'operator out of zone',
  'enforcement',
  'driver',
  'analyst',
  'anonymous',
] as const;
export type StaffCaller = (typeof STAFF_CALLERS)[number];
/** The borough the "operator in zone" is assigned to; the other operator has Queens. */
export const ZONE = 'Brooklyn';

export type SignedIn = Awaited<ReturnType<typeof createSignedInUser>>;
export type Callers = Record<StaffCaller, { headers: Record<string, string>; user: SignedIn | null }>;

/** A signed-in user per caller kind; operators' zones are set by the owner. */
export async function staffCallers(db: TestDb, api: TestApi): Promise<Callers> {
  const make = (role: string) => createSignedInUser(db, api, { role });
  const [admin, inZone, outOfZone, enforcement, driver, analyst] = await Promise.all(
    ['admin', 'operator', 'operator', 'enforcement', 'driver', 'analyst'].map(make),
  );
  await db.owner.query(`insert into app_public.operator_zones (user_id, borough) values ($1, $2), ($3, 'Queens')`, [
    inZone.id,
    ZONE,
    outOfZone.id,
  ]);
  const entry = (user: SignedIn | null) => ({ headers: user?.headers ?? {}, user });
  return {
    admin: entry(admin),
    'operator in zone': entry(inZone),
    'operator out of zone': entry(outOfZone),
    enforcement: entry(enforcement),
    driver: entry(driver),
    analyst: entry(analyst),
    anonymous: entry(null),
  };
}

/**
 * A digest of every table staff operations write (audit log included): equal
 * before and after a refused call means it wrote nothing.
 */
export async function staffTablesDigest(db: TestDb): Promise<Record<string, string>> {
  const tables = [
    'app_public.customers',
    'app_public.customer_notes',
    'app_public.spots',
    'app_public.rates',
    'app_public.rate_hours',
    'app_public.reservations',
    'app_public.vehicles',
    'app_public.operator_zones',
    'app_public.audit_log',
    'app_public.users',
  ];
  const {
    rows: [row],
  } = await db.owner.query(
    `select ${tables
      .map((t, i) => `(select count(*) || ':' || coalesce(sum(hashtext(x::text)), 0) from ${t} x) as t${i}`)
      .join(', ')}`,
  );
  return Object.fromEntries(tables.map((t, i) => [t, row[`t${i}`]]));
}

export interface StaffApi {
  db: TestDb;
  api: TestApi;
  callers: Callers;
}

/**
 * A test file's database, the API on it and the staff callers: made before
 * the file's tests and closed after them (uvu's hooks of the given suite).
 */
export function useStaffApi(
  file: string,
  suite: { before(fn: () => Promise<void>): void; after(fn: () => Promise<void>): void },
): StaffApi {
  const ctx = {} as StaffApi;
  suite.before(async () => {
    ctx.db = await createTestDb(file);
    ctx.api = await startApi(ctx.db);
    ctx.callers = await staffCallers(ctx.db, ctx.api);
  });
  suite.after(async () => {
    await ctx.api?.close();
    await ctx.db?.close();
  });
  return ctx;
}
