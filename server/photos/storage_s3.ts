// Photos in an S3-compatible bucket (AWS S3, MinIO, s3rver in tests), with
// path-style URLs (ENDPOINT/BUCKET/KEY) signed by aws4fetch (Signature V4).
import { AwsClient } from 'aws4fetch';
import type { S3Config } from './config.ts';
import type { PhotoStorage, StoredPhoto } from './storage.ts';

export class S3PhotoStorage implements PhotoStorage {
  readonly #client: AwsClient;
  readonly #base: string;

  constructor(config: S3Config) {
    this.#client = new AwsClient({
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      service: 's3',
      region: config.region,
    });
    this.#base = `${config.endpoint.replace(/\/$/, '')}/${encodeURIComponent(config.bucket)}/`;
  }

  #url(key: string): string {
    return this.#base + key.split('/').map(encodeURIComponent).join('/');
  }

  async put(key: string, photo: StoredPhoto): Promise<void> {
    const res = await this.#client.fetch(this.#url(key), {
      method: 'PUT',
      body: new Uint8Array(photo.bytes),
      headers: { 'content-type': photo.contentType },
    });
    if (!res.ok) throw new Error(`S3 PUT ${key}: ${res.status} ${await res.text()}`);
  }

  async get(key: string): Promise<StoredPhoto | null> {
    const res = await this.#client.fetch(this.#url(key));
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`S3 GET ${key}: ${res.status}`);
    return {
      bytes: Buffer.from(await res.arrayBuffer()),
      contentType: res.headers.get('content-type') ?? 'application/octet-stream',
    };
  }

  async delete(key: string): Promise<void> {
    const res = await this.#client.fetch(this.#url(key), { method: 'DELETE' });
    if (!res.ok && res.status !== 404) throw new Error(`S3 DELETE ${key}: ${res.status}`);
  }
}
