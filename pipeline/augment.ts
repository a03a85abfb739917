/**
 * The augment stage writes a plan, not augmented pixels: every epoch's seeded global shuffle, RandomCrop
 * offsets (pad with zeros, crop 32) and RandomHorizontalFlip decisions for the train split (`plan.bin`,
 * digests in `augment.json`), and a few train images augmented by that plan for the sample grid
 * (`samples.u8` + `samples.json`).
 *
 * The pixels are augmented when the train stage makes its batches: `trainBatches` (lib/data/batches.ts)
 * crops and flips each image as the plan says, rescales by 1/255 and normalizes. The plan itself does not
 * depend on the normalization constants.
 *
 * @example
 * ```ts
 * import type { StageContext } from "../lib/run/mod.ts";
 * import { resolveConfig } from "../lib/config/mod.ts";
 * declare const ctx: StageContext;
 * const config = resolveConfig("quick");
 * import { augmentStage } from "./augment.ts";
 * augmentStage.params(config); // { seed: 1, epochs: 2, cropPadding: 4, flipProbability: 0.5, trainLimit: 256 }
 * await augmentStage.run(ctx); // writes augment.json, plan.bin, samples.u8, samples.json
 * ```
 * @module
 */
import { join } from "node:path";
import { describeOsError, PipelineError, plural, writeFileAtomic } from "../lib/core/mod.ts";
import {
  createAugmentPlan,
  encodeAugmentPlan,
  epochDigests,
  IMAGE_BYTES,
  PLAN_FILE,
  readSplit,
  trainBatches,
} from "../lib/data/mod.ts";
import type { StageDefinition } from "../lib/run/mod.ts";
import type { SamplesJson } from "../lib/contract/mod.ts";

/** How many augmented train images go to the sample grid. */
export const SAMPLE_COUNT = 16;

/** The augment stage: writes the plan; the train stage augments the pixels as it makes its batches. */
export const augmentStage: StageDefinition = {
  name: "augment",
  deps: ["decode"],
  module: new URL(import.meta.url),
  params: (config) => ({
    seed: config.seed,
    epochs: config.epochs,
    cropPadding: config.cropPadding,
    flipProbability: config.flipProbability,
    trainLimit: config.trainLimit,
  }),
  async run(ctx) {
    const { seed, epochs, cropPadding, flipProbability } = ctx.config;
    const train = await readSplit(ctx.input("decode"), "train", { stage: "augment" });
    let plan;
    try {
      plan = createAugmentPlan({ seed, epochs, count: train.count, cropPadding, flipProbability });
    } catch (err) {
      throw new PipelineError("augment", `Cannot plan the augmentation: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const digests = await epochDigests(plan);

    // The first images of epoch 0, as the network sees them, brought back to uint8 (identity normalization).
    const sampleCount = Math.min(SAMPLE_COUNT, train.count);
    const samples = new Uint8Array(sampleCount * IMAGE_BYTES);
    const indices: number[] = [];
    const labels: number[] = [];
    if (sampleCount > 0 && epochs > 0) {
      const stream = trainBatches(train, plan, {
        epoch: 0,
        batchSize: sampleCount,
        mean: [0, 0, 0],
        std: [1, 1, 1],
        prefetch: 0,
      });
      const reader = stream.getReader();
      const { value: batch } = await reader.read();
      await reader.cancel();
      if (batch) {
        for (let i = 0; i < batch.x.length; i++) samples[i] = Math.round(batch.x[i] * 255);
        indices.push(...batch.indices);
        labels.push(...batch.y);
      }
    }

    const info = {
      seed,
      epochs,
      count: train.count,
      cropPadding,
      flipProbability,
      transforms: [
        `RandomCrop(32, padding=${cropPadding}, fill=0)`,
        `RandomHorizontalFlip(p=${flipProbability})`,
        "Rescale(1/255)",
        "Normalize(mean, std)",
      ],
      rng: 'sfc32 keyed by splitmix32 from (seed, "augment/epoch/<e>")',
      planFile: PLAN_FILE,
      perEpoch: digests.map((sha256, epoch) => ({
        epoch,
        sha256,
        firstIndices: Array.from(plan.perEpoch[epoch].order.subarray(0, 8)),
      })),
    };
    const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
    const outputs: [string, Uint8Array | string][] = [
      [PLAN_FILE, encodeAugmentPlan(plan)],
      ["samples.u8", samples.subarray(0, indices.length * IMAGE_BYTES)],
      ["samples.json", json({ count: indices.length, epoch: 0, indices, labels } satisfies SamplesJson)],
      ["augment.json", json(info)],
    ];
    for (const [name, data] of outputs) {
      const path = join(ctx.dir, name);
      await writeFileAtomic(path, data).catch((err) => {
        throw new PipelineError("augment", `Cannot write ${path}: ${describeOsError(err)}`, { cause: err });
      });
    }
    ctx.log.info(
      `augment: wrote the plan of ${plural(epochs, "epoch")} × ${
        plural(train.count, "image")
      } (seed ${seed}); ` +
        `the train stage crops and flips the pixels as it makes its batches`,
    );
    return { count: train.count, epochs, samples: indices.length, digests };
  },
};
