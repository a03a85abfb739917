/**
 * `train/train.json`: what a finished training run learnt, epoch by epoch, and what it ran on. The training
 * loop writes a {@linkcode TrainJson}; {@linkcode parseTrainSummary} reads it back as a
 * {@linkcode TrainSummary}. The train stage's entry in run.json carries the {@linkcode TrainStageSummary}
 * made from it.
 *
 * @example
 * ```ts
 * import { parseTrainSummary } from "./train_summary.ts";
 * const parsed = parseTrainSummary(JSON.parse(await Deno.readTextFile("runs/a/train/train.json")));
 * if (parsed.ok) console.log(parsed.value.bestAccuracy);
 * ```
 * @module
 */
import { type EpochPoint, type EpochRecord, parseEpochPoint } from "./epoch_record.ts";
import type { TrainMetrics } from "./metrics.ts";
import { count, finite, isObject, type Nullable, type Parsed, text } from "./parsed.ts";

/** The WebGPU adapter a run trained on, as the run folder records it. */
export type AdapterRecord = {
  /** The adapter's human-readable name. */
  name: string;
  vendor: string;
  architecture: string;
  device: string;
  /** Whether it is a software fallback (llvmpipe, lavapipe, SwiftShader): slow. */
  isFallbackAdapter: boolean;
};

/** Where a run's loss first went far above where it started (lib/train/divergence.ts tells). */
export interface DivergenceRecord {
  /** 1-based epoch and step of the first such loss. */
  epoch: number;
  step: number;
  loss: number;
  lr: number;
  /** The loss it was compared with, and what that was. */
  reference: number;
  referenceOf: "first step" | "first epoch";
}

/** `train/train.json`, as the training loop writes it. */
export interface TrainJson {
  /** Finished epochs, in order. */
  epochs: EpochRecord[];
  bestEpoch: number | null;
  bestAccuracy: number | null;
  /** Run-folder path of the best checkpoint. */
  bestCheckpoint: string;
  /** The tfjs backend ("webgpu" or "cpu"). */
  backend: string;
  /** The webgpu conv kernels in use ("cpu", "gpu", "stock", …). */
  kernels: string;
  /** Null on the cpu backend. */
  adapter: AdapterRecord | null;
  /** Steps done over the whole run. */
  globalStep: number;
  /** Where the last process started: null for a fresh run, else the checkpoint's position (1-based epoch). */
  resumedFrom: { epoch: number; step: number } | null;
  /** Where the loss first went far above where it started; null for a run that did not diverge. */
  diverged: DivergenceRecord | null;
}

/** `train/train.json` as readers see it: a missing or malformed field is null. */
export type TrainSummary = { epochs: EpochPoint[] } & Nullable<Omit<TrainJson, "epochs">>;

/** The train stage's summary in run.json: the figures of train.json a glance needs. */
export type TrainStageSummary =
  & Pick<
    TrainJson,
    "bestEpoch" | "bestAccuracy" | "bestCheckpoint" | "backend" | "kernels" | "resumedFrom" | "diverged"
  >
  & {
    epochs: Pick<EpochRecord, "epoch" | "meanLoss" | "testAccuracy" | "lr" | "seconds">[];
    /** Steps done over the whole run (train.json's `globalStep`). */
    steps: TrainJson["globalStep"];
    /** The last epoch's training images per second. */
    imagesPerSecond: EpochRecord["imagesPerSecond"] | null;
    /** The adapter's name. */
    adapter: AdapterRecord["name"] | null;
    softwareAdapter: AdapterRecord["isFallbackAdapter"] | null;
    /** The pretrained weights the run started from, where it did. */
    pretrained?: { file: string; sha256: string; tensors: number; padding: string };
  };

/**
 * The train stage's run.json summary of a `train.json`.
 *
 * @example
 * ```ts
 * import type { TrainJson } from "./train_summary.ts";
 * declare const train: TrainJson;
 * trainStageSummary(train).steps === train.globalStep; // true
 * ```
 */
export function trainStageSummary(train: TrainJson): TrainStageSummary {
  const { bestEpoch, bestAccuracy, bestCheckpoint, backend, kernels, adapter, resumedFrom, diverged } = train;
  return {
    bestEpoch,
    bestAccuracy,
    bestCheckpoint,
    epochs: train.epochs.map(({ epoch, meanLoss, testAccuracy, lr, seconds }) => ({
      epoch,
      meanLoss,
      testAccuracy,
      lr,
      seconds,
    })),
    steps: train.globalStep,
    imagesPerSecond: train.epochs.at(-1)?.imagesPerSecond ?? null,
    backend,
    kernels,
    adapter: adapter?.name ?? null,
    softwareAdapter: adapter?.isFallbackAdapter ?? null,
    resumedFrom,
    diverged,
  };
}

function parseAdapter(v: unknown): AdapterRecord | null {
  return isObject(v) && typeof v.name === "string" ? v as AdapterRecord : null;
}

function parseDiverged(v: unknown): DivergenceRecord | null {
  if (!isObject(v)) return null;
  const [epoch, step, loss, lr, reference] = [v.epoch, v.step, v.loss, v.lr, v.reference].map(finite);
  if (epoch === null || step === null || loss === null || lr === null || reference === null) return null;
  const referenceOf = v.referenceOf === "first epoch" ? "first epoch" : "first step";
  return { epoch, step, loss, lr, reference, referenceOf };
}

function parsePosition(v: unknown): TrainJson["resumedFrom"] {
  if (!isObject(v)) return null;
  const epoch = count(v.epoch), step = count(v.step);
  return epoch === null || step === null ? null : { epoch, step };
}

/**
 * Parse `train/train.json`.
 *
 * @example
 * ```ts
 * parseTrainSummary({ epochs: [{ epoch: 1, meanLoss: 2, testAccuracy: 0.3 }], bestEpoch: 1 }).ok; // true
 * ```
 */
export function parseTrainSummary(json: unknown): Parsed<TrainSummary> {
  if (!isObject(json)) return { ok: false, problem: "train.json is not a JSON object" };
  if (!Array.isArray(json.epochs)) return { ok: false, problem: "train.json has no list of epochs" };
  const epochs = json.epochs.map(parseEpochPoint).filter((e): e is EpochPoint => e !== null);
  const dropped = json.epochs.length - epochs.length;
  return {
    ok: true,
    value: {
      epochs: epochs.sort((a, b) => a.epoch - b.epoch),
      bestEpoch: count(json.bestEpoch),
      bestAccuracy: finite(json.bestAccuracy),
      bestCheckpoint: text(json.bestCheckpoint),
      backend: text(json.backend),
      kernels: text(json.kernels),
      adapter: parseAdapter(json.adapter),
      globalStep: count(json.globalStep),
      resumedFrom: parsePosition(json.resumedFrom),
      diverged: parseDiverged(json.diverged),
    },
    notes: dropped > 0 ? [`train.json: ${dropped} malformed epoch entries skipped`] : [],
  };
}

/**
 * The per-epoch curve of a run: `train.json`'s epochs when it exists, else the `epoch` lines of the metrics.
 *
 * @example
 * ```ts
 * import { parseMetricsJsonl } from "./metrics.ts";
 * epochCurve(null, parseMetricsJsonl('{"type":"epoch","epoch":1,"meanLoss":2}\n')).length; // 1
 * ```
 */
export function epochCurve(summary: TrainSummary | null, metrics: TrainMetrics | null): EpochPoint[] {
  if (summary && summary.epochs.length >= (metrics?.epochs.length ?? 0)) return summary.epochs;
  return metrics?.epochs ?? [];
}
