/**
 * The stage runner: runs the selected stages and their upstream stages in order, each one only when its
 * cache key (a hash of its params, its inputs' output digests and its code) is new, and keeps `run.json` up
 * to date after every step so a killed run still says how far it got.
 *
 * Before the first stage it checks `--out` (new, empty or a run folder: see out_dir.ts), takes the run
 * folder's lock, computes every stage's params (so a bad `--pretrained` path stops the run before any
 * work) and, for `--resume`, makes sure the run to continue had the same key parts. While it runs,
 * run.json records the process (pid, host, start time) and a heartbeat, so the dashboard can tell a run
 * whose process is gone. The cache itself (verified hits, immutable entries, build locks) is cache.ts.
 *
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
import { join } from "node:path";
import { codeDigestsOf } from "./code_graph.ts";
import type { PipelineConfig } from "../config/mod.ts";
import type { StageName } from "../contract/mod.ts";
import { acquireLock, currentProcess, type Lock, PipelineError } from "../core/mod.ts";
import { describeOsError } from "../core/mod.ts";
import { canonicalJson, sha256Hex } from "../core/mod.ts";
import type { Logger } from "../core/mod.ts";
import { formatDuration } from "../core/mod.ts";
import { readRunManifest, runEnvironment, writeRunManifest } from "./manifest.ts";
import type { RunManifest } from "../contract/mod.ts";
import type { StageContext, StageDefinition } from "./stage.ts";
import type { KeyParts, OutputFile, StageRecord } from "../contract/mod.ts";
import { tempNameFor, writeJsonAtomic } from "../core/mod.ts";
import {
  type CacheManifest,
  detachFiles,
  dropCacheEntry,
  hashOutputs,
  lookupCacheEntry,
  materializeCacheEntry,
  storeCacheEntry,
} from "./cache.ts";
import { checkOutDir, RUN_LOCK } from "./out_dir.ts";

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
  /** Called once the run folder's lock is held (the CLI releases it in its signal handler). */
  onLock?: (lock: Lock) => void;
  /** Seconds between heartbeats written into run.json (default 30). */
  heartbeatSeconds?: number;
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

/** Why a stage with `now` key parts runs, compared with the `before` ones; "" when they are equal. */
export function keyDifferences(before: KeyParts, now: KeyParts): string {
  const reasons: string[] = [];
  const keys = new Set([...Object.keys(before.params ?? {}), ...Object.keys(now.params)]);
  for (const k of [...keys].sort()) {
    const a = canonicalJson(before.params?.[k]);
    const b = canonicalJson(now.params[k]);
    if (a !== b) reasons.push(`param ${k} changed: ${a ?? "unset"} → ${b ?? "unset"}`);
  }
  const inputs = new Set([...Object.keys(before.inputs ?? {}), ...Object.keys(now.inputs)]);
  for (const k of [...inputs].sort()) {
    if (before.inputs?.[k] !== now.inputs[k]) reasons.push(`input ${k} changed`);
  }
  const files = new Set([...Object.keys(before.code ?? {}), ...Object.keys(now.code)]);
  const changed = [...files].sort().filter((f) => before.code?.[f] !== now.code[f]);
  if (changed.length) reasons.push(`code changed: ${changed.join(", ")}`);
  return reasons.join("; ");
}

/**
 * Why a stage with `now` key parts runs, compared with the `before` ones. `finished` says whether the stage
 * ended in the run that recorded `before` (false: it was killed or failed, so it cached nothing).
 *
 * @example
 * ```ts
 * const parts = { params: {}, inputs: {}, code: {} };
 * explainRerun(parts, parts, { finished: false }); // "its previous run did not finish (killed or failed), …"
 * ```
 */
