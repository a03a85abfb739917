/**
 * The training loop of the tutorial: Momentum SGD, the per-epoch cosine learning rate, mean sparse softmax
 * cross-entropy; per-step log lines in the tutorial's shape and a progress bar; per-epoch mean loss and test
 * accuracy; `metrics.jsonl` written as events happen; the best (by test accuracy) and last checkpoints; and
 * resuming an interrupted run from its last checkpoint with its whole state (weights with batch-norm
 * statistics, momentum slots, epoch, step, and the position in the seeded data order).
 *
 * Files written into `dir` (the run folder's `train/`, see the README's contract): `metrics.jsonl`,
 * `train.json`, `checkpoints/best/{model.json,weights.bin}`,
 * `checkpoints/last/{model.json,weights.bin,optimizer.json,optimizer.bin,state.json}`.
 *
 * @example
 * ```ts
 * import { runTraining } from "./train_loop.ts";
 * const result = await runTraining(sources, { config, dir: "runs/a/train", log, backend });
 * console.log(result.bestEpoch, result.bestAccuracy);
 * ```
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { writeJsonAtomic } from "../core/mod.ts";
import type { BackendInfo } from "../model/mod.ts";
import {
  loadModel,
  loadOptimizerState,
  readCheckpointState,
  recoverCheckpoint,
  saveCheckpoint,
} from "../model/mod.ts";
import type { PipelineConfig } from "../config/mod.ts";
import { PipelineError } from "../core/mod.ts";
import { canonicalJson } from "../core/mod.ts";
import { formatDuration, type Logger } from "../core/mod.ts";
import { cosineDecayLr } from "./lr_schedule.ts";
import { MetricsLog } from "./metrics_log.ts";
import { evaluateBatches, inputShapeOf } from "../model/mod.ts";
import type { Batch } from "../data/mod.ts";
import { buildResNet, countTrainableParams } from "../model/mod.ts";

/** Where the loop's batches come from. */
export interface TrainSources {
  /** Images in the train split. */
  trainCount: number;
  /** Batches in one full pass over the train split (the last may be partial). */
  stepsPerEpoch: number;
  /**
   * The training batches of 0-based `epoch` from 0-based `startStep` on. They must be a function of
   * (epoch, step) alone (the seeded augment plan), so that a resumed run sees what an uninterrupted one saw.
   */
  trainBatches(epoch: number, startStep: number): ReadableStream<Batch>;
  /** The test split, in record order. */
  testBatches(): ReadableStream<Batch>;
}

/** A finished training step, as the `onStep` hook sees it. */
export interface StepEvent {
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps in this epoch. */
  steps: number;
  /** 1-based step counted over the whole run. */
  globalStep: number;
  /** Mean cross-entropy of the batch. */
  loss: number;
  /** Learning rate of the step. */
  lr: number;
  /** Images in the batch. */
  size: number;
  /** Wall-clock seconds of the step, waiting for the batch included. */
  seconds: number;
  /** `tf.memory().numTensors` after the step (constant from the second step on: no leak). */
  numTensors: number;
}

/** One epoch's figures (`train.json` epochs, `epoch` events). */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Mean of the epoch's step losses. */
  meanLoss: number;
  /** Accuracy on the test split after the epoch, in inference mode. */
  testAccuracy: number;
  /** The epoch's learning rate. */
  lr: number;
  /** Wall-clock seconds of the epoch, evaluation included. */
  seconds: number;
  /** Training images per second (evaluation not counted). */
  imagesPerSecond: number;
  /** Steps trained. */
  steps: number;
}

/** `checkpoints/last/state.json`: where to continue, and what was learnt so far. */
export interface TrainState {
  version: 1;
  /** The parameters the run was started with; a resume must have the same ones. */
  params: Record<string, unknown>;
  /** Where to continue: 0-based epoch and the steps of it already done. */
  next: { epoch: number; step: number };
  /** Steps done over the whole run. */
  globalStep: number;
  /** The unfinished epoch's sums so far (all zero at an epoch boundary). */
  partial: { lossSum: number; steps: number; images: number; trainSeconds: number; seconds: number };
  /** Finished epochs. */
  epochs: EpochRecord[];
  bestEpoch: number | null;
  bestAccuracy: number | null;
  /** Bytes of `metrics.jsonl` when the checkpoint was taken; a resume drops what came after. */
  metricsBytes: number;
  /** When the checkpoint was taken (ISO). */
  time: string;
}

