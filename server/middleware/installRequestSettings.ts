// The request facts SQL may use besides identity (server/request_identity.ts):
// the client's address, for rate limits, and how many holds one address may have
// at once (a deployment whose users share addresses, e.g. behind carrier NAT,
// raises it). Emailed links are made by the emails themselves (lib/web_urls.ts).
// Behind a proxy, the address depends on TRUST_PROXY.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Application, Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';

/**
 * The client's address, for HTTP requests and websocket upgrades alike (no
 * Express middleware sees an upgrade): Express's TRUST_PROXY rule (the app's
 * compiled 'trust proxy fn') walked over the TCP peer and X-Forwarded-For from
 * the nearest hop, as Express's req.ip does. Behind a proxy, the peer alone
 * would make every client one client. A forwarded entry that is not an address
 * (`X-Forwarded-For: nonsense`) would reach SQL as no address at all and skip
 * every per-address limit: then the peer's own address counts instead.
 */
export function clientAddress(app: Application, req: IncomingMessage): string {
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
      'app.client_ip': clientAddress(req.app, req),
      'app.holds_per_address': String(config.holdsPerAddress),
      'app.card_upcoming_max': String(config.cardUpcomingMax),
    };
    next();
  });
}
