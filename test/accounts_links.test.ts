// Emailed one-time links (password reset, email verification, guest
// reservations claimed on verification) and the rate limits on sign-in and
// reset, over HTTP and GraphQL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUser, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi, closeAll, startDbAndApi } from './helpers/api.ts';
import { createSpot } from './helpers/spots.ts';
import { TEST_PASSWORD, postJson, signIn, assertRefused } from './helpers/auth.ts';
import { emailedLink } from './helpers/outbox.ts';

let db: TestDb;
let api: TestApi;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename, { webUrl: 'https://app.example.test' }));
});

test.after(() => closeAll(api, db));

const ME = `{ currentUser { rowId isVerified } }`;
const FORGOT = `mutation ($e: String!) { forgotPassword(input: { email: $e }) { result } }`;
const RESET = `mutation ($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) { result } }`;
const VERIFY = `mutation ($t: String!, $p: String) { verifyEmail(input: { token: $t, password: $p }) { result } }`;

async function emailsTo(email: string, template: string): Promise<Array<{ data: any; link: string }>> {
  const { rows } = await db.owner.query(
    `select template, data from app_private.emails where recipient = $1 and template = $2 order by id`,
    [email, template],
  );
  return rows.map((row) => ({ ...row, link: emailedLink(row)! }));
}
const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;

test('forgot password: a link for a known email, the same answer and no email for an unknown one', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD, name: 'Rae' });
  const known = await api.gql(FORGOT, { e: user.email.toUpperCase() });
  const unknown = await api.gql(FORGOT, { e: 'ghost@example.com' });
  assert.equal(known.data, unknown.data);
  assert.equal(known.data.forgotPassword.result, true);
  const [mail] = await emailsTo(user.email, 'password_reset');
  assert.is(mail.data.name, 'Rae');
  assert.match(mail.link, /^https:\/\/app\.example\.test\/reset-password\?token=[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(mail.data.expiresAt) > Date.now() + 59 * 60e3);
  assert.is((await emailsTo('ghost@example.com', 'password_reset')).length, 0);
  const {
    rows: [{ n }],
  } = await db.owner.query(
    `select count(*)::int as n from app_private.user_tokens where token_hash = digest($1, 'sha256')`,
    [tokenOf(mail.link)],
  );
  assert.is(n, 1, 'stored hashed');
});

test('reset password: sets the password, signs out everywhere, verifies the email; single use', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD, verified: false });
  const before = await signIn(api, user.email);
  await api.gql(FORGOT, { e: user.email });
  const token = tokenOf((await emailsTo(user.email, 'password_reset')).at(-1)!.link);
  const weak = await api.gql(RESET, { t: token, p: 'short' });
  assert.is(weak.errors?.[0].extensions?.code, 'SMA04');
  const ok = await api.gql(RESET, { t: token, p: 'my new long password' });
  assert.equal(ok.errors, undefined, 'a refused password did not use up the link');
  assertRefused(await api.gql(ME, {}, before.headers), 401, 'SMA15', 'old sessions are gone');
  const after = await signIn(api, user.email, 'my new long password');
  assert.is((await api.gql(ME, {}, after.headers)).data.currentUser.isVerified, true);
  const again = await api.gql(RESET, { t: token, p: 'yet another password' });
  assert.is(again.errors?.[0].extensions?.code, 'SMA07');
  assert.is((await api.gql(RESET, { t: 'made-up', p: 'yet another password' })).errors?.[0].extensions?.code, 'SMA07');
  // The owner hears of it once, for the one reset that worked.
  assert.is((await emailsTo(user.email, 'password_changed')).length, 1);
});

