/**
 * The training loop of the tutorial, top to bottom: Momentum SGD with the per-epoch cosine learning rate and
 * mean softmax cross-entropy; per epoch the mean loss and the test accuracy; the best (by test accuracy) and
 * last checkpoints; and resuming an interrupted run from its last checkpoint with its whole state (weights
 * with batch-norm statistics, momentum slots, epoch, step, and the position in the seeded data order). The
 * bookkeeping lives beside it: `reporter.ts` (metrics.jsonl, log lines, progress, ETA) and `checkpointer.ts`.
 *
 * Files written into `dir` (the run folder's `train/`, see the README's contract): `metrics.jsonl`,
 * `train.json`, `checkpoints/best/{model.json,weights.bin}`,
 * `checkpoints/last/{model.json,weights.bin,optimizer.json,optimizer.bin,state.json}`.
 *
 * @example
 * ```ts
 * import { createLogger } from "../core/mod.ts";
 * import { resolveConfig } from "../config/mod.ts";
 * import { selectBackend } from "../webgpu/mod.ts";
 * import type { TrainSources } from "./types.ts";
 * declare const sources: TrainSources;
 * const config = resolveConfig("smoke");
 * const log = createLogger();
 * const backend = await selectBackend("webgpu");
 * import { runTraining } from "./loop.ts";
 * const result = await runTraining(sources, { config, dir: "runs/a/train", log, backend });
 * console.log(result.bestEpoch, result.bestAccuracy);
 * ```
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { PipelineConfig } from "../config/mod.ts";
import { PipelineError, writeJsonAtomic } from "../core/mod.ts";
import type { Batch } from "../data/mod.ts";
import { BEST_CHECKPOINT, CHECKPOINT_PATHS, type EpochRecord, type TrainJson } from "../contract/mod.ts";
import {
  buildResNet,
  countTrainableParams,
  evaluateBatches,
  loadModel,
  loadOptimizerState,
} from "../model/mod.ts";
import { pipelineCensus } from "../webgpu/mod.ts";
import { Checkpointer } from "./checkpointer.ts";
import { describeDivergence, DivergenceWatch } from "./divergence.ts";
import { cosineDecayLr } from "./lr_schedule.ts";
import { MetricsLog } from "./metrics_log.ts";
import { TrainReporter } from "./reporter.ts";
import { createTrainStep, disposeOptimizer } from "./step.ts";
import { momentumOptimizer } from "./optimizer.ts";
import type {
  EpochSums,
  RunProgress,
  StepEvent,
  TrainLoopOptions,
  TrainSources,
  TrainState,
} from "./types.ts";

/** The config fields a training run's outputs depend on (a resume must match them). */
export function trainParams(config: PipelineConfig): Record<string, unknown> {
  return {
    seed: config.seed,
    arch: config.arch,
    width: config.width,
    numClasses: config.numClasses,
    pretrained: config.pretrained,
    backend: config.backend,
    kernels: config.kernels,
    epochs: config.epochs,
    batchSize: config.batchSize,
    evalBatchSize: config.evalBatchSize,
    lrMax: config.lrMax,
    lrMin: config.lrMin,
    decayEpochs: config.decayEpochs,
    momentum: config.momentum,
    maxStepsPerEpoch: config.maxStepsPerEpoch,
    mean: config.mean,
    std: config.std,
    trainLimit: config.trainLimit,
    testLimit: config.testLimit,
  };
}

/**
 * Train (or continue training) as the config says, writing everything into `options.dir`.
 *
 * @example
 * ```ts
 * import { createLogger } from "../core/mod.ts";
 * import { resolveConfig } from "../config/mod.ts";
 * import { selectBackend } from "../webgpu/mod.ts";
 * import type { TrainSources } from "./types.ts";
 * declare const sources: TrainSources;
 * const config = resolveConfig("smoke");
 * const [dir, log, backend] = ["runs/a/train", createLogger(), await selectBackend("webgpu")];
 * const result = await runTraining(sources, { config, dir, log, backend, resume: true });
 * ```
 */
