// Email: every template renders (text + HTML, times in the spot's zone,
// amounts in the currency), the send_email task delivers outbox rows over a
// real SMTP listener exactly once, and survives SMTP being down for a while.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp_sink.ts';
import { startTestWorker, waitFor, type TestWorker } from './helpers/payments.ts';
import { renderEmail, TEMPLATE_NAMES, UnknownTemplateError } from '../emails/index.ts';
import { closeMailTransports } from '../lib/mail_transport.ts';

let db: TestDb;
let smtp: SmtpSink;
let worker: TestWorker | undefined;
const ctx = { appUrl: 'https://app.example.test', productName: 'Secure My Spot', timeZone: 'America/New_York' };

const reservationData = {
  reservationId: 42,
  spot: 'W 36 St (north side) between 7 Av and 8 Av',
  startsAt: '2026-07-01T13:00:00Z',
  endsAt: '2026-07-01T15:30:00Z',
  timeZone: 'America/New_York',
  amount: 1250,
  currency: 'USD',
};

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  smtp = await startSmtpSink();
  Object.assign(process.env, {
    SMTP_HOST: smtp.host,
    SMTP_PORT: String(smtp.port),
    MAIL_FROM: 'SMS <no-reply@sms.test>',
  });
});

test.after(async () => {
  await worker?.stop();
  closeMailTransports();
  await smtp?.close();
  await db?.close();
});

test('every template booking, accounts and payments queue renders text and HTML', () => {
  const expected = [
    'reservation_held',
    'reservation_confirmed',
    'reservation_changed',
    'reservation_cancelled',
    'reservation_expired',
    'reservation_link',
    'reservation_ended',
    'reservation_reminder',
    'receipt',
    'payment_failed',
    'refund',
    'verify_email',
    'password_reset',
    'staff_invite',
    'password_changed',
    'account_secured',
  ];
  assert.equal([...TEMPLATE_NAMES].sort(), [...expected].sort());
  for (const template of expected) {
    const data =
      template.startsWith('reservation') || template === 'receipt' || template === 'payment_failed'
        ? reservationData
        : template === 'refund'
          ? { ...reservationData, refundAmount: 600, refunded: 600, charged: 1600 }
          : { name: 'Ada', token: 'abc', expiresAt: '2026-07-01T13:00:00Z', role: 'operator' };
    const email = renderEmail(template, data, ctx);
    assert.ok(email.subject.length > 5, template);
    assert.ok(email.text.length > 20 && email.html.startsWith('<!doctype html>'), template);
  }
});

test('every template any migration or fixture queues has a renderer', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dirs = ['../migrations/committed/', '../migrations/fixtures/', '../migrations/'];
  const queued = new Set<string>();
  for (const dir of dirs) {
    const url = new URL(dir, import.meta.url);
    for (const f of readdirSync(url).filter((n) => n.endsWith('.sql'))) {
      const sql = readFileSync(new URL(f, url), 'utf8');
      for (const m of sql.matchAll(/email_enqueue\(\s*'([a-z_]+)'/g)) queued.add(m[1]);
    }
  }
  assert.ok(queued.size >= 4, [...queued].join());
  for (const template of queued) assert.ok(TEMPLATE_NAMES.includes(template), `no renderer for ${template}`);
});

test("account emails show times like the others: in the product's time zone, not UTC", () => {
  // 13:00Z in July is 9:00 EDT in New York, the default home time zone.
  const verify = renderEmail('verify_email', { name: 'Ada', token: 'v', expiresAt: '2026-07-01T13:00:00Z' }, ctx);
  assert.match(verify.text, /works until Wed, Jul 1, 2026, 9:00\s?AM EDT/);
  assert.not.match(verify.text, /UTC|GMT/);
  const tokyo = renderEmail(
    'password_reset',
    { name: 'Ada', token: 'r', expiresAt: '2026-07-01T13:00:00Z' },
    { ...ctx, timeZone: 'Asia/Tokyo' },
  );
  assert.match(tokyo.text, /10:00\s?PM GMT\+9/);
});

test('times are shown in the data time zone and amounts in the currency', () => {
  const email = renderEmail('reservation_confirmed', reservationData, ctx);
  // 13:00Z in July is 9:00 EDT.
  assert.match(email.text, /9:00\s?AM EDT/);
  assert.match(email.text, /11:30\s?AM EDT/);
  assert.match(email.text, /\$12\.50/);
  const yen = renderEmail(
    'receipt',
    { ...reservationData, amount: 1250, currency: 'JPY', timeZone: 'Asia/Tokyo' },
    ctx,
  );
  assert.match(yen.text, /¥1,250/);
  assert.match(yen.text, /10:00\s?PM GMT\+9/);
});

