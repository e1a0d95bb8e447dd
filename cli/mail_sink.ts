// The local mail sink of `npm start`: maildev's SMTP server and web inbox. maildev answers
// its own root with the inbox only when the request accepts text/html (a browser) and with
// 404 otherwise (curl, a link checker, a first look from a script), so the inbox runs behind
// a thin front on MAILDEV_WEB_PORT that passes everything through — HTTP and the inbox's
// live-update websocket — reading `/` as the inbox page. maildev itself answers any origin
// and any Host, so it listens on no TCP port at all: only on a Unix socket in a directory
// of this process's user alone (mode 0700), which no browser page can reach.
// The inbox holds every sign-in, reset and verification link, so the front keeps
// it to the developer's own browser: no CORS at all (maildev would allow any
// origin, with credentials: any page visited could read the mail), a request
// from another origin's page refused (403, preflights and websockets too), and
// only a Host of 127.0.0.1, localhost or [::1] at its port (else 421), so a
// rebound DNS name cannot make the inbox same-origin with a foreign page.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailDev } from 'maildev';

export interface MailSink {
  smtpPort: number;
  /** The inbox, as printed: `/` opens it. */
  url: string;
  stop(): Promise<void>;
}

/** Whether a Host header names this front on loopback (DNS rebinding sends the attacker's name). */
function isLocalHost(host: string | undefined, port: number): boolean {
  return host !== undefined && [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host.toLowerCase());
}

/** maildev's answer headers without its CORS ones: no other origin reads the inbox. */
function withoutCors(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith('access-control-')));
}

/** Why a request is refused (status and a line of text), or undefined when it may go through. */
function refusalOf(req: http.IncomingMessage, port: number): [number, string] | undefined {
  if (!isLocalHost(req.headers.host, port))
    return [421, 'The mail inbox answers only at 127.0.0.1, localhost or [::1].\n'];
  // Another origin's page (a CORS preflight, a form post, a websocket): the inbox is the developer's alone.
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) {
    return [403, 'The mail inbox is not open to other origins.\n'];
  }
  return undefined;
}

function front(innerSocket: string, port: () => number): http.Server {
  const server = http.createServer((req, res) => {
    const refused = refusalOf(req, port());
    if (refused) {
      res.writeHead(refused[0], { 'content-type': 'text/plain; charset=utf-8' }).end(refused[1]);
      return;
    }
    const headers = { ...req.headers };
    if (req.method === 'GET' && (req.url === '/' || req.url === '')) headers.accept = 'text/html';
    const upstream = http.request({ socketPath: innerSocket, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, withoutCors(answer.headers));
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  // Websocket upgrades: the request line and headers as received, then bytes both ways.
  server.on('upgrade', (req, socket, head) => {
    const refused = refusalOf(req, port());
    if (refused) {
      const [status, text] = refused;
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
      return;
    }
    const upstream = net.connect(innerSocket, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  return server;
}

export async function startMailSink(smtpPort: number, webPort: number): Promise<MailSink> {
  const maildev = new MailDev({ smtp: smtpPort, ip: '127.0.0.1', web: 0, webIp: '127.0.0.1', silent: true });
  // maildev prints the inner address unconditionally (silent or not); the one to use is the
  // front's, which npm start prints. Nothing else runs yet while it starts.
  const info = console.info;
  console.info = () => {};
  const servers = await maildev.start().finally(() => {
    console.info = info;
  });
  const inner = servers.api?.server.server;
  if (!inner) throw new Error("the mail sink's web inbox did not start");
  // maildev can only listen on TCP: move its server (socket.io stays attached to it) to the socket.
  const dir = mkdtempSync(join(tmpdir(), 'sms-mail-sink-'));
  const innerSocket = join(dir, 'inbox.sock');
  await new Promise<void>((resolve) => inner.close(() => resolve()));
  await new Promise<void>((resolve, reject) => {
    inner.once('error', reject);
    inner.listen(innerSocket, () => resolve());
  });
  const server = front(innerSocket, () => (server.address() as net.AddressInfo).port);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(webPort, '127.0.0.1', () => resolve());
  });
  return {
    smtpPort,
    url: `http://127.0.0.1:${webPort}`,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await maildev.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
