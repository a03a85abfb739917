/**
 * The run folder's files as types, and tolerant parsers for them (see the README's run-folder contract).
 *
 * Every parser takes what `JSON.parse` gave (or raw text) and either returns a well-formed value, with notes
 * about anything it had to drop, or says in one line why the file cannot be used. Nothing here touches the
 * file system; {@link ./run_reader.ts} reads the files and the visualize stage uses the same parsers.
 *
 * @example
 * ```ts
 * import { parseEvaluation } from "./run_folder.ts";
 * const parsed = parseEvaluation(JSON.parse(await Deno.readTextFile("runs/a/evaluate/evaluation.json")));
 * if (parsed.ok) console.log(parsed.value.accuracy);
 * ```
 * @module
 */
import type { PipelineConfig } from "../config/mod.ts";
import type { ChannelStatsResult } from "../data/mod.ts";
import { parseProcessIdentity, type ProcessIdentity } from "../core/mod.ts";

/** The pipeline's stages, in the order data flows through them. */
export const STAGE_NAMES = ["fetch", "decode", "augment", "train", "evaluate", "visualize"] as const;
/** One stage's name. */
export type StageName = typeof STAGE_NAMES[number];

/** One output file of a stage, as recorded in run.json and the cache manifest. */
export interface OutputFile {
  /** Path relative to the stage's folder, with `/` separators. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** Hex SHA-256 of the contents. */
  sha256: string;
}

/** A stage's entry in run.json. */
export interface StageRecord {
  status: "pending" | "running" | "done" | "cached" | "failed";
  /** The cache key: hex SHA-256 of `keyParts`. */
  key?: string;
  /** What the key was made of: params, the upstream stages' output digests, code file hashes. */
  keyParts?: KeyParts;
  /** Why the stage ran instead of being served from the cache. */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Wall-clock seconds. */
  seconds?: number;
  outputs?: OutputFile[];
  summary?: Record<string, unknown>;
  error?: string;
}

/** The parts a stage's cache key is hashed from. */
export interface KeyParts {
  params: Record<string, unknown>;
  /** Upstream stage name → digest of its outputs. */
  inputs: Record<string, string>;
  /** Source file (relative to the project root) → its SHA-256. */
  code: Record<string, string>;
}

/** The image layout of `*_images.u8` and `samples.u8` (uint8 HWC, 32 × 32 × 3), as the data layer defines it. */
export { CHANNELS as IMAGE_CHANNELS, IMAGE_BYTES, IMAGE_SIZE } from "../data/mod.ts";
/** The train stage's checkpoint folders, relative to its folder (`<run>/train/`). */
export const CHECKPOINT_PATHS = { best: "checkpoints/best", last: "checkpoints/last" } as const;
/** The file inside `checkpoints/best/` with the test scores that checkpoint earned when it was saved. */
export const CHECKPOINT_SCORES = "scores.json";

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
  predictions: { index: number; label: number; pred: number; confidence: number; probs: number[] }[];
}

/** The run-folder path of the best checkpoint, as train.json names it. */
export const BEST_CHECKPOINT = `train/${CHECKPOINT_PATHS.best}`;
/** The run.json version this code writes and reads best. */
export const RUN_MANIFEST_VERSION = 1;

/** A parse result: a usable value with notes, or one line saying why the file cannot be used. */
export type Parsed<T> = { ok: true; value: T; notes: string[] } | { ok: false; problem: string };

/** `decode/meta.json`. */
export interface DecodeMeta {
  /** The ten class names, index = label. */
  classes: string[];
  /** Images decoded, and records the files held (`available` is absent in folders older than round 2). */
  train: { count: number; available?: number };
  test: { count: number; available?: number };
  /** Absent in folders that predate it. */
  stats?: {
    /** Measured over the decoded train images, [0, 1] scale (population std over all pixels). */
    measured: ChannelStatsResult;
    /** The tutorial's Normalize constants, which the recipe keeps. */
    tutorial: { mean: readonly number[]; std: readonly number[] };
  };
}

