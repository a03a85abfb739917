/**
 * `train/metrics.jsonl`: one event a line, appended as training goes (`start`, `step`, `epoch`,
 * `checkpoint`, `end`), so the dashboard can follow a live run. The training loop writes
 * {@linkcode MetricsLine}s; {@linkcode metricsParser} and {@linkcode parseMetricsJsonl} read them back as
 * {@linkcode TrainMetrics}.
 *
 * @example
 * ```ts
 * import { parseMetricsJsonl } from "./metrics.ts";
 * const metrics = parseMetricsJsonl(await Deno.readTextFile("runs/a/train/metrics.jsonl"));
 * console.log(metrics.steps.length, metrics.epochs.length);
 * ```
 * @module
 */
import { type EpochPoint, type EpochRecord, MAX_EPOCH, parseEpochPoint } from "./epoch_record.ts";
import { count, finite, isObject, type Nullable, ordinal, text } from "./parsed.ts";
import type { AdapterRecord } from "./train_summary.ts";

/** The `start` line: written once, when a fresh run starts. */
export type StartLine = {
  type: "start";
  time: string;
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  trainCount: number;
  arch: string;
  backend: string;
  adapter: AdapterRecord | null;
  seed: number;
};

/** A `step` line: one training step. */
export type StepLine = {
  type: "step";
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** 1-based step over the whole run. */
  globalStep: number;
  /** Mean cross-entropy of the batch. */
  loss: number;
  lr: number;
  imagesPerSecond: number;
  /** `tf.memory().numTensors` after the step. */
  tensors: number;
  time: string;
};

/** An `epoch` line: a finished, evaluated epoch. */
export type EpochLine = { type: "epoch" } & EpochRecord & { time: string };

/** A `checkpoint` line: a checkpoint was (about to be) written. */
export type CheckpointLine = {
  type: "checkpoint";
  kind: "best" | "last";
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch (absent for `best`). */
  step?: number;
  /** The checkpoint folder, relative to `train/`. */
  path: string;
};

/** The `end` line: training finished. */
export type EndLine = {
  type: "end";
  bestEpoch: number | null;
  bestAccuracy: number | null;
  time: string;
};

/** One line of `train/metrics.jsonl`, as the training loop writes it. */
export type MetricsLine = StartLine | StepLine | EpochLine | CheckpointLine | EndLine;

/** One `step` line as readers see it: loss and position always; a missing rate or time is null. */
export type StepPoint =
  & Pick<StepLine, "epoch" | "step" | "loss">
  & Nullable<Pick<StepLine, "lr" | "imagesPerSecond" | "time">>;

/** `train/metrics.jsonl`, parsed. */
export interface TrainMetrics {
  /** The `start` line, as written. */
  start: Record<string, unknown> | null;
  steps: StepPoint[];
  epochs: EpochPoint[];
  checkpoints: Record<string, unknown>[];
  /** The `end` line; null while training goes on. */
  end: Nullable<Pick<EndLine, "bestEpoch" | "bestAccuracy">> | null;
  /** Lines that are not JSON objects (a half-written last line is not counted). */
  badLines: number;
  /** Whether the text ends inside a line (the writer is mid-append). */
  partialLine: boolean;
  /** Bytes of the text up to the end of its last complete line: where the next read may resume. */
  completeBytes: number;
  /** Step lines read (more than `steps.length` when the steps were thinned to a bound). */
  stepLines?: number;
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