export function explainRerun(
  before: KeyParts | undefined,
  now: KeyParts,
  options: { finished?: boolean } = {},
): string {
  if (!before) return "no cached result for these settings";
  const differences = keyDifferences(before, now);
  if (differences) return differences;
  return options.finished === false
    ? "its previous run did not finish (killed or failed), so it left nothing in the cache"
    : "cache entry missing (the cache was cleared or moved)";
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

function refuseResume(stage: StageName, differences: string): never {
  throw new PipelineError(
    "usage",
    `--resume: the ${stage} stage of this run was made with other settings (${differences}); ` +
      `a resume continues only the same run: drop --resume (or the changed options) to start over`,
    { exitCode: 2 },
  );
}

/**
 * Run `wanted` stages (and what they need) into `options.runDir`, serving unchanged stages from the cache.
 * Returns the final manifest; throws the failing stage's error after recording it in run.json.
 */
export async function runPipeline(
  all: readonly StageDefinition[],
  options: RunOptions,
): Promise<RunManifest> {
  const { runDir } = options;
  await checkOutDir(runDir);
  await ensureWritableDir(runDir, "the run folder");
  await ensureWritableDir(options.cacheDir, "the cache folder");
  const lock = await acquireLock(join(runDir, RUN_LOCK), {
    stage: "usage",
    what: `the run folder ${runDir}`,
    purpose: `pipeline ${options.resume ? "--resume " : ""}--out ${runDir}`,
    onNote: (line) => options.log.info(`note: ${line}`),
  });
  options.onLock?.(lock);
  try {
    return await runLocked(all, options);
  } finally {
    await lock.release();
  }
}

async function runLocked(all: readonly StageDefinition[], options: RunOptions): Promise<RunManifest> {
  const { config, runDir, cacheDir, log } = options;
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
    process: currentProcess(),
    heartbeatAt: now(),
    stages: {},
  };
  const selected = withUpstream(all, options.stages);
  for (const stage of selected) manifest.stages[stage.name] = { status: "pending" };
  let saving = Promise.resolve();
  const save = () => {
    // One write at a time: the heartbeat and the stages share the manifest.
    saving = saving.then(async () => {
      manifest.updatedAt = now();
      await writeRunManifest(runDir, manifest);
      options.onManifest?.(manifest);
    });
    return saving;
  };
  const fail = async (err: unknown, stage?: StageName) => {
    manifest.status = "failed";
    manifest.error = err instanceof PipelineError ? err.toLine() : `error: [${stage ?? "run"}] ${err}`;
    await save();
  };

  // Before any stage runs: every stage's params (a missing --pretrained file stops here) and code.
  const fixed = new Map<StageName, Pick<KeyParts, "params" | "code">>();
  try {
    for (const stage of selected) {
      fixed.set(stage.name, {
        params: JSON.parse(canonicalJson(await stage.params(config))),
        code: await codeDigestsOf(stage.module),
      });
    }
  } catch (err) {
    // A resume refused before it started leaves the run it was asked to continue as it was.
    if (!options.resume || !previous) await fail(err);
    throw err;
  }
  // A resume continues only the same run: the resumable stages and everything upstream of them must
  // have the params and code they had (their inputs are checked when the stage is reached).
  // One difference is allowed, and only it: more epochs than before (`--resume --epochs N`), which extends a
  // finished run; the stages it touches get new keys, and their inputs change with it.
  const resumable = selected.filter((s) => s.resumable).map((s) => s.name);
  let extending = false;
  if (options.resume && previous && resumable.length) {
    for (const stage of withUpstream(selected, resumable)) {
      const before = previous.stages?.[stage.name]?.keyParts;
      if (!before) continue;
      const parts = fixed.get(stage.name)!;
      const [was, asked] = [before.params.epochs, parts.params.epochs];
      const counted = typeof was === "number" && typeof asked === "number";
      if (counted && asked < was) {
        throw new PipelineError(
          "usage",
          `--resume --epochs ${asked}: this run was made for ${was} epochs; a resume can only add epochs ` +
            `(drop --resume to start over)`,
          { exitCode: 2 },
        );
      }
      const more = counted && asked > was;
      extending ||= more;
      const differences = keyDifferences(
        {
          params: more ? { ...before.params, epochs: parts.params.epochs } : before.params,
          inputs: {},
          code: before.code,
        },
        { ...parts, inputs: {} },
      );
      if (differences) refuseResume(stage.name, differences);
    }
  }

  await save();
  const heartbeat = setInterval(() => {
    manifest.heartbeatAt = now();
    save().catch(() => {});
  }, (options.heartbeatSeconds ?? 30) * 1000);
  Deno.unrefTimer(heartbeat);
  let current: StageName | undefined;
  let refusedResume = false;
  try {
    const digests = new Map<StageName, string>();
    const runStage = async (stage: StageDefinition): Promise<void> => {
      const record: StageRecord = manifest.stages[stage.name] ?? { status: "pending" };
      manifest.stages[stage.name] = record;
      const inputs: Record<string, string> = {};
      for (const dep of stage.deps) {
        const digest = digests.get(dep);
        if (digest === undefined) throw new Error(`stage ${stage.name} runs before its input ${dep}`);
        inputs[dep] = digest;
      }
      const keyParts: KeyParts = { ...fixed.get(stage.name)!, inputs };
      const plan: StagePlan = { stage, keyParts, key: await sha256Hex(canonicalJson(keyParts)) };
      Object.assign(record, { key: plan.key, keyParts, startedAt: now() });
      const dir = join(runDir, stage.name);
      const started = performance.now();
      const resuming = options.resume === true && stage.resumable === true;
      if (resuming) {
        const before = previous?.stages?.[stage.name]?.keyParts;
        const differences = before && !extending ? keyDifferences(before, keyParts) : "";
        if (differences) {
          refusedResume = true;
          throw new PipelineError(
            "usage",
            `--resume: the ${stage.name} stage of this run was made with other inputs (${differences}); ` +
              `a resume continues only the same run: drop --resume to start over`,
            { exitCode: 2 },
          );
        }
      }

      const serve = async (cached: CacheManifest) => {
        await materializeCacheEntry(cacheDir, cached, dir);
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
      };

      let found = await lookupCacheEntry(cacheDir, stage.name, plan.key);
      if (found.state === "hit") return await serve(found.manifest);

      // A miss or a damaged entry: build it, holding the entry's lock.
      const entryLock = await acquireLock(join(cacheDir, stage.name, `${plan.key}.lock`), {
        stage: "usage",
        what: `the ${stage.name} cache entry ${plan.key.slice(0, 12)} (being built)`,
        // the holder runs the same stage with the same settings, whatever its folder
        hint: "it makes what this run needs: wait for it to end and rerun, which takes the result from " +
          "the cache, or use another --cache-dir",
        purpose: `pipeline --out ${runDir}`,
        onNote: (line) => log.info(`note: ${line}`),
      });
      try {
        // Another process may have finished it meanwhile.
        found = await lookupCacheEntry(cacheDir, stage.name, plan.key);
        if (found.state === "hit") return await serve(found.manifest);
        let damaged = "";
        if (found.state === "damaged") {
          damaged = `cache entry damaged: ${found.why}; dropped`;
          log.info(
            `${stage.name}: cache entry ${
              plan.key.slice(0, 12)
            } is damaged (${found.why}); dropped, rebuilding`,
          );
          await dropCacheEntry(cacheDir, stage.name, plan.key);
        }
        const recorded = previous?.stages?.[stage.name];
        record.reason = damaged ||
          explainRerun(await previousKeyParts(cacheDir, previous, stage.name), keyParts, {
            finished: recorded?.keyParts ? ["done", "cached"].includes(recorded.status) : undefined,
          });
        record.status = "running";
        if (resuming) {
          // Copy-on-write: the stage continues in place, so nothing it writes may reach a shared inode.
          await detachFiles(dir);
        } else {
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        }
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
            if (!stage.deps.includes(name)) {
              throw new Error(`stage ${stage.name} did not declare input ${name}`);
            }
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
          await storeCacheEntry(cacheDir, dir, entry);
          await writeJsonAtomic(join(cacheDir, stage.name, "latest.json"), { key: plan.key, keyParts });
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
          throw err;
        }
      } finally {
        await entryLock.release();
      }
    };
    for (const stage of selected) {
      current = stage.name;
      await runStage(stage);
    }
    manifest.status = "done";
    await save();
    return manifest;
  } catch (err) {
    clearInterval(heartbeat);
    // A refused resume leaves the record of the run it was asked to continue as it was.
    if (refusedResume && previous) {
      await saving.catch(() => {});
      await writeRunManifest(runDir, previous);
    } else await fail(err, current);
    throw err;
  } finally {
    clearInterval(heartbeat);
    await saving.catch(() => {});
  }
}
