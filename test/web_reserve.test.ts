// Booking in the web app, in Chromium against the running product: a guest
// finds a spot, reserves it and adds a card while a second browser watches the
// spot turn taken; a declined card's message; the guest's emailed link in a
// fresh browser; a manage token replaced or refused is dropped and a fresh link
// offered; a charge that fails at the end shows on the page that ended it and is
// settled on the pay page the email links to; the spot page after booking (Back) and when shown again
// says the spot is taken instead of offering it; a signed-in driver's saved
// vehicle is preselected; the focus after actions whose button goes away.
// Cards are typed into the emulator's Stripe.js card element exactly as a
// person would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { MIDTOWN, openFirstFreeSpot, priceShown, reservationStatusIs, typeCard } from './helpers/web_pages.ts';
import { seriousA11yViolations, startWebStack, type Size, waitUntil, type WebStack } from './helpers/web_stack.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { createUser } from './helpers/db.ts';
import { reserveGuest } from './helpers/driver_client.ts';
import { TEST_PASSWORD } from './helpers/auth.ts';
import { ERROR_SENTENCES } from '../web/src/error_messages.ts';

let stack: WebStack;

const RESERVED = 'Your spot is reserved. We emailed you the details.';

/** Waits for the element `id` to have the focus (and so not the page's body). */
async function focusedId(page: Page, id: string): Promise<void> {
  await waitUntil(
    () => page.evaluate((want) => document.activeElement?.id === want, id),
    `focus on #${id} (it is on ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))})`,
    10_000,
  );
}

test.before(async () => {
  stack = await startWebStack(import.meta.filename);
});
test.after(async () => {
  await stack?.close();
});

/** The n-th free spot of the Midtown search (each test books its own). */
async function openFind(page: Page): Promise<void> {
  await page.goto(stack.webUrl + MIDTOWN);
  await page.locator('li.spot').first().waitFor();
}

/** From Find, the Reserve link of the n-th free spot, for a guest when `email` is given. */
async function reserveNth(
  page: Page,
  n: number,
  email?: string,
  prepare?: (spotId: string) => Promise<void>,
): Promise<{ spotId: string; reservationId: string }> {
  await openFind(page);
  const item = page.locator('li.spot[data-state="free"]').nth(n);
  const spotId = (await item.getAttribute('data-spot-id'))!;
  await prepare?.(spotId);
  await item.getByRole('link', { name: /^Reserve/ }).click();
  await page.waitForURL(new RegExp(`/spots/${spotId}`));
  await priceShown(page);
  if (email) await page.getByLabel('Your email').fill(email);
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.waitForURL(/\/reservations\/\d+$/);
  const reservationId = /\/reservations\/(\d+)$/.exec(page.url())![1]!;
  return { spotId, reservationId };
}

/**
 * A guest's emailed link opened in a browser that holds no manage token: the
 * page offers to email a fresh link, and that link opens the reservation.
 */
async function openAsGuestElsewhere(page: Page, link: string, email: string, reservationId: string): Promise<void> {
  await page.goto(link);
  // Not told to "open the link from your email", which is what they just did.
  await page.locator('.elsewhere', { hasText: 'If you booked it as a guest, we email you a link' }).waitFor();
  assert.is(await page.getByText(ERROR_SENTENCES.SMB11!).count(), 0);
  await page.getByLabel('The email you booked with').fill(email);
  await page.getByRole('button', { name: 'Email me a link to manage it' }).click();
  await page.locator('.notice', { hasText: 'a link to manage it is on its way' }).waitFor();
  const mail = await stack.waitForMail(email, new RegExp(`^Your link to manage reservation #${reservationId}$`));
  const manageLink = mail.links.find((l) => l.includes(`/reservations/${reservationId}/manage#`));
  assert.ok(manageLink, `a manage link in:\n${mail.text}`);
  await page.goto(manageLink!);
}

/** The manage token this browser keeps for a reservation (null: none). */
const keptToken = (page: Page, reservationId: string) =>
  page.evaluate((id) => localStorage.getItem(`sms.manageToken.${id}`), reservationId);

