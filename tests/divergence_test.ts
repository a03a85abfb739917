/**
 * A run that diverges says so: a loss that is not finite stops it with one line naming the step and the
 * learning rate; a loss far above where it started is warned about once and recorded in train.json, and
 * the end-of-run summary says the run diverged.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createAugmentPlan, encodeAugmentPlan, PLAN_FILE } from "../lib/data/augment_plan.ts";
import { resolveConfig } from "../lib/config/config.ts";
import { createLogger } from "../lib/core/log.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { selectBackend } from "../lib/webgpu/backend.ts";
import type { StageContext } from "../lib/run/stage.ts";
import { formatRunSummary, summarizeRun } from "../lib/run/mod.ts";
import { DIVERGENCE_FACTOR, DivergenceWatch } from "../lib/train/mod.ts";
import { runTrainStage } from "../pipeline/train.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";
import { readRun } from "../lib/dashboard/run_reader.ts";

Deno.test("DivergenceWatch: the first step is the reference; the first loss over 10× it is found once", () => {
  const watch = new DivergenceWatch();
  assert.equal(watch.step({ epoch: 1, step: 1, loss: 2.3, lr: 10 }), null);
  assert.equal(
    watch.step({ epoch: 1, step: 2, loss: 2.3 * DIVERGENCE_FACTOR, lr: 10 }),
    null,
    "10× is not over",
  );
  const found = watch.step({ epoch: 1, step: 3, loss: 4127.5, lr: 10 });
  assert.deepEqual(found, {
    epoch: 1,
    step: 3,
    loss: 4127.5,
    lr: 10,
    reference: 2.3,
    referenceOf: "first step",
  });
  assert.equal(watch.step({ epoch: 2, step: 1, loss: 9999, lr: 5 }), null, "warned once");
  assert.deepEqual(watch.found, found);
  assert.throws(
    () => watch.step({ epoch: 2, step: 2, loss: NaN, lr: 5 }),
    (err: unknown) =>
      err instanceof PipelineError && err.toLine() ===
        "error: [train] the loss became NaN at epoch 2, step 2 (lr 5): training diverged; try a lower --lr-max",
  );
  // a resumed run compares with its first epoch's mean
  const resumed = new DivergenceWatch({ firstEpochLoss: 2 });
  assert.equal(resumed.step({ epoch: 3, step: 1, loss: 21, lr: 1 })?.referenceOf, "first epoch");
});

Deno.test("the end-of-run summary and the run page say a run diverged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "divergence_summary_" });
  try {
    const run = await makeFixtureRun(join(dir, "r"), { visualize: false });
    const manifest = JSON.parse(await Deno.readTextFile(join(run.dir, "run.json")));
    manifest.stages.train.summary.diverged = { epoch: 1, step: 3, loss: 4127.5, lr: 10, reference: 2.3 };
    const text = formatRunSummary(summarizeRun(run.dir, manifest));
    assert.match(
      text,
      /\n {2}the run diverged: its loss reached 4,127\.5 at epoch 1, step 3 \(lr 10\); its accuracy says little, try a lower --lr-max\n/,
    );
    delete manifest.stages.train.summary.diverged;
    assert.doesNotMatch(formatRunSummary(summarizeRun(run.dir, manifest)), /diverged/);

    const trainJson = join(run.dir, "train", "train.json");
    const summary = JSON.parse(await Deno.readTextFile(trainJson));
    await Deno.writeTextFile(
      trainJson,
      JSON.stringify({ ...summary, diverged: { epoch: 1, step: 3, loss: 4127.5, lr: 10, reference: 2.3 } }),
    );
    const view = await readRun(dir, "r");
    assert.ok(
      view?.notes.includes(
        "the run diverged: its loss reached 4,127.5 at epoch 1, step 3 (lr 10); its accuracy says little",
      ),
      view?.notes.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** decode/ and augment/ outputs of `count` seeded images, as the upstream stages write them. */
async function makeRunDir(count: number, epochs: number): Promise<string> {
  const runDir = await Deno.makeTempDir({ prefix: "divergence_train_" });
  const decode = join(runDir, "decode");
  await Deno.mkdir(decode, { recursive: true });
  let s = 5;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (const split of ["train", "test"]) {
    const images = new Uint8Array(count * 3072).map(() => Math.floor(rand() * 256));
    const labels = new Uint8Array(count).map((_, i) => i % 10);
    await Deno.writeFile(join(decode, `${split}_images.u8`), images);
    await Deno.writeFile(join(decode, `${split}_labels.u8`), labels);
  }
  await Deno.writeTextFile(join(decode, "meta.json"), JSON.stringify({ classes: [..."abcdefghij"] }));
  const plan = createAugmentPlan({ seed: 1, epochs, count, cropPadding: 4, flipProbability: 0.5 });
  await Deno.mkdir(join(runDir, "augment"), { recursive: true });
  await Deno.writeFile(join(runDir, "augment", PLAN_FILE), encodeAugmentPlan(plan));
  return runDir;
}

async function train(lrMax: number, epochs: number) {
  const config = resolveConfig("smoke", {
    backend: "cpu",
    seed: 3,
    trainLimit: 32,
    testLimit: 32,
    epochs,
    batchSize: 8,
    evalBatchSize: 32,
    lrMax,
    lrMin: lrMax,
  });
  const runDir = await makeRunDir(32, epochs);
  const lines: string[] = [];
  const ctx: StageContext = {
    config,
    dir: join(runDir, "train"),
    runDir,
    cacheDir: join(runDir, ".cache"),
    resume: false,
    log: createLogger({ write: (line) => lines.push(line), tty: false }),
    input: (name) => join(runDir, name),
  };
  return { runDir, lines, run: () => runTrainStage(ctx) };
}

Deno.test({
  name:
    "train stage: --lr-max 10 is warned about once and recorded as diverged; a NaN loss stops the run in one line",
  sanitizeResources: false,
  fn: async () => {
    await selectBackend("cpu");
    const high = await train(10, 1);
    try {
      const summary = await high.run();
      const warnings = high.lines.filter((l) => l.startsWith("warning:"));
      assert.deepEqual(warnings, [
        "warning: train: the loss is 148 at epoch 1, step 2 (lr 10), over 10× the first step's 2.35: " +
        "the run diverged; try a lower --lr-max",
      ]);
      const recorded = JSON.parse(await Deno.readTextFile(join(high.runDir, "train", "train.json"))).diverged;
      assert.deepEqual(summary.diverged, recorded);
      assert.deepEqual([recorded.epoch, recorded.step, recorded.lr], [1, 2, 10]);
      assert.ok(recorded.loss > DIVERGENCE_FACTOR * recorded.reference, `loss ${recorded.loss}`);
    } finally {
      await Deno.remove(high.runDir, { recursive: true });
    }

    const wild = await train(1e6, 1);
    try {
      await assert.rejects(wild.run, (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.equal(
          err.toLine(),
          "error: [train] the loss became NaN at epoch 1, step 4 (lr 1000000): training diverged; try a lower --lr-max",
        );
        return true;
      });
    } finally {
      await Deno.remove(wild.runDir, { recursive: true });
    }
  },
});
