/**
 * This adapter's GEMM roofline: the best GFLOP/s a WGSL matmul reaches here, over a few kernel shapes, so
 * that the per-kernel profile of a training step (bench/throughput_bench.ts `--profile-convs`) can be read as
 * a fraction of what the adapter can do.
 *
 * C[M, N] = A[M, K] · B[K, N], row-major float32, in raw WebGPU (no tfjs, so nothing but the shader is
 * measured). Each variant is checked against a CPU reference on a few entries after its first dispatch (the
 * shader compile), then timed over enough back-to-back dispatches to fill `--seconds`, in `--rounds` rounds
 * that go over every variant in turn; a row gives the fastest round and the slowest (a software adapter's
 * speed moves with whatever else the host runs). A wrong result fails the bench.
 *
 * The variants (llvmpipe runs an invocation per SIMD lane, 8 lanes with AVX2; a load whose address is the
 * same for every lane is one scalar load, any other load a gather):
 *
 * - `reg RxC wgW`: no workgroup memory. Lanes over columns; an invocation owns R rows × C columns of C,
 *   reads its R values of A at lane-uniform addresses and its C values of B per lane (a `vec4` when C ≥ 4).
 *   `reg 16x4 wg16` is the style of the first, small-tile conv kernels.
 * - `kvec RxC wgW`: the same, reading A as a lane-uniform `vec4` along k (four k per step).
 * - `shared TxT rR`: the classic tiled GEMM: a workgroup stages T×T tiles of A and B in workgroup memory,
 *   one barrier per tile, R×R outputs per invocation.
 * - `bcast RxC wgW`: lanes over rows, the column block from the workgroup: B is read at lane-uniform
 *   addresses (one scalar `vec4` load, broadcast), only A is gathered; at most about 32 accumulators a lane.
 * - `tfjs matMul`: tfjs-webgpu's own kernel, for reference.
 *
 * Each row also gives the shader's compile time (its first dispatch less a steady one; llvmpipe compiles a
 * shader on its first dispatch): run it with an empty shader cache (`MESA_SHADER_CACHE_DIR=$(mktemp -d)`)
 * to see it. `LP_NATIVE_VECTOR_WIDTH=512` runs llvmpipe with 16 lanes on an AVX-512 CPU.
 *
 * ```sh
 * deno task bench:roofline                    # 512³, all variants
 * deno task bench:roofline --size 1024 --only "reg 16x4,shared"
 * ```
 *
 * Options: `--size N` (M = N = K, default 512), `--seconds S` per variant and round (default 1), `--rounds R`
 * (default 3), `--only a,b`
 * (variants whose name starts with one of these), `--json FILE`.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";

/** One GEMM kernel variant: its name, WGSL and dispatch grid for an M×N×K problem. */
export interface GemmVariant {
  name: string;
  /** The WGSL module (entry point `main`, bindings 0: A, 1: B, 2: C). */
  code: string;
  workgroups: [number, number, number];
  /** A is bound transposed (K×M), so that four rows are one vec4. */
  transposedA?: boolean;
}

/** One measured variant. */
export interface RooflineRow {
  name: string;
  /** GFLOP/s of the fastest round. */
  gflops: number;
  /** GFLOP/s of the slowest round (the spread shows how steady the machine was). */
  slowestGflops: number;
  /** Seconds of the first dispatch, less one steady dispatch: the shader's compile (llvmpipe compiles there). */
  compileSeconds: number;
  /** Seconds per dispatch, fastest round. */
  seconds: number;
  /** Worst |C − reference| over the checked entries, relative to the largest |reference|. */
  error: number;
}

const header = (a: string, b: string, c: string) => `
@group(0) @binding(0) var<storage, read> A: array<${a}>;
@group(0) @binding(1) var<storage, read> B: array<${b}>;
@group(0) @binding(2) var<storage, read_write> C: array<${c}>;
`;
const rng = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * No-workgroup-memory GEMM: lanes over columns, R rows × C columns per invocation, A read lane-uniformly
 * (one scalar per row per k, or a vec4 along k when `kvec`).
 *
 * @example
 * ```ts
 * const v = registerTiled(64, { rows: 8, cols: 4, workgroup: 16 });
 * console.log(v.name, v.workgroups);
 * ```
 */
