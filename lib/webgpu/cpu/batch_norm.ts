/**
 * Batch norm's training passes as few WebGPU programs as the arithmetic allows, shape-generic (row and
 * channel counts are uniforms), each giving the bits of the tfjs ops it replaces: llvmpipe rounds every
 * product and sum separately (it contracts no multiply-add), so one program that evaluates the same f32
 * expressions in the same order as a chain of tfjs kernels gives their result exactly.
 *
 * - {@linkcode batchNormKernel}: tfjs's `FusedBatchNorm` (x − μ)·γσ⁻¹ + β with its expression, over rows of
 *   vec4 channels: tfjs's kernel finds each element's channel with integer divisions, which llvmpipe runs
 *   lane by lane.
 * - {@linkcode moments}: the batch mean (the `cpu` set's Mean) and the biased variance, Sub, Square and
 *   Mean in one pass (reduce.ts): 2 programs instead of tfjs's 4.
 * - {@linkcode movingAverage}: `old − (old − value·s)·decay`, the moving statistics' update: 1 program
 *   instead of 3 or 4.
 * - {@linkcode batchNormGradients}: dγ = Σ_rows dy · (x − μ)·σ⁻¹ and dx = ((dy − dβ/n) − (x − μ)·σ⁻¹ ·
 *   dγ/n) · γσ⁻¹, as PyTorch writes them, each one program that also works out its per-channel values
 *   (σ⁻¹ = rsqrt(var + ε), dβ/n, dγ/n, γσ⁻¹) instead of a kernel each: 2 programs instead of 7.
 *
 * An invocation owns four channels (a `vec4`) and a block of rows: it works out its channels' values once,
 * then reads and writes each row once. Channels-last float32 with a channel count divisible by 4 only
 * ({@linkcode fusedBatchNormGradAvailable}); the caller uses tfjs ops otherwise.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { fusedBatchNormGradAvailable } from "./batch_norm.ts";
 * await tf.setBackend("webgpu");
 * fusedBatchNormGradAvailable(tf.zeros([2, 4, 4, 8])); // true
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type Attrs,
  CPU_WORKGROUP,
  elementwiseProgram,
  flatGrid,
  type KernelArgs,
  type Program,
  runProgram,
  type WebGPUBackendLike,
} from "../program.ts";
import { squaredDeviationMean } from "./reduce.ts";

/** Rows an invocation of the input gradient and the normalization owns. */
const ROWS = 32;

/**
 * WGSL: this invocation's block of a [rows, cols4] view (sizes from the `bnDims` uniform), lanes over channel
 * vec4s first: its channel vec4 `c` and first row `r0`; invocations past the end return.
 */
const rowBlock = (g: { code: string }) =>
  `let rows = uniforms.bnDims.x;
  let cols4 = uniforms.bnDims.y;
  ${g.code}
  if (gid >= ((rows + ${ROWS - 1}) / ${ROWS}) * cols4) { return; }
  let c = gid % cols4;
  let r0 = (gid / cols4) * ${ROWS};`;
/** Rows summed into one partial sum before it is added to the total (dγ). */
export const BN_CHUNK = 64;

/** What the gradients need from the forward pass: its statistics, γ, ε, dβ and the count per channel. */
export interface BatchNormSaved {
  mean: tf.Tensor;
  /** The biased batch variance. */
  variance: tf.Tensor;
  gamma: tf.Tensor;
  epsilon: number;
  /** dβ = Σ_rows dy. */
  dbeta: tf.Tensor;
  /** Values per channel (rows). */
  n: number;
}

/**
 * Whether the fused programs apply to `x`: the webgpu backend, float32, channels-last with a channel count
 * divisible by 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * fusedBatchNormGradAvailable(tf.zeros([2, 3])); // false on the cpu backend
 * ```
 */
export function fusedBatchNormGradAvailable(x: tf.Tensor): boolean {
  return tf.getBackend() === "webgpu" && x.dtype === "float32" && x.rank >= 2 &&
    x.shape[x.rank - 1] % 4 === 0;
}

/** Rows and vec4 columns of channels-last `x`. */
export const rowsAndCols4 = (x: tf.Tensor): [number, number] => {
  const channels = x.shape[x.rank - 1];
  return [x.size / channels, channels / 4];
};

function run(
  program: Program,
  inputs: tf.Tensor[],
  uniforms: { type: "int32" | "float32"; data: number[] }[],
) {
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  return tf.engine().makeTensorFromTensorInfo(runProgram(backend, program, { inputs, uniforms }));
}

/**
 * `tf.moments(x, [0, …, rank − 2])` of channels-last `x`, the same bits, in two programs where `x` allows
 * (else tfjs's ops): the mean, then the variance in one pass.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const { mean, variance } = moments(tf.randomNormal([64, 8, 8, 16]));
 * ```
 */
