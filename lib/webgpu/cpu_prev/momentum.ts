/**
 * The `cpu-prev` set's Momentum update: the `cpu` set's two dispatches (cpu/momentum.ts, the same
 * expressions) with the variable's size written into the shader, one pipeline per distinct size.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { prevMomentumUpdate } from "./momentum.ts";
 * await tf.setBackend("webgpu");
 * const [acc, value] = prevMomentumUpdate(tf.ones([8]), tf.zeros([8]), tf.ones([8]), {
 *   momentum: tf.scalar(0.9),
 *   negLearningRate: tf.scalar(-0.1),
 * });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Program, WebGPUBackendLike } from "../program.ts";
import { momentumUpdateWith } from "../cpu/momentum.ts";

const WORKGROUP = 64;

/** `a · b + c` elementwise, `a` a scalar tensor; vec4 lanes when the size divides by 4. */
function scaledAddProgram(size: number, shape: number[]): Program {
  const n = size % 4 === 0 ? 4 : 1, count = size / n, vt = n === 4 ? "vec4<f32>" : "f32";
  return {
    variableNames: ["s", "b", "c"],
    variableComponents: [1, n, n],
    outputComponent: n,
    outputShape: shape,
    shaderKey: `momentum_${size}_${shape.length}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(count / WORKGROUP), 1, 1],
    getUserCode: () => `
fn main(index: i32) {
  _ = uniforms.outShape;
  let i = i32(globalId.x);
  if (i >= ${count}) { return; }
  result[i] = ${vt}(s[0]) * b[i] + c[i];
}`,
  };
}

function scaledAdd(s: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor {
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  // a scalar's shape [] would make the flat layout's rank 0; view everything as 1-D
  const shape = [b.size];
  const info = backend.runWebGPUProgram(scaledAddProgram(b.size, shape), [s, b, c], "float32");
  return tf.reshape(tf.engine().makeTensorFromTensorInfo(info), b.shape);
}

/**
 * One Momentum step of one variable as the `cpu-prev` set runs it (see the module docs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const [acc, value] = prevMomentumUpdate(tf.ones([3]), tf.zeros([3]), tf.ones([3]), {
 *   momentum: tf.scalar(0.9),
 *   negLearningRate: tf.scalar(-0.1),
 * });
 * ```
 */
export const prevMomentumUpdate = momentumUpdateWith(scaledAdd);