test('reset links expire after an hour; a newer link leaves an older one working', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  await api.gql(FORGOT, { e: user.email });
  await api.gql(FORGOT, { e: user.email });
  const [first, second] = (await emailsTo(user.email, 'password_reset')).map((m) => tokenOf(m.link));
  await db.owner.query(
    `update app_private.user_tokens set created_at = created_at - interval '61 minutes',
    expires_at = expires_at - interval '61 minutes' where token_hash = digest($1, 'sha256')`,
    [second],
  );
  assert.is((await api.gql(RESET, { t: second, p: 'my new long password' })).errors?.[0].extensions?.code, 'SMA07');
  await signIn(api, user.email);
  assert.equal((await api.gql(RESET, { t: first, p: 'my new long password' })).errors, undefined);
});

test("email verification: register, follow the link, guest reservations with that email become the user's", async () => {
  const spot = await createSpot(db, { lat: 40.7, lng: -74 });
  const guest = async (email: string, hoursAhead: number) =>
    (
      await db.owner.query(
        `insert into app_public.reservations (spot_id, email, period, amount, currency, status)
     values ($1, $2, tstzrange(now() + make_interval(hours => $3), now() + make_interval(hours => $3 + 1)), 0, 'USD', 'completed') returning id`,
        [spot, email, hoursAhead],
      )
    ).rows[0].id as string;
  const mine = await guest('Guest.Once@Example.com', 1);
  const other = await guest('someone.else@example.com', 2);
  const reg = await postJson(api, '/auth/register', {
    email: 'guest.once@example.com',
    name: 'Gus',
    password: 'guest now member',
  });
  assert.is(reg.status, 201);
  const headers = { authorization: `Bearer ${reg.body.token}` };
  const {
    rows: [held],
  } = await db.owner.query('select user_id from app_public.reservations where id = $1', [mine]);
  assert.is(held.user_id, null, 'not before the email is proved');

  const [mail] = await emailsTo('guest.once@example.com', 'verify_email');
  assert.is(mail.data.name, undefined, 'no name chosen by whoever signed up greets the address');
  assert.match(mail.link, /^https:\/\/app\.example\.test\/verify-email\?token=/);
  // The link alone proves the inbox, not the account: signed in as it, or its password.
  assert.is((await api.gql(VERIFY, { t: tokenOf(mail.link) })).errors?.[0].extensions?.code, 'SMA20');
  assert.is((await api.gql(ME, {}, headers)).data.currentUser.isVerified, false);
  const res = await api.gql(VERIFY, { t: tokenOf(mail.link) }, headers);
  assert.equal(res.errors, undefined);
  assert.is((await api.gql(ME, {}, headers)).data.currentUser.isVerified, true);
  const { rows } = await db.owner.query(
    'select id::text, user_id::text from app_public.reservations where id = any($1) order by id',
    [[mine, other]],
  );
  assert.equal(rows, [
    { id: String(mine), user_id: reg.body.userId },
    { id: String(other), user_id: null },
  ]);
  assert.is((await api.gql(VERIFY, { t: tokenOf(mail.link) })).errors?.[0].extensions?.code, 'SMA07', 'single use');
});

test('a verified user signing in later claims guest reservations made with their email meanwhile', async () => {
  const spot = await createSpot(db, { lat: 40.71, lng: -74 });
  const user = await createUser(db, { email: 'returning@example.com', password: TEST_PASSWORD, verified: true });
  const unverified = await createUser(db, { email: 'unproved@example.com', password: TEST_PASSWORD, verified: false });
  const guest = async (email: string) =>
    (
      await db.owner.query(
        `insert into app_public.reservations (spot_id, email, period, amount, currency, status)
     values ($1, $2, tstzrange(now() - interval '3 hours', now() - interval '2 hours'), 0, 'USD', 'completed') returning id`,
        [spot, email],
      )
    ).rows[0].id as string;
  const a = await guest('Returning@Example.com');
  const b = await guest('unproved@example.com');
  await signIn(api, user.email);
  await signIn(api, unverified.email);
  const { rows } = await db.owner.query(
    'select user_id::text from app_public.reservations where id = any($1) order by id',
    [[a, b]],
  );
  assert.equal(
    rows.map((r) => r.user_id),
    [user.id, null],
    'only a verified address claims',
  );
});

