/**
 * The props the islands take: plain, serializable data (the server writes them into the page as JSON).
 * No imports, so the browser bundle pulls in nothing from the server side.
 *
 * @example
 * ```ts
 * import type { CurveData } from "./types.ts";
 * const curve: CurveData = { label: "quick", epochs: [], steps: [], stepsPerEpoch: null };
 * ```
 * @module
 */

/** One epoch of a curve. */
export interface EpochRow {
  epoch: number;
  meanLoss: number | null;
  testAccuracy: number | null;
}

/** One training step's loss. */
export interface StepRow {
  epoch: number;
  step: number;
  loss: number;
}

/** One run's curves. */
export interface CurveData {
  label: string;
  epochs: EpochRow[];
  steps: StepRow[];
  /** Steps in a whole epoch, when known (places step losses between epochs). */
  stepsPerEpoch: number | null;
}

/** One stage's row in the stage table. */
export interface StageRow {
  name: string;
  status: string;
  seconds: number | null;
  key: string | null;
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  outputs: number;
  bytes: number;
  error: string | null;
}

/** Where training is. */
export interface TrainProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number | null;
  epochs: number | null;
  loss: number | null;
}

/** What `/api/runs/:id/live` answers, and what the live islands start from. */
export interface LiveSnapshot {
  status: string;
  updatedAt: string | null;
  stages: StageRow[];
  curve: CurveData;
  progress: TrainProgress | null;
}

/** The test predictions, as columns (compact in the page). */
export interface PredictionColumns {
  index: number[];
  label: number[];
  pred: number[];
  /** Rounded to 4 decimals. */
  confidence: number[];
}
