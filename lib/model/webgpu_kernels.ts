/**
 * Swap a kernel set's convolution kernels in for tfjs's `webgpu` backend, and back.
 *
 * - `cpu`: shaped for software adapters (lib/model/kernels/cpu_kernels.ts): register-tiled implicit GEMMs
 *   (see bench/throughput_bench.ts for their speed against the others).
 * - `cpu-v1`: the software-adapter kernels of round 1 (lib/model/kernels/cpu_v1_kernels.ts), kept for the
 *   comparison.
 * - `gpu`: shaped for hardware GPUs (lib/model/kernels/gpu_kernels.ts): tiled workgroup-memory implicit
 *   GEMMs, split-K with a second summing pass.
 * - `stock`: tfjs's own.
 *
 * Whatever the set, the backend runs no float-atomic program: tfjs's split-K matmul is replaced by a
 * deterministic one (lib/model/kernels/deterministic_guard.ts), so the same seed gives the same bits.
 * {@linkcode registerKernelSet} replaces the kernels, {@linkcode unregisterKernelSet} puts the stock ones
 * back, so one process can compare the sets.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { registerKernelSet } from "./webgpu_kernels.ts";
 * await tf.setBackend("webgpu");
 * registerKernelSet("gpu"); // ["Conv2DBackpropFilter", "FusedConv2D", "Conv2D", "Conv2DBackpropInput"]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { cpuKernel } from "./kernels/cpu_kernels.ts";
import { cpuV1Kernel } from "./kernels/cpu_v1_kernels.ts";
import { cpuReduceKernel } from "./kernels/cpu_reduce.ts";
import { gpuKernel } from "./kernels/gpu_kernels.ts";
import { installDeterminismGuard } from "./kernels/deterministic_guard.ts";
import {
  CONV_KERNEL_NAMES,
  type ConvKernelName,
  REDUCE_KERNEL_NAMES,
  type ReduceKernelName,
  type SetKernelName,
} from "./kernels/program.ts";
import type { KernelSet } from "./kernel_policy.ts";

export {
  CONV_KERNEL_NAMES,
  type ConvKernelName,
  REDUCE_KERNEL_NAMES,
  type ReduceKernelName,
  type SetKernelName,
} from "./kernels/program.ts";
export {
  atomicProgramsRun,
  determinismCounters,
  installDeterminismGuard,
  resetDeterminismCounters,
} from "./kernels/deterministic_guard.ts";
export { type GemmPlan, planGemm } from "./kernels/tiled_gemm.ts";
export { fusedMomentumUpdate } from "./kernels/momentum_update.ts";

/** The kernels a set can replace (the old name of {@linkcode CONV_KERNEL_NAMES}). */
export const PROJECT_KERNEL_NAMES = CONV_KERNEL_NAMES;
/** One replaceable kernel's name (the old name of {@linkcode ConvKernelName}). */
export type ProjectKernelName = ConvKernelName;

/** Options of {@linkcode registerKernelSet}. */
export interface KernelSetOptions {
  /**
   * Which kernels to replace; defaults to all the set has: {@linkcode CONV_KERNEL_NAMES}, and for `cpu` also
   * {@linkcode REDUCE_KERNEL_NAMES}.
   */
  kernels?: readonly SetKernelName[];
  /**
   * tfjs WebGPU flags to set while the set is active (restored by {@linkcode unregisterKernelSet});
   * defaults to none.
   */
  flags?: Record<string, number | boolean>;
}
/** Options of {@linkcode registerProjectKernels} (the old name of {@linkcode KernelSetOptions}). */
export type ProjectKernelOptions = KernelSetOptions;

/** The stock kernel configs and flag values replaced by the active set. */
let saved: {
  set: KernelSet;
  kernels: tf.KernelConfig[];
  flags: Record<string, number | boolean | string>;
} | null = null;

/**
 * Replace the stock `webgpu` kernels named in `options.kernels` (all of {@linkcode CONV_KERNEL_NAMES} by
 * default) with `set`'s, set `options.flags`, and install the determinism guard on the active webgpu
 * backend. Call it after the webgpu backend is the active one, before training. Calling it again replaces
 * the previous set; `"stock"` only puts the stock kernels back (the guard stays). Returns the kernels
 * replaced.
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
  const conv = { cpu: cpuKernel, "cpu-v1": cpuV1Kernel, gpu: gpuKernel }[set as string];
  if (!conv) throw new Error(`Unknown kernel set "${set}"; use cpu, cpu-v1, gpu or stock`);
  const has: readonly SetKernelName[] = set === "cpu"
    ? [...CONV_KERNEL_NAMES, ...REDUCE_KERNEL_NAMES]
    : CONV_KERNEL_NAMES;
  const wrap = (name: SetKernelName, stock: tf.KernelFunc) =>
    (REDUCE_KERNEL_NAMES as readonly string[]).includes(name)
      ? cpuReduceKernel(name as ReduceKernelName, stock)
      : conv(name as ConvKernelName, stock);
  const names = [...(options.kernels ?? has)];
  for (const name of names) {
    if (!has.includes(name)) {
      throw new Error(`Cannot register ${set} kernel ${name}: the ${set} set has none`);
    }
  }
  const kernels: tf.KernelConfig[] = [];
  for (const name of names) {
    const stock = tf.getKernel(name, "webgpu");
    if (!stock) {
      throw new Error(`Cannot register ${set} kernel ${name}: the webgpu backend has no stock ${name}`);
    }
    kernels.push(stock);
  }
  const flags: Record<string, number | boolean | string> = {};
  for (const [flag, value] of Object.entries(options.flags ?? {})) {
    flags[flag] = tf.env().get(flag);
    tf.env().set(flag, value);
  }
  saved = { set, kernels, flags };
  for (const stock of kernels) {
    tf.unregisterKernel(stock.kernelName, "webgpu");
    tf.registerKernel({ ...stock, kernelFunc: wrap(stock.kernelName as SetKernelName, stock.kernelFunc) });
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
 * Register the `cpu` set (the old name, kept for callers of before the `gpu` set).
 *
 * @example
 * ```ts
 * registerProjectKernels(); // same as registerKernelSet("cpu")
 * ```
 */
export function registerProjectKernels(options: KernelSetOptions = {}): SetKernelName[] {
  return registerKernelSet("cpu", options);
}

/**
 * Put the stock kernels back (the old name of {@linkcode unregisterKernelSet}).
 *
 * @example
 * ```ts
 * unregisterProjectKernels();
 * ```
 */
export function unregisterProjectKernels(): void {
  unregisterKernelSet();
}

/**
 * Whether a non-stock kernel set is registered now.
 *
 * @example
 * ```ts
 * registerProjectKernels();
 * projectKernelsActive(); // true
 * ```
 */
export function projectKernelsActive(): boolean {
  return saved !== null;
}