test("claimed, a guest reservation's manage token no longer works; an unpaid one made with the email is not claimed; a driver with an unpaid one books nothing (SMB13)", async () => {
  const spot = await createSpot(db, { lat: 40.712, lng: -74 });
  const RESERVE = `mutation ($s: BigInt!, $at: Datetime!, $e: String) {
    reserve(input: { spotId: $s, startsAt: $at, durationMinutes: 30, email: $e }) { result { reservation { rowId } manageToken } } }`;
  const READ = `query ($id: BigInt!, $t: String!) { guestReservation(reservationId: $id, manageToken: $t) { rowId } }`;
  // A stranger books as a guest with the owner's email, and keeps the manage token.
  const planted = (
    await api.gql(RESERVE, { s: spot, at: new Date(Date.now() + 5 * 3600e3).toISOString(), e: 'owner@example.com' })
  ).data.reserve.result;
  assert.equal((await api.gql(READ, { id: planted.reservation.rowId, t: planted.manageToken })).errors, undefined);
  // And one with a failed payment.
  const {
    rows: [unpaid],
  } = await db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, amount, currency, status)
     values ($1, 'owner@example.com', tstzrange(now() - interval '3 hours', now() - interval '2 hours'), 500, 'USD', 'payment_failed')
     returning id::text`,
    [spot],
  );
  const owner = await createUser(db, { email: 'owner@example.com', password: TEST_PASSWORD, verified: true });
  const session = await signIn(api, owner.email);
  const { rows } = await db.owner.query(
    'select id::text, user_id::text from app_public.reservations where id = any($1) order by id',
    [[planted.reservation.rowId, unpaid.id]],
  );
  assert.equal(rows, [
    { id: planted.reservation.rowId, user_id: owner.id },
    { id: unpaid.id, user_id: null },
  ]);
  assert.is(
    (await api.gql(READ, { id: planted.reservation.rowId, t: planted.manageToken })).errors?.[0].extensions?.code,
    'SMB06',
    "the stranger's token is void",
  );
  // Not claimed, the stranger's debt does not bar the owner; nor does a claimed one whose charge fails
  // later (the stranger's card); one the owner booked does.
  const at = new Date(Date.now() + 9 * 3600e3).toISOString();
  const mine = await api.gql(RESERVE, { s: spot, at }, session.headers);
  assert.equal(mine.errors, undefined);
  await db.owner.query(
    `update app_public.reservations set status = 'payment_failed', hold_expires_at = null where id = $1`,
    [planted.reservation.rowId],
  );
  const at2 = new Date(Date.now() + 10 * 3600e3).toISOString();
  assert.equal((await api.gql(RESERVE, { s: spot, at: at2 }, session.headers)).errors, undefined);
  await db.owner.query(`update app_public.reservations set user_id = $1, verified_booker_id = $1 where id = $2`, [
    owner.id,
    unpaid.id,
  ]);
  const barred = await api.gql(
    RESERVE,
    { s: spot, at: new Date(Date.now() + 12 * 3600e3).toISOString() },
    session.headers,
  );
  assert.is(barred.errors?.[0].extensions?.code, 'SMB13');
  assert.match(barred.errors?.[0].message ?? '', new RegExp(`#${unpaid.id}`));
  // Nor may what they booked before grow meanwhile; it may shrink.
  const CHANGE_END = `mutation ($id: BigInt!, $end: Datetime!) {
    changeReservationEnd(input: { reservationId: $id, endsAt: $end }) { result { reservation { endsAt } } } }`;
  const id = mine.data.reserve.result.reservation.rowId;
  const minutesAfterStart = (m: number) => new Date(Date.parse(at) + m * 60e3).toISOString();
  const longer = await api.gql(CHANGE_END, { id, end: minutesAfterStart(45) }, session.headers);
  assert.is(longer.errors?.[0].extensions?.code, 'SMB13');
  const shorter = await api.gql(CHANGE_END, { id, end: minutesAfterStart(20) }, session.headers);
  assert.is(shorter.errors, undefined);
});

