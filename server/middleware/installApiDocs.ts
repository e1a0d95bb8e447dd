// GET /openapi.json (the OpenAPI description of the plain HTTP routes) and
// GET /docs (the same as a self-contained page that works offline).
import type { Express } from 'express';
import { OPENAPI_DOCUMENT } from '../openapi.ts';
import { renderOpenApiPage } from '../openapi_page.ts';

export function installApiDocs(app: Express): void {
  const page = renderOpenApiPage(OPENAPI_DOCUMENT);
  app.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI_DOCUMENT);
  });
  app.get('/docs', (_req, res) => {
    res
      .type('html')
      .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
      .send(page);
  });
}
