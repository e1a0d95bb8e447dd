// `npm run cli -- user:create`: an invitation when there is no terminal, a
// password from --password-stdin, clear refusals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestDb } from './helpers/db.ts';
import { type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { signIn } from './helpers/auth.ts';
import { emailedLink } from './helpers/outbox.ts';

let db: TestDb;
let api: TestApi;
const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
});

test.after(() => closeAll(api, db));

function cli(args: string[], input = '') {
  const res = spawnSync(process.execPath, [MAIN, 'user:create', ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: db.urls.owner, WEB_URL: 'https://app.example.test' },
  });
  return { status: res.status, out: res.stdout + res.stderr };
}

test('without a terminal: creates the operator and emails a staff invitation', async () => {
  const res = cli(['--email', 'olive@example.com', '--role', 'operator', '--name', 'Olive Op']);
  assert.is(res.status, 0, res.out);
  assert.match(res.out, /invitation/);
  const {
    rows: [user],
  } = await db.owner.query(`select role, name, is_verified from app_public.users where email = 'olive@example.com'`);
  assert.equal(user, { role: 'operator', name: 'Olive Op', is_verified: false });
  const {
    rows: [mail],
  } = await db.owner.query(`select template, data from app_private.emails where recipient = 'olive@example.com'`);
  assert.is(mail.template, 'staff_invite');
  assert.is(mail.data.role, 'operator');
  assert.match(emailedLink(mail)!, /^https:\/\/app\.example\.test\/accept-invite\?token=/);
  // Following the link sets a password (and verifies the address).
  const token = new URL(emailedLink(mail)!).searchParams.get('token');
  const accept = await api.gql(
    `mutation ($t: String!) { resetPassword(input: { token: $t, newPassword: "olive's own password" }) { result } }`,
    { t: token },
  );
  assert.equal(accept.errors, undefined);
  await signIn(api, 'olive@example.com', "olive's own password");
  const { rows: later } = await db.owner.query(
    `select template from app_private.emails where recipient = 'olive@example.com' and template <> 'staff_invite'`,
  );
  assert.equal(later, [], 'a first password is no change to warn about');
});

test('--password-stdin: an admin ready to sign in, verified', async () => {
  const res = cli(['--email', 'root@example.com', '--role', 'admin', '--password-stdin'], 'admin password 123\n');
  assert.is(res.status, 0, res.out);
  const s = await signIn(api, 'root@example.com', 'admin password 123');
  const me = await api.gql(`{ currentUser { role isVerified } }`, {}, s.headers);
  assert.equal(me.data.currentUser, { role: 'admin', isVerified: true });
});

test('refusals: taken email, unknown role, weak password, both --invite and --password-stdin, missing email or role', async () => {
  const {
    rows: [{ n: before }],
  } = await db.owner.query('select count(*)::int as n from app_public.users');
  assert.match(cli(['--email', 'root@example.com', '--role', 'operator']).out, /already exists/);
  assert.match(cli(['--email', 'x@example.com', '--role', 'boss']).out, /A role is one of/);
  assert.match(
    cli(['--email', 'z@example.com', '--role', 'operator', '--name', 'Bob\u202Egnp.exe']).out,
    /1 to 100 characters without control/,
  );
  assert.match(
    cli(['--email', 'y@example.com', '--role', 'admin', '--password-stdin'], 'short\n').out,
    /at least 10 characters/,
  );
  // Either way of setting the password, not both (a good password must not slip through).
  const both = cli(
    ['--email', 'v@example.com', '--role', 'admin', '--invite', '--password-stdin'],
    'admin password 123\n',
  );
  assert.is(both.status, 1, both.out);
  assert.match(both.out, /--invite and --password-stdin cannot be combined/);
  const missing = cli(['--role', 'admin']);
  assert.is(missing.status, 1);
  assert.match(missing.out, /Usage/);
  // Left out, the role made a driver and mailed them a staff invitation.
  const noRole = cli(['--email', 'w@example.com']);
  assert.is(noRole.status, 1);
  assert.match(noRole.out, /--role is required/);
  const {
    rows: [{ n: after }],
  } = await db.owner.query('select count(*)::int as n from app_public.users');
  assert.is(after, before);
});

test.run();
