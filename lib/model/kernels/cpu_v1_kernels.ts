/**
 * The `cpu-v1` kernel set: the first WebGPU convolution kernels for software adapters (Mesa
 * llvmpipe/lavapipe), kept selectable (`--kernels cpu-v1`) so that bench/throughput_bench.ts can compare
 * the `cpu` set (lib/model/kernels/cpu_kernels.ts) against them. It was the `cpu` set (and `project` before
 * that) until round 2.
 *
 * On llvmpipe a compute shader runs one workgroup per CPU thread, its invocations as SIMD lanes. Stock
 * tfjs kernels are slow there: the tiled matmul/conv kernels synchronise through workgroup memory and
 * barriers (which llvmpipe honours by running invocations as coroutines, our reading of why they are slow),
 * and the filter gradient is a naive loop with one output per invocation. Measured on llvmpipe (LLVM 15,
 * 256 bits), a ResNet50 training step at batch 32 ran 5.8× faster with these kernels than with stock
 * tfjs's (197.8 → 34.0 s a step; see bench/throughput_bench.ts). The kernels here use no workgroup memory and no barrier. Each
 * invocation owns four consecutive channels (a `vec4`) and a block of up to 16 rows of the implicit GEMM,
 * so that the block's operand is read at an address that is the same for every lane (llvmpipe loads it once
 * for all lanes) and the other operand with one `vec4` load per step.
 *
 * - `Conv2DBackpropFilter` (NHWC): dW[k, co] = Σ_m im2col(x)[m, k] · dy[m, co], lanes over `co`, a block
 *   of input channels per workgroup.
 * - `FusedConv2D` and `Conv2D` (NHWC, bias and `relu`/`linear` activation): y[m, co] = Σ_k im2col(x)[m, k]
 *   · W[k, co], lanes over `co`, a block of output pixels per workgroup.
 * - `Conv2DBackpropInput` (NHWC): dx[m, ci] = Σ dy · W over the taps that reach pixel m, lanes over `ci`, a
 *   block of input pixels per workgroup; one extra small dispatch first swaps the filter's channel axes so
 *   that four input channels are one `vec4` load.
 *
 * Anything else (NCHW, dilations, channel counts not divisible by 4, other activations) goes to the stock
 * kernel. {@linkcode cpuV1Kernel} wraps one stock kernel; lib/model/webgpu_kernels.ts registers them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { cpuV1Kernel } from "./cpu_v1_kernels.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu")!;
 * const kernelFunc = cpuV1Kernel("Conv2DBackpropFilter", stock.kernelFunc);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type Attrs,
  type ConvInfo,
  convInfoOf,
  type ConvKernelName,
  convKey,
  type KernelArgs,
  plainNHWC,
  type Program,
  range,
  type WebGPUBackendLike,
} from "./program.ts";

/** Lanes per workgroup: four channels each. */
const WORKGROUP = 16;
/** Rows of the implicit GEMM (input channels or pixels) one invocation owns. */
const BLOCK = 16;

/** The largest block ≤ {@linkcode BLOCK} that divides `n` (n itself when n ≤ BLOCK). */
function blockFor(n: number): number {
  if (n <= BLOCK) return n;
  for (const b of [16, 8, 4, 2]) if (n % b === 0) return b;
  return 1;
}

/**
 * Filter gradient: dW[wR, wC, ci, co] = Σ_{b, oy, ox} x[b, oy·s − pad + wR, ox·s − pad + wC, ci] ·
 * dy[b, oy, ox, co]. Invocation: four output channels × a block of `tm` input channels at one tap.
 */
