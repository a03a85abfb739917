/**
 * The `gpu` kernel set: WebGPU convolution kernels for tfjs shaped for a hardware GPU. Each conv is an
 * implicit GEMM (no im2col buffer) run by {@linkcode runTiledGemm}: 256-invocation workgroups with
 * workgroup-memory tiles, sized from the device's limits, and split-K with a second summing pass where the
 * output tiles alone are too few to fill the GPU. No float atomics: the same inputs give the same bits.
 *
 * - `Conv2DBackpropFilter` (NHWC): dW[(wR, wC, ci), co] = Σ_{(b, oy, ox)} x[b, iy, ix, ci] · dy[b, oy, ox,
 *   co]. The reduction runs over batch × height × width (16,384 long for a layer1 conv at batch 256, with
 *   only one 64 × 64 output tile), so this is where split-K matters; stock tfjs runs one thread per filter
 *   element looping over the whole reduction.
 * - `FusedConv2D` and `Conv2D` (NHWC, bias and `relu`/`linear`): y[(b, oy, ox), co] = Σ_{(wR, wC, ci)}
 *   x[b, iy, ix, ci] · W[wR, wC, ci, co].
 * - `Conv2DBackpropInput` (NHWC): dx[(b, iy, ix), ci] = Σ_{(wR, wC, co)} dy[b, oy, ox, co] · W[wR, wC, ci,
 *   co] over the taps that reach (iy, ix).
 *
 * Anything else (NCHW, dilations, other activations) goes to the stock kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { gpuKernel } from "./gpu_kernels.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu")!;
 * const kernelFunc = gpuKernel("Conv2DBackpropFilter", stock.kernelFunc);
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  type Attrs,
  type ConvInfo,
  convInfoOf,
  type ConvKernelName,
  convKey,
  type KernelArgs,
  plainNHWC,
  type WebGPUBackendLike,
} from "./program.ts";
import { runTiledGemm } from "./tiled_gemm.ts";

/** WGSL that reads x at output pixel `p` (of B·OH·OW) and filter row `r` (of KH·KW·Ci), zero in the padding. */
function im2colRead(c: ConvInfo, p: string, r: string): string {
  const { inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW } = c;
  return `let ox = ${p} % ${OW}; let oy = (${p} / ${OW}) % ${OH}; let b = ${p} / ${OH * OW};
  let ci = ${r} % ${Ci}; let wC = (${r} / ${Ci}) % ${c.filterWidth}; let wR = ${r} / ${Ci * c.filterWidth};
  let iy = oy * ${c.strideHeight} - ${c.padInfo.top} + wR;
  let ix = ox * ${c.strideWidth} - ${c.padInfo.left} + wC;
  if (iy < 0 || iy >= ${H} || ix < 0 || ix >= ${W}) { return 0.0; }
  return x[((b * ${H} + iy) * ${W} + ix) * ${Ci} + ci];`;
}

/** Filter gradient as a GEMM over rows (wR, wC, ci), columns co and the reduction (b, oy, ox). */
function filterGrad(backend: WebGPUBackendLike, c: ConvInfo, x: tf.TensorInfo, dy: tf.TensorInfo) {
  const rows = c.filterHeight * c.filterWidth * c.inChannels, Co = c.outChannels;
  return runTiledGemm(backend, {
    key: `gpu_dw_${convKey(c)}`,
    M: rows,
    N: Co,
    K: c.batchSize * c.outHeight * c.outWidth,
    inputs: [x, dy],
    variableNames: ["x", "dy"],
    loadA: im2colRead(c, "k", "m"),
    loadB: `return dy[k * ${Co} + n];`,
    aFast: "m",
    bFast: "n",
    outputShape: [c.filterHeight, c.filterWidth, c.inChannels, Co],
  });
}

