/**
 * The one-shot GPU check: pack what a lent GPU machine needs into one ignored folder, run everything there
 * in one call, and bring one JSON and one log back.
 *
 * ```sh
 * deno task gpu-check                      # pack into .gpucheck/ (≤ 64 MiB, measured and printed)
 * deno task gpu-check rehearse             # pack tiny, unpack in a temp folder, run offline here (llvmpipe)
 * # on the GPU machine, in one call (carry [".gpucheck"]):
 * bash .gpucheck/run.sh                    # writes $OUT/gpu_check.json and $OUT/gpu_check.log
 * ```
 *
 * What `pack` puts in the folder: the deno binary compressed with xz, the node_modules the check's module
 * graph imports (source maps and type declarations left out), the project's files (tracked and untracked,
 * not ignored), a CIFAR-10 subset (the first records of data_batch_1.bin and test_batch.bin, as many as
 * fit), Vulkan loader packages where apt can download them, and `run.sh`. What `run` does there: print the
 * adapter and its limits; run the throughput bench with the stock, cpu and gpu kernels side by side
 * (ResNet50 at batch 64 and 256: medians, ratios, live tensors); run the PyTorch peer
 * (tools/gpu_check_torch.py) for the same network and batches on CUDA; train the seed recipe (ResNet50, batch
 * 256, Momentum 0.9, lr 1e-3, crop + flip) for one epoch on the subset with `--kernels auto` and evaluate it; write
 * `gpu_check.json` and `gpu_check.log` into the output folder. Each phase is timed and a phase that fails
 * is recorded and the next runs; a time budget skips what would not fit.
 *
 * @example
 * ```ts
 * import { packGpuCheck } from "./gpu_check.ts";
 * const manifest = await packGpuCheck({ dir: ".gpucheck" });
 * console.log(manifest.totalBytes <= 64 * 2 ** 20); // true
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { type Arch, buildResNet, evaluateBatches } from "../lib/model/mod.ts";
import {
  type AdapterDescription,
  formatAdapter,
  resolveKernelPolicy,
  selectBackend,
} from "../lib/webgpu/mod.ts";
import { createTrainStep, disposeOptimizer } from "../lib/train/mod.ts";
import {
  chwToHwc,
  createAugmentPlan,
  IMAGE_BYTES,
  RECORD_BYTES,
  type SplitData,
  testBatches,
  trainBatches,
} from "../lib/data/mod.ts";
import { SEED_PRESET } from "../lib/config/mod.ts";
import { parseModes, runThroughput } from "../bench/throughput_bench.ts";

/** The project's root folder. */
const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const MiB = 2 ** 20;
/** What one call to the GPU machine carries at most. */
export const CARRY_LIMIT_BYTES = 64 * MiB;
/** Room left for the working tree itself and for rounding. */
const HEADROOM_BYTES = 3 * MiB;
/** The Vulkan/EGL loader packages the device README names. */
const LOADER_PACKAGES = ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"];

/** One file of the packed folder. */
export interface PackedFile {
  name: string;
  bytes: number;
}

/** What {@linkcode packGpuCheck} wrote. */
export interface PackManifest {
  dir: string;
  files: PackedFile[];
  totalBytes: number;
  trainRecords: number;
  testRecords: number;
  npmPackages: string[];
  loaders: string;
}

/** Options of {@linkcode packGpuCheck}. */
export interface PackOptions {
  /** The folder to fill (default `.gpucheck` in the project). */
  dir?: string;
  /** CIFAR-10 archive (default $CIFAR10_ARCHIVE, else ../shared/data/cifar-10-binary.tar.gz). */
  archive?: string;
  /** Train records to carry (default: as many of data_batch_1's 10,000 as fit). */
  trainRecords?: number;
  /** Test records to carry (default 2,000). */
  testRecords?: number;
  /** Try to bring the Vulkan loader packages (default true). */
  loaders?: boolean;
  /** Compress deno with `xz -1` when no cached `xz -6` copy exists (the rehearsal; default false). */
  fast?: boolean;
}

