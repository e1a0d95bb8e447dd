// Guests who lose the manage token, over HTTP: sendManageLink mails a new token (in the
// link's fragment) to the reservation's own address and revokes the old one; a wrong pair
// gets the same answer and changes nothing; it is rate limited; guest emails say how.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestDb } from './helpers/db.ts';
import { createRate, createSpot } from './helpers/spots.ts';
import { type TestApi, closeAll, startApi, startDbAndApi } from './helpers/api.ts';
import { createSignedInUser } from './helpers/auth.ts';
import { emailsOf, hoursFromNow } from './helpers/reservations.ts';
import { emailedLink, TEST_WEB_URL } from './helpers/outbox.ts';
import { renderEmail } from '../emails/index.ts';

let db: TestDb;
let api: TestApi;
let rate: number;

test.before(async () => {
  ({ db, api } = await startDbAndApi(import.meta.filename));
  rate = await createRate(db, { hourlyPrice: 600 });
});

test.after(() => closeAll(api, db));

const RESERVE = `mutation ($spotId: BigInt!, $startsAt: Datetime, $email: String) {
  reserve(input: { spotId: $spotId, startsAt: $startsAt, durationMinutes: 60, email: $email }) {
    result { reservation { rowId } manageToken } } }`;
const READ = `query ($id: BigInt!, $token: String!) { guestReservation(reservationId: $id, manageToken: $token) { rowId status } }`;
const SEND = `mutation ($id: BigInt!, $email: String!) { sendManageLink(input: { reservationId: $id, email: $email }) { result } }`;

async function guestReservation(email: string): Promise<{ id: string; token: string }> {
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  const res = await api.gql(RESERVE, { spotId, startsAt: hoursFromNow(1).toISOString(), email });
  assert.equal(res.errors, undefined);
  return { id: res.data.reserve.result.reservation.rowId, token: res.data.reserve.result.manageToken };
}

const links = async (id: string) => (await emailsOf(db, id)).filter((m) => m.template === 'reservation_link');
const reads = async (id: string, token: string) =>
  (await api.gql(READ, { id, token })).errors?.[0]?.extensions?.code ?? 'ok';

test('the right reservation and email: a new token by email, the old one stops working', async () => {
  const g = await guestReservation('lost.token@example.test');
  assert.is(await reads(g.id, g.token), 'ok');
  const res = await api.gql(SEND, { id: g.id, email: ' Lost.Token@EXAMPLE.test ' });
  assert.equal([res.errors, res.data.sendManageLink.result], [undefined, true]);
  const [mail] = await links(g.id);
  assert.is(mail.recipient, 'lost.token@example.test');
  const fresh = /#manageToken=([A-Za-z0-9_-]+)$/.exec(emailedLink(mail)!)?.[1];
  assert.ok(fresh, emailedLink(mail));
  assert.match(
    emailedLink(mail)!,
    new RegExp(`^${TEST_WEB_URL}/reservations/${g.id}/manage#`),
    'the token in the fragment, never sent to a server',
  );
  assert.is(await reads(g.id, fresh!), 'ok');
  assert.is(await reads(g.id, g.token), 'SMB06', 'the old token is revoked');
  const rendered = renderEmail('reservation_link', mail.data, {
    appUrl: 'https://app.example.test',
    productName: 'Secure My Spot',
    timeZone: 'America/New_York',
  });
  assert.match(
    rendered.text,
    new RegExp(`https://app\\.example\\.test/reservations/${g.id}/manage#manageToken=${fresh}`),
  );
});

test("a wrong email, an unknown id or a driver's reservation: the same answer, nothing sent or changed", async () => {
  const g = await guestReservation('mine@example.test');
  const driver = await createSignedInUser(db, api);
  const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
  const own = await api.gql(RESERVE, { spotId, startsAt: hoursFromNow(1).toISOString() }, driver.headers);
  const ownId = own.data.reserve.result.reservation.rowId;
  for (const [id, email] of [
    [g.id, 'someone.else@example.test'],
    ['987654321', 'mine@example.test'],
    [ownId, driver.email],
  ]) {
    const res = await api.gql(SEND, { id, email });
    assert.equal([res.errors, res.data?.sendManageLink.result], [undefined, true], `${id} ${email}`);
  }
  assert.equal(await links(g.id), []);
  assert.equal(await links(ownId), []);
  assert.is(await reads(g.id, g.token), 'ok', 'the token still works');
  const bad = await api.gql(SEND, { id: g.id, email: 'not an email' });
  assert.is(bad.errors?.[0].extensions?.code, 'SMA03');
});

