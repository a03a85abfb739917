/**
 * Training throughput of a ResNet on this machine's WebGPU adapter: images per second at each batch size,
 * the median of a few steps after a warm-up step (the warm-up compiles shaders), with the live tensor count
 * before and after the timed steps (equal: no leak). `--cpu` adds one cpu-backend step as a reference row
 * (ResNet50 at batch 16 takes about 3 minutes there).
 *
 * ```sh
 * deno run -A --unstable-webgpu bench/train_bench.ts                       # resnet50, batch 16 and 32
 * deno run -A --unstable-webgpu bench/train_bench.ts --batch 16 --steps 3 --cpu
 * deno run -A --unstable-webgpu bench/train_bench.ts --arch tiny --json out.json
 * ```
 *
 * Options: `--arch A` (default resnet50), `--batch 16,32`, `--steps N` timed steps (default 3), `--eval`
 * also times inference (images per second of `model.predict`), `--kernels auto|cpu|gpu|stock` (default auto:
 * the kernel set chosen for the adapter, lib/webgpu/kernel_policy.ts; stock: tfjs's own), `--cpu` (adds the cpu row),
 * `--cpu-only` (only the cpu row), `--json FILE`.
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { type Arch, ARCHS, buildResNet } from "../lib/model/mod.ts";
import {
  type AdapterDescription,
  type Backend,
  formatAdapter,
  KERNEL_POLICIES,
  type KernelPolicy,
  selectBackend,
} from "../lib/webgpu/mod.ts";
import { syntheticBatch } from "../lib/data/mod.ts";
import { createTrainStep, disposeOptimizer } from "../lib/train/mod.ts";

/** One row of the benchmark. */
export interface BenchRow {
  backend: Backend;
  arch: Arch;
  batch: number;
  /** Seconds of the first step (shader compiles included). */
  warmupSeconds: number;
  /** Median seconds of the timed steps. */
  medianSeconds: number;
  /** batch / medianSeconds. */
  imagesPerSecond: number;
  /** Timed steps. */
  steps: number;
  /** Live tensors before and after the timed steps. */
  tensors: [number, number];
  /** Inference images per second (with `--eval`). */
  evalImagesPerSecond?: number;
  /** The webgpu conv kernels (a policy: auto, cpu, gpu, stock). */
  kernels?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Time `steps` training steps (after one warm-up) of `arch` at batch `batch` on the active backend.
 *
 * @example
 * ```ts
 * import { selectBackend } from "../lib/webgpu/mod.ts";
 * await selectBackend("webgpu");
 * const row = await benchTrain("tiny", 16, { steps: 3, backend: "webgpu" });
 * ```
 */
export async function benchTrain(
  arch: Arch,
  batch: number,
  options: { steps: number; backend: Backend; evalToo?: boolean },
): Promise<BenchRow> {
  const model = buildResNet(arch, { numClasses: 10, seed: 1 });
  const optimizer = tf.train.momentum(1e-3, 0.9);
  try {
    const step = createTrainStep(model, optimizer, 10);
    const data = syntheticBatch(batch, 1);
    let t = performance.now();
    await step(data);
    const warmupSeconds = (performance.now() - t) / 1000;
    const before = tf.memory().numTensors;
    const times: number[] = [];
    for (let i = 0; i < options.steps; i++) {
      t = performance.now();
      await step(data);
      times.push((performance.now() - t) / 1000);
    }
    const after = tf.memory().numTensors;
    const row: BenchRow = {
      backend: options.backend,
      arch,
      batch,
      warmupSeconds,
      medianSeconds: times.length ? median(times) : warmupSeconds,
      imagesPerSecond: batch / (times.length ? median(times) : warmupSeconds),
      steps: times.length,
      tensors: [before, after],
    };
    if (options.evalToo) {
      const x = tf.tensor4d(data.x, [batch, 32, 32, 3]);
      const once = async () => {
        const y = model.predict(x) as tf.Tensor;
        await y.data();
        y.dispose();
      };
      await once();
      const evalTimes: number[] = [];
      for (let i = 0; i < Math.max(1, options.steps); i++) {
        t = performance.now();
        await once();
        evalTimes.push((performance.now() - t) / 1000);
      }
      x.dispose();
      row.evalImagesPerSecond = batch / median(evalTimes);
    }
    return row;
  } finally {
    disposeOptimizer(optimizer);
    model.dispose();
  }
}

function printRow(r: BenchRow) {
  const evalText = r.evalImagesPerSecond ? ` | ${r.evalImagesPerSecond.toFixed(2)}` : " | –";
  console.log(
    `| ${r.backend}${r.kernels ? ` (${r.kernels} kernels)` : ""} | ${r.arch} | ${r.batch} | ${
      r.warmupSeconds.toFixed(1)
    } | ${r.medianSeconds.toFixed(2)} ` +
      `(${r.steps}) | ${r.imagesPerSecond.toFixed(2)}${evalText} | ${r.tensors[0]} → ${r.tensors[1]} |`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      arch: { type: "string", default: "resnet50" },
      batch: { type: "string", default: "16,32" },
      steps: { type: "string", default: "3" },
      eval: { type: "boolean", default: false },
      cpu: { type: "boolean", default: false },
      "cpu-only": { type: "boolean", default: false },
      kernels: { type: "string", default: "auto" },
      json: { type: "string" },
    },
  });
  const arch = values.arch as Arch;
  if (!ARCHS.includes(arch)) throw new Error(`--arch must be one of ${ARCHS.join(", ")}`);
  const batches = values.batch.split(",").map(Number);
  const steps = Number(values.steps);
  const rows: BenchRow[] = [];
  let adapter: AdapterDescription | null = null;
  try {
    const kernels = values.kernels as KernelPolicy;
    if (!KERNEL_POLICIES.includes(kernels)) throw new Error(`--kernels ${KERNEL_POLICIES.join("|")}`);
    adapter = (await selectBackend("webgpu", { stage: "bench", kernels })).adapter;
  } catch (err) {
    console.log(`WebGPU: ${(err as Error).message}`);
  }
  if (adapter) console.log(`webgpu conv kernels: ${values.kernels}`);
  console.log(`adapter: ${adapter ? formatAdapter(adapter) : "none"}`);
  console.log(
    `deno ${Deno.version.deno}, tfjs ${tf.version_core}, ${navigator.hardwareConcurrency} CPU threads, ` +
      `load ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
  );
  console.log(
    "\n| backend | arch | batch | warm-up s | median step s (steps) | train img/s | eval img/s | live tensors |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  if (adapter && !values["cpu-only"]) {
    for (const batch of batches) {
      const row = await benchTrain(arch, batch, { steps, backend: "webgpu", evalToo: values.eval });
      row.kernels = values.kernels;
      rows.push(row);
      printRow(row);
    }
  }
  if (values.cpu || values["cpu-only"]) {
    await selectBackend("cpu");
    const row = await benchTrain(arch, batches[0], { steps: 0, backend: "cpu" });
    rows.push(row);
    printRow(row);
  }
  console.log(`\nload ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify({ adapter, rows }, null, 2) + "\n");
  }
}
