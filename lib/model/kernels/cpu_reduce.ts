/**
 * The `cpu` set's per-channel reductions: `Sum` and `Mean` of an NHWC tensor over every axis but the last
 * (batch norm's statistics and the gradients of its scale and offset), shaped for llvmpipe.
 *
 * In one ResNet50 training step at batch 64 on llvmpipe, tfjs's `Sum` and `Mean` took 3.4 s of 18.3 s (376
 * calls; bench/throughput_bench.ts `--profile-shapes`): tfjs transposes the channels to the innermost axis
 * and then reduces through workgroup memory with barriers, which llvmpipe runs as coroutines. Here one
 * invocation owns four channels (a `vec4`) and walks the rows in order: no transpose, no workgroup memory,
 * no barrier. The additions run in exactly tfjs's order (its strided partial sums, then its pairwise tree;
 * see {@linkcode stockPartials}), so the results are the same bits as stock's. That matters more than it
 * seems: at initialization some of ResNet50's channels vary little across a batch, so batch norm's gradient
 * amplifies a one-ulp change in the batch mean; a reduction in another order (partial sums of 64
 * consecutive rows) moved single weight gradients by up to 30 % against stock at batch 16.
 *
 * Anything else (other axes, a last axis not divisible by 4, other dtypes) goes to the stock kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { cpuReduceKernel } from "./cpu_reduce.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Sum", "webgpu")!;
 * const kernelFunc = cpuReduceKernel("Sum", stock.kernelFunc);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Attrs, KernelArgs, Program, ReduceKernelName, WebGPUBackendLike } from "./program.ts";

/** Lanes per workgroup (llvmpipe's 8 AVX2 lanes). */
const WORKGROUP = 8;

/**
 * How many partial sums tfjs-webgpu's reduce program keeps for a reduction of `rows` values: its workgroup
 * size (reduce_webgpu.ts: 512 from 32,768 values where the device allows, 256 from 4,096, else 64).
 */
export function stockPartials(rows: number, maxWorkgroupSizeX: number): number {
  if (rows >= 32768 && maxWorkgroupSizeX >= 512) return 512;
  return rows >= 4096 ? 256 : 64;
}

/**
 * Sum (or mean) of `x`, viewed as [rows, cols4] vec4s, over its rows, in tfjs's order: partial sum t adds
 * rows t, t + P, t + 2P, … from 0.0, then the P partials are added pairwise as its tree does (each round
 * adds the upper half, rounded up, onto the lower), and a mean divides by the row count.
 */
function columnReduceProgram(
  rows: number,
  cols4: number,
  options: { outShape: number[]; mean: boolean; partials: number },
): Program {
  const { outShape, mean, partials: P } = options;
  const live = Math.min(rows, P);
  return {
    variableNames: ["x"],
    variableComponents: [4],
    outputComponent: 4,
    outputShape: outShape,
    shaderKey: `cpu2_colreduce_${rows}_${cols4}_${mean}_${outShape.length}_${P}`,
    // tfjs's usual layout, the channels on x; when x covers every output axis, tfjs calls main(index)
    dispatchLayout: outShape.length > 1
      ? { x: [outShape.length - 1], y: outShape.slice(0, -1).map((_, i) => i) }
      : { x: [0] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(cols4 / WORKGROUP), 1, 1],
    getUserCode: () => `
fn main(${outShape.length > 1 ? "" : "index: i32"}) {
  _ = uniforms.outShape;
  let c = i32(globalId.x);
  if (c >= ${cols4}) { return; }
  var part: array<vec4<f32>, ${live}>;
  for (var t = 0; t < ${live}; t++) { part[t] = vec4<f32>(0.0); }
  for (var r0 = 0; r0 < ${rows}; r0 += ${P}) {
    let end = min(${P}, ${rows} - r0);
    for (var t = 0; t < end; t++) {
      part[t] = part[t] + x[(r0 + t) * ${cols4} + c];
    }
  }
  var size = ${live};
  while (size > 1) {
    let half = size / 2;
    let interval = (size + 1) / 2;
    for (var t = 0; t < half; t++) { part[t] = part[t] + part[t + interval]; }
    size = interval;
  }
  result[c] = ${mean ? `part[0] / f32(${rows})` : "part[0]"};
}`,
  };
}

/**
 * The `cpu` set's kernel function for `Sum` or `Mean`, falling back to `stock` for cases it does not handle.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const stock = tf.getKernel("Mean", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: cpuReduceKernel("Mean", stock.kernelFunc) });
 * ```
 */
export function cpuReduceKernel(name: ReduceKernelName, stock: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const attrs = args.attrs as Attrs;
    const rank = x.shape.length;
    // in the order given: tfjs sums the rows in that order (its transpose puts them so), so [2, 0, 1] is not
    // [0, 1, 2] to the bit, and only the plain order is taken here
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    const channels = x.shape[rank - 1];
    const leading = axes.length === rank - 1 && axes.every((a, i) => a === i);
    if (x.dtype === "float32" && rank >= 2 && leading && channels % 4 === 0) {
      const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const outShape = attrs.keepDims ? [...Array(rank - 1).fill(1), channels] : [channels];
      const partials = stockPartials(rows, backend.device.limits.maxComputeWorkgroupSizeX);
      return backend.runWebGPUProgram(
        columnReduceProgram(rows, channels / 4, { outShape, mean: name === "Mean", partials }),
        [x],
        "float32",
      );
    }
    return stock(args) as tf.TensorInfo;
  };
}