/** What the loop returns (also the content of `train.json`). */
export interface TrainResult {
  epochs: EpochRecord[];
  bestEpoch: number | null;
  bestAccuracy: number | null;
  /** Run-folder path of the best checkpoint. */
  bestCheckpoint: string;
  backend: string;
  /** The webgpu conv kernels in use ("project" or "stock"). */
  kernels: BackendInfo["kernels"];
  adapter: BackendInfo["adapter"];
  /** Steps done over the whole run. */
  globalStep: number;
  /** Where this process started: null for a fresh run, else the checkpoint's position (1-based epoch). */
  resumedFrom: { epoch: number; step: number } | null;
}

/** Options of {@linkcode runTraining}. */
export interface TrainLoopOptions {
  /** The run's config (arch, numClasses, seed, epochs, batchSize, lr schedule, momentum, logEvery, …). */
  config: PipelineConfig;
  /** The stage's folder. */
  dir: string;
  /** Where log lines and the progress bar go. */
  log: Logger;
  /** The backend in use (recorded in the outputs; a software adapter gets an ETA warning). */
  backend: BackendInfo;
  /** Continue from `dir/checkpoints/last` if it exists. */
  resume?: boolean;
  /** What a resumed run must match (the stage's params); defaults to the config's training fields. */
  params?: Record<string, unknown>;
  /** Make the initial model; defaults to `buildResNet(config.arch, { numClasses, seed })`. */
  createModel?: () => Promise<tfl.LayersModel>;
  /** Also save `last` every N steps within an epoch (null: only at epoch ends and by time). */
  checkpointEverySteps?: number | null;
  /** Also save `last` within an epoch once this many seconds have passed since the last save (default 600). */
  checkpointEverySeconds?: number;
  /** Called after every step; throwing stops the run there (tests simulate a crash this way). */
  onStep?: (event: StepEvent) => void | Promise<void>;
}

/** The run-folder path of the best checkpoint, as train.json names it. */
export const BEST_CHECKPOINT = "train/checkpoints/best";

/** The config fields a training run's outputs depend on (a resume must match them). */
export function trainParams(config: PipelineConfig): Record<string, unknown> {
  return {
    seed: config.seed,
    arch: config.arch,
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
 * One training step: forward in training mode (batch norm on batch statistics, moving statistics updated),
 * mean sparse softmax cross-entropy, gradients, Momentum update. Returns the batch's loss. Every tensor it
 * makes is disposed; the optimizer's slots follow `model.trainableWeights` order (checkpoints rely on it).
 *
 * @example
 * ```ts
 * const step = createTrainStep(model, tf.train.momentum(1e-3, 0.9), 10);
 * const loss = await step(batch);
 * ```
 */
export function createTrainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  numClasses: number,
): (batch: Batch) => Promise<number> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const [h, w, c] = inputShapeOf(model);
  return async (batch) => {
    if (batch.x.length !== batch.size * h * w * c || batch.y.length !== batch.size) {
      throw new Error(`batch of ${batch.size} has ${batch.x.length} pixels and ${batch.y.length} labels`);
    }
    const x = tf.tensor4d(batch.x, [batch.size, h, w, c]);
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(batch.y, "int32"), numClasses), "float32"));
    try {
      const loss = optimizer.minimize(
        () => {
          const logits = model.apply(x, { training: true }) as tf.Tensor;
          return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        },
        true,
        vars,
      )!;
      try {
        return (await loss.data())[0];
      } finally {
        loss.dispose();
      }
    } finally {
      tf.dispose([x, y]);
    }
  };
}

/** "Epoch: [  1/  5], Steps: [  1/196], Train Loss: [2.301]" (the tutorial's log line). */
export function formatStepLine(
  epoch: number,
  epochs: number,
  step: number,
  steps: number,
  loss: number,
): string {
  const pad = (n: number) => String(n).padStart(3, " ");
  return `Epoch: [${pad(epoch)}/${pad(epochs)}], Steps: [${pad(step)}/${pad(steps)}], Train Loss: [${
    loss.toFixed(3)
  }]`;
}