test('A manage token replaced by a newer link is dropped and a fresh link offered; a refused link is not kept', async () => {
  const email = 'web.stale@example.test';
  const spot = await createSpot(stack.db, { lat: 40.72, lng: -74.12 });
  const booked = await reserveGuest(stack.apiUrl, spot, new Date(Date.now() + 86400e3), 60, email);
  assert.not.ok(booked.errors, JSON.stringify(booked.errors));
  const { reservation, manageToken } = booked.data.reserve.result;
  const manage = `${stack.webUrl}/reservations/${reservation.rowId}/manage`;
  const kept = await stack.newPage('desktop');
  await kept.page.goto(`${manage}#manageToken=${manageToken}`);
  await reservationStatusIs(kept.page, 'held');
  assert.is(await keptToken(kept.page, reservation.rowId), manageToken, 'kept once accepted');
  // Left, so that the kept token is refused when the page opens again, not by the open page's next look.
  await kept.page.goto(`${stack.webUrl}/sign-in`);

  // Another browser asks for a fresh link, which replaces the one the first browser kept.
  const other = await stack.newPage('phone');
  await openAsGuestElsewhere(other.page, manage, email, reservation.rowId);
  await reservationStatusIs(other.page, 'held');
  await kept.page.goto(manage);
  await kept.page.locator('.elsewhere', { hasText: 'That link to manage it no longer works' }).waitFor();
  await kept.page.getByRole('button', { name: 'Email me a link to manage it' }).waitFor();
  assert.is(await keptToken(kept.page, reservation.rowId), null, 'the dead token is dropped');

  // The old link itself, in a browser that never saw the reservation: offered the same, and not kept.
  const stale = await stack.newPage('desktop');
  await stale.page.goto(`${manage}#manageToken=${manageToken}`);
  await stale.page.getByRole('button', { name: 'Email me a link to manage it' }).waitFor();
  assert.is(await keptToken(stale.page, reservation.rowId), null, 'a refused token is not kept');
});

test('A guest reserves and adds a card; it turns confirmed while another browser sees the spot taken', async () => {
  const watcher = await stack.newPage('desktop');
  await openFind(watcher.page);
  const guest = await stack.newPage('phone');
  const { spotId, reservationId } = await reserveNth(guest.page, 0, 'web.guest@example.test');
  await reservationStatusIs(guest.page, 'held');
  // The spot is named with the meter number on its sign: the block's other meters share its title.
  const {
    rows: [meter],
  } = await stack.db.owner.query('select external_id from app_public.spots where id = $1', [spotId]);
  assert.match(
    (await guest.page.locator('dl.facts dd').first().textContent()) ?? '',
    new RegExp(` · Meter ${meter.external_id}$`),
  );
  assert.equal(await seriousA11yViolations(guest.page), [], 'the reservation page with its card form');

  await typeCard(guest.page, '4242 4242 4242 4242');
  await guest.page.getByRole('button', { name: 'Save card and confirm' }).click();
  await reservationStatusIs(guest.page, 'confirmed');
  assert.match((await guest.page.locator('.notice').first().textContent()) ?? '', /Your spot is reserved/);
  // The card form went away with its button: the focus is on the message that says it worked, not on the page.
  await focusedId(guest.page, 'reserved-notice');
  // It was news when the card was added, not on a later visit: a reload does not say it again.
  await guest.page.reload();
  await reservationStatusIs(guest.page, 'confirmed');
  await guest.page.getByRole('button', { name: 'See the new price' }).waitFor();
  assert.is(await guest.page.getByText(RESERVED).count(), 0, 'not said after a reload');

  // The other browser's list and map turn the spot taken without a reload.
  await watcher.page.locator(`li.spot[data-spot-id="${spotId}"][data-state="taken"]`).waitFor({ timeout: 30_000 });
  await watcher.page
    .locator(`path.marker[data-spot-id="${spotId}"][data-state="taken"]`)
    .waitFor({ state: 'attached' });

  // The confirmation email's link, in a browser that has never seen the reservation, leads to it
  // by way of a fresh manage link.
  const mail = await stack.waitForMail(
    'web.guest@example.test',
    new RegExp(`^Reservation #${reservationId} confirmed$`),
  );
  const link = mail.links.find((l) => l.includes(`/reservations/${reservationId}`));
  assert.ok(link, `a link to the reservation in:\n${mail.text}`);
  const fresh = await stack.newPage('desktop');
  await openAsGuestElsewhere(fresh.page, link!, 'web.guest@example.test', reservationId);
  await reservationStatusIs(fresh.page, 'confirmed');
  assert.not.match(fresh.page.url(), /Token=/i, 'the token is taken out of the address bar');
  // A guest can change what they booked from there.
  await fresh.page.getByRole('button', { name: 'See the new price' }).waitFor();
  // Not said in a fresh browser either, nor after a change and a reload; the change says its own.
  assert.is(await fresh.page.getByText(RESERVED).count(), 0, 'not said on a later visit');
  await fresh.page.getByRole('button', { name: 'See the new price' }).click();
  await fresh.page.getByRole('button', { name: 'Accept new end' }).click();
  await fresh.page.locator('.notice', { hasText: 'New end saved.' }).waitFor();
  await focusedId(fresh.page, 'change-notice');
  await fresh.page.reload();
  await reservationStatusIs(fresh.page, 'confirmed');
  await fresh.page.getByRole('button', { name: 'See the new price' }).waitFor();
  assert.is(await fresh.page.getByText(RESERVED).count(), 0, 'not said after a change and a reload');
});

