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
import { canonicalJson, type Logger, PipelineError, tempNameFor } from "../core/mod.ts";
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
    options: { resume: boolean; params: Record<string, unknown>; log: Logger; stepsPerEpoch?: number },
  ): Promise<TrainState | null> {
    let state: TrainState | null = null;
    if (options.resume) {
      await recoverCheckpoint(join(dir, CHECKPOINT_PATHS.last));
      await recoverCheckpoint(join(dir, CHECKPOINT_PATHS.best));
      state = await readCheckpointState<TrainState>(join(dir, CHECKPOINT_PATHS.last));
      if (state) {
        checkStateValues(state, {
          path: join(dir, CHECKPOINT_PATHS.last, "state.json"),
          stepsPerEpoch: options.stepsPerEpoch,
        });
        checkResumable(state, options.params, options.log);
        // Continuing past where the run stopped (a finished run given more epochs): the folder's files
        // may be hard links into the cache entry of the old key, which must stay as it was.
        await detachFiles(dir);
      } else options.log.info("train: nothing to resume (no checkpoints/last); starting at epoch 1");
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
      diverged: progress.diverged,
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

/** Give every file under `dir` its own copy (copy, then rename over), so writing it leaves other links alone. */
async function detachFiles(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await detachFiles(path);
    else if (entry.isFile && (await Deno.stat(path)).nlink !== 1) {
      const tmp = tempNameFor(path);
      await Deno.copyFile(path, tmp);
      await Deno.rename(tmp, path);
    }
  }
}

/**
 * Refuse a `state.json` whose numbers cannot be where a run stopped (a negative epoch, a step past the
 * epoch's end, a count that is not an integer, …): one line naming the file and the first such value,
 * rather than a fault deep in the loop.
 */
function checkStateValues(state: TrainState, options: { path: string; stepsPerEpoch?: number }): void {
  const bad = (what: string) =>
    new PipelineError("train", `Cannot load ${options.path}: ${what}; the file is damaged`);
  const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const finite = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  const show = (v: unknown) => JSON.stringify(v) ?? "missing";
  const s = state as unknown as Record<string, unknown>;
  if (s.version !== 1) return; // checkResumable names the version
  const next = (s.next ?? {}) as Record<string, unknown>;
  const steps = options.stepsPerEpoch;
  if (!count(next.epoch) || (next.epoch as number) > 10_000) {
    throw bad(`next.epoch is ${show(next.epoch)}, not an epoch count from 0 to 10000`);
  }
  if (!count(next.step) || (steps !== undefined && (next.step as number) >= steps)) {
    throw bad(
      `next.step is ${show(next.step)}, not a step of an epoch` +
        (steps !== undefined ? ` of ${steps} (0 to ${steps - 1})` : ""),
    );
  }
  if (!count(s.globalStep)) throw bad(`globalStep is ${show(s.globalStep)}, not a step count`);
  if (!count(s.metricsBytes)) throw bad(`metricsBytes is ${show(s.metricsBytes)}, not a byte count`);
  const partial = (s.partial ?? {}) as Record<string, unknown>;
  for (const key of ["steps", "images"]) {
    if (!count(partial[key])) throw bad(`partial.${key} is ${show(partial[key])}, not a count`);
  }
  for (const key of ["lossSum", "trainSeconds", "seconds"]) {
    if (!finite(partial[key])) throw bad(`partial.${key} is ${show(partial[key])}, not a finite number ≥ 0`);
  }
  if (!Array.isArray(s.epochs) || s.epochs.length !== next.epoch) {
    throw bad(
      `epochs holds ${Array.isArray(s.epochs) ? s.epochs.length : "no list of"} finished epochs, ` +
        `next.epoch says ${show(next.epoch)}`,
    );
  }
  s.epochs.forEach((e: Record<string, unknown>, i: number) => {
    if (e?.epoch !== i + 1) throw bad(`epochs[${i}].epoch is ${show(e?.epoch)}, not ${i + 1}`);
    for (const key of ["meanLoss", "testAccuracy", "lr", "seconds", "imagesPerSecond"]) {
      if (!finite(e[key])) throw bad(`epochs[${i}].${key} is ${show(e[key])}, not a finite number ≥ 0`);
    }
    if ((e.testAccuracy as number) > 1) throw bad(`epochs[${i}].testAccuracy is ${e.testAccuracy}, over 1`);
  });
  const done = s.epochs.length;
  if (
    s.bestEpoch !== null &&
    (!count(s.bestEpoch) || (s.bestEpoch as number) < 1 || (s.bestEpoch as number) > done)
  ) {
    throw bad(`bestEpoch is ${show(s.bestEpoch)}, not one of the ${done} finished epochs`);
  }
  const diverged = s.diverged as Record<string, unknown> | null | undefined;
  if (diverged != null && !["epoch", "step", "loss", "lr", "reference"].every((k) => finite(diverged[k]))) {
    throw bad(`diverged is ${show(diverged)}, not where a loss went far up`);
  }
  const best = s.bestAccuracy;
  if (best !== null && !(finite(best) && (best as number) <= 1)) {
    throw bad(`bestAccuracy is ${show(best)}, not an accuracy from 0 to 1`);
  }
}

/**
 * Whether `state` can be continued with `params`: the same params, except that `epochs` may grow (a
 * finished or interrupted run extended with `--resume --epochs N`). The epochs already trained keep their
 * learning rates, since `decayEpochs` must not change; epochs past `decayEpochs` train at `lrMin` (the cosine
 * schedule is clamped at its end, not restarted).
 */
function checkResumable(state: TrainState, params: Record<string, unknown>, log?: Logger) {
  if (state.version !== 1) {
    throw new PipelineError(
      "train",
      `Cannot resume: checkpoints/last/state.json has version ${state.version}`,
    );
  }
  const was = state.params ?? {};
  const keys = new Set([...Object.keys(was), ...Object.keys(params)]);
  const done = state.epochs.length;
  if (typeof was.epochs === "number" && typeof params.epochs === "number" && was.epochs !== params.epochs) {
    if (params.epochs < Math.max(done, state.next.epoch + (state.next.step > 0 ? 1 : 0))) {
      throw new PipelineError(
        "train",
        `Cannot resume with --epochs ${params.epochs}: checkpoints/last has ${done} epochs trained`,
      );
    }
    if (params.epochs > was.epochs) {
      const decay = Number(params.decayEpochs);
      const from = Math.max(decay, done) + 1;
      const floor = from === params.epochs ? `epoch ${from} trains` : `epochs ${from}–${params.epochs} train`;
      log?.info(
        `train: extending the run from ${was.epochs} to ${params.epochs} epochs (a new cache key); ` +
          `epochs 1–${was.epochs} keep their learning rates (decayEpochs stays ${decay})` +
          (params.epochs > decay
            ? `, and ${floor} at lrMin ${params.lrMin}: ` +
              `the cosine schedule has ended and stays at its floor`
            : ""),
      );
    }
    keys.delete("epochs");
  }
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
