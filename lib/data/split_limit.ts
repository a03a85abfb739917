/**
 * The first N images of a decoded split: `--train-limit` / `--test-limit` applied where the data is used,
 * whether or not the decode stage already cut the split.
 *
 * @example
 * ```ts
 * import { limitSplit } from "./split_limit.ts";
 * limitSplit({ images: new Uint8Array(3 * 3072), labels: new Uint8Array(3), count: 3 }, 2).count; // 2
 * ```
 * @module
 */
import type { SplitData } from "./batches.ts";
import { IMAGE_BYTES } from "./cifar_format.ts";

/**
 * The first `limit` images of `data` (views, no copy); `data` itself when `limit` is null or not smaller.
 *
 * @example
 * ```ts
 * import type { SplitData } from "./batches.ts";
 * declare const test: SplitData;
 * limitSplit(test, null) === test; // true
 * ```
 */
export function limitSplit(data: SplitData, limit: number | null): SplitData {
  if (limit === null || limit >= data.count) return data;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be an integer ≥ 0, got ${limit}`);
  }
  return {
    images: data.images.subarray(0, limit * IMAGE_BYTES),
    labels: data.labels.subarray(0, limit),
    count: limit,
  };
}
