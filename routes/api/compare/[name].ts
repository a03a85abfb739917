/**
 * `GET /api/compare/:name?run=a&run=b`: a comparison to save: `curves.svg` (overlaid), `curves.csv`
 * (per epoch, one row per run and epoch), `metrics.csv` (side by side).
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * await createApp({ runsDir: "runs" }).request("/api/compare/metrics.csv?run=a&run=b");
 * ```
 * @module
 */
import { download, type RouteContext } from "@/utils.ts";
import { metricRows, readCompared, toCsv } from "@/lib/dashboard/mod.ts";
import { curvesSvg } from "@/lib/figures/mod.ts";

/** GET /api/compare/:name. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const name = ctx.params.name;
  if (!["curves.svg", "curves.csv", "metrics.csv"].includes(name)) return ctx.notFound(`download ${name}`);
  const { views, unknown } = await readCompared(ctx.runsDir, ctx.url);
  if (views.length === 0) {
    return ctx.notFound(`runs to compare${unknown.length ? ` (unknown: ${unknown.join(", ")})` : ""}`);
  }
  if (name === "curves.svg") {
    const series = views.map((v) => ({ label: v.id, epochs: v.epochs }));
    return download(
      curvesSvg(series, { title: "Training curves compared" }),
      "compare-curves.svg",
      "image/svg+xml",
    );
  }
  if (name === "curves.csv") {
    const rows = views.flatMap((v) =>
      v.epochs.map((e) => [v.id, e.epoch, e.meanLoss, e.testAccuracy, e.lr, e.seconds])
    );
    return download(
      toCsv(["run", "epoch", "meanLoss", "testAccuracy", "lr", "seconds"], rows),
      "compare-curves.csv",
      "text/csv; charset=utf-8",
    );
  }
  const rows = metricRows(views).map((r) => [r.label, ...r.values]);
  return download(
    toCsv(["metric", ...views.map((v) => v.id)], rows),
    "compare-metrics.csv",
    "text/csv; charset=utf-8",
  );
}