export async function runTraining(sources: TrainSources, options: TrainLoopOptions): Promise<TrainJson> {
  const { config, dir, log } = options;
  const params = options.params ?? trainParams(config);
  const stepsPerEpoch = Math.min(sources.stepsPerEpoch, config.maxStepsPerEpoch ?? Infinity);
  if (!(stepsPerEpoch > 0)) {
    throw new PipelineError("train", `no training batches (train split has ${sources.trainCount} images)`);
  }
  const state = await Checkpointer.prepare(dir, {
    resume: options.resume === true,
    params,
    log,
    stepsPerEpoch,
  });
  const lastDir = join(dir, CHECKPOINT_PATHS.last);
  const metricsPath = join(dir, "metrics.jsonl");

  const optimizer = momentumOptimizer(config.lrMax, config.momentum);
  let model: tfl.LayersModel | null = null;
  let metrics: MetricsLog | null = null;
  try {
    if (state) {
      model = await loadModel(lastDir);
      await loadOptimizerState(lastDir, model, optimizer);
      metrics = await MetricsLog.open(metricsPath, { truncateTo: state.metricsBytes });
      log.info(
        `train: resuming from checkpoints/last at epoch ${state.next.epoch + 1}, step ${state.next.step} ` +
          `(${state.globalStep} steps done)`,
      );
    } else {
      model = options.createModel
        ? await options.createModel()
        : buildResNet(config.arch, { numClasses: config.numClasses, seed: config.seed, width: config.width });
      metrics = await MetricsLog.open(metricsPath, { truncate: true });
    }
    return await trainEpochs(sources, options, { state, model, optimizer, metrics, params, stepsPerEpoch });
  } finally {
    metrics?.close();
    disposeOptimizer(optimizer);
    model?.dispose();
  }
}

interface LoopParts {
  state: TrainState | null;
  model: tfl.LayersModel;
  optimizer: tf.MomentumOptimizer;
  metrics: MetricsLog;
  params: Record<string, unknown>;
  stepsPerEpoch: number;
}

const zeroSums = (): EpochSums => ({ lossSum: 0, steps: 0, images: 0, trainSeconds: 0, seconds: 0 });

