/**
 * Import pretrained ResNet weights into a model from {@linkcode buildResNet}: a torchvision or timm state
 * dict saved as safetensors, or a MindSpore checkpoint such as the tutorial's `resnet50_224_new.ckpt`.
 *
 * Names are translated to the model's layers (the tutorial's MindSpore names):
 *
 * | torchvision / timm                       | MindSpore                                 | layer, weight              |
 * | ---------------------------------------- | ----------------------------------------- | -------------------------- |
 * | `conv1.weight`                           | `conv1.weight`                            | `conv1/kernel`             |
 * | `bn1.weight`, `.bias`, `.running_mean`, `.running_var` | `norm.gamma`, `.beta`, `.moving_mean`, `.moving_variance` | `norm/gamma`, … |
 * | `layer1.0.bn2.*`                         | `layer1.0.norm2.*`                        | `layer1.0.norm2/*`         |
 * | `layer1.0.downsample.0.weight`, `.1.*`   | `layer1.0.down_sample.0.weight`, `.1.*`   | `layer1.0.down_sample.0/kernel`, … |
 * | `fc.weight`, `fc.bias`                   | `fc.weight`, `fc.bias`                    | `fc/kernel`, `fc/bias`     |
 *
 * Conv kernels go from OIHW to HWIO and the head's weight from [out, in] to [in, out]. The head is not
 * imported unless `keepHead` is set: the model keeps its own freshly initialized `numClasses` head whatever
 * the source's class count. `num_batches_tracked` and optimizer state (MindSpore's `moments.*`,
 * `learning_rate`, `global_step`) are ignored and listed in the report. Every other fault (a tensor missing,
 * a shape that differs, a ResNet tensor with no layer in the model, i.e. a file for another depth) refuses the
 * whole import with one line naming the tensor, before any weight is set: there is no partial load.
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * import { loadPretrainedInto } from "./weight_import.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1, padding: "torch" });
 * const report = await loadPretrainedInto(model, "resnet50.safetensors");
 * console.log(report.tensorsLoaded, report.head); // 265 { layer: "fc", imported: false, sourceShape: [1000, 2048], … }
 * ```
 * @module
 */
import { basename, extname } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { PipelineError } from "../core/mod.ts";
import { decodeMindSporeCheckpoint, MindSporeCheckpointError } from "./mindspore_checkpoint.ts";
import {
  decodeSafetensors,
  looksLikeSafetensors,
  type NamedTensor,
  SafetensorsError,
  type TensorToWrite,
} from "./safetensors.ts";

/** Weight file formats. */
export const WEIGHT_FORMATS = ["safetensors", "mindspore"] as const;
/** One weight file format. */
export type WeightFormat = typeof WEIGHT_FORMATS[number];

/** A weight file's tensors, by their names in the file. */
export interface WeightFile {
  /** The file's base name, for messages. */
  file: string;
  /** What it was read as. */
  format: WeightFormat;
  /** The tensors, converted to Float32. */
  tensors: Map<string, NamedTensor>;
  /** Entries that hold no numbers (MindSpore strings, `random_op`). */
  skipped: string[];
}

/** The role of one weight inside a tfjs layer, as the last part of its name (`conv1/kernel` → `kernel`). */
export type WeightRole = "kernel" | "bias" | "gamma" | "beta" | "moving_mean" | "moving_variance";

/** A source tensor's place in the model: the layer and the parameter, before the layer's type is known. */
export interface MappedName {
  /** The model's layer name, e.g. `layer1.0.norm1`. */
  layer: string;
  /**
   * The parameter in torch's terms: `weight` and `bias` are kernel and bias on a conv or dense layer, gamma
   * and beta on a BN (MindSpore's `gamma`/`beta` map to them).
   */
  param: "weight" | "bias" | "moving_mean" | "moving_variance";
}

const PARAM_ALIASES: Record<string, MappedName["param"]> = {
  weight: "weight",
  bias: "bias",
  gamma: "weight",
  beta: "bias",
  running_mean: "moving_mean",
  running_var: "moving_variance",
  moving_mean: "moving_mean",
  moving_variance: "moving_variance",
};

/** Layer names of a ResNet in either naming; a tensor under one of them must have a layer in the model. */
const RESNET_LAYER =
  /^(conv1|bn1|norm|fc|end_point|layer\d+\.\d+\.(conv\d|bn\d|norm\d?|(downsample|down_sample|down_sample_layer)\.[01]))$/;