export function registerTiled(
  n: number,
  options: {
    rows: number;
    cols: number;
    workgroup: number;
    kvec?: boolean;
    rowLanes?: number;
    unroll?: number;
    tvec?: boolean;
  },
): GemmVariant {
  const { rows: R, cols: Cc, kvec = false, rowLanes: Wy = 1, unroll: U = 1, tvec = false } = options;
  const W = options.workgroup / Wy;
  const v = Cc >= 4 ? 4 : 1, per = Cc / v, vt = v === 4 ? "vec4<f32>" : "f32";
  const N4 = n / v, groupsX = Math.ceil(N4 / per / W);
  const acc = rng(R).flatMap((i) => rng(per).map((j) => `var c${i}_${j} = ${vt}(0.0);`)).join("\n  ");
  let body: string;
  if (!kvec) {
    const step = (u: number) =>
      `{ let k = k0 + ${u}u;
    ${rng(per).map((j) => `let b${j} = B[k * ${N4}u + col + ${j * (N4 / per)}u];`).join("\n    ")}
    ${
        rng(R).map((i) =>
          (tvec
            ? (i % 4 ? "" : `let t${i} = AT4[(k * ${n}u + row + ${i}u) / 4u];\n    `) +
              `let a${i} = t${i - i % 4}[${i % 4}];\n    `
            : `let a${i} = A[(row + ${i}u) * ${n}u + k];\n    `) +
          rng(per).map((j) => `c${i}_${j} = fma(${vt}(a${i}), b${j}, c${i}_${j});`).join(" ")
        ).join("\n    ")
      } }`;
    body = `for (var k0 = 0u; k0 < ${n}u; k0 += ${U}u) {
    ${rng(U).map(step).join("\n    ")}
  }`;
  } else {
    body = `for (var k4 = 0u; k4 < ${n / 4}u; k4++) {
    ${
      rng(4).flatMap((t) =>
        rng(per).map((j) => `let b${t}_${j} = B[(k4 * 4u + ${t}u) * ${N4}u + col + ${j * (N4 / per)}u];`)
      ).join("\n    ")
    }
    ${
      rng(R).map((i) =>
        `let a${i} = A4[(row + ${i}u) * ${n / 4}u + k4];\n    ` +
        rng(4).flatMap((t) =>
          rng(per).map((j) => `c${i}_${j} = fma(${vt}(a${i}[${t}]), b${t}_${j}, c${i}_${j});`)
        ).join(" ")
      ).join("\n    ")
    }
  }`;
  }
  const store = rng(R).flatMap((i) =>
    rng(per).map((j) => `C[(row + ${i}u) * ${N4}u + col + ${j * (N4 / per)}u] = c${i}_${j};`)
  )
    .join("\n  ");
  const code = (tvec
    ? `@group(0) @binding(0) var<storage, read> AT4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<${vt}>;
@group(0) @binding(2) var<storage, read_write> C: array<${vt}>;`
    : kvec
    ? `@group(0) @binding(0) var<storage, read> A4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<${vt}>;
@group(0) @binding(2) var<storage, read_write> C: array<${vt}>;`
    : header("f32", vt, vt)) + `
@compute @workgroup_size(${W}, ${Wy})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let col = g.x;
  let row = g.y * ${R}u;
  if (col >= ${N4 / per}u) { return; }
  ${acc}
  ${body}
  ${store}
}`;
  return {
    name: `${tvec ? "tvec" : kvec ? "kvec" : Wy > 1 ? `lanes2d${Wy}` : "reg"} ${R}x${Cc} wg${W * Wy}${
      U > 1 ? ` u${U}` : ""
    }`,
    code,
    workgroups: [groupsX, n / R / Wy, 1],
    transposedA: tvec,
  };
}

/**
 * Lanes over rows, the column block from the workgroup: every lane of a workgroup reads the same `vec4`s of
 * B (a lane-uniform address: one scalar load, broadcast) and gathers only its own rows of A. R rows (spaced
 * by the workgroup's width) × C columns per invocation.
 *
 * @example
 * ```ts
 * const v = broadcastTiled(64, { rows: 4, cols: 16, workgroup: 8 });
 * console.log(v.name, v.workgroups); // "bcast 4x16 wg8" [2, 4, 1]
 * ```
 */