test("what a stranger booked after signing up with someone's email does not bar its owner once they reset the password", async () => {
  const spot = await createSpot(db, { lat: 40.713, lng: -74 });
  const RESERVE = `mutation ($s: BigInt!, $at: Datetime!) {
    reserve(input: { spotId: $s, startsAt: $at, durationMinutes: 30 }) { result { reservation { rowId } } } }`;
  const squatter = await createUser(db, { email: 'squatted@example.com', password: TEST_PASSWORD, verified: false });
  const theirs = await signIn(api, squatter.email);
  const booked = await api.gql(
    RESERVE,
    { s: spot, at: new Date(Date.now() + 4 * 3600e3).toISOString() },
    theirs.headers,
  );
  const id = booked.data.reserve.result.reservation.rowId;
  // Its charge fails (the stranger's card).
  await db.owner.query(
    `update app_public.reservations set status = 'payment_failed', hold_expires_at = null where id = $1`,
    [id],
  );
  // The owner takes the address back and books.
  await api.gql(FORGOT, { e: squatter.email });
  const token = tokenOf((await emailsTo(squatter.email, 'password_reset')).at(-1)!.link);
  assert.equal((await api.gql(RESET, { t: token, p: 'a much better passphrase 42' })).errors, undefined);
  const owner = await signIn(api, squatter.email, 'a much better passphrase 42');
  const mine = await api.gql(RESERVE, { s: spot, at: new Date(Date.now() + 6 * 3600e3).toISOString() }, owner.headers);
  assert.equal(mine.errors, undefined);
});

test("someone who signed up with another's address gets nothing from the owner's click: the link wants the account's password; the owner's reset takes the account", async () => {
  const victim = 'clicks.links@example.com';
  const squat = await postJson(api, '/auth/register', {
    email: victim,
    name: 'SECURITY ALERT https://evil.example',
    password: 'the squatter knows this 1',
  });
  assert.is(squat.status, 201);
  const squatter = { authorization: `Bearer ${squat.body.token}` };
  const [mail] = await emailsTo(victim, 'verify_email');
  assert.not.ok(JSON.stringify(mail.data).includes('evil.example'), 'the chosen name is not mailed to the address');
  // The owner clicks without the password: nothing verified, the link still usable.
  const clicked = await api.gql(VERIFY, { t: tokenOf(mail.link) });
  assert.is(clicked.errors?.[0].extensions?.code, 'SMA20');
  assert.is(
    (await api.gql(VERIFY, { t: tokenOf(mail.link), p: 'a guess at it 123' })).errors?.[0].extensions?.code,
    'SMA20',
  );
  assert.is((await api.gql(ME, {}, squatter)).data.currentUser.isVerified, false);
  // What the squatter saved would fill in the owner's next bookings: their car (enforcement would find it covered).
  const saved = await api.gql(
    `mutation { saveVehicle(input: { plate: "SQU4T", plateState: "NJ", label: "mine" }) { clientMutationId } }`,
    {},
    squatter,
  );
  assert.is(saved.errors, undefined, JSON.stringify(saved.errors));
  const spot = await createSpot(db, { lat: 40.72, lng: -74 });
  assert.is(
    (
      await api.gql(
        `mutation ($s: BigInt!) { saveSpot(input: { spotId: $s }) { clientMutationId } }`,
        { s: spot },
        squatter,
      )
    ).errors,
    undefined,
  );
  // Had the squatter linked a provider account of theirs, it would sign them back in.
  await db.owner.query(
    `insert into app_private.user_identities (user_id, provider, subject, email) values ($1, 'facebook', 'squatter-fb', $2)`,
    [squat.body.userId, victim],
  );
  // The owner resets instead: the squatter's session, password, name and provider link are gone.
  await api.gql(FORGOT, { e: victim });
  const [reset] = await emailsTo(victim, 'password_reset');
  assert.is(reset.data.name, null, 'not verified yet: no name in the reset mail either');
  assert.equal((await api.gql(RESET, { t: tokenOf(reset.link), p: 'the owner sets this one 2' })).errors, undefined);
  assertRefused(await api.gql(ME, {}, squatter), 401, 'SMA15', "the squatter's session ended");
  assert.is((await postJson(api, '/auth/login', { email: victim, password: 'the squatter knows this 1' })).status, 401);
  const owner = await signIn(api, victim, 'the owner sets this one 2');
  assert.equal((await api.gql(`{ currentUser { isVerified name } }`, {}, owner.headers)).data.currentUser, {
    isVerified: true,
    name: 'clicks.links',
  });
  const [changed] = await emailsTo(victim, 'password_changed');
  assert.is(changed.data.name, 'clicks.links', "the owner is not greeted with the squatter's name");
  const {
    rows: [links],
  } = await db.owner.query('select count(*)::int as n from app_private.user_identities where user_id = $1', [
    squat.body.userId,
  ]);
  assert.is(links.n, 0, "the squatter's provider link is gone");
  const mine = await api.gql(
    `{ vehicles { nodes { plate } } mySavedSpots { nodes { spot { rowId } } } }`,
    {},
    owner.headers,
  );
  assert.equal(
    [mine.data.vehicles.nodes, mine.data.mySavedSpots.nodes],
    [[], []],
    "the squatter's car and spot are gone",
  );
  const {
    rows: [customer],
  } = await db.owner.query('select name from app_public.customers where user_id = $1', [squat.body.userId]);
  assert.is(customer.name, 'clicks.links', 'the customer record forgets the chosen name too');
});

