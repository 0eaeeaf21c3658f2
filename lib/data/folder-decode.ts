// The second pass over an image folder: decode each image with sharp (libvips) into one uint8 N x C x H x W
// tensor. sharp decodes on libuv's thread pool, so the event loop only copies each finished image into place;
// at most `threads` images are in flight at once, which bounds memory and open files.
//
// Per image: optional resize (shorter side to S with sharp's default Lanczos-3 kernel, then the centre S x S;
// fit 'cover'), alpha dropped (as PIL's convert('RGB') in torchvision's loader does), then grey ('b-w') or sRGB,
// which also turns 16-bit PNGs into 8 bits. EXIF orientation is not applied, as torchvision's ImageFolder does
// not apply it either: the pixels are the file's as stored.
import { constants } from 'node:buffer';
import sharp, { type OutputInfo } from 'sharp';
import { badImage, decoderProblem, withReason } from './folder-bad-images.js';
import type { Geometry } from './folder-inspect.js';
import { readImageFile } from './folder-inspect.js';
import { runPool } from './folder-pool.js';
import type { BadImage } from './folder-types.js';

/** Decodes one file's bytes into `out` (C x H x W at `offset`), or says why it cannot. */
async function decodeInto(
  dir: string,
  file: string,
  g: Geometry,
  out: Uint8Array,
  offset: number,
): Promise<BadImage | null> {
  const bytes = await readImageFile(dir, file);
  if (!Buffer.isBuffer(bytes)) return bytes;
  const decode = () => {
    let pipeline = sharp(bytes, { failOn: 'error' });
    if (g.resize !== null)
      pipeline = pipeline.resize(g.resize, g.resize, { fit: 'cover', position: 'centre' });
    return pipeline
      .removeAlpha()
      .toColourspace(g.channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  };
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await withReason(decode);
  } catch (err) {
    return badImage(dir, file, decoderProblem(err, bytes));
  }
  const { data, info } = decoded;
  // The header said one size and the pixels another: a file changed between the passes, or a lying header.
  if (info.width !== g.width || info.height !== g.height || info.channels !== g.channels) {
    return badImage(
      dir,
      file,
      `decoded to ${info.width} x ${info.height} x ${info.channels} (width x height x channels), expected ` +
        `${g.width} x ${g.height} x ${g.channels}; was it changed while being read?`,
    );
  }
  const plane = g.height * g.width;
  if (g.channels === 1) out.set(data, offset);
  else {
    // sharp gives interleaved HWC; the tensor is planar CHW.
    for (let p = 0; p < plane; p++) {
      out[offset + p] = data[3 * p];
      out[offset + plane + p] = data[3 * p + 1];
      out[offset + 2 * plane + p] = data[3 * p + 2];
    }
  }
  return null;
}

export interface Decoded {
  /** files.length x C x H x W; a bad file's rows are left zero. */
  images: Uint8Array;
  /** Index into `files` and why, for each file that failed to decode. */
  bad: { index: number; bad: BadImage }[];
}

/** Bytes of a files x C x H x W tensor, refused with the reason when one typed array cannot hold it. */
export function tensorBytes(dir: string, files: number, g: Geometry): number {
  const bytes = files * g.channels * g.height * g.width;
  if (bytes > constants.MAX_LENGTH) {
    const gb = (bytes / 2 ** 30).toFixed(1);
    throw new Error(
      `${dir}: ${files} images of ${g.channels} x ${g.height} x ${g.width} need ${gb} GiB, more than one ` +
        `buffer holds (${(constants.MAX_LENGTH / 2 ** 30).toFixed(0)} GiB); pass a smaller --image-size`,
    );
  }
  return bytes;
}

export async function decodeImages(
  dir: string,
  files: string[],
  g: Geometry,
  threads: number,
  onDone?: (done: number) => void,
  signal?: AbortSignal,
): Promise<Decoded> {
  const images = new Uint8Array(tensorBytes(dir, files.length, g));
  const size = g.channels * g.height * g.width;
  const results = await runPool(
    files.length,
    threads,
    (i) => decodeInto(dir, files[i], g, images, i * size),
    onDone,
    signal,
  );
  const bad: Decoded['bad'] = [];
  results.forEach((r, index) => {
    if (r !== null) bad.push({ index, bad: r });
  });
  return { images, bad };
}
