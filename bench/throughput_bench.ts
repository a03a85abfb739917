/**
 * ResNet training throughput on this machine's WebGPU adapter, with tfjs's stock kernels and the project's
 * kernel sets (`cpu`, `cpu-prev`, `gpu`; lib/webgpu/kernel_sets.ts) side by side, alternately in one process.
 *
 * For each batch size, one copy of the same seeded network per kernel set trains on the same synthetic
 * batches. After a warm-up step per set (shader compiles), the timed steps alternate stock, cpu, gpu,
 * stock, … so that the load of other processes falls on all alike. It prints the median step time and img/s
 * of each, their ratio to stock, the loss curves (they must match) and the live tensor count before and
 * after the timed steps (equal: no leak).
 *
 * ```sh
 * deno run -A --unstable-webgpu bench/throughput_bench.ts                        # batch 16, 32, 64; 3 steps
 * deno run -A --unstable-webgpu bench/throughput_bench.ts --batch 32 --steps 2   # a short run
 * deno run -A --unstable-webgpu bench/throughput_bench.ts --batch 16 --profile   # where a step's time goes
 * deno run -A --unstable-webgpu bench/throughput_bench.ts --batch 8 --grad-check   # gradients match stock
 * deno run -A --unstable-webgpu bench/throughput_bench.ts --batch 64,256 --modes stock,cpu,gpu   # on a GPU
 * deno run -A --unstable-webgpu bench/throughput_bench.ts --arch tiny --batch 8 --steps 3 --json out.json
 * ```
 *
 * Options: `--arch A` (default resnet50), `--width W` (base width, default the network's own), `--batch 16,32,64`, `--steps N` timed steps per configuration
 * (default 3), `--modes stock,cpu` (any of stock, cpu, gpu; `project` means cpu), `--profile` (one profiled
 * step per set after the warm-up, kernels ranked by time), `--top N` profile rows (default 15),
 * `--grad-check` (instead of timing: one batch's gradients of every weight, stock against each other set,
 * worst relative error), `--json FILE`.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { type Arch, ARCHS, buildResNet } from "../lib/model/mod.ts";
import { createTrainStep, disposeOptimizer, momentumOptimizer } from "../lib/train/mod.ts";
import { syntheticBatch } from "../lib/data/mod.ts";
import { registerTiled, roofline } from "./roofline_bench.ts";
import {
  type AdapterDescription,
  formatAdapter,
  KERNEL_SETS,
  type KernelSet,
  registerKernelSet,
  selectBackend,
  unregisterKernelSet,
} from "../lib/webgpu/mod.ts";

/** The configurations compared: tfjs's stock kernels and the project's kernel sets. */
export type Mode = KernelSet;

/** The figures of one configuration at one batch size. */
export interface ModeResult {
  mode: Mode;
  batch: number;
  /** Seconds of the warm-up step (shader compiles included). */
  warmupSeconds: number;
  /** Seconds of each timed step. */
  seconds: number[];
  /** Median of `seconds`. */
  medianSeconds: number;
  /** batch / medianSeconds. */
  imagesPerSecond: number;
  /** Loss of every step, warm-up first. */
  losses: number[];
  /** Live tensors (`tf.memory().numTensors`) before and after the timed steps. */
  tensors: [number, number];
  /** With `profile`: the kernels of one profiled step (after the warm-up, before the timed steps). */
  profile?: KernelProfileRow[];
}

/**
 * One row of a step's kernel profile: a kernel, and for a convolution one shape of it, with its calls, the
 * milliseconds they took (tfjs's webgpu backend times each with timestamp queries) and their FLOPs (the
 * nominal 2·MACs, as PyTorch counts them; 0 for kernels that are not convolutions).
 */
export interface KernelProfileRow {
  name: string;
  /** For a convolution, "8×8×64→256 1×1/1" (input h×w×c → output channels, kernel/stride); else "". */
  shape: string;
  ms: number;
  count: number;
  flops: number;
}

