/**
 * The `cpu-prev` set's batch-norm gradient: the `cpu` set's two programs (cpu/batch_norm.ts, the same
 * expressions and order) with the tensor's shape written into the shader, one pipeline per shape.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { prevScaleGradient } from "./batch_norm_grad.ts";
 * await tf.setBackend("webgpu");
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const dgamma = prevScaleGradient(tf.onesLike(x), x, { mean: tf.zeros([8]), rstd: tf.ones([8]) });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Program, WebGPUBackendLike } from "../program.ts";
import { type BatchNormSaved, BN_CHUNK as CHUNK } from "../cpu/batch_norm.ts";

/** Rows an invocation of {@linkcode inputGradient} owns. */
const ROWS = 32;
/** Lanes per workgroup. */
const WORKGROUP = 8;

const rowsOf = (x: tf.Tensor) => x.size / x.shape[x.rank - 1];

function run(program: Program, inputs: tf.Tensor[]): tf.Tensor {
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const info = backend.runWebGPUProgram(program, inputs, "float32");
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * dγ = Σ_rows dy · ((x − mean) · rstd) per channel, with `mean` and `rstd` (σ⁻¹) per channel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const dgamma = prevScaleGradient(tf.onesLike(x), x, { mean: tf.zeros([8]), rstd: tf.ones([8]) });
 * ```
 */
export function prevScaleGradient(
  dy: tf.Tensor,
  x: tf.Tensor,
  stats: { mean: tf.Tensor; rstd: tf.Tensor },
): tf.Tensor {
  const rows = rowsOf(x), cols4 = x.shape[x.rank - 1] / 4;
  return run({
    variableNames: ["dy", "x", "mean", "rstd"],
    variableComponents: [4, 4, 4, 4],
    outputComponent: 4,
    outputShape: [cols4 * 4],
    shaderKey: `bn_dgamma_${rows}_${cols4}`,
    dispatchLayout: { x: [0] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(cols4 / WORKGROUP), 1, 1],
    getUserCode: () => `
fn main(index: i32) {
  _ = uniforms.outShape;
  let c = i32(globalId.x);
  if (c >= ${cols4}) { return; }
  let m = mean[c];
  let r = rstd[c];
  var acc = vec4<f32>(0.0);
  for (var r0 = 0; r0 < ${rows}; r0 += ${CHUNK}) {
    var part = vec4<f32>(0.0);
    let end = min(r0 + ${CHUNK}, ${rows});
    for (var row = r0; row < end; row++) {
      let i = row * ${cols4} + c;
      let xh = (x[i] - m) * r;
      part = part + dy[i] * xh;
    }
    acc = acc + part;
  }
  result[c] = acc;
}`,
  }, [dy, x, stats.mean, stats.rstd]);
}

/**
 * dx = ((dy − dbetaN) − ((x − mean) · rstd) · dgammaN) · scale, every per-channel operand already divided or
 * multiplied as named: `dbetaN` = dβ/n, `dgammaN` = dγ/n, `scale` = γ·σ⁻¹.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([2, 4, 4, 8]), c = tf.ones([8]), z = tf.zeros([8]);
 * const dx = prevInputGradient(tf.onesLike(x), x, { mean: z, rstd: c, dbetaN: z, dgammaN: z, scale: c });
 * ```
 */
export function prevInputGradient(
  dy: tf.Tensor,
  x: tf.Tensor,
  perChannel: { mean: tf.Tensor; rstd: tf.Tensor; dbetaN: tf.Tensor; dgammaN: tf.Tensor; scale: tf.Tensor },
): tf.Tensor {
  const rows = rowsOf(x), cols4 = x.shape[x.rank - 1] / 4;
  const blocks = Math.ceil(rows / ROWS), invocations = blocks * cols4;
  const { mean, rstd, dbetaN, dgammaN, scale } = perChannel;
  return run({
    variableNames: ["dy", "x", "mean", "rstd", "dbetaN", "dgammaN", "scale"],
    variableComponents: [4, 4, 4, 4, 4, 4, 4],
    outputComponent: 4,
    outputShape: x.shape,
    shaderKey: `bn_dx_${x.shape.join("_")}`,
    dispatchLayout: { x: [x.rank - 1], y: x.shape.slice(0, -1).map((_, i) => i) },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(invocations / WORKGROUP), 1, 1],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  let gid = i32(globalId.x);
  if (gid >= ${invocations}) { return; }
  let c = gid % ${cols4};
  let r0 = (gid / ${cols4}) * ${ROWS};
  let m = mean[c];
  let r = rstd[c];
  let db = dbetaN[c];
  let dg = dgammaN[c];
  let s = scale[c];
  let end = min(r0 + ${ROWS}, ${rows});
  for (var row = r0; row < end; row++) {
    let i = row * ${cols4} + c;
    let xh = (x[i] - m) * r;
    result[i] = ((dy[i] - db) - xh * dg) * s;
  }
}`,
  }, [dy, x, mean, rstd, dbetaN, dgammaN, scale]);
}

/**
 * dγ and dx of batch norm as the `cpu-prev` set computes them: σ⁻¹, dβ/n, dγ/n and γσ⁻¹ as tfjs ops, the
 * two full-size passes as one program each.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([2, 4, 4, 8]), dy = tf.onesLike(x);
 * const { dgamma, dx } = prevBatchNormGradients(dy, x, {
 *   mean: tf.zeros([8]), variance: tf.ones([8]), gamma: tf.ones([8]), epsilon: 1e-5,
 *   dbeta: tf.sum(dy, [0, 1, 2]), n: 32,
 * });
 * ```
 */
export function prevBatchNormGradients(
  dy: tf.Tensor,
  x: tf.Tensor,
  saved: BatchNormSaved,
): { dgamma: tf.Tensor; dx: tf.Tensor } {
  const { mean, variance, gamma, dbeta, epsilon, n } = saved;
  const rstd = tf.rsqrt(tf.add(variance, epsilon));
  const dgamma = prevScaleGradient(dy, x, { mean, rstd });
  const dbetaN = tf.div(dbeta, n), dgammaN = tf.div(dgamma, n), scale = tf.mul(gamma, rstd);
  return { dgamma, dx: prevInputGradient(dy, x, { mean, rstd, dbetaN, dgammaN, scale }) };
}