/**
 * Translate a tensor name of torchvision, timm or MindSpore to the model's layer and parameter. Returns
 * `"ignore"` for bookkeeping tensors (`num_batches_tracked`) and `null` for names that are not parameters
 * (optimizer state, step counters). A `module.` prefix (DataParallel) is dropped. The MindSpore model zoo's
 * ResNet names (`down_sample_layer`, `end_point`) are understood too.
 *
 * @example
 * ```ts
 * mapTensorName("layer2.0.downsample.1.running_var"); // { layer: "layer2.0.down_sample.1", param: "moving_variance" }
 * mapTensorName("bn1.weight"); // { layer: "norm", param: "weight" }
 * ```
 */
export function mapTensorName(name: string): MappedName | "ignore" | null {
  const bare = name.startsWith("module.") ? name.slice("module.".length) : name;
  if (bare.endsWith(".num_batches_tracked")) return "ignore";
  const match = /^(.+)\.([a-z_]+)$/.exec(bare);
  if (!match) return null;
  const param = PARAM_ALIASES[match[2]];
  if (!param) return null;
  const layer = match[1]
    .replace(/^bn1$/, "norm")
    .replace(/^(layer\d+\.\d+)\.bn(\d)$/, "$1.norm$2")
    .replace(/^(layer\d+\.\d+)\.(downsample|down_sample_layer)\.(\d)$/, "$1.down_sample.$3")
    .replace(/^end_point$/, "fc");
  return { layer, param };
}

/** Whether a mapped layer name is a ResNet layer (so a model without it is the wrong arch). */
function isResNetLayer(layer: string): boolean {
  return RESNET_LAYER.test(layer);
}

/**
 * Read a weight file: safetensors or a MindSpore checkpoint, chosen by `format` or, for `"auto"`, by the
 * bytes (a safetensors header) and then the extension. A PyTorch pickle (`.pth`/`.pt`, a zip) is refused with
 * the one-line conversion to safetensors.
 *
 * @example
 * ```ts
 * const weights = await readWeightFile("resnet50_224_new.ckpt");
 * weights.format; // "mindspore"
 * ```
 */
