/**
 * The `cpu-prev` set's convolutions: the `cpu` set's implicit GEMMs (cpu/conv.ts, the same sums in the same
 * order, so the same bits) with every size written into the shader and register tiles of up to 32 rows × 32
 * channels. Each layer shape, batch size and pass is its own pipeline, and a 32 × 32 tile takes seconds to
 * compile on llvmpipe; steady steps are about as fast as the `cpu` set's. Selectable (`--kernels cpu-prev`)
 * so that bench/throughput_bench.ts can compare compile time and step time of both in one run.
 *
 * Each invocation owns `tm` rows of the implicit GEMM × `4·v` channels, in workgroups of 8 lanes, with no
 * workgroup memory and no barrier; the tile shrinks only where a layer would otherwise have too few
 * invocations to keep every core busy ({@linkcode chooseTile}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { convKernel } from "../program.ts";
 * import { prevConv } from "./conv.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu")!;
 * const kernelFunc = convKernel(prevConv, { name: "Conv2DBackpropFilter", stock: stock.kernelFunc });
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import { type ConvCall, type ConvInfo, convKey, type ConvPrograms, type Program, range } from "../program.ts";

/** Lanes per workgroup: one SIMD chunk of llvmpipe's 8 AVX2 lanes (the roofline's best). */
const WORKGROUP = 8;
/** The largest tile: rows × vec4 columns per invocation. */
const MAX_ROWS = 32;
const MAX_VEC4S = 8;
/** Fewest invocations a dispatch should have: two workgroups per core on a 2-core machine, and more. */
const MIN_INVOCATIONS = 64;

/** One invocation's register tile: `rows` rows of the implicit GEMM × `vec4s` groups of four channels. */
export interface Tile {
  rows: number;
  vec4s: number;
}

/**
 * The largest tile (by rows × columns) whose grid has at least {@linkcode MIN_INVOCATIONS} invocations,
 * or the one with the most invocations when none has. `rowOptions` are the row counts allowed (they must
 * divide the rows where the kernel cannot clamp); `vec4s` must divide `cols4`.
 *
 * @example
 * ```ts
 * chooseTile(4096, 16, { rowOptions: [32, 16, 8, 4] }); // { rows: 32, vec4s: 8 }
 * chooseTile(64, 128, { rowOptions: [32, 16, 8, 4] });  // { rows: 32, vec4s: 4 }: 64 invocations
 * ```
 */
export function chooseTile(rows: number, cols4: number, options: { rowOptions: number[] }): Tile {
  const candidates: (Tile & { invocations: number })[] = [];
  for (const r of options.rowOptions) {
    for (const v of [8, 4, 2, 1]) {
      if (v > MAX_VEC4S || r > MAX_ROWS || cols4 % v) continue;
      candidates.push({ rows: r, vec4s: v, invocations: Math.ceil(rows / r) * (cols4 / v) });
    }
  }
  const enough = candidates.filter((c) => c.invocations >= MIN_INVOCATIONS);
  const pick = enough.length
    ? enough.reduce((a, b) => (b.rows * b.vec4s > a.rows * a.vec4s ? b : a))
    : candidates.reduce((a, b) => (b.invocations > a.invocations ? b : a));
  return { rows: pick.rows, vec4s: pick.vec4s };
}

/** Row counts ≤ {@linkcode MAX_ROWS} that divide `n` (n itself when small), largest first. */
function dividingRows(n: number): number[] {
  if (n <= MAX_ROWS) return [n];
  return [32, 16, 8, 4, 2, 1].filter((r) => n % r === 0);
}

/** Rows a kernel may clamp (pixels): any count up to {@linkcode MAX_ROWS}. */
function clampedRows(n: number): number[] {
  return [32, 16, 8, 4].map((r) => Math.min(r, n)).filter((r, i, a) => a.indexOf(r) === i);
}

/** The accumulators of a tile: `acc{row}_{vec4}`. */
const accumulators = (t: Tile, type: string) =>
  range(t.rows).flatMap((j) => range(t.vec4s).map((v) => `var acc${j}_${v} = ${type}(0.0);`)).join("\n  ");

