/**
 * The `cpu` set's convolutions: register-tiled implicit GEMMs for software adapters (Mesa llvmpipe and
 * lavapipe), shape-generic: every size, stride and pad reaches the shader as a uniform, so one compiled
 * pipeline serves every layer, batch size and partial batch of its kind. A pipeline's key holds only what
 * changes the generated code: the tile (rows × vec4 columns) and, for the forward, bias and relu.
 *
 * On llvmpipe an invocation is one of 8 SIMD lanes and a load costs far more than a multiply-add, so speed
 * follows the register tile an invocation owns (the FMAs each load feeds); compile time follows it too, and
 * much faster (bench/roofline_bench.ts measures both). Here an invocation owns `rows` rows of the implicit
 * GEMM × `4·vec4s` channels, 8 × 32 at most (16 × 32 on the last stage's tiny images; see
 * {@linkcode convTiles}): on a 512³ GEMM that tile runs at least as fast as a 32 × 32 tile at about an
 * eighth of its compile time, and in a ResNet50 step it beats 16-row tiles, whose extra row loads are
 * gathers with a bounds check each (docs/performance.md). Workgroups have 8 lanes, no workgroup memory and
 * no barrier. The tile depends on channel counts and image sizes, never on the batch, so a new batch size
 * compiles nothing new.
 *
 * The sums run in the same order as the `cpu-prev` kernels' (one accumulator per output, the reduction in
 * ascending order; taps that fall in the padding, which only ever added zeros, are skipped: by the filter
 * gradient's loop bounds, and by the forward and the input gradient where they miss every row of a tile), so
 * both sets give the same bits.
 *
 * - `Conv2DBackpropFilter`: dW[k, co] = Σ_m im2col(x)[m, k] · dy[m, co]; rows: `rows` consecutive input
 *   channels at one tap; the reduction walks batch, output row and column in three loops whose bounds skip
 *   the padding, with no division inside.
 * - `FusedConv2D` and `Conv2D` (bias and `relu`/`linear`): y[m, co] = Σ_k im2col(x)[m, k] · W[k, co]; rows:
 *   output pixels.
 * - `Conv2DBackpropInput`: dx[m, ci] = Σ dy · W over the taps that reach pixel m; rows: input pixels of one
 *   stride phase (one phase per `workgroupId.z`); a first small dispatch swaps the filter's channel axes so
 *   that input channels are consecutive. Channels not in fours (the stem's 3) are owned whole by an
 *   invocation, one scalar each.
 *
 * The forward and the filter gradient need output channels in fours; anything else goes to the stock kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { convKernel } from "../program.ts";
 * import { cpuConv } from "./conv.ts";
 * await tf.setBackend("webgpu");
 * const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu")!;
 * const kernelFunc = convKernel(cpuConv, { name: "Conv2DBackpropFilter", stock: stock.kernelFunc });
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
  CPU_WORKGROUP,
  flatGrid,
  largestDivisor,
  type Program,
  range,
  runProgram,
} from "../program.ts";

/** Rows of a tile. */
const ROWS = 8;
/** Rows of a forward or input-gradient tile on small images (see {@linkcode convTiles}). */
const SMALL_IMAGE_ROWS = 16;
/** Pixels per image (per stride phase for the input gradient) up to which an image counts as small. */
const SMALL_IMAGE = 4;

/** One invocation's register tile: `rows` rows of the implicit GEMM × `vec4s` groups of four channels. */
export interface Tile {
  rows: number;
  vec4s: number;
}

/**
 * The tile of each conv kind for a conv's shape: 8 rows × the most vec4 columns, up to 8, that divide the
 * channels in fours. The filter gradient's rows are input channels at one tap, so they must divide the
 * channel count there (8, 4, 2 or 1, or all of them below 8). On small images (at most 4 pixels, per
 * stride phase for the input gradient: ResNet's last stage) the forward and the input gradient take 16 rows:
 * their GEMMs have few rows and long reductions there, and each row block reads the whole filter once, so
 * fewer, taller blocks read it fewer times. Nothing here depends on the batch size.
 *
 * @example
 * ```ts
 * const stem = { inChannels: 3, outChannels: 64, outHeight: 16, outWidth: 16, inHeight: 32, inWidth: 32,
 *   strideHeight: 2, strideWidth: 2 };
 * convTiles(stem).filterGrad; // { rows: 3, vec4s: 8 }
 * convTiles({ ...stem, inChannels: 512, outChannels: 16, outHeight: 1, outWidth: 1 }).forward; // { rows: 16, vec4s: 4 }
 * ```
 */
