/**
 * One epoch's figures, as `train/train.json` lists them and the `epoch` lines of `train/metrics.jsonl` carry
 * them. The training loop writes an {@linkcode EpochRecord}; {@linkcode parseEpochPoint} reads one back as an
 * {@linkcode EpochPoint}.
 *
 * @example
 * ```ts
 * import { parseEpochPoint } from "./epoch_record.ts";
 * parseEpochPoint({ epoch: 1, meanLoss: 2.1, testAccuracy: 0.3 })?.lr; // null
 * ```
 * @module
 */
import { finite, isObject, type Nullable, ordinal } from "./parsed.ts";

/** The largest epoch or step number a metrics line may carry (the CLI allows 10,000 epochs). */
export const MAX_EPOCH = 10_000;

/** One epoch's figures, as the training loop writes them. */
export type EpochRecord = {
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
};

/** One epoch's figures as readers see them: a missing or malformed figure is null. */
export type EpochPoint = Pick<EpochRecord, "epoch"> & Nullable<Omit<EpochRecord, "epoch" | "steps">>;

/**
 * Read one epoch's figures; null when it has no valid epoch number.
 *
 * @example
 * ```ts
 * parseEpochPoint({ epoch: 0, meanLoss: 2 }); // null: epochs count from 1
 * ```
 */
export function parseEpochPoint(v: unknown): EpochPoint | null {
  if (!isObject(v)) return null;
  const epoch = ordinal(v.epoch, MAX_EPOCH);
  if (epoch === null) return null;
  return {
    epoch,
    meanLoss: finite(v.meanLoss),
    testAccuracy: finite(v.testAccuracy),
    lr: finite(v.lr),
    seconds: finite(v.seconds),
    imagesPerSecond: finite(v.imagesPerSecond),
  };
}
