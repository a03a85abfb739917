/**
 * `run.json`, the manifest every run writes at the root of its run folder (status, resolved config, seed,
 * versions, the deno.lock hash, and per stage its status, cache key, why it ran, timings and output files
 * with their SHA-256): its name, the environment it records, and reading it back. run_record.ts writes it.
 *
 * @example
 * ```ts
 * import { readRunManifest } from "./manifest.ts";
 * const manifest = await readRunManifest("runs/quick");
 * console.log(manifest?.stages.train?.status);
 * ```
 * @module
 */
import { join } from "node:path";
import { PROJECT_ROOT, sha256File } from "../core/mod.ts";
import type { RunEnvironment, RunManifest } from "../contract/mod.ts";

/** The file name of the manifest inside a run folder. */
export const RUN_MANIFEST = "run.json";

/** Deno's versions, the pinned tfjs version and the deno.lock hash. */
export async function runEnvironment(): Promise<RunEnvironment> {
  const denoJson = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/deno.json`));
  const tfjsSpec: string = denoJson.imports?.["@tensorflow/tfjs-core"] ?? "";
  let lock: string | null = null;
  try {
    lock = await sha256File(`${PROJECT_ROOT}/deno.lock`);
  } catch {
    lock = null;
  }
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    tfjs: tfjsSpec.split("@").pop() ?? "unknown",
    denoLockSha256: lock,
    os: Deno.build.os,
    arch: Deno.build.arch,
  };
}

/** The run folder's manifest, or undefined where there is none or it cannot be read. */
export async function readRunManifest(runDir: string): Promise<RunManifest | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(runDir, RUN_MANIFEST))) as RunManifest;
  } catch {
    return undefined;
  }
}
