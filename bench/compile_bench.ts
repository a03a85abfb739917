/**
 * What a first run costs in shader compiles, kernel set against kernel set, each measured from an empty Mesa
 * shader cache (`MESA_SHADER_CACHE_DIR` pointed at a new folder, as on a fresh machine) and again with the
 * shaders cached. Every measurement is a child process of its own, so that nothing compiled by one set is
 * reused by the next.
 *
 * - `quick`: the pipeline command on the quick recipe as first measured (ResNet18 family at width 16,
 *   10,000 images × 2 epochs at batch 128, lr 0.03 → 1e-4, the first 2,000 test images), from an empty
 *   stage cache: cold (empty Mesa cache), then warm (the shaders that run compiled). Prints the whole
 *   command's wall time, cold / warm, the accuracy and the second epoch's training speed.
 * - `resnet50`: ResNet50 at batch 64 from an empty Mesa cache: the first step, a second (compiled) step, a
 *   partial batch of 36 and an evaluation of 100 images; the conv pipelines the partial batch added (none
 *   for a shape-generic set); and, in a second child, the first step's compile time by kernel family (the
 *   step profiled cold and again warm: the difference is the compiles, which llvmpipe does at a pipeline's
 *   first dispatch).
 *
 * ```sh
 * deno task bench:compile                                      # both parts, cpu-prev and cpu
 * deno task bench:compile --parts resnet50 --sets cpu          # one part, one set
 * ```
 *
 * Options: `--parts quick,resnet50`, `--sets cpu-prev,cpu` (any kernel sets), `--wgpu default,gl` (the quick
 * part under each of wgpu's backends, `DENO_WEBGPU_BACKEND`: `default` is Vulkan where Mesa's Vulkan driver
 * is installed, `gl` goes through OpenGL), `--data-url PATH` (default ../shared/data/cifar-10-binary.tar.gz),
 * `--json FILE`. Run it on an idle machine: llvmpipe slows down
 * several times beside another busy process.
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { buildResNet } from "../lib/model/mod.ts";
import {
  KERNEL_SETS,
  type KernelSet,
  pipelineCensus,
  programFamily,
  selectBackend,
  unregisterKernelSet,
} from "../lib/webgpu/mod.ts";
import { createTrainStep, momentumOptimizer } from "../lib/train/mod.ts";
import { syntheticBatch } from "../lib/data/mod.ts";

/** The quick recipe as first measured, spelled out so that it stays runnable whatever the quick preset. */
export const QUICK_RECIPE = [
  "--preset",
  "quick",
  "--arch",
  "resnet18",
  "--width",
  "16",
  "--train-limit",
  "10000",
  "--test-limit",
  "2000",
  "--epochs",
  "2",
  "--batch-size",
  "128",
  "--lr-max",
  "0.03",
  "--lr-min",
  "1e-4",
];

/** One pipeline run of the quick part. */
export interface QuickRun {
  set: KernelSet;
  /** wgpu's backend (`DENO_WEBGPU_BACKEND`): Vulkan (lavapipe) or GL (llvmpipe through EGL); default Vulkan where installed. */
  wgpu: string;
  shaders: "cold" | "warm";
  /** Wall seconds of the whole command. */
  seconds: number;
  /** Seconds of the first training step (from metrics.jsonl). */
  firstStepSeconds: number | null;
  /** Test accuracy of the last epoch. */
  accuracy: number | null;
  /** Training images per second of the second epoch. */
  imagesPerSecond: number | null;
}

/** Compile time of one kernel family in a first step. */
export interface FamilyCompile {
  family: string;
  pipelines: number;
  /** Kernel time of the family's programs in the cold step minus the warm step (ms). */
  compileMs: number;
}

/** The resnet50 part of one kernel set. */
export interface ResNet50Run {
  set: KernelSet;
  firstStepSeconds: number;
  secondStepSeconds: number;
  partialStepSeconds: number;
  evaluationSeconds: number;
  /** First step + partial batch + evaluation. */
  coldTotalSeconds: number;
  pipelines: number;
  /** Conv pipelines the partial batch and the evaluation added. */
  newConvPipelines: number;
  families: FamilyCompile[];
}