async function sh(script: string, options: { cwd?: string } = {}): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `set -o pipefail; ${script}`],
    cwd: options.cwd ?? ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) {
    throw new Error(`gpu_check: command failed (${script.slice(0, 80)}): ${stderr.split("\n").at(-1)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The npm packages (node_modules/.deno folders) that this check's module graph imports, with their deps. */
async function npmClosure(): Promise<{ roots: string[]; folders: string[] }> {
  const info = JSON.parse(await sh(`${quote(Deno.execPath())} info --json tools/gpu_check.ts`)) as {
    modules: { specifier: string }[];
    npmPackages: Record<string, { name: string; dependencies: string[]; localPath?: string }>;
  };
  const ids = Object.keys(info.npmPackages);
  const rootSpecs = info.modules.map((m) => m.specifier).filter((s) => s.startsWith("npm:/"));
  const roots = new Set<string>();
  for (const spec of rootSpecs) {
    const nameVer = spec.slice(5);
    const id = ids.find((i) => i === nameVer || i.startsWith(`${nameVer}_`));
    if (id) roots.add(id);
  }
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !info.npmPackages[id]) return;
    seen.add(id);
    for (const dep of info.npmPackages[id].dependencies) visit(dep);
  };
  roots.forEach(visit);
  const folders = [...seen].map((id) => {
    const local = info.npmPackages[id].localPath ?? "";
    const m = local.match(/node_modules\/\.deno\/([^/]+)\//);
    if (!m) throw new Error(`gpu_check: no node_modules folder for ${id}; run a deno task once first`);
    return `node_modules/.deno/${m[1]}`;
  });
  const links = [...roots].map((id) => `node_modules/${info.npmPackages[id].name}`);
  return { roots: [...roots], folders: [...new Set([...folders, ...links])].sort() };
}

/**
 * The files and links to carry of the given node_modules folders. A package whose `main` is a `.node.js`
 * bundle (each tfjs package: Deno loads that one) keeps only its package.json and that bundle, not its
 * other builds (ESM files, browser bundles, minified copies); source maps, type declarations and docs go.
 */
async function carriedFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  const mains = new Map<string, string | null>();
  const mainOf = async (pkg: string) => {
    if (!mains.has(pkg)) {
      let main: string | null = null;
      try {
        const json = JSON.parse(await Deno.readTextFile(join(ROOT, pkg, "package.json")));
        if (typeof json.main === "string" && json.main.endsWith(".node.js")) main = join(pkg, json.main);
      } catch {
        // not a package root
      }
      mains.set(pkg, main);
    }
    return mains.get(pkg)!;
  };
  const visit = async (rel: string) => {
    const stat = await Deno.lstat(join(ROOT, rel));
    if (stat.isSymlink) return void out.push(rel);
    if (stat.isDirectory) {
      for await (const e of Deno.readDir(join(ROOT, rel))) await visit(join(rel, e.name));
      return;
    }
    if (/\.(map|d\.ts|md)$/.test(rel)) return;
    const pkg = rel.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/@.][^/]*)\//)?.[1];
    const main = pkg ? await mainOf(pkg) : null;
    if (main && rel !== main && rel !== join(pkg!, "package.json")) return;
    out.push(rel);
  };
  for (const p of paths) await visit(p);
  return out.sort();
}

async function fileSize(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

/**
 * The deno binary, xz-compressed (-6), cached by version in .cache/ (compressing takes about a minute).
 * With `fast` and no cached copy, a quick `xz -1` copy in `dir` that is not cached (the rehearsal's).
 */
async function compressedDeno(fast: boolean, dir: string): Promise<string> {
  const cache = join(ROOT, ".cache", "gpu_check");
  await Deno.mkdir(cache, { recursive: true });
  const size = await fileSize(Deno.execPath());
  const path = join(cache, `deno-${Deno.version.deno}-${size}.xz`);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    const target = fast ? join(dir, "deno-fast.xz") : path;
    const level = fast ? 1 : 6;
    await sh(
      `xz -T0 -${level} -c ${quote(Deno.execPath())} > ${quote(target)}.tmp && mv ${quote(target)}.tmp ${
        quote(target)
      }`,
    );
    return target;
  }
}

/** The device's run script: loaders, unpacking, then `gpu_check.ts run`. */
function runScript(): string {
  return `#!/usr/bin/env bash
# The GPU check's entry on the lent machine: bash .gpucheck/run.sh [OUT]. Written by tools/gpu_check.ts pack.
set -u
HERE="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
OUT="\${1:-\${OUT:-$HERE/out}}"
mkdir -p "$OUT"
WORK="\${GPU_CHECK_WORK:-/tmp/gpucheck}"
rm -rf "$WORK" && mkdir -p "$WORK/bin" "$WORK/project"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
echo "gpu_check: unpacking into $WORK"
if [ -z "\${GPU_CHECK_REHEARSE:-}" ]; then
  if ! ldconfig -p | grep -q libvulkan && ls "$HERE"/loaders/*.deb >/dev/null 2>&1; then
    for f in "$HERE"/loaders/*.deb; do dpkg -x "$f" /; done; ldconfig
  fi
  ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$ICD" ] && export VK_DRIVER_FILES="$ICD"
  EGL=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$EGL" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$EGL"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
fi
# xz where the machine has it, else Python's lzma
unxz() { if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi; }
unxz "$HERE/deno.xz" > "$WORK/bin/deno" && chmod +x "$WORK/bin/deno"
unxz "$HERE/project.tar.xz" | tar -C "$WORK/project" -xf -
unxz "$HERE/node_modules.tar.xz" | tar -C "$WORK/project" -xf -
export DENO_DIR="$WORK/deno_dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
cd "$WORK/project"
"$WORK/bin/deno" run -A --unstable-webgpu --node-modules-dir=manual --no-lock tools/gpu_check.ts run \\
  --out "$OUT" --data "$HERE/cifar" \${GPU_CHECK_REHEARSE:+--rehearse}
`;
}

/**
 * Fill `options.dir` with everything the GPU machine needs (see the module doc); throws one line if the
 * total would pass {@linkcode CARRY_LIMIT_BYTES}. Returns what it wrote, with sizes.
 *
 * @example
 * ```ts
 * const m = await packGpuCheck({ dir: "/tmp/gpucheck", trainRecords: 64, testRecords: 32, loaders: false });
 * console.log(m.files.map((f) => `${f.name} ${f.bytes}`));
 * ```
 */
export async function packGpuCheck(options: PackOptions = {}): Promise<PackManifest> {
  const dir = resolve(options.dir ?? join(ROOT, ".gpucheck"));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(dir, "cifar"), { recursive: true });
  const denoXz = await compressedDeno(options.fast ?? false, dir);
  if (denoXz.startsWith(dir)) await Deno.rename(denoXz, join(dir, "deno.xz"));
  else await Deno.copyFile(denoXz, join(dir, "deno.xz"));

  const { roots, folders } = await npmClosure();
  const list = join(dir, "node_modules.list");
  await Deno.writeTextFile(list, (await carriedFiles(folders)).join("\n") + "\n");
  await sh(
    `tar -cf - --no-recursion -T ${quote(list)} | xz -T0 -6 > ${quote(join(dir, "node_modules.tar.xz"))}`,
  );
  await Deno.remove(list);
  await sh(
    `git ls-files -co --exclude-standard -z | tar --null -T - -cf - | xz -T0 -6 > ${
      quote(join(dir, "project.tar.xz"))
    }`,
  );

  let loaders = "not asked for";
  if (options.loaders ?? true) {
    await Deno.mkdir(join(dir, "loaders"));
    try {
      const o = "-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64";
      await sh(
        `mkdir -p /tmp/amd64/partial && (apt-get ${o} update >/dev/null 2>&1 || true) && cd ${
          quote(join(dir, "loaders"))
        } && apt-get ${o} download ${LOADER_PACKAGES.join(" ")} >/dev/null 2>&1`,
      );
      loaders = LOADER_PACKAGES.join(", ");
    } catch (err) {
      loaders = `apt-get download failed (${(err as Error).message}); run.sh uses the machine's own loaders`;
    }
  }
  await Deno.writeTextFile(join(dir, "run.sh"), runScript(), { mode: 0o755 });

  const archive = options.archive ?? Deno.env.get("CIFAR10_ARCHIVE") ??
    resolve(ROOT, "..", "shared", "data", "cifar-10-binary.tar.gz");
  const fixed = await sumSizes(dir);
  const room = CARRY_LIMIT_BYTES - HEADROOM_BYTES - fixed;
  const testRecords = options.testRecords ?? 2000;
  const trainRecords = options.trainRecords ??
    Math.max(0, Math.min(10_000, Math.floor((room - testRecords * RECORD_BYTES) / RECORD_BYTES / 256) * 256));
  const member = (name: string, records: number, out: string) =>
    sh(
      `(tar -xzOf ${quote(archive)} cifar-10-batches-bin/${name} || true) | head -c ${
        records * RECORD_BYTES
      } > ${quote(join(dir, "cifar", out))}`,
    );
  await member("data_batch_1.bin", trainRecords, "train.bin");
  await member("test_batch.bin", testRecords, "test.bin");
  for (const [name, n] of [["train.bin", trainRecords], ["test.bin", testRecords]] as const) {
    const got = await fileSize(join(dir, "cifar", name));
    if (got !== n * RECORD_BYTES) {
      throw new Error(`gpu_check: ${name} from ${archive} has ${got} bytes, expected ${n * RECORD_BYTES}`);
    }
  }
  const files: PackedFile[] = [];
  for await (const path of walkFiles(dir)) {
    files.push({ name: path.slice(dir.length + 1), bytes: await fileSize(path) });
  }
  files.sort((a, b) => b.bytes - a.bytes);
  const totalBytes = files.reduce((n, f) => n + f.bytes, 0);
  const manifest: PackManifest = {
    dir,
    files,
    totalBytes,
    trainRecords,
    testRecords,
    npmPackages: roots,
    loaders,
  };
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  if (totalBytes > CARRY_LIMIT_BYTES - HEADROOM_BYTES) {
    throw new Error(
      `gpu_check: the packed folder is ${(totalBytes / MiB).toFixed(1)} MiB, over the ${
        (CARRY_LIMIT_BYTES - HEADROOM_BYTES) / MiB
      } MiB a call may carry`,
    );
  }
  return manifest;
}

async function* walkFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walkFiles(p);
    else if (e.isFile) yield p;
  }
}

