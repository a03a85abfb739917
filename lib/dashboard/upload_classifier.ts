/**
 * The dashboard's "classify an image" box, server side: a bounded upload (PNG or JPEG, at most
 * {@linkcode MAX_UPLOAD_BYTES}) classified by the run's best checkpoint on tfjs's cpu backend. Opened
 * models are kept (one per checkpoint, reopened when its files change), so only the first upload of a run
 * pays for loading it. tfjs is imported on the first upload, so the dashboard starts without it.
 *
 * @example
 * ```ts
 * import { classifyUpload } from "./upload_classifier.ts";
 * const answer = await classifyUpload("runs/quick", await Deno.readFile("cat.png"), { name: "cat.png" });
 * console.log(answer.top[0]);
 * ```
 * @module
 */
import { join } from "node:path";
import type { ImageClassification, RunModel } from "../infer/mod.ts";

/** The largest upload the box accepts, in bytes (2 MB). */
export const MAX_UPLOAD_BYTES = 2_000_000;

/** How many runs' models stay open. */
const KEEP_OPEN = 2;
const open = new Map<string, { stamp: string; run: RunModel }>();

async function stampOf(checkpointDir: string): Promise<string> {
  const info = await Deno.stat(join(checkpointDir, "weights.bin"));
  return `${info.mtime?.getTime()}:${info.size}`;
}

async function runModelFor(runDir: string): Promise<RunModel> {
  const checkpointDir = join(runDir, "train", "checkpoints", "best");
  const stamp = await stampOf(checkpointDir).catch(() => "none");
  const kept = open.get(runDir);
  if (kept && kept.stamp === stamp) return kept.run;
  if (kept) {
    kept.run.model.dispose();
    open.delete(runDir);
  }
  const { selectBackend } = await import("../model/mod.ts");
  const { openRunModel } = await import("../infer/mod.ts");
  await selectBackend("cpu", { stage: "dashboard" });
  const run = await openRunModel(runDir, { checkpoint: "best", command: "dashboard" });
  open.set(runDir, { stamp, run });
  while (open.size > KEEP_OPEN) {
    const [oldest, entry] = open.entries().next().value!;
    entry.run.model.dispose();
    open.delete(oldest);
  }
  return run;
}

/**
 * Classify uploaded image bytes with the best checkpoint of the run in `runDir`. Throws `ImageInputError`
 * for a picture that cannot be read and `PipelineError` for a run that cannot classify (no checkpoint).
 *
 * @example
 * ```ts
 * const { top } = await classifyUpload(runDir, bytes, { name: "upload.jpg" });
 * ```
 */
export async function classifyUpload(
  runDir: string,
  bytes: Uint8Array,
  options: { name: string },
): Promise<ImageClassification> {
  const run = await runModelFor(runDir);
  const { classifyBytes } = await import("../infer/mod.ts");
  return classifyBytes(run, bytes, { name: options.name, top: 3 });
}
