/**
 * Comparing runs: which runs a comparison URL names, their metrics side by side and the config keys that
 * differ. The compare page and `/api/compare/*` both use it.
 *
 * @example
 * ```ts
 * import { metricRows, readCompared } from "./compare.ts";
 * const { views } = await readCompared("runs", new URL("http://x/compare?run=a&run=b"));
 * console.log(metricRows(views).map((r) => r.label));
 * ```
 * @module
 */
import { canonicalJson } from "../core/mod.ts";
import { readRun, type RunView } from "./run_reader.ts";

/** The most runs one comparison shows. */
export const MAX_COMPARED = 8;

/** The run ids a comparison URL names (`?run=a&run=b` or `?runs=a,b`), deduplicated, at most 8. */
export function comparedIds(url: URL): string[] {
  const ids = [
    ...url.searchParams.getAll("run"),
    ...url.searchParams.getAll("runs").flatMap((s) => s.split(",")),
  ].map((s) => s.trim()).filter(Boolean);
  return [...new Set(ids)].slice(0, MAX_COMPARED);
}

/** One row of the side-by-side metrics: a label and a value per run. */
export interface MetricRow {
  label: string;
  values: (string | number | null)[];
}

/** The metrics compared side by side (also the rows of `/api/compare/metrics.csv`). */
export function metricRows(views: RunView[]): MetricRow[] {
  const rows: MetricRow[] = [
    { label: "status", values: views.map((v) => v.status) },
    { label: "preset", values: views.map((v) => v.manifest?.preset ?? null) },
    { label: "best accuracy", values: views.map((v) => v.bestAccuracy) },
    {
      label: "best epoch",
      values: views.map((v) => v.train?.bestEpoch ?? v.metrics?.end?.bestEpoch ?? null),
    },
    { label: "test accuracy (evaluate)", values: views.map((v) => v.evaluation?.accuracy ?? null) },
    { label: "test images", values: views.map((v) => v.evaluation?.count ?? null) },
    { label: "epochs", values: views.map((v) => v.epochs.length) },
    { label: "last mean loss", values: views.map((v) => v.epochs.at(-1)?.meanLoss ?? null) },
    { label: "train seconds", values: views.map((v) => v.manifest?.stages.train?.seconds ?? null) },
    {
      label: "total seconds",
      values: views.map((v) => {
        const s = Object.values(v.manifest?.stages ?? {}).map((r) => r?.seconds ?? 0);
        return s.length ? s.reduce((a, b) => a + b, 0) : null;
      }),
    },
  ];
  const classes = [...new Set(views.flatMap((v) => v.evaluation?.perClass.map((p) => p.class) ?? []))];
  for (const c of classes) {
    rows.push({
      label: `accuracy: ${c}`,
      values: views.map((v) => v.evaluation?.perClass.find((p) => p.class === c)?.accuracy ?? null),
    });
  }
  return rows;
}

/** Config keys whose values differ between the runs, then those that agree. */
export function configDiff(views: RunView[]): { differ: string[]; same: string[] } {
  const keys = [...new Set(views.flatMap((v) => Object.keys(v.manifest?.config ?? {})))].sort();
  const differ: string[] = [], same: string[] = [];
  for (const k of keys) {
    const values = new Set(views.map((v) => canonicalJson(v.manifest?.config[k] ?? null)));
    (values.size > 1 ? differ : same).push(k);
  }
  return { differ, same };
}

/** Read the runs a comparison URL names; ids that are not runs come back in `unknown`. */
export async function readCompared(
  runsDir: string,
  url: URL,
): Promise<{ views: RunView[]; unknown: string[] }> {
  const views: RunView[] = [], unknown: string[] = [];
  for (const id of comparedIds(url)) {
    const view = await readRun(runsDir, id);
    if (view) views.push(view);
    else unknown.push(id);
  }
  return { views, unknown };
}