function filterGradProgram(c: ConvInfo): Program {
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outChannels: Co,
    outHeight: OH,
    outWidth: OW,
  } = c;
  const KH = c.filterHeight, KW = c.filterWidth, Co4 = Co / 4, tm = blockFor(Ci);
  const acc = range(tm).map((j) => `var acc${j} = vec4<f32>(0.0);`).join("\n  ");
  const fma = range(tm).map((j) => `acc${j} = fma(vec4<f32>(x[xb + ${j}]), d, acc${j});`).join("\n        ");
  const store = range(tm).map((j) => `result[(kBase + ${j}) * ${Co4} + co] = acc${j};`).join("\n  ");
  return {
    variableNames: ["x", "dy"],
    variableComponents: [1, 4],
    outputComponent: 4,
    outputShape: [KH, KW, Ci, Co],
    shaderKey: `cpu1_dw_${convKey(c)}_${tm}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(Co4 / WORKGROUP), (KH * KW * Ci) / tm, 1],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  let co = i32(globalId.x);
  let kBase = i32(workgroupId.y) * ${tm};
  if (co >= ${Co4}) { return; }
  let ci0 = kBase % ${Ci};
  let wC = (kBase / ${Ci}) % ${KW};
  let wR = kBase / ${Ci * KW};
  ${acc}
  for (var b = 0; b < ${B}; b++) {
    for (var oy = 0; oy < ${OH}; oy++) {
      let iy = oy * ${c.strideHeight} - ${c.padInfo.top} + wR;
      if (iy < 0 || iy >= ${H}) { continue; }
      for (var ox = 0; ox < ${OW}; ox++) {
        let ix = ox * ${c.strideWidth} - ${c.padInfo.left} + wC;
        if (ix < 0 || ix >= ${W}) { continue; }
        let xb = ((b * ${H} + iy) * ${W} + ix) * ${Ci} + ci0;
        let d = dy[((b * ${OH} + oy) * ${OW} + ox) * ${Co4} + co];
        ${fma}
      }
    }
  }
  ${store}
}`,
  };
}

/**
 * Forward convolution: y[b, oy, ox, co] = act(Σ_{wR, wC, ci} x[b, oy·s − pad + wR, ox·s − pad + wC, ci] ·
 * W[wR, wC, ci, co] + bias[co]). Invocation: four output channels × a block of `tm` output pixels.
 */
function convForwardProgram(c: ConvInfo, hasBias: boolean, relu: boolean): Program {
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outChannels: Co,
    outHeight: OH,
    outWidth: OW,
  } = c;
  const KH = c.filterHeight, KW = c.filterWidth, Co4 = Co / 4, M = B * OH * OW, tm = Math.min(BLOCK, M);
  const setup = range(tm).map((j) =>
    `let m${j} = min(mBase + ${j}, ${M - 1});
  let iy${j} = ((m${j} / ${OW}) % ${OH}) * ${c.strideHeight} - ${c.padInfo.top};
  let ix${j} = (m${j} % ${OW}) * ${c.strideWidth} - ${c.padInfo.left};
  let xb${j} = (m${j} / ${OH * OW}) * ${H * W * Ci};
  var acc${j} = vec4<f32>(0.0);`
  ).join("\n  ");
  const taps = range(tm).map((j) =>
    `let y${j} = iy${j} + wR; let x${j} = ix${j} + wC;
      let ok${j} = y${j} >= 0 && y${j} < ${H} && x${j} >= 0 && x${j} < ${W};
      let o${j} = select(0, xb${j} + (y${j} * ${W} + x${j}) * ${Ci}, ok${j});
      let f${j} = select(0.0, 1.0, ok${j});`
  ).join("\n      ");
  const fma = range(tm).map((j) => `acc${j} = fma(vec4<f32>(x[o${j} + ci] * f${j}), w, acc${j});`).join(
    "\n        ",
  );
  const store = range(tm).map((j) => {
    let v = `acc${j}`;
    if (hasBias) v = `(${v} + bias[co])`;
    if (relu) v = `max(${v}, vec4<f32>(0.0))`;
    return `if (mBase + ${j} < ${M}) { result[(mBase + ${j}) * ${Co4} + co] = ${v}; }`;
  }).join("\n  ");
  return {
    variableNames: hasBias ? ["x", "W", "bias"] : ["x", "W"],
    variableComponents: hasBias ? [1, 4, 4] : [1, 4],
    outputComponent: 4,
    outputShape: [B, OH, OW, Co],
    shaderKey: `cpu1_conv_${convKey(c)}_${tm}_${hasBias}_${relu}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(Co4 / WORKGROUP), Math.ceil(M / tm), 1],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  let co = i32(globalId.x);
  let mBase = i32(workgroupId.y) * ${tm};
  if (co >= ${Co4}) { return; }
  ${setup}
  for (var wR = 0; wR < ${KH}; wR++) {
    for (var wC = 0; wC < ${KW}; wC++) {
      ${taps}
      let wb = (wR * ${KW} + wC) * ${Ci * Co4} + co;
      for (var ci = 0; ci < ${Ci}; ci++) {
        let w = W[wb + ci * ${Co4}];
        ${fma}
      }
    }
  }
  ${store}
}`,
  };
}