const CONV_FAMILIES = ["conv forward", "conv filter gradient", "conv input gradient", "filter transpose"];

/** Run `args` as a child with its own Mesa shader cache folder; returns wall seconds and stdout. */
async function child(
  args: string[],
  options: { mesaDir: string; wgpuBackend?: string },
): Promise<{ seconds: number; stdout: string }> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env: {
      MESA_SHADER_CACHE_DIR: options.mesaDir,
      NO_COLOR: "1",
      ...(options.wgpuBackend ? { DENO_WEBGPU_BACKEND: options.wgpuBackend } : {}),
    },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const seconds = (performance.now() - t) / 1000;
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`bench child failed (${args.join(" ")}):\n${stdout.slice(-2000)}`);
  return { seconds, stdout };
}

/** This bench as a child with `args`, from an empty Mesa shader cache; returns its last line of output. */
async function coldChild(args: string[]): Promise<string> {
  const mesaDir = await Deno.makeTempDir({ prefix: "compile-bench-mesa-" });
  try {
    const script = new URL(import.meta.url).pathname;
    const { stdout } = await child(["run", "-A", "--unstable-webgpu", script, ...args], { mesaDir });
    return stdout.trim().split("\n").at(-1)!;
  } finally {
    await Deno.remove(mesaDir, { recursive: true });
  }
}

