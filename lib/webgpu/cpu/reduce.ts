/**
 * The `cpu` set's per-channel reductions: `Sum` and `Mean` of an NHWC tensor over every axis but the last
 * (batch norm's statistics and the gradients of its scale and offset), shaped for llvmpipe and
 * shape-generic: the row and channel counts are uniforms, so one pipeline per partial-sum count (64, 256 or
 * 512) and operation serves every layer and batch size.
 *
 * tfjs's own `Sum` and `Mean` transpose the channels to the innermost axis and then reduce through workgroup
 * memory with barriers, which llvmpipe runs as coroutines. Here one invocation owns four channels (a
 * `vec4`) and walks the rows in order: no transpose, no workgroup memory, no barrier. The additions run in
 * exactly tfjs's order (its strided partial sums, then its pairwise tree; see {@linkcode stockPartials}),
 * so the results are the same bits as stock's. That matters more than it seems: at initialization some of
 * ResNet50's channels vary little across a batch, so batch norm's gradient amplifies a one-ulp change in the
 * batch mean; a reduction in another order (partial sums of 64 consecutive rows) moved single weight
 * gradients by up to 30 % against stock at batch 16.
 *
 * Anything else (other axes, a last axis not divisible by 4, other dtypes, fewer rows than partial sums)
 * goes to the stock kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { reduceKernel } from "./reduce.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Sum", "webgpu")!;
 * const kernelFunc = reduceKernel("Sum", stock.kernelFunc);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type Attrs,
  CPU_WORKGROUP,
  type KernelArgs,
  type Program,
  type ReduceKernelName,
  runProgram,
  type WebGPUBackendLike,
} from "../program.ts";

/**
 * How many partial sums tfjs-webgpu's reduce program keeps for a reduction of `rows` values: its workgroup
 * size (reduce_webgpu.ts: 512 from 32,768 values where the device allows, 256 from 4,096, else 64).
 *
 * @example
 * ```ts
 * stockPartials(8192, 256); // 256
 * ```
 */
export function stockPartials(rows: number, maxWorkgroupSizeX: number): number {
  if (rows >= 32768 && maxWorkgroupSizeX >= 512) return 512;
  return rows >= 4096 ? 256 : 64;
}

/**
 * Which reductions the `cpu` sets take: float32, the leading axes in order, channels in fours; returns the
 * row count and output shape, or null.
 */
export function leadingAxesReduction(
  x: tf.TensorInfo,
  attrs: Attrs,
): { rows: number; channels: number; outShape: number[] } | null {
  const rank = x.shape.length;
  // in the order given: tfjs sums the rows in that order (its transpose puts them so), so [2, 0, 1] is not
  // [0, 1, 2] to the bit, and only the plain order is taken here
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const channels = x.shape[rank - 1];
  const leading = axes.length === rank - 1 && axes.every((a, i) => a === i);
  if (x.dtype !== "float32" || rank < 2 || !leading || channels % 4) return null;
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, channels, outShape: attrs.keepDims ? [...Array(rank - 1).fill(1), channels] : [channels] };
}

/**
 * Sum (or mean) of `x`, viewed as [rows, cols4] vec4s, over its rows, in tfjs's order, for rows ≥ P (P a
 * power of two): partial sum t adds rows t, t + P, t + 2P, … from 0.0, and the P partials are added
 * pairwise as tfjs's tree does (each round adds the upper half onto the lower: part[t] += part[t + P/2],
 * then part[t] += part[t + P/4], …); a mean divides by the row count.
 *
 * The tree is walked depth first instead of round by round, so an invocation holds log2(P) + 1 values
 * rather than all P partials: leaf j of the walk is partial t = j with its log2(P) bits reversed, each
 * pushed on a small stack, and after leaf j the top two values are added (left + right, as the round
 * adds them) once per trailing one bit of j. The additions and their order are the round-by-round tree's.
 * (A private array of all P partials, indexed by a loop variable, is what tfjs's order suggests; llvmpipe
 * turns each such access into a chain of P compares, and the 512-partial shader took over two minutes to
 * compile.)
 */
