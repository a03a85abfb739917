/**
 * `GET /api/runs/:id/live`: the live state of a run (status, stages, curve, progress), re-read from
 * run.json and train/metrics.jsonl at every call; the run page polls it while the run trains.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const live = await (await createApp({ runsDir: "runs" }).request("/api/runs/quick/live")).json();
 * ```
 * @module
 */
import { json, type RouteContext } from "@/utils.ts";
import { readLive } from "@/lib/dashboard/mod.ts";
import { liveSnapshot } from "@/components/island_props.ts";

/** GET /api/runs/:id/live. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const live = await readLive(ctx.runsDir, ctx.params.id);
  if (live === null) return ctx.notFound(`run ${ctx.params.id}`);
  return json(liveSnapshot(ctx.params.id, live));
}
