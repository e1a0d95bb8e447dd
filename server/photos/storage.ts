// Where customer photos' bytes live: one small interface, a PostgreSQL
// implementation (the default: no other service to run) and an
// S3-compatible one (PHOTO_STORAGE=s3). Access checks are not the storage's
// job: the route asks SQL first.
import type pg from 'pg';
import type { PhotoConfig } from './config.ts';
import { PostgresPhotoStorage } from './storage_postgres.ts';
import { S3PhotoStorage } from './storage_s3.ts';

export interface StoredPhoto {
  bytes: Buffer;
  contentType: string;
}

export interface PhotoStorage {
  put(key: string, photo: StoredPhoto): Promise<void>;
  /** null when there is no such key. */
  get(key: string): Promise<StoredPhoto | null>;
  delete(key: string): Promise<void>;
}

export function photoStorageFor(config: PhotoConfig, ownerPool: pg.Pool): PhotoStorage {
  return config.storage === 's3' ? new S3PhotoStorage(config.s3!) : new PostgresPhotoStorage(ownerPool);
}