test('reminder links to extending; payment_failed links to paying and says when the card is retried', () => {
  const reminder = renderEmail('reservation_reminder', { ...reservationData, isGuest: true }, ctx);
  assert.match(reminder.text, /Extend your reservation: https:\/\/app\.example\.test\/reservations\/42\/manage/);
  const failed = renderEmail(
    'payment_failed',
    { ...reservationData, failureCode: 'card_declined', nextRetryAt: '2026-07-02T15:30:00Z' },
    ctx,
  );
  assert.match(failed.text, /Pay now: https:\/\/app\.example\.test\/reservations\/42\/pay/);
  assert.match(failed.text, /try your card again on Thu, Jul 2, 2026/);
  assert.match(failed.html, /<a href="https:\/\/app\.example\.test\/reservations\/42\/pay">Pay now<\/a>/);
});

test("booking data: a guest's manage link, hold deadline, cancel reason, previous end", () => {
  const held = renderEmail(
    'reservation_held',
    { ...reservationData, isGuest: true, holdExpiresAt: '2026-07-01T12:15:00Z' },
    ctx,
  );
  assert.match(held.text, /https:\/\/app\.example\.test\/reservations\/42\/manage/);
  assert.match(held.text, /lapses at Wed, Jul 1, 2026, 8:15\s?AM EDT/);
  const expired = renderEmail('reservation_expired', reservationData, ctx);
  assert.match(expired.subject, /^Hold on reservation #42 expired$/);
  assert.match(expired.text, /hold on this spot lapsed/);
  assert.not.match(expired.subject + expired.text, /cancel/i, 'an expired hold is not a cancellation');
  // The meter number on the sign tells one spot of a block from the next.
  const metered = renderEmail('reservation_confirmed', { ...reservationData, meterNumber: '3016374' }, ctx);
  assert.match(metered.text, /Spot: W 36 St \(north side\) between 7 Av and 8 Av — meter 3016374/);
  // Ended by the driver (endReservation) or by an operator, not lapsed.
  const ended = renderEmail('reservation_expired', { ...reservationData, reason: 'ended' }, ctx);
  assert.match(ended.subject, /^Hold on reservation #42 ended$/);
  assert.match(ended.text, /You ended the hold before a card was added/);
  assert.not.match(ended.text, /lapsed/);
  const byOperator = renderEmail('reservation_expired', { ...reservationData, reason: 'ended_by_operator' }, ctx);
  assert.match(byOperator.text, /An operator ended the hold/);
  const changed = renderEmail(
    'reservation_changed',
    { ...reservationData, previousEndsAt: '2026-07-01T14:00:00Z', previousAmount: 800 },
    ctx,
  );
  assert.match(changed.text, /ended Wed, Jul 1, 2026, 10:00\s?AM EDT and cost \$8\.00/);
});

test('HTML escapes data; unknown templates and missing data fail loudly', () => {
  const email = renderEmail('reservation_confirmed', { ...reservationData, spot: '<script>x</script> & Co' }, ctx);
  assert.ok(email.html.includes('&lt;script&gt;x&lt;/script&gt; &amp; Co'));
  assert.not.ok(email.html.includes('<script>'));
  assert.throws(
    () => renderEmail('no_such_template', {}, ctx),
    (e: Error) => e instanceof UnknownTemplateError,
  );
  assert.throws(
    () => renderEmail('reservation_confirmed', { ...reservationData, timeZone: undefined }, ctx),
    /timeZone/,
  );
});

async function enqueue(template: string, to: string, data: object): Promise<string> {
  const {
    rows: [r],
  } = await db.owner.query('select app_private.email_enqueue($1, $2, $3::jsonb)::text as id', [
    template,
    to,
    JSON.stringify(data),
  ]);
  return r.id;
}

async function sentCount(ids: string[]): Promise<number> {
  const {
    rows: [r],
  } = await db.owner.query(
    'select count(*)::int as n from app_private.emails where id = any($1::bigint[]) and sent_at is not null',
    [ids],
  );
  return r.n;
}

test('send_email delivers outbox rows over SMTP once and marks them sent; a sent row is never re-sent', async () => {
  // Setup
  const ids = [
    await enqueue('reservation_confirmed', 'a@example.test', reservationData),
    await enqueue('verify_email', 'b@example.test', { name: 'B', token: 'v' }),
    await enqueue('receipt', 'c@example.test', reservationData),
  ];
  const alreadySent = await enqueue('receipt', 'd@example.test', reservationData);
  await db.owner.query('update app_private.emails set sent_at = now() where id = $1', [alreadySent]);

  // Action
  worker = await startTestWorker(db);
  await waitFor(async () => (await sentCount(ids)) === 3, 15_000, 'all sent');
  await waitFor(
    async () =>
      (await db.owner.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'send_email'`))
        .rows[0].n === 0,
  );

  // Assertions
  const got = smtp.messages.filter((m) => m.emailId && [...ids, alreadySent].includes(m.emailId));
  assert.equal(got.map((m) => m.emailId).sort(), [...ids].sort());
  const confirmed = got.find((m) => m.emailId === ids[0])!;
  assert.equal(confirmed.to, ['a@example.test']);
  assert.equal(confirmed.template, 'reservation_confirmed');
  assert.equal(confirmed.messageId, `<email-${ids[0]}@sms.test>`);
  assert.match(confirmed.raw, /multipart\/alternative/);
});

test('once sent, an outbox row keeps no plain one-time token (the mail carried it); the rest of its data stays', async () => {
  worker ??= await startTestWorker(db);
  const ids = [
    await enqueue('verify_email', 'e@example.test', { token: 'plain-verify-token' }),
    await enqueue('reservation_link', 'f@example.test', {
      ...reservationData,
      isGuest: true,
      manageToken: 'plain-manage-token',
    }),
  ];
  await waitFor(async () => (await sentCount(ids)) === 2, 15_000, 'both sent');
  const mailed = await waitFor(async () => {
    const texts = smtp.messages.filter((m) => m.emailId && ids.includes(m.emailId)).map((m) => m.decoded);
    return texts.length === 2 ? texts : null;
  });
  assert.ok(
    mailed.some((text) => text.includes('plain-verify-token')),
    'the verification link was mailed',
  );
  assert.ok(
    mailed.some((text) => text.includes('plain-manage-token')),
    mailed.join('\n---\n').slice(0, 3000),
  );
  const { rows } = await db.owner.query(
    'select data from app_private.emails where id = any($1::bigint[]) order by id',
    [ids],
  );
  assert.equal(
    rows.map((r) => r.data),
    [{}, { ...reservationData, isGuest: true }],
  );
});

test('an email given up after its last failed attempt keeps no plain one-time token either', async () => {
  // Queued in the same transaction, so the running worker's sweep never sends it: every attempt
  // fails, as when SMTP keeps refusing. (A multi-statement query is one transaction.)
  const [made] = (await db.owner.query(
    `select app_private.email_enqueue('verify_email', 'g@example.test', '{"token": "plain-never-sent-token"}')::text as id;
     update app_private.emails set queued_at = now()
     where id = currval(pg_get_serial_sequence('app_private.emails', 'id'))`,
  )) as unknown as Array<{ rows: Array<{ id: string }> }>;
  const id = made.rows[0].id;
  const tokenAfter = async (failures: number) => {
    for (let i = 0; i < failures; i++)
      await db.owner.query(`select app_private.email_send_failed($1, 'refused')`, [id]);
    const {
      rows: [row],
    } = await db.owner.query(`select data->>'token' as token, attempts from app_private.emails where id = $1`, [id]);
    return row;
  };
  const {
    rows: [{ max }],
  } = await db.owner.query('select app_private.email_send_attempts_max() as max');
  assert.equal(
    await tokenAfter(max - 1),
    { token: 'plain-never-sent-token', attempts: max - 1 },
    'kept while it may still go',
  );
  assert.equal(await tokenAfter(1), { token: null, attempts: max }, 'dropped once given up');
});

test('a send_email job naming no outbox row (not an id, an id of no row) ends without sending or failing', async () => {
  // Setup: a running worker (the test above started it) and what the outbox holds now.
  worker ??= await startTestWorker(db);
  const messagesBefore = smtp.messages.length;
  const outboxBefore = (await db.owner.query('select id, sent_at, attempts from app_private.emails order by id')).rows;

  // Action
  for (const emailId of ['x', '1; select 1', -5, 0, 1.5, '999999999']) {
    await db.owner.query(`select graphile_worker.add_job('send_email', json_build_object('emailId', $1::json))`, [
      JSON.stringify(emailId),
    ]);
  }
  await waitFor(
    async () =>
      (await db.owner.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'send_email'`))
        .rows[0].n === 0,
    15_000,
    'every job done (a failed one would stay, to be retried)',
  );

  // Assertions
  assert.is(smtp.messages.length, messagesBefore);
  assert.equal(
    (await db.owner.query('select id, sent_at, attempts from app_private.emails order by id')).rows,
    outboxBefore,
  );
});

test('SMTP down for a while: every email is delivered once after it recovers', async () => {
  // Setup: the server refuses connections; 6 emails are queued.
  smtp.setDown(true);
  closeMailTransports();
  const before = smtp.messages.length;
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(await enqueue('reservation_changed', `down${i}@example.test`, reservationData));

  // Action: every email fails at least once, then SMTP comes back.
  await waitFor(
    async () =>
      (
        await db.owner.query(
          'select count(*)::int as n from app_private.emails where id = any($1::bigint[]) and attempts >= 1 and last_error is not null',
          [ids],
        )
      ).rows[0].n === ids.length,
    15_000,
    'every email failed once',
  );
  assert.ok(smtp.refused >= ids.length);
  await waitFor(
    async () =>
      (
        await db.owner.query(
          `select count(*)::int as n from graphile_worker.jobs where key = any($1) and attempts >= 1 and last_error is not null`,
          [ids.map((id) => `send_email:${id}`)],
        )
      ).rows[0].n === ids.length,
    10_000,
    'the jobs failed and wait for a retry',
  );
  smtp.setDown(false);
  await waitFor(async () => (await sentCount(ids)) === ids.length, 30_000, 'all sent after recovery');

  // Assertions: each exactly once.
  const got = smtp.messages
    .slice(before)
    .map((m) => m.emailId)
    .filter((id) => id && ids.includes(id));
  assert.equal([...got].sort(), [...ids].sort());
  assert.equal(new Set(got).size, got.length, 'no email twice');
});

test.run();
