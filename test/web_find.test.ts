// The web app's Find page in Chromium against the running product (offline:
// no map tiles): spots listed nearest first with prices, one marker each,
// errors next to the field that caused them, a spot turning "taken" when
// someone else books it, and no serious accessibility finding at either size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { APP_ONLY_SENTENCES, ERROR_SENTENCES } from '../web/src/error_messages.ts';
import { MIDTOWN } from './helpers/web_pages.ts';
import { seriousA11yViolations, startWebStack, waitUntil, type WebStack } from './helpers/web_stack.ts';
import { zonedInstant } from '../web/src/zoned_time.ts';
import { createRate, createSpot } from './helpers/spots.ts';

let stack: WebStack;

test.before(async () => {
  stack = await startWebStack(import.meta.filename);
});
test.after(async () => {
  await stack?.close();
});

async function api(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${stack.apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> };
}

test('Find lists the free spots nearest first with their price, and a marker for each, with no map tiles', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(stack.webUrl + MIDTOWN);
  const items = page.locator('li.spot');
  await items.first().waitFor();
  const distances = await items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-distance'))));
  assert.ok(distances.length > 1, 'several spots listed');
  assert.equal(
    distances,
    [...distances].sort((a, b) => a - b),
    'nearest first',
  );
  for (const text of await page.locator('li.spot .price').allTextContents()) assert.match(text, /^\$\d+\.\d\d$/);

  // The same spots, in the same order, as the API's own answer for that window.
  const ids = await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-spot-id')));
  const count = await page.locator('.count').textContent();
  const total = Number(/^(\d+) free/.exec(count ?? '')?.[1]);
  const now = new Date();
  const direct = await api(
    `query($s: Datetime!, $e: Datetime!) { spotsNear(lat: 40.7536, lng: -73.9832, radius: 0.3, unit: km, startsAt: $s, endsAt: $e, first: 100) {
    totalCount nodes { spot { rowId } } } }`,
    { s: now.toISOString(), e: new Date(now.getTime() + 3600_000).toISOString() },
  );
  assert.is(total, direct.data.spotsNear.totalCount);
  assert.equal(
    ids,
    direct.data.spotsNear.nodes.slice(0, ids.length).map((n: any) => n.spot.rowId),
  );

  // Markers on the map: one per spot found (the list shows the first page of them).
  assert.is(await page.locator('path.marker[data-state="free"]').count(), Math.min(total, 100));
  // Tiles cannot load here: the plain grid and its note, markers still placed.
  await page.locator('.map-offline').waitFor();
  assert.match((await page.locator('.map-note').textContent()) ?? '', /spots are still placed/);
});

test('Each spot is named with the meter number on its sign, in the list and on its page; a spot made by hand, by its street', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(stack.webUrl + MIDTOWN);
  const first = page.locator('li.spot').first();
  await first.waitFor();
  const spotId = await first.getAttribute('data-spot-id');
  const {
    data: { spot },
  } = await api('query($id: BigInt!) { spot(rowId: $id) { description externalId } }', { id: spotId });
  assert.ok(spot.externalId, "the demo meters carry the city's meter number");
  const name = `${spot.description} · Meter ${spot.externalId}`;
  assert.is(await first.locator('.spot-title').textContent(), name);
  // The Reserve link names it the same way to a screen reader.
  await first.getByRole('link', { name: `Reserve ${name}, ` }).click();
  await page.waitForURL(new RegExp(`/spots/${spotId}`));
  await page.locator('.spot-title', { hasText: name }).waitFor();
  assert.is(await page.locator('.spot-title').textContent(), name);

  // No meter number: the street alone, no "Meter".
  await createSpot(stack.db, { lat: 40.58, lng: -74.15, street: 'Hand Made Street' });
  await page.goto(`${stack.webUrl}/?lat=40.58000&lng=-74.15000&radius=0.3&unit=km&minutes=60`);
  await page.locator('li.spot').first().waitFor();
  assert.equal(await page.locator('li.spot .spot-title').allTextContents(), ['Hand Made Street']);
});

