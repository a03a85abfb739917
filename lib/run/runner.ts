/**
 * The stage runner: runs the selected stages and their upstream stages in order, each one only when its
 * cache key (a hash of its params, its inputs' output digests and its code) is new, and has run.json
 * (run_record.ts) saved after every step so a killed run still says how far it got.
 *
 * Before the first stage it checks `--out` (new, empty or a run folder: see out_dir.ts), takes the run
 * folder's lock, computes every stage's params (so a bad `--pretrained` path stops the run before any
 * work) and, for `--resume`, makes sure the run to continue had the same key parts. While it runs,
 * run.json records the process (pid, host, start time) and a heartbeat, so the dashboard can tell a run
 * whose process is gone. The cache itself (verified hits, immutable entries, build locks) is cache.ts.
 *
 * A fault is one line naming the stage: a file that cannot be written (a full disk) is "Cannot write
 * <file>: <reason>", exit 1, and run.json says "failed" with that line whenever it can be written at all.
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
import type { PipelineConfig } from "../config/mod.ts";
import type { KeyParts, OutputFile, RunManifest, StageName } from "../contract/mod.ts";
import {
  acquireLock,
  canonicalJson,
  describeOsError,
  formatDuration,
  type Lock,
  type Logger,
  PipelineError,
  sha256Hex,
  tempNameFor,
  writeFaultOf,
  writeJsonAtomic,
} from "../core/mod.ts";
import {
  type CacheLookup,
  type CacheManifest,
  detachFiles,
  dropCacheEntry,
  hashOutputs,
  lookupCacheEntry,
  materializeCacheEntry,
  storeCacheEntry,
} from "./cache.ts";
import { codeDigestsOf } from "./code_graph.ts";
import { readRunManifest } from "./manifest.ts";
import { checkOutDir, RUN_LOCK } from "./out_dir.ts";
import { RunRecord } from "./run_record.ts";
import { summarizeRun } from "./run_summary.ts";
import type { StageContext, StageDefinition } from "./stage.ts";

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
  /** Called with the run's record once it exists (the CLI marks it interrupted in its signal handler). */
  onRecord?: (record: RunRecord) => void;
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

