/**
 * `/`: the list of runs (status, preset, best accuracy, date), with boxes to pick runs to compare.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const res = await createApp({ runsDir: "runs" }).request("/");
 * ```
 * @module
 */
import type { RouteContext } from "@/utils.ts";
import { listRuns, type RunSummary } from "@/lib/dashboard/mod.ts";
import { StatusBadge } from "@/components/StatusBadge.tsx";
import { formatDate, formatPercent } from "@/lib/core/mod.ts";

/** Props of {@linkcode RunsPage}. */
export interface RunsPageProps {
  runs: RunSummary[];
  runsDir: string;
}

/** The table of runs. */
export default function RunsPage({ runs, runsDir }: RunsPageProps) {
  return (
    <section>
      <h1>Runs</h1>
      {runs.length === 0
        ? (
          <p class="empty">
            No runs in <code>{runsDir}</code> yet. Make one with{" "}
            <code>deno task pipeline --preset smoke --out {runsDir}/smoke</code>.
          </p>
        )
        : (
          <form action="/compare" method="get">
            <table class="runs">
              <thead>
                <tr>
                  <th>compare</th>
                  <th>run</th>
                  <th>status</th>
                  <th>preset</th>
                  <th>best accuracy</th>
                  <th>epochs</th>
                  <th>created (UTC)</th>
                  <th>notes</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id} data-run={r.id}>
                    <td>
                      <input type="checkbox" name="run" value={r.id} aria-label={`compare ${r.id}`} />
                    </td>
                    <td>
                      <a href={`/runs/${encodeURIComponent(r.id)}`}>{r.id}</a>
                    </td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>{r.preset ?? "–"}</td>
                    <td class="num">{formatPercent(r.bestAccuracy)}</td>
                    <td class="num">{r.epochs}</td>
                    <td>{formatDate(r.createdAt)}</td>
                    <td class="problem">{r.problem ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p>
              <button type="submit">Compare the selected runs</button>
            </p>
          </form>
        )}
    </section>
  );
}

/** GET /. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const runs = await listRuns(ctx.runsDir);
  return ctx.render(<RunsPage runs={runs} runsDir={ctx.runsDir} />, { title: "Runs" });
}