/** `augment/samples.json`. */
export interface SamplesInfo {
  count: number;
  indices: number[];
  labels: number[];
}

/** One epoch's figures (from `train/train.json` or the `epoch` lines of `train/metrics.jsonl`). */
export interface EpochPoint {
  epoch: number;
  meanLoss: number | null;
  testAccuracy: number | null;
  lr: number | null;
  seconds: number | null;
  imagesPerSecond: number | null;
}

/** One `step` line of `train/metrics.jsonl`. */
export interface StepPoint {
  epoch: number;
  step: number;
  loss: number;
  lr: number | null;
  imagesPerSecond: number | null;
  time: string | null;
}

/** `train/metrics.jsonl`, parsed. */
export interface TrainMetrics {
  /** The `start` line, as written. */
  start: Record<string, unknown> | null;
  steps: StepPoint[];
  epochs: EpochPoint[];
  checkpoints: Record<string, unknown>[];
  /** The `end` line, as written; null while training goes on. */
  end: { bestEpoch: number | null; bestAccuracy: number | null } | null;
  /** Lines that are not JSON objects (a half-written last line is not counted). */
  badLines: number;
  /** Whether the text ends inside a line (the writer is mid-append). */
  partialLine: boolean;
  /** Bytes of the text up to the end of its last complete line: where the next read may resume. */
  completeBytes: number;
  /** Step lines read (more than `steps.length` when the steps were thinned to a bound). */
  stepLines?: number;
}

/** `train/train.json`. */
export interface TrainSummary {
  epochs: EpochPoint[];
  bestEpoch: number | null;
  bestAccuracy: number | null;
  bestCheckpoint: string | null;
  backend: string | null;
  adapter: unknown;
  /**
   * Where the loss first went far above where the run started (lib/train/divergence.ts): the run
   * diverged. Null when it did not, or the file predates the field.
   */
  diverged: { epoch: number; step: number; loss: number; lr: number; reference: number } | null;
}

/** One row of `evaluation.json`'s `perClass`. */
export interface ClassAccuracy {
  /** Class name. */
  class: string;
  accuracy: number;
  count: number;
}

/** `evaluate/evaluation.json`. */
export interface Evaluation {
  accuracy: number;
  count: number;
  classes: string[];
  checkpoint: string | null;
  perClass: ClassAccuracy[];
  /** `confusion[trueClass][predictedClass]` = count. */
  confusion: number[][];
}

/** One test image's prediction. */
export interface PredictionItem {
  /** Index of the image in `decode/test_images.u8`. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  pred: number;
  /** Probability the model gave its predicted class (0..1). */
  confidence: number;
}

/** `evaluate/predictions.json` (the per-class `probs` are dropped: nothing downstream needs them). */
export interface Predictions {
  classes: string[];
  items: PredictionItem[];
}

/** The versions a run was made with. */
export interface RunEnvironment {
  deno: string;
  v8: string;
  typescript: string;
  /** The tfjs version pinned in deno.json. */
  tfjs: string;
  /** SHA-256 of the deno.lock the run was made with. */
  denoLockSha256: string | null;
  os: string;
  arch: string;
}

/** `run.json`, as the runner writes it. */
export interface RunManifest {
  version: 1;
  /** The run folder's name. */
  id: string;
  createdAt: string;
  updatedAt: string;
  status: "running" | "done" | "failed" | "interrupted";
  preset: string;
  seed: number;
  config: PipelineConfig;
  /** The stages asked for on the command line (their upstream stages run too). */
  requestedStages: StageName[];
  env: RunEnvironment;
  stages: Partial<Record<StageName, StageRecord>>;
  /** The one line of the fault that stopped the run. */
  error?: string;
  /** The end-of-run summary (lib/run/run_summary.ts): stage times, best accuracy, figures, dashboard command. */
  summary?: Record<string, unknown>;
  /** The pipeline process (pid, host, start time): the dashboard tells a run whose process is gone. */
  process?: ProcessIdentity;
  /** The last time the process said it was alive (ISO), every 30 s and at every stage change. */
  heartbeatAt?: string;
}

