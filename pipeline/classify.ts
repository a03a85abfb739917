/**
 * `deno task classify --run DIR [--checkpoint best|last] [--json] FILE...`: a finished run's network on your
 * own pictures. Each PNG or JPEG, whatever its size, is resized to 32 × 32 as the training data was and
 * normalized with the run's mean/std; the top-3 classes with probabilities are printed per file. A file
 * that cannot be read is one line on stderr naming it; the others still classify (exit 1 if any failed).
 *
 * @example
 * ```sh
 * deno task classify --run runs/quick cat.jpg dog.png
 * deno task classify --run runs/quick --json cat.jpg > answer.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { basename } from "node:path";
import { PipelineError, UsageError } from "../lib/core/mod.ts";
import { ImageInputError, MAX_IMAGE_MEGAPIXELS } from "../lib/figures/mod.ts";
import { selectBackend } from "../lib/webgpu/mod.ts";
import {
  CHECKPOINT_KINDS,
  type CheckpointKind,
  classifyBytes,
  type ImageClassification,
  openRunModel,
} from "../lib/infer/mod.ts";

const HELP =
  `Usage: deno task classify --run DIR [--checkpoint best|last] [--top N] [--json] [--max-megapixels N] FILE...

Classifies PNG and JPEG pictures with a finished run's network (tfjs cpu backend): each one is resized
to 32×32 (area average) and normalized with the run's mean/std; prints the top classes per file.

  --run DIR             the run folder (its run.json, decode/meta.json and train/checkpoints/)
  --checkpoint KIND     best (default) or last
  --top N               classes shown per file (default 3)
  --json                one JSON document on stdout: [{ file, width, height, top: [{ class, probability }] } | { file, error }]
  --max-megapixels N    refuse a picture with more pixels, by its header, before decoding it (default ${MAX_IMAGE_MEGAPIXELS})
  --help                this text`;

/**
 * One file's line block for people.
 *
 * @example
 * ```ts
 * formatClassification({ file: "cat.png", width: 64, height: 48, top: [{ index: 3, className: "cat", probability: 0.41 }] });
 * // "cat.png (64×48):\n  1. cat   41.0 %"
 * ```
 */
export function formatClassification(answer: ImageClassification): string {
  const width = Math.max(...answer.top.map((s) => s.className.length));
  return [
    `${answer.file} (${answer.width}×${answer.height}):`,
    ...answer.top.map((s, i) =>
      `  ${i + 1}. ${s.className.padEnd(width)}  ${(s.probability * 100).toFixed(1).padStart(5)} %`
    ),
  ].join("\n");
}

/** Run `deno task classify` for `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          run: { type: "string" },
          checkpoint: { type: "string" },
          top: { type: "string" },
          json: { type: "boolean" },
          "max-megapixels": { type: "string" },
          help: { type: "boolean" },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message.split("\n")[0]} (see --help)`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.run) throw new UsageError("--run DIR is required (see --help)");
    if (positionals.length === 0) {
      throw new UsageError("no picture given: deno task classify --run DIR FILE...");
    }
    const checkpoint = (values.checkpoint ?? "best") as CheckpointKind;
    if (!CHECKPOINT_KINDS.includes(checkpoint)) {
      throw new UsageError(`--checkpoint must be one of ${CHECKPOINT_KINDS.join(", ")}, got "${checkpoint}"`);
    }
    const top = values.top === undefined ? 3 : Number(values.top);
    if (!Number.isInteger(top) || top < 1) {
      throw new UsageError(`--top must be an integer ≥ 1, got "${values.top}"`);
    }

    const maxMegapixels = values["max-megapixels"] === undefined
      ? MAX_IMAGE_MEGAPIXELS
      : Number(values["max-megapixels"]);
    if (!(maxMegapixels > 0 && maxMegapixels <= MAX_IMAGE_MEGAPIXELS)) {
      throw new UsageError(
        `--max-megapixels must be a number above 0 and at most ${MAX_IMAGE_MEGAPIXELS}, got "${
          values["max-megapixels"]
        }"`,
      );
    }

    await selectBackend("cpu", { stage: "classify" });
    const run = await openRunModel(values.run, { checkpoint, command: "classify" });
    if (run.unverified) console.error(`warning: [classify] ${run.unverified}`);
    const results: (ImageClassification | { file: string; error: string })[] = [];
    let failed = 0;
    try {
      for (const file of positionals) {
        try {
          let bytes: Uint8Array;
          try {
            bytes = await Deno.readFile(file);
          } catch (err) {
            const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
            throw new ImageInputError(`Cannot read ${file}: ${why}`);
          }
          const answer = classifyBytes(run, bytes, { name: file, top, maxMegapixels });
          results.push(answer);
          if (!values.json) console.log(formatClassification(answer));
        } catch (err) {
          if (!(err instanceof ImageInputError)) throw err;
          failed++;
          results.push({ file, error: err.message });
          console.error(`error: [classify] ${err.message}`);
        }
      }
    } finally {
      run.model.dispose();
    }
    if (values.json) {
      console.log(JSON.stringify(
        results.map((r) =>
          "error" in r ? r : {
            file: r.file,
            width: r.width,
            height: r.height,
            checkpoint: `${basename(run.runDir)}/train/checkpoints/${checkpoint}`,
            top: r.top.map((s) => ({ class: s.className, index: s.index, probability: s.probability })),
          }
        ),
        null,
        2,
      ));
    }
    return failed > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof PipelineError) {
      console.error(err.toLine());
      return err.exitCode;
    }
    throw err;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
