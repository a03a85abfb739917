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