test('A guest ends a started reservation before adding a card: told nothing is charged, and it expires', async () => {
  const { page } = await stack.newPage('desktop');
  const { reservationId } = await reserveNth(page, 2, 'web.nocard@example.test');
  await reservationStatusIs(page, 'held');
  await page.getByRole('button', { name: 'End now…' }).click();
  assert.is(
    await page.locator('.requote-text').textContent(),
    'No card was set up for it: ending it now releases the spot, and nothing is charged.',
  );
  await page.getByRole('button', { name: 'End now', exact: true }).click();
  await page.locator('.notice', { hasText: 'No card was set up, so nothing is charged.' }).waitFor();
  await reservationStatusIs(page, 'expired');
  assert.is(
    await page.locator('.status-line [data-status]').textContent(),
    'Ended before a card was added: nothing is charged',
  );
  // When it really ended (now), not only the end it was booked with.
  const endedAt = await page.locator('dd[data-ended-at]').getAttribute('data-ended-at');
  assert.ok(Math.abs(new Date(endedAt!).getTime() - Date.now()) < 60_000, `ended at ${endedAt}`);
  const {
    rows: [charges],
  } = await stack.db.owner.query('select count(*)::int as n from app_private.charges where reservation_id = $1', [
    reservationId,
  ]);
  assert.is(charges.n, 0);
});

test("A declined card shows the provider's message next to the card, and the reservation stays held", async () => {
  const { page } = await stack.newPage('desktop');
  const { reservationId } = await reserveNth(page, 1, 'web.declined@example.test');
  await reservationStatusIs(page, 'held');
  // A 3-D Secure check dismissed is said for the whole form...
  page.once('dialog', (dialog) => dialog.dismiss());
  await typeCard(page, '4000 0025 0000 3155');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await page.locator('.form-error', { hasText: 'unable to authenticate' }).waitFor();
  await page.getByLabel('Card number').fill('');
  // ...then an empty, then an incomplete card: said under the card field (in its place: one message at a time),
  // not "the payment service could not be reached".
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await page
    .locator('#card-error', { hasText: "Enter the card's number, expiry date (MM / YY) and security code." })
    .waitFor();
  assert.is(await page.locator('.form-error').count(), 0, 'the earlier message is gone');
  // The card number takes the focus (not left on the button).
  await waitUntil(
    () => page.getByLabel('Card number').evaluate((el) => el === document.activeElement),
    'focus on the card number',
  );
  await page.getByLabel('Card number').fill('4242 4242');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await page.locator('#card-error', { hasText: "Enter the card's number" }).waitFor();
  assert.is(await page.getByText(ERROR_SENTENCES.SMP04!).count(), 0);
  await typeCard(page, '4000 0000 0000 0002');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  const error = page.locator('#card-error');
  await error.waitFor();
  assert.is(await error.textContent(), 'Your card was declined.');
  assert.is(await page.locator('.status-line [data-status]').getAttribute('data-status'), 'held');
  // A second card, one that works, still confirms it.
  await typeCard(page, '4242 4242 4242 4242');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await reservationStatusIs(page, 'confirmed');
  assert.ok(reservationId);
});

