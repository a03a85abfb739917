/**
 * A tiled, workgroup-memory GEMM for tfjs-webgpu, with a deterministic split-K: C[m, n] = Σ_k A(m, k) ·
 * B(k, n), where A and B are WGSL functions (an implicit im2col, a transposed read, …) rather than
 * stored matrices. Shape-generic: M, N, K and the split length are uniforms (`uniforms.gemmDims`, x y z w),
 * and so is whatever the loaders read (a spec's own uniforms), so one pipeline serves every size of a kind.
 *
 * A workgroup of `wg × wg` invocations (16 × 16 where the device allows 256 invocations per workgroup,
 * else 8 × 8) owns a tile of `4·wg × 4·wg` outputs, each invocation 4 × 4 of them, and steps through the
 * reduction in slices of {@linkcode TILE_K}: it stages a slice of A and of B in workgroup memory (each
 * invocation loads a few elements, neighbouring invocations neighbouring addresses), synchronises, and
 * multiplies the staged slices out of workgroup memory. Where the output tiles alone are too few to fill a
 * GPU, the reduction is cut into `splits` ranges (split-K): each range's workgroup writes its partial sums
 * into its own slice of a scratch tensor, and a second pass adds the slices in a fixed order (split 0, 1,
 * …) and applies the epilogue (bias, relu). No float atomics, so every run gives the same bits.
 *
 * @example
 * ```ts
 * import { runTiledGemm } from "./tiled_gemm.ts";
 * // inside a tfjs-webgpu kernel: C = A · B for stored row-major A [M, K] and B [K, N]
 * // runTiledGemm(backend, { key: "mm", M, N, K, inputs: [a, b], variableNames: ["A", "B"],
 * //   loadA: "return A[m * uniforms.gemmDims.z + k];", loadB: "return B[k * uniforms.gemmDims.y + n];",
 * //   aFast: "k", bFast: "n" });
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  flatGrid,
  type Program,
  type ProgramUniform,
  range,
  runProgram,
  type WebGPUBackendLike,
} from "./program.ts";

/** Reduction elements staged per step. */
export const TILE_K = 16;
/** Outputs per invocation along each axis. */
const PER_THREAD = 4;
/** The workgroups a dispatch should have before split-K stops adding more (a GPU of ~100 SMs full twice). */
const TARGET_WORKGROUPS = 1024;
/** The fewest reduction elements one split covers. */
const MIN_SPLIT_K = 256;
/** The most splits of one reduction. */
const MAX_SPLITS = 64;
/** The largest scratch tensor split-K may use (bytes), under the device's buffer limits too. */
const MAX_SCRATCH_BYTES = 256 * 2 ** 20;

/** One GEMM: sizes, operands as WGSL loaders, and the epilogue. */
export interface GemmSpec {
  /** A pipeline-key part naming the loaders (they read sizes from uniforms only). */
  key: string;
  /** Rows of C. */
  M: number;
  /** Columns of C. */
  N: number;
  /** The reduction length. */
  K: number;
  /** The tensors the loaders read, in the order of `variableNames`. */
  inputs: tf.TensorInfo[];
  /** The WGSL names of `inputs`. */
  variableNames: string[];
  /** WGSL struct members the loaders read (`uniforms.<name>`), and their values. */
  uniforms?: { members: string; values: ProgramUniform[] };
  /** Body of `fn loadA(m: i32, k: i32) -> f32`, called with m < M and k < K only. */
  loadA: string;
  /** Body of `fn loadB(k: i32, n: i32) -> f32`, called with k < K and n < N only. */
  loadB: string;
  /** Which index of A is contiguous in memory: neighbouring invocations load neighbours along it. */
  aFast: "m" | "k";
  /** Which index of B is contiguous in memory. */
  bFast: "k" | "n";
  /** Shape of C as tfjs sees it (its size must be M·N, row-major over [M, N]); default [M, N]. */
  outputShape?: number[];
  /** The name among `variableNames` of a bias over n added in the epilogue. */
  bias?: string;
  /** Apply relu in the epilogue. */
  relu?: boolean;
  /** Write C into this tensor instead of a new one. */
  output?: tf.TensorInfo;
}

