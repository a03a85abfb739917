/**
 * The evaluate stage: the best checkpoint of the train stage on the test split, in inference mode (batch
 * norm on its moving statistics). Writes `evaluate/evaluation.json` (accuracy, per-class accuracy, the
 * confusion matrix with rows = true class, columns = predicted) and `evaluate/predictions.json` (each test
 * image's predicted class, confidence and probabilities, for the visualize stage), and returns the numbers
 * as its run.json summary.
 *
 * @example
 * ```ts
 * import type { StageContext } from "../lib/run/mod.ts";
 * declare const ctx: StageContext;
 * import { evaluateStage } from "./evaluate.ts";
 * const summary = await evaluateStage.run(ctx); // { accuracy: 0.47, count: 10000, perClass: {…}, … }
 * ```
 * @module
 */
import { join } from "node:path";
import { canonicalJson, PipelineError, writeJsonAtomic } from "../lib/core/mod.ts";
import { evaluateBatches, evaluatePredictions, type EvaluationResult, loadModel } from "../lib/model/mod.ts";
import { formatAdapter, selectBackend } from "../lib/webgpu/mod.ts";
import { limitSplit, readSplit, type SplitData, testBatches } from "../lib/data/mod.ts";
import type { StageContext, StageDefinition } from "../lib/run/mod.ts";
import {
  BEST_CHECKPOINT,
  CHECKPOINT_PATHS,
  CHECKPOINT_SCORES,
  type CheckpointScores,
  type EvaluationJson,
  parseDecodeMeta,
  type PredictionsJson,
} from "../lib/contract/mod.ts";

/** Digits kept of each probability in predictions.json. */
const PROB_DIGITS = 6;

