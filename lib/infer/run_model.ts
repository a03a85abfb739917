/**
 * A finished run's network, ready to answer: its checkpoint (`train/checkpoints/best` or `last`), the
 * normalization it was trained with (run.json's config `mean`/`std`), its class names (`decode/meta.json`)
 * and the padding mode it was built with. Used by `deno task classify`, `deno task export` and the
 * dashboard's "classify an image" box.
 *
 * @example
 * ```ts
 * import { openRunModel, classifyImages } from "./run_model.ts";
 * import { decodeImage } from "../figures/mod.ts";
 * const run = await openRunModel("runs/smoke", { checkpoint: "best" });
 * const [top] = classifyImages(run, [decodeImage(await Deno.readFile("cat.png"), "cat.png")]);
 * console.log(top[0].className, top[0].probability);
 * run.model.dispose();
 * ```
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { PipelineError, sha256File } from "../core/mod.ts";
import { type OutputFile, parseDecodeMeta, parseRunManifest } from "../contract/mod.ts";
import { inputShapeOf, loadModel } from "../model/mod.ts";
import { normalizeImages } from "../data/mod.ts";
import { decodeImage, type RasterImage, resizeRgb } from "../figures/mod.ts";

/** Which checkpoint of a run. */
export const CHECKPOINT_KINDS = ["best", "last"] as const;
/** One checkpoint kind. */
export type CheckpointKind = typeof CHECKPOINT_KINDS[number];

/** A run's network and what it needs to see pictures as it saw its training data. */
export interface RunModel {
  /** The run folder. */
  runDir: string;
  /** `train/checkpoints/<kind>` inside it. */
  checkpointDir: string;
  /** Which checkpoint. */
  checkpoint: CheckpointKind;
  /** The network, in inference mode when called through {@linkcode classifyImages}. */
  model: tfl.LayersModel;
  /** The config's arch (`resnet50`, `tiny`, …), or null when run.json does not say. */
  arch: string | null;
  /** Class names, index = output. */
  classes: string[];
  /** Normalize mean, RGB, [0, 1] scale. */
  mean: number[];
  /** Normalize std, RGB, [0, 1] scale. */
  std: number[];
  /** Input height = width in pixels (32). */
  inputSize: number;
  /** How the convolutions pad: TF-style "same" (the default build) or PyTorch's symmetric "torch". */
  padding: "same" | "torch";
  /**
   * Whether the checkpoint's files were checked against the SHA-256 that run.json recorded for them; false
   * when it recorded none (the train stage has not finished), with `unverified` saying so in one line.
   */
  verified: boolean;
  /** Why the checkpoint could not be checked, when it could not; null when it was. */
  unverified: string | null;
}

/** Options of {@linkcode openRunModel}. */
export interface OpenRunModelOptions {
  /** `best` (default) or `last`. */
  checkpoint?: CheckpointKind;
  /** The command, for the one-line error (`error: [classify] …`). Default "classify". */
  command?: string;
}

