import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../lib/webgpu/backend.ts";
import {
  CHECKPOINT_FILES,
  loadModel,
  loadOptimizerState,
  readCheckpointState,
  recoverCheckpoint,
  saveCheckpoint,
} from "../lib/model/checkpoint.ts";
import { buildResNet, namedWeights } from "../lib/model/resnet.ts";
import { createTrainStep } from "../lib/train/mod.ts";
import { syntheticBatch } from "../lib/data/synthetic_batch.ts";

// File I/O and exact round trips; the cpu backend is deterministic and needs no shader compiles.
await selectBackend("cpu");

function batch(seed: number, size = 4) {
  return syntheticBatch(size, seed, { label: (i) => (i * 3 + seed) % 10 });
}

async function logits(model: ReturnType<typeof buildResNet>, b: ReturnType<typeof batch>) {
  const t = tf.tidy(() => model.predict(tf.tensor4d(b.x, [b.size, 32, 32, 3])) as tf.Tensor);
  const values = await t.data();
  t.dispose();
  return values;
}

Deno.test("a checkpoint save/load round trip gives identical logits and weights", async () => {
  const dir = await Deno.makeTempDir();
  const model = buildResNet("tiny", { numClasses: 10, seed: 2 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  try {
    // one step so that batch-norm moving statistics and momentum slots hold real values
    await createTrainStep(model, optimizer, 10)(batch(1));
    const ckpt = join(dir, "checkpoints", "last");
    await saveCheckpoint(ckpt, model, { optimizer, state: { epoch: 1, step: 3 } });

    const files = (await Array.fromAsync(Deno.readDir(ckpt))).map((e) => e.name).sort();
    assert.deepEqual(files, Object.values(CHECKPOINT_FILES).sort());
    const parent = (await Array.fromAsync(Deno.readDir(join(dir, "checkpoints")))).map((e) => e.name);
    assert.deepEqual(parent, ["last"], "no temporary folders left behind");
    const json = JSON.parse(await Deno.readTextFile(join(ckpt, "model.json")));
    assert.equal(json.format, "layers-model");
    assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
    const specNames = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    assert.ok(specNames.includes("layer1.0.down_sample.1/moving_mean"));
    assert.ok(specNames.includes("fc/kernel"));
    assert.deepEqual(await readCheckpointState(ckpt), { epoch: 1, step: 3 });

    const loaded = await loadModel(ckpt);
    try {
      assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
      const probe = batch(7, 3);
      assert.deepEqual(await logits(loaded, probe), await logits(model, probe));
      const a = namedWeights(model), b = namedWeights(loaded);
      for (const [name, t] of a) assert.deepEqual(await b.get(name)!.data(), await t.data(), name);
    } finally {
      loaded.dispose();
    }
  } finally {
    optimizer.dispose();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimizer momentum slots survive a checkpoint: the next step is the same", async () => {
  const dir = await Deno.makeTempDir();
  const model = buildResNet("tiny", { numClasses: 10, seed: 4 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const restoredOptimizer = tf.train.momentum(0.05, 0.9);
  let restored: Awaited<ReturnType<typeof loadModel>> | null = null;
  try {
    const step = createTrainStep(model, optimizer, 10);
    await step(batch(1));
    await step(batch(2));
    await saveCheckpoint(dir, model, { optimizer });
    restored = await loadModel(dir);
    assert.equal(await loadOptimizerState(dir, restored, restoredOptimizer), true);
    assert.equal(restoredOptimizer.iterations, 2);

    const next = batch(3);
    const lossA = await step(next);
    const lossB = await createTrainStep(restored, restoredOptimizer, 10)(next);
    assert.equal(lossB, lossA);
    const a = namedWeights(model), b = namedWeights(restored);
    for (const [name, t] of a) assert.deepEqual(await b.get(name)!.data(), await t.data(), name);

    // a checkpoint without optimizer state says so
    const bare = join(dir, "bare");
    await saveCheckpoint(bare, model);
    const fresh = tf.train.momentum(0.05, 0.9);
    assert.equal(await loadOptimizerState(bare, model, fresh), false);
    fresh.dispose();
  } finally {
    restored?.dispose();
    optimizer.dispose();
    restoredOptimizer.dispose();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saving replaces a checkpoint whole; recoverCheckpoint repairs an interrupted swap", async () => {
  const dir = await Deno.makeTempDir();
  const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
  try {
    const ckpt = join(dir, "last");
    await saveCheckpoint(ckpt, model, { state: { n: 1 } });
    await saveCheckpoint(ckpt, model, { state: { n: 2 } });
    assert.deepEqual(await readCheckpointState(ckpt), { n: 2 });
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["last"]);

    // a crash between "rename old away" and "rename new in", with a half-written temporary folder beside it
    await Deno.rename(ckpt, `${ckpt}.old-123`);
    await Deno.mkdir(`${ckpt}.tmp-123-abc`);
    await Deno.writeTextFile(`${ckpt}.tmp-123-abc/model.json`, "{");
    await recoverCheckpoint(ckpt);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["last"]);
    assert.deepEqual(await readCheckpointState(ckpt), { n: 2 });
    const again = await loadModel(ckpt);
    again.dispose();

    // a truncated weights file is refused with the sizes
    const weights = join(ckpt, "weights.bin");
    const bytes = await Deno.readFile(weights);
    await Deno.writeFile(weights, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(() => loadModel(ckpt), /holds \d+ bytes; model.json describes \d+/);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