/** The class names of `decode/meta.json`: as many as the head has outputs. */
async function readClasses(decodeDir: string, numClasses: number): Promise<string[]> {
  const path = join(decodeDir, "meta.json");
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new PipelineError("evaluate", `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const meta = parseDecodeMeta(json);
  if (!meta.ok) throw new PipelineError("evaluate", `Cannot read ${path}: ${meta.problem}`);
  if (meta.value.classes.length !== numClasses) {
    throw new PipelineError("evaluate", `Cannot read ${path}: classes must be ${numClasses} names`);
  }
  return meta.value.classes;
}

/** Options of {@linkcode runEvaluateStage}. */
export interface EvaluateStageOptions {
  /** Reuse the scores the train stage saved with the checkpoint when they fit (default true). */
  reuse?: boolean;
}

/**
 * The scores saved with the best checkpoint, when they were made with this run's test settings; else null
 * and the reason. They were computed from the very weights in the folder (saved together, atomically), so
 * scoring the test split again would only repeat the same arithmetic.
 */
async function savedScores(
  checkpointDir: string,
  ctx: StageContext,
  testCount: number,
): Promise<{ scores: CheckpointScores | null; why: string }> {
  let scores: CheckpointScores;
  try {
    scores = JSON.parse(await Deno.readTextFile(join(checkpointDir, CHECKPOINT_SCORES)));
  } catch {
    return { scores: null, why: `no ${CHECKPOINT_SCORES} beside the weights` };
  }
  const { numClasses, testLimit, evalBatchSize, mean, std } = ctx.config;
  const want = { numClasses, testLimit, evalBatchSize, mean: [...mean], std: [...std], testCount };
  if (canonicalJson(scores.settings) !== canonicalJson(want)) {
    return { scores: null, why: "the checkpoint was scored with other test settings" };
  }
  if (!Array.isArray(scores.predictions) || scores.predictions.length !== testCount) {
    return { scores: null, why: `${CHECKPOINT_SCORES} does not hold ${testCount} predictions` };
  }
  return {
    scores,
    why: `the train stage scored these weights at epoch ${scores.epoch} with the same settings`,
  };
}

/**
 * Evaluate `train/checkpoints/best` on the test split and write the stage's files into `ctx.dir`. Where the
 * train stage saved the checkpoint's test scores with the same settings, they are reused (the result is
 * the same; tested) instead of running the network over the test split a second time.
 *
 * @example
 * ```ts
 * import type { StageContext } from "../lib/run/mod.ts";
 * declare const ctx: StageContext;
 * const { accuracy } = await runEvaluateStage(ctx);
 * ```
 */
export async function runEvaluateStage(
  ctx: StageContext,
  options: EvaluateStageOptions = {},
): Promise<Record<string, unknown>> {
  const { config, log } = ctx;
  const decodeDir = ctx.input("decode");
  const classes = await readClasses(decodeDir, config.numClasses);
  const test = limitSplit(await readSplit(decodeDir, "test"), config.testLimit);
  const checkpointDir = join(ctx.input("train"), CHECKPOINT_PATHS.best);
  const saved = options.reuse === false
    ? { scores: null, why: "reuse turned off" }
    : await savedScores(checkpointDir, ctx, test.count);
  let result: EvaluationResult;
  let computedOn: Record<string, unknown>;
  if (saved.scores) {
    log.info(`evaluate: reusing the scores saved with ${BEST_CHECKPOINT} (${saved.why})`);
    result = evaluatePredictions(saved.scores.predictions, config.numClasses);
    computedOn = { reused: `${BEST_CHECKPOINT}/${CHECKPOINT_SCORES}` };
  } else {
    log.info(`evaluate: scoring the test split (${saved.why})`);
    const computed = await scoreTestSplit(ctx, checkpointDir, test);
    result = computed.result;
    computedOn = computed.on;
  }
  const perClass = result.perClass.map((p, i) => ({
    class: classes[i],
    accuracy: p.accuracy,
    count: p.count,
  }));
  const evaluation = {
    accuracy: result.accuracy,
    count: result.count,
    correct: result.correct,
    classes,
    checkpoint: BEST_CHECKPOINT,
    perClass,
    confusion: result.confusion,
  } satisfies EvaluationJson;
  const round = (p: number) => Number(p.toFixed(PROB_DIGITS));
  const predictions = {
    classes,
    items: result.predictions.map((p) => ({
      index: p.index,
      label: p.label,
      pred: p.pred,
      confidence: round(p.confidence),
      probs: p.probs.map(round),
    })),
  } satisfies PredictionsJson;
  await writeJsonAtomic(join(ctx.dir, "evaluation.json"), evaluation);
  await writeJsonAtomic(join(ctx.dir, "predictions.json"), predictions);
  log.info(
    `evaluate: accuracy ${result.accuracy.toFixed(4)} (${result.correct}/${result.count}); per class: ` +
      perClass.map((p) => `${p.class} ${p.accuracy.toFixed(2)}`).join(", "),
  );
  return {
    accuracy: result.accuracy,
    count: result.count,
    correct: result.correct,
    checkpoint: BEST_CHECKPOINT,
    perClass: Object.fromEntries(perClass.map((p) => [p.class, p.accuracy])),
    confusion: result.confusion,
    ...computedOn,
  };
}

/** Run the best checkpoint over the test split in inference mode. */
async function scoreTestSplit(
  ctx: StageContext,
  checkpointDir: string,
  test: SplitData,
): Promise<{ result: EvaluationResult; on: Record<string, unknown> }> {
  const { config, log } = ctx;
  const backend = await selectBackend(config.backend, { stage: "evaluate", kernels: config.kernels });
  log.info(`evaluate: backend ${backend.backend}, adapter: ${formatAdapter(backend.adapter)}`);
  let model;
  try {
    model = await loadModel(checkpointDir);
  } catch (err) {
    throw new PipelineError("evaluate", `Cannot load ${checkpointDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const bar = log.progress("evaluate", { unit: "img" });
    const result = await evaluateBatches(
      model,
      testBatches(test, { batchSize: config.evalBatchSize, mean: config.mean, std: config.std }),
      {
        numClasses: config.numClasses,
        keepPredictions: true,
        onBatch: (seen) => bar.update(seen, test.count),
      },
    );
    bar.done(`accuracy ${result.accuracy.toFixed(4)}`);
    const on = { backend: backend.backend, kernels: backend.kernels, adapter: backend.adapter?.name ?? null };
    return { result, on };
  } finally {
    model.dispose();
  }
}

/** The evaluate stage. */
export const evaluateStage: StageDefinition = {
  name: "evaluate",
  deps: ["decode", "train"],
  module: new URL(import.meta.url),
  params: (config) => ({
    arch: config.arch,
    width: config.width,
    numClasses: config.numClasses,
    backend: config.backend,
    evalBatchSize: config.evalBatchSize,
    mean: config.mean,
    std: config.std,
    testLimit: config.testLimit,
  }),
  run: (ctx) => runEvaluateStage(ctx),
};