async function trainEpochs(sources: TrainSources, options: TrainLoopOptions, parts: LoopParts) {
  const { config, dir, log, backend } = options;
  const { state, model, optimizer, metrics, params, stepsPerEpoch } = parts;
  const run: RunProgress = {
    epochs: state ? [...state.epochs] : [],
    bestEpoch: state?.bestEpoch ?? null,
    bestAccuracy: state?.bestAccuracy ?? null,
    globalStep: state?.globalStep ?? 0,
    diverged: state?.diverged ?? null,
  };
  const watch = new DivergenceWatch({ firstEpochLoss: state?.epochs[0]?.meanLoss, found: run.diverged });
  const reporter = new TrainReporter(metrics, {
    config,
    log,
    backend,
    totalSteps: stepsPerEpoch * config.epochs,
    testCount: sources.testCount,
    doneSteps: run.globalStep,
    doneEpochs: run.epochs.length,
  });
  const checkpointer = new Checkpointer(dir, {
    model,
    optimizer,
    metrics,
    reporter,
    params,
    everySteps: options.checkpointEverySteps,
    everySeconds: options.checkpointEverySeconds ?? 600,
  });
  const trainStep = createTrainStep(model, optimizer, config.numClasses);
  reporter.watchCompiles(backend.backend === "webgpu" ? pipelineCensus(tf.backend()) : null);
  await reporter.start({
    fresh: !state,
    stepsPerEpoch,
    trainCount: sources.trainCount,
    params: countTrainableParams(model),
  });

  for (let epoch = state?.next.epoch ?? 0; epoch < config.epochs; epoch++) {
    const lr = cosineDecayLr(epoch, config);
    optimizer.setLearningRate(lr);
    const resumed = state !== null && epoch === state.next.epoch;
    const sums = resumed ? { ...state!.partial } : zeroSums();
    const priorSeconds = sums.seconds;
    const epochStart = performance.now();
    const elapsed = () => priorSeconds + (performance.now() - epochStart) / 1000;
    const startStep = resumed ? state!.next.step : 0;
    reporter.beginEpoch(epoch, sums.images, Math.min(sources.trainCount, stepsPerEpoch * config.batchSize));

    const batches = sources.trainBatches(epoch, startStep).getReader();
    try {
      for (let step = startStep; step < stepsPerEpoch; step++) {
        const t0 = performance.now();
        const batch = await nextBatch(batches, epoch, step, stepsPerEpoch);
        const loss = await trainStep(batch);
        const seconds = (performance.now() - t0) / 1000;
        if (watch.step({ epoch: epoch + 1, step: step + 1, loss, lr })) {
          run.diverged = watch.found;
          log.warn(`train: ${describeDivergence(watch.found!)}`);
        }
        run.globalStep++;
        addStep(sums, { loss, images: batch.size, seconds });
        const event: StepEvent = {
          ...{ epoch: epoch + 1, step: step + 1, steps: stepsPerEpoch, globalStep: run.globalStep },
          ...{ loss, lr, size: batch.size, seconds, numTensors: tf.memory().numTensors },
        };
        await reporter.step(event);
        await options.onStep?.(event);
        if (step + 1 < stepsPerEpoch && checkpointer.due(step + 1)) {
          const point = { at: { epoch: epoch + 1, step: step + 1 }, next: { epoch, step: step + 1 } };
          await checkpointer.saveLast({ ...point, partial: { ...sums, seconds: elapsed() } }, run);
        }
      }
    } finally {
      await batches.cancel().catch(() => {});
    }
    reporter.endEpochTraining();

    const evaluation = await evaluateBatches(model, sources.testBatches(), {
      numClasses: config.numClasses,
      keepPredictions: true,
    });
    const record: EpochRecord = {
      epoch: epoch + 1,
      meanLoss: sums.steps > 0 ? sums.lossSum / sums.steps : NaN,
      testAccuracy: evaluation.accuracy,
      lr,
      seconds: elapsed(),
      imagesPerSecond: sums.trainSeconds > 0 ? sums.images / sums.trainSeconds : 0,
      steps: sums.steps,
    };
    run.epochs.push(record);
    await reporter.epoch(record, evaluation);
    if (run.bestAccuracy === null || record.testAccuracy > run.bestAccuracy) {
      run.bestAccuracy = record.testAccuracy;
      run.bestEpoch = record.epoch;
      const { numClasses, testLimit, evalBatchSize, mean, std } = config;
      await checkpointer.saveBest({
        epoch: record.epoch,
        settings: {
          numClasses,
          testLimit,
          evalBatchSize,
          mean: [...mean],
          std: [...std],
          testCount: evaluation.count,
        },
        predictions: evaluation.predictions,
      });
    }
    const point = { at: { epoch: epoch + 1, step: stepsPerEpoch }, next: { epoch: epoch + 1, step: 0 } };
    await checkpointer.saveLast({ ...point, partial: zeroSums() }, run);
  }

  const result = {
    epochs: run.epochs,
    bestEpoch: run.bestEpoch,
    bestAccuracy: run.bestAccuracy,
    bestCheckpoint: BEST_CHECKPOINT,
    backend: backend.backend,
    kernels: backend.kernels,
    adapter: backend.adapter,
    globalStep: run.globalStep,
    resumedFrom: state ? { epoch: state.next.epoch + 1, step: state.next.step } : null,
    diverged: run.diverged,
  } satisfies TrainJson;
  if (config.epochs > 0 && run.epochs.length > 0) await reporter.end(run.bestEpoch, run.bestAccuracy);
  await writeJsonAtomic(join(dir, "train.json"), result);
  return result;
}

/** The next batch of the epoch's stream; an early end is a fault. */
async function nextBatch(
  reader: ReadableStreamDefaultReader<Batch>,
  epoch: number,
  step: number,
  steps: number,
): Promise<Batch> {
  const next = await reader.read();
  if (next.done) {
    throw new PipelineError(
      "train",
      `the batch stream of epoch ${epoch + 1} ended after ${step} of ${steps} steps`,
    );
  }
  return next.value;
}

function addStep(sums: EpochSums, step: { loss: number; images: number; seconds: number }): void {
  sums.lossSum += step.loss;
  sums.steps++;
  sums.images += step.images;
  sums.trainSeconds += step.seconds;
}