/**
 * Train (or continue training) as the config says, writing everything into `options.dir`.
 *
 * @example
 * ```ts
 * const result = await runTraining(sources, { config, dir, log, backend, resume: true });
 * ```
 */
export async function runTraining(sources: TrainSources, options: TrainLoopOptions): Promise<TrainResult> {
  const { config, dir, log } = options;
  const params = options.params ?? trainParams(config);
  const lastDir = join(dir, "checkpoints", "last");
  const bestDir = join(dir, "checkpoints", "best");
  const metricsPath = join(dir, "metrics.jsonl");
  const stepsPerEpoch = Math.min(sources.stepsPerEpoch, config.maxStepsPerEpoch ?? Infinity);
  if (!(stepsPerEpoch > 0)) {
    throw new PipelineError("train", `no training batches (train split has ${sources.trainCount} images)`);
  }

  let state: TrainState | null = null;
  if (options.resume) {
    await recoverCheckpoint(lastDir);
    await recoverCheckpoint(bestDir);
    state = await readCheckpointState<TrainState>(lastDir);
    if (state) checkResumable(state, params);
    else log.info("train: nothing to resume (no checkpoints/last); starting at epoch 1");
  }
  if (!state) {
    // A fresh run, or a resume with nothing to resume: nothing of an earlier attempt may survive.
    await Deno.remove(join(dir, "checkpoints"), { recursive: true }).catch(() => {});
    await Deno.remove(join(dir, "train.json")).catch(() => {});
  }

  const optimizer = tf.train.momentum(config.lrMax, config.momentum);
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
        : buildResNet(config.arch, { numClasses: config.numClasses, seed: config.seed });
      metrics = await MetricsLog.open(metricsPath, { truncate: true });
    }
    return await trainLoop(sources, options, { state, model, optimizer, metrics, params, stepsPerEpoch });
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

