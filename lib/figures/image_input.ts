/**
 * Pictures from outside the dataset, made into what the network was trained on: PNG (fast-png) or JPEG
 * (jpeg-js) bytes decoded to 8-bit RGB, alpha composited over white, then resized to the network's square
 * input (32×32) with separable area averaging when shrinking (each output pixel is the mean of the source
 * pixels it covers, by exact fractional coverage; what CIFAR-10's own downsampled tiles look like) and
 * linear interpolation when enlarging. The aspect ratio is not kept: the whole picture is stretched to the
 * square, as torchvision's `Resize((32, 32))` does.
 *
 * @example
 * ```ts
 * import { decodeImage, resizeRgb } from "./image_input.ts";
 * const image = decodeImage(await Deno.readFile("cat.jpg"), "cat.jpg");
 * const tile = resizeRgb(image, 32); // 32 × 32 × 3 uint8, HWC
 * console.log(tile.width, tile.data.length); // 32 3072
 * ```
 * @module
 */
import * as jpeg from "jpeg-js";
import { decodePng, type RasterImage } from "./png.ts";
import { checkImageSize, checkPngInflation, ImageInputError, readImageHeader } from "./image_header.ts";

/** The largest picture decoded, in megapixels (a bound against decompression bombs). */
export const MAX_IMAGE_MEGAPIXELS = 50;

/**
 * Decode PNG or JPEG bytes (told apart by their signature, not the name) into 8-bit RGB; an alpha channel
 * is composited over white. The header is read first: a picture over `maxMegapixels` (default
 * {@linkcode MAX_IMAGE_MEGAPIXELS}) is refused before any pixel is decoded, and a PNG whose compressed data
 * inflates past what its size needs is refused before it is kept. Throws {@linkcode ImageInputError} with
 * one line naming `name`.
 *
 * @example
 * ```ts
 * const rgb = decodeImage(await Deno.readFile("dog.png"), "dog.png");
 * console.log(rgb.channels); // 3
 * ```
 */
export function decodeImage(
  bytes: Uint8Array,
  name: string,
  options: { maxMegapixels?: number } = {},
): RasterImage & { channels: 3 } {
  const maxMegapixels = options.maxMegapixels ?? MAX_IMAGE_MEGAPIXELS;
  const header = readImageHeader(bytes, name);
  checkImageSize(header, { name, maxMegapixels });
  if (header.png && header.png.depth !== 8) {
    throw new ImageInputError(
      `Cannot read ${name} as PNG: bit depth ${header.png.depth} is not supported (8 bits per sample only)`,
    );
  }
  if (header.png) checkPngInflation(bytes, header, name);
  const type = header.type;
  let image: RasterImage;
  try {
    if (type === "png") {
      image = decodePng(bytes);
    } else {
      const decoded = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        maxResolutionInMP: maxMegapixels,
        maxMemoryUsageInMB: 1024,
      });
      image = { width: decoded.width, height: decoded.height, channels: 3, data: decoded.data };
    }
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    throw new ImageInputError(`Cannot read ${name} as ${type.toUpperCase()}: ${why}`);
  }
  if (image.width !== header.width || image.height !== header.height) {
    throw new ImageInputError(
      `Cannot read ${name}: the header says ${header.width}×${header.height}, the pixels are ` +
        `${image.width}×${image.height}`,
    );
  }
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new ImageInputError(`Cannot read ${name}: the decoder gave a short pixel buffer`);
  }
  return { ...toRgb(image), channels: 3 };
}

/** RGB(A) → RGB, alpha composited over white. */
function toRgb(image: RasterImage): RasterImage {
  if (image.channels === 3) return image;
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = image.data[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(image.data[i * 4 + c] * a + 255 * (1 - a));
  }
  return { width: image.width, height: image.height, channels: 3, data: out };
}

/** Per output index along one axis: the source indices and their weights (summing to 1). */
function axisWeights(src: number, dst: number): { index: number[]; weight: number[] }[] {
  const scale = src / dst;
  const out: { index: number[]; weight: number[] }[] = [];
  for (let o = 0; o < dst; o++) {
    const index: number[] = [];
    const weight: number[] = [];
    if (scale >= 1) {
      // area: the source span [o·scale, (o+1)·scale) by fractional coverage
      const a = o * scale, b = (o + 1) * scale;
      for (let s = Math.floor(a); s < Math.min(src, Math.ceil(b)); s++) {
        const w = Math.min(b, s + 1) - Math.max(a, s);
        if (w > 1e-12) {
          index.push(s);
          weight.push(w / scale);
        }
      }
    } else {
      // linear, pixel centres aligned (half-pixel), edges clamped
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), src - 1);
      const s0 = Math.floor(x), s1 = Math.min(s0 + 1, src - 1), f = x - s0;
      index.push(s0, s1);
      weight.push(1 - f, f);
    }
    out.push({ index, weight });
  }
  return out;
}

/**
 * Resize an 8-bit RGB image to `size` × `size` (area averaging when shrinking, linear when enlarging,
 * separable, rounded to the nearest integer once at the end).
 *
 * @example
 * ```ts
 * const tile = resizeRgb({ width: 64, height: 48, channels: 3, data: new Uint8Array(64 * 48 * 3) }, 32);
 * console.log(tile.data.length); // 3072
 * ```
 */
export function resizeRgb(image: RasterImage, size: number): RasterImage & { channels: 3 } {
  if (image.channels !== 3) throw new RangeError(`resizeRgb needs 3 channels, got ${image.channels}`);
  const { width, height, data } = image;
  const xs = axisWeights(width, size);
  const ys = axisWeights(height, size);
  // rows first: height × size × 3
  const mid = new Float64Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let ox = 0; ox < size; ox++) {
      const { index, weight } = xs[ox];
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < index.length; k++) v += data[(y * width + index[k]) * 3 + c] * weight[k];
        mid[(y * size + ox) * 3 + c] = v;
      }
    }
  }
  const out = new Uint8Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    const { index, weight } = ys[oy];
    for (let ox = 0; ox < size; ox++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < index.length; k++) v += mid[(index[k] * size + ox) * 3 + c] * weight[k];
        out[(oy * size + ox) * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return { width: size, height: size, channels: 3, data: out };
}
