/**
 * The one owner of a run folder's `run.json`: it creates the manifest, saves it (one write at a time,
 * atomically), beats the heartbeat, and marks the run done, failed or interrupted. The stage runner fills
 * in the stages' entries and asks it to save; nothing else writes run.json.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "../config/mod.ts";
 * import { RunRecord } from "./run_record.ts";
 * const record = await RunRecord.create("runs/a", {
 *   config: resolveConfig("smoke"),
 *   requested: ["decode"],
 *   stages: ["fetch", "decode"],
 * });
 * await record.save();
 * record.beat(30);
 * // … the stages run …
 * record.stop();
 * ```
 * @module
 */
import { join } from "node:path";
import type { PipelineConfig } from "../config/mod.ts";
import type { RunManifest, StageName, StageRecord } from "../contract/mod.ts";
import { currentProcess, PipelineError, tempNameFor, writeFaultOf, writeJsonAtomic } from "../core/mod.ts";
import { RUN_MANIFEST, runEnvironment } from "./manifest.ts";

/** Options of {@linkcode RunRecord.create}. */
export interface RunRecordOptions {
  /** The resolved config. */
  config: PipelineConfig;
  /** The stages asked for on the command line. */
  requested: readonly StageName[];
  /** Every stage that takes part (the asked ones and their upstream stages), in order: all pending. */
  stages: readonly StageName[];
  /** The record of the run this one continues (`--resume`): its creation time is kept. */
  continues?: RunManifest;
}

/** A run's `run.json`, held in memory and saved as it changes. */
export class RunRecord {
  /** The manifest as it is saved; the runner fills in the stages' entries. */
  readonly manifest: RunManifest;
  /** The path of `run.json`. */
  readonly path: string;
  #saving: Promise<void> = Promise.resolve();
  #saved = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  private constructor(runDir: string, manifest: RunManifest) {
    this.path = join(runDir, RUN_MANIFEST);
    this.manifest = manifest;
  }

  /** A record of a run starting now in `runDir`, status "running" (nothing is written yet). */
  static async create(runDir: string, options: RunRecordOptions): Promise<RunRecord> {
    const now = new Date().toISOString();
    const { config } = options;
    const manifest: RunManifest = {
      version: 1,
      id: runDir.split("/").filter(Boolean).pop() ?? "run",
      createdAt: options.continues?.createdAt ?? now,
      updatedAt: now,
      status: "running",
      preset: config.preset,
      seed: config.seed,
      config,
      requestedStages: [...options.requested],
      env: await runEnvironment(),
      process: currentProcess(),
      heartbeatAt: now,
      stages: Object.fromEntries(options.stages.map((name) => [name, { status: "pending" }])),
    };
    return new RunRecord(runDir, manifest);
  }

  /** The entry of stage `name`. */
  stage(name: StageName): StageRecord {
    return this.manifest.stages[name] ??= { status: "pending" };
  }

  /**
   * Write run.json as it is now, after the writes already asked for (a failed one does not stop later
   * ones). A failure is one line of `options.stage` (default "run") naming run.json.
   */
  save(options: { stage?: string } = {}): Promise<void> {
    return this.#write(() => {
      this.manifest.updatedAt = new Date().toISOString();
      return this.manifest;
    }, options.stage);
  }

  /** Say the process is alive: `heartbeatAt` now, saved. */
  heartbeat(): Promise<void> {
    this.manifest.heartbeatAt = new Date().toISOString();
    return this.save();
  }

  /** Beat every `seconds` until {@linkcode stop}; a beat that cannot be written is skipped. */
  beat(seconds: number): void {
    this.stop();
    const timer = setInterval(() => this.heartbeat().catch(() => {}), seconds * 1000);
    Deno.unrefTimer(timer);
    this.#heartbeat = timer;
  }

  /** Stop the heartbeat and wait for the writes asked for. */
  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    await this.#saving;
  }

  /** The run finished: status "done", with its end-of-run summary. */
  finish(summary: Record<string, unknown>): Promise<void> {
    this.manifest.status = "done";
    this.manifest.summary = summary;
    return this.save();
  }

  /**
   * The run stopped on `fault`: status "failed" with its one line (and so does a stage still "running"),
   * saved if run.json can be written at all. Never throws, so the caller can go on to report the fault.
   */
  async fail(fault: PipelineError): Promise<void> {
    this.manifest.status = "failed";
    this.manifest.error = fault.toLine();
    for (const record of Object.values(this.manifest.stages)) {
      if (record.status === "running") Object.assign(record, { status: "failed", error: fault.message });
    }
    await this.save({ stage: fault.stage }).catch(() => {});
  }

  /** Put back the record of the run a refused `--resume` was asked to continue, as it was. */
  restore(previous: RunManifest): Promise<void> {
    return this.#write(() => previous);
  }

  /**
   * The process is being stopped by a signal: a running run becomes "interrupted", written at once and
   * synchronously, since the process exits right after. Nothing is written before the first save.
   */
  interrupted(): void {
    if (!this.#saved || this.manifest.status !== "running") return;
    this.manifest.status = "interrupted";
    this.manifest.updatedAt = new Date().toISOString();
    const tmp = tempNameFor(this.path);
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify(this.manifest, null, 2) + "\n");
      Deno.renameSync(tmp, this.path);
    } catch {
      // The disk refused: run.json keeps its last state, and the dashboard sees the process gone.
      try {
        Deno.removeSync(tmp);
      } catch {
        // never written
      }
    }
  }

  #write(content: () => RunManifest, stage = "run"): Promise<void> {
    const write = this.#saving.then(async () => {
      try {
        await writeJsonAtomic(this.path, content());
        this.#saved = true;
      } catch (err) {
        throw writeFaultOf(err, stage) ?? err;
      }
    });
    this.#saving = write.catch(() => {});
    return write;
  }
}
