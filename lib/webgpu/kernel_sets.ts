/**
 * Swap a kernel set in for tfjs's `webgpu` backend, and back.
 *
 * - `cpu`: shaped for software adapters (cpu/): shape-generic register-tiled implicit GEMMs for the
 *   convolutions, per-channel `Sum`/`Mean` in tfjs's order, and {@linkcode trainingPrograms} for batch
 *   norm's gradient and the Momentum update.
 * - `cpu-prev`: the same arithmetic with every size written into the shader (cpu_prev/), a pipeline per
 *   layer shape; kept so that bench/throughput_bench.ts can compare compile and step times in one run.
 * - `gpu`: shaped for hardware GPUs (gpu_conv.ts): tiled workgroup-memory implicit GEMMs, split-K with a
 *   second summing pass.
 * - `stock`: tfjs's own.
 *
 * Every set's convolutions go through one dispatcher (program.ts {@linkcode convKernel}). Whatever the set,
 * the backend runs no float-atomic program: tfjs's split-K matmul is replaced by a deterministic one
 * (deterministic_guard.ts), so the same seed gives the same bits. {@linkcode registerKernelSet} replaces
 * the kernels, {@linkcode unregisterKernelSet} puts the stock ones back, so one process can compare sets.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { registerKernelSet } from "./kernel_sets.ts";
 * await tf.setBackend("webgpu");
 * registerKernelSet("gpu"); // ["Conv2DBackpropFilter", "FusedConv2D", "Conv2D", "Conv2DBackpropInput"]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { installDeterminismGuard } from "./deterministic_guard.ts";
import {
  CONV_KERNEL_NAMES,
  convKernel,
  type ConvKernelName,
  type ConvPrograms,
  OTHER_KERNEL_NAMES,
  type OtherKernelName,
  type SetKernelName,
} from "./program.ts";
import type { KernelSet } from "./kernel_policy.ts";
import { cpuConv } from "./cpu/conv.ts";
import { reduceKernel } from "./cpu/reduce.ts";
import { batchNormGradients, batchNormKernel, moments, movingAverage } from "./cpu/batch_norm.ts";
import { momentumUpdate } from "./cpu/momentum.ts";
import { prevConv } from "./cpu_prev/conv.ts";
import { prevReduceKernel } from "./cpu_prev/reduce.ts";
import { prevBatchNormGradients } from "./cpu_prev/batch_norm_grad.ts";
import { prevMomentumUpdate } from "./cpu_prev/momentum.ts";
import { gpuConv } from "./gpu_conv.ts";

/**
 * A set's fused training programs: batch norm's statistics, moving averages and gradient, and the Momentum
 * update (cpu/batch_norm.ts and cpu/momentum.ts describe them). lib/model's batch norm and lib/train's
 * optimizer use them while such a set is registered, and tfjs's own ops for what a set leaves out.
 */
export interface TrainingPrograms {
  moments?: typeof moments;
  movingAverage?: typeof movingAverage;
  batchNormGradients: typeof batchNormGradients;
  momentumUpdate: typeof momentumUpdate;
}

/** What a kernel set brings: its conv programs, its other kernels (each wraps the stock one), its fused training programs. */
interface SetPrograms {
  conv: ConvPrograms;
  /** tfjs WebGPU flags the set runs with (its calls are cheap, so fewer submits pay). */
  flags?: Record<string, number | boolean>;
  kernels?: Partial<Record<OtherKernelName, (stock: tf.KernelFunc) => tf.KernelFunc>>;
  training?: TrainingPrograms;
}

const SETS: Readonly<Record<Exclude<KernelSet, "stock">, SetPrograms>> = {
  cpu: {
    conv: cpuConv,
    // a submit per 200 dispatches rather than tfjs's 15: ResNet50 at batch 64 steps about 7 % faster, the
    // quick network at batch 128 about 30 %
    flags: { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 200 },
    kernels: {
      Sum: (stock) => reduceKernel("Sum", stock),
      Mean: (stock) => reduceKernel("Mean", stock),
      FusedBatchNorm: batchNormKernel,
    },
    training: { moments, movingAverage, batchNormGradients, momentumUpdate },
  },
  "cpu-prev": {
    conv: prevConv,
    kernels: {
      Sum: (stock) => prevReduceKernel("Sum", stock),
      Mean: (stock) => prevReduceKernel("Mean", stock),
    },
    training: { batchNormGradients: prevBatchNormGradients, momentumUpdate: prevMomentumUpdate },
  },
  gpu: { conv: gpuConv },
};

