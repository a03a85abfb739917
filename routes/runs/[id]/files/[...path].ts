/**
 * `/runs/:id/files/*`: a file of a run folder (the figures in `visualize/`), served only when it is a
 * regular file inside the runs folder: `..`, encoded separators, absolute paths and symlinks that lead
 * out are answered 404.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * await createApp({ runsDir: "runs" }).request("/runs/quick/files/visualize/samples.png");
 * ```
 * @module
 */
import { CONTENT_TYPES, type RouteContext } from "@/utils.ts";
import { resolveRunFile } from "@/lib/dashboard/mod.ts";

/** The policy of served run files: an SVG may show its embedded images and nothing more. */
export const FILE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox";

/** GET /runs/:id/files/*. */
export async function GET(ctx: RouteContext): Promise<Response> {
  // Take the rest of the path raw, so that an encoded "/" stays inside one segment and is refused.
  const parts = ctx.url.pathname.split("/");
  const rest = parts.slice(4).join("/");
  const path = await resolveRunFile(ctx.runsDir, ctx.params.id, rest);
  if (path === null) return ctx.notFound(`file ${rest} in run ${ctx.params.id}`);
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  try {
    const file = await Deno.open(path, { read: true });
    return new Response(file.readable, {
      headers: {
        "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream",
        "content-security-policy": FILE_CSP,
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
      },
    });
  } catch {
    return ctx.notFound(`file ${rest} in run ${ctx.params.id}`);
  }
}
