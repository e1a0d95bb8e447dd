// The staff console in Chromium against the running product: an operator
// signs in, finds a customer despite a typo, opens the page, adds a note and
// uploads a photo; refunds part of a real charge; blocks a spot and finds the
// block on the week calendar, then lifts it there; a price error lasts only
// until the price changes or another change succeeds; an enforcement officer
// checks a plate on a phone by the meter number on the sign; a browser in another time zone sees a
// customer's reservations, a spot's week and its blocks on the spot's clock;
// a driver is told the customers page is for staff; no serious accessibility
// finding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { createUser } from './helpers/db.ts';
import { TEST_PASSWORD } from './helpers/auth.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { ERROR_SENTENCES, METER_UNKNOWN } from '../web/src/error_messages.ts';
import { endNow, reserveGuest, setUpCard } from './helpers/driver_client.ts';
import { seriousA11yViolations, startWebStack, waitUntil, type WebStack } from './helpers/web_stack.ts';
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
  // The customer's name is the heading and the page's title.
  await page.getByRole('heading', { name: 'John Smith', level: 1 }).waitFor();
  await page.locator('.customer-id', { hasText: `Customer #${c.id} · john.smith@example.test` }).waitFor();
  await page.waitForFunction(() => document.title === 'John Smith · Secure My Spot');

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

test('an enforcement officer checks a plate on a phone by the meter number on the sign', async () => {
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -73.99 });
  const meter = `90${spot}17`;
  await stack.db.owner.query('update app_public.spots set external_id = $2 where id = $1', [spot, meter]);
  await stack.db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, status, amount, currency, plate, plate_state)
    values ($1, 'parked@example.test', tstzrange(now() - interval '5 minutes', now() + interval '1 hour'), 'confirmed', 300, 'USD', 'ABC123', 'NY')`,
    [spot],
  );
  // An officer's phone set to another zone: the answer is still on the street's clock.
  const { page } = await stack.newPage('phone', { timezoneId: 'Asia/Tokyo' });
  const sent: Array<Record<string, unknown>> = [];
  page.on('request', (req) => {
    const body = req.method() === 'POST' && req.url().endsWith('/graphql') ? req.postDataJSON() : null;
    if (/mutation EnforcementLookup\(/.test(body?.query ?? '')) sent.push(body.variables);
  });
  await signIn(page, 'enforcement', '/staff/enforcement');
  const meterField = page.getByLabel('Meter number (optional)');
  assert.match(
    (await page.locator('#meter-hint').textContent()) ?? '',
    /^The number on the meter's sign, such as \d+\./,
  );
  await page.getByLabel('Licence plate').fill('abc 123');
  // A number on no meter: said next to its field, which takes the focus; no answer shown.
  await meterField.fill('99999999');
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('#meter-error').waitFor();
  // The officer's sentence, not the drivers' shared one.
  assert.is(await page.locator('#meter-error').textContent(), METER_UNKNOWN);
  await page.waitForFunction(() => document.activeElement?.id === 'meter');
  assert.is(await page.locator('.form-error').count(), 0, 'no form-level error and no answer');
  // The meter's number as typed from the sign (spaces around it are dropped): sent as the meter number.
  await meterField.fill(` ${meter} `);
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('.enforcement-valid').waitFor();
  assert.is(await page.locator('#meter-error').count(), 0);
  assert.match(
    (await page.locator('.enforcement-valid').textContent()) ?? '',
    new RegExp(`^ABC123 holds a valid reservation at meter ${meter} until .+ (EST|EDT)\\.$`),
    "until, on the spot's clock (New York) whatever the phone's zone",
  );
  assert.equal(sent.at(-1), { plate: 'abc 123', state: null, meter });
  await page.getByLabel('Licence plate').fill('ZZZ999');
  await page.getByRole('button', { name: 'Check' }).click();
  await page
    .locator('.enforcement-invalid', { hasText: `ZZZ999 holds no valid reservation at meter ${meter} now.` })
    .waitFor();
  // Without a meter number: the plate anywhere.
  await meterField.fill('');
  await page.getByLabel('Licence plate').fill('ABC123');
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('.enforcement-valid', { hasText: /^ABC123 holds a valid reservation until / }).waitFor();
  assert.equal(sent.at(-1), { plate: 'ABC123', state: null, meter: null });
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
  // While the answer came the button kept the focus (it does not disable itself and drop it to the page).
  assert.is(await page.evaluate(() => document.activeElement?.textContent), 'Save spot');
  await page.locator('ul.affected li', { hasText: `#${kept.id}` }).waitFor();
  await page.getByRole('button', { name: 'Take out of service' }).click();
  await page.locator('.spot-status', { hasText: 'Out of service' }).waitFor();
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Blocked.' }).waitFor();
  const {
    rows: [row],
  } = await stack.db.owner.query(
    `select s.street, s.status, (select status::text from app_public.reservations where id = $2) as kept,
    (select count(*)::int from app_public.reservations where spot_id = $1 and kind = 'block') as blocks from app_public.spots s where s.id = $1`,
    [spot, kept.id],
  );
  assert.equal(row, { street: 'Court Street', status: 'out_of_service', kept: 'confirmed', blocks: 1 });

  const other = await stack.newPage('desktop');
  await signIn(other.page, 'operator', `/staff/spots/${spot}`, 'Queens');
  // The page asks for the reservations the spot affects, which only its zone's operators may see.
  await other.page.getByRole('alert').filter({ hasText: ERROR_SENTENCES.SMO02 }).waitFor();
  assert.is(await other.page.getByRole('button', { name: 'Save spot' }).count(), 0);
});