/** One k step of the tile: `a{row}` (a scalar) times `b{vec4}` into every accumulator. */
const tileFma = (t: Tile, type: string) =>
  range(t.rows).map((j) =>
    range(t.vec4s).map((v) => `acc${j}_${v} = fma(${type}(a${j}), b${v}, acc${j}_${v});`).join(" ")
  )
    .join("\n        ");

/**
 * The grid of `cols` column groups × `rowBlocks` row blocks as one flat invocation index, columns varying
 * fastest, so that no lane idles whatever the channel count. (A 2-D grid with the row block taken from
 * `workgroupId`, lane-uniform, was no faster in the roofline's GEMMs, and slower on some conv shapes.)
 */
function grid(cols: number, rowBlocks: number): { code: string; dispatch: [number, number] } {
  const invocations = cols * rowBlocks;
  return {
    code: `let gid = i32(globalId.x);
  if (gid >= ${invocations}) { return; }
  let cg = gid % ${cols};
  let rb = gid / ${cols};`,
    dispatch: [Math.ceil(invocations / WORKGROUP), 1],
  };
}

/**
 * Filter gradient: dW[wR, wC, ci, co] = Σ_{b, oy, ox} x[b, oy·s − pad + wR, ox·s − pad + wC, ci] ·
 * dy[b, oy, ox, co]. Invocation: `4·v` output channels × `tm` consecutive input channels at one tap.
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
  const KH = c.filterHeight, KW = c.filterWidth, Co4 = Co / 4;
  const K = KH * KW * Ci;
  const t = chooseTile(K, Co4, { rowOptions: dividingRows(Ci) });
  const g = grid(Co4 / t.vec4s, K / t.rows);
  const loads = range(t.rows).map((j) => `let a${j} = x[xb + ${j}] * f;`).join(" ");
  const dyLoads = range(t.vec4s).map((v) => `let b${v} = dy[db + ${v}];`).join(" ");
  const store = range(t.rows).flatMap((j) =>
    range(t.vec4s).map((v) => `result[(kBase + ${j}) * ${Co4} + co4 + ${v}] = acc${j}_${v};`)
  ).join("\n  ");
  return {
    variableNames: ["x", "dy"],
    variableComponents: [1, 4],
    outputComponent: 4,
    outputShape: [KH, KW, Ci, Co],
    shaderKey: `cpu2_dw_${convKey(c)}_${t.rows}_${t.vec4s}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [...g.dispatch, 1],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  ${g.code}
  let co4 = cg * ${t.vec4s};
  let kBase = rb * ${t.rows};
  let ci0 = kBase % ${Ci};
  let wC = (kBase / ${Ci}) % ${KW};
  let wR = kBase / ${Ci * KW};
  ${accumulators(t, "vec4<f32>")}
  // one flat loop over the output pixels, out-of-range taps masked rather than skipped: nested loops with
  // a divergent \`continue\` made llvmpipe's compile of a large tile take seconds per shader
  for (var m = 0; m < ${B * OH * OW}; m++) {
    let iy = ((m / ${OW}) % ${OH}) * ${c.strideHeight} - ${c.padInfo.top} + wR;
    let ix = (m % ${OW}) * ${c.strideWidth} - ${c.padInfo.left} + wC;
    let ok = iy >= 0 && iy < ${H} && ix >= 0 && ix < ${W};
    let xb = select(0, ((m / ${OH * OW}) * ${H * W} + iy * ${W} + ix) * ${Ci}, ok) + ci0;
    let f = select(0.0, 1.0, ok);
    let db = m * ${Co4} + co4;
    ${dyLoads}
    ${loads}
    ${tileFma(t, "vec4<f32>")}
  }
  ${store}
}`,
  };
}

/**
 * Forward convolution: y[b, oy, ox, co] = act(Σ_{wR, wC, ci} x[b, oy·s − pad + wR, ox·s − pad + wC, ci] ·
 * W[wR, wC, ci, co] + bias[co]). Invocation: `4·v` output channels × `tm` output pixels.
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
  const KH = c.filterHeight, KW = c.filterWidth, Co4 = Co / 4, M = B * OH * OW;
  const t = chooseTile(M, Co4, { rowOptions: clampedRows(M) });
  const g = grid(Co4 / t.vec4s, Math.ceil(M / t.rows));
  const setup = range(t.rows).map((j) =>
    `let m${j} = min(mBase + ${j}, ${M - 1});
  let iy${j} = ((m${j} / ${OW}) % ${OH}) * ${c.strideHeight} - ${c.padInfo.top};
  let ix${j} = (m${j} % ${OW}) * ${c.strideWidth} - ${c.padInfo.left};
  let xb${j} = (m${j} / ${OH * OW}) * ${H * W * Ci};`
  ).join("\n  ");
  const taps = range(t.rows).map((j) =>
    `let y${j} = iy${j} + wR; let x${j} = ix${j} + wC;
      let ok${j} = y${j} >= 0 && y${j} < ${H} && x${j} >= 0 && x${j} < ${W};
      let o${j} = select(0, xb${j} + (y${j} * ${W} + x${j}) * ${Ci}, ok${j});
      let f${j} = select(0.0, 1.0, ok${j});`
  ).join("\n      ");
  const loads = range(t.rows).map((j) => `let a${j} = x[o${j} + ci] * f${j};`).join(" ");
  const wLoads = range(t.vec4s).map((v) => `let b${v} = W[wb + ci * ${Co4} + ${v}];`).join(" ");
  const store = range(t.rows).map((j) =>
    `if (mBase + ${j} < ${M}) {
    ${
      range(t.vec4s).map((v) => {
        let value = `acc${j}_${v}`;
        if (hasBias) value = `(${value} + bias[co4 + ${v}])`;
        if (relu) value = `max(${value}, vec4<f32>(0.0))`;
        return `result[(mBase + ${j}) * ${Co4} + co4 + ${v}] = ${value};`;
      }).join("\n    ")
    }
  }`
  ).join("\n  ");
  return {
    variableNames: hasBias ? ["x", "W", "bias"] : ["x", "W"],
    variableComponents: hasBias ? [1, 4, 4] : [1, 4],
    outputComponent: 4,
    outputShape: [B, OH, OW, Co],
    shaderKey: `cpu2_conv_${convKey(c)}_${t.rows}_${t.vec4s}_${hasBias}_${relu}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [...g.dispatch, 1],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  ${g.code}
  let co4 = cg * ${t.vec4s};
  let mBase = rb * ${t.rows};
  ${setup}
  ${accumulators(t, "vec4<f32>")}
  for (var wR = 0; wR < ${KH}; wR++) {
    for (var wC = 0; wC < ${KW}; wC++) {
      ${taps}
      let wb = (wR * ${KW} + wC) * ${Ci * Co4} + co4;
      for (var ci = 0; ci < ${Ci}; ci++) {
        ${wLoads}
        ${loads}
        ${tileFma(t, "vec4<f32>")}
      }
    }
  }
  ${store}
}`,
  };
}

/**
 * Input gradient: dx[b, iy, ix, ci] = Σ_{wR, wC, co} dy[b, oy, ox, co] · W[wR, wC, ci, co] over the taps with
 * oy·s − pad + wR = iy and ox·s − pad + wC = ix. Invocation: `4·v` input channels (one when they do not
 * divide by 4: the stem's 3) × `tm` input pixels of one stride phase ((iy + pad) mod s, (ix + pad) mod s;
 * one phase per `workgroupId.z`), so that a block visits only the taps that reach it. `W` is the filter with
 * its channel axes swapped, [KH, KW, Co, Ci] (see {@linkcode transposeFilterProgram}).
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
  const n = Ci % 4 === 0 ? 4 : 1, Ci4 = Ci / n, vt = n === 4 ? "vec4<f32>" : "f32";
  // pixels of the largest phase: an upper bound for every phase's count
  const maxPixels = B * Math.ceil(H / sH) * Math.ceil(W / sW);
  // channels not in fours (the stem's 3): one invocation owns every channel as a scalar each, so that each
  // dy load feeds Ci multiply-adds rather than one (the stem's input gradient ran at 0.4 GFLOP/s with one)
  const t = n === 4
    ? chooseTile(maxPixels * sH * sW, Ci4, { rowOptions: clampedRows(maxPixels) })
    : { rows: Math.min(MAX_ROWS, maxPixels), vec4s: Ci };
  const g = grid(Ci4 / t.vec4s, Math.ceil(maxPixels / t.rows));
  const setup = range(t.rows).map((j) =>
    `let m${j} = min(mBase + ${j}, count - 1);
  let qx${j} = m${j} % nqx + qxStart;
  let qy${j} = (m${j} / nqx) % nqy + qyStart;
  let db${j} = (m${j} / (nqx * nqy)) * ${OH * OW * Co};`
  ).join("\n  ");
  const taps = range(t.rows).map((j) =>
    `let oy${j} = qy${j} - ty; let ox${j} = qx${j} - tx;
      let ok${j} = oy${j} >= 0 && oy${j} < ${OH} && ox${j} >= 0 && ox${j} < ${OW};
      let o${j} = select(0, db${j} + (oy${j} * ${OW} + ox${j}) * ${Co}, ok${j});
      let f${j} = select(0.0, 1.0, ok${j});`
  ).join("\n      ");
  const loads = range(t.rows).map((j) => `let a${j} = dy[o${j} + co] * f${j};`).join(" ");
  const wLoads = range(t.vec4s).map((v) => `let b${v} = W[wb + co * ${Ci4} + ${v}];`).join(" ");
  const store = range(t.rows).map((j) =>
    `if (mBase + ${j} < count) {
    let b${j} = m${j} / (nqx * nqy);
    let iy${j} = qy${j} * ${sH} + ry - ${pT};
    let ix${j} = qx${j} * ${sW} + rx - ${pL};
    let r${j} = ((b${j} * ${H} + iy${j}) * ${W} + ix${j}) * ${Ci4} + c4;
    ${range(t.vec4s).map((v) => `result[r${j} + ${v}] = acc${j}_${v};`).join(" ")}
  }`
  ).join("\n  ");
  return {
    variableNames: ["dy", "W"],
    variableComponents: [1, n],
    outputComponent: n,
    outputShape: [B, H, W, Ci],
    shaderKey: `cpu2_dx_${convKey(c)}_${t.rows}_${t.vec4s}_${n}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: [...g.dispatch, sH * sW],
    getUserCode: () => `
fn main() {
  _ = uniforms.outShape;
  ${g.code}
  let c4 = cg * ${t.vec4s};
  let mBase = rb * ${t.rows};
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
  if (mBase >= count) { return; }
  ${setup}
  ${accumulators(t, vt)}
  for (var wR = ry; wR < ${KH}; wR += ${sH}) {
    let ty = (wR - ry) / ${sH};
    for (var wC = rx; wC < ${KW}; wC += ${sW}) {
      let tx = (wC - rx) / ${sW};
      ${taps}
      let wb = (wR * ${KW} + wC) * ${Co * Ci4} + c4;
      for (var co = 0; co < ${Co}; co++) {
        ${wLoads}
        ${loads}
        ${tileFma(t, vt)}
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
    shaderKey: `cpu2_wt_${filterShape.join("_")}`,
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
 * The `cpu-prev` set's conv programs, for {@linkcode convKernel}: output channels in fours (and any input
 * channels for the input gradient); the stock kernel runs otherwise.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { convKernel } from "../program.ts";
 * const stock = tf.getKernel("Conv2D", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: convKernel(prevConv, { name: "Conv2D", stock: stock.kernelFunc }) });
 * ```
 */
export const prevConv: ConvPrograms = {
  forward(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    if (c.outChannels % 4) return null;
    const { backend, x, filter, bias } = call;
    const program = convForwardProgram(c, bias != null, call.relu ?? false);
    return backend.runWebGPUProgram(program, bias ? [x!, filter!, bias] : [x!, filter!], "float32");
  },
  filterGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    if (c.outChannels % 4) return null;
    return call.backend.runWebGPUProgram(filterGradProgram(c), [call.x!, call.dy!], "float32");
  },
  inputGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    const { backend, dy, filter } = call;
    const swapped = backend.runWebGPUProgram(transposeFilterProgram(filter!.shape), [filter!], "float32");
    const dx = backend.runWebGPUProgram(inputGradProgram(c), [dy!, swapped], "float32");
    backend.disposeData(swapped.dataId);
    return dx;
  },
};
