// One rule for names (app_hidden.assert_name, enforced by a trigger on
// users.name): every path that writes a name — sign-up over HTTP and GraphQL,
// updateUser, inviteStaff, OAuth sign-up, the CLI's user_create — refuses the
// same names with SMA05 and writes nothing, and stores good names the same way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUser, sqlstateOf, type TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser, postJson, TEST_PASSWORD, type BearerSession } from './helpers/auth.ts';

let db: TestDb;
let api: TestApi;
let driver: BearerSession & { id: string };
let admin: BearerSession;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  driver = await createSignedInUser(db, api, { name: 'Dana Driver' });
  admin = await createSignedInUser(db, api, { role: 'admin' });
});

test.after(() => closeAll(api, db));

// Refused everywhere (blank ones except where no name means a default, below): too long, controls, format characters (bidi,
// zero-width, soft hyphen, word joiner, tags) and names of invisible characters only.
const BAD: Array<[string, string]> = [
  ['empty', ''],
  ['spaces only', '    '],
  ['101 characters', 'a'.repeat(101)],
  ['bidi override', 'Bob\u202Egnp.exe'],
  ['bidi isolate', 'Bob\u2066x'],
  ['zero-width joiner + BEL', 'Bo\u200Db\u0007'],
  ['BEL', 'Bob\u0007'],
  ['newline', 'Bob\nSmith'],
  ['C1 control', 'Bob\u0085'],
  ['soft hyphen inside', 'Bo\u00ADb'],
  ['soft hyphen only', '\u00AD'],
  ['word joiner only', '\u2060'],
  ['Hangul filler only', '\u3164'],
  ['half-width Hangul filler only', '\uFFA0\uFFA0'],
  ['blank Braille pattern only', '\u2800\u2800'],
  ['ideographic space only', '\u3000'],
  ['no-break spaces only', '\u00A0\u00A0'],
  ['variation selector only', '\uFE0F'],
  ['tag characters', 'Bob\u{E0041}'],
];

// Accepted, and stored as the rule returns them (trimmed of any Unicode space, NFC).
const GOOD: Array<[string, string]> = [
  ['plain', 'Ann Lee'],
  ['decomposed accent, padded with an ideographic space', '\u3000Zoe\u0308 '],
  ['CJK', '王小明'],
  ['emoji with a variation selector', '\u2764\uFE0F Love'],
  ['100 characters', 'b'.repeat(100)],
];
const stored = (name: string) => name.normalize('NFC').replace(/^[\s\u3000]+|[\s\u3000]+$/g, '');

const code = (res: { errors?: Array<{ extensions?: { code?: string } }> }) => res.errors?.[0]?.extensions?.code;

/** Every row a name write could touch, to prove a refusal changed nothing. */
async function snapshot() {
  const { rows } = await db.owner.query(`select
    (select json_agg(u order by u.id) from (select id, email, name, role, is_verified from app_public.users) u) as users,
    (select count(*)::int from app_private.user_identities) as identities,
    (select count(*)::int from app_private.sessions) as sessions,
    (select count(*)::int from app_private.user_tokens) as tokens,
    (select count(*)::int from app_private.emails) as emails`);
  return rows[0];
}

let n = 0;
const freshEmail = () => `names${++n}@example.com`;