export function broadcastTiled(
  n: number,
  options: { rows: number; cols: number; workgroup: number },
): GemmVariant {
  const { rows: R, cols: Cc, workgroup: W } = options;
  const V = Cc / 4, N4 = n / 4;
  const acc = rng(R).flatMap((i) => rng(V).map((j) => `var c${i}_${j} = vec4<f32>(0.0);`)).join("\n  ");
  const code = header("f32", "vec4<f32>", "vec4<f32>") + `
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let col = wg.y * ${V}u;
  let row = wg.x * ${R * W}u + l.x;
  ${acc}
  for (var k = 0u; k < ${n}u; k++) {
    ${rng(V).map((j) => `let b${j} = B[k * ${N4}u + col + ${j}u];`).join(" ")}
    ${
    rng(R).map((i) =>
      `let a${i} = A[(row + ${i * W}u) * ${n}u + k]; ` +
      rng(V).map((j) => `c${i}_${j} = fma(vec4<f32>(a${i}), b${j}, c${i}_${j});`).join(" ")
    ).join("\n    ")
  }
  }
  ${
    rng(R).flatMap((i) => rng(V).map((j) => `C[(row + ${i * W}u) * ${N4}u + col + ${j}u] = c${i}_${j};`))
      .join("\n  ")
  }
}`;
  return { name: `bcast ${R}x${Cc} wg${W}`, code, workgroups: [n / (R * W), N4 / V, 1] };
}

/**
 * The classic tiled GEMM: T×T tiles of A and B in workgroup memory, (T/R)² invocations of R×R outputs.
 *
 * @example
 * ```ts
 * console.log(sharedTiled(64, { tile: 32, rows: 4 }).workgroups); // [2, 2, 1]
 * ```
 */
export function sharedTiled(n: number, options: { tile: number; rows: number }): GemmVariant {
  const { tile: T, rows: R } = options;
  const L = T / R; // invocations per side
  const loads = (T * T) / (L * L);
  const code = header("f32", "f32", "f32") + `
var<workgroup> As: array<f32, ${T * T}>;
var<workgroup> Bs: array<f32, ${T * T}>;
@compute @workgroup_size(${L}, ${L})
fn main(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let r0 = wg.y * ${T}u; let c0 = wg.x * ${T}u;
  let li = l.y * ${L}u + l.x;
  var acc: array<f32, ${R * R}>;
  for (var t = 0u; t < ${n}u; t += ${T}u) {
    for (var e = 0u; e < ${loads}u; e++) {
      let idx = e * ${L * L}u + li;
      let rr = idx / ${T}u; let cc = idx % ${T}u;
      As[idx] = A[(r0 + rr) * ${n}u + t + cc];
      Bs[idx] = B[(t + rr) * ${n}u + c0 + cc];
    }
    workgroupBarrier();
    for (var k = 0u; k < ${T}u; k++) {
      var b: array<f32, ${R}>;
      for (var j = 0u; j < ${R}u; j++) { b[j] = Bs[k * ${T}u + l.x * ${R}u + j]; }
      for (var i = 0u; i < ${R}u; i++) {
        let a = As[(l.y * ${R}u + i) * ${T}u + k];
        for (var j = 0u; j < ${R}u; j++) { acc[i * ${R}u + j] = fma(a, b[j], acc[i * ${R}u + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${R}u; i++) {
    for (var j = 0u; j < ${R}u; j++) {
      C[(r0 + l.y * ${R}u + i) * ${n}u + c0 + l.x * ${R}u + j] = acc[i * ${R}u + j];
    }
  }
}`;
  return { name: `shared ${T}x${T} r${R}`, code, workgroups: [n / T, n / T, 1] };
}

