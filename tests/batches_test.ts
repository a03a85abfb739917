import assert from "node:assert/strict";
import { join } from "node:path";
import { type AugmentPlan, createAugmentPlan } from "../lib/data/augment_plan.ts";
import { type Batch, readSplit, type SplitData, testBatches, trainBatches } from "../lib/data/batches.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { incrementalSha256 } from "../lib/core/hash.ts";
import { Rng } from "../lib/core/random.ts";
import { tempRunDir } from "./fixtures/data_fixtures.ts";

const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.2023, 0.1994, 0.2010];

function makeSplit(count: number, salt = 1): SplitData {
  const rng = new Rng(salt, "split");
  const images = new Uint8Array(count * 3072);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextUint32() & 0xff;
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7) % 10);
  return { images, labels, count };
}

function makePlan(count: number, seed = 1, epochs = 2): AugmentPlan {
  return createAugmentPlan({ seed, epochs, count, cropPadding: 4, flipProbability: 0.5 });
}

/** Torchvision's semantics written plainly: pad with zeros, crop 32 at (top, left), flip, ToTensor, Normalize. */
function referenceAugment(
  image: Uint8Array,
  top: number,
  left: number,
  flip: boolean,
  pad: number,
): Float32Array {
  const size = 32 + 2 * pad;
  const padded = new Uint8Array(size * size * 3);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      for (let c = 0; c < 3; c++) padded[((y + pad) * size + x + pad) * 3 + c] = image[(y * 32 + x) * 3 + c];
    }
  }
  const out = new Float32Array(3072);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const sx = flip ? 31 - x : x;
      for (let c = 0; c < 3; c++) {
        const v = padded[((y + top) * size + sx + left) * 3 + c];
        const t = Math.fround(v / 255);
        out[(y * 32 + x) * 3 + c] = Math.fround(Math.fround(t - Math.fround(MEAN[c])) / Math.fround(STD[c]));
      }
    }
  }
  return out;
}

async function hashBatches(stream: ReadableStream<Batch>): Promise<{ digest: string; sizes: number[] }> {
  const hash = incrementalSha256();
  const sizes: number[] = [];
  for await (const batch of stream) {
    hash.update(new Uint8Array(batch.x.buffer));
    hash.update(new Uint8Array(batch.y.buffer));
    hash.update(new Uint8Array(batch.indices.buffer));
    sizes.push(batch.size);
  }
  return { digest: hash.digestHex(), sizes };
}

Deno.test("trainBatches follows the plan: order, crop with zero fill, flip, rescale and normalize", async () => {
  const data = makeSplit(10);
  const plan = makePlan(10);
  const { order, cropY, cropX, flip } = plan.perEpoch[1];
  const batches = await Array.fromAsync(
    trainBatches(data, plan, { epoch: 1, batchSize: 4, mean: MEAN, std: STD }),
  );
  assert.deepEqual(batches.map((b) => b.size), [4, 4, 2], "the last partial batch is kept");
  const indices = batches.flatMap((b) => Array.from(b.indices));
  assert.deepEqual(indices, Array.from(order));
  for (const batch of batches) {
    assert.equal(batch.x.length, batch.size * 3072);
    batch.indices.forEach((i, k) => {
      assert.equal(batch.y[k], data.labels[i]);
      const expected = referenceAugment(
        data.images.subarray(i * 3072, (i + 1) * 3072),
        cropY[i],
        cropX[i],
        flip[i] === 1,
        4,
      );
      assert.deepEqual(batch.x.subarray(k * 3072, (k + 1) * 3072), expected, `image ${i}`);
    });
  }
});

Deno.test("trainBatches matches the reference for every crop offset and flip, for several paddings", async () => {
  for (const pad of [0, 2, 4, 6]) {
    const span = 2 * pad + 1;
    const count = span * span * 2;
    const data = makeSplit(count, pad + 10);
    const order = Uint32Array.from({ length: count }, (_, i) => count - 1 - i);
    const cropY = Uint8Array.from({ length: count }, (_, i) => Math.floor(i / 2 / span));
    const cropX = Uint8Array.from({ length: count }, (_, i) => Math.floor(i / 2) % span);
    const flip = Uint8Array.from({ length: count }, (_, i) => i % 2);
    const plan: AugmentPlan = {
      seed: 0,
      epochs: 1,
      count,
      cropPadding: pad,
      flipProbability: 0.5,
      perEpoch: [{ order, cropY, cropX, flip }],
    };
    for await (const batch of trainBatches(data, plan, { epoch: 0, batchSize: 64, mean: MEAN, std: STD })) {
      batch.indices.forEach((i, k) => {
        const image = data.images.subarray(i * 3072, (i + 1) * 3072);
        const expected = referenceAugment(image, cropY[i], cropX[i], flip[i] === 1, pad);
        assert.deepEqual(batch.x.subarray(k * 3072, (k + 1) * 3072), expected, `pad ${pad} image ${i}`);
      });
    }
  }
});