export function convTiles(
  c: Pick<
    ConvInfo,
    | "inChannels"
    | "outChannels"
    | "outHeight"
    | "outWidth"
    | "inHeight"
    | "inWidth"
    | "strideHeight"
    | "strideWidth"
  >,
): { forward: Tile; filterGrad: Tile; inputGrad: Tile } {
  const co4 = c.outChannels / 4, ci = c.inChannels;
  const phasePixels = Math.ceil(c.inHeight / c.strideHeight) * Math.ceil(c.inWidth / c.strideWidth);
  return {
    forward: {
      rows: c.outHeight * c.outWidth <= SMALL_IMAGE ? SMALL_IMAGE_ROWS : ROWS,
      vec4s: largestDivisor(co4),
    },
    filterGrad: { rows: ci < ROWS ? ci : largestDivisor(ci), vec4s: largestDivisor(co4) },
    inputGrad: {
      rows: phasePixels <= SMALL_IMAGE ? SMALL_IMAGE_ROWS : ROWS,
      vec4s: ci % 4 === 0 ? largestDivisor(ci / 4) : ci,
    },
  };
}

/** The accumulators of a tile: `acc{row}_{col}`. */
const accumulators = (t: Tile, type: string) =>
  range(t.rows).flatMap((j) => range(t.vec4s).map((v) => `var acc${j}_${v} = ${type}(0.0);`)).join("\n  ");

/** One reduction step of the tile: `a{row}` (a scalar) times `b{col}` into every accumulator. */
const tileFma = (t: Tile, type: string) =>
  range(t.rows).map((j) =>
    range(t.vec4s).map((v) => `acc${j}_${v} = fma(${type}(a${j}), b${v}, acc${j}_${v});`).join(" ")
  ).join("\n        ");

/** WGSL: step the pixel (`b`, `y`, `x`) to the next one in row-major order over `height` × `width`. */
function stepPixel(x: string, y: string, b: string, size: { width: string; height: string }): string {
  return `${x} += 1; if (${x} == ${size.width}) { ${x} = 0; ${y} += 1; if (${y} == ${size.height}) { ${y} = 0; ${b} += 1; } }`;
}

/**
 * WGSL: each row's pixel at the current tap (`y{row}`, `x{row}` from `y` and `x`), whether it lies inside a
 * `size` image and its row is in range (`ok{row}`), its element offset (`o{row}`, 0 outside) and a factor that
 * zeroes its load outside (`f{row}`).
 */
function tapRows(
  t: Tile,
  at: {
    y: (j: number) => string;
    x: (j: number) => string;
    size: [string, string];
    offset: (j: number) => string;
  },
): string {
  const [height, width] = at.size;
  return range(t.rows).map((j) =>
    `let y${j} = ${at.y(j)}; let x${j} = ${at.x(j)};
      let ok${j} = in${j} && y${j} >= 0 && y${j} < ${height} && x${j} >= 0 && x${j} < ${width};
      let o${j} = select(0, ${at.offset(j)}, ok${j});
      let f${j} = select(0.0, 1.0, ok${j});`
  ).join("\n      ");
}

/** WGSL: each row's operand at reduction index `k` of `buffer` (`a{row}`), zero outside the image. */
const rowLoads = (t: Tile, buffer: string, k: string) =>
  range(t.rows).map((j) => `let a${j} = ${buffer}[o${j} + ${k}] * f${j};`).join(" ");

/**
 * WGSL: this invocation's block of the output, lanes over channel blocks first: its first vec4 of output
 * channels (`co4`) and its first row (`first`), of `blocks.rows` row blocks; invocations past the end return.
 */
function channelBlock(t: Tile, g: { code: string }, blocks: { rows: string; first: string }): string {
  return `let outC4 = outC / 4;
  let cols = outC4 / ${t.vec4s};
  ${g.code}
  if (gid >= cols * (${blocks.rows})) { return; }
  let co4 = (gid % cols) * ${t.vec4s};
  let ${blocks.first} = (gid / cols) * ${t.rows};`;
}

/** Whether any row of the tile has its tap inside the image (`ok{row}`). */
const anyRow = (t: Tile) => range(t.rows).map((j) => `ok${j}`).join(" || ");

