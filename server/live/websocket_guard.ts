// The second door: websocket upgrades of /graphql (GraphQL subscriptions over
// graphql-ws) skip every Express middleware, so this guard does their share
// before grafserv takes the socket:
//   * Origin: a browser always sends it on a websocket; one that is neither a
//     CORS_ORIGINS origin nor this server is refused (403 SMA18), so a foreign
//     page cannot open a socket riding on a victim's cookie (cross-site
//     websocket hijacking). Non-browser clients send no Origin.
//   * Identity: `Authorization: Bearer` (401 SMA15 when bad) or the signed
//     session cookie, looked up like any request (installSession); the
//     identity rides on the upgrade request into the GraphQL context
//     (graphile.config.ts), so subscriptions load rows as that user.
//   * Bound: at most LIVE_MAX_PER_CLIENT sockets per client address, and per
//     signed-in account (429 SMV02; server/live/client_bound.ts, as for SSE).
// A refused upgrade is answered as an HTTP route refusing with the same code:
// its status and `{"error": {"code", "message"}}` with the same message (the
// errors are made by server/errors.ts and client_bound.ts, for both doors).
// Queries and mutations over the socket are refused by
// server/plugins/live_subscription.ts (only subscriptions), so rate limits
// and CSRF, which live on the HTTP path, never need a websocket twin.
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import cookieParser from 'cookie-parser';
import type { Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { SESSION_COOKIE } from '../auth_cookies.ts';
import { type CodedError, httpStatusOf, internalError, originRefused, publicMessage, sessionEnded } from '../errors.ts';
import type { RequestIdentity } from '../request_identity.ts';
import { BEARER, type SessionLookup } from '../middleware/installSession.ts';
import { ClientBound, liveClientKeys, tooManyLiveStreams } from './client_bound.ts';

type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const IDENTITY = Symbol('sms.identity');
const CLIENT_KEYS = Symbol('sms.liveClientKeys');

type GuardedRequest = IncomingMessage & { [IDENTITY]?: RequestIdentity; [CLIENT_KEYS]?: string[] };

/** The identity the guard found for a websocket's upgrade request (undefined: anonymous). */
export function websocketIdentityOf(req: IncomingMessage | undefined): RequestIdentity | undefined {
  return (req as GuardedRequest | undefined)?.[IDENTITY];
}

/** The keys the guard counted a websocket against (liveClientKeys), so its subscriptions count against the same ones. */
export function websocketClientKeysOf(req: IncomingMessage | undefined): string[] | undefined {
  return (req as GuardedRequest | undefined)?.[CLIENT_KEYS];
}

/** Answers the upgrade as sendError answers an HTTP route: `{"error": {"code", "message"}}` with the code's status. */
function refuse(socket: Duplex, err: CodedError): void {
  const status = httpStatusOf(err);
  const body = JSON.stringify({ error: { code: err.code, message: publicMessage(err) } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function makeWebsocketGuard(
  config: ServerConfig,
  lookup: SessionLookup,
  graphqlPath: string,
  upgrade: UpgradeHandler,
  clientAddress: (req: IncomingMessage) => string,
) {
  const parseCookies = cookieParser(config.cookieSecret);
  const perClient = new ClientBound(config.live.maxPerClient);
  const open = new Set<Duplex>();

  const guard = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    if ((req.url ?? '').split('?')[0] !== graphqlPath) return void socket.destroy();
    const origin = req.headers.origin;
    // As for HTTP (installCors): never the Host header, which the client writes (DNS rebinding).
    if (origin !== undefined && !config.corsOrigins.includes(origin) && origin !== new URL(config.publicUrl).origin) {
      return refuse(socket, originRefused());
    }
    let identity: RequestIdentity | undefined;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const token = BEARER.exec(header)?.[1];
      identity = token ? await lookup(token, 'bearer') : undefined;
      if (!identity) return refuse(socket, sessionEnded());
    } else {
      const r = req as unknown as Request;
      parseCookies(r, {} as Response, () => {});
      const cookie = r.signedCookies?.[SESSION_COOKIE];
      if (typeof cookie === 'string' && cookie) identity = await lookup(cookie, 'cookie');
    }
    const keys = liveClientKeys(identity?.userId, clientAddress(req));
    const release = perClient.take(keys);
    if (!release) return refuse(socket, tooManyLiveStreams(perClient.max));
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      release();
    });
    if (identity) (req as GuardedRequest)[IDENTITY] = identity;
    (req as GuardedRequest)[CLIENT_KEYS] = keys;
    upgrade(req, socket, head);
  };

  return {
    onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      guard(req, socket, head).catch((err: unknown) => refuse(socket, internalError(err)));
    },
    /** Ends every open websocket (server shutdown). */
    closeAll(): void {
      for (const socket of open) socket.destroy();
    },
  };
}
