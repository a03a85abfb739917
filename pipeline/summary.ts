/**
 * What the pipeline command prints besides the stages: the end-of-run summary (the runner stores it in
 * run.json as `summary`) and `--version`.
 *
 * @example
 * ```ts
 * import { printRunSummary, versionText } from "./summary.ts";
 * import type { RunManifest } from "../lib/contract/mod.ts";
 * declare const manifest: RunManifest;
 * console.log(await versionText()); // "resnet-cifar-deno 0.13.0 (tfjs 4.22.0, Deno 2.9.6, V8 …, TypeScript …)"
 * printRunSummary("runs/smoke", manifest);
 * ```
 * @module
 */
import { version_core } from "@tensorflow/tfjs-core";
import { PROJECT_ROOT } from "../lib/core/mod.ts";
import type { RunManifest } from "../lib/contract/mod.ts";
import { formatRunSummary, summarizeRun } from "../lib/run/mod.ts";

/** The project's version (deno.json `version`), the tfjs actually loaded and Deno's. */
export async function versionText(): Promise<string> {
  let version = "unknown";
  try {
    const denoJson = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/deno.json`));
    if (typeof denoJson.version === "string") version = denoJson.version;
  } catch {
    // keep "unknown"
  }
  return `resnet-cifar-deno ${version} (tfjs ${version_core}, Deno ${Deno.version.deno}, ` +
    `V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`;
}

/** Print the end-of-run summary (the runner stored it in run.json) as a short table. */
export function printRunSummary(runDir: string, manifest: RunManifest): void {
  console.log(formatRunSummary(summarizeRun(runDir, manifest)));
}
