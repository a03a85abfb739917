/**
 * `GET /api/runs`: the list of runs as JSON.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const runs = await (await createApp({ runsDir: "runs" }).request("/api/runs")).json();
 * ```
 * @module
 */
import { json, type RouteContext } from "@/utils.ts";
import { listRuns } from "@/lib/dashboard/mod.ts";

/** GET /api/runs. */
export async function GET(ctx: RouteContext): Promise<Response> {
  return json(await listRuns(ctx.runsDir));
}