export function moments(x: tf.Tensor): { mean: tf.Tensor; variance: tf.Tensor } {
  const axes = [...Array(x.rank - 1).keys()];
  const mean = tf.mean(x, axes);
  const variance = fusedBatchNormGradAvailable(x) ? squaredDeviationMean(x, mean) : null;
  if (variance) return { mean, variance };
  mean.dispose();
  return tf.moments(x, axes);
}

/**
 * The moving average update `old − (old − value · scale) · decay` of a per-channel statistic (tfjs-layers'
 * `sub(old, mul(sub(old, value), decay))`, the moving variance's value first multiplied by Bessel's
 * factor), in one program: the same bits as those ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const next = movingAverage(tf.zeros([8]), tf.ones([8]), { decay: 0.1, scale: 1 }); // 0.1 each
 * ```
 */
export function movingAverage(
  old: tf.Tensor,
  value: tf.Tensor,
  options: { decay: number; scale: number },
): tf.Tensor {
  const flat = (t: tf.Tensor) => tf.reshape(t, [t.size]);
  const out = run(
    elementwiseProgram(old.size, {
      variableNames: ["old", "value"],
      uniforms: "decay : f32, scale : f32, ",
      shaderKey: "cpu3_bn_moving",
      body: `let v = value[gid] * uniforms.scale;
  result[gid] = old[gid] - (old[gid] - v) * uniforms.decay;`,
    }),
    [flat(old), flat(value)],
    [
      { type: "float32", data: [options.decay] },
      { type: "float32", data: [options.scale] },
      { type: "int32", data: [old.size] },
    ],
  );
  return tf.reshape(out, old.shape);
}

/** WGSL: this invocation's channels' σ⁻¹ (`r`) and mean (`m`), as tfjs's Add and Rsqrt give σ⁻¹. */
const PER_CHANNEL_STATS = `let m = mean[c];
  let r = inverseSqrt(variance[c] + vec4<f32>(uniforms.epsilon));`;

/**
 * dγ and dx of batch norm (see the module docs), from the output gradient `dy`, the input `x` and what the
 * forward saved.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([2, 4, 4, 8]), dy = tf.onesLike(x);
 * const { dgamma, dx } = batchNormGradients(dy, x, {
 *   mean: tf.zeros([8]), variance: tf.ones([8]), gamma: tf.ones([8]), epsilon: 1e-5,
 *   dbeta: tf.sum(dy, [0, 1, 2]), n: 32,
 * });
 * ```
 */
export function batchNormGradients(
  dy: tf.Tensor,
  x: tf.Tensor,
  saved: BatchNormSaved,
): { dgamma: tf.Tensor; dx: tf.Tensor } {
  const [rows, cols4] = rowsAndCols4(x);
  const { mean, variance, gamma, dbeta, epsilon, n } = saved;
  const dims = [
    { type: "int32" as const, data: [rows, cols4] },
    { type: "float32" as const, data: [epsilon] },
    { type: "float32" as const, data: [n] },
  ];
  const uniforms = "bnDims : vec2<i32>, epsilon : f32, count : f32, ";
  const dgamma = run(
    {
      variableNames: ["dy", "x", "mean", "variance"],
      variableComponents: [4, 4, 4, 4],
      outputComponent: 4,
      outputShape: [cols4 * 4],
      uniforms,
      shaderKey: "cpu3_bn_dgamma",
      dispatchLayout: { x: [0] },
      workgroupSize: [CPU_WORKGROUP, 1, 1],
      dispatch: [Math.ceil(cols4 / CPU_WORKGROUP), 1, 1],
      getUserCode: () => `
fn main(index: i32) {
  let rows = uniforms.bnDims.x;
  let cols4 = uniforms.bnDims.y;
  let c = i32(globalId.x);
  if (c >= cols4) { return; }
  ${PER_CHANNEL_STATS}
  var acc = vec4<f32>(0.0);
  for (var r0 = 0; r0 < rows; r0 += ${BN_CHUNK}) {
    var part = vec4<f32>(0.0);
    let end = min(r0 + ${BN_CHUNK}, rows);
    for (var row = r0; row < end; row++) {
      let i = row * cols4 + c;
      let xh = (x[i] - m) * r;
      part = part + dy[i] * xh;
    }
    acc = acc + part;
  }
  result[c] = acc;
}`,
    },
    [dy, x, mean, variance],
    dims,
  );
  const g = flatGrid(Math.ceil(rows / ROWS) * cols4);
  const dx = run(
    {
      variableNames: ["dy", "x", "mean", "variance", "gamma", "dbeta", "dgamma"],
      variableComponents: [4, 4, 4, 4, 4, 4, 4],
      outputComponent: 4,
      outputShape: x.shape,
      uniforms,
      shaderKey: "cpu3_bn_dx",
      dispatchLayout: { x: [x.rank - 1], y: x.shape.slice(0, -1).map((_, i) => i) },
      workgroupSize: [CPU_WORKGROUP, 1, 1],
      dispatch: g.dispatch,
      getUserCode: () => `
fn main() {
  ${rowBlock(g)}
  ${PER_CHANNEL_STATS}
  let count = vec4<f32>(uniforms.count);
  let db = dbeta[c] / count;
  let dg = dgamma[c] / count;
  let s = gamma[c] * r;
  let end = min(r0 + ${ROWS}, rows);
  for (var row = r0; row < end; row++) {
    let i = row * cols4 + c;
    let xh = (x[i] - m) * r;
    result[i] = ((dy[i] - db) - xh * dg) * s;
  }
}`,
    },
    [dy, x, mean, variance, gamma, dbeta, dgamma],
    dims,
  );
  return { dgamma, dx };
}

