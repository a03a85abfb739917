/**
 * `train/checkpoints/best/scores.json`: the test split as the train stage scored it with the best weights,
 * written and read as one type, {@linkcode CheckpointScores}.
 *
 * @example
 * ```ts
 * import type { CheckpointScores } from "./checkpoint_scores.ts";
 * declare const scores: CheckpointScores;
 * console.log(scores.epoch, scores.predictions.length);
 * ```
 * @module
 */
import type { ScoredPrediction } from "./predictions.ts";

/**
 * `train/checkpoints/best/scores.json`: the test split as the train stage scored it with these very weights
 * (saved in the same atomic folder), and the settings it was scored with. The evaluate stage reuses it
 * instead of scoring the test split again when its own settings are the same.
 */
export interface CheckpointScores {
  /** 1-based epoch whose end the checkpoint is. */
  epoch: number;
  /** What the scores depend on besides the weights. */
  settings: {
    numClasses: number;
    testLimit: number | null;
    evalBatchSize: number;
    mean: number[];
    std: number[];
    testCount: number;
  };
  /** Every test image's prediction, in record order, probabilities unrounded. */
  predictions: ScoredPrediction[];
}