/** The variants measured by default at size `n`. */
export function defaultVariants(n: number): GemmVariant[] {
  const out: GemmVariant[] = [];
  for (
    const [rows, cols, workgroup] of [
      [16, 4, 16], // the first conv kernels' style
      [4, 4, 16],
      [8, 4, 16],
      [32, 4, 16],
      [16, 1, 16],
      [32, 1, 16],
      [64, 1, 16],
      [16, 8, 16],
      [8, 8, 16],
      [16, 4, 8],
      [16, 4, 32],
      [16, 4, 64],
      [16, 16, 16],
      [8, 16, 16],
      [4, 16, 16],
      [4, 32, 16],
      [8, 32, 8],
      [32, 8, 16],
      [16, 8, 8],
      [16, 8, 4],
      [32, 16, 16],
      [16, 32, 8],
      [32, 32, 8],
      [64, 16, 16],
    ]
  ) out.push(registerTiled(n, { rows, cols, workgroup }));
  for (const [rows, cols] of [[8, 4], [16, 4], [16, 1]]) {
    out.push(registerTiled(n, { rows, cols, workgroup: 16, kvec: true }));
  }
  for (
    const [rows, cols, workgroup, unroll] of [
      [16, 4, 16, 4],
      [16, 4, 16, 8],
      [16, 16, 16, 4],
      [32, 32, 8, 2],
      [32, 32, 8, 4],
      [16, 32, 8, 4],
      [8, 16, 16, 8],
    ]
  ) {
    out.push(registerTiled(n, { rows, cols, workgroup, unroll }));
  }
  for (const [rows, cols, workgroup] of [[16, 4, 16], [16, 16, 16], [32, 32, 8], [32, 16, 16]]) {
    out.push(registerTiled(n, { rows, cols, workgroup, tvec: true }));
  }
  for (const [rows, cols, rowLanes] of [[16, 16, 4], [16, 16, 2], [16, 4, 4], [8, 16, 4]]) {
    out.push(registerTiled(n, { rows, cols, workgroup: 16, rowLanes }));
  }
  out.push(sharedTiled(n, { tile: 32, rows: 4 }), sharedTiled(n, { tile: 64, rows: 8 }));
  // at most about 12–32 accumulators a lane, B lane-uniform
  for (const [rows, cols] of [[2, 8], [4, 4], [4, 8], [8, 4], [2, 16], [4, 16], [8, 8]]) {
    out.push(broadcastTiled(n, { rows, cols, workgroup: 8 }));
  }
  return out;
}

/** A variant's compiled pipeline: `run(times)` dispatches it `times` times back to back and waits. */
async function prepareVariant(
  device: GPUDevice,
  v: GemmVariant,
  bufs: GPUBuffer[],
): Promise<{ run: (times: number) => Promise<void>; first: number }> {
  const module = device.createShaderModule({ code: v.code });
  const pipeline = await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const run = async (times: number) => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < times; i++) {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(...v.workgroups);
      pass.end();
    }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  const t = performance.now();
  await run(1); // compile + first run
  return { run, first: (performance.now() - t) / 1000 };
}

/** Seconds per dispatch over enough back-to-back dispatches to fill `seconds`. */
async function timeRuns(run: (times: number) => Promise<void>, seconds: number): Promise<number> {
  let t = performance.now();
  await run(1);
  const one = (performance.now() - t) / 1000;
  const times = Math.max(1, Math.round(seconds / one));
  t = performance.now();
  await run(times);
  return (performance.now() - t) / 1000 / times;
}