/** The GraphQL operations the page sends, by name, as they go. */
function sentOperations(page: Page): string[] {
  const sent: string[] = [];
  page.on('request', (req) => {
    if (!req.url().endsWith('/graphql') || req.method() !== 'POST') return;
    const name = /^\s*(?:query|mutation)\s+(\w+)/.exec(String(req.postDataJSON()?.query ?? ''))?.[1];
    if (name) sent.push(name);
  });
  return sent;
}

test('numbers typed on the spot page are checked next to their field, and a new hourly price is confirmed first', async () => {
  // A yen rate (zero-decimal: 600 is ¥600) on two spots.
  const rateId = await createRate(stack.db, { hourlyPrice: 600, currency: 'JPY' });
  const spot = await createSpot(stack.db, { lat: 40.68, lng: -73.94, borough: 'Brooklyn', rateId });
  await createSpot(stack.db, { lat: 40.681, lng: -73.94, borough: 'Brooklyn', rateId });
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'operator', `/staff/spots/${spot}`, 'Brooklyn');
  const sent = sentOperations(page);
  await page.locator('.spot-facts', { hasText: '¥600 an hour' }).waitFor();
  const priceField = page.getByLabel(/^Hourly price of rate .* \(JPY, every spot on it\)/);
  assert.is(await priceField.inputValue(), '600', 'yen have no decimals');

  // A cleared price is not ¥0: refused next to the field, nothing sent.
  await priceField.fill('');
  await page.getByRole('button', { name: 'Save rate' }).click();
  const priceError = page.locator('#hourly-price-error');
  await priceError.waitFor();
  assert.is(await priceError.getAttribute('role'), 'alert', 'announced as it appears');
  assert.match((await priceError.textContent()) ?? '', /^Enter an amount/);
  assert.is(await priceField.getAttribute('aria-invalid'), 'true');
  assert.ok(await priceField.evaluate((el) => el === document.activeElement), 'focus on the field to fix');
  await priceField.fill('6.5');
  await page.getByRole('button', { name: 'Save rate' }).click();
  await page.locator('#hourly-price-error', { hasText: 'JPY amounts have no decimals' }).waitFor();
  // A comma only separates thousands: "6,50" is refused, not read as ¥650.
  await priceField.fill('6,50');
  await page.getByRole('button', { name: 'Save rate' }).click();
  await page
    .locator('#hourly-price-error', {
      hasText: /^Use a point for decimals; a comma only between thousands, such as 1,250\.$/,
    })
    .waitFor();

  // A maximum stay that is no number: refused next to the field, nothing sent.
  const maxStay = page.getByLabel('Maximum stay (minutes)');
  await maxStay.fill('two hours');
  await page.getByRole('button', { name: 'Save spot' }).click();
  await page.locator('#max-stay-error', { hasText: 'whole number of minutes' }).waitFor();
  assert.is(await maxStay.getAttribute('aria-invalid'), 'true');
  assert.is(await page.getByRole('status').filter({ hasText: 'Spot saved.' }).count(), 0);
  // A blank street is no street: said next to the Street field, which takes the focus.
  const street = page.getByLabel('Street');
  await street.fill('   ');
  await page.getByRole('button', { name: 'Save spot' }).click();
  await page.locator('#street-error', { hasText: 'Enter the street of the spot.' }).waitFor();
  assert.is(await street.getAttribute('aria-invalid'), 'true');
  await page.waitForFunction(() => document.activeElement?.id === 'street');
  // A block without its end: said next to Until, which takes the focus.
  await page.getByLabel('Until').fill('');
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  await page.locator('#block-to-error', { hasText: 'Enter when the block ends' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'block-to');
  assert.is(await page.locator('#block-from-error').count(), 0, 'the start is fine');
  assert.equal(
    sent.filter((n) => n !== 'StaffSpot'),
    [],
    'nothing was sent',
  );

  // A good price is confirmed first, naming the price and how many spots charge it.
  await priceField.fill('700');
  await page.getByRole('button', { name: 'Save rate' }).click();
  await page
    .locator('#rate-confirm-text', {
      hasText: /from ¥600 to ¥700\? Every spot on the rate charges it: 2 spots\.$/,
    })
    .waitFor();
  assert.equal(
    sent.filter((n) => n !== 'StaffSpot'),
    [],
    'nothing sent before the confirmation',
  );
  assert.equal(await seriousA11yViolations(page), [], 'the confirmation step');
  assert.is(await page.evaluate(() => document.activeElement?.id), 'rate-confirm-text', 'the question has the focus');
  await page.getByRole('button', { name: 'Charge ¥700 an hour at 2 spots' }).click();
  await page.getByRole('status').filter({ hasText: 'Rate saved.' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'hourly-price');
  await page.locator('.spot-facts', { hasText: '¥700 an hour' }).waitFor();
  const {
    rows: [rate],
  } = await stack.db.owner.query('select hourly_price from app_public.rates where id = $1', [rateId]);
  assert.is(rate.hourly_price, 700);
  const {
    rows: [saved],
  } = await stack.db.owner.query(`select max_stay = interval '4 hours' as kept from app_public.spots where id = $1`, [
    spot,
  ]);
  assert.ok(saved.kept, 'the maximum stay was not changed');
});

test('a price error on the spot page goes when the price is typed again or another change succeeds', async () => {
  const spot = await createSpot(stack.db, { lat: 40.682, lng: -73.94, borough: 'Brooklyn' });
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'operator', `/staff/spots/${spot}`, 'Brooklyn');
  const priceField = page.getByLabel(/^Hourly price of rate /);
  await priceField.waitFor();
  const saved = await priceField.inputValue();
  const priceError = page.locator('#hourly-price-error');
  const refused = async () => {
    await priceField.fill('abc');
    await page.getByRole('button', { name: 'Save rate' }).click();
    await priceError.filter({ hasText: /^Enter an amount as a plain number/ }).waitFor();
  };
  // Typed again: what was said about the old value goes (the new one is judged when saved).
  await refused();
  await priceField.fill('abc4');
  await priceError.waitFor({ state: 'detached' });
  assert.is(await priceField.getAttribute('aria-invalid'), null);
  // Another change that succeeds reads the spot again, the price field too: its error goes.
  await refused();
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Blocked.' }).waitFor();
  await priceError.waitFor({ state: 'detached' });
  const readAgain = () =>
    waitUntil(async () => (await priceField.inputValue()) === saved, "the rate's price read again into its field");
  await readAgain();
  await refused();
  // The block (1 to 3 hours from when the page opened) is this week's, or next week's late on a Sunday.
  const lift = page.getByRole('button', { name: /^Lift block #/ }).first();
  if ((await lift.count()) === 0) await page.getByRole('button', { name: 'Next week' }).click();
  await lift.click();
  await page.getByRole('status').filter({ hasText: 'Block lifted.' }).waitFor();
  await priceError.waitFor({ state: 'detached' });
  await readAgain();
  assert.is(await priceField.getAttribute('aria-invalid'), null);
});

/** A guest's stay on a spot metered round the clock with a $1.00 minimum, carded and ended now: a real charge. */
async function chargedReservation(
  email: string,
): Promise<{ reservationId: string; amount: number; manageToken: string }> {
  const rateId = await createRate(stack.db, {
    minimumCharge: 100,
    hours: [1, 2, 3, 4, 5, 6, 7].map((d) => [d, '00:00', '23:59:59.999999']),
  });
  const spot = await createSpot(stack.db, { lat: 40.71, lng: -74.0, rateId });
  const booked = await reserveGuest(stack.apiUrl, spot, new Date(), 60, email);
  assert.not.ok(booked.errors, JSON.stringify(booked.errors));
  const { rowId } = booked.data.reserve.result.reservation;
  const token = booked.data.reserve.result.manageToken;
  const carded = await setUpCard(stack.apiUrl, stack, rowId, token);
  assert.not.ok(carded.errors, `${JSON.stringify(carded.errors)}\n${stack.output().slice(-4000)}`);
  const ended = await endNow(stack.apiUrl, rowId, token);
  assert.not.ok(ended.errors, JSON.stringify(ended.errors));
  const amount = await waitUntil(async () => {
    const { rows } = await stack.db.owner.query(
      `select amount from app_private.charges where reservation_id = $1 and status = 'succeeded'`,
      [rowId],
    );
    return rows[0]?.amount as number | undefined;
  }, 'the charge succeeding');
  return { reservationId: String(rowId), amount, manageToken: token };
}

test('an operator refunds part of a charge, sees it listed, and is told when a second refund exceeds what remains', async () => {
  // A long email and no name: the page's heading is the email, which must wrap on a phone.
  const email = 'refunded.customer.with.a.rather.long.address@example.test';
  const { reservationId, amount, manageToken } = await chargedReservation(email);
  // The guest's reservation made them a customer.
  const {
    rows: [c],
  } = await stack.db.owner.query(`select id::text from app_public.customers where email = $1`, [email]);
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'operator', `/staff/customers/${c.id}`);
  const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;
  const part = 40;

  await page.getByRole('button', { name: `Refund reservation #${reservationId}…` }).click();
  const field = page.getByLabel(`Amount to refund of reservation #${reservationId} (USD)`);
  assert.is(await field.inputValue(), (amount / 100).toFixed(2), 'the default is all that remains');
  // What is no refund is said next to the field, before any confirmation.
  const typedError = page.locator(`#refund-${reservationId}-error`);
  for (const [typed, sentence] of [
    ['abc', /^Enter an amount as a plain number/],
    ['', /^Enter an amount, such as/],
    ['0', /^Enter an amount above 0\.$/],
    ['0.001', /^USD amounts have at most 2 decimals/],
    ['-1', /^Enter an amount as a plain number/],
    [((amount + 1) / 100).toFixed(2), new RegExp(`^At most \\${dollars(amount)} is left to refund`)],
  ] as const) {
    await field.fill(typed);
    await page.getByRole('button', { name: 'Review refund' }).click();
    await typedError.filter({ hasText: sentence }).waitFor();
    assert.is(await field.getAttribute('aria-invalid'), 'true', typed);
    assert.is(await page.locator('.refund-confirm').count(), 0, `no confirmation for ${JSON.stringify(typed)}`);
  }
  await field.fill((part / 100).toFixed(2));
  await page.getByRole('button', { name: 'Review refund' }).click();
  const question = page.getByText(`Refund ${dollars(part)} of reservation #${reservationId} to the customer's card?`);
  await question.waitFor();
  // Back returns to the amount as typed (it does not submit the amount form again); Cancel closes the whole thing.
  await page.locator('.refund-confirm').getByRole('button', { name: 'Back' }).click();
  await page.waitForFunction((id) => document.activeElement?.id === id, `refund-${reservationId}`);
  assert.is(await page.locator('.refund-confirm').count(), 0, 'Back leaves the confirmation');
  assert.is(await field.inputValue(), (part / 100).toFixed(2));
  await page.getByRole('button', { name: 'Review refund' }).click();
  await question.waitFor();
  await page.locator('.refund-confirm').getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: `Refund reservation #${reservationId}…` }).waitFor();
  assert.is(await page.locator('.refund-confirm, .refund-form').count(), 0, 'Cancel closes the refund');
  await page.getByRole('button', { name: `Refund reservation #${reservationId}…` }).click();
  await field.fill((part / 100).toFixed(2));
  await page.getByRole('button', { name: 'Review refund' }).click();
  await question.waitFor();
  await page.getByRole('button', { name: `Refund ${dollars(part)}`, exact: true }).click();
  await page
    .getByRole('status')
    .filter({ hasText: `Refunded ${dollars(part)} of reservation #${reservationId}.` })
    .waitFor();
  await page
    .locator(`ul.payments li[data-kind="refund"][data-reservation-id="${reservationId}"]`, { hasText: dollars(part) })
    .waitFor();
  assert.equal(await seriousA11yViolations(page), [], 'the customer page with a refund (desktop)');

  // What remains is the new default; asking for the whole charge again is more than that, said at once.
  const rest = amount - part;
  await page.getByRole('button', { name: `Refund reservation #${reservationId}…` }).click();
  assert.is(await field.inputValue(), (rest / 100).toFixed(2));
  await field.fill((amount / 100).toFixed(2));
  await page.getByRole('button', { name: 'Review refund' }).click();
  await typedError.filter({ hasText: `At most ${dollars(rest)} is left to refund on this charge.` }).waitFor();
  await field.fill((rest / 100).toFixed(2));
  await page.getByRole('button', { name: 'Review refund' }).click();
  await page.getByRole('button', { name: `Refund ${dollars(rest)}`, exact: true }).waitFor();

  // Meanwhile an admin refunds the rest on a phone: the API's answer lands next to this page's field.
  const phone = await stack.newPage('phone');
  await signIn(phone.page, 'admin', `/staff/customers/${c.id}`);
  await phone.page.getByRole('button', { name: `Refund reservation #${reservationId}…` }).click();
  await phone.page.getByLabel(`Amount to refund of reservation #${reservationId} (USD)`).waitFor();
  assert.equal(await seriousA11yViolations(phone.page), [], 'the customer page (phone)');
  assert.ok(
    await phone.page.locator('h1', { hasText: email }).evaluate((h) => h.scrollWidth <= h.clientWidth),
    'the email heading wraps within a phone screen',
  );
  await phone.page.getByRole('button', { name: 'Review refund' }).click();
  await phone.page.getByRole('button', { name: `Refund ${dollars(rest)}`, exact: true }).click();
  await phone.page
    .getByRole('status')
    .filter({ hasText: `Refunded ${dollars(rest)}` })
    .waitFor();

  await page.getByRole('button', { name: `Refund ${dollars(rest)}`, exact: true }).click();
  const fieldError = page.locator(`#refund-${reservationId}-error`);
  await fieldError.filter({ hasText: ERROR_SENTENCES.SMP06! }).waitFor();
  assert.is(await field.getAttribute('aria-invalid'), 'true');
  assert.equal(await seriousA11yViolations(page), [], 'the refund form with its error (desktop)');

  const { rows } = await stack.db.owner.query(
    `select f.amount, f.status from app_private.refunds f join app_private.charges ch on ch.id = f.charge_id
    where ch.reservation_id = $1 order by f.id`,
    [reservationId],
  );
  assert.equal(rows, [
    { amount: part, status: 'succeeded' },
    { amount: rest, status: 'succeeded' },
  ]);

  // The guest's own page shows it too.
  const guest = await stack.newPage('desktop');
  await guest.page.goto(`${stack.webUrl}/reservations/${reservationId}/manage#manageToken=${manageToken}`);
  await guest.page.locator(`dd[data-refunded="${amount}"]`, { hasText: dollars(amount) }).waitFor();
});

