import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { createAugmentPlan, encodeAugmentPlan, PLAN_FILE } from "../lib/data/augment_plan.ts";
import { describeAdapter, selectBackend } from "../lib/webgpu/backend.ts";
import { trainBatches } from "../lib/data/batches.ts";
import { resolveConfig } from "../lib/config/config.ts";
import { createLogger } from "../lib/core/log.ts";
import { cosineDecayLr } from "../lib/train/lr_schedule.ts";
import { readMetricsLog } from "../lib/train/metrics_log.ts";
import { buildResNet } from "../lib/model/resnet.ts";
import type { StageContext } from "../lib/run/stage.ts";
import type { DecodeMeta } from "../lib/contract/mod.ts";
import { createTrainStep, disposeOptimizer } from "../lib/train/mod.ts";
import { runEvaluateStage } from "../pipeline/evaluate.ts";
import { runTrainStage } from "../pipeline/train.ts";
import { tinyLosses } from "./fixtures/tiny_losses.ts";

// Training runs on WebGPU, the project's backend. Without an adapter these tests cannot say anything.
const adapter = await describeAdapter();
if (!adapter) {
  console.error(
    "\n!!! tests/train_test.ts: NO WEBGPU ADAPTER (run with --unstable-webgpu and a Vulkan/GL driver); " +
      "the WebGPU training tests are SKIPPED !!!\n",
  );
} else {
  await selectBackend("webgpu");
}
const ignore = !adapter;

const CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/** Images whose colour and a bar position depend on the class, so a network can tell them apart. */
function makeImages(count: number, seed: number) {
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < count; i++) {
    const label = (i * 7 + seed) % 10;
    labels[i] = label;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const o = i * 3072 + (y * 32 + x) * 3;
        const bar = Math.abs(x - 3 * label - 2) < 2 ? 120 : 0;
        images[o] = Math.min(255, 20 * label + bar + rand() * 40);
        images[o + 1] = Math.min(255, 200 - 15 * label + rand() * 40);
        images[o + 2] = Math.min(255, (label % 3) * 80 + rand() * 40);
      }
    }
  }
  return { images, labels, count };
}

/** A run folder with decode/ and augment/ outputs as the upstream stages write them. */
async function makeRunDir(train: number, test: number, epochs: number, seed: number): Promise<string> {
  const runDir = await Deno.makeTempDir({ prefix: "train_test_" });
  const decode = join(runDir, "decode");
  await Deno.mkdir(decode, { recursive: true });
  for (const [split, count] of [["train", train], ["test", test]] as const) {
    const data = makeImages(count, split === "train" ? 1 : 2);
    await Deno.writeFile(join(decode, `${split}_images.u8`), data.images);
    await Deno.writeFile(join(decode, `${split}_labels.u8`), data.labels);
  }
  const meta = { classes: CLASSES, train: { count: train }, test: { count: test } } satisfies DecodeMeta;
  await Deno.writeTextFile(join(decode, "meta.json"), JSON.stringify(meta));
  const plan = createAugmentPlan({ seed, epochs, count: train, cropPadding: 4, flipProbability: 0.5 });
  await Deno.mkdir(join(runDir, "augment"), { recursive: true });
  await Deno.writeFile(join(runDir, "augment", PLAN_FILE), encodeAugmentPlan(plan));
  return runDir;
}

function context(
  runDir: string,
  stage: "train" | "evaluate",
  config: StageContext["config"],
  resume = false,
) {
  const lines: string[] = [];
  const ctx: StageContext = {
    config,
    dir: join(runDir, stage),
    runDir,
    cacheDir: join(runDir, ".cache"),
    resume,
    log: createLogger({ write: (line) => lines.push(line), tty: false }),
    input: (name) => join(runDir, name),
  };
  return { ctx, lines };
}

/** The parts of metrics.jsonl that must not depend on timing. */
function trajectory(events: Record<string, unknown>[]) {
  return events.map((e) => {
    const { time: _t, imagesPerSecond: _i, seconds: _s, tensors: _n, ...rest } = e;
    return rest;
  });
}

