// Accounts and a signed-in driver's reservation in the web app, in Chromium
// against the running product: sign up and follow the verification email;
// reserve, change the end after seeing the new price, end now, and follow the
// receipt's link; forgot and reset password; set-password links that are
// incomplete or refused; the API out of reach does not sign anyone out;
// Google's button, round trip
// through a local OpenID Connect provider (oauth2-mock-server); signing out
// another session leaves the focus on the message saying so; every account
// page accessible at phone and desktop sizes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { OAuth2Server } from 'oauth2-mock-server';
import { MIDTOWN, nothingLoading, openFirstFreeSpot, reservationStatusIs, typeCard } from './helpers/web_pages.ts';
import { seriousA11yViolations, startWebStack, type Size, type WebStack } from './helpers/web_stack.ts';
import { APP_ONLY_SENTENCES, ERROR_SENTENCES } from '../web/src/error_messages.ts';

let stack: WebStack;
let google: OAuth2Server;
const PASSWORD = 'correct horse battery 9';

test.before(async () => {
  google = new OAuth2Server();
  await google.issuer.keys.generate('RS256');
  await google.start(0, '127.0.0.1');
  // The browser resolves only 127.0.0.1 (web_stack.ts), and the mock names itself localhost.
  google.issuer.url = google.issuer.url!.replace('//localhost:', '//127.0.0.1:');
  // The mock signs in whoever asks; these claims are who that is.
  google.service.on('beforeTokenSigning', (token) => {
    Object.assign(token.payload, { email: 'gil.google@example.test', email_verified: true, name: 'Gil Google' });
  });
  stack = await startWebStack(import.meta.filename, {
    GOOGLE_CLIENT_ID: 'sms-web',
    GOOGLE_CLIENT_SECRET: 'google-secret',
    GOOGLE_ISSUER: google.issuer.url!,
  });
});
test.after(async () => {
  await stack?.close();
  await google?.stop();
});

