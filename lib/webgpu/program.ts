/**
 * What the project's WebGPU kernels share: the slice of tfjs-webgpu's program and backend interfaces they
 * use, the conv geometry tfjs computes and the uniforms that carry it into a shader, the names of the
 * kernels a kernel set may replace, and the one conv dispatcher every set goes through
 * ({@linkcode convKernel}).
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

/** The reductions the `cpu` sets also replace (per-channel sums and means: batch norm and its gradients). */
export const REDUCE_KERNEL_NAMES = ["Sum", "Mean"] as const;
/** One replaceable reduction's name. */
export type ReduceKernelName = typeof REDUCE_KERNEL_NAMES[number];
/** The kernels other than convolutions a kernel set may replace. */
export const OTHER_KERNEL_NAMES = [...REDUCE_KERNEL_NAMES, "FusedBatchNorm"] as const;
/** One of {@linkcode OTHER_KERNEL_NAMES}. */
export type OtherKernelName = typeof OTHER_KERNEL_NAMES[number];
/** Any kernel a kernel set may replace. */
export type SetKernelName = ConvKernelName | OtherKernelName;

/** The slice of tfjs's WebGPU program interface these kernels use. */
export interface Program {
  variableNames: string[];
  /** WGSL struct members added to tfjs's `Uniforms` (`"convX : vec4<i32>, "`), filled by a call's uniforms. */
  uniforms?: string;
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
    uniforms?: ProgramUniform[],
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  device: GPUDevice;
}

/** One uniform value of a call (tfjs packs 1 to 4 numbers as a scalar or a vector, aligned as WGSL does). */
export interface ProgramUniform {
  type: "int32" | "float32" | "uint32";
  data: number[];
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

/** Lanes per workgroup of the `cpu` sets: one SIMD chunk of llvmpipe's 8 AVX2 lanes (the roofline's best). */
export const CPU_WORKGROUP = 8;
/** The most workgroups a dispatch may have along one axis (WebGPU's default limit). */
const MAX_WORKGROUPS_PER_AXIS = 65535;

/**
 * A flat grid of `invocations` in workgroups of `workgroup` lanes ({@linkcode CPU_WORKGROUP} by default),
 * spread over x and y where it outgrows one axis, with `layers` along z (default 1); `code` declares `gid`,
 * the invocation's flat index (the caller returns those past the end).
 *
 * @example
 * ```ts
 * flatGrid(100).dispatch; // [13, 1, 1]
 * flatGrid(1e6, { layers: 2 }).dispatch; // [62500, 2, 2]
 * ```
 */
export function flatGrid(
  invocations: number,
  options: { layers?: number; workgroup?: number } = {},
): { code: string; dispatch: [number, number, number] } {
  const lanes = options.workgroup ?? CPU_WORKGROUP;
  const groups = Math.max(1, Math.ceil(invocations / lanes));
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_AXIS);
  return {
    code: `let gid = i32((workgroupId.y * numWorkgroups.x + workgroupId.x) * ${lanes}u + localId.x);`,
    dispatch: [Math.ceil(groups / y), y, options.layers ?? 1],
  };
}

/**
 * A program of one invocation per output element (a vec4 when `outputComponent` is 4) over `count` of them:
 * `body` is WGSL with the element's index in `gid`, and invocations past the end return. Uniforms are
 * `spec.uniforms` then the count (`count : i32`): a call passes the count as its last uniform.
 *
 * @example
 * ```ts
 * const p = elementwiseProgram(100, {
 *   shaderKey: "double",
 *   variableNames: ["x"],
 *   body: "result[gid] = 2.0 * x[gid];",
 * });
 * p.dispatch; // [2, 1, 1]
 * ```
 */
export function elementwiseProgram(
  count: number,
  spec:
    & Pick<Program, "shaderKey" | "variableNames" | "variableComponents" | "outputComponent" | "uniforms">
    & {
      body: string;
    },
): Program {
  const { body, ...rest } = spec;
  const g = flatGrid(count, { workgroup: 64 });
  return {
    ...rest,
    outputShape: [count * (spec.outputComponent ?? 1)],
    uniforms: `${spec.uniforms ?? ""}count : i32, `,
    dispatchLayout: { x: [0] },
    workgroupSize: [64, 1, 1],
    dispatch: g.dispatch,
    getUserCode: () => `
fn main(index: i32) {
  ${g.code}
  if (gid >= uniforms.count) { return; }
  ${body}
}`,
  };
}

/**
 * The uniform struct members that carry a conv's geometry into a shader ({@linkcode convUniforms} fills
 * them); {@linkcode CONV_GEOMETRY} names them in WGSL.
 */
export const CONV_UNIFORMS =
  "convX : vec4<i32>, convY : vec4<i32>, convWin : vec4<i32>, convPad : vec4<i32>, ";

/**
 * WGSL `let`s naming a conv's geometry from {@linkcode CONV_UNIFORMS}: `batch, inH, inW, inC` (the input),
 * `outH, outW, outC, rowsM` (the output; rowsM = batch · outH · outW), `kH, kW, sH, sW` (window and
 * strides), `padT, padL` (padding before), and `extra0, extra1` (a program's own numbers).
 */
export const CONV_GEOMETRY =
  `let batch = uniforms.convX.x; let inH = uniforms.convX.y; let inW = uniforms.convX.z;
  let inC = uniforms.convX.w; let outH = uniforms.convY.x; let outW = uniforms.convY.y;
  let outC = uniforms.convY.z; let rowsM = uniforms.convY.w; let kH = uniforms.convWin.x;
  let kW = uniforms.convWin.y; let sH = uniforms.convWin.z; let sW = uniforms.convWin.w;
  let padT = uniforms.convPad.x; let padL = uniforms.convPad.y; let extra0 = uniforms.convPad.z;
  let extra1 = uniforms.convPad.w;`;