/** YYYY-MM-DD of the Wednesday of next week (weeks start on Monday) in New York, the browser's zone. */
function nextWeeksWednesday(): string {
  const today = new Date(`${new Date().toLocaleDateString('en-CA', { timeZone: 'America/New_York' })}T00:00:00Z`);
  const sinceMonday = (today.getUTCDay() + 6) % 7;
  return new Date(today.getTime() + (7 - sinceMonday + 2) * 86400e3).toISOString().slice(0, 10);
}

/** A confirmed reservation of the spot from 2:00 to 3:30 PM New York time on `day` (YYYY-MM-DD); its id. */
async function afternoonStay(spot: string, day: string, email: string): Promise<string> {
  const {
    rows: [booked],
  } = await stack.db.owner.query(
    `insert into app_public.reservations (spot_id, email, period, status, amount, currency)
    values ($1, $3, tstzrange(($2::date + time '14:00') at time zone 'America/New_York',
      ($2::date + time '15:30') at time zone 'America/New_York'), 'confirmed', 600, 'USD') returning id::text`,
    [spot, day, email],
  );
  return booked.id;
}

/** Blocks the open spot page's spot from 10:00 to 12:00 on `day` with its form. */
async function blockMorning(page: Page, day: string): Promise<void> {
  await page.getByLabel('From').fill(`${day}T10:00`);
  await page.getByLabel('Until').fill(`${day}T12:00`);
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Blocked.' }).waitFor();
}