/** Forward conv as a GEMM over rows (b, oy, ox), columns co and the reduction (wR, wC, ci). */
function convForward(
  backend: WebGPUBackendLike,
  c: ConvInfo,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  relu: boolean,
) {
  const Co = c.outChannels;
  return runTiledGemm(backend, {
    key: `gpu_conv_${convKey(c)}`,
    M: c.batchSize * c.outHeight * c.outWidth,
    N: Co,
    K: c.filterHeight * c.filterWidth * c.inChannels,
    inputs: bias ? [x, filter, bias] : [x, filter],
    variableNames: bias ? ["x", "W", "bias"] : ["x", "W"],
    loadA: im2colRead(c, "m", "k"),
    loadB: `return W[k * ${Co} + n];`,
    aFast: "k",
    bFast: "n",
    outputShape: [c.batchSize, c.outHeight, c.outWidth, Co],
    bias: bias ? "bias" : undefined,
    relu,
  });
}

/** Input gradient as a GEMM over rows (b, iy, ix), columns ci and the reduction (wR, wC, co). */
function inputGrad(backend: WebGPUBackendLike, c: ConvInfo, dy: tf.TensorInfo, filter: tf.TensorInfo) {
  const { inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = c;
  const KW = c.filterWidth, sH = c.strideHeight, sW = c.strideWidth;
  return runTiledGemm(backend, {
    key: `gpu_dx_${convKey(c)}`,
    M: c.batchSize * H * W,
    N: Ci,
    K: c.filterHeight * KW * Co,
    inputs: [dy, filter],
    variableNames: ["dy", "W"],
    loadA: `let ix = m % ${W}; let iy = (m / ${W}) % ${H}; let b = m / ${H * W};
  let co = k % ${Co}; let wC = (k / ${Co}) % ${KW}; let wR = k / ${Co * KW};
  let ty = iy + ${c.padInfo.top} - wR; let tx = ix + ${c.padInfo.left} - wC;
  if (ty < 0 || tx < 0 || ty % ${sH} != 0 || tx % ${sW} != 0) { return 0.0; }
  let oy = ty / ${sH}; let ox = tx / ${sW};
  if (oy >= ${OH} || ox >= ${OW}) { return 0.0; }
  return dy[((b * ${OH} + oy) * ${OW} + ox) * ${Co} + co];`,
    loadB: `return W[((k / ${Co}) * ${Ci} + n) * ${Co} + k % ${Co}];`,
    aFast: "k",
    bFast: "k",
    outputShape: [c.batchSize, H, W, Ci],
  });
}

/**
 * The `gpu` set's kernel function for `name`, falling back to `stock` for cases it does not handle (and
 * where the device's limits allow no tiling).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const stock = tf.getKernel("Conv2D", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: gpuKernel("Conv2D", stock.kernelFunc) });
 * ```
 */
export function gpuKernel(name: ConvKernelName, stock: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const attrs = args.attrs as Attrs;
    const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
    let out: tf.TensorInfo | null = null;
    if (name === "Conv2DBackpropFilter") {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const c = convInfoOf(x.shape, attrs.filterShape as number[], attrs);
      if (plainNHWC(c) && x.dtype === "float32") out = filterGrad(backend, c, x, dy);
    } else if (name === "Conv2DBackpropInput") {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const c = convInfoOf(attrs.inputShape as number[], filter.shape, attrs);
      if (plainNHWC(c) && dy.dtype === "float32") out = inputGrad(backend, c, dy, filter);
    } else {
      const { x, filter, bias, preluActivationWeights } = inputs;
      const activation = (attrs.activation ?? "linear") as string;
      const c = convInfoOf(x!.shape, filter!.shape, attrs);
      const biasOk = bias == null || (bias.shape.length === 1 && bias.shape[0] === c.outChannels);
      if (
        plainNHWC(c) && x!.dtype === "float32" && biasOk && preluActivationWeights == null &&
        (activation === "linear" || activation === "relu")
      ) {
        out = convForward(backend, c, x!, filter!, bias, activation === "relu");
      }
    }
    return out ?? stock(args) as tf.TensorInfo;
  };
}