test('a reset keeps the name of an account whose address was already proved', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD, name: 'Proved Name' });
  await api.gql(FORGOT, { e: user.email });
  const token = tokenOf((await emailsTo(user.email, 'password_reset')).at(-1)!.link);
  assert.equal((await api.gql(RESET, { t: token, p: 'a kept name passphrase 3' })).errors, undefined);
  const {
    rows: [row],
  } = await db.owner.query('select name from app_public.users where id = $1', [user.id]);
  assert.is(row.name, 'Proved Name');
});

test('verifying with the password: the right one verifies; wrong ones are counted (10 in 15 minutes, SMA02) even though each rolls back', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD, verified: false });
  const s = await signIn(api, user.email);
  await api.gql(`mutation { resendVerificationEmail(input: {}) { result } }`, {}, s.headers);
  const token = tokenOf((await emailsTo(user.email, 'verify_email')).at(-1)!.link);
  const codes = [];
  for (let i = 0; i < 11; i += 1)
    codes.push((await api.gql(VERIFY, { t: token, p: `wrong guess ${i}` })).errors?.[0].extensions?.code);
  assert.equal(codes, [...Array(10).fill('SMA20'), 'SMA02']);
  assert.is(
    (await api.gql(VERIFY, { t: token, p: TEST_PASSWORD })).errors?.[0].extensions?.code,
    'SMA02',
    'even the right one waits',
  );
  await db.owner.query(`delete from app_private.rate_limits where bucket = 'password_check' and key = $1`, [user.id]);
  assert.equal((await api.gql(VERIFY, { t: token, p: TEST_PASSWORD })).errors, undefined);
  assert.is((await api.gql(ME, {}, s.headers)).data.currentUser.isVerified, true);
});

