// Role × operation matrix over users and sessions, through the real API:
// each of anonymous, driver, operator, admin and analyst can do exactly what
// the table below (and README) says.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import type { TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';

type Role = 'anonymous' | 'driver' | 'operator' | 'admin' | 'analyst';
const ROLES: Role[] = ['anonymous', 'driver', 'operator', 'admin', 'analyst'];

let db: TestDb;
let api: TestApi;
const actors = {} as Record<Role, { id?: string; headers: Record<string, string>; sessionId?: string; token?: string }>;
const others = {} as Record<'driver' | 'operator' | 'admin' | 'analyst', { id: string; sessionId: string }>;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  actors.anonymous = { headers: {} };
  for (const role of ['driver', 'operator', 'admin', 'analyst'] as const) {
    actors[role] = await createSignedInUser(db, api, { role, email: `${role}@example.com` });
    others[role] = await createSignedInUser(db, api, { role, email: `other.${role}@example.com` });
  }
});

test.after(() => closeAll(api, db));

const code = (res: any) => res.errors?.[0]?.extensions?.code;

// What each role may do. `true` = allowed; a string = the error code refusing it.
const EXPECTED: Record<string, Record<Role, unknown>> = {
  'database role': {
    anonymous: 'app_anonymous',
    driver: 'app_user',
    operator: 'app_operator',
    admin: 'app_operator',
    analyst: 'app_user',
  },
  'currentUser is self': { anonymous: null, driver: true, operator: true, admin: true, analyst: true },
  // Signed out, the list is empty (row level security), not an error that would null a parent object.
  'users: self': { anonymous: false, driver: true, operator: true, admin: true, analyst: true },
  'users: other drivers': { anonymous: false, driver: false, operator: true, admin: true, analyst: false },
  'users: other staff': { anonymous: false, driver: false, operator: false, admin: true, analyst: false },
  'rename self': { anonymous: '42501', driver: true, operator: true, admin: true, analyst: true },
  'rename another user': { anonymous: '42501', driver: 'SMA17', operator: 'SMA17', admin: 'SMA17', analyst: 'SMA17' },
  'change a role column directly': {
    anonymous: 'GRAPHQL_VALIDATION_FAILED',
    driver: 'GRAPHQL_VALIDATION_FAILED',
    operator: 'GRAPHQL_VALIDATION_FAILED',
    admin: 'GRAPHQL_VALIDATION_FAILED',
    analyst: 'GRAPHQL_VALIDATION_FAILED',
  },
  'setUserRole of another user': {
    anonymous: 'SMA08',
    driver: 'SMA10',
    operator: 'SMA10',
    admin: true,
    analyst: 'SMA10',
  },
  'setUserRole of self': { anonymous: 'SMA08', driver: 'SMA10', operator: 'SMA10', admin: 'SMA16', analyst: 'SMA10' },
  inviteStaff: { anonymous: 'SMA08', driver: 'SMA10', operator: 'SMA10', admin: true, analyst: 'SMA10' },
  'mySessions lists own sessions only': {
    anonymous: 'SMA08',
    driver: true,
    operator: true,
    admin: true,
    analyst: true,
  },
  'revokeSession of another user': { anonymous: 'SMA08', driver: false, operator: false, admin: false, analyst: false },
  logout: { anonymous: false, driver: true, operator: true, admin: true, analyst: true },
};

