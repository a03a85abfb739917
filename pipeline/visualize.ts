/**
 * The visualize stage: the tutorial's closing pictures, as files a person can open, made from the upstream
 * stages' outputs alone (no model, no browser).
 *
 * Writes into `<out>/visualize/`:
 * - `samples.png`, `samples.svg`: the first six augmented training images (already de-normalized by augment,
 *   as the tutorial does with `std * image + mean`, clipped to [0, 1]) titled with their class names;
 * - `predictions.png`, `predictions.svg`: the first `config.grid` test images, each titled
 *   "Pred: X / True: Y" in blue when right and red when wrong, in a frame of the same colour (the PNG is the
 *   SVG rendered by resvg, titles included);
 * - `curves.svg`: mean training loss and test accuracy per epoch;
 * - `confusion.svg`: the confusion matrix.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "../lib/config/mod.ts";
 * const config = resolveConfig("quick");
 * import { visualizeStage } from "./visualize.ts";
 * visualizeStage.params(config); // { grid: 6 }
 * ```
 * @module
 */
import type { StageContext, StageDefinition } from "../lib/run/mod.ts";
import { PipelineError, plural, writeFileAtomic } from "../lib/core/mod.ts";
import { confusionSvg, curvesSvg, predictionGrid, sampleGrid } from "../lib/figures/mod.ts";
import {
  epochCurve,
  type Parsed,
  parseEvaluation,
  parseMetricsJsonl,
  parsePredictions,
  parseSamplesInfo,
  parseTrainSummary,
  readImagesAt,
} from "../lib/contract/mod.ts";

/** Augmented images in the sample grid: the tutorial's six (2 × 3). */
export const SAMPLE_GRID = 6;

/** The files this stage writes, relative to its folder. */
export const VISUALIZE_FILES = [
  "samples.png",
  "samples.svg",
  "predictions.png",
  "predictions.svg",
  "curves.svg",
  "confusion.svg",
] as const;

async function readJson<T>(
  path: string,
  label: string,
  parse: (json: unknown) => Parsed<T>,
): Promise<T> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "it does not exist" : (err as Error).message;
    throw new PipelineError("visualize", `Cannot read ${label}: ${why}`, { cause: err });
  }
  const parsed = parse(json);
  if (!parsed.ok) throw new PipelineError("visualize", `Cannot use ${label}: ${parsed.problem}`);
  return parsed.value;
}

async function readImages(path: string, label: string, indices: number[]): Promise<Uint8Array[]> {
  try {
    return await readImagesAt(path, indices);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "it does not exist" : (err as Error).message;
    throw new PipelineError("visualize", `Cannot read ${label}: ${why}`, { cause: err });
  }
}

async function run(ctx: StageContext): Promise<Record<string, unknown>> {
  const { config, log } = ctx;
  const evaluate = ctx.input("evaluate"), decode = ctx.input("decode");
  const augment = ctx.input("augment"), train = ctx.input("train");

  const evaluation = await readJson(
    `${evaluate}/evaluation.json`,
    "evaluate/evaluation.json",
    parseEvaluation,
  );
  const predictions = await readJson(
    `${evaluate}/predictions.json`,
    "evaluate/predictions.json",
    parsePredictions,
  );
  const classes = evaluation.classes;

  // The prediction grid: the first `grid` test images, as the tutorial shows the first batch.
  const grid = Math.max(0, Math.floor(config.grid));
  const shown = predictions.items.slice(0, grid);
  if (shown.length < grid) log.warn(`visualize: only ${shown.length} predictions for a grid of ${grid}`);
  const testPixels = await readImages(
    `${decode}/test_images.u8`,
    "decode/test_images.u8",
    shown.map((i) => i.index),
  );
  const predictionFigure = await predictionGrid(
    shown.map((item, i) => ({ ...item, pixels: testPixels[i] })),
    classes,
  );
  await writeFileAtomic(`${ctx.dir}/predictions.png`, predictionFigure.png);
  await writeFileAtomic(`${ctx.dir}/predictions.svg`, predictionFigure.svg);

  // The sample grid of augmented training images.
  const samples = await readJson(`${augment}/samples.json`, "augment/samples.json", parseSamplesInfo);
  const sampleCount = Math.min(samples.count, SAMPLE_GRID);
  const samplePixels = await readImages(
    `${augment}/samples.u8`,
    "augment/samples.u8",
    Array.from({ length: sampleCount }, (_, i) => i),
  );
  const sampleFigure = await sampleGrid(
    samplePixels.map((pixels, i) => ({ pixels, label: samples.labels[i] })),
    classes,
  );
  await writeFileAtomic(`${ctx.dir}/samples.png`, sampleFigure.png);
  await writeFileAtomic(`${ctx.dir}/samples.svg`, sampleFigure.svg);

  // Curves: train.json's epochs, and the step losses of metrics.jsonl when it is there.
  const summary = await readJson(`${train}/train.json`, "train/train.json", parseTrainSummary);
  let metricsText = "";
  try {
    metricsText = await Deno.readTextFile(`${train}/metrics.jsonl`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    log.warn("visualize: train/metrics.jsonl is missing; the curves show epochs only");
  }
  const metrics = parseMetricsJsonl(metricsText);
  const epochs = epochCurve(summary, metrics);
  await writeFileAtomic(
    `${ctx.dir}/curves.svg`,
    curvesSvg([{ label: config.preset, epochs, steps: metrics.steps }], {
      title: `Training curves (${config.arch}, ${plural(epochs.length, "epoch")})`,
    }),
  );

  await writeFileAtomic(
    `${ctx.dir}/confusion.svg`,
    confusionSvg(evaluation.confusion, classes, {
      title: `Confusion matrix: accuracy ${
        (evaluation.accuracy * 100).toFixed(1)
      }% on ${evaluation.count} images`,
    }),
  );

  const right = shown.filter((i) => i.pred === i.label).length;
  log.info(`visualize: ${VISUALIZE_FILES.length} figures, grid of ${shown.length} (${right} right)`);
  return {
    files: [...VISUALIZE_FILES],
    grid: shown.length,
    gridRight: right,
    samples: sampleCount,
    epochs: epochs.length,
    accuracy: evaluation.accuracy,
  };
}

/** The visualize stage. */
export const visualizeStage: StageDefinition = {
  name: "visualize",
  deps: ["decode", "augment", "train", "evaluate"],
  module: new URL(import.meta.url),
  params: (config) => ({ grid: config.grid }),
  run,
};
