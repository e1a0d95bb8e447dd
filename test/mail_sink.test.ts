// The mail sink's front (cli/mail_sink.ts) keeps the inbox — every reset and
// verification link — to the developer's own browser: no CORS answer lets
// another origin read it, a foreign page's requests (preflights, websockets
// too) are refused, and a Host that is not loopback (DNS rebinding) is refused.
// maildev itself, which answers any origin, listens on no TCP port a page could find.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startMailSink, type MailSink } from '../cli/mail_sink.ts';
import { freePort } from './helpers/free_port.ts';

let sink: MailSink;
let port: number;
let smtpPort: number;
let portsBefore: number[];

/** The TCP ports this process listens on (Linux: its socket descriptors matched in /proc/net/tcp*). */
function listeningPorts(): number[] {
  const inodes = new Set(
    readdirSync('/proc/self/fd')
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
        } catch {
          return undefined; // closed meanwhile
        }
      })
      .filter((inode) => inode !== undefined),
  );
  const ports = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
    readFileSync(table, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // Columns: sl, local address:port (hex), remote, state (0A is LISTEN), …, inode.
      .filter((cols) => cols[3] === '0A' && inodes.has(cols[9]))
      .map((cols) => Number.parseInt(cols[1].split(':').at(-1)!, 16)),
  );
  return [...new Set(ports)].sort((a, b) => a - b);
}

test.before(async () => {
  portsBefore = listeningPorts();
  port = await freePort();
  smtpPort = await freePort();
  sink = await startMailSink(smtpPort, port);
});

test("the sink listens on its SMTP port and the inbox's front only: maildev's own server on no TCP port", () => {
  const opened = listeningPorts().filter((p) => !portsBefore.includes(p));
  assert.equal(
    opened,
    [smtpPort, port].sort((a, b) => a - b),
  );
});

test.after(async () => {
  await sink?.stop();
});

/** A request as a browser (or curl) sends it, Host header included (fetch cannot set one). */
function request(
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const corsHeaders = (headers: http.IncomingHttpHeaders) =>
  Object.keys(headers).filter((name) => name.startsWith('access-control-'));

test('the inbox answers its own origin at 127.0.0.1, localhost and [::1], with no CORS headers', async () => {
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
    const res = await request('/api/email', { host });
    assert.is(res.status, 200, host);
    assert.equal(JSON.parse(res.body), []);
    assert.equal(corsHeaders(res.headers), [], host);
  }
  const sameOrigin = await request('/api/email', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` });
  assert.is(sameOrigin.status, 200);
  assert.equal(corsHeaders(sameOrigin.headers), []);
  const page = await request('/', { host: `localhost:${port}` });
  assert.is(page.status, 200);
  assert.match(page.body, /<html/i);
});

test("another origin's page cannot read the inbox: no CORS answer, its preflight refused", async () => {
  const read = await request('/api/email', { host: `127.0.0.1:${port}`, origin: 'http://evil.test' });
  assert.is(read.status, 403);
  assert.equal(corsHeaders(read.headers), []);
  assert.not.match(read.body, /\[/, 'no mail list');
  const preflight = await request(
    '/api/email/all',
    { host: `127.0.0.1:${port}`, origin: 'http://evil.test', 'access-control-request-method': 'DELETE' },
    'OPTIONS',
  );
  assert.is(preflight.status, 403);
  assert.equal(corsHeaders(preflight.headers), []);
});

test('a Host other than loopback at this port (DNS rebinding) is refused with 421', async () => {
  for (const host of [`evil.test:${port}`, 'evil.test', `127.0.0.1:${port + 1}`, `localhost.evil.test:${port}`]) {
    const res = await request('/api/email', { host });
    assert.is(res.status, 421, host);
    assert.match(res.body, /only at 127\.0\.0\.1, localhost or \[::1\]/);
  }
});

test("the inbox's websocket: refused for another origin and another Host", async () => {
  const upgrade = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port,
        path: '/socket.io/?EIO=4&transport=websocket',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          ...headers,
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  assert.is(await upgrade({ host: `127.0.0.1:${port}`, origin: 'http://evil.test' }), 403);
  assert.is(await upgrade({ host: `evil.test:${port}`, origin: `http://evil.test:${port}` }), 421);
  assert.is(await upgrade({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` }), 101);
});

test.run();
