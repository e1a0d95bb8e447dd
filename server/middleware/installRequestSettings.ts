// The request facts SQL may use besides identity (server/request_identity.ts):
// the client's address, for rate limits, and how many holds one address may have
// at once (a deployment whose users share addresses, e.g. behind carrier NAT,
// raises it). Emailed links are made by the emails themselves (lib/web_urls.ts).
// Behind a proxy, req.ip depends on TRUST_PROXY.
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

export function installRequestSettings(app: Express, config: ServerConfig): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.requestSettings = {
      'app.client_ip': clientAddress(req),
      'app.holds_per_address': String(config.holdsPerAddress),
    };
    next();
  });
}
