/**
 * The CIFAR-10 binary format: byte layout of a record, the archive's member names, their official SHA-256
 * sums, and the class-name file.
 *
 * A record is {@linkcode RECORD_BYTES} = 3,073 bytes: one label byte (0..9), then 1,024 red, 1,024 green
 * and 1,024 blue bytes, each plane 32 × 32 row-major (CHW). The pipeline keeps images as HWC (RGB
 * interleaved), the layout tfjs and the sample grid want.
 *
 * @example
 * ```ts
 * import { chwToHwc, IMAGE_BYTES, RECORD_BYTES } from "./cifar_format.ts";
 * const record = new Uint8Array(RECORD_BYTES);
 * const image = chwToHwc(record.subarray(1), new Uint8Array(IMAGE_BYTES));
 * ```
 * @module
 */
import { PipelineError } from "../core/mod.ts";

/** Image height and width (pixels). */
export const IMAGE_SIZE = 32;
/** Colour channels (R, G, B). */
export const CHANNELS = 3;
/** Pixels in one image plane: 32 × 32. */
export const PLANE_BYTES = IMAGE_SIZE * IMAGE_SIZE;
/** Bytes of one image: 32 × 32 × 3 = 3,072. */
export const IMAGE_BYTES = PLANE_BYTES * CHANNELS;
/** Bytes of the label that starts each record. */
export const LABEL_BYTES = 1;
/** Bytes of one record: label + image = 3,073. */
export const RECORD_BYTES = LABEL_BYTES + IMAGE_BYTES;
/** Number of classes; a label byte must be below this. */
export const NUM_CLASSES = 10;
/** Records in each official batch file. */
export const RECORDS_PER_FILE = 10_000;

/** The train split's files, in record order. */
export const TRAIN_FILES = [
  "data_batch_1.bin",
  "data_batch_2.bin",
  "data_batch_3.bin",
  "data_batch_4.bin",
  "data_batch_5.bin",
] as const;
/** The test split's files. */
export const TEST_FILES = ["test_batch.bin"] as const;
/** The file with the ten class names, one a line. */
export const META_FILE = "batches.meta.txt";

/**
 * Official SHA-256 sums of the six batch files (public facts; the same sums torchvision-ruby and others
 * publish). The archive itself is not checked: mirrors repack it, the members are what matter.
 */
export const OFFICIAL_SHA256: Readonly<Record<string, string>> = Object.freeze({
  "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
  "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
  "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
  "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
  "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
  "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
});

/** One decoded record. */
export interface CifarRecord {
  /** Class index, 0..9. */
  label: number;
  /** 32 × 32 × 3 uint8, HWC (RGB interleaved), row-major. */
  image: Uint8Array;
}

/**
 * Reorders one image from the file's planar CHW layout to HWC.
 *
 * Works on 32-bit words: four pixels at a time, one word from each plane in and three words out, instead of a
 * byte at a time (the transposition is most of the decode stage's time; this is about twice as fast). The
 * words are read and written little-endian through DataViews, so the bytes are the same on any platform.
 *
 * @param chw 3,072 bytes: 1,024 R, 1,024 G, 1,024 B.
 * @param out Where to write (3,072 bytes); a new array when omitted.
 * @returns `out`.
 *
 * @example
 * ```ts
 * const chw = new Uint8Array(3072);
 * chw[0] = 1; chw[1024] = 2; chw[2048] = 3; // pixel (0, 0) is R=1, G=2, B=3
 * chwToHwc(chw).subarray(0, 3); // Uint8Array [1, 2, 3]
 * ```
 */
export function chwToHwc(chw: Uint8Array, out: Uint8Array = new Uint8Array(IMAGE_BYTES)): Uint8Array {
  // Short arrays keep the byte loop's behaviour (missing input reads as 0, output past the end is dropped).
  if (chw.length < IMAGE_BYTES || out.length < IMAGE_BYTES) return chwToHwcBytes(chw, out);
  const src = new DataView(chw.buffer, chw.byteOffset, IMAGE_BYTES);
  const dst = new DataView(out.buffer, out.byteOffset, IMAGE_BYTES);
  for (let p = 0, o = 0; p < PLANE_BYTES; p += 4, o += 12) {
    // r = r0 | r1 << 8 | r2 << 16 | r3 << 24 (pixels p..p+3), likewise g and b; out is r0 g0 b0 r1 g1 b1 …
    const r = src.getUint32(p, true);
    const g = src.getUint32(p + PLANE_BYTES, true);
    const b = src.getUint32(p + 2 * PLANE_BYTES, true);
    dst.setUint32(o, (r & 0xff) | ((g & 0xff) << 8) | ((b & 0xff) << 16) | ((r & 0xff00) << 16), true);
    dst.setUint32(
      o + 4,
      ((g >>> 8) & 0xff) | (b & 0xff00) | (((r >>> 16) & 0xff) << 16) | ((g & 0xff0000) << 8),
      true,
    );
    dst.setUint32(
      o + 8,
      ((b >>> 16) & 0xff) | ((r >>> 24) << 8) | ((g >>> 24) << 16) | ((b >>> 24) << 24),
      true,
    );
  }
  return out;
}

/** The byte-at-a-time transposition: {@linkcode chwToHwc} for arrays shorter than an image. */
function chwToHwcBytes(chw: Uint8Array, out: Uint8Array): Uint8Array {
  for (let p = 0, o = 0; p < PLANE_BYTES; p++, o += 3) {
    out[o] = chw[p];
    out[o + 1] = chw[p + PLANE_BYTES];
    out[o + 2] = chw[p + 2 * PLANE_BYTES];
  }
  return out;
}

/**
 * The ten class names from the text of `batches.meta.txt` (one a line; blank lines ignored).
 *
 * @param text The file's text.
 * @param options `file` names the file in the error; `stage` is the stage the error is reported for.
 * @throws {PipelineError} when there are not exactly {@linkcode NUM_CLASSES} names.
 *
 * @example
 * ```ts
 * parseClassNames("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")[9]; // "truck"
 * ```
 */
export function parseClassNames(
  text: string,
  options: { file?: string; stage?: string } = {},
): string[] {
  const names = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
  if (names.length !== NUM_CLASSES) {
    throw new PipelineError(
      options.stage ?? "decode",
      `Cannot read ${options.file ?? META_FILE}: expected ${NUM_CLASSES} class names, got ${names.length}`,
    );
  }
  return names;
}