Deno.test("trainBatches: same seed and params give byte-identical batches; seed and epoch change them", async () => {
  const data = makeSplit(50);
  const run = (seed: number, epoch: number) =>
    hashBatches(trainBatches(data, makePlan(50, seed), { epoch, batchSize: 16, mean: MEAN, std: STD }));
  const a = await run(1, 0);
  const b = await run(1, 0);
  assert.equal(a.digest, b.digest);
  assert.deepEqual(a.sizes, [16, 16, 16, 2]);
  assert.notEqual((await run(2, 0)).digest, a.digest);
  assert.notEqual((await run(1, 1)).digest, a.digest);
});

Deno.test("trainBatches startStep resumes at that step with the same batches", async () => {
  const data = makeSplit(40);
  const plan = makePlan(40);
  const options = { epoch: 0, batchSize: 8, mean: MEAN, std: STD };
  const all = await Array.fromAsync(trainBatches(data, plan, options));
  const resumed = await Array.fromAsync(trainBatches(data, plan, { ...options, startStep: 3 }));
  assert.deepEqual(resumed, all.slice(3));
  assert.deepEqual(await Array.fromAsync(trainBatches(data, plan, { ...options, startStep: 5 })), []);
});

Deno.test("trainBatches makes at most `prefetch` batches ahead of the reader", async () => {
  const data = makeSplit(64);
  let touched = 0;
  const labels = new Proxy(data.labels, {
    get(target, key) {
      if (typeof key === "string" && /^\d+$/.test(key)) touched++;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const stream = trainBatches({ ...data, labels }, makePlan(64), {
    epoch: 0,
    batchSize: 4,
    mean: MEAN,
    std: STD,
    prefetch: 3,
  });
  // Wait for the producer by counting what it touched, not by sleeping: yield to the event loop until the
  // count has not moved for several turns in a row (a producer that ran ahead would keep it moving).
  const settled = async () => {
    for (let still = 0, last = -1, turns = 0; still < 5 && turns < 1000; turns++) {
      await new Promise((r) => setTimeout(r, 0));
      still = touched === last ? still + 1 : 0;
      last = touched;
    }
    return touched;
  };
  const reader = stream.getReader();
  assert.equal(await settled() / 4, 3, "three batches made before any read");
  await reader.read();
  assert.equal(await settled() / 4, 4, "one more after one read");
  await reader.cancel();
});

Deno.test("trainBatches rejects a plan for another split, an unplanned epoch and bad options", () => {
  const data = makeSplit(10);
  const options = { epoch: 0, batchSize: 4, mean: MEAN, std: STD };
  assert.throws(() => trainBatches(data, makePlan(11), options), /plan is for 11 images, the split has 10/);
  assert.throws(() => trainBatches(data, makePlan(10), { ...options, epoch: 2 }), /epoch 2 is not planned/);
  assert.throws(() => trainBatches(data, makePlan(10), { ...options, batchSize: 0 }), RangeError);
  assert.throws(() => trainBatches(data, makePlan(10), { ...options, std: [1, 0, 1] }), /std must be > 0/);
});

Deno.test("testBatches keeps record order, normalizes, and keeps the last partial batch", async () => {
  const data = makeSplit(7);
  const batches = await Array.fromAsync(testBatches(data, { batchSize: 3, mean: MEAN, std: STD }));
  assert.deepEqual(batches.map((b) => b.size), [3, 3, 1]);
  assert.deepEqual(batches.flatMap((b) => Array.from(b.indices)), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(batches.flatMap((b) => Array.from(b.y)), Array.from(data.labels));
  for (const batch of batches) {
    batch.indices.forEach((i, k) => {
      // No augmentation = a crop at the centre of the padded image without flip.
      const expected = referenceAugment(data.images.subarray(i * 3072, (i + 1) * 3072), 4, 4, false, 4);
      assert.deepEqual(batch.x.subarray(k * 3072, (k + 1) * 3072), expected);
    });
  }
});

Deno.test("readSplit reads the decode stage's files and rejects inconsistent ones", async () => {
  const dir = await tempRunDir();
  const data = makeSplit(3);
  await Deno.writeFile(join(dir, "test_images.u8"), data.images);
  await Deno.writeFile(join(dir, "test_labels.u8"), data.labels);
  assert.deepEqual(await readSplit(dir, "test"), data);
  await Deno.writeFile(join(dir, "test_labels.u8"), new Uint8Array([1, 2]));
  await assert.rejects(
    () => readSplit(dir, "test", { stage: "train" }),
    (err: unknown) =>
      err instanceof PipelineError && err.stage === "train" &&
      /test_images\.u8: 9216 bytes, expected 2 × 3072 for 2 labels$/.test(err.message),
  );
  await Deno.writeFile(join(dir, "test_labels.u8"), new Uint8Array([1, 12, 3]));
  await assert.rejects(() => readSplit(dir, "test"), /test_labels\.u8: label 1 must be < 10, got 12$/);
  await assert.rejects(
    () => readSplit(dir, "train"),
    /Cannot read .*train_images\.u8: no such file or directory$/,
  );
});
