// Customer photos through POST/GET /customers/:id/photo, against both
// storages: PostgreSQL (the default) and an S3-compatible server (s3rver on
// localhost). Valid JPEG and PNG are re-encoded, resized and stripped of
// metadata; a renamed file, an oversized file and a decompression bomb are
// refused with their codes and leave nothing stored; only staff upload and
// see photos, served with their type and cache headers.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import S3rver from 's3rver';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startApi, type TestApi } from './helpers/api.ts';
import { type Callers, staffCallers } from './helpers/staff.ts';
import { photoConfigFromEnv } from '../server/photos/config.ts';

const MAX_BYTES = 200_000;
let db: TestDb;
let apis: Record<'postgres' | 's3', TestApi>;
let callers: Callers;
let s3: S3rver;
let s3Dir: string;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
  s3Dir = mkdtempSync(join(tmpdir(), 'sms-s3-'));
  s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: s3Dir,
    configureBuckets: [{ name: 'photos', configs: [] }],
  });
  const { port } = await s3.run();
  const postgres = await startApi(db, { photos: photoConfigFromEnv({ PHOTO_MAX_BYTES: String(MAX_BYTES) }) });
  const s3Api = await startApi(db, {
    photos: photoConfigFromEnv({
      PHOTO_MAX_BYTES: String(MAX_BYTES),
      PHOTO_STORAGE: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: 'photos',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
    }),
  });
  apis = { postgres, s3: s3Api };
  callers = await staffCallers(db, postgres);
});

test.after(async () => {
  await Promise.all(Object.values(apis ?? {}).map((a) => a.close()));
  await s3?.close();
  await db?.close();
  if (s3Dir) rmSync(s3Dir, { recursive: true, force: true });
});

let made = 0;
async function customer(): Promise<string> {
  const {
    rows: [c],
  } = await db.owner.query(
    `insert into app_public.customers (email, name, surname) values ($1, 'Pic', 'Ture') returning id::text`,
    [`photo-${(made += 1)}@example.test`],
  );
  return c.id;
}

const jpeg = () =>
  sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .withExif({ IFD0: { Copyright: 'secret-owner', ImageDescription: 'home address' } })
    .jpeg()
    .toBuffer();
const png = () =>
  sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } })
    .png()
    .toBuffer();

/** A real 1×1 PNG whose header claims 100000 × 100000 pixels (10 gigapixels): a decompression bomb. */
async function bomb(): Promise<Buffer> {
  const small = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  const out = Buffer.from(small);
  out.writeUInt32BE(100_000, 16);
  out.writeUInt32BE(100_000, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29); // IHDR's CRC over type + data
  return out;
}

