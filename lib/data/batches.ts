/**
 * Batches for training and evaluation: the decoded splits in, `{ x: Float32 NHWC, y: Int32 }` out.
 *
 * Train batches follow the seeded plan (augment_plan.ts): the epoch's global shuffle, then per image
 * RandomCrop (pad with zeros, crop 32) and RandomHorizontalFlip, rescale 1/255 and Normalize by mean/std,
 * the same arithmetic as torchvision's `ToTensor` + `Normalize` in float32. The last partial batch is kept.
 * Batches are made ahead of the consumer into a bounded queue (`prefetch` batches): the stream pulls the
 * next batch while the consumer awaits its training step, and stops when the queue is full.
 *
 * Making a batch of 256 takes a few milliseconds (see bench/data_bench.ts), against seconds for a training
 * step, so batches are made on the main thread.
 *
 * @example
 * ```ts
 * import { readAugmentPlan, readSplit, trainBatches } from "./batches.ts";
 * const data = await readSplit("runs/quick/decode", "train");
 * const plan = await readAugmentPlan("runs/quick/augment");
 * const batches = trainBatches(data, plan, {
 *   epoch: 0, batchSize: 32, mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010],
 * });
 * for await (const { x, y, size } of batches) console.log(size, x.length, y[0]);
 * ```
 * @module
 */
import { join } from "node:path";
import type { AugmentPlan } from "./augment_plan.ts";
import { IMAGE_BYTES, IMAGE_SIZE, NUM_CLASSES } from "./cifar_format.ts";
import { describeOsError, PipelineError } from "../core/mod.ts";

export { type AugmentPlan, readAugmentPlan } from "./augment_plan.ts";

/** One decoded split in memory. */
export interface SplitData {
  /** `count` × 32 × 32 × 3 uint8, HWC, record order. */
  images: Uint8Array;
  /** `count` labels, 0..9. */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
}

/** One batch. */
export interface Batch {
  /** `size` × 32 × 32 × 3 float32, NHWC, rescaled and normalized. */
  x: Float32Array;
  /** `size` labels. */
  y: Int32Array;
  /** Images in this batch (the last batch of an epoch may be smaller than the batch size). */
  size: number;
  /** The image index of each row in the split. */
  indices: Uint32Array;
}

/** Options of {@linkcode trainBatches}. */
export interface TrainBatchOptions {
  /** The epoch, 0-based; must be planned. */
  epoch: number;
  /** Images per batch. */
  batchSize: number;
  /** Normalize mean per channel, RGB, [0, 1] scale. */
  mean: readonly number[];
  /** Normalize std per channel, RGB, [0, 1] scale. */
  std: readonly number[];
  /** Start at this step of the epoch (0-based; for resume). Default 0. */
  startStep?: number;
  /** Batches made ahead of the consumer (the queue's high-water mark). Default 2. */
  prefetch?: number;
}

/** Options of {@linkcode testBatches}. */
export interface TestBatchOptions {
  /** Images per batch. */
  batchSize: number;
  /** Normalize mean per channel, RGB, [0, 1] scale. */
  mean: readonly number[];
  /** Normalize std per channel, RGB, [0, 1] scale. */
  std: readonly number[];
  /** Batches made ahead of the consumer. Default 2. */
  prefetch?: number;
}

/**
 * Reads `<decodeDir>/<split>_images.u8` and `<split>_labels.u8` and checks that they agree.
 *
 * @param options `stage` is the stage errors are reported for (default "decode", whose outputs these are).
 * @throws {PipelineError} when a file is missing, the sizes disagree or a label is ≥ 10.
 *
 * @example
 * ```ts
 * const test = await readSplit("runs/quick/decode", "test");
 * test.count; // 256
 * ```
 */