test('A charge refused at the end: the emailed link opens the pay page, where another card settles it', async () => {
  const { page } = await stack.newPage('desktop');
  const email = 'web.payfail@example.test';
  // The spot's meter charges round the clock with a $1.00 minimum (as an operator may set it),
  // so that ending at once costs something whatever the hour the test runs at.
  const { reservationId } = await reserveNth(page, 2, email, async (spotId) => {
    await stack.db.owner.query(
      `with rate as (
        insert into app_public.rates (code, name, hourly_price, minimum_charge) values ('WEB24', 'Round the clock', 400, 100) returning id),
      hours as (insert into app_public.rate_hours (rate_id, isodow, opens, closes) select id, d, '00:00', '23:59:59.999999' from rate, generate_series(1, 7) d)
      update app_public.spots set rate_id = (select id from rate) where id = $1`,
      [spotId],
    );
  });
  // Set up succeeds with this card; every charge on it is declined (Stripe's 4000 0000 0000 0341).
  await typeCard(page, '4000 0000 0000 0341');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await reservationStatusIs(page, 'confirmed');
  await page.getByRole('button', { name: 'End now…' }).click();
  await page.getByRole('button', { name: 'End now', exact: true }).click();
  // The charge comes after the answer: no receipt promised, and the page keeps watching until it fails.
  await page
    .locator('.notice', {
      hasText: 'Reservation ended. We charge your card and email you the receipt or, if the charge fails, how to pay.',
    })
    .waitFor();
  await reservationStatusIs(page, 'payment_failed');
  await page.getByRole('button', { name: 'Pay with this card' }).waitFor();

  const failed = await stack.waitForMail(email, new RegExp(`^Payment failed for reservation #${reservationId}`));
  const link = failed.links.find((l) => l.includes(`/reservations/${reservationId}`));
  assert.ok(link, `a link to the reservation in:\n${failed.text}`);

  // Meanwhile another guest holds a spot with that card: its rules refuse it (SMP10) under the card field,
  // and the same hold takes another card on a new set-up.
  const other = await createSpot(stack.db, { lat: 40.7, lng: -74.07 });
  await page.goto(`${stack.webUrl}/spots/${other}`);
  await priceShown(page);
  await page.getByLabel('Your email').fill('web.samecard@example.test');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await reservationStatusIs(page, 'held');
  await typeCard(page, '4000 0000 0000 0341');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await page.locator('#card-error', { hasText: ERROR_SENTENCES.SMP10! }).waitFor();
  assert.is(await page.getByLabel('Card number').inputValue(), '', 'an empty card field for another card');
  await typeCard(page, '4242 4242 4242 4242');
  await page.getByRole('button', { name: 'Save card and confirm' }).click();
  await reservationStatusIs(page, 'confirmed');

  const fresh = await stack.newPage('phone');
  await openAsGuestElsewhere(fresh.page, link!, email, reservationId);
  await fresh.page.getByRole('heading', { name: `Pay for reservation #${reservationId}` }).waitFor();
  // The card is charged at once here, not "when the reservation ends".
  assert.match(
    (await fresh.page.locator('.card-note').textContent()) ?? '',
    /^This card is charged \$\d+\.\d\d at once, for the reservation that ended\.$/,
  );
  assert.equal(await seriousA11yViolations(fresh.page), [], 'the pay page');
  await typeCard(fresh.page, '4242 4242 4242 4242');
  await fresh.page.getByRole('button', { name: 'Pay with this card' }).click();
  await reservationStatusIs(fresh.page, 'completed');
  await fresh.page.locator('.notice', { hasText: 'Paid. We emailed you the receipt.' }).waitFor();
  await focusedId(fresh.page, 'paid-notice');
  const receipt = await stack.waitForMail(email, new RegExp(`^Receipt for reservation #${reservationId}: \\$`));
  assert.match(receipt.text, /Payment reference: pi_/);
});

