// Sends one outbox email (app_private.emails) over SMTP and marks it sent,
// through the outbox's SQL functions (migrations/fixtures/email_enqueue.sql).
// The row stays locked while it is sent and is marked in the same
// transaction, so a row already marked sent is never sent again. A failed send
// throws: graphile-worker retries it with exponential back-off (about
// exp(min(attempt, 10)) s: 3 s, 7 s, 20 s, 55 s, 2.5 min, … capped at ~6 h;
// email_enqueue allows 25 attempts). The Message-ID is fixed per row, so the
// one duplicate SMTP allows (the server accepted, then we crashed before
// committing) carries the same Message-ID and can be recognised.
import type { Task } from 'graphile-worker';
import { renderContextFromEnv, renderEmail } from '../emails/index.ts';
import { mailConfigFromEnv, mailTransport } from '../lib/mail_transport.ts';

export interface SendEmailPayload {
  emailId: number | string;
}

interface EmailRow {
  id: string;
  template: string;
  recipient: string;
  data: Record<string, unknown>;
  sent_at: Date | null;
}

export const send_email: Task = async (payload, helpers) => {
  const { emailId } = payload as SendEmailPayload;
  const config = mailConfigFromEnv();
  const sent = await helpers.withPgClient(async (client) => {
    await client.query('begin');
    try {
      const { rows: [email] } = await client.query<EmailRow>(
        'select id::text, template, recipient, data, sent_at from app_private.email_to_send($1)', [emailId]);
      if (!email || email.sent_at) {
        await client.query('commit');
        return email ? 'already sent' : 'no such email';
      }
      const rendered = renderEmail(email.template, email.data, renderContextFromEnv());
      const domain = config.from.match(/@([^>\s]+)/)?.[1] ?? 'securemyspot.test';
      await mailTransport(config).sendMail({
        from: config.from,
        to: email.recipient,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        messageId: `<email-${email.id}@${domain}>`,
        headers: { 'X-SMS-Email-Id': email.id, 'X-SMS-Template': email.template },
      });
      await client.query('select app_private.email_sent($1)', [email.id]);
      await client.query('commit');
      return 'sent';
    } catch (err) {
      await client.query('rollback');
      await client.query('select app_private.email_send_failed($1, $2)', [emailId, (err as Error).message]);
      throw err;
    }
  });
  if (sent !== 'sent') helpers.logger.info(`email ${emailId}: ${sent}`);
};
