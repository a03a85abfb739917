import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../lib/webgpu/backend.ts";
import {
  CHECKPOINT_FILES,
  loadModel,
  loadOptimizerState,
  readCheckpointState,
  saveCheckpoint,
} from "../lib/model/checkpoint.ts";
import { buildResNet } from "../lib/model/resnet.ts";
import { createTrainStep } from "../lib/train/step.ts";
import { syntheticBatch } from "../lib/data/synthetic_batch.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { injectWriteFault } from "../lib/core/atomic.ts";
import { createLogger } from "../lib/core/log.ts";
import { Checkpointer } from "../lib/train/checkpointer.ts";

await selectBackend("cpu");

/** A real `last` checkpoint of a tiny network after one step: weights, momentum slots and state. */
async function checkpoint(): Promise<string> {
  const dir = join(await Deno.makeTempDir({ prefix: "ckpt-faults-" }), "last");
  const model = buildResNet("tiny", { numClasses: 10, seed: 3 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  await createTrainStep(model, optimizer, 10)(syntheticBatch(4, 1, { label: (i) => i % 10 }));
  await saveCheckpoint(dir, model, { optimizer, state: { version: 1, next: { epoch: 1, step: 0 } } });
  model.dispose();
  optimizer.dispose();
  return dir;
}

async function rejectsOneLine(fn: () => Promise<unknown>, file: string, pattern: RegExp) {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof PipelineError, `a PipelineError, not ${err}`);
    assert.equal(err.stage, "train");
    assert.equal(err.exitCode, 1);
    assert.ok(!err.message.includes("\n"), err.message);
    assert.ok(err.message.includes(file), `names ${file}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("a truncated weights.bin is one line naming it", async () => {
  const dir = await checkpoint();
  const path = join(dir, CHECKPOINT_FILES.weights);
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 100));
  await rejectsOneLine(() => loadModel(dir), path, /holds \d+ bytes; model\.json describes \d+/);
});

Deno.test("a weight set to 1e30 (or NaN) is refused on load", async () => {
  for (const value of [1e30, NaN, -Infinity]) {
    const dir = await checkpoint();
    const path = join(dir, CHECKPOINT_FILES.weights);
    const bytes = await Deno.readFile(path);
    new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)[17] = value;
    await Deno.writeFile(path, bytes);
    await rejectsOneLine(
      () => loadModel(dir),
      path,
      /kernel\[17\] is \S+ \(a weight must be finite and within ±1000000\); the file is damaged$/,
    );
  }
});

Deno.test("a garbage state.json or model.json is one line naming it", async () => {
  const dir = await checkpoint();
  const state = join(dir, CHECKPOINT_FILES.state);
  await Deno.writeFile(state, new Uint8Array([0x7b, 0xff, 0x00, 0x13]));
  await rejectsOneLine(() => readCheckpointState(dir), state, /not valid JSON/);
  await Deno.writeTextFile(state, "[1, 2]");
  await rejectsOneLine(() => readCheckpointState(dir), state, /not a JSON object/);
  const model = join(dir, CHECKPOINT_FILES.model);
  await Deno.writeTextFile(model, '{"format": "layers-model"');
  await rejectsOneLine(() => loadModel(dir), model, /not valid JSON/);
});

Deno.test("a short optimizer.bin, or a non-finite momentum, is one line naming it", async () => {
  const dir = await checkpoint();
  const model = await loadModel(dir);
  const bin = join(dir, CHECKPOINT_FILES.optimizerWeights);
  const bytes = await Deno.readFile(bin);
  try {
    await Deno.writeFile(bin, bytes.subarray(0, 64));
    await rejectsOneLine(
      () => loadOptimizerState(dir, model, tf.train.momentum(0.05, 0.9)),
      bin,
      /holds 64 bytes; optimizer\.json describes \d+/,
    );
    const bad = bytes.slice();
    new Float32Array(bad.buffer)[3] = Infinity;
    await Deno.writeFile(bin, bad);
    await rejectsOneLine(
      () => loadOptimizerState(dir, model, tf.train.momentum(0.05, 0.9)),
      bin,
      /is Infinity/,
    );
    await Deno.writeFile(bin, bytes);
    assert.equal(
      await loadOptimizerState(dir, model, tf.train.momentum(0.05, 0.9)),
      true,
      "the intact one loads",
    );
  } finally {
    model.dispose();
  }
});

Deno.test("a full disk while saving a checkpoint is one line naming the file; the old checkpoint stays whole", async () => {
  const dir = await checkpoint();
  const before = await Deno.readFile(join(dir, CHECKPOINT_FILES.weights));
  const model = await loadModel(dir);
  const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
  injectWriteFault((path) => path.endsWith(CHECKPOINT_FILES.weights) ? full : null);
  try {
    await assert.rejects(() => saveCheckpoint(dir, model, { state: { version: 1 } }), (err: unknown) => {
      assert.ok(err instanceof PipelineError, `a PipelineError, not ${err}`);
      assert.equal(err.exitCode, 1);
      assert.equal(
        err.message,
        `Cannot write ${join(dir, CHECKPOINT_FILES.weights)}: no space left on the device`,
      );
      return true;
    });
  } finally {
    injectWriteFault(null);
    model.dispose();
  }
  assert.deepEqual(await Deno.readFile(join(dir, CHECKPOINT_FILES.weights)), before);
  const beside = await Array.fromAsync(Deno.readDir(join(dir, "..")), (e) => e.name);
  assert.deepEqual(beside, ["last"], "no temporary folder left beside it");
});

Deno.test("--resume: a state.json whose numbers cannot be where a run stopped is one line naming the value", async () => {
  const trainDir = await Deno.makeTempDir({ prefix: "ckpt-state-" });
  const last = join(trainDir, "checkpoints", "last");
  await Deno.mkdir(last, { recursive: true });
  const path = join(last, CHECKPOINT_FILES.state);
  const epoch = {
    epoch: 1,
    meanLoss: 2.1,
    testAccuracy: 0.3,
    lr: 0.01,
    seconds: 4,
    imagesPerSecond: 16,
    steps: 4,
  };
  const good = {
    version: 1,
    params: { epochs: 3 },
    next: { epoch: 1, step: 2 },
    globalStep: 6,
    partial: { lossSum: 4.2, steps: 2, images: 32, trainSeconds: 2, seconds: 2.5 },
    epochs: [epoch],
    bestEpoch: 1,
    bestAccuracy: 0.3,
    metricsBytes: 900,
    time: "2026-12-01T00:00:00.000Z",
  };
  const prepare = () =>
    Checkpointer.prepare(trainDir, {
      resume: true,
      params: { epochs: 3 },
      log: createLogger({ quiet: true }),
      stepsPerEpoch: 4,
    });
  try {
    await Deno.writeTextFile(path, JSON.stringify(good));
    assert.deepEqual((await prepare())?.next, { epoch: 1, step: 2 }, "an intact state resumes");
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ next: { epoch: -3, step: 0 } }, /next\.epoch is -3, not an epoch count from 0 to 10000/],
      [{ next: { epoch: 1, step: 4 } }, /next\.step is 4, not a step of an epoch of 4 \(0 to 3\)/],
      [{ next: { epoch: 1, step: 1.5 } }, /next\.step is 1\.5/],
      [{ globalStep: 1e300 }, /globalStep is 1e\+300, not a step count/],
      [{ metricsBytes: -1 }, /metricsBytes is -1, not a byte count/],
      [{ partial: { ...good.partial, lossSum: "x" } }, /partial\.lossSum is "x"/],
      [{ epochs: [] }, /epochs holds 0 finished epochs, next\.epoch says 1/],
      [{ epochs: [{ ...epoch, testAccuracy: 7 }] }, /epochs\[0\]\.testAccuracy is 7, over 1/],
      [{ bestEpoch: 5 }, /bestEpoch is 5, not one of the 1 finished epochs/],
      [{ bestAccuracy: -0.5 }, /bestAccuracy is -0\.5/],
    ];
    for (const [change, pattern] of cases) {
      await Deno.writeTextFile(path, JSON.stringify({ ...good, ...change }));
      await rejectsOneLine(prepare, path, pattern);
      await rejectsOneLine(prepare, path, /; the file is damaged$/);
    }
  } finally {
    await Deno.remove(trainDir, { recursive: true });
  }
});
