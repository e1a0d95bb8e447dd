// Account pages in Chromium against the running product: sign up and follow
// the verification link from the email; errors next to their fields; sign in,
// sign out; another session revoked from the sessions list; a password reset
// from its emailed link; axe at phone and desktop sizes on every account page.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_SENTENCES } from '../web/src/error_messages.ts';
import { seriousA11yViolations, startWebStack, waitUntil, type WebStack } from './helpers/web_stack.ts';

let stack: WebStack;
const PASSWORD = 'a long enough password';

test.before(async () => { stack = await startWebStack(import.meta.filename); });
test.after(async () => { await stack?.close(); });

async function signUp(email: string, name = 'Dana Driver') {
  const { context, page } = await stack.newPage('phone');
  await page.goto(`${stack.webUrl}/sign-up`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/\/account\?welcome=1$/);
  return { context, page };
}

test('a new driver signs up, then follows the verification link from the email', async () => {
  const email = 'dana@example.test';
  const { page } = await signUp(email);
  await page.getByText(`Signed in as ${email} (not verified yet).`).waitFor();
  const mail = await stack.waitForMail(email, /^Verify your email/);
  const link = mail.links.find((l) => l.includes('/verify-email?token='));
  assert.ok(link?.startsWith(`${stack.webUrl}/verify-email?token=`), `the link leads to the web app: ${link}`);
  await page.goto(link!);
  await page.getByText('Thank you: your email address is verified.').waitFor();
  await page.goto(`${stack.webUrl}/account`);
  await page.getByText(`Signed in as ${email} (verified).`).waitFor();
  // The link works once.
  await page.goto(link!);
  await page.locator('.form-error').waitFor();
  assert.is(await page.locator('.form-error').textContent(), ERROR_SENTENCES.SMA07);
});

test('sign-up refusals appear next to the field that caused them', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/sign-up`);
  await page.getByLabel('Name').fill('Eve');
  await page.getByLabel('Email').fill('eve@example.test');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#password-error').waitFor();
  assert.is(await page.locator('#password-error').textContent(), ERROR_SENTENCES.SMA04);
  assert.is(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');

  await page.getByLabel('Email').fill('dana@example.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#email-error').waitFor();
  assert.is(await page.locator('#email-error').textContent(), ERROR_SENTENCES.SMA06);
});

test('sign in (a wrong password first), see another session and sign it out, then sign out', async () => {
  const email = 'frank@example.test';
  const first = await signUp(email, 'Frank');
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.form-error').waitFor();
  assert.is(await page.locator('.form-error').textContent(), ERROR_SENTENCES.SMA01);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'My reservations' }).waitFor();

  // The phone's session (from sign-up) is listed on the desktop's account page: sign it out.
  await page.goto(`${stack.webUrl}/account`);
  const other = page.locator('ul.sessions li').filter({ hasNot: page.getByText('This browser') });
  await other.first().waitFor();
  assert.is(await page.locator('ul.sessions li').count(), 2);
  await other.getByRole('button', { name: /Sign out this session/ }).click();
  await waitUntil(async () => (await page.locator('ul.sessions li').count()) === 1, 'the revoked session gone from the list');
  await first.page.goto(`${stack.webUrl}/account`);
  await first.page.getByText(ERROR_SENTENCES.SMA08).waitFor();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
});

test('a wrong current password is explained next to it; a forgotten one is reset from the emailed link', async () => {
  const email = 'gina@example.test';
  const { page } = await signUp(email, 'Gina');
  await page.getByLabel('Current password').fill('not my password!!');
  await page.getByLabel('New password').fill('another long password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('#oldPassword-error').waitFor();
  assert.is(await page.locator('#oldPassword-error').textContent(), ERROR_SENTENCES.SMA09);

  const { page: other } = await stack.newPage('desktop');
  await other.goto(`${stack.webUrl}/forgot-password`);
  await other.getByLabel('Email').fill(email);
  await other.getByRole('button', { name: 'Email me a link' }).click();
  await other.getByText(/If an account has this email/).waitFor();
  const mail = await stack.waitForMail(email, /^Reset your/);
  const link = mail.links.find((l) => l.includes('/reset-password?token='))!;
  await other.goto(link);
  await other.getByLabel('New password').fill('a brand new password');
  await other.getByRole('button', { name: 'Set password' }).click();
  await other.getByText('Your password is set.').waitFor();
  await other.goto(`${stack.webUrl}/sign-in`);
  await other.getByLabel('Email').fill(email);
  await other.getByLabel('Password').fill('a brand new password');
  await other.getByRole('button', { name: 'Sign in' }).click();
  await other.getByRole('link', { name: 'My reservations' }).waitFor();
});

const PAGES = ['/sign-in', '/sign-up', '/forgot-password', '/reset-password?token=nope', '/accept-invite?token=nope', '/verify-email?token=nope', '/account', '/nowhere'];

for (const size of ['phone', 'desktop'] as const) {
  test(`account pages have no serious or critical accessibility finding (${size})`, async () => {
    const { page } = await stack.newPage(size);
    for (const path of PAGES) {
      await page.goto(stack.webUrl + path);
      await page.locator('h1').waitFor();
      await page.waitForLoadState('networkidle');
      assert.equal(await seriousA11yViolations(page), [], path);
    }
  });
}

test.run();
