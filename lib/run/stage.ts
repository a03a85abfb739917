/**
 * What a pipeline stage is: its inputs, params, code and outputs. The runner (`runner.ts`) hashes
 * these into the stage's cache key and runs the stage only when the key is new.
 *
 * @example
 * ```ts
 * import type { StageDefinition } from "./stage.ts";
 * const hello: StageDefinition = {
 *   name: "decode",
 *   deps: ["fetch"],
 *   module: new URL(import.meta.url),
 *   params: (config) => ({ trainLimit: config.trainLimit }),
 *   async run(ctx) {
 *     await Deno.writeTextFile(`${ctx.dir}/hello.txt`, "hi");
 *     return { greeted: true };
 *   },
 * };
 * ```
 * @module
 */
import type { PipelineConfig } from "../config/mod.ts";
import type { StageName } from "../contract/mod.ts";
import type { Logger } from "../core/mod.ts";

/** What a running stage is given. */
export interface StageContext {
  /** The run's resolved config. */
  config: PipelineConfig;
  /**
   * This stage's folder in the run folder (`<out>/<stage>`). It is empty when the stage starts, except for a
   * stage with `resumable: true` run with `--resume`, which finds what its interrupted run left there.
   * Everything the stage writes here is its output: the runner hashes it and stores it in the cache.
   */
  dir: string;
  /** The run folder (`--out`). */
  runDir: string;
  /** The stage cache (`--cache-dir`); stages keep downloads of their own under it (pretrained weights). */
  cacheDir: string;
  /** The folder of an upstream stage's outputs (`<out>/<stage>`); only stages named in `deps`. */
  input(stage: StageName): string;
  /** Whether `--resume` was given. */
  resume: boolean;
  /** Where progress and log lines go. */
  log: Logger;
}

/** One stage of the pipeline. */
export interface StageDefinition {
  /** The stage's name, also its folder in the run folder. */
  name: StageName;
  /** Upstream stages whose outputs this stage reads. */
  deps: readonly StageName[];
  /**
   * The stage's own module (`new URL(import.meta.url)`). Its code version is derived from it: every project
   * file it reaches through static imports and every npm package by its locked version (see code_graph.ts).
   */
  module: URL;
  /**
   * The part of the config that changes this stage's outputs. May be async, e.g. to stand for a local input
   * file by its SHA-256 rather than its path.
   */
  params(config: PipelineConfig): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Does the work; returns a small JSON summary that goes into run.json. */
  run(ctx: StageContext): Promise<Record<string, unknown> | void>;
  /** Whether an interrupted run's folder is kept for `--resume` (train). */
  resumable?: boolean;
}