test('a block made from the form shows on its day of the week calendar, weeks move, and lifting it removes it', async () => {
  const spot = await createSpot(stack.db, { lat: 40.69, lng: -73.96, borough: 'Brooklyn' });
  const day = nextWeeksWednesday();
  const bookedId = await afternoonStay(spot, day, 'week@example.test');
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'operator', `/staff/spots/${spot}`, 'Brooklyn');
  await blockMorning(page, day);
  // Refused blocks: the operator's sentence next to the field at fault, which takes the focus; nothing at the top.
  const refused = async (from: string, until: string, field: string, sentence: RegExp) => {
    await page.getByLabel('From').fill(`${day}T${from}`);
    await page.getByLabel('Until').fill(`${day}T${until}`);
    await page.getByRole('button', { name: 'Block', exact: true }).click();
    await page.locator(`#${field}-error`).filter({ hasText: sentence }).waitFor();
    await page.waitForFunction((id) => document.activeElement?.id === id, field);
    assert.is(await page.locator('.form-error').count(), 0, 'no page-level error');
  };
  await refused('15:00', '16:00', 'block-from', /^This time overlaps a reservation or another block on this spot\./);
  await refused('15:00', '14:30', 'block-to', /^A block must end after it starts/);
  const {
    rows: [block],
  } = await stack.db.owner.query(
    `select id::text from app_public.reservations where spot_id = $1 and kind = 'block' and status = 'confirmed'`,
    [spot],
  );
  assert.ok(block, 'the block is stored');

  // This week: neither is on the calendar.
  const dayRow = page.locator(`li[data-day="${day}"]`);
  assert.is(await dayRow.count(), 0);
  await page.getByRole('button', { name: 'Next week' }).click();
  const blockItem = dayRow.locator(`li[data-block-id="${block.id}"]`);
  await blockItem.waitFor();
  assert.match((await blockItem.textContent()) ?? '', /^10:00 AM – 12:00 PM · Block/);
  assert.match(
    (await dayRow.locator(`li[data-reservation-id="${bookedId}"]`).textContent()) ?? '',
    new RegExp(`^2:00 PM – 3:30 PM · Reservation #${bookedId}`),
  );
  assert.is(await page.locator('li[data-block-id]').count(), 1, 'on one day only');
  assert.equal(await seriousA11yViolations(page), [], 'the spot page with its week (desktop)');

  await page.getByRole('button', { name: 'Previous week' }).click();
  await dayRow.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Next week' }).click();
  await blockItem.getByRole('button', { name: `Lift block #${block.id}` }).click();
  await page.getByRole('status').filter({ hasText: 'Block lifted.' }).waitFor();
  await blockItem.waitFor({ state: 'detached' });
  await dayRow.locator(`li[data-reservation-id="${bookedId}"]`).waitFor();
  const {
    rows: [lifted],
  } = await stack.db.owner.query(`select status::text from app_public.reservations where id = $1`, [block.id]);
  assert.is(lifted.status, 'cancelled');

  const phone = await stack.newPage('phone');
  await signIn(phone.page, 'operator', `/staff/spots/${spot}`, 'Brooklyn');
  await phone.page.getByRole('button', { name: 'Next week' }).click();
  await phone.page.locator(`li[data-day="${day}"] li[data-reservation-id="${bookedId}"]`).waitFor();
  assert.equal(await seriousA11yViolations(phone.page), [], 'the spot page with its week (phone)');
});