/**
 * Input gradient: dx[b, iy, ix, ci] = Σ_{wR, wC, co} dy[b, oy, ox, co] · W[wR, wC, ci, co] over the taps with
 * oy·s − pad + wR = iy and ox·s − pad + wC = ix. Invocation: four input channels (one when they do not divide
 * by 4) × a block of `tm` input pixels. The pixels are split by phase ((iy + pad) mod s, (ix + pad) mod s),
 * one phase per `workgroupId.z`, so that a block only visits the taps that reach it: a stride-2 conv does a
 * quarter of the work of looping over every tap. `W` is the filter with its channel axes swapped,
 * [KH, KW, Co, Ci] (see {@linkcode transposeFilterProgram}), so that four input channels are one `vec4` load.
 */
function inputGradProgram(c: ConvInfo): Program {
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outChannels: Co,
    outHeight: OH,
    outWidth: OW,
  } = c;
  const KH = c.filterHeight, KW = c.filterWidth, sH = c.strideHeight, sW = c.strideWidth;
  const pT = c.padInfo.top, pL = c.padInfo.left;
  // four input channels per invocation when they divide, else one (the stem's 3)
  const n = Ci % 4 === 0 ? 4 : 1, Ci4 = Ci / n, vt = n === 4 ? "vec4<f32>" : "f32";
  // pixels of the largest phase: an upper bound for every phase's count
  const maxPixels = B * Math.ceil(H / sH) * Math.ceil(W / sW);
  const tm = Math.min(BLOCK, maxPixels);
  const setup = range(tm).map((j) =>
    `let m${j} = min(mBase + ${j}, count - 1);
  let qx${j} = m${j} % nqx + qxStart;
  let qy${j} = (m${j} / nqx) % nqy + qyStart;
  let db${j} = (m${j} / (nqx * nqy)) * ${OH * OW * Co};
  var acc${j} = ${vt}(0.0);`
  ).join("\n  ");
  const taps = range(tm).map((j) =>
    `let oy${j} = qy${j} - ty; let ox${j} = qx${j} - tx;
      let ok${j} = oy${j} >= 0 && oy${j} < ${OH} && ox${j} >= 0 && ox${j} < ${OW};
      let o${j} = select(0, db${j} + (oy${j} * ${OW} + ox${j}) * ${Co}, ok${j});
      let f${j} = select(0.0, 1.0, ok${j});`
  ).join("\n      ");
  const fma = range(tm).map((j) => `acc${j} = fma(${vt}(dy[o${j} + co] * f${j}), w, acc${j});`).join(
    "\n        ",
  );
  const store = range(tm).map((j) =>
    `if (mBase + ${j} < count) {
    let b${j} = m${j} / (nqx * nqy);
    let iy${j} = qy${j} * ${sH} + ry - ${pT};
    let ix${j} = qx${j} * ${sW} + rx - ${pL};
    result[((b${j} * ${H} + iy${j}) * ${W} + ix${j}) * ${Ci4} + c4] = acc${j};
  }`
  ).join("\n  ");
  return {
    variableNames: ["dy", "W"],
    variableComponents: [1, n],
    outputComponent: n,
    outputShape: [B, H, W, Ci],
    shaderKey: `cpu1_dx_${convKey(c)}_${tm}_${n}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [Math.ceil(Ci4 / WORKGROUP), Math.ceil(maxPixels / tm), sH * sW],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  let c4 = i32(globalId.x);
  let mBase = i32(workgroupId.y) * ${tm};
  let ry = i32(workgroupId.z) / ${sW};
  let rx = i32(workgroupId.z) % ${sW};
  // this phase's pixels: iy = qy·s + ry − pad for qy in [qyStart, qyStart + nqy), likewise ix
  let qyStart = (${pT} - ry + ${sH - 1}) / ${sH};
  let qxStart = (${pL} - rx + ${sW - 1}) / ${sW};
  let hy = ${H - 1 + pT} - ry;
  let hx = ${W - 1 + pL} - rx;
  let nqy = select(0, hy / ${sH} - qyStart + 1, hy >= 0);
  let nqx = select(0, hx / ${sW} - qxStart + 1, hx >= 0);
  let count = ${B} * nqy * nqx;
  if (c4 >= ${Ci4} || mBase >= count) { return; }
  ${setup}
  for (var wR = ry; wR < ${KH}; wR += ${sH}) {
    let ty = (wR - ry) / ${sH};
    for (var wC = rx; wC < ${KW}; wC += ${sW}) {
      let tx = (wC - rx) / ${sW};
      ${taps}
      let wb = (wR * ${KW} + wC) * ${Co * Ci4} + c4;
      for (var co = 0; co < ${Co}; co++) {
        let w = W[wb + co * ${Ci4}];
        ${fma}
      }
    }
  }
  ${store}
}`,
  };
}

