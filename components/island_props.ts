/**
 * Turns what the run reader read into the islands' serializable props.
 *
 * @example
 * ```ts
 * import type { RunView } from "@/lib/dashboard/mod.ts";
 * declare const view: RunView;
 * import { curveData } from "./island_props.ts";
 * const curve = curveData("quick", view.epochs, view.metrics);
 * ```
 * @module
 */
import type { EpochPoint, Predictions, StageName, StageRecord, TrainMetrics } from "@/lib/contract/mod.ts";
import type { CurveData, LiveSnapshot, PredictionColumns, StageRow, TrainProgress } from "@/islands/types.ts";

function countOf(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : null;
}

/** One run's curve: epochs plus the step losses of metrics.jsonl. */
export function curveData(label: string, epochs: EpochPoint[], metrics: TrainMetrics | null): CurveData {
  return {
    label,
    epochs: epochs.map((e) => ({ epoch: e.epoch, meanLoss: e.meanLoss, testAccuracy: e.testAccuracy })),
    steps: (metrics?.steps ?? []).map((s) => ({ epoch: s.epoch, step: s.step, loss: s.loss })),
    stepsPerEpoch: countOf(metrics?.start?.stepsPerEpoch),
  };
}

/** The stage table's rows. */
export function stageRows(stages: { name: StageName; record: StageRecord | null }[]): StageRow[] {
  return stages.map(({ name, record }) => ({
    name,
    status: record?.status ?? "missing",
    seconds: record?.seconds ?? null,
    key: record?.key ?? null,
    reason: record?.reason ?? null,
    startedAt: record?.startedAt ?? null,
    finishedAt: record?.finishedAt ?? null,
    outputs: record?.outputs?.length ?? 0,
    bytes: (record?.outputs ?? []).reduce((a, o) => a + o.bytes, 0),
    error: record?.error ?? null,
  }));
}

/** Where training is, from the last step line. */
export function trainProgress(metrics: TrainMetrics | null): TrainProgress | null {
  const last = metrics?.steps.at(-1);
  if (!last) return null;
  return {
    epoch: last.epoch,
    step: last.step,
    stepsPerEpoch: countOf(metrics?.start?.stepsPerEpoch),
    epochs: countOf(metrics?.start?.epochs),
    loss: last.loss,
  };
}

/** The live islands' state. */
export function liveSnapshot(
  label: string,
  live: {
    status: string;
    updatedAt: string | null;
    stages: { name: StageName; record: StageRecord | null }[];
    epochs: EpochPoint[];
    metrics: TrainMetrics | null;
  },
): LiveSnapshot {
  return {
    status: live.status,
    updatedAt: live.updatedAt,
    stages: stageRows(live.stages),
    curve: curveData(label, live.epochs, live.metrics),
    progress: trainProgress(live.metrics),
  };
}

/** The predictions as columns, confidences rounded to 4 decimals. */
export function predictionColumns(predictions: Predictions): PredictionColumns {
  const items = predictions.items;
  return {
    index: items.map((i) => i.index),
    label: items.map((i) => i.label),
    pred: items.map((i) => i.pred),
    confidence: items.map((i) => Math.round(i.confidence * 1e4) / 1e4),
  };
}
