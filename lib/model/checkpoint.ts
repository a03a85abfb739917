/**
 * Checkpoints: a tfjs layers model as `model.json` + `weights.bin` (the tfjs layers-model format, written
 * through a custom IO handler with Deno's file APIs, since tfjs has no `file://` handler outside tfjs-node),
 * and for resuming, the optimizer's momentum slots (`optimizer.json` + `optimizer.bin`) and the loop's state
 * (`state.json`).
 *
 * A checkpoint folder is written whole or not at all: its files go into a temporary folder beside it, which
 * then replaces the old folder (rename the old one away, rename the new one in, delete the old one).
 * {@linkcode recoverCheckpoint} repairs a folder caught between the two renames.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import type * as tfl from "@tensorflow/tfjs-layers";
 * declare const model: tfl.LayersModel;
 * const optimizer = tf.train.momentum(1e-3, 0.9);
 * import { loadModel, saveCheckpoint } from "./checkpoint.ts";
 * await saveCheckpoint("run/train/checkpoints/last", model, { optimizer, state: { epoch: 1, step: 0 } });
 * const again = await loadModel("run/train/checkpoints/last");
 * ```
 * @module
 */
// Registers the project's batch norm under tfjs's name, so loaded models update statistics as trained ones.
import "./batch_norm.ts";
import { basename, dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { describeOsError, PipelineError, WriteError, writeFileWhole } from "../core/mod.ts";

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  model: "model.json",
  weights: "weights.bin",
  optimizer: "optimizer.json",
  optimizerWeights: "optimizer.bin",
  state: "state.json",
} as const;

/** `model.json`: the tfjs layers-model format, one weights file. */
export interface ModelJson {
  format: "layers-model";
  generatedBy: string;
  convertedBy: null;
  modelTopology: tf.io.ModelArtifacts["modelTopology"];
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** `optimizer.json`: which optimizer, its config, its step count and its slot variables' layout. */
export interface OptimizerJson {
  /** tfjs class name ("Momentum"). */
  className: string;
  /** `optimizer.getConfig()`: learning rate, momentum, … */
  config: Record<string, unknown>;
  /** Steps the optimizer has applied. */
  iterations: number;
  /** One spec per slot, named `<weight>/momentum` after the model weight it belongs to, in `optimizer.bin`. */
  weights: tf.io.WeightsManifestEntry[];
}

/** Options of {@linkcode saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Save this optimizer's slots too. Its slots must follow `model.trainableWeights` order (see trainStep). */
  optimizer?: tf.Optimizer;
  /** JSON state saved as `state.json` (epoch, step, …). */
  state?: unknown;
  /** More JSON files saved inside the folder, by name (e.g. the scores the checkpoint earned). */
  json?: Record<string, unknown>;
}

