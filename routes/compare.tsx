/**
 * `/compare?run=a&run=b`: runs side by side: the config settings that differ, curves overlaid and the
 * metrics in columns. With fewer than two runs it offers the runs to pick from.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const res = await createApp({ runsDir: "runs" }).request("/compare?run=quick&run=smoke");
 * ```
 * @module
 */
import type { RouteContext } from "@/utils.ts";
import {
  configDiff,
  droppedIds,
  listRuns,
  MAX_COMPARED,
  metricRows,
  readCompared,
  type RunSummary,
  type RunView,
} from "@/lib/dashboard/mod.ts";
import { Island } from "@/components/Island.tsx";
import { StatusBadge } from "@/components/StatusBadge.tsx";
import { configValue } from "@/components/ConfigTable.tsx";
import { curveData } from "@/components/island_props.ts";
import { formatPercent, formatSeconds } from "@/lib/core/mod.ts";

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
  /** Runs asked for past the first MAX_COMPARED, left out. */
  dropped?: string[];
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
export default function ComparePage({ views, runs, unknown, dropped = [] }: ComparePageProps) {
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
      {dropped.length > 0 && (
        <p class="notes dropped">
          A comparison shows at most {MAX_COMPARED} runs; left out: {dropped.join(", ")}.
        </p>
      )}
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

/** GET /compare. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const { views, unknown } = await readCompared(ctx.runsDir, ctx.url);
  const runs = views.length < 2 ? await listRuns(ctx.runsDir) : [];
  const dropped = droppedIds(ctx.url);
  return ctx.render(<ComparePage views={views} runs={runs} unknown={unknown} dropped={dropped} />, {
    title: "Compare",
  });
}
