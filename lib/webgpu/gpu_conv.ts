/**
 * The `gpu` kernel set: WebGPU convolution kernels for tfjs shaped for a hardware GPU. Each conv is an
 * implicit GEMM (no im2col buffer) run by {@linkcode runTiledGemm}: 256-invocation workgroups with
 * workgroup-memory tiles, sized from the device's limits, and split-K with a second summing pass where the
 * output tiles alone are too few to fill the GPU. No float atomics: the same inputs give the same bits.
 * Shape-generic: the conv's geometry reaches the loaders as uniforms (program.ts `CONV_UNIFORMS`), so one
 * pipeline per conv kind serves every layer and batch size.
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
 * import { convKernel } from "./program.ts";
 * import { gpuConv } from "./gpu_conv.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu")!;
 * const kernelFunc = convKernel(gpuConv, { name: "Conv2DBackpropFilter", stock: stock.kernelFunc });
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  CONV_GEOMETRY,
  CONV_UNIFORMS,
  type ConvCall,
  type ConvInfo,
  type ConvPrograms,
  convUniforms,
} from "./program.ts";
import { runTiledGemm } from "./tiled_gemm.ts";

/** The conv geometry every loader reads. */
const geometry = (c: ConvInfo) => ({ members: CONV_UNIFORMS, values: convUniforms(c) });

/** WGSL that reads x at output pixel `p` (of B·OH·OW) and filter row `r` (of KH·KW·Ci), zero in the padding. */
function im2colRead(p: string, r: string): string {
  return `${CONV_GEOMETRY}
  let ox = ${p} % outW; let oy = (${p} / outW) % outH; let b = ${p} / (outH * outW);
  let ci = ${r} % inC; let wC = (${r} / inC) % kW; let wR = ${r} / (inC * kW);
  let iy = oy * sH - padT + wR;
  let ix = ox * sW - padL + wC;
  if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) { return 0.0; }
  return x[((b * inH + iy) * inW + ix) * inC + ci];`;
}

/**
 * The `gpu` set's conv programs (see the module docs), for {@linkcode convKernel}; null where the device's
 * limits allow no tiling.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { convKernel } from "./program.ts";
 * const stock = tf.getKernel("Conv2D", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: convKernel(gpuConv, { name: "Conv2D", stock: stock.kernelFunc }) });
 * ```
 */
export const gpuConv: ConvPrograms = {
  /** Filter gradient as a GEMM over rows (wR, wC, ci), columns co and the reduction (b, oy, ox). */
  filterGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    return runTiledGemm(call.backend, {
      key: "gpu_dw",
      M: c.filterHeight * c.filterWidth * c.inChannels,
      N: c.outChannels,
      K: c.batchSize * c.outHeight * c.outWidth,
      inputs: [call.x!, call.dy!],
      variableNames: ["x", "dy"],
      uniforms: geometry(c),
      loadA: im2colRead("k", "m"),
      loadB: "return dy[k * uniforms.convY.z + n];",
      aFast: "m",
      bFast: "n",
      outputShape: [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels],
    });
  },
  /** Forward conv as a GEMM over rows (b, oy, ox), columns co and the reduction (wR, wC, ci). */
  forward(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    const { x, filter, bias } = call;
    return runTiledGemm(call.backend, {
      key: "gpu_conv",
      M: c.batchSize * c.outHeight * c.outWidth,
      N: c.outChannels,
      K: c.filterHeight * c.filterWidth * c.inChannels,
      inputs: bias ? [x!, filter!, bias] : [x!, filter!],
      variableNames: bias ? ["x", "W", "bias"] : ["x", "W"],
      uniforms: geometry(c),
      loadA: im2colRead("m", "k"),
      loadB: "return W[k * uniforms.convY.z + n];",
      aFast: "k",
      bFast: "n",
      outputShape: [c.batchSize, c.outHeight, c.outWidth, c.outChannels],
      bias: bias ? "bias" : undefined,
      relu: call.relu,
    });
  },
  /** Input gradient as a GEMM over rows (b, iy, ix), columns ci and the reduction (wR, wC, co). */
  inputGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    return runTiledGemm(call.backend, {
      key: "gpu_dx",
      M: c.batchSize * c.inHeight * c.inWidth,
      N: c.inChannels,
      K: c.filterHeight * c.filterWidth * c.outChannels,
      inputs: [call.dy!, call.filter!],
      variableNames: ["dy", "W"],
      uniforms: geometry(c),
      loadA: `${CONV_GEOMETRY}
  let ix = m % inW; let iy = (m / inW) % inH; let b = m / (inH * inW);
  let co = k % outC; let wC = (k / outC) % kW; let wR = k / (outC * kW);
  let ty = iy + padT - wR; let tx = ix + padL - wC;
  if (ty < 0 || tx < 0 || ty % sH != 0 || tx % sW != 0) { return 0.0; }
  let oy = ty / sH; let ox = tx / sW;
  if (oy >= outH || ox >= outW) { return 0.0; }
  return dy[((b * outH + oy) * outW + ox) * outC + co];`,
      loadB: `${CONV_GEOMETRY}
  return W[((k / outC) * inC + n) * outC + k % outC];`,
      aFast: "k",
      bFast: "k",
      outputShape: [c.batchSize, c.inHeight, c.inWidth, c.inChannels],
    });
  },
};