/**
 * `run.json` as the dashboard reads it, normalized: the same fields as {@linkcode RunManifest}, but a
 * missing or malformed field is null (or empty), never absent, and an unknown status is "unknown".
 */
export type RunManifestView =
  & { [K in "id" | "createdAt" | "updatedAt" | "preset" | "seed"]: RunManifest[K] | null }
  & {
    /** The version the file claims; null when it has none (older than version 1). */
    version: number | null;
    status: RunManifest["status"] | "unknown";
    config: Partial<PipelineConfig> & Record<string, unknown>;
    env: Partial<RunEnvironment>;
    stages: RunManifest["stages"];
    error: string | null;
    /** The pipeline process that wrote it, where recorded. */
    process: ProcessIdentity | null;
    heartbeatAt: string | null;
  };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function finite(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function count(v: unknown): number | null {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** The largest epoch or step number a metrics line may carry (the CLI allows 10,000 epochs). */
export const MAX_EPOCH = 10_000;

/** A 1-based epoch (or step) number: an integer from 1 to `max`. */
function ordinal(v: unknown, max: number): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= max ? v : null;
}

function text(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function classList(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === "string") ? v as string[] : null;
}

/**
 * Parse `decode/meta.json`.
 *
 * @example
 * ```ts
 * parseDecodeMeta({ classes: ["a", "b"], train: { count: 2 }, test: { count: 1 } }).ok; // true
 * ```
 */
export function parseDecodeMeta(json: unknown): Parsed<DecodeMeta> {
  if (!isObject(json)) return { ok: false, problem: "meta.json is not a JSON object" };
  const classes = classList(json.classes);
  if (!classes) return { ok: false, problem: "meta.json has no list of class names" };
  const trainCount = isObject(json.train) ? count(json.train.count) : null;
  const testCount = isObject(json.test) ? count(json.test.count) : null;
  if (testCount === null) return { ok: false, problem: "meta.json has no test.count" };
  const notes = trainCount === null ? ["meta.json has no train.count"] : [];
  return {
    ok: true,
    value: {
      classes,
      train: { count: trainCount ?? 0 },
      test: { count: testCount },
      stats: json.stats as DecodeMeta["stats"],
    },
    notes,
  };
}

/**
 * Parse `augment/samples.json`.
 *
 * @example
 * ```ts
 * parseSamplesInfo({ count: 1, indices: [4], labels: [3] }).ok; // true
 * ```
 */
export function parseSamplesInfo(json: unknown): Parsed<SamplesInfo> {
  if (!isObject(json)) return { ok: false, problem: "samples.json is not a JSON object" };
  const labels = Array.isArray(json.labels) ? json.labels.map(count) : null;
  if (!labels || labels.some((l) => l === null)) {
    return { ok: false, problem: "samples.json has no list of integer labels" };
  }
  const n = count(json.count) ?? labels.length;
  const indices = Array.isArray(json.indices) ? json.indices.map((i) => count(i) ?? -1) : [];
  const notes = n !== labels.length ? [`samples.json says count ${n} but lists ${labels.length} labels`] : [];
  const used = Math.min(n, labels.length);
  return {
    ok: true,
    value: { count: used, indices: indices.slice(0, used), labels: (labels as number[]).slice(0, used) },
    notes,
  };
}

function parseEpochPoint(v: unknown): EpochPoint | null {
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

/** Options of {@linkcode metricsParser} and {@linkcode parseMetricsJsonl}. */
export interface MetricsParseOptions {
  /**
   * Keep at most about this many step points (every k-th step, k doubling as the log grows; the last step
   * is always kept), so a log of millions of lines reads in bounded memory. Default: all.
   */
  maxSteps?: number;
}

/**
 * An incremental reader of `train/metrics.jsonl`: feed it complete lines (without their newline) as they
 * come, then take the result. Memory stays bounded by `maxSteps` whatever the log's length.
 *
 * @example
 * ```ts
 * const p = metricsParser({ maxSteps: 1000 });
 * p.line('{"type":"step","epoch":1,"step":1,"loss":2.3}');
 * p.result().steps.length; // 1
 * ```
 */
export function metricsParser(options: MetricsParseOptions = {}): {
  line(line: string, bytes?: number): void;
  result(): TrainMetrics;
} {
  const maxSteps = options.maxSteps ?? Infinity;
  const out: TrainMetrics = {
    start: null,
    steps: [],
    epochs: [],
    checkpoints: [],
    end: null,
    badLines: 0,
    partialLine: false,
    completeBytes: 0,
    stepLines: 0,
  };
  let stride = 1;
  let stepLines = 0;
  let last: StepPoint | null = null;
  const MAX_CHECKPOINTS = 1000;
  return {
    line(line, bytes) {
      out.completeBytes += bytes ?? new TextEncoder().encode(line).length + 1;
      if (line.trim() === "") return;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        out.badLines++;
        return;
      }
      if (!isObject(record)) {
        out.badLines++;
        return;
      }
      switch (record.type) {
        case "start":
          out.start = record;
          break;
        case "step": {
          const epoch = ordinal(record.epoch, MAX_EPOCH),
            step = ordinal(record.step, Number.MAX_SAFE_INTEGER);
          const loss = finite(record.loss);
          if (epoch === null || step === null || loss === null) {
            out.badLines++;
            break;
          }
          const point: StepPoint = {
            epoch,
            step,
            loss,
            lr: finite(record.lr),
            imagesPerSecond: finite(record.imagesPerSecond),
            time: text(record.time),
          };
          last = point;
          if (stepLines++ % stride === 0) out.steps.push(point);
          if (out.steps.length > 2 * maxSteps) {
            out.steps = out.steps.filter((_, i) => i % 2 === 0);
            stride *= 2;
          }
          break;
        }
        case "epoch": {
          const point = parseEpochPoint(record);
          if (point === null) out.badLines++;
          else {
            // A resumed run may log an epoch again: the later line wins.
            const at = out.epochs.findIndex((e) => e.epoch === point.epoch);
            if (at >= 0) out.epochs[at] = point;
            else out.epochs.push(point);
          }
          break;
        }
        case "checkpoint":
          if (out.checkpoints.length >= MAX_CHECKPOINTS) out.checkpoints.shift();
          out.checkpoints.push(record);
          break;
        case "end":
          out.end = { bestEpoch: count(record.bestEpoch), bestAccuracy: finite(record.bestAccuracy) };
          break;
        default:
          out.badLines++;
      }
    },
    result() {
      out.stepLines = stepLines;
      if (last !== null && out.steps.at(-1) !== last) out.steps.push(last);
      out.epochs.sort((a, b) => a.epoch - b.epoch);
      return out;
    },
  };
}

/**
 * Parse the text of `train/metrics.jsonl`. A last line without its newline is treated as still being
 * written: it is skipped, not counted as bad.
 *
 * @example
 * ```ts
 * const m = parseMetricsJsonl('{"type":"epoch","epoch":1,"meanLoss":2.1,"testAccuracy":0.3}\n{"type":"st');
 * m.epochs.length; // 1
 * m.partialLine; // true
 * ```
 */
export function parseMetricsJsonl(jsonl: string, options: MetricsParseOptions = {}): TrainMetrics {
  const parser = metricsParser(options);
  const lastNewline = jsonl.lastIndexOf("\n");
  const complete = lastNewline < 0 ? "" : jsonl.slice(0, lastNewline + 1);
  const lines = complete.split("\n");
  lines.pop();
  for (const line of lines) parser.line(line);
  const out = parser.result();
  out.partialLine = jsonl.length > complete.length && jsonl.slice(complete.length).trim() !== "";
  return out;
}

function parseDiverged(v: unknown): TrainSummary["diverged"] {
  if (!isObject(v)) return null;
  const [epoch, step, loss, lr, reference] = [v.epoch, v.step, v.loss, v.lr, v.reference].map(finite);
  return epoch === null || step === null || loss === null || lr === null || reference === null
    ? null
    : { epoch, step, loss, lr, reference };
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
      adapter: json.adapter ?? null,
      diverged: parseDiverged(json.diverged),
    },
    notes: dropped > 0 ? [`train.json: ${dropped} malformed epoch entries skipped`] : [],
  };
}

