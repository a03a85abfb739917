/**
 * The training loop's bookkeeping, beside the loop rather than in it: the `metrics.jsonl` events, the
 * tutorial's log lines, the progress bar and the software-adapter ETA warning.
 *
 * @example
 * ```ts
 * import { formatStepLine } from "./reporter.ts";
 * formatStepLine(1, 5, 1, 196, 2.301); // "Epoch: [  1/  5], Steps: [  1/196], Train Loss: [2.301]"
 * ```
 * @module
 */
import type { PipelineConfig } from "../config/mod.ts";
import { formatDuration, type Logger, plural, type Progress } from "../core/mod.ts";
import type { BackendInfo, PipelineCensus } from "../webgpu/mod.ts";
import type { MetricsLog } from "./metrics_log.ts";
import type { EpochRecord, MetricsLine } from "../contract/mod.ts";
import type { StepEvent } from "./types.ts";

/** "Epoch: [  1/  5], Steps: [  1/196], Train Loss: [2.301]" (the tutorial's log line). */
export function formatStepLine(
  epoch: number,
  epochs: number,
  step: number,
  steps: number,
  loss: number,
): string {
  const pad = (n: number) => String(n).padStart(3, " ");
  return `Epoch: [${pad(epoch)}/${pad(epochs)}], Steps: [${pad(step)}/${pad(steps)}], Train Loss: [${
    loss.toFixed(3)
  }]`;
}

/** Options of {@linkcode TrainReporter}. */
export interface TrainReporterOptions {
  config: PipelineConfig;
  log: Logger;
  backend: BackendInfo;
  /** Steps of the whole run (all epochs). */
  totalSteps: number;
  /** Test images evaluated after each epoch (for the run ETA before an evaluation was timed). */
  testCount?: number;
  /** Steps and epochs already done (a resumed run). */
  doneSteps?: number;
  doneEpochs?: number;
}

/** Inference costs about this fraction of a training step per image (measured: ResNet50 7.2 vs 1.47 img/s). */
const EVAL_COST_PER_IMAGE = 1 / 3;

/**
 * Seconds left of a training run: the remaining steps at the steady step time, plus an evaluation of the
 * test split after every remaining epoch (timed once one has run, else estimated from the step time).
 *
 * @example
 * ```ts
 * runEtaSeconds({ stepSeconds: 20, remainingSteps: 10, evalSeconds: 30, remainingEvaluations: 2 }); // 260
 * ```
 */
export function runEtaSeconds(parts: {
  stepSeconds: number;
  remainingSteps: number;
  evalSeconds: number;
  remainingEvaluations: number;
}): number {
  return parts.stepSeconds * Math.max(0, parts.remainingSteps) +
    parts.evalSeconds * Math.max(0, parts.remainingEvaluations);
}

/** Where the loop reports steps, epochs and checkpoints: the metrics log, log lines, progress, ETA. */
export class TrainReporter {
  #metrics: MetricsLog<MetricsLine>;
  #options: TrainReporterOptions;
  #stepTimes: number[] = [];
  #etaWarned = false;
  #bar: Progress | null = null;
  #seen = 0;
  #epochImages = 0;
  #globalStep = 0;
  #epochsDone = 0;
  #evalStart: number | null = null;
  #evalSeconds: number | null = null;
  #compiles: { bar: Progress; first: number } | null = null;

  /** Report into `metrics` and `options.log`. */
  constructor(metrics: MetricsLog<MetricsLine>, options: TrainReporterOptions) {
    this.#metrics = metrics;
    this.#options = options;
    this.#globalStep = options.doneSteps ?? 0;
    this.#epochsDone = options.doneEpochs ?? 0;
  }

