// Photo uploads' configuration, checked at start-up (lib/env.ts).
import { ConfigError, intVar, oneOfVar, urlVar } from '../../lib/env.ts';

export interface S3Config {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface PhotoConfig {
  /** Largest upload accepted, in bytes (PHOTO_MAX_BYTES). */
  maxBytes: number;
  /** Most pixels (width × height) an upload may declare: more is a decompression bomb (PHOTO_MAX_PIXELS). */
  maxPixels: number;
  /** Longest side of the stored photo (PHOTO_SIZE). */
  size: number;
  storage: 'postgres' | 's3';
  s3: S3Config | null;
}

export function photoConfigFromEnv(env: NodeJS.ProcessEnv): PhotoConfig {
  const storage = oneOfVar(env, 'PHOTO_STORAGE', ['postgres', 's3'] as const, 'postgres');
  let s3: S3Config | null = null;
  if (storage === 's3') {
    const missing = ['S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].filter((k) => !env[k]);
    if (missing.length > 0) throw new ConfigError(`Configuration: PHOTO_STORAGE=s3 needs ${missing.join(', ')}`);
    s3 = {
      endpoint: urlVar(env, 'S3_ENDPOINT', ''),
      bucket: env.S3_BUCKET!,
      region: env.S3_REGION || 'us-east-1',
      accessKeyId: env.S3_ACCESS_KEY_ID!,
      secretAccessKey: env.S3_SECRET_ACCESS_KEY!,
    };
  }
  return {
    maxBytes: intVar(env, 'PHOTO_MAX_BYTES', 5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    maxPixels: intVar(env, 'PHOTO_MAX_PIXELS', 40_000_000, 1, 1_000_000_000),
    size: intVar(env, 'PHOTO_SIZE', 512, 16, 4096),
    storage,
    s3,
  };
}
