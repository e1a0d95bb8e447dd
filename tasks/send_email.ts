// Sends one outbox email (app_private.emails) over SMTP and marks it sent,
// through the outbox's SQL functions (migrations/fixtures/email_enqueue.sql).
// The row stays locked while it is sent and is marked in the same
// transaction, so a row already marked sent is never sent again. A failed send
// throws: graphile-worker retries it with exponential back-off (about
// exp(min(attempt, 10)) s: 3 s, 7 s, 20 s, 55 s, 2.5 min, … capped at ~6 h;
// email_enqueue allows 25 attempts). The Message-ID is fixed per row, so the
// one duplicate SMTP allows (the server accepted, then we crashed before
// committing) carries the same Message-ID and can be recognised.
//
// A database crash must not re-send (test/reliability_crash.test.ts counted
// one email delivered twice per crash before this): the marking transaction
// commits synchronously although the worker's sessions do not
// (WORKER_SYNCHRONOUS_COMMIT=off would lose the last "sent" marks of a crash),
// and a mark that fails after SMTP accepted the message (the database went
// away mid-send) is retried on a new connection until the database is back,
// instead of failing the job and sending again. Only the worker process dying
// between SMTP's answer and the mark can still re-send, with the same Message-ID.
import type { JobHelpers, Task } from 'graphile-worker';
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

/** How long a mark that failed after the send is retried (the database restarting). */
const MARK_RETRY_MS = 120_000;

/** Opens the transaction of a send or a mark: it commits synchronously (see above). */
const BEGIN_SYNCHRONOUS = 'begin; set local synchronous_commit = on';
/** Marks the row sent and commits, in one round trip (`id` from idLiteral). */
const markSentAndCommit = (id: string) => `select app_private.email_sent(${id}); commit`;

/** Rolls back so the connection does not go back to the pool inside an aborted transaction (when it still works). */
const abandon = (client: { query(text: string): Promise<unknown> }) => client.query('rollback').catch(() => {});

async function markSentWhenBack(helpers: JobHelpers, id: string): Promise<void> {
  const deadline = Date.now() + MARK_RETRY_MS;
  for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
    try {
      await helpers.withPgClient(async (client) => {
        try {
          await client.query(`${BEGIN_SYNCHRONOUS}; ${markSentAndCommit(id)}`);
        } catch (err) {
          await abandon(client);
          throw err;
        }
      });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      helpers.logger.warn(`email ${id}: sent, but not yet marked (${(err as Error).message}); retrying`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * The outbox row's id as an SQL literal, or null when the payload names none.
 * (A literal, so that each of the two statements below can travel with
 * `begin` or `commit` in one round trip: only the simple protocol takes
 * several statements, and it takes no parameters. BigInt leaves digits only.)
 */
function idLiteral(emailId: number | string): string | null {
  try {
    const id = BigInt(emailId);
    return id > 0n ? id.toString() : null;
  } catch {
    return null;
  }
}

export const send_email: Task = async (payload, helpers) => {
  const { emailId } = payload as SendEmailPayload;
  const id = idLiteral(emailId);
  if (id === null) {
    helpers.logger.info(`email ${emailId}: no such email`);
    return;
  }
  const config = mailConfigFromEnv();
  let accepted = false;
  const sent = await helpers
    .withPgClient(async (client) => {
      try {
        // Two round trips in all (five before: each statement waited for the
        // last, and on a loopback socket each write costs the worker ~0.1 ms).
        const opened = (await client.query(
          `${BEGIN_SYNCHRONOUS};
           select id::text, template, recipient, data, sent_at from app_private.email_to_send(${id})`,
        )) as unknown as Array<{ rows: EmailRow[] }>;
        const email = opened[2]!.rows[0];
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
        accepted = true;
        await client.query(markSentAndCommit(id));
        return 'sent';
      } catch (err) {
        if (accepted) {
          await abandon(client);
          return 'sent, mark lost';
        }
        await client.query('rollback');
        await client.query('select app_private.email_send_failed($1, $2)', [id, (err as Error).message]);
        throw err;
      }
    })
    .catch((err: Error) => {
      // The connection itself failed (the database went away) after the SMTP server took it.
      if (accepted) return 'sent, mark lost';
      throw err;
    });
  if (sent === 'sent, mark lost') {
    await markSentWhenBack(helpers, id);
    return;
  }
  if (sent !== 'sent') helpers.logger.info(`email ${emailId}: ${sent}`);
};
