/**
 * The train stage: the decoded splits and the seeded augment plan in; a trained ResNet out, as
 * `train/metrics.jsonl` (one event a line, written as it happens), `train/train.json` and
 * `train/checkpoints/{best,last}` (see the README's run-folder contract and lib/train_loop.ts).
 *
 * Resumable: with `--resume` it continues an interrupted run from `checkpoints/last` (weights, momentum
 * slots, epoch, step; the data order is a function of the plan and (epoch, step)), so that on the same
 * adapter the resumed run's losses equal an uninterrupted run's.
 *
 * @example
 * ```ts
 * import type { StageContext } from "../lib/run/mod.ts";
 * declare const ctx: StageContext;
 * import { trainStage } from "./train.ts";
 * const summary = await trainStage.run(ctx); // { bestEpoch, bestAccuracy, … }
 * ```
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { formatAdapter, resolveKernelSetFor, selectBackend } from "../lib/model/mod.ts";
import { readAugmentPlan, readSplit, testBatches, trainBatches } from "../lib/data/mod.ts";
import { PipelineError, plural } from "../lib/core/mod.ts";
import { sha256File } from "../lib/core/mod.ts";
import { describeOsError } from "../lib/core/mod.ts";
import { importPretrained } from "../lib/weights/mod.ts";
import { buildResNet } from "../lib/model/mod.ts";
import { limitSplit } from "../lib/data/mod.ts";
import type { StageContext, StageDefinition } from "../lib/run/mod.ts";
import { runTraining, type TrainLoopOptions, trainParams, type TrainSources } from "../lib/train/mod.ts";

/** Loop options a caller may add to a stage run (tests: a crash hook, frequent checkpoints). */
export type TrainExtras = Pick<
  TrainLoopOptions,
  "onStep" | "checkpointEverySteps" | "checkpointEverySeconds"
>;

/**
 * Run the train stage with extra loop options (what `trainStage.run` does with none).
 *
 * @example
 * ```ts
 * import type { StageContext } from "../lib/run/mod.ts";
 * declare const ctx: StageContext;
 * await runTrainStage(ctx, { checkpointEverySteps: 2 });
 * ```
 */
export async function runTrainStage(
  ctx: StageContext,
  extras: TrainExtras = {},
): Promise<Record<string, unknown>> {
  const { config, log } = ctx;
  const backend = await selectBackend(config.backend, { stage: "train", kernels: config.kernels });
  log.info(
    `train: backend ${backend.backend} (${backend.kernels} conv kernels, --kernels ${backend.kernelPolicy}), adapter: ${
      formatAdapter(backend.adapter)
    }`,
  );

  const decodeDir = ctx.input("decode");
  const train = limitSplit(await readSplit(decodeDir, "train"), config.trainLimit);
  const test = limitSplit(await readSplit(decodeDir, "test"), config.testLimit);
  const plan = await readAugmentPlan(ctx.input("augment"));
  if (plan.count !== train.count) {
    throw new PipelineError(
      "train",
      `the augment plan is for ${plan.count} images, the train split has ${train.count}`,
    );
  }
  if (plan.perEpoch.length < config.epochs) {
    throw new PipelineError(
      "train",
      `the augment plan covers ${plural(plan.perEpoch.length, "epoch")}, training needs ${config.epochs}`,
    );
  }
  const { mean, std, batchSize, evalBatchSize } = config;
  const sources: TrainSources = {
    trainCount: train.count,
    testCount: test.count,
    stepsPerEpoch: Math.ceil(train.count / batchSize),
    trainBatches: (epoch, startStep) => trainBatches(train, plan, { epoch, batchSize, mean, std, startStep }),
    testBatches: () => testBatches(test, { batchSize: evalBatchSize, mean, std }),
  };

  let pretrained: Record<string, unknown> | null = null;
  const createModel = async (): Promise<tfl.LayersModel> => {
    const source = config.pretrained;
    // torchvision/timm weights (safetensors) expect PyTorch's symmetric padding; MindSpore's, 'same'.
    const padding = source && /\.safetensors$/i.test(source) ? "torch" : "same";
    const model = buildResNet(config.arch, {
      numClasses: config.numClasses,
      seed: config.seed,
      padding,
      width: config.width,
    });
    if (source) {
      const report = await importPretrained(model, source, { log, cacheDir: ctx.cacheDir });
      log.info(`train: imported ${report.tensorsLoaded} tensors from ${report.file} (padding "${padding}")`);
      pretrained = {
        file: report.file,
        sha256: report.source.sha256,
        tensors: report.tensorsLoaded,
        padding,
      };
    }
    return model;
  };

  const result = await runTraining(sources, {
    config,
    dir: ctx.dir,
    log,
    backend,
    resume: ctx.resume,
    params: trainParams(config),
    createModel,
    ...extras,
  });
  const last = result.epochs.at(-1);
  return {
    bestEpoch: result.bestEpoch,
    bestAccuracy: result.bestAccuracy,
    bestCheckpoint: result.bestCheckpoint,
    epochs: result.epochs.map((e) => ({
      epoch: e.epoch,
      meanLoss: e.meanLoss,
      testAccuracy: e.testAccuracy,
      lr: e.lr,
      seconds: e.seconds,
    })),
    steps: result.globalStep,
    imagesPerSecond: last?.imagesPerSecond ?? null,
    backend: result.backend,
    kernels: result.kernels,
    adapter: result.adapter?.name ?? null,
    softwareAdapter: result.adapter?.isFallbackAdapter ?? null,
    resumedFrom: result.resumedFrom,
    diverged: result.diverged,
    ...(pretrained ? { pretrained } : {}),
  };
}

/**
 * What stands for the pretrained weights in the cache key: a local file by its SHA-256 (so an edited file
 * retrains even under the same name), a URL or the word "mindspore" by itself (downloads are cached and
 * checksummed by lib/pretrained_source.ts).
 */
async function pretrainedIdentity(source: string | null): Promise<unknown> {
  if (!source || /^(https?:|mindspore$)/.test(source)) return source;
  const path = source.startsWith("file:") ? new URL(source).pathname : source;
  try {
    return { file: path.split("/").pop(), sha256: await sha256File(path) };
  } catch (err) {
    throw new PipelineError("train", `Cannot read --pretrained ${source}: ${describeOsError(err)}`, {
      cause: err,
    });
  }
}

/** The train stage. */
export const trainStage: StageDefinition = {
  name: "train",
  deps: ["decode", "augment"],
  module: new URL(import.meta.url),
  params: async (config) => ({
    ...trainParams(config),
    // the policy (trainParams' kernels) and the set it resolves to on this machine's adapter
    kernelSet: await resolveKernelSetFor(config.backend, config.kernels),
    pretrained: await pretrainedIdentity(config.pretrained),
  }),
  resumable: true,
  run: (ctx) => runTrainStage(ctx),
};
