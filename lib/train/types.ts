/**
 * The training loop's interfaces: where batches come from, what a step reports, the state a checkpoint
 * keeps for resuming, and the options. What an epoch and the run report is the run-folder contract's
 * (`EpochRecord`, `TrainJson`).
 *
 * @example
 * ```ts
 * import type { TrainSources } from "./types.ts";
 * declare const sources: TrainSources;
 * console.log(sources.stepsPerEpoch);
 * ```
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { PipelineConfig } from "../config/mod.ts";
import type { Batch } from "../data/mod.ts";
import type { BackendInfo } from "../webgpu/mod.ts";
import type { EpochRecord } from "../contract/mod.ts";
import type { Logger } from "../core/mod.ts";
import type { Divergence } from "./divergence.ts";

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
  /** Images in the test split (for the run ETA before the first evaluation is timed). */
  testCount?: number;
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

/** The sums of an epoch in progress (all zero at an epoch boundary). */
export interface EpochSums {
  lossSum: number;
  steps: number;
  images: number;
  /** Seconds spent in steps (the batch wait included). */
  trainSeconds: number;
  /** Wall-clock seconds of the epoch so far, evaluation excluded. */
  seconds: number;
}

/** What the whole run has learnt so far: finished epochs, the best one, steps done. */
export interface RunProgress {
  epochs: EpochRecord[];
  bestEpoch: number | null;
  bestAccuracy: number | null;
  globalStep: number;
  /** Where the loss first went far above where it started; null while it has not. */
  diverged: Divergence | null;
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
  partial: EpochSums;
  /** Finished epochs. */
  epochs: EpochRecord[];
  bestEpoch: number | null;
  bestAccuracy: number | null;
  /** Bytes of `metrics.jsonl` when the checkpoint was taken; a resume drops what came after. */
  metricsBytes: number;
  /** Where the loss first went far above where it started (absent in older checkpoints). */
  diverged?: Divergence | null;
  /** When the checkpoint was taken (ISO). */
  time: string;
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
