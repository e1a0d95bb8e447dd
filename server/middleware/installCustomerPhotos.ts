// Customer photos over plain HTTP (GraphQL carries no file bodies here):
//
//   POST /customers/:id/photo   body: the image bytes (any Content-Type)   201 | 401 | 403 | 404 | 413 | 415 | 422
//   GET  /customers/:id/photo   the stored JPEG, staff only                200 | 304 | 401 | 403 | 404
//
// Who may do it is decided by SQL as the request's own role and session
// (app_hidden.customer_photo_check: staff, live customer), before the upload
// is read; the image rules are server/photos/image.ts; the bytes go to the
// configured storage (server/photos/storage.ts); the customer row records
// the key (audited).
import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type pg from 'pg';
import { OperationTypeNode } from 'postgraphile/graphql';
import type { ServerConfig } from '../config.ts';
import { makePool, ownerPoolOf } from './installDatabasePools.ts';
import { ownerTx } from '../owner_sql.ts';
import { identityOf, pgSettingsFor } from '../request_identity.ts';
import { CodedError } from '../errors.ts';
import { processPhoto } from '../photos/image.ts';
import { photoStorageFor } from '../photos/storage.ts';

/** Photos are versioned by URL (?v=…), so a browser may keep one for a day; private: never a shared cache. */
const CACHE_CONTROL = 'private, max-age=86400';

export function installCustomerPhotos(
  app: Express,
  config: ServerConfig,
  onClose: (fn: () => Promise<void>) => void,
): void {
  const pool = makePool(app, 'photos', { connectionString: config.db.authenticator, max: 2 }, onClose);
  const storage = photoStorageFor(config.photos, ownerPoolOf(app));
  const readBody = express.raw({ type: () => true, limit: config.photos.maxBytes });

  /** fn in a transaction as the caller (role and session, as PostGraphile runs a request). */
  function asCaller<T>(req: Request, res: Response, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!identityOf(res)) throw new CodedError('SMA08', 'Sign in first');
    // A signed-in caller's settings do not depend on the kind of operation; an upload writes.
    return ownerTx(
      pool,
      pgSettingsFor(req, req.method === 'GET' ? OperationTypeNode.QUERY : OperationTypeNode.MUTATION),
      fn,
    );
  }

  function customerId(req: Request): string {
    const id = req.params.id;
    if (typeof id !== 'string' || !/^\d{1,18}$/.test(id)) throw new CodedError('SMC03', 'There is no such customer');
    return id;
  }

  function body(req: Request, res: Response): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      readBody(req, res, (err?: unknown) => {
        if ((err as { type?: string } | undefined)?.type === 'entity.too.large') {
          reject(new CodedError('SMU01', `A photo may be at most ${config.photos.maxBytes} bytes`));
        } else if (err) {
          reject(err);
        } else {
          resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
        }
      });
    });
  }

  app.post('/customers/:id/photo', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const id = customerId(req);
      await asCaller(req, res, (c) => c.query('select app_hidden.customer_photo_check($1)', [id]));
      const photo = await processPhoto(await body(req, res), req.get('content-type'), config.photos);
      const key = `customers/${id}/${randomUUID()}.jpg`;
      await storage.put(key, photo);
      let previous: string | null;
      let customer: { photo_url: string };
      try {
        ({ previous, customer } = await asCaller(req, res, async (c) => {
          // Uploads to one customer in turn: two reading the same previous key would both keep
          // their own photo's bytes, and the one replaced second would stay stored for good.
          await c.query(`select pg_advisory_xact_lock(hashtextextended('customer-photo:' || $1, 0))`, [id]);
          const {
            rows: [old],
          } = await c.query('select photo_key from app_public.customers where id = $1', [id]);
          const {
            rows: [row],
          } = await c.query(
            'select app_public.customers_photo_url(x) as photo_url from app_hidden.customer_photo_attach($1, $2, $3) x',
            [id, key, photo.contentType],
          );
          return { previous: old?.photo_key ?? null, customer: row };
        }));
      } catch (err) {
        await storage.delete(key).catch(() => {});
        throw err;
      }
      // The replaced photo's bytes are no longer reachable; the audit log keeps its key.
      if (previous) await storage.delete(previous).catch(() => {});
      res.status(201).json({
        customerId: id,
        photoUrl: customer.photo_url,
        contentType: photo.contentType,
        bytes: photo.bytes.length,
      });
    } catch (err) {
      next(err);
    }
  });

  app.get('/customers/:id/photo', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const id = customerId(req);
      const {
        rows: [row],
      } = await asCaller(req, res, (c) =>
        c.query<{ photo_key: string | null }>('select photo_key from app_hidden.customer_photo_check($1)', [id]),
      );
      const photo = row.photo_key ? await storage.get(row.photo_key) : null;
      if (!photo) throw new CodedError('SMU05', 'This customer has no photo');
      const etag = `"${row.photo_key}"`;
      res.set({
        'Cache-Control': CACHE_CONTROL,
        ETag: etag,
        'X-Content-Type-Options': 'nosniff',
        Vary: 'Cookie, Authorization',
      });
      if (req.get('if-none-match') === etag) {
        res.status(304).end();
        return;
      }
      res.type(photo.contentType).send(photo.bytes);
    } catch (err) {
      next(err);
    }
  });
}
