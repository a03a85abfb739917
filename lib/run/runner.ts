/**
 * The stage runner: runs the selected stages and their upstream stages in order, each one only when its
 * cache key (a hash of its params, its inputs' output digests and its code) is new, and keeps `run.json` up
 * to date after every step so a killed run still says how far it got.
 *
 * Cache layout: `<cacheDir>/<stage>/<key>/` holds the output files and `manifest.json`; an entry appears
 * only by renaming a finished temporary folder, so a killed run never leaves a half-written entry.
 * `<cacheDir>/<stage>/latest.json` holds the key parts of the stage's last run, so a rerun can say why.
 *
 * @example
 * ```ts
 * import { runPipeline } from "./runner.ts";
 * import { resolveConfig } from "../config/mod.ts";
 * import { createLogger } from "../core/mod.ts";
 * import { STAGES } from "../../pipeline/stages.ts";
 * await runPipeline(STAGES, {
 *   config: resolveConfig("smoke"),
 *   runDir: "runs/smoke",
 *   cacheDir: "/tmp/cache",
 *   stages: ["fetch", "decode"],
 *   log: createLogger(),
 * });
 * ```
 * @module
 */
import { dirname, join } from "node:path";
import { codeDigestsOf } from "./code_graph.ts";
import type { PipelineConfig } from "../config/mod.ts";
import type { StageName } from "../contract/mod.ts";
import { PipelineError } from "../core/mod.ts";
import { describeOsError } from "../core/mod.ts";
import { canonicalJson, sha256File, sha256Hex } from "../core/mod.ts";
import type { Logger } from "../core/mod.ts";
import { formatDuration } from "../core/mod.ts";
import { readRunManifest, runEnvironment, writeRunManifest } from "./manifest.ts";
import type { RunManifest } from "../contract/mod.ts";
import type { StageContext, StageDefinition } from "./stage.ts";
import type { KeyParts, OutputFile, StageRecord } from "../contract/mod.ts";
import { tempNameFor, writeJsonAtomic } from "../core/mod.ts";

/** Options of {@linkcode runPipeline}. */
export interface RunOptions {
  /** The resolved config. */
  config: PipelineConfig;
  /** The run folder (`--out`). */
  runDir: string;
  /** The cache folder (`--cache-dir`). */
  cacheDir: string;
  /** The stages asked for; their upstream stages run too (from the cache when their key is known). */
  stages: readonly StageName[];
  /** Keep a resumable stage's interrupted folder and continue it. */
  resume?: boolean;
  /** Where lines go. */
  log: Logger;
  /** Called with the manifest whenever it is written (the CLI keeps it for its signal handler). */
  onManifest?: (manifest: RunManifest) => void;
}

/** Per stage: the caching decision, as recorded in run.json. */
export interface StagePlan {
  stage: StageDefinition;
  keyParts: KeyParts;
  key: string;
}

/** Every stage that `wanted` needs, in the order of `all`. */
export function withUpstream(
  all: readonly StageDefinition[],
  wanted: readonly StageName[],
): StageDefinition[] {
  const byName = new Map(all.map((s) => [s.name, s]));
  const needed = new Set<StageName>();
  const visit = (name: StageName) => {
    if (needed.has(name)) return;
    const stage = byName.get(name);
    if (!stage) throw new PipelineError("usage", `Unknown stage "${name}"`, { exitCode: 2 });
    needed.add(name);
    stage.deps.forEach(visit);
  };
  wanted.forEach(visit);
  return all.filter((s) => needed.has(s.name));
}

/** The digest of a stage's outputs, as its downstream stages see it. */
export function outputsDigest(outputs: readonly OutputFile[]): Promise<string> {
  return sha256Hex(canonicalJson(outputs.map(({ path, sha256 }) => ({ path, sha256 }))));
}

/** Every file below `dir`, relative, with `/` separators, sorted. Temporary files are skipped. */
export async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(join(dir, sub))) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(rel);
      else if (entry.isFile && !/\.tmp-\d+-[0-9a-f]+$/.test(entry.name)) files.push(rel);
    }
  };
  await walk("");
  return files.sort();
}

