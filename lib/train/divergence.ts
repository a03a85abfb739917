/**
 * Telling a run that diverges: a loss that is not finite stops it with one line naming the step and the
 * learning rate; a loss far above where the run started (more than {@linkcode DIVERGENCE_FACTOR} times the
 * first step's loss, or the first epoch's mean for a resumed run) is warned about once, recorded in
 * train.json as `diverged`, and said in the end-of-run summary.
 *
 * @example
 * ```ts
 * import { DivergenceWatch } from "./divergence.ts";
 * const watch = new DivergenceWatch();
 * watch.step({ epoch: 1, step: 1, loss: 2.3, lr: 10 }); // null: the reference
 * watch.step({ epoch: 1, step: 2, loss: 4127, lr: 10 }); // { epoch: 1, step: 2, loss: 4127, … }
 * ```
 * @module
 */
import { PipelineError } from "../core/mod.ts";
import type { DivergenceRecord } from "../contract/mod.ts";

/** A loss more than this many times the reference counts as diverged. */
export const DIVERGENCE_FACTOR = 10;

/** Where a run's loss first went far above where it started (train.json's `diverged`). */
export type Divergence = DivergenceRecord;

/** One step as the watch sees it. */
export interface WatchedStep {
  epoch: number;
  step: number;
  loss: number;
  lr: number;
}

/**
 * The one line of a loss that is not finite, naming the step and its learning rate.
 *
 * @example
 * ```ts
 * throw nonFiniteLoss({ epoch: 1, step: 3, loss: NaN, lr: 10 });
 * // error: [train] the loss became NaN at epoch 1, step 3 (lr 10): training diverged; try a lower --lr-max
 * ```
 */
export function nonFiniteLoss(step: WatchedStep): PipelineError {
  return new PipelineError(
    "train",
    `the loss became ${step.loss} at epoch ${step.epoch}, step ${step.step} (lr ${step.lr}): ` +
      `training diverged; try a lower --lr-max`,
  );
}

/**
 * The warning, and the summary's line, for a run that diverged.
 *
 * @example
 * ```ts
 * describeDivergence({ epoch: 1, step: 2, loss: 4127, lr: 10, reference: 2.3, referenceOf: "first step" });
 * // "the loss is 4,127 at epoch 1, step 2 (lr 10), over 10× the first step's 2.30: the run diverged; …"
 * ```
 */
export function describeDivergence(d: Divergence): string {
  const loss = d.loss.toLocaleString("en-US", { maximumFractionDigits: d.loss < 100 ? 2 : 0 });
  return `the loss is ${loss} at epoch ${d.epoch}, step ${d.step} (lr ${d.lr}), over ${DIVERGENCE_FACTOR}× ` +
    `the ${d.referenceOf}'s ${d.reference.toFixed(2)}: the run diverged; try a lower --lr-max`;
}

/** Watches a run's step losses for divergence; finds it once. */
export class DivergenceWatch {
  #reference: number | null;
  #referenceOf: Divergence["referenceOf"];
  #found: Divergence | null;

  /**
   * A watch for a fresh run, or for a resumed one: `firstEpochLoss` is its first epoch's mean loss, and
   * `found` what an earlier part of the run already found.
   */
  constructor(options: { firstEpochLoss?: number | null; found?: Divergence | null } = {}) {
    const first = options.firstEpochLoss;
    this.#reference = typeof first === "number" && Number.isFinite(first) && first > 0 ? first : null;
    this.#referenceOf = this.#reference === null ? "first step" : "first epoch";
    this.#found = options.found ?? null;
  }

  /** What was found so far (null: nothing). */
  get found(): Divergence | null {
    return this.#found;
  }

  /**
   * Look at one step's loss: throws {@linkcode nonFiniteLoss} for NaN or ±Infinity; returns the divergence
   * when this step is the first far above the reference, else null.
   */
  step(step: WatchedStep): Divergence | null {
    if (!Number.isFinite(step.loss)) throw nonFiniteLoss(step);
    if (this.#reference === null) {
      if (step.loss > 0) this.#reference = step.loss;
      return null;
    }
    if (this.#found !== null || step.loss <= DIVERGENCE_FACTOR * this.#reference) return null;
    this.#found = { ...step, reference: this.#reference, referenceOf: this.#referenceOf };
    return this.#found;
  }
}