test("a browser on another clock sees a customer's reservations, a spot's week and its blocks on the spot's clock", async () => {
  const spot = await createSpot(stack.db, { lat: 40.69, lng: -73.96, borough: 'Brooklyn' });
  const day = nextWeeksWednesday();
  const email = 'zone@example.test';
  const bookedId = await afternoonStay(spot, day, email);
  const {
    rows: [c],
  } = await stack.db.owner.query(`select id::text from app_public.customers where email = $1`, [email]);
  // Tokyo is 13 or 14 hours ahead: 2:00 PM in New York is early next morning there.
  const { page } = await stack.newPage('desktop', { timezoneId: 'Asia/Tokyo' });
  await signIn(page, 'operator', `/staff/customers/${c.id}`, 'Brooklyn');
  const item = page.locator('li', { hasText: `#${bookedId} · confirmed · ` });
  await item.waitFor();
  const date = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(
    new Date(`${day}T00:00:00Z`),
  );
  assert.match((await item.textContent()) ?? '', new RegExp(`^#${bookedId} · confirmed · ${date}, 2:00 PM E[SD]T · `));

  // The reservation links to its spot's staff page.
  await item.getByRole('link', { name: `Spot #${spot}` }).click();
  await page.waitForURL(`**/staff/spots/${spot}`);
  await page.getByText("Times on this page are in America/New_York, the spot's time zone.").waitFor();
  await blockMorning(page, day);
  const {
    rows: [block],
  } = await stack.db.owner.query(
    `select id::text, lower(period) = ($2::date + time '10:00') at time zone 'America/New_York' as at_ten_there
     from app_public.reservations where spot_id = $1 and kind = 'block'`,
    [spot, day],
  );
  assert.ok(block?.at_ten_there, 'the block starts at 10:00 on the spot’s clock');
  await page.getByRole('button', { name: 'Next week' }).click();
  const dayRow = page.locator(`li[data-day="${day}"]`);
  await dayRow.locator(`li[data-block-id="${block.id}"]`).waitFor();
  assert.match(
    (await dayRow.locator(`li[data-block-id="${block.id}"]`).textContent()) ?? '',
    /^10:00 AM – 12:00 PM · Block/,
  );
  assert.match(
    (await dayRow.locator(`li[data-reservation-id="${bookedId}"]`).textContent()) ?? '',
    new RegExp(`^2:00 PM – 3:30 PM · Reservation #${bookedId}`),
  );
});

test('a driver is told the customers page is for staff', async () => {
  const { page } = await stack.newPage('desktop');
  await signIn(page, 'driver', '/staff/customers');
  await page.getByRole('alert').filter({ hasText: ERROR_SENTENCES.SMC01 }).waitFor();
  assert.is(await page.getByRole('link', { name: 'Customers' }).count(), 0, 'no staff link in the header');
});

test.run();
