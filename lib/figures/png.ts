/**
 * PNG encoding and decoding: a thin wrapper over fast-png that speaks in 8-bit RGB or RGBA pixels.
 *
 * @example
 * ```ts
 * import { decodePng, encodePng } from "./png.ts";
 * const png = encodePng({ width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 0, 0, 255]) });
 * const image = decodePng(png);
 * console.log(image.width, image.data[0]); // 2 255
 * ```
 * @module
 */
import { decode, encode } from "fast-png";

/** An 8-bit image, rows top to bottom, channels interleaved (HWC). */
export interface RasterImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 3 (RGB) or 4 (RGBA). */
  channels: 3 | 4;
  /** `width × height × channels` bytes. */
  data: Uint8Array;
}

/** The eight bytes every PNG file starts with. */
export const PNG_SIGNATURE: Uint8Array = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encode an 8-bit RGB or RGBA image as PNG bytes.
 *
 * @example
 * ```ts
 * const png = encodePng({ width: 1, height: 1, channels: 3, data: new Uint8Array([1, 2, 3]) });
 * ```
 */
export function encodePng(image: RasterImage): Uint8Array {
  const expected = image.width * image.height * image.channels;
  if (image.data.length !== expected) {
    throw new RangeError(
      `Cannot encode PNG: ${image.width}×${image.height}×${image.channels} needs ${expected} bytes, got ${image.data.length}`,
    );
  }
  return encode({
    width: image.width,
    height: image.height,
    channels: image.channels,
    depth: 8,
    data: image.data,
  });
}

/**
 * Decode PNG bytes into 8-bit RGB or RGBA pixels (grey and indexed images are expanded to RGB(A)).
 *
 * @example
 * ```ts
 * const { width, height, channels, data } = decodePng(await Deno.readFile("samples.png"));
 * ```
 */
export function decodePng(bytes: Uint8Array): RasterImage {
  const png = decode(bytes);
  if (png.depth !== 8) throw new RangeError(`Cannot decode PNG: bit depth ${png.depth} is not supported`);
  const src = png.data as Uint8Array;
  const pixels = png.width * png.height;
  if (png.palette) {
    const alpha = png.transparency !== undefined;
    const out = new Uint8Array(pixels * (alpha ? 4 : 3));
    for (let i = 0; i < pixels; i++) {
      const entry = png.palette[src[i]] ?? [0, 0, 0];
      const o = i * (alpha ? 4 : 3);
      out[o] = entry[0];
      out[o + 1] = entry[1];
      out[o + 2] = entry[2];
      if (alpha) out[o + 3] = png.transparency![src[i]] ?? 255;
    }
    return { width: png.width, height: png.height, channels: alpha ? 4 : 3, data: out };
  }
  if (png.channels === 3 || png.channels === 4) {
    return { width: png.width, height: png.height, channels: png.channels, data: new Uint8Array(src) };
  }
  // Grey (1) or grey + alpha (2): expand.
  const alpha = png.channels === 2;
  const out = new Uint8Array(pixels * (alpha ? 4 : 3));
  for (let i = 0; i < pixels; i++) {
    const g = src[i * png.channels];
    const o = i * (alpha ? 4 : 3);
    out[o] = out[o + 1] = out[o + 2] = g;
    if (alpha) out[o + 3] = src[i * 2 + 1];
  }
  return { width: png.width, height: png.height, channels: alpha ? 4 : 3, data: out };
}

/**
 * The RGB(A) values of one pixel.
 *
 * @example
 * ```ts
 * const bytes = await Deno.readFile("samples.png");
 * const [r, g, b] = pixelAt(decodePng(bytes), 0, 0);
 * ```
 */
export function pixelAt(image: RasterImage, x: number, y: number): number[] {
  const o = (y * image.width + x) * image.channels;
  return Array.from(image.data.subarray(o, o + image.channels));
}
