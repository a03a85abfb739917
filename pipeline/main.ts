/**
 * `deno task pipeline [options]`: parse the command line, resolve the config from a preset and the flags,
 * and run the stages into the run folder. See `--help`.
 *
 * @example
 * ```sh
 * deno task pipeline --preset quick --data-url ../shared/data/cifar-10-binary.tar.gz --out runs/quick
 * ```
 * @module
 */
import { join } from "node:path";
import { type PipelineConfig, resolveConfig } from "../lib/config/mod.ts";
import {
  createLogger,
  defaultCacheDir,
  type Lock,
  type Logger,
  PipelineError,
  UsageError,
  writeFaultOf,
} from "../lib/core/mod.ts";
import { NUM_CLASSES, RECORDS_PER_FILE, TEST_FILES, TRAIN_FILES } from "../lib/data/mod.ts";
import { readRunManifest, runPipeline, type RunRecord } from "../lib/run/mod.ts";
import { helpText, parsePipelineArgs, type PipelineArgs, resumeCommand } from "./cli_options.ts";
import { printRunSummary, versionText } from "./summary.ts";
import { STAGES } from "./stages.ts";

function defaultRunDir(preset: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d+Z$/, "Z");
  return join("runs", `${stamp}-${preset}`);
}

/**
 * What can be checked about a resolved config before any stage runs: usage errors (exit 2) for settings
 * that cannot work with the data, warnings for settings that cannot learn.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "../lib/config/mod.ts";
 * import { createLogger } from "../lib/core/mod.ts";
 * preflight(resolveConfig("smoke", { numClasses: 5 }), createLogger()); // throws: fewer than 10 classes
 * ```
 */
export function preflight(config: PipelineConfig, log: Logger): void {
  if (config.lrMin > config.lrMax) {
    throw new UsageError(`--lr-min (${config.lrMin}) must not exceed --lr-max (${config.lrMax})`);
  }
  if (config.numClasses < NUM_CLASSES) {
    throw new UsageError(
      `--num-classes ${config.numClasses} is fewer than the ${NUM_CLASSES} classes of CIFAR-10 ` +
        `(labels 0–${NUM_CLASSES - 1}): the head needs at least ${NUM_CLASSES} outputs`,
    );
  }
  if (config.numClasses > NUM_CLASSES) {
    log.warn(
      `--num-classes ${config.numClasses}: CIFAR-10 has ${NUM_CLASSES}; the extra outputs are never a label`,
    );
  }
  if (config.lrMax === 0 && config.lrMin === 0) {
    log.warn("--lr-max 0 and --lr-min 0: the learning rate is 0 throughout, so training changes no weight");
  }
  const splits = [
    ["train", config.trainLimit, TRAIN_FILES.length * RECORDS_PER_FILE],
    ["test", config.testLimit, TEST_FILES.length * RECORDS_PER_FILE],
  ] as const;
  for (const [split, limit, available] of splits) {
    if (limit !== null && limit > available) {
      const n = (v: number) => v.toLocaleString("en-US");
      log.warn(
        `--${split}-limit ${n(limit)} is more than the ${n(available)} ${split} images of CIFAR-10: ` +
          `all ${n(available)} are used`,
      );
    }
  }
}

/** Run the pipeline for `argv`; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const log = createLogger();
  let record: RunRecord | undefined;
  let lock: Lock | undefined;
  let runDir = "";
  let parsedArgs: PipelineArgs | undefined;
  const onSignal = () => {
    record?.interrupted();
    lock?.releaseSync();
    const resume = parsedArgs
      ? resumeCommand(parsedArgs, runDir)
      : `deno task pipeline --resume --out ${runDir}`;
    console.error(`\ninterrupted: resume with  ${resume}`);
    Deno.exit(130);
  };
  try {
    const args = parsePipelineArgs(argv);
    parsedArgs = args;
    if (args.help) {
      console.log(helpText());
      return 0;
    }
    if (args.version) {
      console.log(await versionText());
      return 0;
    }
    runDir = args.out ?? defaultRunDir(args.preset);
    let config: PipelineConfig;
    if (args.resume) {
      const previous = await readRunManifest(runDir);
      if (!previous) throw new UsageError(`--resume: no run.json in ${runDir} to resume`);
      if (args.presetGiven && args.preset !== previous.config.preset) {
        throw new UsageError(
          `--resume --preset ${args.preset}: the run in ${runDir} was made with --preset ` +
            `${previous.config.preset}, which a resume keeps; drop --preset, or drop --resume to start over`,
        );
      }
      config = { ...previous.config, ...args.overrides };
      log.info(`resuming ${runDir} (preset ${config.preset})`);
    } else {
      const envUrl = Deno.env.get("CIFAR10_URL");
      const overrides = { ...args.overrides };
      if (overrides.dataUrl === undefined && envUrl) overrides.dataUrl = envUrl;
      config = resolveConfig(args.preset, overrides);
    }
    preflight(config, log);
    Deno.addSignalListener("SIGINT", onSignal);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
    log.info(`run folder: ${runDir}`);
    const result = await runPipeline(STAGES, {
      config,
      runDir,
      cacheDir: args.cacheDir ?? defaultCacheDir(),
      stages: args.stages,
      resume: args.resume,
      log,
      onRecord: (r) => (record = r),
      onLock: (l) => (lock = l),
    });
    printRunSummary(runDir, result);
    log.info(`done: ${join(runDir, "run.json")}`);
    return 0;
  } catch (err) {
    const fault = writeFaultOf(err, "run") ?? (err instanceof PipelineError ? err : null);
    if (fault) {
      console.error(fault.toLine());
      return fault.exitCode;
    }
    console.error("error: unexpected fault (a bug; please report it with this trace):");
    console.error(err);
    return 70;
  } finally {
    try {
      Deno.removeSignalListener("SIGINT", onSignal);
      if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", onSignal);
    } catch {
      // not added
    }
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // tfjs backends may keep handles open; exit explicitly.
  Deno.exit(code);
}