const CONV_NAMES = new Set(["FusedConv2D", "Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput"]);
/** The profile's row that counts the WebGPU programs a step dispatched (no time of its own). */
const DISPATCHES = "WebGPU programs dispatched";
const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** A conv call's shape label and FLOPs from its input and output shapes (see {@linkcode KernelProfileRow}). */
function convCall(name: string, inputs: number[][], output: number[]): { shape: string; flops: number } {
  let x: number[], filter: number[], y: number[];
  if (name === "Conv2DBackpropFilter") [x, y, filter] = [inputs[0], inputs[1], output];
  else if (name === "Conv2DBackpropInput") [y, filter, x] = [inputs[0], inputs[1], output];
  else [x, filter, y] = [inputs[0], inputs[1], output];
  const [kh, kw, ci, co] = filter;
  const stride = Math.round(x[1] / y[1]);
  return {
    shape: `${x[1]}×${x[2]}×${ci}→${co} ${kh}×${kw}/${stride}`,
    flops: 2 * prod(y) * kh * kw * ci,
  };
}

/**
 * Profile one call of `f` (one training step): every kernel it ran, convolutions split by shape, ranked by
 * time.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const rows = await profileKernels(() => tf.square(tf.scalar(2)).data());
 * console.log(rows[0].name, rows[0].ms, rows[0].count);
 * ```
 */
export async function profileKernels(
  f: () => Promise<unknown>,
  options: { shapes?: boolean } = {},
): Promise<KernelProfileRow[]> {
  let inner: Promise<unknown> = Promise.resolve();
  // every WebGPU program the step dispatches, tfjs's kernels' and the kernel sets' own alike
  const backend = tf.backend() as unknown as { runWebGPUProgram?: (...args: unknown[]) => unknown };
  const original = backend.runWebGPUProgram;
  let dispatches = 0;
  if (original) {
    backend.runWebGPUProgram = (...args: unknown[]) => {
      dispatches++;
      return original.apply(backend, args);
    };
  }
  const info = await tf.profile(() => {
    inner = f();
    return tf.scalar(0);
  }).finally(() => {
    if (original) backend.runWebGPUProgram = original;
  });
  await inner;
  const rows = new Map<string, KernelProfileRow>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    const conv = CONV_NAMES.has(k.name)
      ? convCall(k.name, k.inputShapes as number[][], k.outputShapes[0] as number[])
      : {
        shape: options.shapes ? (k.inputShapes as number[][]).map((s) => s?.join("×")).join(", ") : "",
        flops: 0,
      };
    const key = `${k.name} ${conv.shape}`;
    const row = rows.get(key) ?? { name: k.name, shape: conv.shape, ms: 0, count: 0, flops: 0 };
    row.ms += ms;
    row.count++;
    row.flops += conv.flops;
    rows.set(key, row);
  }
  const sorted = [...rows.values()].sort((a, b) => b.ms - a.ms);
  if (original) sorted.push({ name: DISPATCHES, shape: "", ms: 0, count: dispatches, flops: 0 });
  return sorted;
}

/**
 * The profile as a markdown table: every convolution shape (forward, filter gradient, input gradient) with
 * its GFLOP/s and fraction of `rooflineGflops`, then every other kernel, then the part of the unprofiled
 * step time `stepSeconds` that no kernel accounts for (dispatch, readbacks, JavaScript), each as a share of
 * the step.
 *
 * @example
 * ```ts
 * const rows = [{ name: "Conv2DBackpropFilter", shape: "8×8×64→64 3×3/1", ms: 50, count: 3, flops: 1.4e8 }];
 * console.log(profileTable(rows, { rooflineGflops: 5, stepSeconds: 0.2 }).join("\n"));
 * ```
 */