/** How one GEMM is cut: invocations per workgroup side, tile size and splits. */
export interface GemmPlan {
  /** Invocations along each workgroup axis. */
  wg: number;
  /** Outputs per tile along each axis (PER_THREAD · wg). */
  tile: number;
  /** Ranges the reduction is cut into. */
  splits: number;
  /** Reduction elements per split (a multiple of TILE_K). */
  kPerSplit: number;
}

/**
 * How to cut an M × N × K GEMM on a device with `limits`: the biggest workgroup the limits allow (16 × 16
 * or 8 × 8), then as many reduction splits as it takes to reach about {@linkcode TARGET_WORKGROUPS}
 * workgroups, each split at least {@linkcode MIN_SPLIT_K} long and the scratch within the buffer limits.
 *
 * @example
 * ```ts
 * // a layer1 1×1 conv's filter gradient at batch 256: 64 × 64 outputs, a 16,384-long reduction
 * planGemm(64, 64, 16384, { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256,
 *   maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupStorageSize: 16384, maxStorageBufferBindingSize: 2 ** 27,
 *   maxComputeWorkgroupsPerDimension: 65535 })?.splits; // 64
 * ```
 */
export function planGemm(
  M: number,
  N: number,
  K: number,
  limits: Pick<
    GPUSupportedLimits,
    | "maxComputeInvocationsPerWorkgroup"
    | "maxComputeWorkgroupSizeX"
    | "maxComputeWorkgroupSizeY"
    | "maxComputeWorkgroupStorageSize"
    | "maxStorageBufferBindingSize"
    | "maxComputeWorkgroupsPerDimension"
  >,
): GemmPlan | null {
  let wg = 0;
  for (const w of [16, 8]) {
    const tile = PER_THREAD * w;
    if (
      w * w <= limits.maxComputeInvocationsPerWorkgroup && w <= limits.maxComputeWorkgroupSizeX &&
      w <= limits.maxComputeWorkgroupSizeY && 2 * TILE_K * tile * 4 <= limits.maxComputeWorkgroupStorageSize
    ) {
      wg = w;
      break;
    }
  }
  if (wg === 0) return null;
  const tile = PER_THREAD * wg;
  const tilesM = Math.ceil(M / tile), tilesN = Math.ceil(N / tile);
  if (Math.max(tilesM, tilesN) > limits.maxComputeWorkgroupsPerDimension) return null;
  const scratchCap = Math.min(MAX_SCRATCH_BYTES, limits.maxStorageBufferBindingSize);
  let splits = Math.min(
    Math.ceil(TARGET_WORKGROUPS / (tilesM * tilesN)),
    Math.floor(K / MIN_SPLIT_K),
    MAX_SPLITS,
    Math.floor(scratchCap / (M * N * 4)),
  );
  splits = Math.max(1, splits);
  const kPerSplit = Math.ceil(K / splits / TILE_K) * TILE_K;
  splits = Math.ceil(K / kPerSplit);
  return { wg, tile, splits, kPerSplit };
}

/** A dispatch layout for an output of `rank` dimensions (the kernels index it themselves). */
const layoutOf = (rank: number) => ({ x: [rank - 1], y: range(rank - 1) });

/** The uniforms every program here declares, then the spec's own. */
const uniformsOf = (spec: GemmSpec) => "gemmDims : vec4<i32>, " + (spec.uniforms?.members ?? "");