test('Typed coordinates, miles and a bad radius: the error sits next to the field that caused it', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(stack.webUrl + MIDTOWN);
  await page.locator('li.spot').first().waitFor();
  await page.getByLabel('Latitude').fill('40.7527');
  await page.getByLabel('Longitude').fill('-73.9772');
  await page.getByLabel('Radius').fill('0.2');
  await page.getByLabel('Unit').selectOption('mi');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(/lat=40\.75270&lng=-73\.97720&radius=0\.2&unit=mi/);
  await waitUntil(
    async () => /within 0\.2 mi/.test((await page.locator('.count').textContent()) ?? ''),
    'a search in miles',
  );
  for (const d of await page.locator('li.spot .distance').allTextContents()) assert.match(d, /^\d+ ft$|^0\.\d\d mi$/);

  await page.getByLabel('Radius').fill('80');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#radius-error').waitFor();
  assert.is(await page.locator('#radius-error').textContent(), ERROR_SENTENCES.SMS02);
  assert.is(await page.getByLabel('Radius').getAttribute('aria-invalid'), 'true');
  // Announced as it appears, and the field to fix has the focus (not the page, nor the button).
  assert.is(await page.locator('#radius-error').getAttribute('role'), 'alert');
  await page.waitForFunction(() => document.activeElement?.id === 'radius');

  await page.getByLabel('Radius').fill('0.5');
  await page.getByLabel('Latitude').fill('95');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#lat-error').waitFor();
  assert.is(await page.locator('#lat-error').textContent(), ERROR_SENTENCES.SMS01);

  // Found before sending, the same way: next to the field, which takes the focus; a blank one is asked for.
  await page.getByLabel('Latitude').fill('');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#lat-error', { hasText: /^Enter the latitude and the longitude, such as/ }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'lat');
  await page.getByLabel('Latitude').fill('40.75');
  await page.getByLabel('Longitude').fill('west');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#lat-error', { hasText: /^Enter the latitude and the longitude as numbers/ }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'lng');
  await page.getByLabel('Longitude').fill('-73.98');
  await page.getByLabel('Radius').fill('x');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#radius-error', { hasText: ERROR_SENTENCES.SMS02 }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'radius');
});

test('A listed spot that someone else books turns taken, in the list and on the map, pushed by the live stream', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(stack.webUrl + MIDTOWN);
  const first = page.locator('li.spot').first();
  await first.waitFor();
  // The page listens to GET /live/spots for its area; while it does, it does not poll.
  await page.locator('.count[data-live="on"]').waitFor();
  const spotId = await first.getAttribute('data-spot-id');
  const free = Number(/^(\d+) free/.exec((await page.locator('.count').textContent()) ?? '')?.[1]);
  const booked = await api(
    `mutation($id: BigInt!) { reserve(input: { spotId: $id, durationMinutes: 60, email: "other.driver@example.test" }) {
    result { reservation { rowId status } } } }`,
    { id: spotId },
  );
  assert.is(booked.errors, undefined);
  await page.locator(`li.spot[data-spot-id="${spotId}"][data-state="taken"]`).waitFor();
  await page.locator(`path.marker[data-spot-id="${spotId}"][data-state="taken"]`).waitFor({ state: 'attached' });
  assert.match((await page.locator(`li.spot[data-spot-id="${spotId}"]`).textContent()) ?? '', /Taken/);
  // The count of free spots goes down with it.
  await page.locator('.count', { hasText: new RegExp(`^${free - 1} free spots? within`) }).waitFor();
});

test('"Near me" searches at the browser\'s location; a refused location says so next to the button', async () => {
  const allowed = await stack.newPage('phone', {
    geolocation: { latitude: 40.7527, longitude: -73.9772 },
    permissions: ['geolocation'],
  });
  await allowed.page.goto(stack.webUrl + MIDTOWN);
  await allowed.page.locator('li.spot').first().waitFor();
  // On a phone the search form folds away under its summary.
  await allowed.page.locator('summary').click();
  await allowed.page.getByRole('button', { name: 'Near me' }).click();
  await allowed.page.waitForURL(/lat=40\.75270&lng=-73\.97720/);
  // The form follows the address once the page has re-read it.
  await waitUntil(
    async () => (await allowed.page.getByLabel('Latitude').inputValue()) === '40.7527',
    'the latitude field at the location',
  );

  const refused = await stack.newPage('desktop'); // no permission granted: the browser refuses
  await refused.page.goto(stack.webUrl + MIDTOWN);
  await refused.page.locator('li.spot').first().waitFor();
  await refused.page.getByRole('button', { name: 'Near me' }).click();
  await refused.page.getByText(APP_ONLY_SENTENCES.GEOLOCATION!).waitFor();
  assert.match(refused.page.url(), /lat=40\.75360/, 'the search stays where it was');
});

