/**
 * Per-channel mean and standard deviation of uint8 HWC images on the [0, 1] scale, and the tutorial's
 * normalization constants beside them.
 *
 * The tutorial normalizes with mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994, 0.2010). The mean is
 * the train set's; the std is not: measured over all train pixels it is (0.2470, 0.2435, 0.2616). The
 * 0.2023… figures are a long-standing, often-asked mix-up (they are closer to a mean of per-image stds). The
 * recipe keeps the tutorial's values; the decode stage records the measured ones next to them.
 *
 * @example
 * ```ts
 * import { ChannelStats } from "./channel_stats.ts";
 * const stats = new ChannelStats();
 * stats.add(new Uint8Array(32 * 32 * 3).fill(255));
 * stats.result().mean; // [1, 1, 1]
 * ```
 * @module
 */

/** The tutorial's Normalize mean, RGB, on the [0, 1] scale. */
export const TUTORIAL_MEAN: readonly [number, number, number] = [0.4914, 0.4822, 0.4465];
/** The tutorial's Normalize std, RGB, on the [0, 1] scale (not the train set's measured std). */
export const TUTORIAL_STD: readonly [number, number, number] = [0.2023, 0.1994, 0.2010];

/** Mean and population standard deviation per channel on the [0, 1] scale, over `count` images. */
export interface ChannelStatsResult {
  /** Per-channel mean, RGB. */
  mean: [number, number, number];
  /** Per-channel population standard deviation over all pixels, RGB. */
  std: [number, number, number];
  /** Images measured. */
  count: number;
}

/**
 * Accumulates a per-channel histogram of the byte values, so the sums are exact (up to about 10⁸ images)
 * and the result does not depend on the order images are added.
 *
 * @example
 * ```ts
 * const stats = new ChannelStats();
 * stats.addMany(new Uint8Array(2 * 3072), 2);
 * stats.result().count; // 2
 * ```
 */
export class ChannelStats {
  /** Per channel, how many pixels had each value 0..255 (float64 totals, exact up to 2^53). */
  #totals = [new Float64Array(256), new Float64Array(256), new Float64Array(256)];
  /**
   * Per channel counts since the last flush into `#totals`, two copies side by side: even pixels count in
   * `[0, 256)`, odd ones in `[256, 512)`, so neighbouring pixels of equal value (common in photos) do not
   * wait on each other's increment. Int32 (not Uint32) keeps the increments in 32-bit integer arithmetic;
   * flushed before a count could reach 2^31.
   */
  #h0 = new Int32Array(512);
  #h1 = new Int32Array(512);
  #h2 = new Int32Array(512);
  #pending = 0;
  #count = 0;

  /** Adds one HWC image (any size, 3 channels interleaved). */
  add(image: Uint8Array): void {
    this.addMany(image, 1);
  }

  /** Adds `count` HWC images stored back to back in `images`. */
  addMany(images: Uint8Array, count: number): void {
    const h0 = this.#h0, h1 = this.#h1, h2 = this.#h2;
    const block = 3 * 2 ** 30; // bytes per flush: a count stays below 2^31 (a multiple of 12, see below)
    // Four pixels (12 bytes) at a time as three little-endian words: a third of the loads of a byte loop.
    const view = new DataView(images.buffer, images.byteOffset, images.byteLength);
    for (let start = 0; start < images.length; start += block) {
      const end = Math.min(images.length, start + block);
      if (this.#pending + (end - start) > block) this.#flush();
      const words = end - ((end - start) % 12);
      for (let i = start; i < words; i += 12) {
        // a = R0 G0 B0 R1, b = G1 B1 R2 G2, c = B2 R3 G3 B3 (low byte first); odd pixels at +256.
        const a = view.getUint32(i, true);
        const b = view.getUint32(i + 4, true);
        const c = view.getUint32(i + 8, true);
        h0[a & 0xff]++;
        h1[(a >>> 8) & 0xff]++;
        h2[(a >>> 16) & 0xff]++;
        h0[256 | (a >>> 24)]++;
        h1[256 | (b & 0xff)]++;
        h2[256 | ((b >>> 8) & 0xff)]++;
        h0[(b >>> 16) & 0xff]++;
        h1[b >>> 24]++;
        h2[c & 0xff]++;
        h0[256 | ((c >>> 8) & 0xff)]++;
        h1[256 | ((c >>> 16) & 0xff)]++;
        h2[256 | (c >>> 24)]++;
      }
      for (let i = words; i < end; i += 3) {
        h0[images[i]]++;
        h1[images[i + 1]]++;
        h2[images[i + 2]]++;
      }
      this.#pending += end - start;
    }
    this.#count += count;
  }

  #flush(): void {
    [this.#h0, this.#h1, this.#h2].forEach((h, c) => {
      for (let v = 0; v < 256; v++) this.#totals[c][v] += h[v] + h[256 + v];
      h.fill(0);
    });
    this.#pending = 0;
  }

  /** The mean and std so far (zeros when nothing was added). */
  result(): ChannelStatsResult {
    this.#flush();
    const mean: [number, number, number] = [0, 0, 0];
    const std: [number, number, number] = [0, 0, 0];
    this.#totals.forEach((h, c) => {
      let n = 0, sum = 0, squares = 0;
      for (let v = 0; v < 256; v++) {
        n += h[v];
        sum += v * h[v];
        squares += v * v * h[v];
      }
      if (n === 0) return;
      const m = sum / n;
      mean[c] = m / 255;
      std[c] = Math.sqrt(Math.max(0, squares / n - m * m)) / 255;
    });
    return { mean, std, count: this.#count };
  }
}