test("the email's reset ceiling does not hold back an address the account signed in from", async () => {
  const proxied = await startApi(db, { trustProxy: 1 });
  try {
    const user = await createUser(db, { password: TEST_PASSWORD });
    const home = { 'x-forwarded-for': '192.0.2.77' };
    const signedIn = await postJson(proxied, '/auth/login', { email: user.email, password: TEST_PASSWORD }, home);
    assert.is(signedIn.status, 200);
    for (let i = 0; i < 4; i += 1) {
      for (let j = 0; j < 3; j += 1)
        await proxied.gql(FORGOT, { e: user.email }, { 'x-forwarded-for': `198.51.100.${140 + i}` });
    }
    const stranger = await proxied.gql(FORGOT, { e: user.email }, { 'x-forwarded-for': '198.51.100.150' });
    assert.is(stranger.errors?.[0].extensions?.code, 'SMA02', "strangers' addresses used up the email's 10");
    assert.equal((await proxied.gql(FORGOT, { e: user.email }, home)).errors, undefined, 'the owner at home still can');
  } finally {
    await proxied.close();
  }
});

test('resend verification: a new link replaces the old one; false once verified; needs a session', async () => {
  const RESEND = `mutation { resendVerificationEmail(input: {}) { result } }`;
  const user = await createUser(db, { password: TEST_PASSWORD, verified: false });
  const s = await signIn(api, user.email);
  assert.is((await api.gql(RESEND, {}, s.headers)).data.resendVerificationEmail.result, true);
  assert.is((await api.gql(RESEND, {}, s.headers)).data.resendVerificationEmail.result, true);
  const [a, b] = (await emailsTo(user.email, 'verify_email')).map((m) => tokenOf(m.link));
  assert.is((await api.gql(VERIFY, { t: a }, s.headers)).errors?.[0].extensions?.code, 'SMA07');
  assert.equal((await api.gql(VERIFY, { t: b }, s.headers)).errors, undefined);
  assert.is((await api.gql(RESEND, {}, s.headers)).data.resendVerificationEmail.result, false);
  assert.is((await api.gql(RESEND)).errors?.[0].extensions?.code, 'SMA08');
});

test('sign-in rate limit per email and address: the 11th attempt in 15 minutes gets 429 + Retry-After, even with the right password; recovers when the window passes', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  for (let i = 0; i < 10; i += 1) {
    assertRefused(await postJson(api, '/auth/login', { email: user.email, password: `guess ${i}` }), 401, 'SMA01');
  }
  const limited = await postJson(api, '/auth/login', { email: user.email, password: TEST_PASSWORD });
  assert.is(limited.status, 429);
  assert.is(limited.body.error.code, 'SMA02');
  const retry = Number(limited.headers.get('retry-after'));
  assert.ok(retry > 800 && retry <= 900, `Retry-After ${retry}`);
  // Another email from the same address is not affected by this email's limit.
  const other = await createUser(db, { password: TEST_PASSWORD });
  await signIn(api, other.email);
  // The window passes (its start moved back 15 minutes).
  await db.owner.query(
    `update app_private.rate_limits set window_start = window_start - interval '15 minutes'
    where bucket = 'login_pair' and key = lower($1) || ' 127.0.0.1'`,
    [user.email],
  );
  await signIn(api, user.email);
  const { rows } = await db.owner.query(
    `select bucket from app_private.rate_limits
    where (bucket = 'login_email' and key = lower($1)) or (bucket = 'login_pair' and key = lower($1) || ' 127.0.0.1')`,
    [user.email],
  );
  assert.equal(rows, [], "a successful sign-in clears the email's counts");
});

test('sign-in rate limit per client address: held in PostgreSQL, so a second API process sees it', async () => {
  const second = await startApi(db);
  try {
    const user = await createUser(db, { password: TEST_PASSWORD });
    // 100 attempts from this address already counted (by any process).
    await db.owner.query(`insert into app_private.rate_limits (bucket, key, window_start, hits)
      values ('login_ip', '127.0.0.1', now(), 100)
      on conflict (bucket, key) do update set window_start = now(), hits = 100`);
    const res = await postJson(second, '/auth/login', { email: user.email, password: TEST_PASSWORD });
    assertRefused(res, 429, 'SMA02');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    await db.owner.query(
      `update app_private.rate_limits set window_start = window_start - interval '15 minutes' where bucket = 'login_ip'`,
    );
    assert.is((await postJson(api, '/auth/login', { email: user.email, password: TEST_PASSWORD })).status, 200);
  } finally {
    await db.owner.query(`delete from app_private.rate_limits where bucket = 'login_ip'`);
    await second.close();
  }
});