async function trainLoop(
  sources: TrainSources,
  options: TrainLoopOptions,
  parts: LoopParts,
): Promise<TrainResult> {
  const { config, dir, log, backend } = options;
  const { state, model, optimizer, metrics, params, stepsPerEpoch } = parts;
  const lastDir = join(dir, "checkpoints", "last");
  const bestDir = join(dir, "checkpoints", "best");
  const resumedFrom = state ? { epoch: state.next.epoch + 1, step: state.next.step } : null;
  const epochs: EpochRecord[] = state ? [...state.epochs] : [];
  let bestEpoch = state?.bestEpoch ?? null;
  let bestAccuracy = state?.bestAccuracy ?? null;
  let globalStep = state?.globalStep ?? 0;
  const trainStep = createTrainStep(model, optimizer, config.numClasses);
  const checkpointEverySeconds = options.checkpointEverySeconds ?? 600;
  let lastSave = performance.now();
  const stepTimes: number[] = [];
  let etaWarned = false;
  const totalSteps = stepsPerEpoch * config.epochs;

  const snapshot = (next: TrainState["next"], partial: TrainState["partial"]): TrainState => ({
    version: 1,
    params,
    next,
    globalStep,
    partial,
    epochs: [...epochs],
    bestEpoch,
    bestAccuracy,
    metricsBytes: metrics.bytes,
    time: new Date().toISOString(),
  });
  const saveLast = async (
    epoch: number,
    step: number,
    next: TrainState["next"],
    partial: TrainState["partial"],
  ) => {
    await metrics.append({ type: "checkpoint", kind: "last", epoch, step, path: "checkpoints/last" });
    await saveCheckpoint(lastDir, model, { optimizer, state: snapshot(next, partial) });
    lastSave = performance.now();
  };

  if (!state) {
    await metrics.append({
      type: "start",
      time: new Date().toISOString(),
      epochs: config.epochs,
      stepsPerEpoch,
      batchSize: config.batchSize,
      trainCount: sources.trainCount,
      arch: config.arch,
      backend: backend.backend,
      adapter: backend.adapter,
      seed: config.seed,
    });
  }
  log.info(
    `train: ${config.arch}, ${countTrainableParams(model).toLocaleString("en-US")} trainable parameters; ` +
      `${config.epochs} epochs × ${stepsPerEpoch} steps of ${config.batchSize} images on ${backend.backend}`,
  );

  if (backend.adapter?.isFallbackAdapter && config.preset === "seed") {
    log.warn(
      `${backend.adapter.name} is a software WebGPU adapter: the full recipe will take a long time here ` +
        `(an estimate follows the second step). --preset quick runs every stage in under 10 minutes.`,
    );
  }

  for (let epoch = state?.next.epoch ?? 0; epoch < config.epochs; epoch++) {
    const lr = cosineDecayLr(epoch, config);
    optimizer.setLearningRate(lr);
    const resumed = state !== null && epoch === state.next.epoch;
    const partial = resumed
      ? { ...state!.partial }
      : { lossSum: 0, steps: 0, images: 0, trainSeconds: 0, seconds: 0 };
    const priorSeconds = partial.seconds;
    const startStep = resumed ? state!.next.step : 0;
    const epochStart = performance.now();
    const epochImages = Math.min(sources.trainCount, stepsPerEpoch * config.batchSize);
    const bar = log.progress(`train epoch ${epoch + 1}/${config.epochs}`, { unit: "img" });
    let seen = partial.images;

    if (startStep < stepsPerEpoch) {
      const reader = sources.trainBatches(epoch, startStep).getReader();
      try {
        for (let step = startStep; step < stepsPerEpoch; step++) {
          const t0 = performance.now();
          const next = await reader.read();
          if (next.done) {
            throw new PipelineError(
              "train",
              `the batch stream of epoch ${epoch + 1} ended after ${step} of ${stepsPerEpoch} steps`,
            );
          }
          const batch = next.value;
          const loss = await trainStep(batch);
          const seconds = (performance.now() - t0) / 1000;
          if (!Number.isFinite(loss)) {
            throw new PipelineError(
              "train",
              `the loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}`,
            );
          }
          globalStep++;
          partial.lossSum += loss;
          partial.steps++;
          partial.images += batch.size;
          partial.trainSeconds += seconds;
          seen += batch.size;
          stepTimes.push(seconds);
          const numTensors = tf.memory().numTensors;
          const event: StepEvent = {
            epoch: epoch + 1,
            step: step + 1,
            steps: stepsPerEpoch,
            globalStep,
            loss,
            lr,
            size: batch.size,
            seconds,
            numTensors,
          };
          await metrics.append({
            type: "step",
            epoch: epoch + 1,
            step: step + 1,
            globalStep,
            loss,
            lr,
            imagesPerSecond: batch.size / seconds,
            tensors: numTensors,
            time: new Date().toISOString(),
          });
          bar.update(seen, epochImages, `loss ${loss.toFixed(3)}`);
          if ((step + 1) % config.logEvery === 0 || step + 1 === stepsPerEpoch) {
            log.info(formatStepLine(epoch + 1, config.epochs, step + 1, stepsPerEpoch, loss));
          }
          if (!etaWarned && backend.adapter?.isFallbackAdapter && stepTimes.length >= 2) {
            etaWarned = true;
            warnSoftwareEta(log, backend, stepTimes, totalSteps - globalStep, config);
          }
          await options.onStep?.(event);
          const everySteps = options.checkpointEverySteps;
          const due = (everySteps != null && everySteps > 0 && (step + 1) % everySteps === 0) ||
            (performance.now() - lastSave) / 1000 >= checkpointEverySeconds;
          if (due && step + 1 < stepsPerEpoch) {
            const soFar = { ...partial, seconds: priorSeconds + (performance.now() - epochStart) / 1000 };
            await saveLast(epoch + 1, step + 1, { epoch, step: step + 1 }, soFar);
          }
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }
    bar.done();

    const evaluation = await evaluateBatches(model, sources.testBatches(), {
      numClasses: config.numClasses,
    });
    const record: EpochRecord = {
      epoch: epoch + 1,
      meanLoss: partial.steps > 0 ? partial.lossSum / partial.steps : NaN,
      testAccuracy: evaluation.accuracy,
      lr,
      seconds: priorSeconds + (performance.now() - epochStart) / 1000,
      imagesPerSecond: partial.trainSeconds > 0 ? partial.images / partial.trainSeconds : 0,
      steps: partial.steps,
    };
    epochs.push(record);
    await metrics.append({ type: "epoch", ...record, time: new Date().toISOString() });
    log.info(
      `Epoch: [${String(epoch + 1).padStart(3)}/${String(config.epochs).padStart(3)}], ` +
        `Average Train Loss: [${record.meanLoss.toFixed(3)}], Accuracy: [${
          record.testAccuracy.toFixed(3)
        }] ` +
        `(${evaluation.correct}/${evaluation.count} test images, ${formatDuration(record.seconds)}, ` +
        `${record.imagesPerSecond.toFixed(2)} img/s)`,
    );
    if (bestAccuracy === null || record.testAccuracy > bestAccuracy) {
      bestAccuracy = record.testAccuracy;
      bestEpoch = record.epoch;
      await saveCheckpoint(bestDir, model);
      await metrics.append({
        type: "checkpoint",
        kind: "best",
        epoch: epoch + 1,
        path: "checkpoints/best",
      });
    }
    const zero = { lossSum: 0, steps: 0, images: 0, trainSeconds: 0, seconds: 0 };
    await saveLast(epoch + 1, stepsPerEpoch, { epoch: epoch + 1, step: 0 }, zero);
  }

  const result: TrainResult = {
    epochs,
    bestEpoch,
    bestAccuracy,
    bestCheckpoint: BEST_CHECKPOINT,
    backend: backend.backend,
    kernels: backend.kernels,
    adapter: backend.adapter,
    globalStep,
    resumedFrom,
  };
  if (config.epochs > 0 && epochs.length > 0) {
    await metrics.append({ type: "end", bestEpoch, bestAccuracy, time: new Date().toISOString() });
  }
  await writeJsonAtomic(join(dir, "train.json"), result);
  return result;
}

/**
 * Dispose an optimizer whole. tfjs's `MomentumOptimizer.dispose()` forgets the learning-rate scalar its
 * parent class keeps (one tensor leaked per optimizer), so dispose that too.
 *
 * @example
 * ```ts
 * disposeOptimizer(tf.train.momentum(1e-3, 0.9));
 * ```
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  const c = (optimizer as unknown as { c?: tf.Tensor }).c;
  optimizer.dispose();
  if (c && !c.isDisposed) c.dispose();
}

function checkResumable(state: TrainState, params: Record<string, unknown>) {
  if (state.version !== 1) {
    throw new PipelineError(
      "train",
      `Cannot resume: checkpoints/last/state.json has version ${state.version}`,
    );
  }
  const was = state.params ?? {};
  const keys = new Set([...Object.keys(was), ...Object.keys(params)]);
  for (const key of keys) {
    if (canonicalJson(was[key]) !== canonicalJson(params[key])) {
      throw new PipelineError(
        "train",
        `Cannot resume: checkpoints/last was trained with ${key} ${canonicalJson(was[key])}, this run has ` +
          `${canonicalJson(params[key])}; run without --resume to start over`,
      );
    }
  }
}

function warnSoftwareEta(
  log: Logger,
  backend: BackendInfo,
  stepTimes: number[],
  remainingSteps: number,
  config: PipelineConfig,
) {
  // The first step compiles shaders; the median of the later ones is the steady pace.
  const steady = stepTimes.slice(1).sort((a, b) => a - b);
  const perStep = steady[Math.floor(steady.length / 2)];
  const seconds = perStep * remainingSteps;
  const line =
    `${backend.adapter?.name} is a software WebGPU adapter: ${(config.batchSize / perStep).toFixed(2)} ` +
    `img/s, so the remaining ${remainingSteps} steps take about ${formatDuration(seconds)} (plus evaluation)`;
  if (config.preset === "seed" || seconds > 1800) {
    log.warn(`${line}. For a run of every stage in under 10 minutes use --preset quick.`);
  } else {
    log.info(line);
  }
}
