/**
 * WebGPU programs for batch norm's gradient (lib/model/batch_norm.ts): the two passes that need the whole
 * activation, each one program instead of a chain of elementwise kernels, shape-generic (the row and channel
 * counts are uniforms: one pipeline each for every layer and batch size).
 *
 * - {@linkcode scaleGradient}: dγ = Σ_rows dy · (x − μ)·σ⁻¹, per channel.
 * - {@linkcode inputGradient}: dx = ((dy − dβ/n) − (x − μ)·σ⁻¹ · dγ/n) · γσ⁻¹.
 *
 * On llvmpipe every load and store costs about the same whatever the buffer (a SIMD gather or scatter), and
 * a chain of six elementwise kernels reads and writes the activation six times. Here an invocation owns four
 * channels (a `vec4`) and a block of rows: it loads its channels' per-channel values once, then reads dy and
 * x and writes dx once per row. The expressions keep the order of the ops they replace, x̂ = (x − μ)·σ⁻¹
 * first. Channels-last float32 with a channel count divisible by 4 only
 * ({@linkcode fusedBatchNormGradAvailable}); the caller uses tfjs ops otherwise.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { fusedBatchNormGradAvailable } from "./batch_norm_grad.ts";
 * await tf.setBackend("webgpu");
 * fusedBatchNormGradAvailable(tf.zeros([2, 4, 4, 8])); // true
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { CPU_WORKGROUP, flatGrid, type Program, runProgram, type WebGPUBackendLike } from "../program.ts";

/** Rows an invocation of {@linkcode inputGradient} owns. */
const ROWS = 32;
/** Rows summed into one partial sum before it is added to the total. */
export const BN_CHUNK = 64;

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

function run(program: Program, inputs: tf.Tensor[], dims: [number, number]): tf.Tensor {
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const info = runProgram(backend, program, { inputs, uniforms: [{ type: "int32", data: dims }] });
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * dγ = Σ_rows dy · ((x − mean) · rstd) per channel, with `mean` and `rstd` (σ⁻¹) per channel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const dgamma = scaleGradient(tf.onesLike(x), x, { mean: tf.zeros([8]), rstd: tf.ones([8]) });
 * ```
 */
export function scaleGradient(
  dy: tf.Tensor,
  x: tf.Tensor,
  stats: { mean: tf.Tensor; rstd: tf.Tensor },
): tf.Tensor {
  const [rows, cols4] = rowsAndCols4(x);
  return run(
    {
      variableNames: ["dy", "x", "mean", "rstd"],
      variableComponents: [4, 4, 4, 4],
      outputComponent: 4,
      outputShape: [cols4 * 4],
      uniforms: "bnDims : vec2<i32>, ",
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
  let m = mean[c];
  let r = rstd[c];
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
    [dy, x, stats.mean, stats.rstd],
    [rows, cols4],
  );
}

/**
 * dx = ((dy − dbetaN) − ((x − mean) · rstd) · dgammaN) · scale, every per-channel operand already divided or
 * multiplied as named: `dbetaN` = dβ/n, `dgammaN` = dγ/n, `scale` = γ·σ⁻¹.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([2, 4, 4, 8]), c = tf.ones([8]), z = tf.zeros([8]);
 * const dx = inputGradient(tf.onesLike(x), x, { mean: z, rstd: c, dbetaN: z, dgammaN: z, scale: c });
 * ```
 */
export function inputGradient(
  dy: tf.Tensor,
  x: tf.Tensor,
  perChannel: { mean: tf.Tensor; rstd: tf.Tensor; dbetaN: tf.Tensor; dgammaN: tf.Tensor; scale: tf.Tensor },
): tf.Tensor {
  const [rows, cols4] = rowsAndCols4(x);
  const g = flatGrid(Math.ceil(rows / ROWS) * cols4);
  const { mean, rstd, dbetaN, dgammaN, scale } = perChannel;
  return run(
    {
      variableNames: ["dy", "x", "mean", "rstd", "dbetaN", "dgammaN", "scale"],
      variableComponents: [4, 4, 4, 4, 4, 4, 4],
      outputComponent: 4,
      outputShape: x.shape,
      uniforms: "bnDims : vec2<i32>, ",
      shaderKey: "cpu3_bn_dx",
      dispatchLayout: { x: [x.rank - 1], y: x.shape.slice(0, -1).map((_, i) => i) },
      workgroupSize: [CPU_WORKGROUP, 1, 1],
      dispatch: g.dispatch,
      getUserCode: () => `
fn main() {
  let rows = uniforms.bnDims.x;
  let cols4 = uniforms.bnDims.y;
  ${g.code}
  if (gid >= ((rows + ${ROWS - 1}) / ${ROWS}) * cols4) { return; }
  let c = gid % cols4;
  let r0 = (gid / cols4) * ${ROWS};
  let m = mean[c];
  let r = rstd[c];
  let db = dbetaN[c];
  let dg = dgammaN[c];
  let s = scale[c];
  let end = min(r0 + ${ROWS}, rows);
  for (var row = r0; row < end; row++) {
    let i = row * cols4 + c;
    let xh = (x[i] - m) * r;
    result[i] = ((dy[i] - db) - xh * dg) * s;
  }
}`,
    },
    [dy, x, mean, rstd, dbetaN, dgammaN, scale],
    [rows, cols4],
  );
}