/** The fields every program of this file shares. */
function program(
  name: string,
  t: Tile,
  options: Pick<Program, "variableNames" | "variableComponents" | "outputComponent" | "getUserCode">,
): Omit<Program, "outputShape" | "dispatch"> {
  return {
    ...options,
    uniforms: CONV_UNIFORMS,
    shaderKey: `cpu3_${name}_${t.rows}x${t.vec4s}`,
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [CPU_WORKGROUP, 1, 1],
  };
}

/** Filter gradient; invocation: `4·vec4s` output channels × `rows` consecutive input channels at one tap. */
function filterGradProgram(c: ConvInfo, t: Tile): Program {
  const K = c.filterHeight * c.filterWidth * c.inChannels, cols = c.outChannels / 4 / t.vec4s;
  const g = flatGrid(cols * (K / t.rows));
  const dyLoads = range(t.vec4s).map((v) => `let b${v} = dy[db + ${v}];`).join(" ");
  const xLoads = range(t.rows).map((j) => `let a${j} = x[xb + ${j}];`).join(" ");
  const store = range(t.rows).flatMap((j) =>
    range(t.vec4s).map((v) => `result[(kBase + ${j}) * outC4 + co4 + ${v}] = acc${j}_${v};`)
  ).join("\n  ");
  return {
    ...program("dw", t, {
      variableNames: ["x", "dy"],
      variableComponents: [1, 4],
      outputComponent: 4,
      getUserCode: () => `
fn main() {
  ${CONV_GEOMETRY}
  ${channelBlock(t, g, { rows: `kH * kW * inC / ${t.rows}`, first: "kBase" })}
  let ci0 = kBase % inC;
  let wC = (kBase / inC) % kW;
  let wR = kBase / (inC * kW);
  // the output rows and columns whose tap lands inside the input: iy = oy·sH − padT + wR in [0, inH)
  let ty = padT - wR;
  let tx = padL - wC;
  let oyLo = select(0, (ty + sH - 1) / sH, ty > 0);
  let oxLo = select(0, (tx + sW - 1) / sW, tx > 0);
  let oyHi = select(0, min(outH, (inH - 1 + ty) / sH + 1), inH - 1 + ty >= 0);
  let oxHi = select(0, min(outW, (inW - 1 + tx) / sW + 1), inW - 1 + tx >= 0);
  let xStep = sW * inC;
  ${accumulators(t, "vec4<f32>")}
  for (var b = 0; b < batch; b++) {
    for (var oy = oyLo; oy < oyHi; oy++) {
      var xb = ((b * inH + oy * sH - ty) * inW + oxLo * sW - tx) * inC + ci0;
      var db = ((b * outH + oy) * outW + oxLo) * outC4 + co4;
      for (var ox = oxLo; ox < oxHi; ox++) {
        ${dyLoads}
        ${xLoads}
        ${tileFma(t, "vec4<f32>")}
        xb += xStep;
        db += outC4;
      }
    }
  }
  ${store}
}`,
    }),
    outputShape: [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels],
    dispatch: g.dispatch,
  };
}