/** Each path: writes `name` and returns the error code, or undefined and the name stored. */
const PATHS: Record<string, (name: string) => Promise<{ code?: string; stored?: string }>> = {
  async 'POST /auth/register'(name) {
    const email = freshEmail();
    const res = await postJson(api, '/auth/register', { email, name, password: TEST_PASSWORD });
    if (res.status !== 201) return { code: res.body?.error?.code };
    return { stored: await nameOf(email) };
  },
  async 'GraphQL register'(name) {
    const email = freshEmail();
    const res = await api.gql(
      `mutation ($e: String!, $n: String!, $p: String!) {
      register(input: { email: $e, name: $n, password: $p }) { result { userId } } }`,
      { e: email, n: name, p: TEST_PASSWORD },
    );
    return res.errors ? { code: code(res) } : { stored: await nameOf(email) };
  },
  async 'updateUser (own name)'(name) {
    const res = await api.gql(
      `mutation ($id: BigInt!, $n: String!) { updateUser(input: { rowId: $id, patch: { name: $n } }) { user { name } } }`,
      { id: driver.id, n: name },
      driver.headers,
    );
    if (res.errors) return { code: code(res) };
    const out = { stored: res.data.updateUser.user.name as string };
    assert.is(await nameOfId(driver.id), out.stored, 'the row holds what the API answered');
    return out;
  },
  async inviteStaff(name) {
    const email = freshEmail();
    const res = await api.gql(
      `mutation ($e: String!, $n: String!) { inviteStaff(input: { email: $e, name: $n, role: "operator" }) { result { rowId } } }`,
      { e: email, n: name },
      admin.headers,
    );
    return res.errors ? { code: code(res) } : { stored: await nameOf(email) };
  },
  async 'OAuth sign-up (app_private.oauth_sign_in)'(name) {
    const email = freshEmail();
    const failed = await sqlstateOf(
      db.owner.query(`select * from app_private.oauth_sign_in('google', $1, $2, true, $3, null, '{}', '127.0.0.1')`, [
        `sub-${email}`,
        email,
        name,
      ]),
    );
    return failed ? { code: failed } : { stored: await nameOf(email) };
  },
  async 'CLI user:create (app_private.user_create)'(name) {
    const email = freshEmail();
    const failed = await sqlstateOf(
      db.owner.query(`select app_private.user_create($1, $2, 'operator', $3)`, [email, name, TEST_PASSWORD]),
    );
    return failed ? { code: failed } : { stored: await nameOf(email) };
  },
  async 'a direct write as the owner (migration, console)'(name) {
    const email = freshEmail();
    const failed = await sqlstateOf(
      db.owner.query(`insert into app_public.users (email, name) values ($1, $2)`, [email, name]),
    );
    return failed ? { code: failed } : { stored: await nameOf(email) };
  },
};

async function nameOf(email: string): Promise<string> {
  const { rows } = await db.owner.query('select name from app_public.users where email = $1', [email]);
  assert.is(rows.length, 1, `one user ${email}`);
  return rows[0].name;
}
async function nameOfId(id: string): Promise<string> {
  const {
    rows: [row],
  } = await db.owner.query('select name from app_public.users where id = $1', [id]);
  return row.name;
}

// Staff invitations, OAuth and the CLI may be given no name: the email's local part stands in.
const BLANK_IS_DEFAULT = new Set([
  'inviteStaff',
  'OAuth sign-up (app_private.oauth_sign_in)',
  'CLI user:create (app_private.user_create)',
]);
const BLANK = new Set(['', '    ']);

for (const [path, write] of Object.entries(PATHS)) {
  test(`${path}: every bad name is SMA05 and nothing is written`, async () => {
    const before = await snapshot();
    for (const [label, name] of BAD) {
      if (BLANK_IS_DEFAULT.has(path) && BLANK.has(name)) continue;
      const res = await write(name);
      assert.is(res.code, 'SMA05', `${label}: ${JSON.stringify(name)} gave ${JSON.stringify(res)}`);
    }
    assert.equal(await snapshot(), before, 'nothing written by any of them');
    if (BLANK_IS_DEFAULT.has(path)) {
      for (const name of BLANK)
        assert.equal(await write(name), { stored: `names${n}` }, `${JSON.stringify(name)}: the email's local part`);
    }
  });

  test(`${path}: good names are stored trimmed and NFC-normalised`, async () => {
    for (const [label, name] of GOOD) {
      const res = await write(name);
      assert.is(res.code, undefined, label);
      assert.is(res.stored, stored(name), label);
    }
  });
}

test('updateUser cannot clear a name to null', async () => {
  const user = await createUser(db, { name: 'Kept' });
  assert.is(
    await sqlstateOf(db.owner.query('update app_public.users set name = null where id = $1', [user.id])),
    'SMA05',
  );
  assert.is(await nameOfId(user.id), 'Kept');
});

test.run();
