/**
 * A seeded batch of generated images and labels, for benchmarks and tests that need no data set: pixel values
 * from a 32-bit LCG in [-1, 1), labels `i % 10` unless `options.label` says otherwise.
 *
 * @example
 * ```ts
 * import { syntheticBatch } from "./synthetic_batch.ts";
 * syntheticBatch(16, 1).x.length; // 16 × 32 × 32 × 3
 * ```
 * @module
 */
import { IMAGE_BYTES } from "./cifar_format.ts";
import type { Batch } from "./batches.ts";

/** Options of {@linkcode syntheticBatch}. */
export interface SyntheticBatchOptions {
  /** The label of image `i` (default `i % 10`). */
  label?: (i: number) => number;
}

/** `size` generated 32×32×3 NHWC images from `seed`, with labels and indices 0..size−1. */
export function syntheticBatch(size: number, seed: number, options: SyntheticBatchOptions = {}): Batch {
  const label = options.label ?? ((i: number) => i % 10);
  const x = new Float32Array(size * IMAGE_BYTES);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  const y = Int32Array.from({ length: size }, (_, i) => label(i));
  return { x, y, size, indices: Uint32Array.from({ length: size }, (_, i) => i) };
}
