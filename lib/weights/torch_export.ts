/**
 * Export a trained network for PyTorch: its weights as a torchvision state dict in safetensors (torchvision's
 * names and layouts: OIHW conv kernels, [out, in] head, `bn*.running_mean/var` and the
 * `num_batches_tracked` counters `load_state_dict(strict=True)` wants), and a small JSON of what a PyTorch
 * user needs to feed it: the input size, mean, std, class names, the block layout and the padding mode.
 *
 * The inverse of the import ({@linkcode exportNamedTensors} is the name mapping read backwards), so a file
 * written here imports back into the same logits.
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * import { torchExport } from "./torch_export.ts";
 * const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
 * const out = await torchExport(model, {
 *   arch: "tiny", classes: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
 *   mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], padding: "same",
 * });
 * console.log(out.preprocessing.inputSize, out.safetensors.byteLength > 0); // 32 true
 * ```
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { type Arch, ARCHS, RESNET_SPECS, type ResNetSpec } from "../model/mod.ts";
import { encodeSafetensors, type TensorToWrite } from "./safetensors.ts";
import { exportNamedTensors } from "./weight_import.ts";

/** Name sets an export can use. */
export const EXPORT_NAMINGS = ["torchvision"] as const;
/** File formats an export can write. */
export const EXPORT_FORMATS = ["safetensors"] as const;

/** `preprocessing.json`: how to turn a picture into the exported network's input. */
export interface ExportPreprocessing {
  /** The network family (`resnet50`, `tiny`, …). */
  arch: string;
  /** torchvision's builder for it (`torchvision.models.resnet50`), or null for a width torchvision lacks. */
  torchvisionBuilder: string | null;
  /** The block layout, enough to build any of them from torchvision's `BasicBlock`/`Bottleneck`. */
  spec: { block: ResNetSpec["block"]; layers: number[]; width: number };
  /** Outputs of the head. */
  numClasses: number;
  /** Class names, index = output. */
  classes: string[];
  /** Square input, pixels. */
  inputSize: number;
  /** PyTorch's layout of the input: N × 3 × H × W, RGB. */
  layout: "NCHW";
  /** Pixels are divided by this first (ToTensor). */
  scale: number;
  /** Then Normalize: (x − mean) / std per channel, RGB. */
  mean: number[];
  std: number[];
  /** How pictures of another size were made 32 × 32 in this project. */
  resize: string;
  /**
   * `same`: TensorFlow-style padding (a stride-2 window's extra row and column at the bottom/right; the
   * max-pool pads with −∞); torchvision's symmetric padding gives other logits (see the README).
   * `torch`: torchvision's own padding, nothing to change.
   */
  padding: "same" | "torch";
  /** Where the weights came from (the run and checkpoint). */
  source: string;
}

/** Options of {@linkcode torchExport}. */
export interface TorchExportOptions {
  /** The network family the model was built as. */
  arch: string;
  /** Class names. */
  classes: string[];
  /** Normalize mean, RGB, [0, 1] scale. */
  mean: number[];
  /** Normalize std, RGB, [0, 1] scale. */
  std: number[];
  /** The model's padding mode. */
  padding: "same" | "torch";
  /** Input size (default 32). */
  inputSize?: number;
  /** For the JSON's `source`. */
  source?: string;
}

/** What {@linkcode torchExport} made. */
export interface TorchExport {
  /** The state dict as safetensors bytes. */
  safetensors: Uint8Array;
  /** Its tensors' names, in order. */
  names: string[];
  /** The preprocessing JSON. */
  preprocessing: ExportPreprocessing;
}

/**
 * The model's weights as a torchvision state dict (names, layouts, `num_batches_tracked` per BN).
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
 * const tensors = await torchStateDict(model);
 * tensors[0].name; // "conv1.weight"
 * ```
 */
export async function torchStateDict(model: tfl.LayersModel): Promise<TensorToWrite[]> {
  const out: TensorToWrite[] = [];
  for (const t of await exportNamedTensors(model, "torch")) {
    out.push(t);
    if (t.name.endsWith(".running_var")) {
      out.push({
        name: t.name.replace(/running_var$/, "num_batches_tracked"),
        shape: [],
        data: new Float32Array([0]),
        dtype: "I64",
      });
    }
  }
  return out;
}

/**
 * Export `model` for PyTorch: safetensors bytes in torchvision's names and the preprocessing JSON.
 *
 * @example
 * ```ts
 * import type * as tfl from "@tensorflow/tfjs-layers";
 * declare const model: tfl.LayersModel, classes: string[], mean: number[], std: number[];
 * const { safetensors, preprocessing } = await torchExport(model, { arch: "resnet50", classes, mean, std, padding: "same" });
 * await Deno.writeFile("model.safetensors", safetensors);
 * ```
 */
export async function torchExport(model: tfl.LayersModel, options: TorchExportOptions): Promise<TorchExport> {
  const known = (ARCHS as readonly string[]).includes(options.arch);
  if (!known) throw new RangeError(`Cannot export arch "${options.arch}": not one of ${ARCHS.join(", ")}`);
  const spec = RESNET_SPECS[options.arch as Arch];
  // The stem's width as built (a run may have narrowed the network), not the family's default.
  const width = model.getLayer("conv1").weights[0]?.shape[3] ?? spec.width;
  const tensors = await torchStateDict(model);
  const numClasses = model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? options.classes.length;
  const preprocessing: ExportPreprocessing = {
    arch: options.arch,
    torchvisionBuilder: width === 64 ? `torchvision.models.${options.arch}` : null,
    spec: { block: spec.block, layers: [...spec.stages], width },
    numClasses,
    classes: options.classes,
    inputSize: options.inputSize ?? 32,
    layout: "NCHW",
    scale: 1 / 255,
    mean: options.mean,
    std: options.std,
    resize: "whole picture stretched to the square: area average when shrinking, linear when enlarging",
    padding: options.padding,
    source: options.source ?? "",
  };
  return {
    safetensors: encodeSafetensors(tensors, { format: "pt", source: options.source ?? "" }),
    names: tensors.map((t) => t.name),
    preprocessing,
  };
}