export async function readSplit(
  decodeDir: string,
  split: "train" | "test",
  options: { stage?: string } = {},
): Promise<SplitData> {
  const stage = options.stage ?? "decode";
  const read = async (name: string) => {
    const path = join(decodeDir, name);
    try {
      return await Deno.readFile(path);
    } catch (err) {
      throw new PipelineError(stage, `Cannot read ${path}: ${describeOsError(err)}`, { cause: err });
    }
  };
  const images = await read(`${split}_images.u8`);
  const labels = await read(`${split}_labels.u8`);
  const count = labels.length;
  if (images.length !== count * IMAGE_BYTES) {
    throw new PipelineError(
      stage,
      `Cannot read ${join(decodeDir, `${split}_images.u8`)}: ${images.length} bytes, expected ${count} × ` +
        `${IMAGE_BYTES} for ${count} labels`,
    );
  }
  const bad = labels.findIndex((label) => label >= NUM_CLASSES);
  if (bad >= 0) {
    throw new PipelineError(
      stage,
      `Cannot read ${join(decodeDir, `${split}_labels.u8`)}: label ${bad} must be < ${NUM_CLASSES}, got ${
        labels[bad]
      }`,
    );
  }
  return { images, labels, count };
}

/** Per channel, the float32 value of each uint8 after `ToTensor` (÷255) and `Normalize` ((x − m) / s). */
function normalizeTable(mean: readonly number[], std: readonly number[]): Float32Array[] {
  if (mean.length !== 3 || std.length !== 3) throw new RangeError("mean and std need 3 values (RGB)");
  return [0, 1, 2].map((c) => {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    if (!(s > 0)) throw new RangeError(`std must be > 0, got ${std[c]}`);
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    return table;
  });
}

/**
 * uint8 HWC RGB images (any count, back to back) → float32 the way {@linkcode testBatches} makes them:
 * ÷255, then (x − mean) / std per channel, bit for bit the same table.
 *
 * @example
 * ```ts
 * const x = normalizeImages(new Uint8Array(32 * 32 * 3), { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * console.log(x[0]); // -2
 * ```
 */
export function normalizeImages(
  images: Uint8Array,
  options: { mean: readonly number[]; std: readonly number[] },
): Float32Array {
  const [t0, t1, t2] = normalizeTable(options.mean, options.std);
  const x = new Float32Array(images.length);
  for (let i = 0; i + 2 < images.length; i += 3) {
    x[i] = t0[images[i]];
    x[i + 1] = t1[images[i + 1]];
    x[i + 2] = t2[images[i + 2]];
  }
  return x;
}

/**
 * Writes one augmented, normalized image into `out` at `outOffset`: out(y, x) = padded(y + top, x' + left),
 * x' = 31 − x when flipped, where padded is the source with `pad` zero pixels on each side. The zero border
 * is filled first; then each row copies only its in-image span, with no per-pixel branches. `src` views the
 * split's images.
 */