async function sumSizes(dir: string): Promise<number> {
  let n = 0;
  for await (const p of walkFiles(dir)) n += await fileSize(p);
  return n;
}

/** A CIFAR-10 binary file's records as a split (HWC images). */
async function readRecords(path: string): Promise<SplitData> {
  const bytes = await Deno.readFile(path);
  const count = Math.floor(bytes.length / RECORD_BYTES);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const r = i * RECORD_BYTES;
    labels[i] = bytes[r];
    chwToHwc(
      bytes.subarray(r + 1, r + RECORD_BYTES),
      images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES),
    );
  }
  return { images, labels, count };
}

/** The sizes of one `run`: the full check on a GPU, or the rehearsal's tiny one. */
interface RunSizes {
  benchArch: Arch;
  benchBatches: number[];
  benchSteps: number;
  trainArch: Arch;
  trainBatch: number;
  torchArch: string;
  torchBatches: number[];
  torchSteps: number;
  torchDevice: string;
  /** Seconds after which the remaining phases are skipped. */
  budgetSeconds: number;
}

const FULL: RunSizes = {
  benchArch: "resnet50",
  benchBatches: [64, 256],
  benchSteps: 5,
  trainArch: SEED_PRESET.arch,
  trainBatch: SEED_PRESET.batchSize,
  torchArch: "resnet50",
  torchBatches: [64, 256],
  torchSteps: 10,
  torchDevice: "cuda",
  budgetSeconds: 520,
};

