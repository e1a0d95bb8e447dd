// Google (OpenID Connect, against oauth2-mock-server) and Facebook (against a
// local stand-in for its endpoints) sign-in round trips, driven like a
// browser: start, provider redirect, callback with the browser's cookie.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OAuth2Server } from 'oauth2-mock-server';
import { createTestDb, createUser, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { TEST_PASSWORD, cookieHeader, cookiesOf, postJson } from './helpers/auth.ts';
import { createReservation } from './helpers/payments.ts';
import { facebookConfigFor, startFacebookFixture, type FacebookFixture } from './helpers/facebook_fixture.ts';

const WEB = 'http://127.0.0.1:5173';
let db: TestDb;
let api: TestApi;
let idp: OAuth2Server;
let fb: FacebookFixture;
/** Claims the mock Google puts in the next tokens; tests change them. */
let claims: Record<string, unknown> = {};

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  idp = new OAuth2Server();
  await idp.issuer.keys.generate('RS256');
  await idp.start(0, '127.0.0.1');
  idp.service.on('beforeTokenSigning', (token) => {
    Object.assign(token.payload, claims);
  });
  fb = await startFacebookFixture();
  api = await startApi(db, {
    webUrl: WEB,
    google: { issuer: idp.issuer.url!, clientId: 'sms-web', clientSecret: 'google-secret' },
    facebook: facebookConfigFor(fb),
    staffEmailDomains: ['securemyspot.example'],
  });
});

test.after(async () => {
  await api?.close();
  await idp?.stop();
  await fb?.close();
  await db?.close();
});

const ME = `{ currentUser { rowId email role isVerified name } }`;

interface Started {
  callback: string;
  cookie: string;
  authorizeUrl: URL;
}

/** The browser goes to /auth/<provider>, then to the provider, which sends it back with a code. */
async function begin(provider: 'google' | 'facebook', query = ''): Promise<Started> {
  const start = await fetch(`${api.url}/auth/${provider}${query}`, { redirect: 'manual' });
  assert.is(start.status, 302);
  const authorizeUrl = new URL(start.headers.get('location')!);
  const cookie = cookieHeader({ sms_oauth: cookiesOf(start.headers).sms_oauth });
  const atProvider = await fetch(authorizeUrl, { redirect: 'manual' });
  assert.is(atProvider.status, 302, `provider answered ${atProvider.status}`);
  return { callback: atProvider.headers.get('location')!, cookie, authorizeUrl };
}

interface Finished {
  location: string;
  jar: Record<string, string>;
  headers?: Record<string, string>;
}