function augmentInto(
  out: Float32Array,
  outOffset: number,
  src: DataView,
  srcOffset: number,
  top: number,
  left: number,
  flip: boolean,
  pad: number,
  tables: Float32Array[],
): void {
  const [t0, t1, t2] = tables;
  const z0 = t0[0], z1 = t1[0], z2 = t2[0];
  const S = IMAGE_SIZE;
  const row = S * 3;
  const dy = top - pad;
  const dx = left - pad;
  // Output columns whose source column is inside the image.
  const x0 = flip ? Math.max(0, dx) : Math.max(0, -dx);
  const x1 = flip ? Math.min(S, S + dx) : Math.min(S, S - dx);
  for (let y = 0; y < S; y++) {
    const sy = y + dy;
    const o = outOffset + y * row;
    if (sy < 0 || sy >= S || x0 >= x1) {
      for (let k = o; k < o + row; k += 3) {
        out[k] = z0;
        out[k + 1] = z1;
        out[k + 2] = z2;
      }
      continue;
    }
    for (let k = o; k < o + x0 * 3; k += 3) {
      out[k] = z0;
      out[k + 1] = z1;
      out[k + 2] = z2;
    }
    for (let k = o + x1 * 3; k < o + row; k += 3) {
      out[k] = z0;
      out[k + 1] = z1;
      out[k + 2] = z2;
    }
    const rowStart = srcOffset + sy * row;
    const end = o + x1 * 3;
    let k = o + x0 * 3;
    // Four pixels (12 bytes) at a time as three little-endian words: a quarter of the byte loads.
    if (flip) {
      // sx = 31 − x + dx, walking the source right to left: the group's first output pixel p0 is the last of
      // the 12 source bytes. a = p3.R p3.G p3.B p2.R, b = p2.G p2.B p1.R p1.G, c = p1.B p0.R p0.G p0.B.
      let i = rowStart + (S - 1 - x0 + dx) * 3;
      for (; k + 12 <= end; k += 12, i -= 12) {
        const a = src.getUint32(i - 9, true);
        const b = src.getUint32(i - 5, true);
        const c = src.getUint32(i - 1, true);
        out[k] = t0[(c >>> 8) & 0xff];
        out[k + 1] = t1[(c >>> 16) & 0xff];
        out[k + 2] = t2[c >>> 24];
        out[k + 3] = t0[(b >>> 16) & 0xff];
        out[k + 4] = t1[b >>> 24];
        out[k + 5] = t2[c & 0xff];
        out[k + 6] = t0[a >>> 24];
        out[k + 7] = t1[b & 0xff];
        out[k + 8] = t2[(b >>> 8) & 0xff];
        out[k + 9] = t0[a & 0xff];
        out[k + 10] = t1[(a >>> 8) & 0xff];
        out[k + 11] = t2[(a >>> 16) & 0xff];
      }
      for (; k < end; k += 3, i -= 3) {
        out[k] = t0[src.getUint8(i)];
        out[k + 1] = t1[src.getUint8(i + 1)];
        out[k + 2] = t2[src.getUint8(i + 2)];
      }
    } else {
      // a = p0.R p0.G p0.B p1.R, b = p1.G p1.B p2.R p2.G, c = p2.B p3.R p3.G p3.B.
      let i = rowStart + (x0 + dx) * 3;
      for (; k + 12 <= end; k += 12, i += 12) {
        const a = src.getUint32(i, true);
        const b = src.getUint32(i + 4, true);
        const c = src.getUint32(i + 8, true);
        out[k] = t0[a & 0xff];
        out[k + 1] = t1[(a >>> 8) & 0xff];
        out[k + 2] = t2[(a >>> 16) & 0xff];
        out[k + 3] = t0[a >>> 24];
        out[k + 4] = t1[b & 0xff];
        out[k + 5] = t2[(b >>> 8) & 0xff];
        out[k + 6] = t0[(b >>> 16) & 0xff];
        out[k + 7] = t1[b >>> 24];
        out[k + 8] = t2[c & 0xff];
        out[k + 9] = t0[(c >>> 8) & 0xff];
        out[k + 10] = t1[(c >>> 16) & 0xff];
        out[k + 11] = t2[c >>> 24];
      }
      for (; k < end; k += 3, i += 3) {
        out[k] = t0[src.getUint8(i)];
        out[k + 1] = t1[src.getUint8(i + 1)];
        out[k + 2] = t2[src.getUint8(i + 2)];
      }
    }
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be an integer ≥ 1, got ${batchSize}`);
  }
}

/** A stream that calls `make(step)` for steps `first..steps-1`, `prefetch` batches ahead of the reader. */
function batchStream(first: number, steps: number, prefetch: number, make: (step: number) => Batch) {
  let step = first;
  return new ReadableStream<Batch>({
    pull(controller) {
      if (step >= steps) controller.close();
      else controller.enqueue(make(step++));
    },
  }, new CountQueuingStrategy({ highWaterMark: Math.max(0, prefetch) }));
}

/**
 * One epoch of augmented, shuffled, normalized train batches, following `plan`. Same data, plan and options →
 * byte-identical batches.
 *
 * @throws {RangeError} when the plan is for another count, the epoch is not planned, or an option is invalid.
 *
 * @example
 * ```ts
 * import { type AugmentPlan, type SplitData, TUTORIAL_MEAN, TUTORIAL_STD } from "./mod.ts";
 * declare const data: SplitData;
 * declare const plan: AugmentPlan;
 * const [mean, std] = [[...TUTORIAL_MEAN], [...TUTORIAL_STD]];
 * const stream = trainBatches(data, plan, { epoch: 0, batchSize: 256, mean, std, startStep: 10 });
 * const reader = stream.getReader();
 * const { value } = await reader.read(); // step 10 of epoch 0
 * ```
 */
export function trainBatches(
  data: SplitData,
  plan: AugmentPlan,
  options: TrainBatchOptions,
): ReadableStream<Batch> {
  const { epoch, batchSize } = options;
  checkBatchSize(batchSize);
  if (plan.count !== data.count) {
    throw new RangeError(`the augment plan is for ${plan.count} images, the split has ${data.count}`);
  }
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= plan.perEpoch.length) {
    throw new RangeError(`epoch ${epoch} is not planned (the plan has ${plan.perEpoch.length} epochs)`);
  }
  const tables = normalizeTable(options.mean, options.std);
  const { order, cropY, cropX, flip } = plan.perEpoch[epoch];
  const pad = plan.cropPadding;
  const steps = Math.ceil(data.count / batchSize);
  const images = new DataView(data.images.buffer, data.images.byteOffset, data.images.byteLength);
  return batchStream(options.startStep ?? 0, steps, options.prefetch ?? 2, (step) => {
    const start = step * batchSize;
    const size = Math.min(batchSize, data.count - start);
    const x = new Float32Array(size * IMAGE_BYTES);
    const y = new Int32Array(size);
    const indices = new Uint32Array(size);
    for (let k = 0; k < size; k++) {
      const i = order[start + k];
      indices[k] = i;
      y[k] = data.labels[i];
      augmentInto(
        x,
        k * IMAGE_BYTES,
        images,
        i * IMAGE_BYTES,
        cropY[i],
        cropX[i],
        flip[i] === 1,
        pad,
        tables,
      );
    }
    return { x, y, size, indices };
  });
}

/**
 * The split in record order, normalized, no augmentation; the last partial batch is kept.
 *
 * @example
 * ```ts
 * import { TUTORIAL_MEAN, TUTORIAL_STD } from "./channel_stats.ts";
 * const [mean, std] = [[...TUTORIAL_MEAN], [...TUTORIAL_STD]];
 * const test = await readSplit("runs/quick/decode", "test");
 * for await (const batch of testBatches(test, { batchSize: 64, mean, std })) console.log(batch.size);
 * ```
 */
export function testBatches(data: SplitData, options: TestBatchOptions): ReadableStream<Batch> {
  checkBatchSize(options.batchSize);
  const { batchSize } = options;
  const [t0, t1, t2] = normalizeTable(options.mean, options.std);
  const steps = Math.ceil(data.count / batchSize);
  return batchStream(0, steps, options.prefetch ?? 2, (step) => {
    const start = step * batchSize;
    const size = Math.min(batchSize, data.count - start);
    const src = data.images.subarray(start * IMAGE_BYTES, (start + size) * IMAGE_BYTES);
    const x = new Float32Array(src.length);
    for (let i = 0; i < src.length; i += 3) {
      x[i] = t0[src[i]];
      x[i + 1] = t1[src[i + 1]];
      x[i + 2] = t2[src[i + 2]];
    }
    const y = Int32Array.from(data.labels.subarray(start, start + size));
    const indices = new Uint32Array(size);
    for (let k = 0; k < size; k++) indices[k] = start + k;
    return { x, y, size, indices };
  });
}
