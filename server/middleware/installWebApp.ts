// The built web app (`npm run web:build` → web/dist, or WEB_DIST_DIR) served
// by the API process, for deployments with one origin: its files, and
// index.html for every other page a browser asks for (/reservations/7/pay …),
// so emailed links work. Without a build nothing is installed (in
// development `npm start` serves web/ with Vite instead).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { ServerConfig } from '../config.ts';

export function installWebApp(app: Express, config: ServerConfig): void {
  const dir = config.webDistDir;
  if (!dir || !existsSync(join(dir, 'index.html'))) return;
  // Built file names carry a content hash: cache them for good; index.html never.
  app.use('/assets', express.static(join(dir, 'assets'), { immutable: true, maxAge: '1y', fallthrough: false }));
  app.use(express.static(dir, { index: false }));
  app.get(/.*/, (req: Request, res: Response, next: NextFunction) => {
    // Pages only: API clients asking for JSON still get the 404 of a route that does not exist.
    if (req.accepts(['json', 'html']) !== 'html') return next();
    res.set('Cache-Control', 'no-cache').sendFile(join(dir, 'index.html'));
  });
}