test('Back from a booking, and a spot page shown again, say the spot is taken instead of offering it', async () => {
  // Their own booking: the overlap is not "someone else's".
  assert.not.match(ERROR_SENTENCES.SMB01!, /someone else/i);
  const spot = await createSpot(stack.db, { lat: 40.72, lng: -74.08 });
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/spots/${spot}?minutes=60`);
  await priceShown(page);
  await page.getByLabel('Your email').fill('web.back@example.test');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await reservationStatusIs(page, 'held');
  await page.goBack();
  await page.waitForURL((u) => u.pathname === `/spots/${spot}` && u.search === '?minutes=60');
  const taken = page.locator('[data-availability="taken"]');
  await taken.waitFor();
  assert.is(await taken.getAttribute('role'), 'status');
  assert.match((await taken.textContent()) ?? '', /^This spot is already taken for part of that time\./);
  assert.is(await page.getByRole('button', { name: 'Reserve and add a card' }).count(), 0, 'nothing to click');

  // Pages left open while the spot is booked elsewhere: shown again (Back into a page the browser kept:
  // pageshow with persisted; a tab brought back: visibilitychange), they read it again.
  const other = await createSpot(stack.db, { lat: 40.72, lng: -74.09 });
  const kept = await stack.newPage('desktop');
  const tab = await stack.newPage('phone');
  const clicked = await stack.newPage('desktop');
  for (const p of [kept.page, tab.page, clicked.page]) {
    await p.goto(`${stack.webUrl}/spots/${other}?minutes=60`);
    await priceShown(p);
    await p.getByRole('button', { name: 'Reserve and add a card' }).waitFor();
  }
  const booked = await reserveGuest(stack.apiUrl, other, new Date(), 60, 'web.elsewhere@example.test');
  assert.not.ok(booked.errors, JSON.stringify(booked.errors));
  await kept.page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
  await kept.page.locator('[data-availability="taken"]').waitFor();
  assert.is(await kept.page.getByRole('button', { name: 'Reserve and add a card' }).count(), 0);
  await tab.page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await tab.page.locator('[data-availability="taken"]').waitFor();
  // One not shown again, reserving it anyway: refused, said the same way, and the message takes the focus
  // from the button it replaces.
  await clicked.page.getByLabel('Your email').fill('web.late@example.test');
  await clicked.page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await clicked.page.locator('[data-availability="taken"]').waitFor();
  await waitUntil(
    () => clicked.page.evaluate(() => document.activeElement?.getAttribute('data-availability') === 'taken'),
    'focus on the taken message',
  );
  assert.is(await clicked.page.locator('.form-error').count(), 0, 'said once');
});

test('A guest cancels a reservation that has not started: the focus follows the question and the answer', async () => {
  const spot = await createSpot(stack.db, { lat: 40.72, lng: -74.1 });
  const booked = await reserveGuest(stack.apiUrl, spot, new Date(Date.now() + 86400e3), 60, 'web.cancel@example.test');
  assert.not.ok(booked.errors, JSON.stringify(booked.errors));
  const { rowId, status } = booked.data.reserve.result.reservation;
  assert.is(status, 'held');
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/reservations/${rowId}/manage#manageToken=${booked.data.reserve.result.manageToken}`);
  await reservationStatusIs(page, 'held');
  await page.getByRole('button', { name: 'Cancel reservation…' }).click();
  await focusedId(page, 'requote-title');
  // Kept as it is: back to the button that asked.
  await page.getByRole('button', { name: 'Keep it as it is' }).click();
  await focusedId(page, 'end-or-cancel');
  // Escape keeps it too, as it closes a dialog.
  await page.getByRole('button', { name: 'Cancel reservation…' }).click();
  await focusedId(page, 'requote-title');
  await page.keyboard.press('Escape');
  await focusedId(page, 'end-or-cancel');
  assert.is(await page.getByRole('button', { name: 'Keep it as it is' }).count(), 0, 'the question is gone');
  await page.getByRole('button', { name: 'Cancel reservation…' }).click();
  await page.getByRole('button', { name: 'Cancel reservation', exact: true }).click();
  await reservationStatusIs(page, 'cancelled');
  await page.locator('.notice', { hasText: 'Reservation cancelled.' }).waitFor();
  await focusedId(page, 'change-notice');
});