/**
 * Parse `evaluate/evaluation.json`. The confusion matrix must be square over the classes; per-class rows
 * may name their class or give its index.
 *
 * @example
 * ```ts
 * parseEvaluation({ accuracy: 1, count: 1, classes: ["a"], perClass: [], confusion: [[1]] }).ok; // true
 * ```
 */
export function parseEvaluation(json: unknown): Parsed<Evaluation> {
  if (!isObject(json)) return { ok: false, problem: "evaluation.json is not a JSON object" };
  const classes = classList(json.classes);
  if (!classes) return { ok: false, problem: "evaluation.json has no list of class names" };
  const k = classes.length;
  const confusion = json.confusion;
  if (
    !Array.isArray(confusion) || confusion.length !== k ||
    !confusion.every((row) => Array.isArray(row) && row.length === k && row.every((c) => count(c) !== null))
  ) {
    return { ok: false, problem: `evaluation.json: confusion must be a ${k}×${k} matrix of counts` };
  }
  const matrix = confusion as number[][];
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, row, i) => a + row[i], 0);
  const notes: string[] = [];
  const perClass: ClassAccuracy[] = [];
  const rows = Array.isArray(json.perClass) ? json.perClass : [];
  for (const row of rows) {
    if (!isObject(row)) continue;
    const name = typeof row.class === "number" ? classes[row.class] : text(row.class);
    const acc = finite(row.accuracy), n = count(row.count);
    if (name !== undefined && name !== null && acc !== null && n !== null) {
      perClass.push({ class: name, accuracy: acc, count: n });
    }
  }
  if (perClass.length !== k) {
    // Derive from the matrix rather than show a partial table.
    if (rows.length > 0) {
      notes.push("evaluation.json: perClass was incomplete; derived from the confusion matrix");
    }
    perClass.length = 0;
    matrix.forEach((row, i) => {
      const n = row.reduce((a, b) => a + b, 0);
      perClass.push({ class: classes[i], accuracy: n > 0 ? row[i] / n : 0, count: n });
    });
  }
  const accuracy = finite(json.accuracy) ?? (total > 0 ? correct / total : 0);
  return {
    ok: true,
    value: {
      accuracy,
      count: count(json.count) ?? total,
      classes,
      checkpoint: text(json.checkpoint),
      perClass,
      confusion: matrix,
    },
    notes,
  };
}

