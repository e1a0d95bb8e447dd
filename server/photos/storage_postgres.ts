// Photos in app_private.stored_objects, through the API's owner pool.
import type pg from 'pg';
import type { PhotoStorage, StoredPhoto } from './storage.ts';

export class PostgresPhotoStorage implements PhotoStorage {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async put(key: string, photo: StoredPhoto): Promise<void> {
    await this.#pool.query(
      `insert into app_private.stored_objects (key, content_type, bytes) values ($1, $2, $3)
       on conflict (key) do update set content_type = excluded.content_type, bytes = excluded.bytes`,
      [key, photo.contentType, photo.bytes],
    );
  }

  async get(key: string): Promise<StoredPhoto | null> {
    const {
      rows: [row],
    } = await this.#pool.query<{ bytes: Buffer; content_type: string }>(
      'select bytes, content_type from app_private.stored_objects where key = $1',
      [key],
    );
    return row ? { bytes: row.bytes, contentType: row.content_type } : null;
  }

  async delete(key: string): Promise<void> {
    await this.#pool.query('delete from app_private.stored_objects where key = $1', [key]);
  }
}