/** Options of {@linkcode registerKernelSet}. */
export interface KernelSetOptions {
  /**
   * Which kernels to replace; defaults to all the set has: {@linkcode CONV_KERNEL_NAMES}, and for the `cpu`
   * sets also some of {@linkcode OTHER_KERNEL_NAMES}.
   */
  kernels?: readonly SetKernelName[];
  /**
   * tfjs WebGPU flags to set while the set is active (restored by {@linkcode unregisterKernelSet}), over
   * the set's own.
   */
  flags?: Record<string, number | boolean>;
}

/** The stock kernel configs and flag values replaced by the active set. */
let saved: {
  set: KernelSet;
  kernels: tf.KernelConfig[];
  flags: Record<string, number | boolean | string>;
} | null = null;

/** The stock kernels `names`, or an error naming the one the backend lacks. */
function stockKernels(set: KernelSet, names: readonly SetKernelName[]): tf.KernelConfig[] {
  return names.map((name) => {
    const stock = tf.getKernel(name, "webgpu");
    if (!stock) {
      throw new Error(`Cannot register ${set} kernel ${name}: the webgpu backend has no stock ${name}`);
    }
    return stock;
  });
}

/**
 * Replace the stock `webgpu` kernels named in `options.kernels` (all the set has by default) with `set`'s,
 * set `options.flags`, and install the determinism guard on the active webgpu backend. Call it after the
 * webgpu backend is the active one, before training. Calling it again replaces the previous set; `"stock"`
 * only puts the stock kernels back (the guard stays). Returns the kernels replaced.
 *
 * @example
 * ```ts
 * registerKernelSet("cpu", { kernels: ["Conv2DBackpropFilter"] }); // ["Conv2DBackpropFilter"]
 * ```
 */
export function registerKernelSet(set: KernelSet, options: KernelSetOptions = {}): SetKernelName[] {
  unregisterKernelSet();
  if (tf.getBackend() === "webgpu") installDeterminismGuard(tf.backend());
  if (set === "stock") return [];
  const programs = SETS[set];
  if (!programs) {
    throw new Error(`Unknown kernel set "${set}"; use one of ${Object.keys(SETS).join(", ")}, stock`);
  }
  const has: readonly SetKernelName[] = [
    ...CONV_KERNEL_NAMES,
    ...OTHER_KERNEL_NAMES.filter((name) => programs.kernels?.[name]),
  ];
  const names = [...(options.kernels ?? has)];
  const missing = names.find((name) => !has.includes(name));
  if (missing) throw new Error(`Cannot register ${set} kernel ${missing}: the ${set} set has none`);
  const kernels = stockKernels(set, names);
  const flags: Record<string, number | boolean | string> = {};
  for (const [flag, value] of Object.entries({ ...programs.flags, ...options.flags })) {
    flags[flag] = tf.env().get(flag);
    tf.env().set(flag, value);
  }
  saved = { set, kernels, flags };
  for (const stock of kernels) {
    const name = stock.kernelName as SetKernelName;
    const other = programs.kernels?.[name as OtherKernelName];
    const kernelFunc = other
      ? other(stock.kernelFunc)
      : convKernel(programs.conv, { name: name as ConvKernelName, stock: stock.kernelFunc });
    tf.unregisterKernel(stock.kernelName, "webgpu");
    tf.registerKernel({ ...stock, kernelFunc });
  }
  return names;
}

/**
 * Put back the stock kernels and flag values that {@linkcode registerKernelSet} replaced (a no-op when
 * none are replaced).
 *
 * @example
 * ```ts
 * registerKernelSet("gpu");
 * unregisterKernelSet(); // stock tfjs again
 * ```
 */
export function unregisterKernelSet(): void {
  if (!saved) return;
  for (const stock of saved.kernels) {
    tf.unregisterKernel(stock.kernelName, "webgpu");
    tf.registerKernel(stock);
  }
  for (const [flag, value] of Object.entries(saved.flags)) tf.env().set(flag, value);
  saved = null;
}

/**
 * The kernel set registered now: `"stock"` when none is.
 *
 * @example
 * ```ts
 * registerKernelSet("cpu");
 * activeKernelSet(); // "cpu"
 * ```
 */
export function activeKernelSet(): KernelSet {
  return saved?.set ?? "stock";
}

/**
 * The registered set's fused training programs, or null when it has none (`gpu`, `stock`) or the webgpu
 * backend is not the active one: batch norm and the optimizer then use tfjs's ops.
 *
 * @example
 * ```ts
 * registerKernelSet("cpu");
 * trainingPrograms()?.momentumUpdate; // the fused Momentum update
 * ```
 */
export function trainingPrograms(): TrainingPrograms | null {
  if (!saved || saved.set === "stock" || tf.getBackend() !== "webgpu") return null;
  return SETS[saved.set].training ?? null;
}
