/**
 * The `cpu-prev` set's per-channel reductions: the `cpu` set's (cpu/reduce.ts; the same order of additions,
 * the same bits) with the row and channel counts written into the shader, one pipeline per tensor shape.
 * Kept so that bench/throughput_bench.ts can compare compile costs in one run.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { prevReduceKernel } from "./reduce.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Sum", "webgpu")!;
 * const kernelFunc = prevReduceKernel("Sum", stock.kernelFunc);
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Attrs, KernelArgs, Program, ReduceKernelName, WebGPUBackendLike } from "../program.ts";
import { leadingAxesReduction, stockPartials } from "../cpu/reduce.ts";

/** Lanes per workgroup (llvmpipe's 8 AVX2 lanes). */
const WORKGROUP = 8;

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
 * The `cpu-prev` set's kernel function for `Sum` or `Mean`, falling back to `stock` for cases it does not
 * handle.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const stock = tf.getKernel("Mean", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: prevReduceKernel("Mean", stock.kernelFunc) });
 * ```
 */
export function prevReduceKernel(name: ReduceKernelName, stock: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const r = leadingAxesReduction(x, args.attrs as Attrs);
    if (!r) return stock(args) as tf.TensorInfo;
    const partials = stockPartials(r.rows, backend.device.limits.maxComputeWorkgroupSizeX);
    const program = columnReduceProgram(r.rows, r.channels / 4, {
      outShape: r.outShape,
      mean: name === "Mean",
      partials,
    });
    return backend.runWebGPUProgram(program, [x], "float32");
  };
}
