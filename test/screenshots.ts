// `npm run docs:screenshots`: the web app's main screens at phone and desktop
// sizes, written to docs/screenshots/ for README. It runs the product exactly
// as the browser tests do (test/helpers/web_stack.ts: npm start on a database
// of its own, offline), so the pictures show what the tests check.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { dropTemplate } from './helpers/db.ts';
import { MIDTOWN, nothingLoading, openFirstFreeSpot, reservationStatusIs, typeCard } from './helpers/web_pages.ts';
import { startWebStack, type Size } from './helpers/web_stack.ts';

const OUT = join(import.meta.dirname, '..', 'docs', 'screenshots');

const stack = await startWebStack(import.meta.filename);
mkdirSync(OUT, { recursive: true });

async function shoot(page: Page, name: string, size: Size): Promise<void> {
  await nothingLoading(page);
  await page.screenshot({ path: join(OUT, `${name}-${size}.png`), fullPage: size === 'phone' });
  console.log(`docs/screenshots/${name}-${size}.png`);
}

try {
  for (const size of ['desktop', 'phone'] as Size[]) {
    const { page } = await stack.newPage(size);
    await page.goto(stack.webUrl + MIDTOWN);
    await page.locator('li.spot').first().waitFor();
    await shoot(page, 'find', size);

    await openFirstFreeSpot(page);
    await page.getByLabel('Your email').fill(`guest.${size}@example.test`);
    await shoot(page, 'reserve', size);

    await page.getByRole('button', { name: 'Reserve and add a card' }).click();
    await typeCard(page, '4242 4242 4242 4242');
    await shoot(page, 'card', size);

    await page.getByRole('button', { name: 'Save card and confirm' }).click();
    await reservationStatusIs(page, 'confirmed');
    await shoot(page, 'confirmed', size);

    await page.goto(`${stack.webUrl}/sign-in`);
    await page.locator('h1').waitFor();
    await shoot(page, 'sign-in', size);
  }
} finally {
  await stack.close();
  await dropTemplate();
}