/** The quick part for one set: a cold and a warm run, each from an empty stage cache. */
async function quickPart(set: KernelSet, options: { dataUrl: string; wgpu: string }): Promise<QuickRun[]> {
  const { dataUrl } = options;
  const wgpuBackend = options.wgpu === "default" ? undefined : options.wgpu;
  const root = await Deno.makeTempDir({ prefix: "compile-bench-" });
  const mesaDir = join(root, "mesa");
  const runs: QuickRun[] = [];
  try {
    for (const shaders of ["cold", "warm"] as const) {
      const out = join(root, `run-${shaders}`), cache = join(root, `cache-${shaders}`);
      const { seconds } = await child([
        "run",
        "-A",
        "--unstable-webgpu",
        new URL("../pipeline/main.ts", import.meta.url).pathname,
        ...QUICK_RECIPE,
        "--kernels",
        set,
        "--data-url",
        dataUrl,
        "--out",
        out,
        "--cache-dir",
        cache,
      ], { mesaDir, wgpuBackend });
      const train = JSON.parse(await Deno.readTextFile(join(out, "train", "train.json")));
      const lines = (await Deno.readTextFile(join(out, "train", "metrics.jsonl"))).split("\n")
        .map((l) => (l ? JSON.parse(l) : null));
      const start = lines.find((l) => l?.type === "start"), first = lines.find((l) => l?.type === "step");
      const run: QuickRun = {
        set,
        wgpu: options.wgpu,
        shaders,
        seconds,
        // a step line gives the step's images per second; the first step is a whole batch
        firstStepSeconds: first && start ? start.batchSize / first.imagesPerSecond : null,
        accuracy: train.epochs.at(-1)?.testAccuracy ?? null,
        imagesPerSecond: train.epochs.at(-1)?.imagesPerSecond ?? null,
      };
      console.log(`  quick ${set} ${shaders}: ${JSON.stringify(run)}`);
      runs.push(run);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  return runs;
}

/** The kernel time of every program a synchronous `f` records, by family (tfjs's timestamp queries). */
async function familyTimes(f: () => Promise<unknown>): Promise<Map<string, number>> {
  const backend = tf.backend() as unknown as {
    activeTimers: { query: Promise<number> }[] | null;
    recordAndSubmit: (program: { shaderKey: string }, ...rest: unknown[]) => void;
    time: (f: () => void) => Promise<unknown>;
  };
  const original = backend.recordAndSubmit;
  const tagged: { family: string; query: Promise<number> }[] = [];
  backend.recordAndSubmit = function (program, ...rest) {
    const before = backend.activeTimers?.length ?? 0;
    original.call(backend, program, ...rest);
    const timers = backend.activeTimers;
    if (timers && timers.length > before) {
      tagged.push({ family: programFamily(program.shaderKey), query: timers[timers.length - 1].query });
    }
  };
  let inner: Promise<unknown> = Promise.resolve();
  try {
    await backend.time(() => {
      inner = f();
    });
    await inner;
  } finally {
    backend.recordAndSubmit = original;
  }
  const times = new Map<string, number>();
  for (const { family, query } of tagged) times.set(family, (times.get(family) ?? 0) + await query);
  return times;
}

/** The resnet50 part, in this (child) process: see the module docs. */
async function resnet50Child(set: KernelSet): Promise<ResNet50Run> {
  await selectBackend("webgpu", { stage: "bench", kernels: set });
  const census = pipelineCensus(tf.backend());
  const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
  const optimizer = momentumOptimizer(1e-3, 0.9);
  const step = createTrainStep(model, optimizer, 10);
  const timed = async (f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    return (performance.now() - t) / 1000;
  };
  const convs = () => CONV_FAMILIES.reduce((n, f) => n + (census.byFamily.get(f) ?? 0), 0);
  const firstStepSeconds = await timed(() => step(syntheticBatch(64, 1)));
  const secondStepSeconds = await timed(() => step(syntheticBatch(64, 2)));
  const convsBefore = convs();
  const partialStepSeconds = await timed(() => step(syntheticBatch(36, 3)));
  const images = syntheticBatch(100, 4);
  const evaluationSeconds = await timed(async () => {
    const x = tf.tensor4d(images.x, [100, 32, 32, 3]);
    const logits = model.predict(x, { batchSize: 256 }) as tf.Tensor;
    await logits.data();
    tf.dispose([x, logits]);
  });
  const result: ResNet50Run = {
    set,
    firstStepSeconds,
    secondStepSeconds,
    partialStepSeconds,
    evaluationSeconds,
    coldTotalSeconds: firstStepSeconds + partialStepSeconds + evaluationSeconds,
    pipelines: census.total,
    newConvPipelines: convs() - convsBefore,
    families: [],
  };
  unregisterKernelSet();
  return result;
}

/**
 * The compile profile, in this (child) process: ResNet50's first step at batch 64 profiled (every program
 * timed on its own) from an empty shader cache, then the second step likewise; by kernel family, the
 * pipelines created and the cold step's extra kernel time, which is the compiles.
 */
async function compileProfileChild(set: KernelSet): Promise<FamilyCompile[]> {
  await selectBackend("webgpu", { stage: "bench", kernels: set });
  const census = pipelineCensus(tf.backend());
  const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
  const step = createTrainStep(model, momentumOptimizer(1e-3, 0.9), 10);
  const cold = await familyTimes(() => step(syntheticBatch(64, 1)));
  const warm = await familyTimes(() => step(syntheticBatch(64, 2)));
  unregisterKernelSet();
  return [...cold].map(([family, ms]) => ({
    family,
    pipelines: census.byFamily.get(family) ?? 0,
    compileMs: Math.max(0, ms - (warm.get(family) ?? 0)),
  })).sort((a, b) => b.compileMs - a.compileMs);
}

/** The printed tables of a bench run. */
export function benchTables(quick: QuickRun[], resnet50: ResNet50Run[]): string[] {
  const lines: string[] = [];
  const s = (x: number | null) => (x === null ? "–" : `${x.toFixed(1)} s`);
  if (quick.length) {
    lines.push(
      "Quick recipe (the pipeline command, empty stage cache), cold = empty Mesa shader cache, warm = shaders cached:",
      "",
      "| kernels | cold | warm | cold / warm | first step cold | accuracy (cold, warm) | epoch-2 img/s (cold, warm) |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const set of new Set(quick.map((r) => r.set))) {
      const cold = quick.find((r) => r.set === set && r.shaders === "cold")!;
      const warm = quick.find((r) => r.set === set && r.shaders === "warm")!;
      lines.push(
        `| ${set} | ${s(cold.seconds)} | ${s(warm.seconds)} | ${
          (cold.seconds / warm.seconds).toFixed(2)
        }× | ` +
          `${s(cold.firstStepSeconds)} | ${cold.accuracy}, ${warm.accuracy} | ` +
          `${cold.imagesPerSecond?.toFixed(1)}, ${warm.imagesPerSecond?.toFixed(1)} |`,
      );
    }
  }
  if (resnet50.length) {
    const base = resnet50[0];
    lines.push(
      "",
      "ResNet50, batch 64, empty Mesa shader cache:",
      "",
      "| kernels | first step | second step | partial batch (36) | evaluation (100) | first + partial + evaluation | " +
        `vs ${base.set} | pipelines | conv pipelines the partial batch added |`,
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const r of resnet50) {
      lines.push(
        `| ${r.set} | ${s(r.firstStepSeconds)} | ${s(r.secondStepSeconds)} | ${s(r.partialStepSeconds)} | ` +
          `${s(r.evaluationSeconds)} | ${s(r.coldTotalSeconds)} | ` +
          `${(r.firstStepSeconds / base.firstStepSeconds).toFixed(2)}× first, ` +
          `${
            (r.coldTotalSeconds / base.coldTotalSeconds).toFixed(2)
          }× all | ${r.pipelines} | ${r.newConvPipelines} |`,
      );
    }
    for (const r of resnet50) {
      lines.push(
        "",
        `Compiles of ResNet50's first step at batch 64 by kernel family, ${r.set} (the step profiled cold, ` +
          "minus the same step warm):",
        "",
        "| family | new pipelines | compile |",
        "| --- | --- | --- |",
        ...r.families.filter((f) => f.pipelines > 0 || f.compileMs > 50).map((f) =>
          `| ${f.family} | ${f.pipelines} | ${(f.compileMs / 1000).toFixed(1)} s |`
        ),
      );
    }
  }
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      parts: { type: "string", default: "quick,resnet50" },
      sets: { type: "string", default: "cpu-prev,cpu" },
      "data-url": {
        type: "string",
        default: new URL("../../shared/data/cifar-10-binary.tar.gz", import.meta.url).pathname,
      },
      json: { type: "string" },
      child: { type: "string" },
      profile: { type: "boolean", default: false },
      wgpu: { type: "string", default: "default" },
    },
  });
  const sets = values.sets.split(",") as KernelSet[];
  for (const set of sets) {
    if (!(KERNEL_SETS as readonly string[]).includes(set)) {
      console.error(`compile bench: unknown kernel set "${set}"; use ${KERNEL_SETS.join(", ")}`);
      Deno.exit(2);
    }
  }
  if (values.child) {
    const set = values.child as KernelSet;
    console.log(JSON.stringify(values.profile ? await compileProfileChild(set) : await resnet50Child(set)));
    Deno.exit(0);
  }
  const parts = values.parts.split(",");
  console.log(
    `compile bench: ${navigator.hardwareConcurrency} CPU threads, load ${
      Deno.loadavg().map((l) => l.toFixed(1)).join(" ")
    }, deno ${Deno.version.deno}`,
  );
  const quick: QuickRun[] = [];
  const resnet50: ResNet50Run[] = [];
  for (const set of sets) {
    if (parts.includes("resnet50")) {
      const [timing, profile] = [false, true].map((
        p,
      ) => ["--child", set, "--sets", set, ...(p ? ["--profile"] : [])]);
      const run = JSON.parse(await coldChild(timing)) as ResNet50Run;
      run.families = JSON.parse(await coldChild(profile)) as FamilyCompile[];
      console.log(`  resnet50 ${set}: ${JSON.stringify(run)}`);
      resnet50.push(run);
    }
    if (parts.includes("quick")) {
      for (const wgpu of values.wgpu.split(",")) {
        quick.push(...await quickPart(set, { dataUrl: values["data-url"], wgpu }));
      }
    }
  }
  const lines = benchTables(quick, resnet50);
  console.log("\n" + lines.join("\n"));
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify({ quick, resnet50, lines }, null, 2));
}
