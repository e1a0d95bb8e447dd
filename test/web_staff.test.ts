// The staff console in Chromium against the running product: an operator
// signs in, finds a customer despite a typo, opens the page, adds a note and
// uploads a photo; an enforcement officer checks a plate on a phone; a driver
// is told the customers page is for staff; no serious accessibility finding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { createUser } from './helpers/db.ts';
import { TEST_PASSWORD } from './helpers/auth.ts';
import { createSpot } from './helpers/spots.ts';
import { ERROR_SENTENCES } from '../web/src/error_messages.ts';
import { seriousA11yViolations, startWebStack, type WebStack } from './helpers/web_stack.ts';
import type { Page } from 'playwright-core';

let stack: WebStack;

test.before(async () => {
  stack = await startWebStack(import.meta.filename);
});
test.after(async () => {
  await stack?.close();
});

async function signIn(page: Page, role: string, next: string, zone?: string): Promise<void> {
  const user = await createUser(stack.db, { role, password: TEST_PASSWORD });
  if (zone)
    await stack.db.owner.query('insert into app_public.operator_zones (user_id, borough) values ($1, $2)', [
      user.id,
      zone,
    ]);
  await page.goto(`${stack.webUrl}/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`**${next}`);
}

test('an operator finds a customer with a typo, adds a note and uploads a photo', async () => {
  const {
    rows: [c],
  } = await stack.db.owner.query(
    `insert into app_public.customers (email, name, surname) values ('john.smith@example.test', 'John', 'Smith') returning id::text`,
  );
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'operator', '/staff/customers');

  await page.getByLabel('Name, surname or email').fill('smiht');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: 'John Smith' }).click();
  await page.waitForURL(`**/staff/customers/${c.id}`);
  await page.getByRole('heading', { name: `Customer #${c.id}` }).waitFor();

  await page.getByLabel('New note').fill('Prefers email');
  await page.getByRole('button', { name: 'Add note' }).click();
  await page.locator('ul.notes li', { hasText: 'Prefers email' }).waitFor();

  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
  await page
    .getByLabel('Upload a photo (JPEG, PNG or WebP)')
    .setInputFiles({ name: 'face.png', mimeType: 'image/png', buffer: png });
  const img = page.locator('img.customer-photo');
  await img.waitFor();
  await page.waitForFunction(
    () => (document.querySelector('img.customer-photo') as HTMLImageElement | null)?.naturalWidth === 64,
  );

  const {
    rows: [row],
  } = await stack.db.owner.query(
    `select photo_key is not null as has_photo, (select count(*)::int from app_public.customer_notes where customer_id = $1) as notes
     from app_public.customers where id = $1`,
    [c.id],
  );
  assert.equal(row, { has_photo: true, notes: 1 });

  // A renamed file: the sentence for the code, next to the file field.
  await page
    .getByLabel('Upload a photo (JPEG, PNG or WebP)')
    .setInputFiles({ name: 'face.jpg', mimeType: 'image/jpeg', buffer: png });
  await page.locator('#photo-file-error').waitFor();
  assert.is(await page.locator('#photo-file-error').textContent(), ERROR_SENTENCES.SMU02);
  assert.equal(await seriousA11yViolations(page), []);
});

test('an enforcement officer checks a plate on a phone', async () => {
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -73.99 });
  await stack.db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, status, amount, currency, plate, plate_state)
    values ($1, 'parked@example.test', tstzrange(now() - interval '5 minutes', now() + interval '1 hour'), 'confirmed', 300, 'USD', 'ABC123', 'NY')`,
    [spot],
  );
  const { page } = await stack.newPage('phone');
  await signIn(page, 'enforcement', '/staff/enforcement');
  await page.getByLabel('Licence plate').fill('abc 123');
  await page.getByLabel('Spot number (optional)').fill(spot);
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('.enforcement-valid').waitFor();
  assert.match(
    (await page.locator('.enforcement-valid').textContent()) ?? '',
    new RegExp(`^ABC123 holds a valid reservation at spot ${spot} until`),
  );
  await page.getByLabel('Licence plate').fill('ZZZ999');
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('.enforcement-invalid').waitFor();
  assert.equal(await seriousA11yViolations(page), []);
});

test('an operator edits a spot in their zone, takes it out of service and blocks it; outside their zone they are refused', async () => {
  const spot = await createSpot(stack.db, { lat: 40.68, lng: -73.95, borough: 'Brooklyn' });
  const {
    rows: [kept],
  } = await stack.db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, status, amount, currency)
    values ($1, 'kept@example.test', tstzrange(now() + interval '1 day', now() + interval '1 day 1 hour'), 'confirmed', 300, 'USD') returning id::text`,
    [spot],
  );
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'operator', `/staff/spots/${spot}`, 'Brooklyn');
  await page.getByLabel('Street').fill('Court Street');
  await page.getByRole('button', { name: 'Save spot' }).click();
  await page.getByRole('status').filter({ hasText: 'Spot saved.' }).waitFor();
  await page.locator('ul.affected li', { hasText: `#${kept.id}` }).waitFor();
  await page.getByRole('button', { name: 'Take out of service' }).click();
  await page.locator('.spot-status', { hasText: 'Out of service' }).waitFor();
  await page.getByRole('button', { name: 'Block' }).click();
  await page.getByRole('status').filter({ hasText: 'Blocked.' }).waitFor();
  const listed = page.locator('ul.blocks li[data-block-id]');
  await listed.waitFor();
  assert.is(await listed.count(), 1);
  const {
    rows: [row],
  } = await stack.db.owner.query(
    `select s.street, s.status, (select status::text from app_public.reservations where id = $2) as kept,
    (select count(*)::int from app_public.reservations where spot_id = $1 and kind = 'block') as blocks from app_public.spots s where s.id = $1`,
    [spot, kept.id],
  );
  assert.equal(row, { street: 'Court Street', status: 'out_of_service', kept: 'confirmed', blocks: 1 });
  await page.getByRole('button', { name: /^Lift block #/ }).click();
  await page.getByRole('status').filter({ hasText: 'Block lifted.' }).waitFor();
  await page.locator('ul.blocks li').first().waitFor({ state: 'detached' });

  const other = await stack.newPage('desktop');
  await signIn(other.page, 'operator', `/staff/spots/${spot}`, 'Queens');
  // The page asks for the reservations the spot affects, which only its zone's operators may see.
  await other.page.getByRole('alert').filter({ hasText: ERROR_SENTENCES.SMO02 }).waitFor();
  assert.is(await other.page.getByRole('button', { name: 'Save spot' }).count(), 0);
});

test('a driver is told the customers page is for staff', async () => {
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'driver', '/staff/customers');
  await page.getByRole('alert').filter({ hasText: ERROR_SENTENCES.SMC01 }).waitFor();
  assert.is(await page.getByRole('link', { name: 'Customers' }).count(), 0, 'no staff link in the header');
});

test.run();
