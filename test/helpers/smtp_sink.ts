// A real SMTP listener for tests (smtp-server), keeping what arrives. It can
// be "down": while down it refuses every connection with 421, as a server that
// is not accepting mail does, so senders see a real SMTP failure. dropNext(n)
// makes it take the next n messages and then answer 421 and close the
// connection, as a server failing after the data arrived: the sender cannot
// know the message got through and sends it again (SMTP's at-least-once).
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** The message with quoted-printable soft breaks and escapes undone (for matching text). */
  decoded: string;
  subject: string;
  messageId: string;
  emailId: string | null;
  template: string | null;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface SmtpSink {
  host: string;
  port: number;
  messages: ReceivedMail[];
  /** Connections refused while down. */
  refused: number;
  setDown(down: boolean): void;
  /** The next n messages are kept but answered 421 (connection closed). */
  dropNext(n: number): void;
  close(): Promise<void>;
}

function header(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  return head.match(new RegExp(`^${name}:\\s*(.*)$`, 'im'))?.[1]?.trim() ?? '';
}

function decodeQuotedPrintable(raw: string): string {
  const bytes = raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

export async function startSmtpSink(options: { port?: number } = {}): Promise<SmtpSink> {
  let down = false;
  let drops = 0;
  const messages: ReceivedMail[] = [];
  const sink = { refused: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onConnect(_session, callback) {
      if (down) {
        sink.refused++;
        const err = new Error('Service not available, try later') as Error & { responseCode: number };
        err.responseCode = 421;
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          decoded: decodeQuotedPrintable(raw),
          subject: header(raw, 'Subject'),
          messageId: header(raw, 'Message-ID'),
          emailId: header(raw, 'X-SMS-Email-Id') || null,
          template: header(raw, 'X-SMS-Template') || null,
          at: Date.now(),
        });
        if (drops > 0) {
          drops--;
          const err = new Error('Connection dropped after the data') as Error & { responseCode: number };
          err.responseCode = 421;
          callback(err);
          return;
        }
        callback();
      });
    },
  });
  // A client that dies mid-conversation (a worker killed with SIGKILL) resets
  // its connection; a real server lives on.
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    messages,
    get refused() {
      return sink.refused;
    },
    setDown(value: boolean) {
      down = value;
    },
    dropNext(n: number) {
      drops += n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
