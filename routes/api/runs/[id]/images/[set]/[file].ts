/**
 * `GET /api/runs/:id/images/:set/:n.png`: one image of a run as a real PNG, encoded on the fly from
 * `decode/test_images.u8` (`set` = "test") or `augment/samples.u8` (`set` = "sample"). `?scale=1..8`
 * enlarges it (nearest neighbour).
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const png = await (await createApp({ runsDir: "runs" }).request("/api/runs/quick/images/test/0.png")).bytes();
 * ```
 * @module
 */
import type { RouteContext } from "@/utils.ts";
import { type ImageSet, readRunImage } from "@/lib/dashboard/mod.ts";
import { encodePng, scaleTile } from "@/lib/figures/mod.ts";

/** GET /api/runs/:id/images/:set/:file. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const { id, set, file } = ctx.params;
  const m = /^(\d{1,9})\.png$/.exec(file);
  const scale = Number(ctx.url.searchParams.get("scale") ?? "1");
  if (!m || (set !== "test" && set !== "sample") || !Number.isInteger(scale) || scale < 1 || scale > 8) {
    return ctx.notFound(`image ${set}/${file} of run ${id}`);
  }
  const pixels = await readRunImage(ctx.runsDir, id, set as ImageSet, Number(m[1]));
  if (pixels === null) return ctx.notFound(`image ${set}/${file} of run ${id}`);
  return new Response(encodePng(scaleTile(pixels, scale)) as Uint8Array<ArrayBuffer>, {
    headers: {
      "content-type": "image/png",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    },
  });
}
