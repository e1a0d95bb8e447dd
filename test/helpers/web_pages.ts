// What the browser tests (and the screenshots) do on the web app's pages, in one place.
import type { Page } from 'playwright-core';

/** Find's search in Midtown Manhattan, a 0.3 km radius, the next hour: the seeded demo meters. */
export const MIDTOWN = '/?lat=40.75360&lng=-73.98320&radius=0.3&unit=km&minutes=60';

/** Types a card into the emulator's Stripe.js card element, as a person would. */
export async function typeCard(page: Page, number: string): Promise<void> {
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiry (MM / YY)').fill('12 / 34');
  await page.getByLabel('CVC').fill('123');
}

/**
 * Waits until no part of the page is loading. A page may load several parts at once (the
 * account page: vehicles and sessions), so this waits for every `.loading`, not the first.
 */
export async function nothingLoading(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('.loading') === null);
}

/** Waits for the reservation page to show `status` (the page re-reads it while it waits on a card). */
export async function reservationStatusIs(page: Page, status: string): Promise<void> {
  await page.locator(`.status-line [data-status="${status}"]`).waitFor({ timeout: 30_000 });
}

/** Waits for the spot page's price (a quote in dollars and cents). */
export async function priceShown(page: Page): Promise<void> {
  await page
    .locator('[data-price]')
    .filter({ hasText: /^\$\d+\.\d\d$/ })
    .waitFor();
}

/** On Find: follows the first free spot's Reserve link and waits for the spot page's price. */
export async function openFirstFreeSpot(page: Page): Promise<void> {
  await page
    .locator('li.spot[data-state="free"]')
    .first()
    .getByRole('link', { name: /^Reserve/ })
    .click();
  await priceShown(page);
}