export async function readWeightFile(
  path: string,
  options: { format?: WeightFormat | "auto" } = {},
): Promise<WeightFile> {
  const file = basename(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new PipelineError("train", `Cannot read pretrained weights ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let format = options.format ?? "auto";
  if (format === "auto") {
    if (looksLikeSafetensors(bytes)) format = "safetensors";
    else if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
      throw new PipelineError(
        "train",
        `Cannot import ${file}: a PyTorch pickle (.pth) is not read here; convert it to safetensors: python3 -c ` +
          `"import torch,safetensors.torch as s; s.save_file(torch.load('${file}'), '${file}.safetensors')"`,
      );
    } else if (extname(path) === ".safetensors") format = "safetensors";
    else format = "mindspore";
  }
  try {
    if (format === "safetensors") {
      return { file, format, tensors: decodeSafetensors(bytes, file), skipped: [] };
    }
    const checkpoint = decodeMindSporeCheckpoint(bytes, file);
    return { file, format, tensors: checkpoint.tensors, skipped: checkpoint.skipped };
  } catch (err) {
    if (err instanceof SafetensorsError || err instanceof MindSporeCheckpointError) {
      throw new PipelineError("train", err.message, { cause: err });
    }
    throw err;
  }
}

/** Options of {@linkcode loadPretrainedInto} and {@linkcode importWeights}. */
export interface ImportOptions {
  /** The file's format; `"auto"` (default) looks at the bytes. */
  format?: WeightFormat | "auto";
  /** Import the head too (its shape must match the model's); by default the model keeps its fresh head. */
  keepHead?: boolean;
  /** The head layer's name; `fc` by default. */
  headLayer?: string;
}

/** What an import did. */
export interface ImportReport {
  /** The file's base name. */
  file: string;
  /** What it was read as. */
  format: WeightFormat;
  /** Tensors of the file that were set into the model. */
  tensorsLoaded: number;
  /** Numbers set into the model. */
  valuesLoaded: number;
  /** Layers whose every weight was set. */
  layersLoaded: number;
  /** Tensors of the file that were not used: `num_batches_tracked`, optimizer state, the head when replaced. */
  ignored: string[];
  /** The head. */
  head: {
    /** The head layer's name. */
    layer: string;
    /** Whether the file's head was imported (`keepHead`), or the model kept its fresh head. */
    imported: boolean;
    /** The file's head weight shape as stored ([classes, features]), or null when the file has no head. */
    sourceShape: number[] | null;
    /** The model's head kernel shape ([features, classes]). */
    shape: number[];
  };
}

/** The expected source shape of a model weight, and how to convert the source's values to the model's. */
function sourceShapeOf(className: string, role: WeightRole, shape: number[]): number[] {
  if (role === "kernel" && className === "Conv2D") {
    const [kh, kw, cin, cout] = shape;
    return [cout, cin, kh, kw];
  }
  if (role === "kernel" && className === "Dense") return [shape[1], shape[0]];
  return shape;
}

/** OIHW → HWIO. */
function oihwToHwio(data: Float32Array, [o, i, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++) {
    for (let ii = 0; ii < i; ii++) {
      for (let hh = 0; hh < h; hh++) {
        const src = ((oo * i + ii) * h + hh) * w;
        for (let ww = 0; ww < w; ww++) out[((hh * w + ww) * i + ii) * o + oo] = data[src + ww];
      }
    }
  }
  return out;
}

/** [out, in] → [in, out]. */
function transpose2d(data: Float32Array, [rows, cols]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

/** The source parameter that fills a model weight of `role` on a layer of `className`. */
function paramFor(className: string, role: WeightRole): MappedName["param"] {
  if (className === "BatchNormalization") {
    if (role === "gamma") return "weight";
    if (role === "beta") return "bias";
    if (role === "moving_mean" || role === "moving_variance") return role;
  }
  return role === "kernel" ? "weight" : "bias";
}

/** The name a tensor for this layer and role has in a file of `format`, for messages. */
function sourceNameFor(format: WeightFormat, layer: string, className: string, role: WeightRole): string {
  if (format === "mindspore") {
    return `${layer}.${className === "BatchNormalization" ? role : role === "kernel" ? "weight" : "bias"}`;
  }
  const torchLayer = layer
    .replace(/^norm$/, "bn1")
    .replace(/\.norm(\d)$/, ".bn$1")
    .replace(/\.down_sample\./, ".downsample.");
  const torchParam = {
    kernel: "weight",
    bias: "bias",
    gamma: "weight",
    beta: "bias",
    moving_mean: "running_mean",
    moving_variance: "running_var",
  }[role];
  return `${torchLayer}.${torchParam}`;
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Set every weight of `model` except the head from the tensors of `weights`, checking names and shapes
 * first; nothing is set unless everything fits. Throws `PipelineError("train", …)` with one line naming the
 * first fault (and how many more there are).
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1, padding: "torch" });
 * const report = importWeights(model, await readWeightFile("resnet50.safetensors"));
 * ```
 */
export function importWeights(
  model: tfl.LayersModel,
  weights: WeightFile,
  options: ImportOptions = {},
): ImportReport {
  const headLayer = options.headLayer ?? "fc";
  const keepHead = options.keepHead ?? false;
  const faults: string[] = [];
  const ignored: string[] = [];

  // source tensors by (layer, param)
  const bySlot = new Map<string, NamedTensor>();
  for (const [name, tensor] of weights.tensors) {
    const mapped = mapTensorName(name);
    if (mapped === "ignore" || mapped === null) {
      ignored.push(name);
      continue;
    }
    const slot = `${mapped.layer}|${mapped.param}`;
    if (bySlot.has(slot)) {
      faults.push(
        `Cannot import ${name} from ${weights.file}: ${bySlot.get(slot)!.name} fills the same weight`,
      );
      continue;
    }
    let layer: tfl.layers.Layer | undefined;
    try {
      layer = model.getLayer(mapped.layer);
    } catch {
      layer = undefined;
    }
    if (layer === undefined || layer.weights.length === 0) {
      if (isResNetLayer(mapped.layer)) {
        faults.push(
          `Cannot import ${name} from ${weights.file}: the model (${model.name}) has no layer ${mapped.layer}; ` +
            `is the file for another arch?`,
        );
      } else ignored.push(name);
      continue;
    }
    bySlot.set(slot, tensor);
  }

  const head = model.getLayer(headLayer);
  const headWeight = bySlot.get(`${headLayer}|weight`);
  const report: ImportReport = {
    file: weights.file,
    format: weights.format,
    tensorsLoaded: 0,
    valuesLoaded: 0,
    layersLoaded: 0,
    ignored,
    head: {
      layer: headLayer,
      imported: keepHead,
      sourceShape: headWeight ? headWeight.shape : null,
      shape: head.weights[0]?.shape.map((d) => d ?? 0) ?? [],
    },
  };

  const used = new Set<string>();
  const plan: { layer: tfl.layers.Layer; values: { data: Float32Array; shape: number[] }[] }[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    if (layer.name === headLayer && !keepHead) {
      for (const param of ["weight", "bias"]) {
        const t = bySlot.get(`${headLayer}|${param}`);
        if (t) {
          ignored.push(t.name);
          used.add(`${headLayer}|${param}`);
        }
      }
      continue;
    }
    const className = layer.getClassName();
    if (!["Conv2D", "BatchNormalization", "Dense"].includes(className)) {
      faults.push(`Cannot import into ${layer.name}: layers of type ${className} are not importable`);
      continue;
    }
    const values: { data: Float32Array; shape: number[] }[] = [];
    for (const w of layer.weights) {
      const role = w.originalName.slice(w.originalName.lastIndexOf("/") + 1).replace(
        /_\d+$/,
        "",
      ) as WeightRole;
      const shape = w.shape.map((d) => d ?? 0);
      const slot = `${layer.name}|${paramFor(className, role)}`;
      const tensor = bySlot.get(slot);
      if (!tensor) {
        faults.push(
          `Cannot import ${weights.file}: it has no ${
            sourceNameFor(weights.format, layer.name, className, role)
          } ` +
            `for ${w.originalName}`,
        );
        continue;
      }
      used.add(slot);
      const expected = sourceShapeOf(className, role, shape);
      if (!same(tensor.shape, expected)) {
        faults.push(
          `Cannot import ${tensor.name} from ${weights.file}: shape [${tensor.shape}] expected [${expected}]`,
        );
        continue;
      }
      let data = tensor.data;
      if (role === "kernel" && className === "Conv2D") data = oihwToHwio(data, expected);
      else if (role === "kernel" && className === "Dense") data = transpose2d(data, expected);
      values.push({ data, shape });
    }
    plan.push({ layer, values });
  }
  for (const [slot, tensor] of bySlot) {
    if (!used.has(slot)) {
      faults.push(`Cannot import ${tensor.name} from ${weights.file}: the model has no weight for it`);
    }
  }
  if (faults.length > 0) {
    const more = faults.length > 1
      ? ` (and ${faults.length - 1} more fault${faults.length > 2 ? "s" : ""})`
      : "";
    throw new PipelineError("train", faults[0] + more);
  }

  for (const { layer, values } of plan) {
    tf.tidy(() => layer.setWeights(values.map((v) => tf.tensor(v.data, v.shape, "float32"))));
    report.layersLoaded++;
    report.tensorsLoaded += values.length;
    report.valuesLoaded += values.reduce((n, v) => n + v.data.length, 0);
  }
  return report;
}

/**
 * Read a weight file and import it into `model` (see {@linkcode importWeights}): every layer except the head
 * gets the file's weights; the head stays the model's own fresh one unless `keepHead`.
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
 * const report = await loadPretrainedInto(model, "resnet50_224_new.ckpt");
 * report.tensorsLoaded; // 265: 53 conv kernels and 53 BNs × 4, without the head
 * ```
 */
export async function loadPretrainedInto(
  model: tfl.LayersModel,
  path: string,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const weights = await readWeightFile(path, { format: options.format });
  return importWeights(model, weights, options);
}

/**
 * The model's weights as tensors named as in a `torch` (torchvision/timm) state dict or a `mindspore`
 * checkpoint, in source layouts (OIHW kernels, [out, in] head): the inverse of the import, to hand a model
 * to PyTorch or MindSpore and for tests.
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1, padding: "torch" });
 * import { encodeSafetensors } from "./safetensors.ts";
 * await Deno.writeFile("model.safetensors", encodeSafetensors(await exportNamedTensors(model, "torch")));
 * ```
 */
export async function exportNamedTensors(
  model: tfl.LayersModel,
  naming: "torch" | "mindspore",
): Promise<TensorToWrite[]> {
  const format: WeightFormat = naming === "torch" ? "safetensors" : "mindspore";
  const out: TensorToWrite[] = [];
  for (const layer of model.layers) {
    const className = layer.getClassName();
    for (const w of layer.weights) {
      const role = w.originalName.slice(w.originalName.lastIndexOf("/") + 1).replace(
        /_\d+$/,
        "",
      ) as WeightRole;
      const shape = w.shape.map((d) => d ?? 0);
      const values = await w.read().data() as Float32Array;
      let data: Float32Array = Float32Array.from(values);
      let sourceShape = shape;
      if (role === "kernel" && className === "Conv2D") {
        const [kh, kw, cin, cout] = shape;
        sourceShape = [cout, cin, kh, kw];
        data = hwioToOihw(data, shape);
      } else if (role === "kernel" && className === "Dense") {
        sourceShape = [shape[1], shape[0]];
        data = transpose2d(data, shape);
      }
      out.push({
        name: sourceNameFor(format, layer.name, className, role),
        shape: sourceShape,
        data,
        dtype: "F32",
      });
    }
  }
  return out;
}

/** HWIO → OIHW. */
function hwioToOihw(data: Float32Array, [h, w, i, o]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let hh = 0; hh < h; hh++) {
    for (let ww = 0; ww < w; ww++) {
      for (let ii = 0; ii < i; ii++) {
        const src = ((hh * w + ww) * i + ii) * o;
        for (let oo = 0; oo < o; oo++) out[((oo * i + ii) * h + hh) * w + ww] = data[src + oo];
      }
    }
  }
  return out;
}
