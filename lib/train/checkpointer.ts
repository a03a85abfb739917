/**
 * The training loop's checkpoints, beside the loop rather than in it: `checkpoints/last` (weights, momentum
 * slots and the loop's state, for resuming) when an epoch ends and, within an epoch, every N steps or
 * seconds; `checkpoints/best` when the test accuracy improves; and what a resume finds there.
 *
 * @example
 * ```ts
 * import { createLogger } from "../core/mod.ts";
 * const log = createLogger();
 * import { Checkpointer } from "./checkpointer.ts";
 * const state = await Checkpointer.prepare("runs/a/train", { resume: true, params: {}, log });
 * ```
 * @module
 */
import { join } from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { canonicalJson, type Logger, PipelineError } from "../core/mod.ts";
import { readCheckpointState, recoverCheckpoint, saveCheckpoint } from "../model/mod.ts";
import { CHECKPOINT_PATHS, CHECKPOINT_SCORES, type CheckpointScores } from "../contract/mod.ts";
import type { MetricsLog } from "./metrics_log.ts";
import type { TrainReporter } from "./reporter.ts";
import type { EpochSums, RunProgress, TrainState } from "./types.ts";

/** Options of {@linkcode Checkpointer}. */
export interface CheckpointerOptions {
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  metrics: MetricsLog;
  reporter: TrainReporter;
  /** The run's params, kept in `state.json` (a resume must match them). */
  params: Record<string, unknown>;
  /** Also save `last` every N steps within an epoch (null: only at epoch ends and by time). */
  everySteps?: number | null;
  /** Also save `last` within an epoch once this many seconds have passed since the last save. */
  everySeconds: number;
}

/** Saves `last` and `best` under `<dir>/checkpoints/`. */
export class Checkpointer {
  #dir: string;
  #options: CheckpointerOptions;
  #lastSave = performance.now();

  /** Checkpoints of the train stage's folder `dir`. */
  constructor(dir: string, options: CheckpointerOptions) {
    this.#dir = dir;
    this.#options = options;
  }

  /**
   * What a run starting in `dir` continues from: with `resume`, the state of `checkpoints/last` (checked
   * against `params`), or null when there is none; without, null, and every trace of an earlier attempt
   * (checkpoints, train.json) is removed first.
   */
  static async prepare(
    dir: string,
    options: { resume: boolean; params: Record<string, unknown>; log: Logger },
  ): Promise<TrainState | null> {
    let state: TrainState | null = null;
    if (options.resume) {
      await recoverCheckpoint(join(dir, CHECKPOINT_PATHS.last));
      await recoverCheckpoint(join(dir, CHECKPOINT_PATHS.best));
      state = await readCheckpointState<TrainState>(join(dir, CHECKPOINT_PATHS.last));
      if (state) checkResumable(state, options.params);
      else options.log.info("train: nothing to resume (no checkpoints/last); starting at epoch 1");
    }
    if (!state) {
      // A fresh run, or a resume with nothing to resume: nothing of an earlier attempt may survive.
      await Deno.remove(join(dir, "checkpoints"), { recursive: true }).catch(() => {});
      await Deno.remove(join(dir, "train.json")).catch(() => {});
    }
    return state;
  }

  /** Whether `last` is due after `stepsDone` steps of an epoch (by step count or by time). */
  due(stepsDone: number): boolean {
    const every = this.#options.everySteps;
    return (every != null && every > 0 && stepsDone % every === 0) ||
      (performance.now() - this.#lastSave) / 1000 >= this.#options.everySeconds;
  }

  /**
   * Save `last`: weights, momentum slots and the loop's state. `at` is the 1-based epoch and step just done
   * (for the metrics event); `next` is where a resume continues (0-based epoch, steps of it done).
   */
  async saveLast(
    point: { at: { epoch: number; step: number }; next: TrainState["next"]; partial: EpochSums },
    progress: RunProgress,
  ): Promise<void> {
    const { model, optimizer, metrics, reporter, params } = this.#options;
    await reporter.checkpoint("last", CHECKPOINT_PATHS.last, point.at.epoch, point.at.step);
    const state: TrainState = {
      version: 1,
      params,
      next: point.next,
      globalStep: progress.globalStep,
      partial: point.partial,
      epochs: [...progress.epochs],
      bestEpoch: progress.bestEpoch,
      bestAccuracy: progress.bestAccuracy,
      metricsBytes: metrics.bytes,
      time: new Date().toISOString(),
    };
    await saveCheckpoint(join(this.#dir, CHECKPOINT_PATHS.last), model, { optimizer, state });
    this.#lastSave = performance.now();
  }

  /** Save `best` (weights, and the test scores they earned) for the 1-based epoch of `scores`. */
  async saveBest(scores: CheckpointScores): Promise<void> {
    const epoch = scores.epoch;
    await saveCheckpoint(join(this.#dir, CHECKPOINT_PATHS.best), this.#options.model, {
      json: { [CHECKPOINT_SCORES]: scores },
    });
    await this.#options.reporter.checkpoint("best", CHECKPOINT_PATHS.best, epoch);
  }
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