/** Sizes and SHA-256 of every file below `dir`. */
export async function hashOutputs(dir: string): Promise<OutputFile[]> {
  const files = await listFiles(dir);
  return await Promise.all(files.map(async (path) => {
    const full = join(dir, path);
    const { size } = await Deno.stat(full);
    return { path, bytes: size, sha256: await sha256File(full) };
  }));
}

/** Why a stage with `now` key parts runs, compared with the `before` ones. */
export function explainRerun(before: KeyParts | undefined, now: KeyParts): string {
  if (!before) return "no cached result for these settings";
  const reasons: string[] = [];
  const keys = new Set([...Object.keys(before.params), ...Object.keys(now.params)]);
  for (const k of [...keys].sort()) {
    const a = canonicalJson(before.params[k]);
    const b = canonicalJson(now.params[k]);
    if (a !== b) reasons.push(`param ${k} changed: ${a ?? "unset"} → ${b ?? "unset"}`);
  }
  const inputs = new Set([...Object.keys(before.inputs), ...Object.keys(now.inputs)]);
  for (const k of [...inputs].sort()) {
    if (before.inputs[k] !== now.inputs[k]) reasons.push(`input ${k} changed`);
  }
  const files = new Set([...Object.keys(before.code), ...Object.keys(now.code)]);
  const changed = [...files].sort().filter((f) => before.code[f] !== now.code[f]);
  if (changed.length) reasons.push(`code changed: ${changed.join(", ")}`);
  return reasons.length ? reasons.join("; ") : "cache entry missing (the cache was cleared or moved)";
}

/** Hard-link `from` to `to`, or copy where a link is impossible (another file system). */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await Deno.mkdir(dirname(to), { recursive: true });
  try {
    await Deno.link(from, to);
  } catch {
    await Deno.copyFile(from, to);
  }
}

interface CacheManifest {
  stage: StageName;
  key: string;
  keyParts: KeyParts;
  outputs: OutputFile[];
  summary?: Record<string, unknown>;
  createdAt: string;
}

async function readCacheEntry(cacheDir: string, plan: StagePlan): Promise<CacheManifest | undefined> {
  const entryDir = join(cacheDir, plan.stage.name, plan.key);
  try {
    const manifest = JSON.parse(await Deno.readTextFile(join(entryDir, "manifest.json"))) as CacheManifest;
    for (const out of manifest.outputs) {
      const { size } = await Deno.stat(join(entryDir, "files", out.path));
      if (size !== out.bytes) return undefined;
    }
    return manifest;
  } catch {
    return undefined;
  }
}