function columnReduceProgram(
  outShape: number[],
  options: { mean: boolean; partials: number; deviation?: boolean },
): Program {
  const P = options.partials, bits = Math.log2(P);
  // the deviation form sums (x − m)², as tfjs's Sub and Square would write it element by element
  const element = options.deviation
    ? "let d = x[r * cols4 + c] - m; part = part + d * d;"
    : "part = part + x[r * cols4 + c];";
  return {
    variableNames: options.deviation ? ["x", "center"] : ["x"],
    variableComponents: options.deviation ? [4, 4] : [4],
    outputComponent: 4,
    outputShape: outShape,
    uniforms: "reduceDims : vec2<i32>, ",
    shaderKey: `cpu3_colreduce_${options.deviation ? "sqdev" : ""}${options.mean ? "mean" : "sum"}_${P}`,
    // tfjs's usual layout, the channels on x; when x covers every output axis, tfjs calls main(index)
    dispatchLayout: outShape.length > 1
      ? { x: [outShape.length - 1], y: outShape.slice(0, -1).map((_, i) => i) }
      : { x: [0] },
    workgroupSize: [CPU_WORKGROUP, 1, 1],
    dispatch: [Math.ceil(outShape[outShape.length - 1] / 4 / CPU_WORKGROUP), 1, 1],
    getUserCode: () => `
fn main(${outShape.length > 1 ? "" : "index: i32"}) {
  let rows = uniforms.reduceDims.x;
  let cols4 = uniforms.reduceDims.y;
  let c = i32(globalId.x);
  if (c >= cols4) { return; }
  ${options.deviation ? "let m = center[c];" : ""}
  var stack: array<vec4<f32>, ${bits + 1}>;
  var top = 0;
  for (var j = 0u; j < ${P}u; j++) {
    let t = i32(reverseBits(j) >> ${32 - bits}u);
    var part = vec4<f32>(0.0);
    for (var r = t; r < rows; r += ${P}) { ${element} }
    stack[top] = part;
    top++;
    for (var k = j; (k & 1u) == 1u; k = k >> 1u) {
      stack[top - 2] = stack[top - 2] + stack[top - 1];
      top--;
    }
  }
  result[c] = ${options.mean ? "stack[0] / f32(rows)" : "stack[0]"};
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
 * tf.registerKernel({ ...stock, kernelFunc: reduceKernel("Mean", stock.kernelFunc) });
 * ```
 */
export function reduceKernel(name: ReduceKernelName, stock: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const r = leadingAxesReduction(x, args.attrs as Attrs);
    const partials = r && stockPartials(r.rows, backend.device.limits.maxComputeWorkgroupSizeX);
    // fewer rows than partials: tfjs's tree over a partial count that is no power of two; such tensors are
    // small, and stock adds in the very order this program follows
    if (!r || !partials || r.rows < partials) return stock(args) as tf.TensorInfo;
    return runProgram(backend, columnReduceProgram(r.outShape, { mean: name === "Mean", partials }), {
      inputs: [x],
      uniforms: [{ type: "int32", data: [r.rows, r.channels / 4] }],
    });
  };
}

/**
 * The biased variance of channels-last `x` around `mean` (per channel) over every axis but the last, as
 * `tf.moments` computes it (Sub, Square, then Mean in tfjs's order), in one program and one pass: the same
 * bits as those three kernels, since llvmpipe rounds the product and the sum separately as they do. Null
 * when `x` has fewer rows than tfjs's partial sums or does not qualify (see {@linkcode leadingAxesReduction});
 * the caller then runs tfjs's ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([64, 8, 8, 16]);
 * const variance = squaredDeviationMean(x, tf.mean(x, [0, 1, 2])); // as tf.moments(x, [0, 1, 2]).variance
 * ```
 */
export function squaredDeviationMean(x: tf.Tensor, mean: tf.Tensor): tf.Tensor | null {
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const axis = [...Array(x.rank - 1).keys()];
  const r = leadingAxesReduction(x, { axis, keepDims: false });
  const partials = r && stockPartials(r.rows, backend.device.limits.maxComputeWorkgroupSizeX);
  if (!r || !partials || r.rows < partials || tf.getBackend() !== "webgpu") return null;
  const program = columnReduceProgram(r.outShape, { mean: true, partials, deviation: true });
  const info = runProgram(backend, program, {
    inputs: [x, mean],
    uniforms: [{ type: "int32", data: [r.rows, r.channels / 4] }],
  });
  return tf.engine().makeTensorFromTensorInfo(info);
}
