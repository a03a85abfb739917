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
import { formatDuration, type Logger, type Progress } from "../core/mod.ts";
import type { BackendInfo } from "../model/mod.ts";
import type { MetricsLog } from "./metrics_log.ts";
import type { EpochRecord, StepEvent } from "./types.ts";

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
}

/** Where the loop reports steps, epochs and checkpoints: the metrics log, log lines, progress, ETA. */
export class TrainReporter {
  #metrics: MetricsLog;
  #options: TrainReporterOptions;
  #stepTimes: number[] = [];
  #etaWarned = false;
  #bar: Progress | null = null;
  #seen = 0;
  #epochImages = 0;

  /** Report into `metrics` and `options.log`. */
  constructor(metrics: MetricsLog, options: TrainReporterOptions) {
    this.#metrics = metrics;
    this.#options = options;
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
    log.info(
      `train: ${config.arch}, ${info.params.toLocaleString("en-US")} trainable parameters; ` +
        `${config.epochs} epochs × ${info.stepsPerEpoch} steps of ${config.batchSize} images on ${backend.backend}`,
    );
    if (backend.adapter?.isFallbackAdapter && config.preset === "seed") {
      log.warn(
        `${backend.adapter.name} is a software WebGPU adapter: the full recipe will take a long time here ` +
          `(an estimate follows the second step). --preset quick runs every stage in under 10 minutes.`,
      );
    }
  }

  /** An epoch starts (0-based `epoch`), `seen` of its `images` already trained (a resumed epoch). */
  beginEpoch(epoch: number, seen: number, images: number): void {
    this.#bar = this.#options.log.progress(`train epoch ${epoch + 1}/${this.#options.config.epochs}`, {
      unit: "img",
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
    this.#bar?.update(this.#seen, this.#epochImages, `loss ${event.loss.toFixed(3)}`);
    if (event.step % config.logEvery === 0 || event.step === event.steps) {
      log.info(formatStepLine(event.epoch, config.epochs, event.step, event.steps, event.loss));
    }
    this.#stepTimes.push(event.seconds);
    if (!this.#etaWarned && backend.adapter?.isFallbackAdapter && this.#stepTimes.length >= 2) {
      this.#etaWarned = true;
      warnSoftwareEta(log, backend, this.#stepTimes, totalSteps - event.globalStep, config);
    }
  }

  /** An epoch's training ended (before its evaluation). */
  endEpochTraining(): void {
    this.#bar?.done();
    this.#bar = null;
  }

  /** An epoch was evaluated. */
  async epoch(record: EpochRecord, evaluation: { correct: number; count: number }): Promise<void> {
    const { config, log } = this.#options;
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

function warnSoftwareEta(
  log: Logger,
  backend: BackendInfo,
  stepTimes: number[],
  remainingSteps: number,
  config: PipelineConfig,
) {
  // The first step compiles shaders; the median of the later ones is the steady pace.
  const steady = stepTimes.slice(1).sort((a, b) => a - b);
  const perStep = steady[Math.floor(steady.length / 2)];
  const seconds = perStep * remainingSteps;
  const line =
    `${backend.adapter?.name} is a software WebGPU adapter: ${(config.batchSize / perStep).toFixed(2)} ` +
    `img/s, so the remaining ${remainingSteps} steps take about ${formatDuration(seconds)} (plus evaluation)`;
  if (config.preset === "seed" || seconds > 1800) {
    log.warn(`${line}. For a run of every stage in under 10 minutes use --preset quick.`);
  } else {
    log.info(line);
  }
}