/** Store a finished stage's folder in the cache: a temporary folder, renamed once complete. */
async function storeCacheEntry(cacheDir: string, plan: StagePlan, dir: string, entry: CacheManifest) {
  const stageCache = join(cacheDir, plan.stage.name);
  const final = join(stageCache, plan.key);
  const tmp = tempNameFor(final);
  try {
    for (const out of entry.outputs) await linkOrCopy(join(dir, out.path), join(tmp, "files", out.path));
    await writeJsonAtomic(join(tmp, "manifest.json"), entry);
    await Deno.remove(final, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, final);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  await writeJsonAtomic(join(stageCache, "latest.json"), { key: plan.key, keyParts: plan.keyParts });
}

/** Put a cache entry's files into the run folder. */
async function materialize(cacheDir: string, plan: StagePlan, manifest: CacheManifest, dir: string) {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const files = join(cacheDir, plan.stage.name, plan.key, "files");
  for (const out of manifest.outputs) await linkOrCopy(join(files, out.path), join(dir, out.path));
}

async function previousKeyParts(
  cacheDir: string,
  previous: RunManifest | undefined,
  name: StageName,
): Promise<KeyParts | undefined> {
  const fromRun = previous?.stages?.[name]?.keyParts;
  if (fromRun) return fromRun;
  try {
    const latest = JSON.parse(await Deno.readTextFile(join(cacheDir, name, "latest.json")));
    return latest.keyParts as KeyParts;
  } catch {
    return undefined;
  }
}

/** Make sure `dir` exists and is writable, or fail with one clear line. */
export async function ensureWritableDir(dir: string, what: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = tempNameFor(join(dir, ".write-probe"));
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (err) {
    throw new PipelineError("run", `Cannot write to ${what} ${dir}: ${describeOsError(err)}`, { cause: err });
  }
}

/**
 * Run `wanted` stages (and what they need) into `options.runDir`, serving unchanged stages from the cache.
 * Returns the final manifest; throws the failing stage's error after recording it in run.json.
 */
export async function runPipeline(
  all: readonly StageDefinition[],
  options: RunOptions,
): Promise<RunManifest> {
  const { config, runDir, cacheDir, log } = options;
  await ensureWritableDir(runDir, "the run folder");
  await ensureWritableDir(cacheDir, "the cache folder");
  const previous = await readRunManifest(runDir);
  const now = () => new Date().toISOString();
  const manifest: RunManifest = {
    version: 1,
    id: runDir.split("/").filter(Boolean).pop() ?? "run",
    createdAt: options.resume && previous?.createdAt ? previous.createdAt : now(),
    updatedAt: now(),
    status: "running",
    preset: config.preset,
    seed: config.seed,
    config,
    requestedStages: [...options.stages],
    env: await runEnvironment(),
    stages: {},
  };
  const selected = withUpstream(all, options.stages);
  for (const stage of selected) manifest.stages[stage.name] = { status: "pending" };
  const save = async () => {
    manifest.updatedAt = now();
    await writeRunManifest(runDir, manifest);
    options.onManifest?.(manifest);
  };
  await save();

  const digests = new Map<StageName, string>();
  for (const stage of selected) {
    const record: StageRecord = manifest.stages[stage.name] ?? { status: "pending" };
    manifest.stages[stage.name] = record;
    const inputs: Record<string, string> = {};
    for (const dep of stage.deps) {
      const digest = digests.get(dep);
      if (digest === undefined) throw new Error(`stage ${stage.name} runs before its input ${dep}`);
      inputs[dep] = digest;
    }
    const keyParts: KeyParts = {
      params: JSON.parse(canonicalJson(await stage.params(config))),
      inputs,
      code: await codeDigestsOf(stage.module),
    };
    const plan: StagePlan = { stage, keyParts, key: await sha256Hex(canonicalJson(keyParts)) };
    Object.assign(record, { key: plan.key, keyParts, startedAt: now() });
    const dir = join(runDir, stage.name);
    const started = performance.now();

    const cached = await readCacheEntry(cacheDir, plan);
    if (cached) {
      await materialize(cacheDir, plan, cached, dir);
      Object.assign(record, {
        status: "cached",
        outputs: cached.outputs,
        summary: cached.summary,
        finishedAt: now(),
        seconds: (performance.now() - started) / 1000,
      });
      log.info(`${stage.name}: cached (key ${plan.key.slice(0, 12)})`);
      digests.set(stage.name, await outputsDigest(cached.outputs));
      await save();
      continue;
    }

    record.reason = explainRerun(await previousKeyParts(cacheDir, previous, stage.name), keyParts);
    record.status = "running";
    const resuming = options.resume === true && stage.resumable === true;
    if (!resuming) await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    log.info(`${stage.name}: running (${resuming ? "resume requested; " : ""}${record.reason})`);
    await save();

    const ctx: StageContext = {
      config,
      dir,
      runDir,
      cacheDir,
      resume: resuming,
      log,
      input: (name) => {
        if (!stage.deps.includes(name)) throw new Error(`stage ${stage.name} did not declare input ${name}`);
        return join(runDir, name);
      },
    };
    try {
      const summary = (await stage.run(ctx)) ?? undefined;
      const outputs = await hashOutputs(dir);
      const entry: CacheManifest = {
        stage: stage.name,
        key: plan.key,
        keyParts,
        outputs,
        summary,
        createdAt: now(),
      };
      await storeCacheEntry(cacheDir, plan, dir, entry);
      const seconds = (performance.now() - started) / 1000;
      Object.assign(record, { status: "done", outputs, summary, finishedAt: now(), seconds });
      digests.set(stage.name, await outputsDigest(outputs));
      log.info(`${stage.name}: done in ${formatDuration(seconds)}`);
      await save();
    } catch (err) {
      record.status = "failed";
      record.finishedAt = now();
      record.seconds = (performance.now() - started) / 1000;
      record.error = err instanceof PipelineError ? err.message : String(err);
      manifest.status = "failed";
      manifest.error = err instanceof PipelineError ? err.toLine() : `error: [${stage.name}] ${err}`;
      await save();
      throw err;
    }
  }
  manifest.status = "done";
  await save();
  return manifest;
}