/**
 * The `cpu` set's `FusedBatchNorm` kernel: y = dot((x, −mean, offset), (inv, inv, 1)) with inv = scale ·
 * inverseSqrt(variance + ε), tfjs's own expression (so its bits), over rows × vec4 channels; an invocation
 * works out its channels' values once and walks 32 rows. Falls back to `stock` where the per-channel
 * operands are not one value per channel or the channels are not in fours.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const stock = tf.getKernel("FusedBatchNorm", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: batchNormKernel(stock.kernelFunc) });
 * ```
 */
export function batchNormKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { x, mean, variance, offset, scale } = inputs;
    const channels = x!.shape[x!.shape.length - 1];
    const perChannel = [mean, variance, offset, scale].every((t) =>
      t == null || (t.dtype === "float32" && t.shape.reduce((a, b) => a * b, 1) === channels &&
        t.shape[t.shape.length - 1] === channels)
    );
    if (x!.dtype !== "float32" || x!.shape.length < 2 || channels % 4 || !perChannel) {
      return stock(args) as tf.TensorInfo;
    }
    const rows = x!.shape.reduce((a, b) => a * b, 1) / channels, cols4 = channels / 4;
    const g = flatGrid(Math.ceil(rows / ROWS) * cols4);
    const names = ["x", "mean", "variance", ...(offset ? ["offset"] : []), ...(scale ? ["scale"] : [])];
    const flat = (t: tf.TensorInfo) => ({
      dataId: t.dataId,
      shape: [t.shape.reduce((a, b) => a * b, 1)],
      dtype: t.dtype,
    });
    const info = runProgram(backend, {
      variableNames: names,
      variableComponents: names.map(() => 4),
      outputComponent: 4,
      outputShape: x!.shape,
      uniforms: "bnDims : vec2<i32>, epsilon : f32, ",
      shaderKey: `cpu3_bn_forward_${offset ? "offset" : ""}${scale ? "scale" : ""}`,
      dispatchLayout: { x: [x!.shape.length - 1], y: x!.shape.slice(0, -1).map((_, i) => i) },
      workgroupSize: [CPU_WORKGROUP, 1, 1],
      dispatch: g.dispatch,
      getUserCode: () => `
fn main() {
  ${rowBlock(g)}
  let m = mean[c];
  let o = ${offset ? "offset[c]" : "vec4<f32>(0.0)"};
  let inv = ${scale ? "scale[c]" : "vec4<f32>(1.0)"} * inverseSqrt(variance[c] + vec4<f32>(uniforms.epsilon));
  let end = min(r0 + ${ROWS}, rows);
  for (var row = r0; row < end; row++) {
    let i = row * cols4 + c;
    let v = x[i];
    result[i] = vec4<f32>(
      dot(vec3<f32>(v.x, -m.x, o.x), vec3<f32>(inv.x, inv.x, 1.0)),
      dot(vec3<f32>(v.y, -m.y, o.y), vec3<f32>(inv.y, inv.y, 1.0)),
      dot(vec3<f32>(v.z, -m.z, o.z), vec3<f32>(inv.z, inv.z, 1.0)),
      dot(vec3<f32>(v.w, -m.w, o.w), vec3<f32>(inv.w, inv.w, 1.0)),
    );
  }
}`,
    }, {
      inputs: [x!, ...[mean!, variance!, ...(offset ? [offset] : []), ...(scale ? [scale] : [])].map(flat)],
      uniforms: [
        { type: "int32", data: [rows, cols4] },
        { type: "float32", data: [(args.attrs as Attrs).varianceEpsilon as number] },
      ],
    });
    return info;
  };
}
