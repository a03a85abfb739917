/**
 * `run.json`, the manifest every run writes at the root of its run folder: status, resolved config, seed,
 * versions, the deno.lock hash, and per stage its status, cache key, why it ran, timings and output files
 * with their SHA-256.
 *
 * @example
 * ```ts
 * import { readRunManifest } from "./run_manifest.ts";
 * const manifest = await readRunManifest("runs/quick");
 * console.log(manifest?.stages.train?.status);
 * ```
 * @module
 */
import { join } from "node:path";
import type { PipelineConfig, StageName } from "./config.ts";
import { sha256File } from "./hash.ts";
import type { StageRecord } from "./stage.ts";
import { writeJsonAtomic } from "./atomic.ts";

/** The file name of the manifest inside a run folder. */
export const RUN_MANIFEST = "run.json";

/** The versions a run was made with. */
export interface RunEnvironment {
  deno: string;
  v8: string;
  typescript: string;
  /** The tfjs version pinned in deno.json. */
  tfjs: string;
  /** SHA-256 of the deno.lock the run was made with. */
  denoLockSha256: string | null;
  os: string;
  arch: string;
}

/** The whole manifest. */
export interface RunManifest {
  version: 1;
  /** The run folder's name. */
  id: string;
  createdAt: string;
  updatedAt: string;
  status: "running" | "done" | "failed" | "interrupted";
  preset: string;
  seed: number;
  config: PipelineConfig;
  /** The stages asked for on the command line (their upstream stages run too). */
  requestedStages: StageName[];
  env: RunEnvironment;
  stages: Partial<Record<StageName, StageRecord>>;
  /** The one line of the fault that stopped the run. */
  error?: string;
}

const ROOT = new URL("../", import.meta.url);

/** Deno's versions, the pinned tfjs version and the deno.lock hash. */
export async function runEnvironment(): Promise<RunEnvironment> {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const tfjsSpec: string = denoJson.imports?.["@tensorflow/tfjs-core"] ?? "";
  let lock: string | null = null;
  try {
    lock = await sha256File(new URL("deno.lock", ROOT).pathname);
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

/** Write the manifest atomically. */
export function writeRunManifest(runDir: string, manifest: RunManifest): Promise<void> {
  return writeJsonAtomic(join(runDir, RUN_MANIFEST), manifest);
}