/** The first pass: each workgroup one tile of one split's partial sums (or of C itself when unsplit). */
function gemmProgram(spec: GemmSpec, plan: GemmPlan): Program {
  const { M, N } = spec;
  const { wg, tile, splits } = plan;
  const threads = wg * wg;
  const loadsPerThread = (TILE_K * tile) / threads;
  const final = splits === 1;
  const acc = range(PER_THREAD).flatMap((i) => range(PER_THREAD).map((j) => `var c${i}_${j} = 0.0;`));
  const fma = range(PER_THREAD).map((i) =>
    `let a${i} = As[kk][ty + ${i * wg}];\n      ` +
    range(PER_THREAD).map((j) => `c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`).join(" ")
  );
  const bLoads = range(PER_THREAD).map((j) => `let b${j} = Bs[kk][tx + ${j * wg}];`).join(" ");
  const epilogue = (v: string, n: string) => {
    let e = v;
    if (final && spec.bias) e = `(${e} + ${spec.bias}[${n}])`;
    if (final && spec.relu) e = `max(${e}, 0.0)`;
    return e;
  };
  const stores = range(PER_THREAD).flatMap((i) =>
    range(PER_THREAD).map((j) =>
      `{ let m = m0 + ty + ${i * wg}; let n = n0 + tx + ${j * wg};
    if (m < M && n < N) { result[${final ? "" : "split * M * N + "}m * N + n] = ${
        epilogue(`c${i}_${j}`, "n")
      }; } }`
    )
  );
  // the staging index e → (row, k) so that neighbouring invocations read neighbouring addresses
  const stage = (fast: "outer" | "k") =>
    fast === "k"
      ? `let kk = e % ${TILE_K}; let r = e / ${TILE_K};`
      : `let r = e % ${tile}; let kk = e / ${tile};`;
  return {
    variableNames: spec.variableNames,
    uniforms: uniformsOf(spec),
    outputShape: final ? (spec.outputShape ?? [M, N]) : [splits, M, N],
    shaderKey: `tgemm_${spec.key}_${wg}_${final ? "whole" : "split"}_${spec.bias ?? ""}_${
      spec.relu ?? false
    }_${spec.aFast}${spec.bFast}`,
    dispatchLayout: layoutOf(final ? (spec.outputShape ?? [M, N]).length : 3),
    workgroupSize: [wg, wg, 1],
    dispatch: [Math.ceil(N / tile), Math.ceil(M / tile), splits],
    getUserCode: () => `
var<workgroup> As: array<array<f32, ${tile}>, ${TILE_K}>;
var<workgroup> Bs: array<array<f32, ${tile}>, ${TILE_K}>;
fn loadA(m: i32, k: i32) -> f32 {
  ${spec.loadA}
}
fn loadB(k: i32, n: i32) -> f32 {
  ${spec.loadB}
}
fn main() {
  let M = uniforms.gemmDims.x;
  let N = uniforms.gemmDims.y;
  let K = uniforms.gemmDims.z;
  let kPerSplit = uniforms.gemmDims.w;
  let tx = i32(localId.x);
  let ty = i32(localId.y);
  let lid = ty * ${wg} + tx;
  let n0 = i32(workgroupId.x) * ${tile};
  let m0 = i32(workgroupId.y) * ${tile};
  let split = i32(workgroupId.z);
  let kStart = split * kPerSplit;
  let kEnd = min(kStart + kPerSplit, K);
  ${acc.join("\n  ")}
  for (var t = 0; t < kPerSplit / ${TILE_K}; t++) {
    let k0 = kStart + t * ${TILE_K};
    for (var i = 0; i < ${loadsPerThread}; i++) {
      let e = lid + i * ${threads};
      ${stage(spec.aFast === "k" ? "k" : "outer")}
      let gm = m0 + r; let gk = k0 + kk;
      var v = 0.0;
      if (gm < M && gk < kEnd) { v = loadA(gm, gk); }
      As[kk][r] = v;
    }
    for (var i = 0; i < ${loadsPerThread}; i++) {
      let e = lid + i * ${threads};
      ${stage(spec.bFast === "k" ? "k" : "outer")}
      let gn = n0 + r; let gk = k0 + kk;
      var v = 0.0;
      if (gn < N && gk < kEnd) { v = loadB(gk, gn); }
      Bs[kk][r] = v;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${TILE_K}; kk++) {
      ${bLoads}
      ${fma.join("\n      ")}
    }
    workgroupBarrier();
  }
  ${stores.join("\n  ")}
}`,
  };
}