async function readJson(path: string, command: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
    throw new PipelineError(command, `Cannot read ${path}: ${why}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PipelineError(command, `Cannot read ${path}: not JSON (${(err as Error).message})`);
  }
}

function triple(v: unknown): number[] | null {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x))
    ? v as number[]
    : null;
}

/**
 * Open a run folder's checkpoint with its normalization and class names. Throws a `PipelineError`
 * (one line naming the file and what is wrong) when something is missing.
 *
 * @example
 * ```ts
 * const run = await openRunModel("runs/quick", { checkpoint: "last", command: "export" });
 * console.log(run.classes.length, run.mean, run.padding); // 10 [0.4914, 0.4822, 0.4465] same
 * ```
 */
export async function openRunModel(runDir: string, options: OpenRunModelOptions = {}): Promise<RunModel> {
  const command = options.command ?? "classify";
  const checkpoint = options.checkpoint ?? "best";
  const manifestPath = join(runDir, "run.json");
  const parsed = parseRunManifest(await readJson(manifestPath, command));
  if (!parsed.ok) throw new PipelineError(command, `Cannot read ${manifestPath}: ${parsed.problem}`);
  const mean = triple(parsed.value.config.mean);
  const std = triple(parsed.value.config.std);
  if (!mean || !std) {
    throw new PipelineError(command, `Cannot read ${manifestPath}: config has no mean/std of 3 numbers`);
  }
  const metaPath = join(runDir, "decode", "meta.json");
  const meta = parseDecodeMeta(await readJson(metaPath, command));
  if (!meta.ok) throw new PipelineError(command, `Cannot read ${metaPath}: ${meta.problem}`);
  const checkpointDir = join(runDir, "train", "checkpoints", checkpoint);
  let model: tfl.LayersModel;
  try {
    model = await loadModel(checkpointDir);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "no checkpoint there" : (err as Error).message;
    throw new PipelineError(command, `Cannot load ${checkpointDir}: ${why.split("\n")[0]}`, { cause: err });
  }
  let check: string | null;
  try {
    check = await verifyCheckpoint(parsed.value.stages.train?.outputs ?? [], {
      checkpointDir,
      prefix: `checkpoints/${checkpoint}/`,
      command,
    });
  } catch (err) {
    model.dispose();
    throw err;
  }
  const [h, w, c] = inputShapeOf(model);
  const outputs = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (h !== w || c !== 3 || outputs !== meta.value.classes.length) {
    model.dispose();
    throw new PipelineError(
      command,
      `Cannot use ${checkpointDir}: input [${h},${w},${c}] and ${outputs} outputs do not fit ` +
        `${meta.value.classes.length} classes of RGB squares`,
    );
  }
  return {
    runDir,
    checkpointDir,
    checkpoint,
    model,
    arch: typeof parsed.value.config.arch === "string" ? parsed.value.config.arch : null,
    classes: meta.value.classes,
    mean,
    std,
    inputSize: h,
    padding: model.layers.some((l) => l.name.endsWith(".pad")) ? "torch" : "same",
    verified: check === null,
    unverified: check,
  };
}

/**
 * Check the files of a checkpoint folder against the SHA-256 run.json's train stage recorded for them (as
 * the cache checks its entries): a changed or missing file is a `PipelineError` naming it. Returns null
 * when every recorded file matched, or one line saying why nothing could be checked.
 */
async function verifyCheckpoint(
  outputs: readonly OutputFile[],
  options: { checkpointDir: string; prefix: string; command: string },
): Promise<string | null> {
  const recorded = outputs.filter((o) => o.path.startsWith(options.prefix));
  if (recorded.length === 0) {
    return `${options.checkpointDir} was not checked: run.json records no SHA-256 for it ` +
      `(the train stage has not finished)`;
  }
  for (const output of recorded) {
    const path = join(options.checkpointDir, output.path.slice(options.prefix.length));
    let sha: string;
    try {
      sha = await sha256File(path);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "it is missing"
        : (err as Error).message.split("\n")[0];
      throw new PipelineError(options.command, `Cannot use ${path}: ${why}, though run.json records it`);
    }
    if (sha !== output.sha256) {
      throw new PipelineError(
        options.command,
        `Cannot use ${path}: it differs from the SHA-256 run.json recorded for it (changed or damaged ` +
          `since the run); rerun the train stage, or restore the file`,
      );
    }
  }
  return null;
}

/** One class and the probability the network gives it. */
export interface ClassScore {
  /** Output index. */
  index: number;
  /** Class name. */
  className: string;
  /** Softmax probability, 0..1. */
  probability: number;
}

/**
 * Resize RGB pictures to the run's input, normalize them as the test batches were, and return each one's
 * top `top` classes (default 3), most probable first.
 *
 * @example
 * ```ts
 * import type { RasterImage } from "../figures/mod.ts";
 * declare const run: RunModel, image: RasterImage;
 * const [scores] = classifyImages(run, [image], { top: 3 });
 * console.log(scores.map((s) => `${s.className} ${(s.probability * 100).toFixed(1)} %`));
 * ```
 */
export function classifyImages(
  run: RunModel,
  images: readonly RasterImage[],
  options: { top?: number } = {},
): ClassScore[][] {
  if (images.length === 0) return [];
  const top = Math.min(options.top ?? 3, run.classes.length);
  const size = run.inputSize;
  const pixels = new Uint8Array(images.length * size * size * 3);
  images.forEach((image, i) => pixels.set(resizeRgb(image, size).data, i * size * size * 3));
  const x = normalizeImages(pixels, { mean: run.mean, std: run.std });
  const probs = tf.tidy(() => {
    const input = tf.tensor4d(x, [images.length, size, size, 3]);
    return tf.softmax(run.model.predict(input) as tf.Tensor).dataSync() as Float32Array;
  });
  const k = run.classes.length;
  return images.map((_, i) => {
    const row = Array.from(probs.subarray(i * k, (i + 1) * k));
    return row.map((p, index) => ({ index, className: run.classes[index], probability: p }))
      .sort((a, b) => b.probability - a.probability || a.index - b.index)
      .slice(0, top);
  });
}

/** One picture's answer. */
export interface ImageClassification {
  /** The name it was given (file name or upload name). */
  file: string;
  /** Its size before resizing. */
  width: number;
  height: number;
  /** The top classes, most probable first. */
  top: ClassScore[];
}

/**
 * Decode PNG or JPEG bytes and classify them (see {@linkcode classifyImages}). A picture that cannot be read,
 * or has more than `maxMegapixels` (read from its header, before decoding), throws `ImageInputError` with one
 * line naming `name`.
 *
 * @example
 * ```ts
 * declare const run: RunModel;
 * const answer = classifyBytes(run, await Deno.readFile("cat.jpg"), { name: "cat.jpg" });
 * console.log(answer.top[0].className);
 * ```
 */
export function classifyBytes(
  run: RunModel,
  bytes: Uint8Array,
  options: { name: string; top?: number; maxMegapixels?: number },
): ImageClassification {
  const image = decodeImage(bytes, options.name, { maxMegapixels: options.maxMegapixels });
  const [top] = classifyImages(run, [image], { top: options.top });
  return { file: options.name, width: image.width, height: image.height, top };
}
