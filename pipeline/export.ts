/**
 * `deno task export --run DIR --format safetensors [--names torchvision] [--checkpoint best|last] [--out DIR]`:
 * a run's checkpoint for PyTorch users, as `model.safetensors` (torchvision's names and layouts) and
 * `preprocessing.json` (mean, std, input size, class names, block layout, padding mode), in `<run>/export/`
 * unless `--out` says otherwise.
 *
 * @example
 * ```sh
 * deno task export --run runs/quick --format safetensors --names torchvision
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  describeOsError,
  formatBytes,
  PipelineError,
  UsageError,
  writeFileAtomic,
  writeJsonAtomic,
} from "../lib/core/mod.ts";
import { selectBackend } from "../lib/webgpu/mod.ts";
import { CHECKPOINT_KINDS, type CheckpointKind, openRunModel } from "../lib/infer/mod.ts";
import { EXPORT_FORMATS, EXPORT_NAMINGS, torchExport } from "../lib/weights/mod.ts";

const HELP =
  `Usage: deno task export --run DIR --format safetensors [--names torchvision] [--checkpoint best|last] [--out DIR]

Writes a run's checkpoint for PyTorch: OUT/model.safetensors (a torchvision state dict: names, OIHW
kernels, running stats, num_batches_tracked) and OUT/preprocessing.json (mean, std, input size, classes,
block layout, padding mode). OUT defaults to DIR/export.

  --run DIR            the run folder
  --format FORMAT      ${EXPORT_FORMATS.join(", ")}
  --names NAMES        ${EXPORT_NAMINGS.join(", ")} (default)
  --checkpoint KIND    best (default) or last
  --out DIR            where the two files go (default DIR/export)
  --help               this text`;

/**
 * Refuse an `--out` that cannot be a folder, before any work: empty text, or the name of a file (exit 2).
 *
 * @example
 * ```ts
 * await checkExportOut("runs/quick/export"); // fine, made later
 * await checkExportOut(""); // throws: --out must name a folder
 * ```
 */
export async function checkExportOut(dir: string): Promise<void> {
  if (dir.trim() === "") throw new UsageError(`--out must name a folder, got "${dir}"`);
  const info = await Deno.stat(dir).catch(() => null);
  if (info && !info.isDirectory) {
    throw new UsageError(`--out ${dir} is a file, not a folder; nothing was written`);
  }
}

/** Run `deno task export` for `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          run: { type: "string" },
          format: { type: "string" },
          names: { type: "string" },
          checkpoint: { type: "string" },
          out: { type: "string" },
          help: { type: "boolean" },
        },
        strict: true,
      }));
    } catch (err) {
      throw new UsageError(`${(err as Error).message.split("\n")[0]} (see --help)`);
    }
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.run) throw new UsageError("--run DIR is required (see --help)");
    const format = values.format ?? "";
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(", ")}, got "${format}"`);
    }
    const names = values.names ?? "torchvision";
    if (!(EXPORT_NAMINGS as readonly string[]).includes(names)) {
      throw new UsageError(`--names must be one of ${EXPORT_NAMINGS.join(", ")}, got "${names}"`);
    }
    const checkpoint = (values.checkpoint ?? "best") as CheckpointKind;
    if (!CHECKPOINT_KINDS.includes(checkpoint)) {
      throw new UsageError(`--checkpoint must be one of ${CHECKPOINT_KINDS.join(", ")}, got "${checkpoint}"`);
    }
    const dir = values.out ?? join(values.run, "export");
    await checkExportOut(dir);
    await selectBackend("cpu", { stage: "export" });
    const run = await openRunModel(values.run, { checkpoint, command: "export" });
    if (run.unverified) console.error(`warning: [export] ${run.unverified}`);
    try {
      if (!run.arch) throw new PipelineError("export", `Cannot export ${values.run}: run.json names no arch`);
      const out = await torchExport(run.model, {
        arch: run.arch,
        classes: run.classes,
        mean: run.mean,
        std: run.std,
        padding: run.padding,
        inputSize: run.inputSize,
        source: run.checkpointDir,
      });
      const weights = join(dir, "model.safetensors");
      const json = join(dir, "preprocessing.json");
      try {
        await Deno.mkdir(dir, { recursive: true });
        await writeFileAtomic(weights, out.safetensors);
        await writeJsonAtomic(json, out.preprocessing);
      } catch (err) {
        throw new PipelineError("export", `Cannot write to ${dir}: ${describeOsError(err)}`, { cause: err });
      }
      console.log(
        `wrote ${weights} (${out.names.length} tensors, ${formatBytes(out.safetensors.byteLength)}, ` +
          `torchvision names, from ${run.checkpointDir})`,
      );
      console.log(
        `wrote ${json} (input ${run.inputSize}×${run.inputSize}, mean ${fmt(run.mean)}, std ${
          fmt(run.std)
        }, ` +
          `padding "${run.padding}"${
            run.padding === "same" ? ": TF-style, see the README's export section" : ""
          })`,
      );
      return 0;
    } finally {
      run.model.dispose();
    }
  } catch (err) {
    if (err instanceof PipelineError) {
      console.error(err.toLine());
      return err.exitCode;
    }
    console.error("error: unexpected fault (a bug; please report it with this trace):");
    console.error(err);
    return 70;
  }
}

const fmt = (v: number[]) => `[${v.join(", ")}]`;

if (import.meta.main) Deno.exit(await main(Deno.args));