async function attempt(role: Role, operation: string): Promise<unknown> {
  const a = actors[role];
  const gql = (q: string, v: Record<string, unknown> = {}) => api.gql(q, v, a.headers);
  switch (operation) {
    case 'database role': {
      if (!a.token) return 'app_anonymous';
      const {
        rows: [s],
      } = await db.owner.query('select db_role from app_private.session_lookup($1)', [
        createHash('sha256').update(a.token).digest(),
      ]);
      return s.db_role;
    }
    case 'currentUser is self': {
      // Signed out: null, not an error (it was 42501 once).
      const res = await gql(`{ currentUser { rowId } }`);
      if (res.errors) return code(res);
      return res.data.currentUser === null ? null : res.data.currentUser.rowId === a.id;
    }
    case 'users: self':
    case 'users: other drivers':
    case 'users: other staff': {
      const res = await gql(`{ users { nodes { rowId } } }`);
      if (res.errors) return code(res);
      const seen = new Set(res.data.users.nodes.map((n: any) => n.rowId));
      if (operation === 'users: self') return seen.has(a.id);
      if (operation === 'users: other drivers') return seen.has(others.driver.id);
      const staff = [others.operator.id, others.admin.id, others.analyst.id];
      const count = staff.filter((id) => seen.has(id)).length;
      assert.ok(count === 0 || count === 3, `${role} sees some staff but not all`);
      return count === 3;
    }
    case 'rename self':
    case 'rename another user': {
      const target = operation === 'rename self' ? (a.id ?? others.driver.id) : others.driver.id;
      const res = await gql(
        `mutation ($id: BigInt!) { updateUser(input: { rowId: $id, patch: { name: "Renamed" } }) { user { rowId } } }`,
        { id: target },
      );
      const {
        rows: [u],
      } = await db.owner.query('select name from app_public.users where id = $1', [target]);
      await db.owner.query(`update app_public.users set name = 'Restored' where id = $1`, [target]);
      // Refused with a code (SMA17 for someone else's row, not a silent `user: null`), and unchanged.
      if (res.errors && u.name !== 'Renamed') {
        if (operation === 'rename another user') {
          // The same answer by email, and for an id nobody has.
          const byEmail = await gql(
            `mutation { updateUserByEmail(input: { email: "other.driver@example.com", patch: { name: "Renamed" } }) { user { rowId } } }`,
          );
          const nobody = await gql(
            `mutation { updateUser(input: { rowId: "987654321", patch: { name: "Renamed" } }) { user { rowId } } }`,
          );
          const {
            rows: [again],
          } = await db.owner.query('select name from app_public.users where id = $1', [target]);
          if (code(byEmail) !== code(res) || code(nobody) !== code(res) || again.name === 'Renamed')
            return `by id ${code(res)}, by email ${code(byEmail)}, unknown id ${code(nobody)}, name ${again.name}`;
        }
        return code(res) ?? false;
      }
      return u.name === 'Renamed' && res.data?.updateUser?.user?.rowId === target;
    }
    case 'change a role column directly': {
      const res = await gql(
        `mutation ($id: BigInt!) { updateUser(input: { rowId: $id, patch: { role: "admin" } }) { user { role } } }`,
        { id: a.id ?? '1' },
      );
      // A schema validation error (UserPatch has no role field), coded GRAPHQL_VALIDATION_FAILED since f70b768.
      return res.errors ? (code(res) ?? 'no such field') : true;
    }
    case 'setUserRole of another user':
    case 'setUserRole of self': {
      const target = operation === 'setUserRole of self' ? (a.id ?? others.driver.id) : others.driver.id;
      const res = await gql(
        `mutation ($id: BigInt!) { setUserRole(input: { userId: $id, role: "operator" }) { result { role } } }`,
        { id: target },
      );
      const {
        rows: [u],
      } = await db.owner.query('select role from app_public.users where id = $1', [target]);
      const original = operation === 'setUserRole of self' ? role : 'driver';
      await db.owner.query('update app_public.users set role = $2 where id = $1', [
        target,
        original === 'anonymous' ? 'driver' : original,
      ]);
      if (res.errors) return code(res);
      return u.role === 'operator';
    }
    case 'inviteStaff': {
      const email = `invited.by.${role}@example.com`;
      const res = await gql(
        `mutation ($e: String!) { inviteStaff(input: { email: $e, name: "New Op", role: "operator" }) { result { rowId role } } }`,
        { e: email },
      );
      if (res.errors) return code(res);
      const { rows } = await db.owner.query(`select template, data from app_private.emails where recipient = $1`, [
        email,
      ]);
      assert.is(rows[0].template, 'staff_invite');
      assert.equal(Object.keys(rows[0].data).sort(), ['expiresAt', 'invitedBy', 'name', 'role', 'token']);
      return res.data.inviteStaff.result.role === 'operator';
    }
    case 'mySessions lists own sessions only': {
      const res = await gql(`{ mySessions { nodes { rowId isCurrent } } }`);
      if (res.errors) return code(res);
      const nodes = res.data.mySessions.nodes;
      if (nodes.length === 0) return 'empty';
      return (
        nodes.every((n: any) => n.rowId !== others.driver.sessionId) &&
        nodes.some((n: any) => n.rowId === a.sessionId && n.isCurrent)
      );
    }
    case 'revokeSession of another user': {
      const res = await gql(`mutation ($id: UUID!) { revokeSession(input: { sessionId: $id }) { result } }`, {
        id: others.driver.sessionId,
      });
      if (res.errors) return code(res);
      const {
        rows: [s],
      } = await db.owner.query('select revoked_at from app_private.sessions where id = $1', [others.driver.sessionId]);
      return res.data?.revokeSession.result === true || s.revoked_at !== null;
    }
    case 'logout': {
      const res = await gql(`mutation { logout(input: {}) { result } }`);
      return res.data.logout.result;
    }
  }
  throw new Error(`unknown operation ${operation}`);
}