/** The filter [KH, KW, Ci, Co] with its channel axes swapped: [KH, KW, Co, Ci]. One invocation per element. */
function transposeFilterProgram(filterShape: readonly number[]): Program {
  const [KH, KW, Ci, Co] = filterShape;
  const size = KH * KW * Ci * Co;
  return {
    variableNames: ["W"],
    variableComponents: [1],
    outputComponent: 1,
    outputShape: [KH, KW, Co, Ci],
    shaderKey: `cpu1_wt_${filterShape.join("_")}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [64, 1, 1],
    dispatch: [Math.ceil(size / 64), 1, 1],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  let i = i32(globalId.x);
  if (i >= ${size}) { return; }
  let ci = i % ${Ci};
  let co = (i / ${Ci}) % ${Co};
  let tap = i / ${Ci * Co};
  result[i] = W[(tap * ${Ci} + ci) * ${Co} + co];
}`,
  };
}

/**
 * The `cpu-v1` set's kernel function for `name`, falling back to `stock` for cases it does not handle.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const stock = tf.getKernel("Conv2D", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: cpuV1Kernel("Conv2D", stock.kernelFunc) });
 * ```
 */
export function cpuV1Kernel(name: ConvKernelName, stock: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as unknown as WebGPUBackendLike;
    const attrs = args.attrs as Attrs;
    const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (name === "Conv2DBackpropFilter") {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const c = convInfoOf(x.shape, attrs.filterShape as number[], attrs);
      if (plainNHWC(c) && c.outChannels % 4 === 0 && x.dtype === "float32") {
        return backend.runWebGPUProgram(filterGradProgram(c), [x, dy], "float32");
      }
    } else if (name === "Conv2DBackpropInput") {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const c = convInfoOf(attrs.inputShape as number[], filter.shape, attrs);
      if (plainNHWC(c) && dy.dtype === "float32") {
        const swapped = backend.runWebGPUProgram(transposeFilterProgram(filter.shape), [filter], "float32");
        const dx = backend.runWebGPUProgram(inputGradProgram(c), [dy, swapped], "float32");
        backend.disposeData(swapped.dataId);
        return dx;
      }
    } else {
      const { x, filter, bias, preluActivationWeights } = inputs;
      const activation = (attrs.activation ?? "linear") as string;
      const c = convInfoOf(x!.shape, filter!.shape, attrs);
      const biasOk = bias == null || (bias.shape.length === 1 && bias.shape[0] === c.outChannels);
      if (
        plainNHWC(c) && c.outChannels % 4 === 0 && x!.dtype === "float32" && biasOk &&
        preluActivationWeights == null && (activation === "linear" || activation === "relu")
      ) {
        const program = convForwardProgram(c, bias != null, activation === "relu");
        return backend.runWebGPUProgram(program, bias ? [x!, filter!, bias] : [x!, filter!], "float32");
      }
    }
    return stock(args) as tf.TensorInfo;
  };
}
