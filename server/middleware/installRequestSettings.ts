// The request facts SQL may use besides identity (server/request_identity.ts):
// the client's address, for rate limits, and the web app's origin, for the
// links account emails carry. Behind a proxy, req.ip depends on TRUST_PROXY.
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';

export function installRequestSettings(app: Express, config: ServerConfig): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.requestSettings = { 'app.client_ip': req.ip ?? '', 'app.web_url': config.webUrl };
    next();
  });
}