test("A start chosen on the spot page is on the spot's clock, named next to the field, in a browser in Tokyo", async () => {
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -74.01 });
  const { page } = await stack.newPage('desktop', { timezoneId: 'Asia/Tokyo' });
  const day = new Date(Date.now() + 86400e3).toLocaleDateString('en-CA', { timeZone: 'America/New_York' });
  await page.goto(`${stack.webUrl}/spots/${spot}`);
  await priceShown(page);
  await page.getByLabel('Start', { exact: true }).selectOption('later');
  await page
    .locator('#reserve-start-hint', { hasText: /^In America\/New_York \(E[SD]T\), the spot's time zone\.$/ })
    .waitFor();
  // A start that has passed is said next to the field at once, unpriced; reserving sends the focus there.
  const yesterday = new Date(Date.now() - 86400e3).toLocaleDateString('en-CA', { timeZone: 'America/New_York' });
  await page.getByLabel('Start at').fill(`${yesterday}T10:00`);
  await page.locator('#reserve-start-error', { hasText: 'That start has passed' }).waitFor();
  assert.is(await page.locator('[data-price]').textContent(), '—');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.waitForFunction(() => document.activeElement?.id === 'reserve-start');
  await page.getByLabel('Start at').fill(`${day}T10:00`);
  await priceShown(page);
  await page.getByLabel('Your email').fill('web.zone@example.test');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.waitForURL(/\/reservations\/\d+$/);
  const reservationId = /\/reservations\/(\d+)$/.exec(page.url())![1]!;
  const {
    rows: [row],
  } = await stack.db.owner.query(
    `select lower(period) = ($2::date + time '10:00') at time zone 'America/New_York' as at_ten_there
     from app_public.reservations where id = $1`,
    [reservationId, day],
  );
  assert.ok(row.at_ten_there, "10:00 on the spot's clock, not Tokyo's");
});

test('Yen are shown whole: a price of 600 minor units is ¥600, not ¥6', async () => {
  const rateId = await createRate(stack.db, { hourlyPrice: 600, currency: 'JPY' });
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -74.02, rateId });
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/spots/${spot}?minutes=60`);
  await page.locator('[data-price]', { hasText: /^¥600$/ }).waitFor();
});

test("The reserve form takes the vehicle's plate and state, so that enforcement finds the booking", async () => {
  const { page } = await stack.newPage('desktop');
  const booked = async (spot: string) => {
    await page.waitForURL(/\/reservations\/\d+$/);
    const id = /\/reservations\/(\d+)$/.exec(page.url())![1]!;
    const {
      rows: [row],
    } = await stack.db.owner.query(
      'select spot_id::text, plate, plate_state from app_public.reservations where id = $1',
      [id],
    );
    assert.is(row.spot_id, spot);
    return { plate: row.plate, plateState: row.plate_state };
  };
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -74.03 });
  await page.goto(`${stack.webUrl}/spots/${spot}`);
  await priceShown(page);
  await page.getByLabel('Your email').fill('web.plate@example.test');
  // A malformed state is said next to its field; a malformed plate gets the API's sentence next to the plate.
  await page.getByLabel('Licence plate').fill('abc-123');
  await page.getByLabel("Plate's state or province (e.g. NY)").fill('N1');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.locator('#plate-state-error', { hasText: '2 or 3 letter code' }).waitFor();
  assert.is(await page.getByLabel("Plate's state or province (e.g. NY)").getAttribute('aria-invalid'), 'true');
  await page.getByLabel("Plate's state or province (e.g. NY)").fill('ny');
  await page.getByLabel('Licence plate').fill('ABC 123 4567 89');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.locator('#plate-error', { hasText: ERROR_SENTENCES.SME01! }).waitFor();
  assert.is(await page.getByLabel('Licence plate').getAttribute('aria-invalid'), 'true');
  assert.equal(await seriousA11yViolations(page), [], 'the reserve form with a plate error');
  await page.getByLabel('Licence plate').fill('abc-123');
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  assert.equal(await booked(spot), { plate: 'ABC123', plateState: 'NY' });

  // A signed-in driver picks one of their saved vehicles.
  const driver = await createUser(stack.db, { password: TEST_PASSWORD });
  await stack.db.owner.query(
    `insert into app_public.vehicles (user_id, plate, plate_state, label) values ($1, 'XYZ789', 'NJ', 'Van')`,
    [driver.id],
  );
  const other = await createSpot(stack.db, { lat: 40.7, lng: -74.04 });
  const signed = await stack.newPage('desktop');
  await signed.page.goto(`${stack.webUrl}/sign-in?next=${encodeURIComponent(`/spots/${other}`)}`);
  await signed.page.getByLabel('Email').fill(driver.email);
  await signed.page.getByLabel('Password').fill(TEST_PASSWORD);
  await signed.page.getByRole('button', { name: 'Sign in' }).click();
  await signed.page.waitForURL(`**/spots/${other}`);
  await priceShown(signed.page);
  // "Another vehicle" stays on offer, with empty fields.
  await signed.page.getByLabel('Saved vehicle').selectOption({ label: 'Another vehicle' });
  assert.is(await signed.page.getByLabel('Licence plate').inputValue(), '');
  await signed.page.getByLabel('Saved vehicle').selectOption({ label: 'Van: XYZ789 (NJ)' });
  assert.is(await signed.page.getByLabel('Licence plate').inputValue(), 'XYZ789');
  await signed.page.getByRole('button', { name: 'Reserve and add a card' }).click();
  const p = signed.page;
  await p.waitForURL(/\/reservations\/\d+$/);
  const id = /\/reservations\/(\d+)$/.exec(p.url())![1]!;
  const {
    rows: [row],
  } = await stack.db.owner.query('select plate, plate_state from app_public.reservations where id = $1', [id]);
  assert.equal(row, { plate: 'XYZ789', plate_state: 'NJ' });
});

test('A signed-in driver with a saved vehicle books with it without touching the picker', async () => {
  const driver = await createUser(stack.db, { password: TEST_PASSWORD });
  await stack.db.owner.query(
    `insert into app_public.vehicles (user_id, plate, plate_state, label) values ($1, 'SAV123', 'CT', 'Car')`,
    [driver.id],
  );
  const spot = await createSpot(stack.db, { lat: 40.72, lng: -74.11 });
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/sign-in?next=${encodeURIComponent(`/spots/${spot}`)}`);
  await page.getByLabel('Email').fill(driver.email);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`**/spots/${spot}`);
  await priceShown(page);
  const picker = page.getByLabel('Saved vehicle');
  await picker.waitFor();
  assert.is(await page.getByLabel('Licence plate').inputValue(), 'SAV123', 'the saved vehicle is preselected');
  assert.is(await page.getByLabel("Plate's state or province (e.g. NY)").inputValue(), 'CT');
  assert.equal(await picker.locator('option').allTextContents(), ['Another vehicle', 'Car: SAV123 (CT)']);
  await page.getByRole('button', { name: 'Reserve and add a card' }).click();
  await page.waitForURL(/\/reservations\/\d+$/);
  const id = /\/reservations\/(\d+)$/.exec(page.url())![1]!;
  const {
    rows: [row],
  } = await stack.db.owner.query('select plate, plate_state from app_public.reservations where id = $1', [id]);
  assert.equal(row, { plate: 'SAV123', plate_state: 'CT' });
});

