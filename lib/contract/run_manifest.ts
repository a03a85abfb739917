/**
 * `run.json`, the manifest at the root of every run folder: status, resolved config, seed, versions, and per
 * stage its status, cache key, why it ran, timings and output files. {@linkcode RunManifest} is what the
 * runner writes; {@linkcode parseRunManifest} reads it back as a {@linkcode RunManifestView}, tolerant of
 * older and half-finished files.
 *
 * @example
 * ```ts
 * import { parseRunManifest } from "./run_manifest.ts";
 * const parsed = parseRunManifest(JSON.parse(await Deno.readTextFile("runs/a/run.json")));
 * if (parsed.ok) console.log(parsed.value.status);
 * ```
 * @module
 */
import type { PipelineConfig } from "../config/mod.ts";
import { parseProcessIdentity, type ProcessIdentity } from "../core/mod.ts";
import { count, finite, isObject, type Parsed, text } from "./parsed.ts";

/** The pipeline's stages, in the order data flows through them. */
export const STAGE_NAMES = ["fetch", "decode", "augment", "train", "evaluate", "visualize"] as const;
/** One stage's name. */
export type StageName = typeof STAGE_NAMES[number];

/** The run.json version this code writes and reads best. */
export const RUN_MANIFEST_VERSION = 1;

/** One output file of a stage, as recorded in run.json and the cache manifest. */
export interface OutputFile {
  /** Path relative to the stage's folder, with `/` separators. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** Hex SHA-256 of the contents. */
  sha256: string;
}

/** The parts a stage's cache key is hashed from. */
export interface KeyParts {
  params: Record<string, unknown>;
  /** Upstream stage name → digest of its outputs. */
  inputs: Record<string, string>;
  /** Source file (relative to the project root) → its SHA-256. */
  code: Record<string, string>;
}

/** A stage's entry in run.json. */
export interface StageRecord {
  status: "pending" | "running" | "done" | "cached" | "failed";
  /** The cache key: hex SHA-256 of `keyParts`. */
  key?: string;
  /** What the key was made of: params, the upstream stages' output digests, code file hashes. */
  keyParts?: KeyParts;
  /** Why the stage ran instead of being served from the cache. */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Wall-clock seconds. */
  seconds?: number;
  outputs?: OutputFile[];
  summary?: Record<string, unknown>;
  error?: string;
}

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

/** `run.json`, as the runner writes it. */
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
  /** The end-of-run summary (lib/run/run_summary.ts): stage times, best accuracy, figures, dashboard command. */
  summary?: Record<string, unknown>;
  /** The pipeline process (pid, host, start time): the dashboard tells a run whose process is gone. */
  process?: ProcessIdentity;
  /** The last time the process said it was alive (ISO), every 30 s and at every stage change. */
  heartbeatAt?: string;
}

/**
 * `run.json` as the dashboard reads it, normalized: the same fields as {@linkcode RunManifest}, but a
 * missing or malformed field is null (or empty), never absent, and an unknown status is "unknown".
 */
export type RunManifestView =
  & { [K in "id" | "createdAt" | "updatedAt" | "preset" | "seed"]: RunManifest[K] | null }
  & {
    /** The version the file claims; null when it has none (older than version 1). */
    version: number | null;
    status: RunManifest["status"] | "unknown";
    config: Partial<PipelineConfig> & Record<string, unknown>;
    env: Partial<RunEnvironment>;
    stages: RunManifest["stages"];
    error: string | null;
    /** The pipeline process that wrote it, where recorded. */
    process: ProcessIdentity | null;
    heartbeatAt: string | null;
  };

function parseStageRecord(v: unknown): StageRecord | null {
  if (!isObject(v)) return null;
  const statuses = ["pending", "running", "done", "cached", "failed"] as const;
  const status = statuses.find((s) => s === v.status) ?? "pending";
  const record: StageRecord = { status };
  if (typeof v.key === "string") record.key = v.key;
  if (isObject(v.keyParts)) record.keyParts = v.keyParts as unknown as StageRecord["keyParts"];
  if (typeof v.reason === "string") record.reason = v.reason;
  if (typeof v.startedAt === "string") record.startedAt = v.startedAt;
  if (typeof v.finishedAt === "string") record.finishedAt = v.finishedAt;
  const seconds = finite(v.seconds);
  if (seconds !== null) record.seconds = seconds;
  if (Array.isArray(v.outputs)) {
    record.outputs = v.outputs.filter((o) => isObject(o) && typeof o.path === "string").map((o) => ({
      path: o.path as string,
      bytes: count(o.bytes) ?? 0,
      sha256: text(o.sha256) ?? "",
    }));
  }
  if (isObject(v.summary)) record.summary = v.summary;
  if (typeof v.error === "string") record.error = v.error;
  return record;
}

/**
 * Parse `run.json`, keeping whatever an older or half-finished manifest holds.
 *
 * @example
 * ```ts
 * const m = parseRunManifest({ status: "done", stages: { decode: { status: "done" } } });
 * m.ok && m.value.version; // null: the file has no version field
 * ```
 */
export function parseRunManifest(json: unknown): Parsed<RunManifestView> {
  if (!isObject(json)) return { ok: false, problem: "run.json is not a JSON object" };
  const notes: string[] = [];
  const version = finite(json.version);
  if (version === null) notes.push("run.json has no version: written by an older pipeline");
  else if (version > RUN_MANIFEST_VERSION) {
    notes.push(`run.json version ${version} is newer than this dashboard (${RUN_MANIFEST_VERSION})`);
  }
  const statuses = ["running", "done", "failed", "interrupted"] as const;
  const status = statuses.find((s) => s === json.status) ?? "unknown";
  const config = isObject(json.config) ? json.config : {};
  const stages: Partial<Record<StageName, StageRecord>> = {};
  if (isObject(json.stages)) {
    for (const name of STAGE_NAMES) {
      const record = parseStageRecord(json.stages[name]);
      if (record) stages[name] = record;
    }
  }
  const env: Partial<RunEnvironment> = {};
  if (isObject(json.env)) {
    for (const key of ["deno", "v8", "typescript", "tfjs", "denoLockSha256", "os", "arch"] as const) {
      const value = text(json.env[key]);
      if (value !== null) env[key] = value;
    }
  }
  return {
    ok: true,
    value: {
      version,
      id: text(json.id),
      createdAt: text(json.createdAt),
      updatedAt: text(json.updatedAt),
      status,
      preset: text(json.preset) ?? text(config.preset),
      seed: finite(json.seed) ?? finite(config.seed),
      config: config as RunManifestView["config"],
      env,
      stages,
      error: text(json.error),
      process: parseProcessIdentity(json.process),
      heartbeatAt: text(json.heartbeatAt),
    },
    notes,
  };
}