test("A start typed on Find is read on the spots' clock, named next to the field, in a browser in Tokyo", async () => {
  const { page } = await stack.newPage('desktop', { timezoneId: 'Asia/Tokyo' });
  const starts: string[] = [];
  page.on('request', (req) => {
    const body = req.method() === 'POST' && req.url().endsWith('/graphql') ? req.postDataJSON() : null;
    if (/query SpotsNear\(/.test(body?.query ?? '')) starts.push(body.variables.startsAt);
  });
  // Tomorrow in New York, where the demo meters are (their rates' zone).
  const day = new Date(Date.now() + 86400e3).toLocaleDateString('en-CA', { timeZone: 'America/New_York' });
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const nyAt = (hour: number) => zonedInstant({ year: y, month: m, day: d, hour, minute: 0 }, 'America/New_York');

  await page.goto(`${stack.webUrl}${MIDTOWN}&start=${day}T10:00`);
  // The area's zone is learnt from its spots and kept in the address; the search runs on it.
  await page.waitForURL(/tz=America%2FNew_York/);
  await page.locator('li.spot').first().waitFor();
  await waitUntil(async () => starts.at(-1) === nyAt(10).toISOString(), `10:00 in New York searched (${starts})`);
  await page
    .locator('#search-start-hint', { hasText: /^In America\/New_York \(E[SD]T\), the time zone of the spots here\.$/ })
    .waitFor();
  assert.is(await page.getByLabel('Start at').inputValue(), `${day}T10:00`);
  const href = await page
    .locator('li.spot')
    .first()
    .getByRole('link', { name: /^Reserve/ })
    .getAttribute('href');
  assert.match(href ?? '', new RegExp(`start=${day}T10%3A00`), 'the spot page gets the same reading');

  // A start typed in the form is read on the same clock.
  await page.getByLabel('Start at').fill(`${day}T11:00`);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await waitUntil(async () => starts.at(-1) === nyAt(11).toISOString(), `11:00 in New York searched (${starts})`);
  assert.equal(await seriousA11yViolations(page), []);

  // Moved to an area whose spots keep Chicago's clock: the same instant, shown on that clock (an hour earlier).
  const rateId = await createRate(stack.db);
  await stack.db.owner.query(`update app_public.rates set time_zone = 'America/Chicago' where id = $1`, [rateId]);
  await createSpot(stack.db, { lat: 41.8781, lng: -87.6298, rateId });
  await page.getByLabel('Latitude').fill('41.8781');
  await page.getByLabel('Longitude').fill('-87.6298');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(/tz=America%2FChicago/);
  await page.locator('li.spot').first().waitFor();
  await waitUntil(async () => starts.at(-1) === nyAt(11).toISOString(), `still 11:00 in New York (${starts})`);
  await page
    .locator('#search-start-hint', { hasText: /^In America\/Chicago \(C[SD]T\), the time zone of the spots here\.$/ })
    .waitFor();
  assert.is(await page.getByLabel('Start at').inputValue(), `${day}T10:00`);
});

test('Keyboard: the map markers are no tab stops before the list; the desktop page does not scroll into blank space', async () => {
  const { page } = await stack.newPage('desktop');
  await page.goto(stack.webUrl + MIDTOWN);
  await page.locator('li.spot').first().waitFor();
  await page.locator('path.marker').first().waitFor({ state: 'attached' });
  // Tab from the top of the page to the first Reserve link: no marker on the way.
  const stops: string[] = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return 'none';
      if (el.matches('path.marker')) return 'marker';
      return `${el.tagName.toLowerCase()}:${(el.textContent ?? '').trim().slice(0, 20)}`;
    });
    stops.push(stop);
    if (stop.startsWith('a:Reserve')) break;
  }
  assert.ok(stops.at(-1)?.startsWith('a:Reserve'), `the first Reserve link is reached: ${stops.join(' | ')}`);
  assert.not.ok(stops.includes('marker'), `no marker is a tab stop: ${stops.join(' | ')}`);
  const tabbable = await page
    .locator('path.marker')
    .evaluateAll((els) => els.filter((e) => (e as SVGElement).tabIndex >= 0).length);
  assert.is(tabbable, 0, 'no marker in the tab order');

  // The list's visually hidden link texts stay inside its scroll box: the page is as tall as what it shows.
  const { scrollHeight, contentBottom } = await page.evaluate(() => ({
    scrollHeight: document.documentElement.scrollHeight,
    contentBottom: Math.max(
      ...[...document.querySelectorAll('header, main, footer, .find')].map(
        (e) => e.getBoundingClientRect().bottom + window.scrollY,
      ),
    ),
  }));
  assert.ok(scrollHeight <= contentBottom + 40, `page ${scrollHeight} px tall for ${contentBottom} px of content`);
});

for (const size of ['phone', 'desktop'] as const) {
  test(`Find has no serious or critical accessibility finding (${size})`, async () => {
    const { page } = await stack.newPage(size);
    await page.goto(stack.webUrl + MIDTOWN);
    await page.locator('li.spot').first().waitFor();
    assert.equal(await seriousA11yViolations(page), []);
  });
}

test.run();
