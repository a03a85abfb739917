/**
 * `/compare?run=a&run=b`: runs side by side: the config settings that differ, curves overlaid and the
 * metrics in columns. With fewer than two runs it offers the runs to pick from.
 *
 * @example
 * ```ts
 * const res = await createApp({ runsDir: "runs" }).request("/compare?run=quick&run=smoke");
 * ```
 * @module
 */
import type { RouteContext } from "../app.ts";
import { listRuns, readRun, type RunSummary, type RunView } from "../lib/dashboard/mod.ts";
import { canonicalJson } from "../lib/core/mod.ts";
import { Island } from "../components/Island.tsx";
import { StatusBadge } from "../components/StatusBadge.tsx";
import { configValue } from "../components/ConfigTable.tsx";
import { curveData } from "../components/island_props.ts";
import { formatPercent, formatSeconds } from "../lib/core/mod.ts";

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

function metricText(label: string, value: string | number | null): string {
  if (value === null) return "–";
  if (typeof value === "string") return value;
  if (label.includes("accuracy")) return formatPercent(value);
  if (label.includes("seconds")) return formatSeconds(value);
  if (label.includes("loss")) return value.toFixed(4);
  return String(value);
}

/** Props of {@linkcode ComparePage}. */
export interface ComparePageProps {
  views: RunView[];
  runs: RunSummary[];
  unknown: string[];
}

function Picker({ runs, chosen }: { runs: RunSummary[]; chosen: string[] }) {
  if (runs.length === 0) return <p class="empty">No runs to compare yet.</p>;
  return (
    <form action="/compare" method="get" class="picker">
      <p>Pick two or more runs:</p>
      <ul>
        {runs.map((r) => (
          <li key={r.id}>
            <label>
              <input type="checkbox" name="run" value={r.id} checked={chosen.includes(r.id)} /> {r.id}{" "}
              <StatusBadge status={r.status} /> {formatPercent(r.bestAccuracy)}
            </label>
          </li>
        ))}
      </ul>
      <button type="submit">Compare</button>
    </form>
  );
}

/** The comparison page. */
export default function ComparePage({ views, runs, unknown }: ComparePageProps) {
  const ids = views.map((v) => v.id);
  const query = ids.map((id) => `run=${encodeURIComponent(id)}`).join("&");
  const { differ, same } = configDiff(views);
  const Row = ({ k }: { k: string }) => (
    <tr data-key={k}>
      <th>{k}</th>
      {views.map((v) => (
        <td key={v.id}>
          <code>{configValue(v.manifest?.config[k])}</code>
        </td>
      ))}
    </tr>
  );
  return (
    <section class="compare">
      <h1>Compare runs</h1>
      {unknown.length > 0 && <p class="notes">No such run: {unknown.join(", ")}.</p>}
      {views.length < 2 ? <Picker runs={runs} chosen={ids} /> : (
        <>
          <h2>Config: {differ.length} settings differ</h2>
          <table class="config-diff">
            <thead>
              <tr>
                <th>setting</th>
                {views.map((v) => (
                  <th key={v.id}>
                    <a href={`/runs/${encodeURIComponent(v.id)}`}>{v.id}</a>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody class="differ">
              {differ.map((k) => <Row key={k} k={k} />)}
            </tbody>
          </table>
          {same.length > 0 && (
            <details>
              <summary>{same.length} settings are the same</summary>
              <table class="config-diff same">
                <tbody>
                  {same.map((k) => <Row key={k} k={k} />)}
                </tbody>
              </table>
            </details>
          )}

          <h2>Curves</h2>
          <Island
            name="CurvesChart"
            props={{ series: views.map((v) => curveData(v.id, v.epochs, v.metrics)) }}
          />
          <p class="downloads">
            download: <a href={`/api/compare/curves.svg?${query}`} download>curves.svg</a>
            <a href={`/api/compare/curves.csv?${query}`} download>curves.csv</a>
            <a href={`/api/compare/metrics.csv?${query}`} download>metrics.csv</a>
          </p>

          <h2>Metrics</h2>
          <table class="metrics">
            <thead>
              <tr>
                <th></th>
                {views.map((v) => <th key={v.id}>{v.id}</th>)}
              </tr>
            </thead>
            <tbody>
              {metricRows(views).map((row) => (
                <tr key={row.label} data-metric={row.label}>
                  <th>{row.label}</th>
                  {row.values.map((value, i) => <td key={i} class="num">{metricText(row.label, value)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
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

/** GET /compare. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const { views, unknown } = await readCompared(ctx.runsDir, ctx.url);
  const runs = views.length < 2 ? await listRuns(ctx.runsDir) : [];
  return ctx.render(<ComparePage views={views} runs={runs} unknown={unknown} />, { title: "Compare" });
}