/** Forward convolution; invocation: `4·vec4s` output channels × `rows` output pixels. */
function forwardProgram(c: ConvInfo, t: Tile, options: { bias: boolean; relu: boolean }): Program {
  const M = c.batchSize * c.outHeight * c.outWidth, cols = c.outChannels / 4 / t.vec4s;
  const g = flatGrid(cols * Math.ceil(M / t.rows));
  // the first row's pixel (b, oy, ox) by division, then each next row's by a step: a division by a uniform
  // runs lane by lane on llvmpipe
  const setup = range(t.rows).map((j) =>
    `let in${j} = mBase + ${j} < rowsM;
  let iy${j} = oy * sH - padT; let ix${j} = ox * sW - padL; let xb${j} = b * inH;
  ${stepPixel("ox", "oy", "b", { width: "outW", height: "outH" })}`
  ).join("\n  ");
  const taps = tapRows(t, {
    y: (j) => `iy${j} + wR`,
    x: (j) => `ix${j} + wC`,
    size: ["inH", "inW"],
    offset: (j) => `((xb${j} + y${j}) * inW + x${j}) * inC`,
  });
  const loads = rowLoads(t, "x", "ci");
  const wLoads = range(t.vec4s).map((v) => `let b${v} = W[wb + ci * outC4 + ${v}];`).join(" ");
  const store = range(t.rows).map((j) =>
    `if (mBase + ${j} < rowsM) {
    ${
      range(t.vec4s).map((v) => {
        let value = `acc${j}_${v}`;
        if (options.bias) value = `(${value} + bias[co4 + ${v}])`;
        if (options.relu) value = `max(${value}, vec4<f32>(0.0))`;
        return `result[(mBase + ${j}) * outC4 + co4 + ${v}] = ${value};`;
      }).join("\n    ")
    }
  }`
  ).join("\n  ");
  return {
    ...program(`conv_${options.bias ? "bias" : "nobias"}_${options.relu ? "relu" : "linear"}`, t, {
      variableNames: options.bias ? ["x", "W", "bias"] : ["x", "W"],
      variableComponents: options.bias ? [1, 4, 4] : [1, 4],
      outputComponent: 4,
      getUserCode: () => `
fn main() {
  ${CONV_GEOMETRY}
  ${channelBlock(t, g, { rows: `(rowsM + ${t.rows - 1}) / ${t.rows}`, first: "mBase" })}
  var ox = mBase % outW;
  var oy = (mBase / outW) % outH;
  var b = mBase / (outW * outH);
  ${setup}
  ${accumulators(t, "vec4<f32>")}
  for (var wR = 0; wR < kH; wR++) {
    for (var wC = 0; wC < kW; wC++) {
      ${taps}
      // a tap in the padding for every row of the tile adds only zeros: skip it (small images at 3×3)
      if (${anyRow(t)}) {
        let wb = (wR * kW + wC) * inC * outC4 + co4;
        for (var ci = 0; ci < inC; ci++) {
          ${wLoads}
          ${loads}
          ${tileFma(t, "vec4<f32>")}
        }
      }
    }
  }
  ${store}
}`,
    }),
    outputShape: [c.batchSize, c.outHeight, c.outWidth, c.outChannels],
    dispatch: g.dispatch,
  };
}

/**
 * Input gradient; invocation: `4·vec4s` input channels (or all of them as scalars when they do not divide
 * by 4) × `rows` input pixels of one stride phase ((iy + pad) mod s, (ix + pad) mod s; one per
 * `workgroupId.z`), so that a row block visits only the taps that reach it. `W` is the filter with its
 * channel axes swapped, [KH, KW, Co, Ci].
 */
function inputGradProgram(c: ConvInfo, t: Tile): Program {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, strideHeight: sH, strideWidth: sW } = c;
  const n = Ci % 4 === 0 ? 4 : 1, cols = Ci / n / t.vec4s, vt = n === 4 ? "vec4<f32>" : "f32";
  // pixels of the largest phase: an upper bound for every phase's count
  const maxPixels = B * Math.ceil(H / sH) * Math.ceil(W / sW);
  const g = flatGrid(cols * Math.ceil(maxPixels / t.rows), { layers: sH * sW });
  const setup = range(t.rows).map((j) =>
    `let in${j} = mBase + ${j} < count;
  let qx${j} = cx + qxStart; let qy${j} = cy + qyStart; let b${j} = cb; let db${j} = cb * outH;
  ${stepPixel("cx", "cy", "cb", { width: "nqx", height: "nqy" })}`
  ).join("\n  ");
  const taps = tapRows(t, {
    y: (j) => `qy${j} - ty`,
    x: (j) => `qx${j} - tx`,
    size: ["outH", "outW"],
    offset: (j) => `((db${j} + y${j}) * outW + x${j}) * outC`,
  });
  const loads = rowLoads(t, "dy", "co");
  const wLoads = range(t.vec4s).map((v) => `let b${v} = W[wb + co * inCn + ${v}];`).join(" ");
  const store = range(t.rows).map((j) =>
    `if (mBase + ${j} < count) {
    let r${j} = ((b${j} * inH + qy${j} * sH + ry - padT) * inW + qx${j} * sW + rx - padL) * inCn + c0;
    ${range(t.vec4s).map((v) => `result[r${j} + ${v}] = acc${j}_${v};`).join(" ")}
  }`
  ).join("\n  ");
  return {
    ...program(`dx${n}`, t, {
      variableNames: ["dy", "W"],
      variableComponents: [1, n],
      outputComponent: n,
      getUserCode: () => `
fn main() {
  ${CONV_GEOMETRY}
  let inCn = inC / ${n};
  let cols = inCn / ${t.vec4s};
  ${g.code}
  let c0 = (gid % cols) * ${t.vec4s};
  let mBase = (gid / cols) * ${t.rows};
  let ry = i32(workgroupId.z) / sW;
  let rx = i32(workgroupId.z) % sW;
  // this phase's pixels: iy = qy·sH + ry − padT for qy in [qyStart, qyStart + nqy), likewise ix
  let qyStart = (padT - ry + sH - 1) / sH;
  let qxStart = (padL - rx + sW - 1) / sW;
  let hy = inH - 1 + padT - ry;
  let hx = inW - 1 + padL - rx;
  let nqy = select(0, hy / sH - qyStart + 1, hy >= 0);
  let nqx = select(0, hx / sW - qxStart + 1, hx >= 0);
  let count = batch * nqy * nqx;
  if (mBase >= count) { return; }
  var cx = mBase % nqx;
  var cy = (mBase / nqx) % nqy;
  var cb = mBase / (nqx * nqy);
  ${setup}
  ${accumulators(t, vt)}
  for (var wR = ry; wR < kH; wR += sH) {
    let ty = (wR - ry) / sH;
    for (var wC = rx; wC < kW; wC += sW) {
      let tx = (wC - rx) / sW;
      ${taps}
      if (${anyRow(t)}) {
        let wb = (wR * kW + wC) * outC * inCn + c0;
        for (var co = 0; co < outC; co++) {
          ${wLoads}
          ${loads}
          ${tileFma(t, vt)}
        }
      }
    }
  }
  ${store}
}`,
    }),
    outputShape: [B, H, W, Ci],
    dispatch: g.dispatch,
  };
}