Deno.test({
  name: "a tiny ResNet's loss falls on a fixed batch on WebGPU, and the live tensor count stays constant",
  ignore,
  fn: async () => {
    const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
    const optimizer = tf.train.momentum(0.01, 0.9);
    try {
      const data = makeImages(16, 3);
      const plan = createAugmentPlan({ seed: 1, epochs: 1, count: 16, cropPadding: 4, flipProbability: 0.5 });
      const reader = trainBatches(data, plan, {
        epoch: 0,
        batchSize: 16,
        mean: [0.5, 0.5, 0.5],
        std: [0.25, 0.25, 0.25],
      })
        .getReader();
      const batch = (await reader.read()).value!;
      await reader.cancel();
      const step = createTrainStep(model, optimizer, 10);
      const losses: number[] = [];
      const tensors: number[] = [];
      for (let i = 0; i < 6; i++) {
        losses.push(await step(batch));
        tensors.push(tf.memory().numTensors);
      }
      assert.ok(losses[5] < 0.5 * losses[0], `loss did not fall: ${losses.map((l) => l.toFixed(3))}`);
      assert.ok(Math.abs(losses[0] - Math.log(10)) < 0.5, `first loss ${losses[0]} is far from ln 10`);
      assert.deepEqual(tensors, new Array(6).fill(tensors[0]), `live tensors changed: ${tensors}`);
    } finally {
      disposeOptimizer(optimizer);
      model.dispose();
    }
  },
});

Deno.test({
  name: "two processes with the same seed give bit-identical losses on WebGPU; another seed differs",
  ignore,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-webgpu",
        new URL("./fixtures/tiny_losses.ts", import.meta.url).pathname,
        "7",
        "3",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const here = await tinyLosses(7, 3);
    const other = await tinyLosses(8, 1);
    const { code, stdout } = await child.output();
    assert.equal(code, 0);
    const there = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
    assert.deepEqual(there, here);
    assert.notEqual(other[0], here[0]);
  },
});