/** The key parts stage `name` had last: in this run folder's previous run, else in the cache's latest.json. */
async function previousKeyParts(run: Run, name: StageName): Promise<KeyParts | undefined> {
  const fromRun = run.previous?.stages?.[name]?.keyParts;
  if (fromRun) return fromRun;
  try {
    const latest = JSON.parse(await Deno.readTextFile(join(run.options.cacheDir, name, "latest.json")));
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

/** A resume refused: one line, exit 2, and the record of the run it was asked to continue left as it was. */
class ResumeRefused extends PipelineError {
  constructor(message: string) {
    super("usage", message, { exitCode: 2 });
  }
}

/** Refuse a resume whose stage `name` was made with other key parts (`was`) than this run's (`is`). */
function refuseChangedResume(name: StageName, parts: { was: KeyParts | undefined; is: KeyParts }): void {
  const differences = parts.was ? keyDifferences(parts.was, parts.is) : "";
  if (differences) {
    throw new ResumeRefused(
      `--resume: the ${name} stage of this run was made with other settings (${differences}); ` +
        `a resume continues only the same run: drop --resume (or the changed options) to start over`,
    );
  }
}

/** A stage's params and code, computed for every stage before any runs. */
type FixedParts = Map<StageName, Pick<KeyParts, "params" | "code">>;

/** What the runner knows while it runs. */
interface Run {
  options: RunOptions;
  record: RunRecord;
  /** The run folder's run.json before this run, if any. */
  previous: RunManifest | undefined;
  fixed: FixedParts;
  /** `--resume --epochs N` with more epochs than before: the stages it touches get new keys. */
  extending: boolean;
  /** Per stage done or cached: the digest of its outputs. */
  digests: Map<StageName, string>;
  /** The stage running now ("run" before the first). */
  current: string;
}

/** One stage under way: its plan, its run, and when it started (`performance.now()`). */
interface Step extends StagePlan {
  run: Run;
  started: number;
}

const now = () => new Date().toISOString();

/** The one line `err` is as a fault of `stage` (a failed write included); null for a bug (it keeps its trace). */
function faultOf(err: unknown, stage: string): PipelineError | null {
  return writeFaultOf(err, stage) ?? (err instanceof PipelineError ? err : null);
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

/** The run, holding the run folder's lock: check, then each stage in order, then the summary. */
async function runLocked(all: readonly StageDefinition[], options: RunOptions): Promise<RunManifest> {
  const previous = await readRunManifest(options.runDir);
  const selected = withUpstream(all, options.stages);
  const record = await RunRecord.create(options.runDir, {
    config: options.config,
    requested: options.stages,
    stages: selected.map((s) => s.name),
    continues: options.resume ? previous : undefined,
  });
  options.onRecord?.(record);
  const fixed = await fixedParts(selected, options.config).catch(async (err) => {
    // A resume refused before it started leaves the run it was asked to continue as it was.
    if (!options.resume || !previous) {
      await record.fail(faultOf(err, "run") ?? new PipelineError("run", `${err}`));
    }
    throw err;
  });
  const extending = options.resume && previous ? checkResume(selected, { fixed, previous }) : false;
  const run: Run = { options, record, previous, fixed, extending, digests: new Map(), current: "run" };
  try {
    await record.save();
    record.beat(options.heartbeatSeconds ?? 30);
    for (const stage of selected) {
      run.current = stage.name;
      await runStage(run, stage);
    }
    await record.finish({ ...summarizeRun(options.runDir, record.manifest) });
    return record.manifest;
  } catch (err) {
    throw await stopped(run, err);
  } finally {
    await record.stop();
  }
}

/** Every stage's params (a missing `--pretrained` file stops the run here) and code digests. */
async function fixedParts(selected: readonly StageDefinition[], config: PipelineConfig): Promise<FixedParts> {
  const fixed: FixedParts = new Map();
  for (const stage of selected) {
    fixed.set(stage.name, {
      params: JSON.parse(canonicalJson(await stage.params(config))),
      code: await codeDigestsOf(stage.module),
    });
  }
  return fixed;
}

/**
 * Before any stage runs: a resume continues only the same run, so the resumable stages and everything
 * upstream of them must have the params and code they had (their inputs are checked when the stage is
 * reached). One difference is allowed, and only it: more epochs than before (`--resume --epochs N`), which
 * extends a finished run. Returns whether it does.
 */
function checkResume(
  selected: readonly StageDefinition[],
  { fixed, previous }: { fixed: FixedParts; previous: RunManifest },
): boolean {
  const resumable = selected.filter((s) => s.resumable).map((s) => s.name);
  let extending = false;
  for (const stage of resumable.length ? withUpstream(selected, resumable) : []) {
    const before = previous.stages?.[stage.name]?.keyParts;
    if (!before) continue;
    const parts = fixed.get(stage.name)!;
    const [was, asked] = [before.params.epochs, parts.params.epochs];
    const counted = typeof was === "number" && typeof asked === "number";
    if (counted && asked < was) {
      throw new ResumeRefused(
        `--resume --epochs ${asked}: this run was made for ${was} epochs; a resume can only add epochs ` +
          `(drop --resume to start over)`,
      );
    }
    const more = counted && asked > was;
    extending ||= more;
    const params = more ? { ...before.params, epochs: asked } : before.params;
    refuseChangedResume(stage.name, {
      was: { params, inputs: {}, code: before.code },
      is: { ...parts, inputs: {} },
    });
  }
  return extending;
}

/**
 * The run stopped on `err`: record it in run.json (or, for a refused resume, put back the record of the run
 * it was asked to continue) and return what to throw: the one-line fault of the stage running, or a bug as is.
 */
async function stopped(run: Run, err: unknown): Promise<unknown> {
  if (err instanceof ResumeRefused) {
    if (run.previous) await run.record.restore(run.previous).catch(() => {});
    return err;
  }
  const fault = faultOf(err, run.current);
  await run.record.fail(fault ?? new PipelineError(run.current, `${err}`));
  return fault ?? err;
}

/** Whether `stage` continues its interrupted folder (`--resume` on a resumable stage). */
function resuming(run: Run, stage: StageDefinition): boolean {
  return run.options.resume === true && stage.resumable === true;
}

/** One stage: its key, then the cache entry if there is one, else a build under the entry's lock. */
async function runStage(run: Run, stage: StageDefinition): Promise<void> {
  const { cacheDir, runDir, log } = run.options;
  const plan = await planStage(run, stage);
  const step: Step = { ...plan, run, started: performance.now() };
  const found = await lookupCacheEntry(cacheDir, stage.name, plan.key);
  if (found.state === "hit") return await serveCached(step, found.manifest);

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
    const again = await lookupCacheEntry(cacheDir, stage.name, plan.key);
    if (again.state === "hit") return await serveCached(step, again.manifest);
    await prepareStage(step, again);
    await buildStage(step);
  } finally {
    await entryLock.release();
  }
}

/** The stage's key parts (its inputs are the digests of its upstream stages' outputs) and key. */
async function planStage(run: Run, stage: StageDefinition): Promise<StagePlan> {
  const inputs: Record<string, string> = {};
  for (const dep of stage.deps) {
    const digest = run.digests.get(dep);
    if (digest === undefined) throw new Error(`stage ${stage.name} runs before its input ${dep}`);
    inputs[dep] = digest;
  }
  const keyParts: KeyParts = { ...run.fixed.get(stage.name)!, inputs };
  const plan: StagePlan = { stage, keyParts, key: await sha256Hex(canonicalJson(keyParts)) };
  Object.assign(run.record.stage(stage.name), { key: plan.key, keyParts, startedAt: now() });
  if (resuming(run, stage) && !run.extending) {
    refuseChangedResume(stage.name, { was: run.previous?.stages?.[stage.name]?.keyParts, is: keyParts });
  }
  return plan;
}

/** Serve the stage from its verified cache entry. */
async function serveCached(step: Step, cached: CacheManifest): Promise<void> {
  const { stage, key, run, started } = step;
  await materializeCacheEntry(run.options.cacheDir, cached, join(run.options.runDir, stage.name));
  Object.assign(run.record.stage(stage.name), {
    status: "cached",
    outputs: cached.outputs,
    summary: cached.summary,
    finishedAt: now(),
    seconds: (performance.now() - started) / 1000,
  });
  run.options.log.info(`${stage.name}: cached (key ${key.slice(0, 12)})`);
  run.digests.set(stage.name, await outputsDigest(cached.outputs));
  await run.record.save({ stage: stage.name });
}

/** Before a build: drop a damaged entry, say why the stage runs, and give it its folder. */
async function prepareStage(step: Step, found: CacheLookup): Promise<void> {
  const { stage, key, run } = step;
  const { cacheDir, runDir, log } = run.options;
  const record = run.record.stage(stage.name);
  let damaged = "";
  if (found.state === "damaged") {
    damaged = `cache entry damaged: ${found.why}; dropped`;
    log.info(`${stage.name}: cache entry ${key.slice(0, 12)} is damaged (${found.why}); dropped, rebuilding`);
    await dropCacheEntry(cacheDir, stage.name, key);
  }
  const recorded = run.previous?.stages?.[stage.name];
  record.reason = damaged ||
    explainRerun(await previousKeyParts(run, stage.name), step.keyParts, {
      finished: recorded?.keyParts ? ["done", "cached"].includes(recorded.status) : undefined,
    });
  record.status = "running";
  const dir = join(runDir, stage.name);
  const resume = resuming(run, stage);
  // Copy-on-write: a resumed stage continues in place, so nothing it writes may reach a shared inode.
  if (resume) await detachFiles(dir);
  else await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  log.info(`${stage.name}: running (${resume ? "resume requested; " : ""}${record.reason})`);
  await run.record.save({ stage: stage.name });
}

/** Run the stage, then store its outputs as the cache entry of its key; a fault marks the stage failed. */
async function buildStage(step: Step): Promise<void> {
  const { stage, key, keyParts, run, started } = step;
  const { config, runDir, cacheDir, log } = run.options;
  const record = run.record.stage(stage.name);
  const dir = join(runDir, stage.name);
  const ctx: StageContext = {
    config,
    dir,
    runDir,
    cacheDir,
    resume: resuming(run, stage),
    log,
    input: (name) => {
      if (!stage.deps.includes(name)) throw new Error(`stage ${stage.name} did not declare input ${name}`);
      return join(runDir, name);
    },
  };
  try {
    const summary = (await stage.run(ctx)) ?? undefined;
    const outputs = await hashOutputs(dir);
    await storeCacheEntry(cacheDir, dir, {
      stage: stage.name,
      key,
      keyParts,
      outputs,
      summary,
      createdAt: now(),
    });
    await writeJsonAtomic(join(cacheDir, stage.name, "latest.json"), { key, keyParts });
    const seconds = (performance.now() - started) / 1000;
    Object.assign(record, { status: "done", outputs, summary, finishedAt: now(), seconds });
    run.digests.set(stage.name, await outputsDigest(outputs));
    log.info(`${stage.name}: done in ${formatDuration(seconds)}`);
    await run.record.save({ stage: stage.name });
  } catch (err) {
    const fault = faultOf(err, stage.name);
    const seconds = (performance.now() - started) / 1000;
    Object.assign(record, {
      status: "failed",
      finishedAt: now(),
      seconds,
      error: fault?.message ?? `${err}`,
    });
    throw fault ?? err;
  }
}