test("A stay asked for that is longer than the spot's maximum is shortened to it, and said so", async () => {
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -74.05, maxStay: '4 hours' });
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/spots/${spot}?minutes=720`);
  await page.locator('.shortened', { hasText: 'the 12 h asked for is shortened to 4 h.' }).waitFor();
  assert.is(await page.getByLabel('For').inputValue(), '240');
  await priceShown(page);
});

test('From a spot page to sign in, to sign up and back to sign in, the way back to the spot is kept', async () => {
  const spot = await createSpot(stack.db, { lat: 40.7, lng: -74.06 });
  const { page } = await stack.newPage('desktop');
  await page.goto(`${stack.webUrl}/spots/${spot}`);
  await priceShown(page);
  await page.getByRole('link', { name: 'sign in', exact: true }).click();
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(new RegExp(`/sign-up\\?next=%2Fspots%2F${spot}$`));
  await page.getByRole('link', { name: 'Sign in', exact: true }).last().click();
  await page.waitForURL(new RegExp(`/sign-in\\?next=%2Fspots%2F${spot}$`));
  await page.waitForFunction(() => document.title === 'Sign in · Secure My Spot');
});

for (const size of ['phone', 'desktop'] as Size[]) {
  test(`The spot page has no serious or critical accessibility finding (${size})`, async () => {
    const { page } = await stack.newPage(size);
    await openFind(page);
    await openFirstFreeSpot(page);
    assert.equal(await seriousA11yViolations(page), []);
  });
}

test.run();