/**
 * The filter [KH, KW, Ci, Co] with its channel axes swapped: [KH, KW, Co, Ci]. An invocation owns one output
 * channel at one tap (lanes over output channels, the tap from the workgroup) and copies its input channels
 * in a loop: no integer division, which llvmpipe runs lane by lane when the divisor is a uniform.
 */
function transposeFilterProgram(shape: readonly number[]): Program {
  const [KH, KW, Ci, Co] = shape;
  return {
    variableNames: ["W"],
    uniforms: "filterDims : vec4<i32>, ",
    outputShape: [KH, KW, Co, Ci],
    shaderKey: "cpu3_wt",
    dispatchLayout: { x: [3], y: [0, 1, 2] },
    workgroupSize: [CPU_WORKGROUP, 1, 1],
    dispatch: [Math.ceil(Co / CPU_WORKGROUP), KH * KW, 1],
    getUserCode: () => `
fn main() {
  let ci = uniforms.filterDims.z;
  let co = uniforms.filterDims.w;
  let o = i32(globalId.x);
  if (o >= co) { return; }
  let tap = i32(workgroupId.y);
  var src = tap * ci * co + o;
  let to = (tap * co + o) * ci;
  for (var i = 0; i < ci; i++) {
    result[to + i] = W[src];
    src += co;
  }
}`,
  };
}

/**
 * The `cpu` set's conv programs (see the module docs), for {@linkcode convKernel}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { convKernel } from "../program.ts";
 * const stock = tf.getKernel("Conv2D", "webgpu")!;
 * tf.registerKernel({ ...stock, kernelFunc: convKernel(cpuConv, { name: "Conv2D", stock: stock.kernelFunc }) });
 * ```
 */
export const cpuConv: ConvPrograms = {
  forward(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    if (c.outChannels % 4) return null;
    const { backend, x, filter, bias } = call;
    const p = forwardProgram(c, convTiles(c).forward, { bias: bias != null, relu: call.relu ?? false });
    return runProgram(backend, p, {
      inputs: bias ? [x!, filter!, bias] : [x!, filter!],
      uniforms: convUniforms(c),
    });
  },
  filterGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    if (c.outChannels % 4) return null;
    const p = filterGradProgram(c, convTiles(c).filterGrad);
    return runProgram(call.backend, p, { inputs: [call.x!, call.dy!], uniforms: convUniforms(c) });
  },
  inputGrad(c: ConvInfo, call: ConvCall): tf.TensorInfo | null {
    const { backend, filter, dy } = call;
    const swapped = runProgram(backend, transposeFilterProgram(filter!.shape), {
      inputs: [filter!],
      uniforms: [{ type: "int32", data: filter!.shape }],
    });
    const p = inputGradProgram(c, convTiles(c).inputGrad);
    const dx = runProgram(backend, p, { inputs: [dy!, swapped], uniforms: convUniforms(c) });
    backend.disposeData(swapped.dataId);
    return dx;
  },
};