/** The second pass: C[m, n] = epilogue(Σ_split partial[split, m, n]), the splits added in order. */
function sumSplitsProgram(spec: GemmSpec): Program {
  const { M, N } = spec;
  let v = "s";
  if (spec.bias) v = `(${v} + ${spec.bias}[i % N])`;
  if (spec.relu) v = `max(${v}, 0.0)`;
  const names = ["partial", ...(spec.bias ? [spec.bias] : [])];
  const grid = flatGrid(M * N, { workgroup: 64 });
  return {
    variableNames: names,
    uniforms: uniformsOf(spec) + "splits : i32, ",
    outputShape: spec.outputShape ?? [M, N],
    shaderKey: `tgemm_sum_${spec.bias ?? ""}_${spec.relu ?? false}`,
    dispatchLayout: layoutOf((spec.outputShape ?? [M, N]).length),
    workgroupSize: [64, 1, 1],
    dispatch: grid.dispatch,
    getUserCode: () => `
fn main() {
  let N = uniforms.gemmDims.y;
  let size = uniforms.gemmDims.x * N;
  ${grid.code}
  let i = gid;
  if (i >= size) { return; }
  var s = 0.0;
  for (var p = 0; p < uniforms.splits; p++) { s = s + partial[p * size + i]; }
  result[i] = ${v};
}`,
  };
}

/**
 * Run `spec` on `backend`: one tiled pass, or a split-K pass and a summing pass. Returns C (or null when
 * the device's limits allow no plan; the caller then falls back to the stock kernel).
 *
 * @example
 * ```ts
 * // inside a tfjs-webgpu kernel function, with backend, a [M, K] and b [K, N]:
 * // const c = runTiledGemm(backend, { key: "mm", M, N, K, inputs: [a, b], variableNames: ["A", "B"],
 * //   loadA: "return A[m * uniforms.gemmDims.z + k];", loadB: "return B[k * uniforms.gemmDims.y + n];",
 * //   aFast: "k", bFast: "n" });
 * ```
 */
export function runTiledGemm(backend: WebGPUBackendLike, spec: GemmSpec): tf.TensorInfo | null {
  const plan = planGemm(spec.M, spec.N, spec.K, backend.device.limits);
  if (!plan) return null;
  const uniforms: ProgramUniform[] = [
    { type: "int32", data: [spec.M, spec.N, spec.K, plan.kPerSplit] },
    ...(spec.uniforms?.values ?? []),
  ];
  if (plan.splits === 1) {
    return runProgram(backend, gemmProgram(spec, plan), {
      inputs: spec.inputs,
      uniforms,
      output: spec.output,
    });
  }
  // the first pass reads no bias (the summing pass adds it), and an unused binding fails validation
  const biasAt = spec.bias ? spec.variableNames.indexOf(spec.bias) : -1;
  const operands = {
    ...spec,
    inputs: spec.inputs.filter((_, i) => i !== biasAt),
    variableNames: spec.variableNames.filter((_, i) => i !== biasAt),
  };
  const partial = runProgram(backend, gemmProgram(operands, plan), { inputs: operands.inputs, uniforms });
  const biasInput = biasAt >= 0 ? [spec.inputs[biasAt]] : [];
  const out = runProgram(backend, sumSplitsProgram(spec), {
    inputs: [partial, ...biasInput],
    uniforms: [...uniforms, { type: "int32", data: [plan.splits] }],
    output: spec.output,
  });
  backend.disposeData(partial.dataId);
  return out;
}
