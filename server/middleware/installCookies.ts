// Parses cookies, checking the signed ones (the session and OAuth cookies)
// with COOKIE_SECRET: the session, CSRF and OAuth middleware read them.
import cookieParser from 'cookie-parser';
import type { Express } from 'express';
import type { ServerConfig } from '../config.ts';

export function installCookies(app: Express, config: ServerConfig): void {
  app.use(cookieParser(config.cookieSecret));
}
