/**
 * The end-of-run summary: per stage its status and time, the best test accuracy and its epoch, the final
 * evaluation, the figures' paths and the command that opens the run in the dashboard. Built from run.json
 * alone, printed as a short table, and stored in run.json as `summary`.
 *
 * @example
 * ```ts
 * import { formatRunSummary, summarizeRun } from "./run_summary.ts";
 * import type { RunManifest } from "../contract/mod.ts";
 * declare const manifest: RunManifest;
 * const summary = summarizeRun("runs/smoke", manifest);
 * console.log(formatRunSummary(summary));
 * ```
 * @module
 */
import { dirname, join } from "node:path";
import { type RunManifest, STAGE_NAMES, type StageName } from "../contract/mod.ts";
import { formatDuration } from "../core/mod.ts";

/** `run.json`'s `summary`. */
export interface RunSummary {
  /** Per stage that took part: its status and wall-clock seconds (0 for a cached one). */
  stages: { stage: StageName; status: string; seconds: number | null }[];
  /** Seconds of all stages together. */
  totalSeconds: number;
  /** Best test accuracy during training, and its epoch (1-based); null when there was no training. */
  bestAccuracy: number | null;
  bestEpoch: number | null;
  /** The evaluate stage's accuracy of the best checkpoint. */
  evaluationAccuracy: number | null;
  /** Where the training loss first went far above where it started; null when it did not diverge. */
  diverged: { epoch: number; step: number; loss: number; lr: number } | null;
  /** The visualize stage's figures, relative to the current folder. */
  figures: string[];
  /** The command that shows this run. */
  dashboard: string;
  /** Its page on the dashboard's default address. */
  url: string;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * The summary of the run in `runDir` from its manifest.
 *
 * @example
 * ```ts
 * import type { RunManifest } from "../contract/mod.ts";
 * declare const manifest: RunManifest;
 * summarizeRun("runs/smoke", manifest).bestAccuracy; // 0.125
 * ```
 */
export function summarizeRun(runDir: string, manifest: RunManifest): RunSummary {
  const stages = STAGE_NAMES.filter((s) => manifest.stages[s]).map((stage) => {
    const r = manifest.stages[stage]!;
    return { stage, status: r.status, seconds: num(r.seconds) };
  });
  const train = manifest.stages.train?.summary ?? {};
  const evaluation = manifest.stages.evaluate?.summary ?? {};
  const bestEpoch = num(train.bestEpoch);
  const d = (train.diverged ?? null) as Record<string, unknown> | null;
  const diverged = d && [d.epoch, d.step, d.loss, d.lr].every((v) => num(v) !== null)
    ? { epoch: d.epoch as number, step: d.step as number, loss: d.loss as number, lr: d.lr as number }
    : null;
  const figures = (manifest.stages.visualize?.outputs ?? [])
    .map((o) => o.path)
    .filter((p) => /\.(png|svg)$/.test(p))
    .map((p) => join(runDir, "visualize", p));
  const runsDir = dirname(runDir);
  const id = manifest.id ?? runDir.split("/").pop() ?? runDir;
  return {
    stages,
    totalSeconds: stages.reduce((a, s) => a + (s.seconds ?? 0), 0),
    bestAccuracy: num(train.bestAccuracy),
    bestEpoch,
    evaluationAccuracy: num(evaluation.accuracy),
    diverged,
    figures,
    dashboard: `deno task dashboard --runs ${runsDir.includes(" ") ? JSON.stringify(runsDir) : runsDir}`,
    url: `http://127.0.0.1:8000/runs/${encodeURIComponent(id)}`,
  };
}

/**
 * The summary as the short table printed at the end of a run.
 *
 * @example
 * ```ts
 * import type { RunManifest } from "../contract/mod.ts";
 * declare const manifest: RunManifest;
 * console.log(formatRunSummary(summarizeRun("runs/smoke", manifest)));
 * ```
 */
export function formatRunSummary(summary: RunSummary): string {
  const width = Math.max(...summary.stages.map((s) => s.stage.length), "total".length);
  const time = (s: number | null) => (s === null ? "–" : formatDuration(s));
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const lines = [
    "summary:",
    ...summary.stages.map((s) =>
      `  ${s.stage.padEnd(width)}  ${s.status.padEnd(7)} ${time(s.seconds).padStart(8)}`
    ),
    `  ${"total".padEnd(width)}  ${"".padEnd(7)} ${time(summary.totalSeconds).padStart(8)}`,
  ];
  if (summary.bestAccuracy !== null) {
    lines.push(
      `  best test accuracy ${pct(summary.bestAccuracy)}` +
        (summary.bestEpoch !== null ? ` at epoch ${summary.bestEpoch}` : ""),
    );
  }
  if (summary.evaluationAccuracy !== null) {
    lines.push(`  evaluation of the best checkpoint: ${pct(summary.evaluationAccuracy)}`);
  }
  if (summary.diverged) {
    const { epoch, step, loss, lr } = summary.diverged;
    lines.push(
      `  the run diverged: its loss reached ${loss.toLocaleString("en-US", { maximumFractionDigits: 2 })} ` +
        `at epoch ${epoch}, step ${step} (lr ${lr}); its accuracy says little, try a lower --lr-max`,
    );
  }
  if (summary.figures.length) {
    const dir = dirname(summary.figures[0]);
    const names = summary.figures.map((f) => (dirname(f) === dir ? f.slice(dir.length + 1) : f));
    lines.push(`  figures in ${dir}/: ${names.join(", ")}`);
  }
  lines.push(`  dashboard: ${summary.dashboard}   then open ${summary.url}`);
  return lines.join("\n");
}