  /**
   * The steady time of one step: the median of the steps after the first, which compiles the kernels;
   * null until a second step tells.
   */
  #stepSeconds(): number | null {
    const times = this.#stepTimes.slice(1);
    if (times.length === 0) return null;
    const sorted = [...times].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /**
   * Say what the WebGPU backend compiles while it does it: a progress line ("train: compiling kernels 23
   * pipelines … conv forward") from the first new pipeline of a step to the step's end. On a software
   * adapter each pipeline's shader is compiled on its first dispatch, a tenth of a second to seconds each.
   */
  watchCompiles(census: PipelineCensus | null): void {
    if (!census) return;
    census.onNew = (family) => {
      this.#compiles ??= {
        bar: this.#options.log.progress("train: compiling kernels", { unit: "pipelines" }),
        first: census.total - 1,
      };
      this.#compiles.bar.update(census.total - this.#compiles.first, undefined, family);
    };
  }

  /** The compiles of a step or an evaluation are over: close their progress line. */
  #compilesDone(): void {
    this.#compiles?.bar.done();
    this.#compiles = null;
  }

  /** Seconds left of the whole run (all epochs and their evaluations); null before a second step. */
  runEta(): number | null {
    const stepSeconds = this.#stepSeconds();
    if (stepSeconds === null) return null;
    const { config, totalSteps, testCount } = this.#options;
    const perImage = stepSeconds / Math.max(1, config.batchSize);
    const evalSeconds = this.#evalSeconds ?? (testCount ?? 0) * perImage * EVAL_COST_PER_IMAGE;
    const evaluating = this.#evalStart !== null ? (performance.now() - this.#evalStart) / 1000 : 0;
    return Math.max(
      0,
      runEtaSeconds({
        stepSeconds,
        remainingSteps: totalSteps - this.#globalStep,
        evalSeconds,
        remainingEvaluations: config.epochs - this.#epochsDone,
      }) - evaluating,
    );
  }

  /** The run starts (or resumes): the `start` event for a fresh run, the model line, the up-front warning. */
  async start(info: { fresh: boolean; stepsPerEpoch: number; trainCount: number; params: number }) {
    const { config, backend, log } = this.#options;
    if (info.fresh) {
      await this.#metrics.append({
        type: "start",
        time: new Date().toISOString(),
        epochs: config.epochs,
        stepsPerEpoch: info.stepsPerEpoch,
        batchSize: config.batchSize,
        trainCount: info.trainCount,
        arch: config.arch,
        backend: backend.backend,
        adapter: backend.adapter,
        seed: config.seed,
      });
    }
    // a batch larger than the split is the whole split: say what a step really holds
    const batch = Math.min(config.batchSize, info.trainCount);
    const cut = batch < config.batchSize
      ? ` (--batch-size ${config.batchSize.toLocaleString("en-US")} is more than the ` +
        `${plural(info.trainCount, "training image")})`
      : "";
    log.info(
      `train: ${config.arch}, ${info.params.toLocaleString("en-US")} trainable parameters; ` +
        `${plural(config.epochs, "epoch")} × ${plural(info.stepsPerEpoch, "step")} of ` +
        `${plural(batch, "image")}${cut} on ${backend.backend}`,
    );
    if (backend.adapter?.isFallbackAdapter && config.preset === "seed") {
      log.warn(
        `${backend.adapter.name} is a software WebGPU adapter: the full recipe will take a long time here ` +
          `(an estimate follows the second step). --preset quick trains a network that learns (about 63 % test accuracy on all 10,000 test images), every stage in about 14 minutes on 2 CPU cores.`,
      );
    }
  }

  /** An epoch starts (0-based `epoch`), `seen` of its `images` already trained (a resumed epoch). */
  beginEpoch(epoch: number, seen: number, images: number): void {
    this.#bar = this.#options.log.progress(`train epoch ${epoch + 1}/${this.#options.config.epochs}`, {
      unit: "img",
      eta: () => this.runEta(),
    });
    this.#seen = seen;
    this.#epochImages = images;
  }

  /** A step finished. */
  async step(event: StepEvent): Promise<void> {
    const { config, backend, log, totalSteps } = this.#options;
    await this.#metrics.append({
      type: "step",
      epoch: event.epoch,
      step: event.step,
      globalStep: event.globalStep,
      loss: event.loss,
      lr: event.lr,
      imagesPerSecond: event.size / event.seconds,
      tensors: event.numTensors,
      time: new Date().toISOString(),
    });
    this.#seen += event.size;
    this.#globalStep = event.globalStep;
    this.#stepTimes.push(event.seconds);
    this.#compilesDone();
    this.#bar?.update(this.#seen, this.#epochImages, `loss ${event.loss.toFixed(3)}`);
    if (event.step % config.logEvery === 0 || event.step === event.steps) {
      log.info(formatStepLine(event.epoch, config.epochs, event.step, event.steps, event.loss));
    }
    if (!this.#etaWarned && backend.adapter?.isFallbackAdapter && this.#stepTimes.length >= 2) {
      this.#etaWarned = true;
      warnSoftwareEta(log, {
        backend,
        perStep: this.#stepSeconds()!,
        seconds: this.runEta()!,
        remainingSteps: totalSteps - event.globalStep,
        remainingEvaluations: config.epochs - this.#epochsDone,
        config,
      });
    }
  }

  /** An epoch's training ended (before its evaluation). */
  endEpochTraining(): void {
    this.#bar?.done();
    this.#bar = null;
    this.#evalStart = performance.now();
  }

  /** An epoch was evaluated. */
  async epoch(record: EpochRecord, evaluation: { correct: number; count: number }): Promise<void> {
    const { config, log } = this.#options;
    if (this.#evalStart !== null) this.#evalSeconds = (performance.now() - this.#evalStart) / 1000;
    this.#evalStart = null;
    this.#compilesDone();
    this.#epochsDone++;
    await this.#metrics.append({ type: "epoch", ...record, time: new Date().toISOString() });
    log.info(
      `Epoch: [${String(record.epoch).padStart(3)}/${String(config.epochs).padStart(3)}], ` +
        `Average Train Loss: [${record.meanLoss.toFixed(3)}], Accuracy: [${
          record.testAccuracy.toFixed(3)
        }] ` +
        `(${evaluation.correct}/${evaluation.count} test images, ${formatDuration(record.seconds)}, ` +
        `${record.imagesPerSecond.toFixed(2)} img/s)`,
    );
  }

  /** A checkpoint was (about to be) written. */
  async checkpoint(kind: "best" | "last", path: string, epoch: number, step?: number): Promise<void> {
    await this.#metrics.append({
      type: "checkpoint",
      kind,
      epoch,
      ...(step === undefined ? {} : { step }),
      path,
    });
  }

  /** The run ended. */
  async end(bestEpoch: number | null, bestAccuracy: number | null): Promise<void> {
    await this.#metrics.append({ type: "end", bestEpoch, bestAccuracy, time: new Date().toISOString() });
  }
}