export function profileTable(
  rows: KernelProfileRow[],
  options: { rooflineGflops: number; stepSeconds: number; top?: number },
): string[] {
  const stepMs = options.stepSeconds * 1000;
  const pct = (ms: number) => `${(100 * ms / stepMs).toFixed(1)} %`;
  const gf = (r: { ms: number; flops: number }) => r.flops / (r.ms * 1e6);
  const lines = [
    "| kernel | shape | calls | ms | GFLOP/s | of roofline | of step |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const conv = rows.filter((r) => CONV_NAMES.has(r.name));
  const dispatched = rows.find((r) => r.name === DISPATCHES);
  const other = rows.filter((r) => !CONV_NAMES.has(r.name) && r !== dispatched);
  for (const r of conv.slice(0, options.top ?? conv.length)) {
    lines.push(
      `| ${r.name} | ${r.shape} | ${r.count} | ${r.ms.toFixed(0)} | ${gf(r).toFixed(2)} | ` +
        `${(100 * gf(r) / options.rooflineGflops).toFixed(0)} % | ${pct(r.ms)} |`,
    );
  }
  const sum = (rs: KernelProfileRow[]) => ({
    ms: rs.reduce((a, r) => a + r.ms, 0),
    flops: rs.reduce((a, r) => a + r.flops, 0),
    count: rs.reduce((a, r) => a + r.count, 0),
  });
  for (const name of ["FusedConv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput"]) {
    const t = sum(conv.filter((r) => r.name === name || (name === "FusedConv2D" && r.name === "Conv2D")));
    if (!t.count) continue;
    lines.push(
      `| **all ${name}** | | ${t.count} | ${t.ms.toFixed(0)} | ${gf(t).toFixed(2)} | ` +
        `${(100 * gf(t) / options.rooflineGflops).toFixed(0)} % | ${pct(t.ms)} |`,
    );
  }
  const convTotal = sum(conv);
  lines.push(
    `| **all convolutions** | | ${convTotal.count} | ${convTotal.ms.toFixed(0)} | ${
      gf(convTotal).toFixed(2)
    } | ` +
      `${(100 * gf(convTotal) / options.rooflineGflops).toFixed(0)} % | ${pct(convTotal.ms)} |`,
  );
  for (const r of other.slice(0, options.top ?? 12)) {
    lines.push(`| ${r.name} | ${r.shape} | ${r.count} | ${r.ms.toFixed(0)} | | | ${pct(r.ms)} |`);
  }
  const rest = sum(other.slice(options.top ?? 12));
  if (rest.count) {
    lines.push(
      `| ${other.length - (options.top ?? 12)} other kernels | | ${rest.count} | ${
        rest.ms.toFixed(0)
      } | | | ${pct(rest.ms)} |`,
    );
  }
  const kernels = sum(rows.filter((r) => r !== dispatched));
  lines.push(
    `| **outside tfjs's kernels** (dispatch, readbacks, JS; the cpu sets' own batch-norm and Momentum programs) | | | ${
      (stepMs - kernels.ms).toFixed(0)
    } | | | ` +
      `${pct(stepMs - kernels.ms)} |`,
  );
  if (dispatched) lines.push(`| **${DISPATCHES}** | | ${dispatched.count} | | | | |`);
  lines.push(
    `| **step** (unprofiled median) | | ${kernels.count} | ${stepMs.toFixed(0)} | ` +
      `${(convTotal.flops / (stepMs * 1e6)).toFixed(2)} (conv FLOPs / step time) | ` +
      `${(100 * convTotal.flops / (stepMs * 1e6) / options.rooflineGflops).toFixed(0)} % | 100 % |`,
  );
  return lines;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The bench's generated batch: labels shifted by the seed so batches differ in labels too. */
function generatedBatch(size: number, seed: number) {
  return syntheticBatch(size, seed, { label: (k) => (k + seed) % 10 });
}

function useMode(mode: Mode) {
  registerKernelSet(mode);
}

/**
 * Train `arch` at batch `batch` in each of `modes`, alternating the timed steps between them.
 *
 * @example
 * ```ts
 * import { selectBackend } from "../lib/webgpu/mod.ts";
 * await selectBackend("webgpu");
 * const [stock, cpu] = await benchBatch("tiny", 8, { steps: 2, modes: ["stock", "cpu"] });
 * console.log(cpu.imagesPerSecond / stock.imagesPerSecond);
 * ```
 */
export async function benchBatch(
  arch: Arch,
  batch: number,
  options: {
    steps: number;
    modes: Mode[];
    profile?: boolean;
    profileShapes?: boolean;
    top?: number;
    width?: number | null;
  },
): Promise<ModeResult[]> {
  const runs = options.modes.map((mode) => {
    const model = buildResNet(arch, { numClasses: 10, seed: 1, width: options.width });
    const optimizer = momentumOptimizer(1e-3, 0.9);
    return { mode, model, optimizer, step: createTrainStep(model, optimizer, 10) };
  });
  const results: ModeResult[] = runs.map(({ mode }) => ({
    mode,
    batch,
    warmupSeconds: 0,
    seconds: [],
    medianSeconds: 0,
    imagesPerSecond: 0,
    losses: [],
    tensors: [0, 0],
  }));
  try {
    // warm-up: the same first batch for every configuration
    for (const [i, run] of runs.entries()) {
      useMode(run.mode);
      const t = performance.now();
      results[i].losses.push(await run.step(generatedBatch(batch, 0)));
      results[i].warmupSeconds = (performance.now() - t) / 1000;
      console.log(
        `  ${run.mode} warm-up ${results[i].warmupSeconds.toFixed(1)} s, loss ${results[i].losses[0]}`,
      );
    }
    if (options.profile) {
      for (const [i, run] of runs.entries()) {
        useMode(run.mode);
        const t = performance.now();
        results[i].profile = await profileKernels(() => run.step(generatedBatch(batch, 999)), {
          shapes: options.profileShapes,
        });
        console.log(`  ${run.mode} profiled step ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
    }
    for (const [i] of runs.entries()) results[i].tensors[0] = tf.memory().numTensors;
    for (let s = 1; s <= options.steps; s++) {
      for (const [i, run] of runs.entries()) {
        useMode(run.mode);
        const t = performance.now();
        results[i].losses.push(await run.step(generatedBatch(batch, s)));
        const sec = (performance.now() - t) / 1000;
        results[i].seconds.push(sec);
        console.log(`  ${run.mode} step ${s}: ${sec.toFixed(2)} s, loss ${results[i].losses.at(-1)}`);
      }
    }
    for (const r of results) {
      r.tensors[1] = tf.memory().numTensors;
      r.medianSeconds = r.seconds.length ? median(r.seconds) : r.warmupSeconds;
      r.imagesPerSecond = batch / r.medianSeconds;
    }
    return results;
  } finally {
    for (const run of runs) {
      disposeOptimizer(run.optimizer);
      run.model.dispose();
    }
    unregisterKernelSet();
  }
}

/**
 * One batch's gradients of every trainable weight, from the same weights, with the stock kernels and with
 * kernel set `set`: the worst relative error (max |set − stock| / max |stock| per weight) and its weight.
 *
 * @example
 * ```ts
 * const { worst, weight } = await compareGradients("tiny", 4, "gpu");
 * ```
 */
export async function compareGradients(
  arch: Arch,
  batch: number,
  set: Exclude<KernelSet, "stock"> = "cpu",
): Promise<{ worst: number; weight: string }> {
  const model = buildResNet(arch, { numClasses: 10, seed: 1 });
  const data = generatedBatch(batch, 7);
  const x = tf.tensor4d(data.x, [batch, 32, 32, 3]);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(data.y, "int32"), 10), "float32"));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const values: Float32Array[][] = [];
  try {
    for (const mode of [set, "stock"] as const) {
      useMode(mode);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        vars,
      );
      values.push(await Promise.all(vars.map((v) => grads[v.name].data() as Promise<Float32Array>)));
      tf.dispose([value, ...Object.values(grads)]);
    }
  } finally {
    unregisterKernelSet();
    tf.dispose([x, y]);
    model.dispose();
  }
  let worst = 0, weight = "";
  vars.forEach((v, i) => {
    const [ours, stock] = [values[0][i], values[1][i]];
    let err = 0, scale = 0;
    for (let j = 0; j < stock.length; j++) {
      err = Math.max(err, Math.abs(ours[j] - stock[j]));
      scale = Math.max(scale, Math.abs(stock[j]));
    }
    if (scale > 0 && err / scale >= worst) [worst, weight] = [err / scale, v.name];
  });
  return { worst, weight };
}

/** The bench's options. */
export interface ThroughputOptions {
  /** Network (default resnet50). */
  arch: Arch;
  /** Base width instead of the network's own (null: its own). */
  width?: number | null;
  /** Batch sizes. */
  batches: number[];
  /** Timed steps per set and batch. */
  steps: number;
  /** Kernel sets, stock first for the ratios. */
  modes: Mode[];
  /** One profiled step per set. */
  profile?: boolean;
  /** In the profile, split every kernel by its input shapes, not only the convolutions. */
  profileShapes?: boolean;
  /** Profile rows. */
  top?: number;
  /** The adapter's GEMM roofline (GFLOP/s) the profile is read against; measured when absent. */
  rooflineGflops?: number;
  /** Also time PyTorch on the same cores (tools/torch_throughput.py), after the tfjs runs. */
  torch?: boolean;
}

/** PyTorch's row: torchvision ResNet50 on the same CPU threads (tools/torch_throughput.py). */
export interface TorchRow {
  batch: number;
  medianSeconds: number;
  imagesPerSecond: number;
  version: string;
}

/**
 * Run tools/torch_throughput.py for `batches` (Debian's python3-torch) and parse its rows; throws with its
 * output when it fails.
 *
 * @example
 * ```ts
 * const rows = await torchThroughput([16]);
 * console.log(rows[0].imagesPerSecond);
 * ```
 */
export async function torchThroughput(batches: number[]): Promise<TorchRow[]> {
  const script = new URL("../tools/torch_throughput.py", import.meta.url).pathname;
  // Debian's interpreter, where python3-torch lives (a pyenv python3 may come first on PATH)
  let python = "python3";
  try {
    if (Deno.statSync("/usr/bin/python3").isFile) python = "/usr/bin/python3";
  } catch { /* no Debian python: whatever python3 is on PATH */ }
  const out = await new Deno.Command(python, { args: [script, batches.join(",")], stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`Cannot time PyTorch: ${script} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return [...text.matchAll(/torch (\S+) resnet50 batch (\d+): median step ([\d.]+) s, ([\d.]+) img\/s/g)].map(
    (m) => ({
      version: m[1],
      batch: Number(m[2]),
      medianSeconds: Number(m[3]),
      imagesPerSecond: Number(m[4]),
    }),
  );
}

/**
 * The adapter's GEMM roofline: the best of bench/roofline_bench.ts's fastest variants on a 512³ GEMM, on
 * the tfjs backend's device.
 *
 * @example
 * ```ts
 * import { selectBackend } from "../lib/webgpu/mod.ts";
 * await selectBackend("webgpu", { kernels: "stock" });
 * console.log(await measureRoofline());
 * ```
 */
export async function measureRoofline(): Promise<{ gflops: number; name: string }> {
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const variants = [
    registerTiled(512, { rows: 32, cols: 32, workgroup: 8 }),
    registerTiled(512, { rows: 16, cols: 32, workgroup: 8 }),
  ];
  const rows = await roofline(device, 512, { variants, seconds: 1 });
  const best = rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: best.gflops, name: best.name };
}

/** The bench's report: the adapter, every result, and the printed table. */
export interface ThroughputReport {
  adapter: AdapterDescription;
  arch: Arch;
  results: ModeResult[];
  /** The markdown table and loss lines printed. */
  lines: string[];
  /** The roofline the profile was read against (with `profile`). */
  roofline?: { gflops: number; name: string };
  /** PyTorch's rows (with `torch`). */
  torch?: TorchRow[];
}

/**
 * Parse `--modes`: a comma list of stock, cpu, cpu-prev, gpu, duplicates dropped.
 *
 * @example
 * ```ts
 * parseModes("stock,cpu-prev,cpu"); // ["stock", "cpu-prev", "cpu"]
 * ```
 */
export function parseModes(text: string): Mode[] {
  const modes: Mode[] = [];
  for (const raw of text.split(",").map((m) => m.trim()).filter(Boolean)) {
    const m = raw;
    if (!(KERNEL_SETS as readonly string[]).includes(m)) {
      throw new Error(`unknown mode "${raw}"; use one of ${KERNEL_SETS.join(", ")}`);
    }
    if (!modes.includes(m as Mode)) modes.push(m as Mode);
  }
  return modes;
}

/**
 * Run the bench on the active webgpu backend: every batch size, every set; print as it goes and return the
 * figures and the summary table.
 *
 * @example
 * ```ts
 * import { selectBackend } from "../lib/webgpu/mod.ts";
 * const { adapter } = await selectBackend("webgpu", { kernels: "stock" });
 * const report = await runThroughput(adapter!, { arch: "tiny", batches: [4], steps: 1, modes: ["stock", "cpu"] });
 * ```
 */
export async function runThroughput(
  adapter: AdapterDescription,
  options: ThroughputOptions,
): Promise<ThroughputReport> {
  const { arch, batches, steps, modes } = options;
  const all: ModeResult[] = [];
  for (const batch of batches) {
    console.log(`\n${arch}, batch ${batch}:`);
    all.push(
      ...await benchBatch(arch, batch, {
        steps,
        modes,
        profile: options.profile,
        profileShapes: options.profileShapes,
        top: options.top,
        width: options.width,
      }),
    );
  }
  let torch: TorchRow[] | undefined;
  if (options.torch) {
    // after an hour of tfjs runs, a missing PyTorch must not cost the table: one line, and the rows go on
    torch = await torchThroughput(batches).catch((e) => {
      console.error(`bench: no PyTorch row: ${(e as Error).message.split("\n")[0]}`);
      return undefined;
    });
  }
  const lines: string[] = [];
  lines.push(
    `| batch | kernels | median step s (steps) | train img/s | vs stock | vs cpu-prev | live tensors |`,
  );
  lines.push("| --- | --- | --- | --- | --- | --- | --- |");
  const ratio = (r: ModeResult, mode: Mode) => {
    const base = all.find((s) => s.batch === r.batch && s.mode === mode);
    return base ? (r.imagesPerSecond / base.imagesPerSecond).toFixed(2) + "×" : "–";
  };
  for (const batch of batches) {
    for (const r of all.filter((r) => r.batch === batch)) {
      lines.push(
        `| ${r.batch} | ${r.mode} | ${r.medianSeconds.toFixed(3)} (${r.seconds.length}) | ` +
          `${r.imagesPerSecond.toFixed(2)} | ${ratio(r, "stock")} | ${ratio(r, "cpu-prev")} | ` +
          `${r.tensors[0]} → ${r.tensors[1]} |`,
      );
    }
    const t = torch?.find((t) => t.batch === batch);
    if (t) {
      const cpu = all.find((r) => r.batch === batch && r.mode === "cpu");
      lines.push(
        `| ${batch} | PyTorch ${t.version} (CPU) | ${t.medianSeconds.toFixed(3)} (3) | ${
          t.imagesPerSecond.toFixed(1)
        } | ` +
          `${
            cpu ? `cpu is ${(100 * cpu.imagesPerSecond / t.imagesPerSecond).toFixed(1)} % of it` : ""
          } | | |`,
      );
    }
  }
  for (const batch of batches) {
    const rows = all.filter((r) => r.batch === batch);
    const base = rows[0];
    for (const r of rows) {
      const diff = Math.max(
        ...base.losses.map((l, i) => Math.abs(l - r.losses[i]) / Math.max(1e-6, Math.abs(l))),
      );
      lines.push(
        `batch ${batch}: losses ${r.mode.padEnd(5)} ${r.losses.map((l) => l.toFixed(5)).join(" ")}` +
          (r === base ? "" : ` (max rel diff to ${base.mode} ${diff.toExponential(2)})`),
      );
    }
  }
  let roofline: { gflops: number; name: string } | undefined;
  if (all.some((r) => r.profile)) {
    roofline = options.rooflineGflops
      ? { gflops: options.rooflineGflops, name: "given" }
      : await measureRoofline();
    for (const r of all.filter((r) => r.profile)) {
      lines.push(
        "",
        `Profile of one ${arch} training step, batch ${r.batch}, ${r.mode} kernels, against a GEMM roofline of ` +
          `${roofline.gflops.toFixed(2)} GFLOP/s (${roofline.name}, 512³):`,
        "",
        ...profileTable(r.profile!, {
          rooflineGflops: roofline.gflops,
          stepSeconds: r.medianSeconds,
          top: options.top,
        }),
      );
    }
  }
  console.log("\n" + lines.join("\n"));
  return { adapter, arch, results: all, lines, roofline, torch };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      arch: { type: "string", default: "resnet50" },
      width: { type: "string" },
      batch: { type: "string", default: "16,32,64" },
      steps: { type: "string", default: "3" },
      modes: { type: "string", default: "stock,cpu" },
      profile: { type: "boolean", default: false },
      "profile-shapes": { type: "boolean", default: false },
      torch: { type: "boolean", default: false },
      roofline: { type: "string" },
      top: { type: "string", default: "15" },
      "grad-check": { type: "boolean", default: false },
      json: { type: "string" },
    },
  });
  const arch = values.arch as Arch;
  if (!ARCHS.includes(arch)) throw new Error(`--arch must be one of ${ARCHS.join(", ")}`);
  const modes = parseModes(values.modes);
  const batches = values.batch.split(",").map(Number);
  const steps = Number(values.steps);
  const { adapter } = await selectBackend("webgpu", { stage: "bench", kernels: "stock" }) as {
    adapter: AdapterDescription;
  };
  // a kernel whose shader fails leaves its output buffer unwritten: make such errors loud
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.addEventListener("uncapturederror", (e) => {
    console.error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  console.log(`adapter: ${formatAdapter(adapter)} (isFallbackAdapter: ${adapter.isFallbackAdapter})`);
  console.log(
    `deno ${Deno.version.deno}, tfjs ${tf.version_core}, ${navigator.hardwareConcurrency} CPU threads, ` +
      `load ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
  );
  if (values["grad-check"]) {
    for (const batch of batches) {
      for (const set of modes) {
        if (set === "stock") continue;
        const { worst, weight } = await compareGradients(arch, batch, set);
        console.log(
          `${arch}, batch ${batch}: gradients ${set} vs stock, worst relative error ${
            worst.toExponential(2)
          } (${weight})`,
        );
      }
    }
    Deno.exit(0);
  }
  const report = await runThroughput(adapter, {
    arch,
    width: values.width ? Number(values.width) : null,
    batches,
    steps,
    modes,
    profile: values.profile || values["profile-shapes"],
    profileShapes: values["profile-shapes"],
    top: Number(values.top),
    torch: values.torch,
    rooflineGflops: values.roofline ? Number(values.roofline) : undefined,
  });
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
  }
}
