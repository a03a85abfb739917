/**
 * Random access into the uint8 image files of a run (`decode/*_images.u8`, `augment/samples.u8`): count ×
 * 32 × 32 × 3 bytes, HWC, one image after another.
 *
 * @example
 * ```ts
 * import { imageCountOf, readImagesAt } from "./image_file.ts";
 * const n = await imageCountOf("runs/a/decode/test_images.u8");
 * const [first] = await readImagesAt("runs/a/decode/test_images.u8", [0]);
 * ```
 * @module
 */
import { IMAGE_BYTES } from "../data/mod.ts";

/** The image layout of `*_images.u8` and `samples.u8` (uint8 HWC, 32 × 32 × 3), as the data layer defines it. */
export { CHANNELS as IMAGE_CHANNELS, IMAGE_BYTES, IMAGE_SIZE } from "../data/mod.ts";

/**
 * How many whole images a `.u8` image file holds (a trailing partial image is not counted).
 *
 * @example
 * ```ts
 * await imageCountOf("runs/a/augment/samples.u8"); // 6
 * ```
 */
export async function imageCountOf(path: string): Promise<number> {
  const info = await Deno.stat(path);
  return Math.floor(info.size / IMAGE_BYTES);
}

/**
 * Read the images at `indices` (32 × 32 × 3 bytes each) without loading the whole file.
 * Throws a RangeError naming the index when one lies past the end of the file.
 *
 * @example
 * ```ts
 * const tiles = await readImagesAt("runs/a/decode/test_images.u8", [0, 5, 9]);
 * ```
 */
export async function readImagesAt(path: string, indices: readonly number[]): Promise<Uint8Array[]> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const out: Uint8Array[] = [];
  for (const index of indices) {
    const offset = index * IMAGE_BYTES;
    if (!Number.isInteger(index) || index < 0 || offset + IMAGE_BYTES > size) {
      throw new RangeError(
        `image ${index} lies past the end of ${path} (${Math.floor(size / IMAGE_BYTES)} images)`,
      );
    }
    await file.seek(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(IMAGE_BYTES);
    let filled = 0;
    while (filled < IMAGE_BYTES) {
      const n = await file.read(buf.subarray(filled));
      if (n === null) throw new RangeError(`${path} ended while reading image ${index}`);
      filled += n;
    }
    out.push(buf);
  }
  return out;
}