test('password reset rate limit: 3 an hour per email and address, then SMA02 with extensions.retryAfter; recovers', async () => {
  const user = await createUser(db, { password: TEST_PASSWORD });
  for (let i = 0; i < 3; i += 1) assert.equal((await api.gql(FORGOT, { e: user.email })).errors, undefined);
  const limited = await api.gql(FORGOT, { e: user.email });
  assert.is(limited.errors?.[0].extensions?.code, 'SMA02');
  const retryAfter = (limited.errors![0].extensions as any).retryAfter;
  assert.ok(retryAfter > 3500 && retryAfter <= 3600, `retryAfter ${retryAfter}`);
  assert.is((await emailsTo(user.email, 'password_reset')).length, 3, 'no 4th email');
  await db.owner.query(
    `update app_private.rate_limits set window_start = window_start - interval '1 hour'
    where bucket = 'reset_pair' and key like lower($1) || ' %'`,
    [user.email],
  );
  assert.equal((await api.gql(FORGOT, { e: user.email })).errors, undefined);
});

test("a stranger asking for someone's password resets neither blocks the owner's nor voids the link sent; using one voids the rest", async () => {
  const proxied = await startApi(db, { trustProxy: 1 });
  try {
    const user = await createUser(db, { password: TEST_PASSWORD });
    const owner = { 'x-forwarded-for': '192.0.2.10' };
    await proxied.gql(FORGOT, { e: user.email }, owner);
    const [ownersLink] = await emailsTo(user.email, 'password_reset');
    const stranger = { 'x-forwarded-for': '198.51.100.99' };
    const codes = [];
    for (let i = 0; i < 4; i += 1)
      codes.push((await proxied.gql(FORGOT, { e: user.email }, stranger)).errors?.[0].extensions?.code);
    assert.equal(codes, [undefined, undefined, undefined, 'SMA02'], "the stranger's own three");
    assert.equal((await proxied.gql(FORGOT, { e: user.email }, owner)).errors, undefined, "the owner's are theirs");
    // From many addresses the email's own ceiling holds: 10 an hour in all.
    const more = [];
    for (let i = 0; i < 7; i += 1) {
      more.push(
        (await proxied.gql(FORGOT, { e: user.email }, { 'x-forwarded-for': `198.51.100.${110 + i}` })).errors?.[0]
          .extensions?.code,
      );
    }
    assert.equal(more, [undefined, undefined, undefined, undefined, undefined, 'SMA02', 'SMA02']);
    const links = await emailsTo(user.email, 'password_reset');
    assert.is(links.length, 10);
    assert.equal(
      (await api.gql(RESET, { t: tokenOf(ownersLink.link), p: 'the owner chose this one 7' })).errors,
      undefined,
      'the first link still works after nine more were asked for',
    );
    assert.is(
      (await api.gql(RESET, { t: tokenOf(links.at(-1)!.link), p: 'and not this one 8' })).errors?.[0].extensions?.code,
      'SMA07',
      'the others are void once one is used',
    );
  } finally {
    await proxied.close();
  }
});

test('anonymous mutations carry the client address: reset limit per address across emails', async () => {
  await db.owner.query(`delete from app_private.rate_limits where bucket = 'reset_ip'`);
  const {
    rows: [{ hits: before }],
  } = await db.owner.query(
    `select coalesce((select hits from app_private.rate_limits where bucket = 'reset_ip' and key = '127.0.0.1'), 0) as hits`,
  );
  await api.gql(FORGOT, { e: 'someone.new@example.com' });
  const {
    rows: [{ hits }],
  } = await db.owner.query(`select hits from app_private.rate_limits where bucket = 'reset_ip' and key = '127.0.0.1'`);
  assert.is(hits, before + 1);
});

test.run();