async function upload(api: TestApi, id: string, bytes: Buffer, contentType: string, headers: Record<string, string>) {
  const res = await fetch(`${api.url}/customers/${id}/photo`, {
    method: 'POST',
    body: new Uint8Array(bytes),
    headers: { 'content-type': contentType, ...headers },
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function stored(): Promise<string> {
  const {
    rows: [r],
  } = await db.owner.query(`select (select count(*) from app_private.stored_objects)
    || '/' || (select coalesce(sum(hashtext(c::text)), 0) from app_public.customers c) as d`);
  const files = readdirSync(s3Dir, { recursive: true }).filter((f) => String(f).endsWith('.jpg._S3rver_object')).length;
  return `${r.d}/${files}`;
}

for (const kind of ['postgres', 's3'] as const) {
  test(`${kind}: a JPEG and a PNG are stored re-encoded, resized, without metadata, and served to staff`, async () => {
    const api = apis[kind];
    const op = callers['operator in zone'].headers;
    for (const [bytes, type] of [
      [await jpeg(), 'image/jpeg'],
      [await png(), 'image/png'],
    ] as const) {
      const id = await customer();
      const up = await upload(api, id, bytes, type, op);
      assert.is(up.status, 201, JSON.stringify(up.body));
      assert.is(up.body.contentType, 'image/jpeg');
      assert.match(up.body.photoUrl, new RegExp(`^/customers/${id}/photo\\?v=\\d+$`));

      const got = await fetch(`${api.url}${up.body.photoUrl}`, { headers: op });
      assert.is(got.status, 200);
      assert.is(got.headers.get('content-type'), 'image/jpeg');
      assert.is(got.headers.get('cache-control'), 'private, max-age=86400');
      assert.is(got.headers.get('x-content-type-options'), 'nosniff');
      const served = Buffer.from(await got.arrayBuffer());
      const meta = await sharp(served).metadata();
      assert.equal([meta.format, meta.exif, meta.icc, meta.xmp], ['jpeg', undefined, undefined, undefined]);
      assert.ok(!served.includes('secret-owner'), 'EXIF gone');
      if (type === 'image/jpeg') assert.equal([meta.width, meta.height], [512, 341], 'resized to fit 512');
      else assert.equal([meta.width, meta.height], [300, 200], 'never enlarged');
      const again = await fetch(`${api.url}${up.body.photoUrl}`, {
        headers: { ...op, 'if-none-match': got.headers.get('etag')! },
      });
      assert.is(again.status, 304);

      // The customer's API record points at it; the bytes are where the storage keeps them.
      const q = await api.gql(`query ($id: BigInt!) { customer(rowId: $id) { photoUrl photoUpdatedAt } }`, { id }, op);
      assert.is(q.data.customer.photoUrl, up.body.photoUrl);
      const {
        rows: [c],
      } = await db.owner.query('select photo_key from app_public.customers where id = $1', [id]);
      const { rows: inPg } = await db.owner.query('select 1 from app_private.stored_objects where key = $1', [
        c.photo_key,
      ]);
      assert.is(inPg.length, kind === 'postgres' ? 1 : 0);
    }
  });

  test(`${kind}: renamed, oversized, bomb and unreadable files are refused with a code and nothing stored`, async () => {
    const api = apis[kind];
    const op = callers['operator in zone'].headers;
    const id = await customer();
    const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
    const cases: Array<[string, Buffer, string, number, string]> = [
      ['a GIF renamed .jpg', gif, 'image/jpeg', 415, 'SMU02'],
      ['a PNG sent as a JPEG', await png(), 'image/jpeg', 415, 'SMU02'],
      ['a text file', Buffer.from('hello, not an image'), 'image/png', 415, 'SMU02'],
      ['over the size limit', Buffer.concat([await jpeg(), Buffer.alloc(MAX_BYTES)]), 'image/jpeg', 413, 'SMU01'],
      ['a decompression bomb', await bomb(), 'image/png', 422, 'SMU03'],
      ['a truncated JPEG', (await jpeg()).subarray(0, 200), 'image/jpeg', 422, 'SMU04'],
    ];
    for (const [what, bytes, type, status, code] of cases) {
      const before = await stored();
      const res = await upload(api, id, bytes, type, op);
      assert.equal([res.status, res.body.error?.code], [status, code], what);
      assert.is(await stored(), before, what);
    }
  });
}

test('only staff upload and see photos; a customer without a photo or unknown answers 404', async () => {
  const api = apis.postgres;
  const id = await customer();
  const bytes = await jpeg();
  for (const [who, status, code] of [
    ['anonymous', 401, 'SMA08'],
    ['driver', 403, 'SMC01'],
    ['enforcement', 403, 'SMC01'],
    ['analyst', 403, 'SMC01'],
  ] as const) {
    const before = await stored();
    const res = await upload(api, id, bytes, 'image/jpeg', callers[who].headers);
    assert.equal([res.status, res.body.error?.code], [status, code], who);
    assert.is(await stored(), before, who);
  }
  const op = callers['operator out of zone'].headers;
  const none = await fetch(`${api.url}/customers/${id}/photo`, { headers: op });
  assert.equal([none.status, ((await none.json()) as any).error.code], [404, 'SMU05']);
  const unknown = await fetch(`${api.url}/customers/999999/photo`, { headers: op });
  assert.equal([unknown.status, ((await unknown.json()) as any).error.code], [404, 'SMC03']);
  assert.equal((await upload(api, id, bytes, 'image/jpeg', op)).status, 201);
  for (const who of ['driver', 'anonymous'] as const) {
    const res = await fetch(`${api.url}/customers/${id}/photo`, { headers: callers[who].headers });
    assert.is(res.status, who === 'driver' ? 403 : 401, who);
  }
  // A soft-deleted customer's photo is hidden with the customer.
  await db.owner.query('update app_public.customers set deleted_at = now() where id = $1', [id]);
  assert.is((await fetch(`${api.url}/customers/${id}/photo`, { headers: op })).status, 404);
});

test('replacing a photo removes the old bytes and is audited', async () => {
  const api = apis.postgres;
  const op = callers['operator in zone'].headers;
  const id = await customer();
  await upload(api, id, await png(), 'image/png', op);
  const {
    rows: [first],
  } = await db.owner.query('select photo_key from app_public.customers where id = $1', [id]);
  await upload(api, id, await jpeg(), 'image/jpeg', op);
  const { rows: old } = await db.owner.query('select 1 from app_private.stored_objects where key = $1', [
    first.photo_key,
  ]);
  assert.is(old.length, 0);
  const { rows } = await db.owner.query(
    `select old_values, new_values from app_public.audit_log
    where table_name = 'customers' and record_id = $1 and action = 'update' order by id`,
    [id],
  );
  assert.is(rows.length, 2);
  assert.is(rows[1].old_values.photo_key, first.photo_key);
});

test('uploads to one customer at once leave one photo stored: each replaced one is removed', async () => {
  const api = apis.postgres;
  const op = callers['operator in zone'].headers;
  const id = await customer();
  const answers = await Promise.all(
    Array.from({ length: 8 }, async () => upload(api, id, await png(), 'image/png', op)),
  );
  assert.equal(
    answers.map((a) => a.status),
    Array(8).fill(201),
    JSON.stringify(answers.filter((a) => a.status !== 201)),
  );
  const { rows } = await db.owner.query(
    `select o.key, o.key = c.photo_key as current from app_private.stored_objects o
     join app_public.customers c on c.id = $1 where o.key like 'customers/' || $1 || '/%'`,
    [id],
  );
  assert.equal(
    rows.map((r) => r.current),
    [true],
    JSON.stringify(rows),
  );
});

test.run();