async function finish(callback: string, cookie: string): Promise<Finished> {
  const res = await fetch(callback, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  assert.is(res.status, 302);
  const jar = cookiesOf(res.headers);
  const signedIn = jar.sms_session
    ? { cookie: cookieHeader({ sms_session: jar.sms_session, sms_csrf: jar.sms_csrf }), 'x-csrf-token': jar.sms_csrf }
    : undefined;
  return { location: res.headers.get('location')!, jar, headers: signedIn };
}

async function counts() {
  const {
    rows: [row],
  } = await db.owner.query(`select
    (select count(*)::int from app_public.users) as users,
    (select count(*)::int from app_private.sessions) as sessions,
    (select count(*)::int from app_private.user_identities) as identities`);
  return row;
}

function refusedWith(done: Finished, code: string) {
  assert.is(done.location, `${WEB}/sign-in?error=${code}`);
  assert.is(done.jar.sms_session, undefined, 'no session cookie');
}

test('Google: discovery, PKCE + state + nonce sent; a new driver is signed in with a cookie and sent back to the app', async () => {
  claims = { sub: 'google-sub-1', email: 'ann.google@example.com', email_verified: true, name: 'Ann Google' };
  const { callback, cookie, authorizeUrl } = await begin('google', '?redirect=/reservations');
  const p = authorizeUrl.searchParams;
  assert.is(p.get('code_challenge_method'), 'S256');
  assert.ok(p.get('code_challenge') && p.get('state') && p.get('nonce'));
  assert.is(p.get('redirect_uri'), `${api.url}/auth/google/callback`);
  assert.is(p.get('scope'), 'openid email profile');
  const done = await finish(callback, cookie);
  assert.is(done.location, `${WEB}/reservations`);
  const me = await api.gql(ME, {}, done.headers);
  assert.equal(me.data.currentUser, {
    rowId: me.data.currentUser.rowId,
    email: 'ann.google@example.com',
    role: 'driver',
    isVerified: true,
    name: 'Ann Google',
  });
  const { rows } = await db.owner.query(
    `select provider, subject from app_private.user_identities where user_id = $1`,
    [me.data.currentUser.rowId],
  );
  assert.equal(rows, [{ provider: 'google', subject: 'google-sub-1' }]);
  // Next time the same Google account signs in to the same user, even with another email.
  claims = { sub: 'google-sub-1', email: 'ann.renamed@example.com', email_verified: true };
  const again = await begin('google');
  const second = await finish(again.callback, again.cookie);
  assert.is((await api.gql(ME, {}, second.headers)).data.currentUser.rowId, me.data.currentUser.rowId);
});

test('Google: a wrong state, or the right state from another browser, is refused (SMA13)', async () => {
  claims = { sub: 'google-sub-2', email: 'state@example.com', email_verified: true };
  const before = await counts();
  const a = await begin('google');
  const wrong = new URL(a.callback);
  wrong.searchParams.set('state', 'not-the-state');
  refusedWith(await finish(wrong.href, a.cookie), 'SMA13');
  const b = await begin('google');
  refusedWith(await finish(b.callback, ''), 'SMA13');
  const c = await begin('google');
  const other = await begin('google');
  refusedWith(await finish(c.callback, other.cookie), 'SMA13');
  assert.equal(await counts(), before, 'nothing written');
});

test('Google: a replayed callback (same code and state) is refused', async () => {
  claims = { sub: 'google-sub-3', email: 'replay@example.com', email_verified: true };
  const a = await begin('google');
  const first = await finish(a.callback, a.cookie);
  assert.ok(first.headers, 'the first use signs in');
  const before = await counts();
  refusedWith(await finish(a.callback, a.cookie), 'SMA13');
  assert.equal(await counts(), before, 'no second session');
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

test('Google: tampered or wrong id_tokens are refused: altered payload, audience, issuer, expiry, nonce', async () => {
  claims = { sub: 'google-sub-4', email: 'tamper@example.com', email_verified: true };
  const before = await counts();
  // 1. Payload changed after signing (signature no longer matches).
  const alter = (response: { body: Record<string, any> }) => {
    const [h, p, s] = String(response.body.id_token).split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    response.body.id_token = [h, b64({ ...payload, email: 'victim@example.com' }), s].join('.');
  };
  idp.service.once('beforeResponse', alter);
  const a = await begin('google');
  refusedWith(await finish(a.callback, a.cookie), 'SMA13');
  // 2–5. Signed correctly but with claims that must not be accepted.
  const now = Math.floor(Date.now() / 1000);
  for (const bad of [
    { aud: 'another-client' },
    { iss: 'http://evil.example' },
    { iat: now - 7200, exp: now - 3600 },
    { nonce: 'not-the-nonce' },
  ]) {
    claims = { sub: 'google-sub-4', email: 'tamper@example.com', email_verified: true, ...bad };
    const f = await begin('google');
    refusedWith(await finish(f.callback, f.cookie), 'SMA13');
  }
  assert.equal(await counts(), before, 'nothing written');
});

test('Google: staff sign-in only for emails an admin pre-registered', async () => {
  const before = await counts();
  // intent=staff with an email nobody registered: refused, no account made.
  claims = { sub: 'google-sub-5', email: 'new.person@example.com', email_verified: true };
  const a = await begin('google', '?intent=staff');
  refusedWith(await finish(a.callback, a.cookie), 'SMA12');
  // A staff domain is never turned into a driver account either.
  claims = { sub: 'google-sub-6', email: 'walk.in@securemyspot.example', email_verified: true };
  const b = await begin('google');
  refusedWith(await finish(b.callback, b.cookie), 'SMA12');
  // An existing driver cannot enter as staff.
  const driver = await createUser(db, { email: 'just.driver@example.com' });
  claims = { sub: 'google-sub-7', email: driver.email, email_verified: true };
  const c = await begin('google', '?intent=staff');
  refusedWith(await finish(c.callback, c.cookie), 'SMA12');
  const after = await counts();
  assert.is(after.users, before.users + 1, 'only the driver made by the test');
  assert.is(after.identities, before.identities);
  // Pre-registered by an admin (invite): signs in as staff and runs as an operator.
  const {
    rows: [{ id }],
  } = await db.owner.query(`select app_private.user_create('op@securemyspot.example', 'Olive Op', 'operator') as id`);
  claims = { sub: 'google-sub-8', email: 'OP@securemyspot.example', email_verified: true };
  const d = await begin('google', '?intent=staff');
  const done = await finish(d.callback, d.cookie);
  assert.is(done.location, `${WEB}/`);
  const me = await api.gql(ME, {}, done.headers);
  assert.is(me.data.currentUser.rowId, String(id));
  assert.is(me.data.currentUser.role, 'operator');
  assert.is(me.data.currentUser.isVerified, true, 'Google vouched for the invited address');
});

test('Google: an existing password account is linked only when Google verified the email', async () => {
  const user = await createUser(db, { email: 'linked@example.com', password: TEST_PASSWORD });
  claims = { sub: 'google-sub-9', email: 'linked@example.com', email_verified: false };
  const a = await begin('google');
  refusedWith(await finish(a.callback, a.cookie), 'SMA12');
  claims = { sub: 'google-sub-9', email: 'linked@example.com', email_verified: true };
  const b = await begin('google');
  const done = await finish(b.callback, b.cookie);
  assert.is((await api.gql(ME, {}, done.headers)).data.currentUser.rowId, user.id);
});

test("pre-hijack: an unverified password account with the victim's email is reclaimed at a Google-verified sign-in, and the victim's guest reservations are claimed", async () => {
  // Setup: the victim booked as a guest; then an attacker signed up with the victim's address and a password.
  const victim = 'victim.owner@example.com';
  const guest = await createReservation(db, { email: victim, startsIn: 120 });
  const signUp = await postJson(api, '/auth/register', {
    email: victim,
    name: 'Attacker',
    password: 'attacker passphrase 1',
  });
  assert.is(signUp.status, 201, JSON.stringify(signUp.body));
  const attacker = { authorization: `Bearer ${signUp.body.token}` };
  const accountId = signUp.body.userId;
  assert.is((await api.gql(ME, {}, attacker)).data.currentUser.rowId, accountId);
  const {
    rows: [pending],
  } = await db.owner.query(
    `select count(*)::int as n from app_private.user_tokens where user_id = $1 and used_at is null and expires_at > now()`,
    [accountId],
  );
  assert.is(pending.n, 1, 'the sign-up left a verification link pending');
  const {
    rows: [unclaimed],
  } = await db.owner.query('select user_id from app_public.reservations where id = $1', [guest.id]);
  assert.is(unclaimed.user_id, null, 'an unverified account does not get the guest reservation');

  // Action: the victim signs in with Google, which verified the address.
  claims = { sub: 'google-sub-victim', email: victim, email_verified: true, name: 'Real Owner' };
  const b = await begin('google');
  const done = await finish(b.callback, b.cookie);

  // Assertions: the victim is in the same account, verified, with their guest reservation…
  const me = await api.gql(ME, {}, done.headers);
  assert.equal(me.data.currentUser, {
    rowId: accountId,
    email: victim,
    role: 'driver',
    isVerified: true,
    name: 'Real Owner',
  });
  const {
    rows: [claimed],
  } = await db.owner.query('select user_id::text from app_public.reservations where id = $1', [guest.id]);
  assert.is(claimed.user_id, accountId, 'the guest reservation is claimed at that sign-in');
  // …and the attacker holds nothing: session revoked, password gone, links void, no other identity.
  const theirs = await api.gql(ME, {}, attacker);
  assert.is(theirs.errors?.[0]?.extensions?.code, 'SMA15');
  const login = await postJson(api, '/auth/login', { email: victim, password: 'attacker passphrase 1' });
  assert.equal([login.status, login.body.error?.code], [401, 'SMA01']);
  const {
    rows: [left],
  } = await db.owner.query(
    `select
      (select count(*) from app_private.user_secrets where user_id = $1)::int as passwords,
      (select count(*) from app_private.user_tokens where user_id = $1 and used_at is null and expires_at > now())::int as links,
      (select count(*) from app_private.sessions where user_id = $1 and revoked_at is null)::int as sessions,
      (select array_agg(subject) from app_private.user_identities where user_id = $1) as identities`,
    [accountId],
  );
  assert.equal(left, { passwords: 0, links: 0, sessions: 1, identities: ['google-sub-victim'] });
  const { rows: mail } = await db.owner.query(
    `select data from app_private.emails where recipient = $1 and template = 'account_secured'`,
    [victim],
  );
  assert.equal(
    mail.map((m) => m.data),
    [{ name: 'Real Owner', provider: 'google' }],
    'the owner is told',
  );
});

test('open redirects are ignored: only paths inside the web app', async () => {
  claims = { sub: 'google-sub-10', email: 'redirect@example.com', email_verified: true };
  for (const redirect of ['https://evil.example/', '//evil.example/x', '/\\evil.example']) {
    const a = await begin('google', `?redirect=${encodeURIComponent(redirect)}`);
    assert.is((await finish(a.callback, a.cookie)).location, `${WEB}/`);
  }
});

test('Facebook: code flow with PKCE and an appsecret_proof profile call signs in a new driver', async () => {
  fb.nextProfile = { id: '2000001', name: 'Fay Book', email: 'fay@example.com' };
  fb.calls.length = 0;
  const a = await begin('facebook');
  assert.is(a.authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.is(a.authorizeUrl.searchParams.get('scope'), 'email public_profile');
  const done = await finish(a.callback, a.cookie);
  assert.is(done.location, `${WEB}/`);
  assert.equal(fb.calls, ['dialog', 'token', 'me']);
  const me = (await api.gql(ME, {}, done.headers)).data.currentUser;
  assert.equal(
    { email: me.email, name: me.name, role: me.role, isVerified: me.isVerified },
    { email: 'fay@example.com', name: 'Fay Book', role: 'driver', isVerified: true },
  );
  const {
    rows: [session],
  } = await db.owner.query(`select method from app_private.sessions where user_id = $1`, [me.rowId]);
  assert.is(session.method, 'facebook');
});

test('Facebook: replayed callback and wrong state refused; staff only when pre-registered; no email, no account', async () => {
  fb.nextProfile = { id: '2000002', name: 'Rex Play', email: 'rex@example.com' };
  const a = await begin('facebook');
  assert.ok((await finish(a.callback, a.cookie)).headers);
  const before = await counts();
  refusedWith(await finish(a.callback, a.cookie), 'SMA13');
  const b = await begin('facebook');
  const wrong = new URL(b.callback);
  wrong.searchParams.set('state', 'forged');
  refusedWith(await finish(wrong.href, b.cookie), 'SMA13');
  fb.nextProfile = { id: '2000003', name: 'Stan Staff', email: 'stan@example.com' };
  const c = await begin('facebook', '?intent=staff');
  refusedWith(await finish(c.callback, c.cookie), 'SMA12');
  fb.nextProfile = { id: '2000004', name: 'No Mail' };
  const d = await begin('facebook');
  refusedWith(await finish(d.callback, d.cookie), 'SMA12');
  assert.equal(await counts(), before, 'nothing written');
});

test('a provider that is not configured answers 404', async () => {
  const bare = await startApi(db);
  try {
    const res = await fetch(`${bare.url}/auth/google`, { redirect: 'manual' });
    assert.is(res.status, 404);
  } finally {
    await bare.close();
  }
});

test.run();
