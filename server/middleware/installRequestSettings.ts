// The request facts SQL may use besides identity (server/request_identity.ts):
// the client's address, for rate limits, and how many holds one address may have
// at once (a deployment whose users share addresses, e.g. behind carrier NAT,
// raises it). Emailed links are made by the emails themselves (lib/web_urls.ts).
// Behind a proxy, req.ip depends on TRUST_PROXY.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';

/**
 * The client's address: Express's req.ip (the TCP peer, or with TRUST_PROXY the
 * address X-Forwarded-For gives that many hops back). Express takes a forwarded
 * entry as written, and one that is not an address (`X-Forwarded-For: nonsense`)
 * would reach SQL as no address at all and skip every per-address limit: then
 * the peer's own address counts instead.
 */
export function clientAddress(req: Request): string {
  const ip = req.ip ?? '';
  return isIP(ip) ? ip : (req.socket.remoteAddress ?? '');
}

/**
 * The same address for a websocket upgrade, which no Express middleware sees:
 * Express's own TRUST_PROXY rule (the app's compiled 'trust proxy fn') walked
 * over the peer and X-Forwarded-For from the nearest hop, as req.ip does. The
 * peer alone would make every client behind the proxy one client.
 */
export function upgradeClientAddress(app: Express, req: IncomingMessage): string {
  const trusted = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  const peer = req.socket.remoteAddress ?? '';
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
    .reverse();
  const hops = [peer, ...forwarded];
  let hop = 0;
  while (hop < hops.length - 1 && trusted(hops[hop]!, hop)) hop++;
  const ip = hops[hop]!;
  return isIP(ip) ? ip : peer;
}

export function installRequestSettings(app: Express, config: ServerConfig): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.requestSettings = {
      'app.client_ip': clientAddress(req),
      'app.holds_per_address': String(config.holdsPerAddress),
    };
    next();
  });
}