/**
 * Parse `evaluate/predictions.json`. Malformed items are skipped and counted in the notes.
 *
 * @example
 * ```ts
 * parsePredictions({ classes: ["a", "b"], items: [{ index: 0, label: 1, pred: 1, confidence: 0.9 }] }).ok;
 * ```
 */
export function parsePredictions(json: unknown): Parsed<Predictions> {
  if (!isObject(json)) return { ok: false, problem: "predictions.json is not a JSON object" };
  const classes = classList(json.classes);
  if (!classes) return { ok: false, problem: "predictions.json has no list of class names" };
  if (!Array.isArray(json.items)) return { ok: false, problem: "predictions.json has no list of items" };
  const k = classes.length;
  const items: PredictionItem[] = [];
  for (const item of json.items) {
    if (!isObject(item)) continue;
    const index = count(item.index), label = count(item.label), pred = count(item.pred);
    let confidence = finite(item.confidence);
    if (confidence === null && Array.isArray(item.probs) && pred !== null) {
      confidence = finite(item.probs[pred]);
    }
    if (index === null || label === null || pred === null || label >= k || pred >= k) continue;
    items.push({ index, label, pred, confidence: confidence ?? 0 });
  }
  const dropped = json.items.length - items.length;
  return {
    ok: true,
    value: { classes, items },
    notes: dropped > 0 ? [`predictions.json: ${dropped} malformed items skipped`] : [],
  };
}

