/**
 * `GET /api/runs/:id`: what the run page shows, as JSON (without the per-image predictions and without
 * the folder's path on this machine).
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const run = await (await createApp({ runsDir: "runs" }).request("/api/runs/quick")).json();
 * ```
 * @module
 */
import { json, type RouteContext } from "@/utils.ts";
import { readRun } from "@/lib/dashboard/mod.ts";

/** GET /api/runs/:id. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const view = await readRun(ctx.runsDir, ctx.params.id);
  if (view === null) return ctx.notFound(`run ${ctx.params.id}`);
  const { dir: _dir, predictions, metrics, ...rest } = view;
  return json({
    ...rest,
    predictions: predictions ? { classes: predictions.classes, count: predictions.items.length } : null,
    metrics: metrics
      ? { steps: metrics.steps.length, epochs: metrics.epochs.length, end: metrics.end }
      : null,
  });
}
