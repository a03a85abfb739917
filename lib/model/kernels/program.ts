/**
 * What the project's WebGPU kernels share: the slice of tfjs-webgpu's program and backend interfaces they
 * use, the conv geometry tfjs computes, and the names of the kernels a kernel set may replace.
 *
 * @example
 * ```ts
 * import { convInfoOf, plainNHWC } from "./program.ts";
 * const c = convInfoOf([1, 8, 8, 4], [3, 3, 4, 8], { strides: [1, 1], pad: "same", dataFormat: "NHWC" });
 * plainNHWC(c); // true
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The convolution kernels a kernel set replaces. */
export const CONV_KERNEL_NAMES = [
  "Conv2DBackpropFilter",
  "FusedConv2D",
  "Conv2D",
  "Conv2DBackpropInput",
] as const;
/** One replaceable convolution kernel's name. */
export type ConvKernelName = typeof CONV_KERNEL_NAMES[number];

/** The reductions the `cpu` set also replaces (per-channel sums and means: batch norm and its gradients). */
export const REDUCE_KERNEL_NAMES = ["Sum", "Mean"] as const;
/** One replaceable reduction's name. */
export type ReduceKernelName = typeof REDUCE_KERNEL_NAMES[number];
/** Any kernel a kernel set may replace. */
export type SetKernelName = ConvKernelName | ReduceKernelName;

/** The slice of tfjs's WebGPU program interface these kernels use. */
export interface Program {
  variableNames: string[];
  variableComponents?: number[];
  outputComponent?: number;
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  /** tfjs marks programs that write with atomics (their sums depend on thread order). */
  atomic?: boolean;
  getUserCode(): string;
}

/** The slice of tfjs's WebGPU backend these kernels use. */
export interface WebGPUBackendLike {
  runWebGPUProgram(
    program: Program,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: unknown,
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  device: GPUDevice;
}

/** tfjs's description of one 2-D convolution. */
export type ConvInfo = tf.backend_util.Conv2DInfo;
/** A kernel function's argument. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];
/** A kernel's attributes. */
export type Attrs = Record<string, unknown>;

/**
 * `[0, 1, …, n − 1]`.
 *
 * @example
 * ```ts
 * range(3); // [0, 1, 2]
 * ```
 */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * A shader-cache key part that names every dimension of a conv.
 *
 * @example
 * ```ts
 * const c = convInfoOf([1, 8, 8, 4], [1, 1, 4, 8], { strides: [1, 1], pad: "same", dataFormat: "NHWC" });
 * convKey(c); // "1_8_8_4_8_8_8_1_1_1_1_0_0"
 * ```
 */
export const convKey = (c: ConvInfo): string =>
  [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
  ].join("_");

/**
 * Whether a conv is one the project's kernels handle: NHWC, no dilation.
 *
 * @example
 * ```ts
 * plainNHWC(convInfoOf([1, 4, 4, 4], [1, 1, 4, 4], { strides: 1, pad: "valid", dataFormat: "NHWC" })); // true
 * ```
 */
export function plainNHWC(c: ConvInfo): boolean {
  return c.dataFormat === "channelsLast" && c.dilationHeight === 1 && c.dilationWidth === 1;
}

/**
 * tfjs's conv geometry (output size, padding) from a kernel's input shape, filter shape and attributes.
 *
 * @example
 * ```ts
 * convInfoOf([2, 32, 32, 3], [7, 7, 3, 64], { strides: [2, 2], pad: "same", dataFormat: "NHWC" }).outHeight; // 16
 * ```
 */
export function convInfoOf(xShape: number[], filterShape: number[], attrs: Attrs): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number],
    (attrs.dilations ?? 1) as [number, number],
    attrs.pad as "same",
    attrs.dimRoundingMode as "round" | undefined,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat as "NHWC"),
  );
}
