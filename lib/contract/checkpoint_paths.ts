/**
 * Where the train stage keeps its checkpoints: `checkpoints/best` (the weights with the best test accuracy,
 * and the scores they earned) and `checkpoints/last` (what a resume continues from).
 *
 * @example
 * ```ts
 * import { BEST_CHECKPOINT, CHECKPOINT_PATHS } from "./checkpoint_paths.ts";
 * console.log(`runs/a/train/${CHECKPOINT_PATHS.last}`, `runs/a/${BEST_CHECKPOINT}`);
 * ```
 * @module
 */

/** The train stage's checkpoint folders, relative to its folder (`<run>/train/`). */
export const CHECKPOINT_PATHS = { best: "checkpoints/best", last: "checkpoints/last" } as const;
/** The file inside `checkpoints/best/` with the test scores that checkpoint earned when it was saved. */
export const CHECKPOINT_SCORES = "scores.json";
/** The run-folder path of the best checkpoint, as train.json names it. */
export const BEST_CHECKPOINT = `train/${CHECKPOINT_PATHS.best}`;