/**
 * The software-adapter line after the second step: the pace and what is left of the whole run, said in
 * words that fit the numbers (no "remaining 0 steps take about 0s").
 */
function warnSoftwareEta(
  log: Logger,
  left: {
    backend: BackendInfo;
    perStep: number;
    seconds: number;
    remainingSteps: number;
    remainingEvaluations: number;
    config: PipelineConfig;
  },
) {
  const { backend, perStep, seconds, config, remainingSteps, remainingEvaluations } = left;
  const pace = `${backend.adapter?.name} is a software WebGPU adapter: ${
    (config.batchSize / perStep).toFixed(2)
  } img/s`;
  const what = [
    remainingSteps > 0 ? `the remaining ${plural(remainingSteps, "step")}` : "",
    remainingEvaluations > 0 ? plural(remainingEvaluations, "evaluation") : "",
  ].filter(Boolean).join(" and ");
  const line = what
    ? `${pace}, so ${what} take${remainingSteps + remainingEvaluations === 1 ? "s" : ""} about ${
      formatDuration(Math.max(1, seconds))
    }`
    : `${pace}; training is done`;
  if (config.preset === "seed" || seconds > 1800) {
    log.warn(`${line}. For a run of every stage that learns in under 15 minutes, use --preset quick.`);
  } else {
    log.info(line);
  }
}
