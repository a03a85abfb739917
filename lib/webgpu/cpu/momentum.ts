/**
 * The Momentum update of one variable in two WebGPU dispatches instead of tfjs's four elementwise kernels,
 * shape-generic (the element count is a uniform: one pipeline for every variable):
 *
 *   accumulation' = m · accumulation + gradient
 *   value'        = c · accumulation' + value        (c = −learning rate)
 *
 * tfjs's `MomentumOptimizer` runs `add(mul(m, accumulation), gradient)` and `add(mul(c, accumulation'),
 * value)`: four passes over every weight, each a kernel call. ResNet50 has 161 trainable variables and 23.5 M
 * weights, so at batch 64 on llvmpipe these took about 0.7 s of a 12 s step. The expressions and their order
 * are tfjs's (and PyTorch's SGD with momentum, dampening 0: buf = μ·buf + g, p = p − lr·buf).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { momentumUpdate } from "./momentum.ts";
 * await tf.setBackend("webgpu");
 * const [acc, value] = momentumUpdate(tf.ones([8]), tf.zeros([8]), tf.ones([8]), {
 *   momentum: tf.scalar(0.9),
 *   negLearningRate: tf.scalar(-0.1),
 * });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { elementwiseProgram, type Program, runProgram, type WebGPUBackendLike } from "../program.ts";

/** `a · b + c` elementwise, `a` a scalar tensor, over `count` vec4s (or scalars when `n` is 1). */
function scaledAddProgram(count: number, n: 1 | 4): Program {
  const vt = n === 4 ? "vec4<f32>" : "f32";
  return elementwiseProgram(count, {
    variableNames: ["s", "b", "c"],
    variableComponents: [1, n, n],
    outputComponent: n,
    shaderKey: `cpu3_momentum_${n}`,
    body: `result[gid] = ${vt}(s[0]) * b[gid] + c[gid];`,
  });
}

function scaledAdd(s: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor {
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const n = b.size % 4 === 0 ? 4 : 1;
  // a scalar's shape [] would make the flat layout's rank 0; view everything as 1-D
  const flat = (t: tf.Tensor) => ({ dataId: t.dataId, shape: [t.size], dtype: t.dtype });
  const info = runProgram(backend, scaledAddProgram(b.size / n, n), {
    inputs: [s, flat(b), flat(c)],
    uniforms: [{ type: "int32", data: [b.size / n] }],
  });
  return tf.reshape(tf.engine().makeTensorFromTensorInfo(info), b.shape);
}

/** `a · b + c` elementwise on the webgpu backend, `a` a scalar tensor. */
export type ScaledAdd = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor;

/**
 * The Momentum update made of two `scaledAdd`s: accumulation' = m · accumulation + gradient, then value' =
 * c · accumulation' + value.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const update = momentumUpdateWith((a, b, c) => tf.add(tf.mul(a, b), c));
 * ```
 */
export function momentumUpdateWith(scaledAdd: ScaledAdd) {
  return (
    value: tf.Tensor,
    accumulation: tf.Tensor,
    gradient: tf.Tensor,
    options: { momentum: tf.Tensor; negLearningRate: tf.Tensor },
  ): [tf.Tensor, tf.Tensor] => {
    const next = scaledAdd(options.momentum, accumulation, gradient);
    return [next, scaledAdd(options.negLearningRate, next, value)];
  };
}

/**
 * One Momentum step of one variable on the webgpu backend: returns [accumulation', value'] (see the module
 * docs); `momentum` and `negLearningRate` are scalar tensors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const [acc, value] = momentumUpdate(tf.ones([3]), tf.zeros([3]), tf.ones([3]), {
 *   momentum: tf.scalar(0.9),
 *   negLearningRate: tf.scalar(-0.1),
 * });
 * ```
 */
export const momentumUpdate = momentumUpdateWith(scaledAdd);