Deno.test({
  name:
    "train stage: an interrupted run resumed with --resume gives the uninterrupted run's losses; evaluate agrees",
  ignore,
  sanitizeResources: false,
  fn: async () => {
    // 64 train images, batch 16: 4 steps an epoch, 2 epochs; 32 test images
    const config = resolveConfig("smoke", {
      seed: 3,
      trainLimit: 64,
      testLimit: 32,
      epochs: 2,
      batchSize: 16,
      evalBatchSize: 32,
      logEvery: 2,
      lrMax: 0.01,
      lrMin: 0.001,
    });
    const dirA = await makeRunDir(64, 32, 2, 3);
    const dirB = await makeRunDir(64, 32, 2, 3);
    try {
      // A: uninterrupted
      const a = context(dirA, "train", config);
      const tensorCounts: number[] = [];
      const tensorsBefore = tf.memory().numTensors;
      const summaryA = await runTrainStage(a.ctx, { onStep: (e) => void tensorCounts.push(e.numTensors) });
      assert.equal(summaryA.steps, 8);
      assert.equal(tf.memory().numTensors, tensorsBefore, "a finished run leaves no tensor behind");
      assert.deepEqual(
        tensorCounts.slice(1, 4),
        new Array(3).fill(tensorCounts[1]),
        `tensors: ${tensorCounts}`,
      );
      assert.ok(
        a.lines.some((l) =>
          /^Epoch: \[ {2}1\/ {2}2\], Steps: \[ {2}2\/ {2}4\], Train Loss: \[\d+\.\d{3}\]$/.test(l)
        ),
        `no tutorial-style step line in:\n${a.lines.join("\n")}`,
      );
      assert.ok(
        a.lines.some((l) => /^Epoch: \[ {2}2\/ {2}2\], Steps: \[ {2}4\/ {2}4\]/.test(l)),
        "last step is logged",
      );
      assert.ok(!a.lines.some((l) => /Steps: \[ {2}1\/ {2}4\]/.test(l)), "logEvery 2 skips step 1");

      // B: crashes during step 7 (epoch 2, step 3); checkpoints every 2 steps, so the last is epoch 2, step 2
      const b1 = context(dirB, "train", config);
      await assert.rejects(
        () =>
          runTrainStage(b1.ctx, {
            checkpointEverySteps: 2,
            onStep: (e) => {
              if (e.globalStep === 7) throw new Error("simulated crash");
            },
          }),
        /simulated crash/,
      );
      const state = JSON.parse(await Deno.readTextFile(join(dirB, "train/checkpoints/last/state.json")));
      assert.deepEqual(state.next, { epoch: 1, step: 2 });
      assert.equal(state.globalStep, 6);

      // B resumed
      const b2 = context(dirB, "train", config, true);
      const summaryB = await runTrainStage(b2.ctx);
      assert.deepEqual(summaryB.resumedFrom, { epoch: 2, step: 2 });
      assert.ok(b2.lines.some((l) => l.includes("resuming from checkpoints/last at epoch 2, step 2")));
      assert.equal(summaryB.steps, 8);

      const eventsA = await readMetricsLog(join(dirA, "train/metrics.jsonl"));
      const eventsB = await readMetricsLog(join(dirB, "train/metrics.jsonl"));
      const stepsA = eventsA.filter((e) => e.type === "step");
      const stepsB = eventsB.filter((e) => e.type === "step");
      assert.equal(stepsA.length, 8);
      assert.deepEqual(
        stepsB.map((e) => e.loss),
        stepsA.map((e) => e.loss),
        "resumed losses equal uninterrupted",
      );
      assert.deepEqual(
        trajectory(eventsB.filter((e) => e.type !== "checkpoint")),
        trajectory(eventsA.filter((e) => e.type !== "checkpoint")),
      );
      type Epoch = { epoch: number; meanLoss: number; testAccuracy: number; seconds: number };
      const untimed = (epochs: unknown) => (epochs as Epoch[]).map(({ seconds: _s, ...rest }) => rest);
      assert.deepEqual(untimed(summaryB.epochs), untimed(summaryA.epochs));
      assert.notEqual(stepsA[0].loss, stepsA[7].loss);
      const [lr0, lr1] = [cosineDecayLr(0, config), cosineDecayLr(1, config)];
      assert.ok(Math.abs(lr0 - 0.01) < 1e-15);
      assert.ok(Math.abs(lr1 - 0.0055) < 1e-12);
      assert.deepEqual(stepsA.map((e) => e.lr), [lr0, lr0, lr0, lr0, lr1, lr1, lr1, lr1]);

      const trainJson = JSON.parse(await Deno.readTextFile(join(dirB, "train/train.json")));
      assert.equal(trainJson.epochs.length, 2);
      assert.equal(trainJson.bestCheckpoint, "train/checkpoints/best");
      assert.equal(eventsB.at(-1)!.type, "end");
      assert.equal(eventsB.filter((e) => e.type === "start").length, 1);

      // evaluate: the best checkpoint in inference mode gives the accuracy logged for its epoch
      const ev = context(dirB, "evaluate", config);
      const tensorsBeforeEval = tf.memory().numTensors;
      const evaluation = await runEvaluateStage(ev.ctx, { reuse: false });
      assert.equal(tf.memory().numTensors, tensorsBeforeEval, "evaluate leaves no tensor behind");
      assert.equal(evaluation.accuracy, trainJson.bestAccuracy);
      assert.equal(evaluation.reused, undefined);
      // The scores saved with the checkpoint give the same files as scoring the test split again.
      const scored = await Promise.all(
        ["evaluation.json", "predictions.json"].map((f) => Deno.readTextFile(join(dirB, "evaluate", f))),
      );
      const reused = await runEvaluateStage(ev.ctx);
      assert.equal(reused.reused, "train/checkpoints/best/scores.json");
      assert.deepEqual(
        await Promise.all(
          ["evaluation.json", "predictions.json"].map((f) => Deno.readTextFile(join(dirB, "evaluate", f))),
        ),
        scored,
      );
      assert.equal(evaluation.count, 32);
      const evJson = JSON.parse(await Deno.readTextFile(join(dirB, "evaluate/evaluation.json")));
      assert.deepEqual(evJson.classes, CLASSES);
      assert.equal(evJson.confusion.flat().reduce((x: number, y: number) => x + y, 0), 32);
      assert.equal(evJson.perClass.length, 10);
      const predictions = JSON.parse(await Deno.readTextFile(join(dirB, "evaluate/predictions.json")));
      assert.equal(predictions.items.length, 32);
      const item = predictions.items[5];
      assert.equal(item.index, 5);
      assert.equal(item.probs.length, 10);
      assert.ok(Math.abs(item.probs.reduce((x: number, y: number) => x + y, 0) - 1) < 1e-4);
      assert.equal(item.pred, item.probs.indexOf(Math.max(...item.probs)));
    } finally {
      await Deno.remove(dirA, { recursive: true });
      await Deno.remove(dirB, { recursive: true });
    }
  },
});