async function signUp(page: Page, name: string, email: string): Promise<void> {
  await page.goto(`${stack.webUrl}/sign-up`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('.notice', { hasText: `Welcome, ${name}!` }).waitFor();
}

test('A new user signs up and follows the verification link from the email', async () => {
  const { page } = await stack.newPage('phone');
  await signUp(page, 'Vera Verify', 'vera@example.test');
  assert.match((await page.locator('main').textContent()) ?? '', /not verified yet/);
  const mail = await stack.waitForMail('vera@example.test', /^Verify your email for /);
  const link = mail.links.find((l) => l.includes('/verify-email'));
  assert.ok(link, `a verification link in:\n${mail.text}`);
  await page.goto(link!);
  await page.locator('.notice', { hasText: 'your email address is verified' }).waitFor();
  await page.goto(`${stack.webUrl}/account`);
  await page.locator('main', { hasText: '(verified).' }).waitFor();
  // Sessions belong to no spot: their times are the browser's, and say so.
  await page.getByText("Times in America/New_York, this browser's time zone.").waitFor();
  // The same link a second time is refused with its sentence, not raw JSON.
  await page.goto(link!);
  await page.locator('.form-error').waitFor();
  assert.not.match((await page.locator('main').textContent()) ?? '', /[{}]/);
});

test('The verification link opened in another browser asks for the password: a wrong one is said next to the field, the right one verifies', async () => {
  const { page } = await stack.newPage('desktop');
  await signUp(page, 'Otto Other', 'otto@example.test');
  const mail = await stack.waitForMail('otto@example.test', /^Verify your email for /);
  const link = mail.links.find((l) => l.includes('/verify-email'))!;
  const { page: phone } = await stack.newPage('phone');
  await phone.goto(link);
  await phone.getByRole('link', { name: 'choose a password' }).waitFor();
  // Empty: asked for before sending; wrong: said to be wrong. Either way the field has the focus.
  await phone.getByRole('button', { name: 'Verify' }).click();
  await phone.locator('#password-error', { hasText: 'Enter the password of this account.' }).waitFor();
  await phone.waitForFunction(() => document.activeElement?.id === 'password');
  await phone.getByLabel('Password').fill('not the password 1');
  await phone.getByRole('button', { name: 'Verify' }).click();
  await phone.locator('#password-error', { hasText: "That password is not this account's." }).waitFor();
  assert.is(await phone.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await phone.waitForFunction(() => document.activeElement?.id === 'password');
  await phone.getByLabel('Password').fill(PASSWORD);
  await phone.getByRole('button', { name: 'Verify' }).click();
  await phone.locator('.notice', { hasText: 'your email address is verified' }).waitFor();
});

test('A signed-in driver reserves, changes the end after seeing the new price, ends it, and opens the receipt', async () => {
  const { page } = await stack.newPage('desktop');
  await signUp(page, 'Dora Driver', 'dora@example.test');
  await page.goto(stack.webUrl + MIDTOWN);
  await openFirstFreeSpot(page);
  assert.is(await page.getByLabel('Your email').count(), 0, 'signed in: no email asked');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.waitForURL(/\/reservations\/\d+$/);
  const id = /\/reservations\/(\d+)$/.exec(page.url())![1]!;
  await typeCard(page, '4242 4242 4242 4242');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await reservationStatusIs(page, 'confirmed');

  // Change the end: the new price is shown first, and nothing changes until it is accepted.
  await page.getByRole('button', { name: 'See the new price' }).click();
  const requote = (await page.locator('.requote-text').textContent()) ?? '';
  assert.match(requote, /^New end .+: \$\d+\.\d\d instead of \$\d+\.\d\d\.$/);
  await page.getByRole('button', { name: 'Accept new end' }).click();
  await page.locator('.notice', { hasText: 'New end saved.' }).waitFor();
  const changed = await stack.waitForMail('dora@example.test', new RegExp(`^Reservation #${id} changed$`));
  assert.match(changed.text, /New price: \$\d+\.\d\d/);

  // My reservations lists it, named with the meter number on its sign.
  await page.getByRole('link', { name: 'My reservations', exact: true }).click();
  await page.locator(`a[href="/reservations/${id}"]`).first().waitFor();
  assert.match(
    (await page.locator(`li[data-reservation-id="${id}"] .spot-title`).first().textContent()) ?? '',
    / · Meter \d+$/,
  );
  await page.locator(`a[href="/reservations/${id}"]`).first().click();
  await reservationStatusIs(page, 'confirmed');

  await page.getByRole('button', { name: 'End now…' }).click();
  assert.match(
    (await page.locator('.requote-text').textContent()) ?? '',
    /^You pay for the time used: \$\d+\.\d\d instead of/,
  );
  await page.getByRole('button', { name: 'End now', exact: true }).click();
  await page.locator('.notice', { hasText: 'Reservation ended' }).waitFor();
  await stack.waitForMail('dora@example.test', new RegExp(`^Reservation #${id} ended$`));
  const receipt = await stack.waitForMail(
    'dora@example.test',
    new RegExp(`^Receipt for reservation #${id}: \\$\\d+\\.\\d\\d$`),
  );
  const link = receipt.links.find((l) => l.endsWith(`/reservations/${id}`));
  assert.ok(link, `a link to the reservation in:\n${receipt.text}\n${receipt.links}`);
  await page.goto(link!);
  await reservationStatusIs(page, 'completed');
});

test('Forgot password: the emailed link sets a new password, and it signs in', async () => {
  const { page } = await stack.newPage('desktop');
  await signUp(page, 'Reese Reset', 'reese@example.test');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
  await page.goto(`${stack.webUrl}/forgot-password`);
  await page.getByLabel('Email').fill('reese@example.test');
  await page.getByRole('button', { name: 'Email me a link' }).click();
  const mail = await stack.waitForMail('reese@example.test', /^Reset your .* password$/);
  const link = mail.links.find((l) => l.includes('/reset-password'));
  assert.ok(link, `a reset link in:\n${mail.text}`);
  await page.goto(link!);
  await page.getByLabel('New password').fill('another long passphrase 7');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.locator('.notice').first().waitFor();

  await page.goto(`${stack.webUrl}/sign-in`);
  await page.getByLabel('Email').fill('reese@example.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('#password-error, .form-error').first().waitFor();
  await page.getByLabel('Password').fill('another long passphrase 7');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
});

test('Set-password links: one without a token says so at once, one refused takes the form away and says who makes a new one', async () => {
  const { page } = await stack.newPage('desktop');
  for (const path of ['/reset-password', '/reset-password?token=', '/accept-invite']) {
    await page.goto(stack.webUrl + path);
    await page.locator('.form-error', { hasText: 'This link is incomplete' }).waitFor();
    assert.is(await page.getByLabel('New password').count(), 0, `${path}: no form`);
  }
  assert.match((await page.locator('.form-error').textContent()) ?? '', /ask the admin who invited you/);

  for (const [path, sentence] of [
    ['/reset-password?token=unknown', ERROR_SENTENCES.SMA07!],
    ['/accept-invite?token=unknown', 'ask the admin who invited you for a new invitation.'],
  ] as const) {
    await page.goto(stack.webUrl + path);
    await page.getByLabel('New password').fill('another long passphrase 7');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.locator('#link-refused', { hasText: sentence }).waitFor();
    assert.is(await page.getByLabel('New password').count(), 0, `${path}: the form is gone`);
    await page.waitForFunction(() => document.activeElement?.id === 'link-refused');
  }
  // Only an admin invites again: no link to ask for one.
  assert.not.match((await page.locator('main').textContent()) ?? '', /Ask for a new (one|link)/);
});

test('The API out of reach or failing: a signed-in driver is told so, not asked to sign in, and is still signed in after', async () => {
  const { page } = await stack.newPage('desktop');
  await signUp(page, 'Una Unreachable', 'una@example.test');
  const network = APP_ONLY_SENTENCES.NETWORK!;
  for (const answer of ['refused', 'bad gateway'] as const) {
    await page.route('**/graphql', (route) =>
      answer === 'refused' ? route.abort('connectionrefused') : route.fulfill({ status: 502, body: 'Bad Gateway' }),
    );
    await page.goto(`${stack.webUrl}/account`);
    await page.locator('.form-error', { hasText: network }).waitFor();
    assert.is(await page.getByText(ERROR_SENTENCES.SMA08!).count(), 0, answer);
    assert.is(await page.locator('header').getByRole('link', { name: 'Sign in' }).count(), 0, answer);
    await page.unroute('**/graphql');
  }
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.locator('main', { hasText: 'una@example.test' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
});

test('Sign in with Google: the button appears when configured and the round trip ends signed in where it started', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/sign-in?next=${encodeURIComponent('/reservations')}`);
  await page.getByRole('link', { name: 'Google' }).click();
  // The provider answers at once (no consent screen in the mock) and sends the browser back.
  await page.waitForURL(`${stack.webUrl}/reservations`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${stack.webUrl}/account`);
  await page.locator('main', { hasText: 'gil.google@example.test' }).waitFor();
  assert.match((await page.locator('main').textContent()) ?? '', /\(verified\)\./);
  assert.is(await page.getByRole('link', { name: 'Facebook' }).count(), 0, 'Facebook is not configured here');

  // Saved vehicles (the reserve form's picker): errors next to their field, which takes the focus; add, remove.
  const stateField = page.getByLabel('State or province (optional, e.g. NY)');
  await page.getByLabel('Licence plate').fill('abc-123');
  await stateField.fill('N1');
  await page.getByRole('button', { name: 'Add vehicle' }).click();
  await page.locator('#vehicle-state-error', { hasText: '2 or 3 letter code' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'vehicle-state');
  await stateField.fill('ny');
  await page.getByLabel('Licence plate').fill('ABC 123 4567 89');
  await page.getByRole('button', { name: 'Add vehicle' }).click();
  await page.locator('#vehicle-plate-error', { hasText: ERROR_SENTENCES.SME01! }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'vehicle-plate');
  await page.getByLabel('Licence plate').fill('abc-123');
  await page.getByLabel('Label (optional, e.g. Van)').fill('Van');
  await page.getByRole('button', { name: 'Add vehicle' }).click();
  const van = page.locator('ul.vehicles li', { hasText: 'Van: ABC123 (NY)' });
  await van.waitFor();
  await van.getByRole('button', { name: 'Remove ABC123' }).click();
  await van.waitFor({ state: 'detached' });
  await page.getByText('No saved vehicle yet.').waitFor();

  // The session revoked elsewhere: the next answer refuses it, and the header turns signed out.
  await stack.db.owner.query(
    `update app_private.sessions set revoked_at = now()
     where user_id = (select id from app_public.users where email = 'gil.google@example.test')`,
  );
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('header').getByRole('link', { name: 'Sign in' }).waitFor();
  assert.is(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
});

test('Signing out another session on the account page: the focus goes to the message saying so, not the page', async () => {
  const { page } = await stack.newPage('desktop');
  await signUp(page, 'Sam Sessions', 'sam.sessions@example.test');
  const { page: other } = await stack.newPage('phone');
  await other.goto(`${stack.webUrl}/sign-in`);
  await other.getByLabel('Email').fill('sam.sessions@example.test');
  await other.getByLabel('Password').fill(PASSWORD);
  await other.getByRole('button', { name: 'Sign in', exact: true }).click();
  await other.getByRole('button', { name: 'Sign out' }).waitFor();

  await page.goto(`${stack.webUrl}/account`);
  const button = page.getByRole('button', { name: /^Sign out this session/ });
  await button.waitFor();
  assert.is(await button.count(), 1, 'the other browser');
  await button.click();
  const notice = page.locator('#sessions-notice', { hasText: /^Signed out the session started / });
  await notice.waitFor();
  await button.waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.activeElement?.id === 'sessions-notice');
  assert.ok(await page.evaluate(() => document.activeElement !== document.body));
  assert.equal(await seriousA11yViolations(page), [], 'the account page with the message focused');
});

async function assertAccessible(page: Page, paths: string[]): Promise<void> {
  for (const path of paths) {
    await page.goto(stack.webUrl + path);
    await page.locator('h1').first().waitFor();
    await nothingLoading(page);
    assert.equal(await seriousA11yViolations(page), [], path);
  }
}

for (const size of ['phone', 'desktop'] as Size[]) {
  test(`Account pages have no serious or critical accessibility finding (${size})`, async () => {
    const { page } = await stack.newPage(size);
    await assertAccessible(page, [
      '/sign-in',
      '/sign-up',
      '/forgot-password',
      '/reset-password?token=unknown',
      '/verify-email?token=unknown',
      '/accept-invite?token=unknown',
    ]);
    await signUp(page, `Ally ${size}`, `ally.${size}@example.test`);
    await assertAccessible(page, ['/account', '/reservations']);
  });
}

test.run();