/**
 * The values of {@linkcode CONV_UNIFORMS} for conv `c`, with two numbers of the program's own.
 *
 * @example
 * ```ts
 * const c = convInfoOf([2, 8, 8, 4], [3, 3, 4, 8], { strides: [1, 1], pad: "same", dataFormat: "NHWC" });
 * convUniforms(c)[1].data; // [8, 8, 8, 128]
 * ```
 */
export function convUniforms(c: ConvInfo, extra: [number, number] = [0, 0]): ProgramUniform[] {
  return [
    { type: "int32", data: [c.batchSize, c.inHeight, c.inWidth, c.inChannels] },
    { type: "int32", data: [c.outHeight, c.outWidth, c.outChannels, c.batchSize * c.outHeight * c.outWidth] },
    { type: "int32", data: [c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth] },
    { type: "int32", data: [c.padInfo.top, c.padInfo.left, ...extra] },
  ];
}

/**
 * The largest of 8, 4, 2, 1 that divides `n` (a tile's vec4 columns or rows).
 *
 * @example
 * ```ts
 * largestDivisor(12); // 4
 * ```
 */
export function largestDivisor(n: number, options: { max?: number } = {}): number {
  return [8, 4, 2, 1].find((d) => d <= (options.max ?? 8) && n % d === 0)!;
}

/** What a set's conv programs get: the backend and the kernel's tensors. */
export interface ConvCall {
  backend: WebGPUBackendLike;
  /** The input (forward, filter gradient). */
  x?: tf.TensorInfo;
  /** The filter (forward, input gradient). */
  filter?: tf.TensorInfo;
  /** The output gradient (filter and input gradients). */
  dy?: tf.TensorInfo;
  /** The forward's bias over the output channels. */
  bias?: tf.TensorInfo;
  /** The forward applies relu. */
  relu?: boolean;
}

/**
 * A kernel set's three conv programs. Each runs its conv and returns the output, or null for a conv it does
 * not handle (the stock kernel runs then). The dispatcher ({@linkcode convKernel}) has already checked what
 * every set needs: NHWC, no dilation, float32, a bias over the output channels, `linear` or `relu`.
 */
export interface ConvPrograms {
  forward(c: ConvInfo, call: ConvCall): tf.TensorInfo | null;
  filterGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null;
  inputGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null;
}

/**
 * The kernel function for conv kernel `name` that runs `programs`, falling back to `stock` for what they do
 * not handle. Every kernel set's convs go through it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const none: ConvPrograms = { forward: () => null, filterGrad: () => null, inputGrad: () => null };
 * const stock = tf.getKernel("Conv2D", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: convKernel(none, { name: "Conv2D", stock: stock.kernelFunc }) });
 * ```
 */
export function convKernel(
  programs: ConvPrograms,
  kernel: { name: ConvKernelName; stock: tf.KernelFunc },
): tf.KernelFunc {
  const { name, stock } = kernel;
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const attrs = args.attrs as Attrs;
    const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
    let out: tf.TensorInfo | null = null;
    if (name === "Conv2DBackpropFilter") {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const c = convInfoOf(x.shape, attrs.filterShape as number[], attrs);
      if (plainNHWC(c) && x.dtype === "float32") out = programs.filterGrad(c, { backend, x, dy });
    } else if (name === "Conv2DBackpropInput") {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const c = convInfoOf(attrs.inputShape as number[], filter.shape, attrs);
      if (plainNHWC(c) && dy.dtype === "float32") out = programs.inputGrad(c, { backend, dy, filter });
    } else {
      const { x, filter, bias, preluActivationWeights } = inputs;
      const activation = (attrs.activation ?? "linear") as string;
      const c = convInfoOf(x!.shape, filter!.shape, attrs);
      const biasOk = bias == null || (bias.shape.length === 1 && bias.shape[0] === c.outChannels);
      if (
        plainNHWC(c) && x!.dtype === "float32" && biasOk && preluActivationWeights == null &&
        (activation === "linear" || activation === "relu")
      ) {
        out = programs.forward(c, { backend, x, filter, bias, relu: activation === "relu" });
      }
    }
    return out ?? stock(args) as tf.TensorInfo;
  };
}

/**
 * Run `program` on `backend` under a pipeline key of its own making: `program.shaderKey` and the ranks of
 * its operands. tfjs appends to every key the operands' broadcast dimensions and whether an input's shape
 * equals the output's, which would split one shape-generic program into several pipelines (a 1×1 and a
 * 3×3 filter broadcast differently) although the code these programs run depends on neither; the ranks stay
 * in the key because they set the layout of tfjs's uniform struct. So the key is fixed here, before tfjs
 * sees the program.
 *
 * @example
 * ```ts
 * // inside a kernel: runProgram(backend, program, { inputs: [x, w], uniforms: convUniforms(c) })
 * ```
 */
export function runProgram(
  backend: WebGPUBackendLike,
  program: Program,
  call: { inputs: tf.TensorInfo[]; uniforms?: ProgramUniform[]; output?: tf.TensorInfo },
): tf.TensorInfo {
  const ranks = [...call.inputs.map((t) => t.shape.length), program.outputShape.length].join("");
  const key = `${program.shaderKey}_r${ranks}`;
  // tfjs assigns its own key to `shaderKey` and then looks the pipeline up by it: keep ours
  Object.defineProperty(program, "shaderKey", {
    get: () => key,
    set: () => {},
    enumerable: true,
    configurable: true,
  });
  return backend.runWebGPUProgram(program, call.inputs, "float32", call.uniforms, call.output);
}