const REHEARSAL: RunSizes = {
  benchArch: "tiny",
  benchBatches: [2],
  benchSteps: 1,
  trainArch: "tiny",
  trainBatch: 16,
  torchArch: "resnet18",
  torchBatches: [2],
  torchSteps: 1,
  torchDevice: "cpu",
  budgetSeconds: 170,
};

/** One phase's record in gpu_check.json. */
interface PhaseRecord {
  name: string;
  status: "ok" | "failed" | "skipped";
  seconds: number;
  error?: string;
  result?: unknown;
}

/**
 * Run the check (on the GPU machine, or here with `rehearse`) and write `gpu_check.json` and
 * `gpu_check.log` into `out`. Returns the JSON written.
 *
 * @example
 * ```ts
 * const report = await runGpuCheck({ out: "/tmp/out", data: ".gpucheck/cifar", rehearse: true });
 * ```
 */
export async function runGpuCheck(
  options: { out: string; data: string; rehearse?: boolean },
): Promise<Record<string, unknown>> {
  const sizes = options.rehearse ? REHEARSAL : FULL;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  await Deno.mkdir(options.out, { recursive: true });
  const jsonPath = join(options.out, "gpu_check.json");
  const phases: PhaseRecord[] = [];
  const report: Record<string, unknown> = {
    rehearsal: Boolean(options.rehearse),
    startedAt: new Date().toISOString(),
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    sizes,
    phases,
  };
  const save = () => Deno.writeTextFile(jsonPath, JSON.stringify(report, null, 2) + "\n");
  const phase = async (name: string, fn: () => Promise<unknown>, expectedSeconds: number) => {
    const t = performance.now();
    if (elapsed() + expectedSeconds > sizes.budgetSeconds) {
      console.log(
        `\n== ${name}: skipped (${elapsed().toFixed(0)} s used of a ${sizes.budgetSeconds} s budget)`,
      );
      phases.push({ name, status: "skipped", seconds: 0 });
      await save();
      return;
    }
    console.log(`\n== ${name} (at ${elapsed().toFixed(1)} s)`);
    try {
      const result = await fn();
      phases.push({ name, status: "ok", seconds: (performance.now() - t) / 1000, result });
    } catch (err) {
      const error = err instanceof Error ? err.message.split("\n")[0] : String(err);
      console.log(`error: ${name}: ${error}`);
      phases.push({ name, status: "failed", seconds: (performance.now() - t) / 1000, error });
    }
    await save();
  };

  let adapter: AdapterDescription | null = null;
  await phase("adapter", async () => {
    const info = await selectBackend("webgpu", { stage: "gpu-check", kernels: "stock" });
    adapter = info.adapter;
    const auto = resolveKernelPolicy("auto", adapter);
    console.log(`adapter: ${formatAdapter(adapter)} (isFallbackAdapter: ${adapter?.isFallbackAdapter})`);
    console.log(`limits: ${JSON.stringify(info.limits)}`);
    console.log(`--kernels auto resolves to: ${auto}`);
    const features = [...((tf.backend() as unknown as { device: GPUDevice }).device.features ?? [])].sort();
    console.log(`device features: ${features.join(", ")}`);
    report.adapter = adapter;
    return { adapter, limits: info.limits, autoKernels: auto, features };
  }, 0);

  await phase("throughput", async () => {
    if (!adapter) throw new Error("no WebGPU adapter");
    const r = await runThroughput(adapter, {
      arch: sizes.benchArch,
      batches: sizes.benchBatches,
      steps: sizes.benchSteps,
      modes: parseModes("stock,cpu,gpu"),
    });
    return { results: r.results, table: r.lines };
  }, 30);

  await phase("torch", async () => {
    const json = join(options.out, "torch.json");
    const python = Deno.env.get("GPU_CHECK_PYTHON") ?? "python3";
    const child = await new Deno.Command(python, {
      args: [
        join(ROOT, "tools", "gpu_check_torch.py"),
        "--device",
        sizes.torchDevice,
        "--arch",
        sizes.torchArch,
        "--batches",
        sizes.torchBatches.join(","),
        "--steps",
        String(sizes.torchSteps),
        "--json",
        json,
      ],
      env: { PYTHONUNBUFFERED: "1" },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!child.success) throw new Error(`${python} tools/gpu_check_torch.py exited with ${child.code}`);
    const torch = JSON.parse(await Deno.readTextFile(json));
    await Deno.remove(json);
    return torch;
  }, 20);

  await phase("train", async () => {
    const info = await selectBackend("webgpu", { stage: "gpu-check", kernels: "auto" });
    const train = await readRecords(join(options.data, "train.bin"));
    const test = await readRecords(join(options.data, "test.bin"));
    const recipe = SEED_PRESET;
    const model = buildResNet(sizes.trainArch, { numClasses: recipe.numClasses, seed: recipe.seed });
    // the seed recipe's first epoch: its lr is lrMax (the per-epoch cosine starts there)
    const optimizer = tf.train.momentum(recipe.lrMax, recipe.momentum);
    try {
      const plan = createAugmentPlan({
        seed: recipe.seed,
        epochs: 1,
        count: train.count,
        cropPadding: recipe.cropPadding,
        flipProbability: recipe.flipProbability,
      });
      const step = createTrainStep(model, optimizer, recipe.numClasses);
      const losses: number[] = [];
      const stepSeconds: number[] = [];
      const t0 = performance.now();
      const tensorsBefore = tf.memory().numTensors;
      for await (
        const batch of trainBatches(train, plan, {
          epoch: 0,
          batchSize: sizes.trainBatch,
          mean: recipe.mean,
          std: recipe.std,
        })
      ) {
        const t = performance.now();
        losses.push(await step(batch));
        stepSeconds.push((performance.now() - t) / 1000);
        console.log(
          `  step ${losses.length}: loss ${losses.at(-1)!.toFixed(4)}, ${stepSeconds.at(-1)!.toFixed(3)} s`,
        );
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const evaluation = await evaluateBatches(
        model,
        testBatches(test, { batchSize: recipe.evalBatchSize, mean: recipe.mean, std: recipe.std }),
        { numClasses: recipe.numClasses },
      );
      const result = {
        kernels: info.kernels,
        arch: sizes.trainArch,
        batchSize: sizes.trainBatch,
        trainImages: train.count,
        testImages: test.count,
        steps: losses.length,
        meanLoss: losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length),
        losses,
        trainSeconds,
        // the first step compiles the shaders: the steady figure leaves it out
        steadyImagesPerSecond: losses.length > 1
          ? (train.count - sizes.trainBatch) / stepSeconds.slice(1).reduce((a, b) => a + b, 0)
          : null,
        testAccuracy: evaluation.accuracy,
        evalSeconds: (performance.now() - t1) / 1000,
        liveTensors: [tensorsBefore, tf.memory().numTensors],
      };
      console.log(
        `train: ${result.steps} steps of ${sizes.trainBatch} (${info.kernels} kernels), mean loss ${
          result.meanLoss.toFixed(4)
        }, ${trainSeconds.toFixed(1)} s; test accuracy ${evaluation.accuracy.toFixed(4)} on ${test.count}`,
      );
      return result;
    } finally {
      disposeOptimizer(optimizer);
      model.dispose();
    }
  }, 30);

  report.seconds = elapsed();
  report.summary = summarize(phases);
  console.log(`\n== summary\n${(report.summary as string[]).join("\n")}`);
  await save();
  return report;
}

/** The lines a reader wants first: our img/s per set and batch, and the ratio to PyTorch. */
function summarize(phases: PhaseRecord[]): string[] {
  const lines: string[] = phases.map((p) => `${p.name}: ${p.status} (${p.seconds.toFixed(1)} s)`);
  const bench = phases.find((p) => p.name === "throughput" && p.status === "ok")?.result as
    | { results: { mode: string; batch: number; imagesPerSecond: number }[] }
    | undefined;
  const torch = phases.find((p) => p.name === "torch" && p.status === "ok")?.result as
    | { rows: { batch: number; tf32: boolean; imagesPerSecond: number }[] }
    | undefined;
  for (const r of bench?.results ?? []) {
    const peer = torch?.rows.find((t) => t.batch === r.batch && !t.tf32);
    lines.push(
      `batch ${r.batch} ${r.mode}: ${r.imagesPerSecond.toFixed(1)} img/s` +
        (peer ? `, ${(r.imagesPerSecond / peer.imagesPerSecond).toFixed(3)}× PyTorch fp32` : ""),
    );
  }
  return lines;
}

/**
 * Pack a tiny payload into a temp folder, unpack and run it there as the GPU machine would (offline: npm's
 * registry is pointed at a dead address), and return the check's JSON and the packed manifest.
 *
 * @example
 * ```ts
 * const { report, manifest } = await rehearseGpuCheck();
 * ```
 */
export async function rehearseGpuCheck(): Promise<
  { report: Record<string, unknown>; manifest: PackManifest }
> {
  const tmp = await Deno.makeTempDir({ prefix: "gpucheck-rehearsal-" });
  try {
    const manifest = await packGpuCheck({
      dir: join(tmp, ".gpucheck"),
      trainRecords: 64,
      testRecords: 32,
      loaders: false,
      fast: true,
    });
    const out = join(tmp, "out");
    const child = await new Deno.Command("bash", {
      args: [join(tmp, ".gpucheck", "run.sh"), out],
      env: {
        GPU_CHECK_REHEARSE: "1",
        GPU_CHECK_WORK: join(tmp, "work"),
        NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
        // Debian's python3-torch here; on the GPU machine plain python3 holds PyTorch
        GPU_CHECK_PYTHON: Deno.env.get("PYTHON") ?? "/usr/bin/python3",
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      },
      clearEnv: false,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!child.success) throw new Error(`gpu_check rehearsal: run.sh exited with ${child.code}`);
    const report = JSON.parse(await Deno.readTextFile(join(out, "gpu_check.json")));
    report.logBytes = await fileSize(join(out, "gpu_check.log"));
    return { report, manifest };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const [command = "pack", ...rest] = Deno.args;
  const { values } = parseArgs({
    args: rest,
    options: {
      out: { type: "string" },
      data: { type: "string" },
      dir: { type: "string" },
      rehearse: { type: "boolean", default: false },
      archive: { type: "string" },
    },
  });
  try {
    if (command === "pack") {
      const m = await packGpuCheck({ dir: values.dir, archive: values.archive });
      for (const f of m.files.slice(0, 8)) {
        console.log(`${(f.bytes / MiB).toFixed(2).padStart(7)} MiB  ${f.name}`);
      }
      console.log(
        `packed ${m.dir}: ${(m.totalBytes / MiB).toFixed(1)} MiB of ${
          CARRY_LIMIT_BYTES / MiB
        } (${m.trainRecords} train, ` +
          `${m.testRecords} test records; loaders: ${m.loaders})`,
      );
      console.log(`on the GPU machine, in one call with carry [".gpucheck"]: bash .gpucheck/run.sh`);
    } else if (command === "run") {
      if (!values.out || !values.data) throw new Error("gpu_check run needs --out DIR and --data DIR");
      await runGpuCheck({ out: values.out, data: values.data, rehearse: values.rehearse });
    } else if (command === "rehearse") {
      const t = performance.now();
      const { report, manifest } = await rehearseGpuCheck();
      console.log(
        `rehearsal: ${((performance.now() - t) / 1000).toFixed(0)} s, payload ${
          (manifest.totalBytes / MiB).toFixed(1)
        } MiB, ` +
          `phases ${(report.phases as PhaseRecord[]).map((p) => `${p.name} ${p.status}`).join(", ")}`,
      );
    } else {
      throw new Error(`unknown command "${command}"; use pack, run or rehearse`);
    }
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
