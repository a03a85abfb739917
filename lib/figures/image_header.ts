/**
 * A picture's size from its header, before any pixel is decoded, and a bound on what a PNG's compressed
 * pixel data may inflate to: the guards against decompression bombs (a 995 KB PNG can say 16000 × 16000
 * and decode to gigabytes).
 *
 * The two headers are read here rather than with an npm package: each is a few fixed fields (PNG's IHDR
 * chunk right after the signature; JPEG's SOF segment after a walk over the marker segments before it),
 * while the npm readers (image-size, probe-image-size) are written for Node's Buffer and streams and read
 * many formats the project refuses anyway. The inflating is fflate's (the library fast-png decodes with).
 *
 * @example
 * ```ts
 * import { readImageHeader } from "./image_header.ts";
 * const header = readImageHeader(await Deno.readFile("cat.png"), "cat.png");
 * console.log(header.type, header.width, header.height);
 * ```
 * @module
 */
import { Unzlib } from "fflate";
import { PNG_SIGNATURE } from "./png.ts";

/** A picture that could not be read: the message is one line naming the file. */
export class ImageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageInputError";
  }
}

/** What a picture's header says. */
export interface ImageHeader {
  type: "png" | "jpeg";
  width: number;
  height: number;
  /** PNG only: bits per sample, colour type and interlace method (IHDR). */
  png?: { depth: number; colorType: number; interlace: number };
}

/** Samples per pixel of each PNG colour type. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * What kind of picture the bytes are, by their signature; null when neither PNG nor JPEG.
 *
 * @example
 * ```ts
 * sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "jpeg"
 * ```
 */
export function sniffImageType(bytes: Uint8Array): "png" | "jpeg" | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return null;
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) =>
  ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];

function pngHeader(bytes: Uint8Array, name: string): ImageHeader {
  // signature (8), IHDR length (4) = 13, "IHDR" (4), width, height (4 each), depth, colour type,
  // compression, filter, interlace (1 each)
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (bytes.length < 29 || type !== "IHDR" || u32(bytes, 8) !== 13) {
    throw new ImageInputError(`Cannot read ${name} as PNG: no IHDR header where the format puts it`);
  }
  const [depth, colorType, interlace] = [bytes[24], bytes[25], bytes[28]];
  if (PNG_CHANNELS[colorType] === undefined || ![1, 2, 4, 8, 16].includes(depth) || interlace > 1) {
    throw new ImageInputError(
      `Cannot read ${name} as PNG: its header is damaged (colour type ${colorType}, bit depth ${depth})`,
    );
  }
  return { type: "png", width: u32(bytes, 16), height: u32(bytes, 20), png: { depth, colorType, interlace } };
}

/** JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic). */
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegHeader(bytes: Uint8Array, name: string): ImageHeader {
  const broken = (why: string) => new ImageInputError(`Cannot read ${name} as JPEG: ${why}`);
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw broken(`no marker at byte ${at} (the file is damaged)`);
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a segment
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image, or scan data before any frame header
    const length = u16(bytes, at + 2);
    if (length < 2) throw broken(`a segment at byte ${at} has length ${length} (the file is damaged)`);
    if (SOF.has(marker)) {
      if (at + 9 > bytes.length) break;
      const height = u16(bytes, at + 5), width = u16(bytes, at + 7);
      if (height === 0) throw broken("its height is set later in the file (DNL), which is not supported");
      return { type: "jpeg", width, height };
    }
    at += 2 + length;
  }
  throw broken("no frame header (SOF) before the image data");
}

/**
 * The type and size of a PNG or JPEG picture, read from its header alone (PNG's IHDR, JPEG's SOF). Throws
 * {@linkcode ImageInputError} with one line naming `name` when the bytes are neither, or the header is not
 * where the format puts it.
 *
 * @example
 * ```ts
 * const { width, height } = readImageHeader(await Deno.readFile("cat.jpg"), "cat.jpg");
 * ```
 */
export function readImageHeader(bytes: Uint8Array, name: string): ImageHeader {
  const type = sniffImageType(bytes);
  if (type === null) throw new ImageInputError(`Cannot read ${name}: not a PNG or JPEG file`);
  const header = type === "png" ? pngHeader(bytes, name) : jpegHeader(bytes, name);
  if (header.width < 1 || header.height < 1) {
    throw new ImageInputError(`Cannot read ${name}: it has no pixels (${header.width}×${header.height})`);
  }
  return header;
}

/**
 * Refuse a picture over `maxMegapixels` by its header, before anything is decoded.
 *
 * @example
 * ```ts
 * checkImageSize({ type: "png", width: 16000, height: 16000 }, { name: "bomb.png", maxMegapixels: 50 });
 * // throws: "Cannot read bomb.png: 16000×16000 is over 50 megapixels"
 * ```
 */
export function checkImageSize(header: ImageHeader, options: { name: string; maxMegapixels: number }): void {
  if (header.width * header.height > options.maxMegapixels * 1e6) {
    throw new ImageInputError(
      `Cannot read ${options.name}: ${header.width}×${header.height} is over ${options.maxMegapixels} megapixels`,
    );
  }
}

/** Bytes a PNG's filtered scanlines take (a filter byte per row), per the IHDR: what IDAT must inflate to. */
export function pngInflatedBytes(header: ImageHeader): number {
  const png = header.png;
  if (!png) throw new RangeError("pngInflatedBytes needs a PNG header");
  const bitsPerPixel = PNG_CHANNELS[png.colorType] * png.depth;
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (png.interlace === 0) return rows(header.width, header.height);
  // Adam7: seven passes, each a sub-image starting at (x0, y0) every (dx, dy) pixels
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [
    0,
    1,
    1,
    2,
  ]];
  return passes.reduce(
    (sum, [x0, y0, dx, dy]) =>
      sum + rows(Math.ceil((header.width - x0) / dx), Math.ceil((header.height - y0) / dy)),
    0,
  );
}

/**
 * Inflate a PNG's IDAT data without keeping it, and refuse it once it passes what its header's size needs:
 * a small picture whose compressed data inflates to gigabytes is stopped after the bytes it may have. The
 * data goes in 4 KB slices, so no slice inflates to more than about 4 MB.
 *
 * @example
 * ```ts
 * const bytes = await Deno.readFile("cat.png");
 * checkPngInflation(bytes, readImageHeader(bytes, "cat.png"), "cat.png");
 * ```
 */
export function checkPngInflation(bytes: Uint8Array, header: ImageHeader, name: string): void {
  const limit = pngInflatedBytes(header);
  let inflated = 0;
  const over = () =>
    new ImageInputError(
      `Cannot read ${name} as PNG: its pixel data inflates past the ${limit} bytes ` +
        `${header.width}×${header.height} needs (a decompression bomb?)`,
    );
  const inflater = new Unzlib((chunk) => {
    inflated += chunk.length;
    if (inflated > limit) throw over();
  });
  const SLICE = 4096;
  try {
    let at = 8;
    while (at + 8 <= bytes.length) {
      const length = u32(bytes, at);
      const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
      const data = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length));
      if (type === "IDAT") {
        for (let i = 0; i < data.length; i += SLICE) inflater.push(data.subarray(i, i + SLICE), false);
      }
      if (type === "IEND") break;
      at += 12 + length;
    }
  } catch (err) {
    if (err instanceof ImageInputError) throw err;
    // A damaged stream: the decoder says what is wrong with it.
  }
}