function parseStageRecord(v: unknown): StageRecord | null {
  if (!isObject(v)) return null;
  const statuses = ["pending", "running", "done", "cached", "failed"] as const;
  const status = statuses.find((s) => s === v.status) ?? "pending";
  const record: StageRecord = { status };
  if (typeof v.key === "string") record.key = v.key;
  if (isObject(v.keyParts)) record.keyParts = v.keyParts as unknown as StageRecord["keyParts"];
  if (typeof v.reason === "string") record.reason = v.reason;
  if (typeof v.startedAt === "string") record.startedAt = v.startedAt;
  if (typeof v.finishedAt === "string") record.finishedAt = v.finishedAt;
  const seconds = finite(v.seconds);
  if (seconds !== null) record.seconds = seconds;
  if (Array.isArray(v.outputs)) {
    record.outputs = v.outputs.filter((o) => isObject(o) && typeof o.path === "string").map((o) => ({
      path: o.path as string,
      bytes: count(o.bytes) ?? 0,
      sha256: text(o.sha256) ?? "",
    }));
  }
  if (isObject(v.summary)) record.summary = v.summary;
  if (typeof v.error === "string") record.error = v.error;
  return record;
}

/**
 * Parse `run.json`, keeping whatever an older or half-finished manifest holds.
 *
 * @example
 * ```ts
 * const m = parseRunManifest({ status: "done", stages: { decode: { status: "done" } } });
 * m.ok && m.value.version; // null: written before versions were recorded
 * ```
 */
export function parseRunManifest(json: unknown): Parsed<RunManifestView> {
  if (!isObject(json)) return { ok: false, problem: "run.json is not a JSON object" };
  const notes: string[] = [];
  const version = finite(json.version);
  if (version === null) notes.push("run.json has no version: written by an older pipeline");
  else if (version > RUN_MANIFEST_VERSION) {
    notes.push(`run.json version ${version} is newer than this dashboard (${RUN_MANIFEST_VERSION})`);
  }
  const statuses = ["running", "done", "failed", "interrupted"] as const;
  const status = statuses.find((s) => s === json.status) ?? "unknown";
  const config = isObject(json.config) ? json.config : {};
  const stages: Partial<Record<StageName, StageRecord>> = {};
  if (isObject(json.stages)) {
    for (const name of STAGE_NAMES) {
      const record = parseStageRecord(json.stages[name]);
      if (record) stages[name] = record;
    }
  }
  const env: Partial<RunEnvironment> = {};
  if (isObject(json.env)) {
    for (const key of ["deno", "v8", "typescript", "tfjs", "denoLockSha256", "os", "arch"] as const) {
      const value = text(json.env[key]);
      if (value !== null) env[key] = value;
    }
  }
  return {
    ok: true,
    value: {
      version,
      id: text(json.id),
      createdAt: text(json.createdAt),
      updatedAt: text(json.updatedAt),
      status,
      preset: text(json.preset) ?? text(config.preset),
      seed: finite(json.seed) ?? finite(config.seed),
      config: config as RunManifestView["config"],
      env,
      stages,
      error: text(json.error),
      process: parseProcessIdentity(json.process),
      heartbeatAt: text(json.heartbeatAt),
    },
    notes,
  };
}

/**
 * The per-epoch curve of a run: `train.json`'s epochs when it exists, else the `epoch` lines of the metrics.
 *
 * @example
 * ```ts
 * epochCurve(null, parseMetricsJsonl('{"type":"epoch","epoch":1,"meanLoss":2}\n')).length; // 1
 * ```
 */
export function epochCurve(summary: TrainSummary | null, metrics: TrainMetrics | null): EpochPoint[] {
  if (summary && summary.epochs.length >= (metrics?.epochs.length ?? 0)) return summary.epochs;
  return metrics?.epochs ?? [];
}