/** Save `model` (and optionally optimizer slots and state) as the checkpoint folder `dir`, atomically. */
export async function saveCheckpoint(
  dir: string,
  model: tfl.LayersModel,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  await Deno.mkdir(dirname(dir), { recursive: true });
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
  const tmp = `${dir}.tmp-${Deno.pid}-${rand}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await writeModelFiles(tmp, model);
    if (options.optimizer) await writeOptimizerFiles(tmp, model, options.optimizer);
    if (options.state !== undefined) {
      await writeFileWhole(join(tmp, CHECKPOINT_FILES.state), JSON.stringify(options.state, null, 2) + "\n");
    }
    for (const [name, value] of Object.entries(options.json ?? {})) {
      await writeFileWhole(join(tmp, name), JSON.stringify(value) + "\n");
    }
    await replaceDir(tmp, dir);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    // Name the file as the checkpoint will hold it, not the temporary folder it was written into.
    throw err instanceof WriteError ? new WriteError(err.path.replace(tmp, dir), err.cause) : err;
  }
}

/** Swap `tmp` in as `dir`. */
async function replaceDir(tmp: string, dir: string): Promise<void> {
  const old = `${dir}.old-${Deno.pid}`;
  let hadOld = false;
  try {
    await Deno.rename(dir, old);
    hadOld = true;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.rename(tmp, dir);
  if (hadOld) await Deno.remove(old, { recursive: true });
}

/**
 * Tidy the checkpoint folder `dir` after a crash: delete half-written `.tmp-` folders beside it, and if `dir`
 * itself is missing while an `.old-` copy exists (a crash between the two renames), put that copy back.
 *
 * @example
 * ```ts
 * await recoverCheckpoint("run/train/checkpoints/last");
 * ```
 */
export async function recoverCheckpoint(dir: string): Promise<void> {
  const parent = dirname(dir);
  const name = basename(dir);
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  const exists = entries.some((e) => e.name === name);
  const olds = entries.filter((e) => e.name.startsWith(`${name}.old-`)).map((e) => e.name).sort();
  for (const e of entries) {
    if (e.name.startsWith(`${name}.tmp-`)) await Deno.remove(join(parent, e.name), { recursive: true });
  }
  if (!exists && olds.length > 0) {
    await Deno.rename(join(parent, olds[olds.length - 1]), dir);
    olds.pop();
  }
  for (const old of olds) await Deno.remove(join(parent, old), { recursive: true });
}

/** Write `model.json` and `weights.bin` of `model` into the folder `dir` (not atomic by itself). */
export async function writeModelFiles(dir: string, model: tfl.LayersModel): Promise<void> {
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    if (!artifacts.weightData || !artifacts.weightSpecs) {
      throw new Error("Cannot save the model: tfjs gave no weights");
    }
    const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const json: ModelJson = {
      format: "layers-model",
      generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [CHECKPOINT_FILES.weights], weights: artifacts.weightSpecs }],
    };
    await writeFileWhole(join(dir, CHECKPOINT_FILES.weights), new Uint8Array(weightData));
    await writeFileWhole(join(dir, CHECKPOINT_FILES.model), JSON.stringify(json) + "\n");
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
}

/** Options of the checkpoint loaders. */
export interface LoadOptions {
  /** The stage named in the error line (default "train"). */
  stage?: string;
}

/** The largest magnitude a loaded weight may have: beyond it a checkpoint is refused as absurd. */
export const MAX_ABS_WEIGHT = 1e6;

function loadError(stage: string, path: string, problem: string, cause?: unknown): PipelineError {
  return new PipelineError(stage, `Cannot load ${path}: ${problem}`, { cause });
}

async function readBytes(stage: string, path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    throw loadError(stage, path, describeOsError(err), err);
  }
}

async function readJson(stage: string, path: string): Promise<unknown> {
  const bytes = await readBytes(stage, path);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw loadError(stage, path, `not valid JSON (${(err as Error).message.split("\n")[0]})`, err);
  }
}

/**
 * Refuse float32 weights that are not finite or whose magnitude exceeds {@linkcode MAX_ABS_WEIGHT}: they
 * come from a damaged file, and would load silently and train on garbage.
 */
function checkWeightValues(
  stage: string,
  path: string,
  buffer: ArrayBuffer,
  specs: tf.io.WeightsManifestEntry[],
): void {
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype === "float32" || spec.dtype === undefined) {
      const values = new Float32Array(buffer, offset, n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (!Number.isFinite(v) || Math.abs(v) > MAX_ABS_WEIGHT) {
          throw loadError(
            stage,
            path,
            `${spec.name}[${i}] is ${v} (a weight must be finite and within ±${MAX_ABS_WEIGHT}); the file is damaged`,
          );
        }
      }
    }
    offset += byteSize(spec);
  }
}

/**
 * Load the layers model saved in checkpoint folder `dir`. A missing, truncated or damaged file, or a
 * weight that is not finite or absurdly large, is one {@linkcode PipelineError} line naming the file.
 *
 * @example
 * ```ts
 * const model = await loadModel("run/train/checkpoints/best");
 * ```
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<tfl.LayersModel> {
  const stage = options.stage ?? "train";
  const modelPath = join(dir, CHECKPOINT_FILES.model);
  const json = await readJson(stage, modelPath) as ModelJson;
  const group = json?.weightsManifest?.[0];
  if (!json?.modelTopology || !group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
    throw loadError(stage, modelPath, "not a tfjs layers model (no topology or weights manifest)");
  }
  const weightsPath = join(dir, String(group.paths[0]));
  const bytes = await readBytes(stage, weightsPath);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = weightSpecs.reduce((sum, s) => sum + byteSize(s), 0);
  if (bytes.byteLength !== expected) {
    throw loadError(
      stage,
      weightsPath,
      `it holds ${bytes.byteLength} bytes; model.json describes ${expected} (truncated or from another model)`,
    );
  }
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  checkWeightValues(stage, weightsPath, weightData, weightSpecs);
  try {
    return await tfl.loadLayersModel({
      load: () =>
        Promise.resolve({
          modelTopology: json.modelTopology,
          weightSpecs,
          weightData,
          format: json.format,
          generatedBy: json.generatedBy,
        }),
    });
  } catch (err) {
    throw loadError(stage, modelPath, (err as Error).message.split("\n")[0], err);
  }
}

function byteSize(spec: tf.io.WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  return n * (spec.dtype === "bool" ? 1 : 4);
}

/** Write `optimizer.json` + `optimizer.bin`: the slots named after `model.trainableWeights`, in that order. */
async function writeOptimizerFiles(dir: string, model: tfl.LayersModel, optimizer: tf.Optimizer) {
  const [iter, ...slots] = await optimizer.getWeights();
  const iterations = (await iter.tensor.data())[0];
  iter.tensor.dispose();
  const trainable = model.trainableWeights;
  if (slots.length !== 0 && slots.length !== trainable.length) {
    throw new Error(
      `Cannot save the optimizer: ${slots.length} slots for ${trainable.length} trainable weights`,
    );
  }
  const named = slots.map((s, i) => ({ name: `${trainable[i].originalName}/momentum`, tensor: s.tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const json: OptimizerJson = {
    className: optimizer.getClassName(),
    config: optimizer.getConfig() as Record<string, unknown>,
    iterations,
    weights: specs,
  };
  await writeFileWhole(join(dir, CHECKPOINT_FILES.optimizerWeights), new Uint8Array(data as ArrayBuffer));
  await writeFileWhole(join(dir, CHECKPOINT_FILES.optimizer), JSON.stringify(json) + "\n");
}

/**
 * Restore an optimizer's slots from checkpoint folder `dir` for `model` (matched by weight name, set in
 * `model.trainableWeights` order). Returns false when the checkpoint holds no optimizer state.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import type * as tfl from "@tensorflow/tfjs-layers";
 * declare const model: tfl.LayersModel;
 * const optimizer = tf.train.momentum(1e-3, 0.9);
 * await loadOptimizerState("run/train/checkpoints/last", model, optimizer);
 * ```
 */
export async function loadOptimizerState(
  dir: string,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  options: LoadOptions = {},
): Promise<boolean> {
  const stage = options.stage ?? "train";
  const jsonPath = join(dir, CHECKPOINT_FILES.optimizer);
  const binPath = join(dir, CHECKPOINT_FILES.optimizerWeights);
  if (!await exists(stage, jsonPath)) return false;
  const json = await readJson(stage, jsonPath) as OptimizerJson;
  if (
    typeof json !== "object" || json === null || !Array.isArray(json.weights) ||
    !Number.isSafeInteger(json.iterations) || json.iterations < 0
  ) {
    throw loadError(stage, jsonPath, "not an optimizer state (weights list and iterations expected)");
  }
  if (json.className !== optimizer.getClassName()) {
    throw loadError(
      stage,
      jsonPath,
      `it holds ${json.className} state; this run uses ${optimizer.getClassName()}`,
    );
  }
  const bytes = await readBytes(stage, binPath);
  const expected = json.weights.reduce((sum, s) => sum + byteSize(s), 0);
  if (bytes.byteLength !== expected) {
    throw loadError(
      stage,
      binPath,
      `it holds ${bytes.byteLength} bytes; optimizer.json describes ${expected} (truncated?)`,
    );
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  checkWeightValues(stage, binPath, buffer, json.weights);
  const decoded = tf.io.decodeWeights(buffer, json.weights);
  const names = Object.keys(decoded);
  const ordered: { name: string; tensor: tf.Tensor }[] = [];
  try {
    if (names.length > 0) {
      for (const w of model.trainableWeights) {
        const name = `${w.originalName}/momentum`;
        const t = decoded[name];
        if (!t) throw loadError(stage, jsonPath, `no optimizer slot for ${w.originalName}`);
        if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
          throw loadError(
            stage,
            jsonPath,
            `slot ${name} has shape [${t.shape}], the weight has [${w.shape}]`,
          );
        }
        ordered.push({ name, tensor: t });
      }
      if (names.length !== ordered.length) {
        throw loadError(
          stage,
          jsonPath,
          `${names.length} optimizer slots for ${ordered.length} trainable weights`,
        );
      }
    }
    const iter = tf.scalar(json.iterations, "int32");
    try {
      await optimizer.setWeights([{ name: "iter", tensor: iter }, ...ordered]);
    } finally {
      iter.dispose();
    }
  } finally {
    tf.dispose(Object.values(decoded));
  }
  return true;
}

/** Whether `path` exists: false when it does not, one line of `stage` naming it when it cannot be read. */
async function exists(stage: string, path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw loadError(stage, path, describeOsError(err), err);
  }
}

/**
 * Read `state.json` of checkpoint folder `dir`; null when there is none.
 *
 * @example
 * ```ts
 * const state = await readCheckpointState<{ epoch: number }>("run/train/checkpoints/last");
 * ```
 */
export async function readCheckpointState<T = unknown>(
  dir: string,
  options: LoadOptions = {},
): Promise<T | null> {
  const stage = options.stage ?? "train";
  const path = join(dir, CHECKPOINT_FILES.state);
  if (!await exists(stage, path)) return null;
  const json = await readJson(stage, path);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw loadError(stage, path, "not a JSON object (the file is damaged)");
  }
  return json as T;
}