test('at most 3 an hour per reservation and email: then SMA02 with retryAfter, and no new token', async () => {
  const g = await guestReservation('eager@example.test');
  for (let i = 0; i < 3; i++)
    assert.equal((await api.gql(SEND, { id: g.id, email: 'eager@example.test' })).errors, undefined);
  const limited = await api.gql(SEND, { id: g.id, email: 'eager@example.test' });
  assert.is(limited.errors?.[0].extensions?.code, 'SMA02');
  assert.ok(Number((limited.errors?.[0].extensions as { retryAfter?: number } | undefined)?.retryAfter) > 0);
  const sent = await links(g.id);
  assert.is(sent.length, 3);
  const last = /#manageToken=(.+)$/.exec(emailedLink(sent.at(-1)!)!)![1];
  assert.is(await reads(g.id, last), 'ok', 'the refused request revoked nothing');
});

test("a stranger's wrong emails never use up the guest's requests, and are limited just the same", async () => {
  const g = await guestReservation('targeted@example.test');
  const codes: string[] = [];
  for (let i = 0; i < 4; i++) {
    codes.push(
      (await api.gql(SEND, { id: g.id, email: 'guessing@example.test' })).errors?.[0].extensions?.code ?? 'ok',
    );
  }
  assert.equal(codes, ['ok', 'ok', 'ok', 'SMA02'], 'a wrong pair meets the limit as the right one would');
  const res = await api.gql(SEND, { id: g.id, email: 'targeted@example.test' });
  assert.equal([res.errors, res.data?.sendManageLink.result], [undefined, true]);
  assert.is((await links(g.id)).length, 1, 'the guest still gets their link');
});

test("a stranger who knows the reservation and the email, from another address, does not use up the guest's requests", async () => {
  const proxied = await startApi(db, { trustProxy: 1 });
  try {
    const guest = { 'x-forwarded-for': '192.0.2.60' };
    const spotId = await createSpot(db, { lat: 40.75, lng: -73.99, rateId: rate });
    const made = await proxied.gql(
      RESERVE,
      { spotId, startsAt: hoursFromNow(1).toISOString(), email: 'known@example.test' },
      guest,
    );
    const id = made.data.reserve.result.reservation.rowId;
    const codes = [];
    for (let i = 0; i < 4; i += 1) {
      codes.push(
        (await proxied.gql(SEND, { id, email: 'known@example.test' }, { 'x-forwarded-for': '198.51.100.61' }))
          .errors?.[0].extensions?.code ?? 'ok',
      );
    }
    assert.equal(codes, ['ok', 'ok', 'ok', 'SMA02'], "the stranger's own three");
    // Strangers from many addresses meet the reservation's ceiling (10 an hour)…
    const more = [];
    for (let i = 0; i < 8; i += 1) {
      more.push(
        (await proxied.gql(SEND, { id, email: 'known@example.test' }, { 'x-forwarded-for': `198.51.100.${70 + i}` }))
          .errors?.[0].extensions?.code ?? 'ok',
      );
    }
    assert.equal(more, [...Array(7).fill('ok'), 'SMA02']);
    // …which the address the guest booked from does not.
    const own = await proxied.gql(SEND, { id, email: 'known@example.test' }, guest);
    assert.equal([own.errors, own.data?.sendManageLink.result], [undefined, true]);
    const last = /#manageToken=(.+)$/.exec(emailedLink((await links(id)).at(-1)!)!)![1];
    assert.is(await reads(id, last), 'ok', "the guest's newest link works");
  } finally {
    await proxied.close();
  }
});

test("guest emails say how to get a new link; drivers' do not", async () => {
  const data = {
    reservationId: 7,
    spot: 'W 36 St',
    startsAt: '2026-07-01T13:00:00Z',
    endsAt: '2026-07-01T15:00:00Z',
    timeZone: 'America/New_York',
    amount: 900,
    currency: 'USD',
  };
  const ctx = { appUrl: 'https://app.example.test', productName: 'Secure My Spot', timeZone: 'America/New_York' };
  for (const template of ['reservation_held', 'reservation_confirmed', 'reservation_reminder']) {
    assert.match(renderEmail(template, { ...data, isGuest: true }, ctx).text, /Lost your manage code\?/, template);
    assert.not.match(renderEmail(template, { ...data, isGuest: false }, ctx).text, /manage code/, template);
  }
});

test.run();