async function readBack(device: GPUDevice, buf: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/**
 * Measure each variant on an n×n×n GEMM on `device`.
 *
 * @example
 * ```ts
 * const adapter = await navigator.gpu.requestAdapter();
 * const device = await adapter!.requestDevice();
 * const rows = await roofline(device, 64, { variants: [registerTiled(64, { rows: 8, cols: 4, workgroup: 16 })] });
 * console.log(rows[0].gflops);
 * ```
 */
export async function roofline(
  device: GPUDevice,
  n: number,
  options: { variants: GemmVariant[]; seconds?: number; rounds?: number; log?: (row: RooflineRow) => void },
): Promise<RooflineRow[]> {
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const a = Float32Array.from({ length: n * n }, rand), b = Float32Array.from({ length: n * n }, rand);
  const make = (data?: Float32Array) => {
    const buf = device.createBuffer({
      size: n * n * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    if (data) device.queue.writeBuffer(buf, 0, data);
    return buf;
  };
  const bufs = [make(a), make(b), make()];
  const checks = [[0, 0], [n - 1, n - 1], [n >> 1, 3], [7, n - 5]];
  const ref = checks.map(([i, j]) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
    return s;
  });
  const scale = Math.max(...ref.map(Math.abs));
  const rows: RooflineRow[] = [];
  const at = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) at[k * n + i] = a[i * n + k];
  const rounds = options.rounds ?? 1;
  const prepared = [];
  for (const v of options.variants) {
    device.queue.writeBuffer(bufs[0], 0, v.transposedA ? at : a);
    device.queue.writeBuffer(bufs[2], 0, new Float32Array(n * n));
    const { run, first } = await prepareVariant(device, v, bufs);
    const c = await readBack(device, bufs[2], n * n * 4);
    const error = Math.max(...checks.map(([i, j], e) => Math.abs(c[i * n + j] - ref[e]))) / scale;
    prepared.push({ v, run, first, error, times: [] as number[] });
  }
  // rounds go over every variant in turn, so that a slow spell of the machine does not fall on one variant's
  // every sample; each variant keeps its fastest round
  for (let round = 0; round < rounds; round++) {
    for (const p of prepared) {
      device.queue.writeBuffer(bufs[0], 0, p.v.transposedA ? at : a);
      p.times.push(await timeRuns(p.run, options.seconds ?? 1));
    }
  }
  for (const p of prepared) {
    const seconds = Math.min(...p.times), slowest = Math.max(...p.times);
    const row = {
      name: p.v.name,
      gflops: (2 * n ** 3) / seconds / 1e9,
      slowestGflops: (2 * n ** 3) / slowest / 1e9,
      compileSeconds: Math.max(0, p.first - seconds),
      seconds,
      error: p.error,
    };
    rows.push(row);
    options.log?.(row);
  }
  for (const buf of bufs) buf.destroy();
  return rows;
}

async function tfjsMatMul(n: number, seconds: number): Promise<RooflineRow> {
  await tf.setBackend("webgpu");
  const a = tf.randomUniform([n, n], -0.5, 0.5, "float32", 1);
  const b = tf.randomUniform([n, n], -0.5, 0.5, "float32", 2);
  await tf.matMul(a, b).data();
  let t = performance.now();
  let c = tf.matMul(a, b);
  await c.data();
  c.dispose();
  const one = (performance.now() - t) / 1000;
  const times = Math.max(1, Math.round(seconds / one));
  t = performance.now();
  for (let i = 0; i < times; i++) {
    c = tf.matMul(a, b);
    if (i < times - 1) c.dispose();
  }
  await c.data();
  c.dispose();
  a.dispose();
  b.dispose();
  const s = (performance.now() - t) / 1000 / times;
  const gflops = (2 * n ** 3) / s / 1e9;
  return { name: "tfjs matMul", gflops, slowestGflops: gflops, compileSeconds: 0, seconds: s, error: 0 };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "512" },
      seconds: { type: "string", default: "1" },
      rounds: { type: "string", default: "3" },
      only: { type: "string" },
      json: { type: "string" },
    },
  });
  const n = Number(values.size);
  if (!Number.isInteger(n) || n < 64 || n % 64) {
    console.error(`roofline: --size must be a multiple of 64, got ${values.size}`);
    Deno.exit(2);
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    console.error("roofline: no WebGPU adapter (run with --unstable-webgpu)");
    Deno.exit(1);
  }
  const info = adapter.info;
  console.log(`GEMM roofline, ${n}³ float32, on ${info.description || info.vendor} (${info.architecture})`);
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
  });
  const prefixes = values.only?.split(",").map((s) => s.trim());
  const variants = defaultVariants(n).filter((v) => !prefixes || prefixes.some((p) => v.name.startsWith(p)));
  console.log(
    `| kernel | GFLOP/s | slowest round | ms per GEMM | compile s | rel. error |\n| --- | --- | --- | --- | --- | --- |`,
  );
  const log = (r: RooflineRow) =>
    console.log(
      `| ${r.name} | ${r.gflops.toFixed(2)} | ${r.slowestGflops.toFixed(2)} | ${
        (r.seconds * 1000).toFixed(1)
      } | ${r.compileSeconds.toFixed(2)} | ${r.error.toExponential(1)} |`,
    );
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`roofline: --rounds must be a whole number ≥ 1, got ${values.rounds}`);
    Deno.exit(2);
  }
  const rows = await roofline(device, n, { variants, seconds: Number(values.seconds), rounds, log });
  device.destroy();
  if (!prefixes || prefixes.some((p) => "tfjs".startsWith(p) || p.startsWith("tfjs"))) {
    const row = await tfjsMatMul(n, Number(values.seconds));
    log(row);
    rows.push(row);
  }
  const wrong = rows.filter((r) => !(r.error < 1e-4));
  const best = rows.filter((r) => r.error < 1e-4).reduce<RooflineRow | null>(
    (x, y) => (x == null || y.gflops > x.gflops ? y : x),
    null,
  );
  if (best) console.log(`\nroofline: ${best.gflops.toFixed(2)} GFLOP/s (${best.name})`);
  if (values.json) Deno.writeTextFileSync(values.json, JSON.stringify({ n, rows, best }, null, 2));
  if (wrong.length) {
    console.error(
      `roofline: wrong results (relative error ≥ 1e-4) from ${wrong.map((r) => r.name).join(", ")}`,
    );
    Deno.exit(1);
  }
}
