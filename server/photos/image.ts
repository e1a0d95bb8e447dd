// An uploaded photo, checked and re-encoded. The type comes from the bytes
// (a file's name or declared Content-Type proves nothing), only JPEG, PNG and
// WebP pass, the pixel count the header declares is checked before anything
// is decoded (a small file can declare billions of pixels), and what is kept
// is a new JPEG: resized, rotated upright, without the original's metadata
// (EXIF, GPS position, ICC, XMP: sharp writes none unless asked).
import sharp from 'sharp';
import { CodedError } from '../errors.ts';
import type { StoredPhoto } from './storage.ts';

export type ImageType = 'image/jpeg' | 'image/png' | 'image/webp';

/** The image type its first bytes say, or null. */
export function imageTypeOf(bytes: Buffer): ImageType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'image/png';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP')
    return 'image/webp';
  return null;
}

export async function processPhoto(
  bytes: Buffer,
  declaredType: string | undefined,
  limits: { maxPixels: number; size: number },
): Promise<StoredPhoto> {
  const type = imageTypeOf(bytes);
  if (!type)
    throw new CodedError('SMU02', "Only JPEG, PNG and WebP photos are accepted (decided from the file's content)");
  // A declared image type that is not what the bytes are: a renamed file.
  const declared = declaredType?.split(';')[0].trim().toLowerCase();
  if (declared?.startsWith('image/') && declared !== type && !(declared === 'image/jpg' && type === 'image/jpeg')) {
    throw new CodedError('SMU02', `The file was sent as ${declared} but its content is ${type}`);
  }
  let meta: { width?: number; height?: number };
  try {
    // Header only, nothing decoded: the pixel limit is checked below with a code of its own.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new CodedError('SMU04', 'The image could not be read');
  }
  if (!meta.width || !meta.height) throw new CodedError('SMU04', 'The image could not be read');
  if (meta.width * meta.height > limits.maxPixels) {
    throw new CodedError(
      'SMU03',
      `The image declares ${meta.width}×${meta.height} pixels, more than the ${limits.maxPixels} allowed`,
    );
  }
  try {
    const out = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error' })
      .rotate()
      .resize(limits.size, limits.size, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 85, mozjpeg: true })
      .toBuffer();
    return { bytes: out, contentType: 'image/jpeg' };
  } catch {
    throw new CodedError('SMU04', 'The image could not be read');
  }
}
