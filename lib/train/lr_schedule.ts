/**
 * The tutorial's learning-rate schedule: MindSpore's `nn.cosine_decay_lr`, constant within an epoch.
 *
 * lr(e) = min + ½ · (max − min) · (1 + cos(π · min(e, decayEpochs) / decayEpochs)), for the 0-based epoch e.
 *
 * @example
 * ```ts
 * import { cosineDecayLr } from "./lr_schedule.ts";
 * cosineDecayLr(0, { lrMax: 1e-3, lrMin: 1e-5, decayEpochs: 5 }); // 0.001
 * ```
 * @module
 */

/** The parameters of the cosine schedule (the config's fields of the same names). */
export interface CosineSchedule {
  /** Learning rate of the first epoch. */
  lrMax: number;
  /** Learning rate the schedule decays to at `decayEpochs`. */
  lrMin: number;
  /** Epochs over which the cosine decays (> 0). */
  decayEpochs: number;
}

/**
 * The learning rate of 0-based `epoch` (every step of the epoch uses it).
 *
 * @example
 * ```ts
 * const schedule = { lrMax: 1e-3, lrMin: 1e-5, decayEpochs: 5 };
 * [0, 1, 2, 3, 4].map((e) => cosineDecayLr(e, schedule)); // [0.001, 0.000946…, 0.000802…, 0.000217…]
 * ```
 */
export function cosineDecayLr(epoch: number, schedule: CosineSchedule): number {
  const { lrMax, lrMin, decayEpochs } = schedule;
  if (!(decayEpochs > 0)) throw new RangeError(`decayEpochs must be > 0, got ${decayEpochs}`);
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`epoch must be an integer ≥ 0, got ${epoch}`);
  }
  const e = Math.min(epoch, decayEpochs);
  return lrMin + 0.5 * (lrMax - lrMin) * (1 + Math.cos((Math.PI * e) / decayEpochs));
}

/**
 * The per-step list MindSpore's `cosine_decay_lr(min_lr, max_lr, total_step, step_per_epoch, decay_epoch)`
 * returns: `totalSteps` learning rates, step i using epoch ⌊i / stepsPerEpoch⌋.
 *
 * @example
 * ```ts
 * cosineDecaySteps(4, { lrMax: 1e-3, lrMin: 1e-5, decayEpochs: 2, stepsPerEpoch: 2 }); // [1e-3, 1e-3, 5.05e-4, 5.05e-4]
 * ```
 */
export function cosineDecaySteps(
  totalSteps: number,
  schedule: CosineSchedule & { stepsPerEpoch: number },
): number[] {
  return Array.from(
    { length: totalSteps },
    (_, i) => cosineDecayLr(Math.floor(i / schedule.stepsPerEpoch), schedule),
  );
}