// Logout last: it ends the actors' sessions.
for (const operation of Object.keys(EXPECTED)) {
  test(`role matrix: ${operation}`, async () => {
    for (const role of ROLES) {
      assert.equal(await attempt(role, operation), EXPECTED[operation][role], `${role}: ${operation}`);
    }
  });
}

test('an account made with a staff role (inviteStaff) is in the audit log, with who made it', async () => {
  const email = `audited-invite-${process.pid}@example.com`;
  const admin = await createSignedInUser(db, api, { role: 'admin' });
  const res = await api.gql(
    `mutation ($e: String!) { inviteStaff(input: { email: $e, name: "Audited Op", role: "operator" }) { result { rowId } } }`,
    { e: email },
    admin.headers,
  );
  assert.is(res.errors, undefined, JSON.stringify(res.errors));
  const id = res.data.inviteStaff.result.rowId;
  const { rows } = await db.owner.query(
    `select action, actor_user_id::text as actor, new_values->>'role' as role, new_values->>'email' as email
     from app_public.audit_log where table_name = 'users' and record_id = $1`,
    [id],
  );
  assert.equal(rows, [{ action: 'insert', actor: admin.id, role: 'operator', email }]);
});

test('a role change takes effect on the next request, without signing out', async () => {
  const user = await createSignedInUser(db, api, { role: 'driver' });
  const admin = await createSignedInUser(db, api, { role: 'admin' });
  const seesDrivers = async () =>
    (await api.gql(`{ users { totalCount } }`, {}, user.headers)).data.users.totalCount > 1;
  assert.is(await seesDrivers(), false);
  await api.gql(
    `mutation ($id: BigInt!) { setUserRole(input: { userId: $id, role: "operator" }) { result { role } } }`,
    { id: user.id },
    admin.headers,
  );
  assert.is(await seesDrivers(), true);
  const bad = await api.gql(
    `mutation ($id: BigInt!) { setUserRole(input: { userId: $id, role: "superuser" }) { result { role } } }`,
    { id: user.id },
    admin.headers,
  );
  assert.is(code(bad), 'SMA16');
  const none = await api.gql(
    `mutation { setUserRole(input: { userId: "999999", role: "driver" }) { result { role } } }`,
    {},
    admin.headers,
  );
  assert.is(code(none), 'SMA17');
});

test('a staff role goes only to a verified account (SMA19); driver back to driver is always allowed', async () => {
  // Someone signed up with a staff-looking address they do not own and never verified it.
  const squatter = await createSignedInUser(db, api, { role: 'driver', verified: false });
  const admin = await createSignedInUser(db, api, { role: 'admin' });
  for (const role of ['operator', 'admin', 'analyst', 'enforcement']) {
    const res = await api.gql(
      `mutation ($id: BigInt!, $role: String!) { setUserRole(input: { userId: $id, role: $role }) { result { role } } }`,
      { id: squatter.id, role },
      admin.headers,
    );
    assert.is(code(res), 'SMA19', role);
  }
  const {
    rows: [row],
  } = await db.owner.query('select role from app_public.users where id = $1', [squatter.id]);
  assert.is(row.role, 'driver', 'nothing changed');
  const same = await api.gql(
    `mutation ($id: BigInt!) { setUserRole(input: { userId: $id, role: "driver" }) { result { role } } }`,
    { id: squatter.id },
    admin.headers,
  );
  assert.is(same.errors, undefined, JSON.stringify(same.errors));
  await db.owner.query('update app_public.users set is_verified = true where id = $1', [squatter.id]);
  const verified = await api.gql(
    `mutation ($id: BigInt!) { setUserRole(input: { userId: $id, role: "operator" }) { result { role } } }`,
    { id: squatter.id },
    admin.headers,
  );
  assert.is(verified.data?.setUserRole.result.role, 'operator', 'once verified');
});

test('staff administration needs a verified email: an unverified admin gets SMA11', async () => {
  const admin = await createSignedInUser(db, api, { role: 'admin', verified: false });
  const res = await api.gql(
    `mutation { inviteStaff(input: { email: "nope@example.com", name: "N", role: "operator" }) { result { rowId } } }`,
    {},
    admin.headers,
  );
  assert.is(code(res), 'SMA11');
  const { rows } = await db.owner.query(`select 1 from app_public.users where email = 'nope@example.com'`);
  assert.is(rows.length, 0);
});

test.run();
