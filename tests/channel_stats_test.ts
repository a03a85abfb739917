import assert from "node:assert/strict";
import { ChannelStats, TUTORIAL_MEAN, TUTORIAL_STD } from "../lib/data/channel_stats.ts";
import { Rng } from "../lib/core/random.ts";

Deno.test("ChannelStats matches a direct two-pass computation", () => {
  const rng = new Rng(9);
  const count = 5;
  const images = new Uint8Array(count * 3072);
  for (let i = 0; i < images.length; i++) images[i] = (rng.nextUint32() & 0xff) >> (i % 3); // channels differ
  const stats = new ChannelStats();
  stats.addMany(images.subarray(0, 2 * 3072), 2);
  for (let i = 2; i < count; i++) stats.add(images.subarray(i * 3072, (i + 1) * 3072));
  const result = stats.result();
  assert.equal(result.count, count);
  for (let c = 0; c < 3; c++) {
    const values: number[] = [];
    for (let i = c; i < images.length; i += 3) values.push(images[i] / 255);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    assert.ok(Math.abs(result.mean[c] - mean) < 1e-12, `mean ${c}`);
    assert.ok(Math.abs(result.std[c] - std) < 1e-9, `std ${c}`);
  }
});

Deno.test("ChannelStats: constant images have std 0; empty stats are zeros", () => {
  const stats = new ChannelStats();
  stats.add(new Uint8Array(3072).fill(51));
  assert.deepEqual(stats.result(), { mean: [0.2, 0.2, 0.2], std: [0, 0, 0], count: 1 });
  assert.deepEqual(new ChannelStats().result(), { mean: [0, 0, 0], std: [0, 0, 0], count: 0 });
});

Deno.test("the tutorial's constants are the known (mixed-up) values", () => {
  assert.deepEqual(TUTORIAL_MEAN, [0.4914, 0.4822, 0.4465]);
  assert.deepEqual(TUTORIAL_STD, [0.2023, 0.1994, 0.2010]);
});

Deno.test("ChannelStats: the word loop counts exactly what the byte loop does, at any offset and length", () => {
  // One pixel at a time only ever takes the byte loop (3 bytes < a 12-byte group); the result must be
  // identical to the word loop over the same bytes, bit for bit.
  const rng = new Rng(3);
  const bytes = new Uint8Array(3 + 7 * 3072 + 9);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = rng.nextUint32() % 7 === 0 ? 200 : rng.nextUint32() & 0xff;
  }
  const images = bytes.subarray(1, 1 + 7 * 3072 + 9); // odd byte offset; length not a multiple of 12
  const words = new ChannelStats();
  words.addMany(images, 7);
  const pixels = new ChannelStats();
  for (let i = 0; i < images.length; i += 3) pixels.add(images.subarray(i, i + 3));
  assert.deepEqual(words.result().mean, pixels.result().mean);
  assert.deepEqual(words.result().std, pixels.result().std);
});
