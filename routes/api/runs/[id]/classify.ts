/**
 * `POST /api/runs/:id/classify`: the body is one PNG or JPEG (at most 2 MB; `content-type` image/png or
 * image/jpeg), classified by the run's best checkpoint; answers `{ file, width, height, top: [{ class,
 * probability }] }`. 413 for a body over the bound or a picture over the megapixel bound (read from its
 * header), 415 for anything that is not such an image, 409 for a run without a checkpoint, 503 when every
 * classify child is taken and the queue is full, 504 for a child that ran out of time; each with a
 * one-line `{ error }` (docs/dashboard-limits.md).
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const res = await createApp({ runsDir: "runs" }).request("/api/runs/quick/classify", {
 *   method: "POST", headers: { "content-type": "image/png" }, body: await Deno.readFile("cat.png"),
 * });
 * console.log((await res.json()).top[0]);
 * ```
 * @module
 */
import { json, type RouteContext } from "@/utils.ts";
import { MAX_UPLOAD_BYTES, resolveRunDir, UPLOAD_STATUS } from "@/lib/dashboard/mod.ts";
import { sniffImageType } from "@/lib/figures/mod.ts";

const TYPES = ["image/png", "image/jpeg"];

/** Read at most `limit` bytes of the body; null when it is longer. */
async function readBounded(req: Request, limit: number): Promise<Uint8Array | null> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.byteLength;
    if (total > limit) return null;
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** POST /api/runs/:id/classify. */
export async function POST(ctx: RouteContext): Promise<Response> {
  const dir = await resolveRunDir(ctx.runsDir, ctx.params.id);
  if (dir === null) return ctx.notFound(`run ${ctx.params.id}`);
  const type = (ctx.req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (!TYPES.includes(type)) {
    return json(
      { error: `send a PNG or JPEG picture (content-type ${TYPES.join(" or ")}), not "${type}"` },
      415,
    );
  }
  const declared = Number(ctx.req.headers.get("content-length") ?? "0");
  const limit = `${MAX_UPLOAD_BYTES / 1e6} MB`;
  if (declared > MAX_UPLOAD_BYTES) return json({ error: `the picture is over ${limit}` }, 413);
  const bytes = await readBounded(ctx.req, MAX_UPLOAD_BYTES);
  if (bytes === null) return json({ error: `the picture is over ${limit}` }, 413);
  const name = (ctx.url.searchParams.get("name") ?? "upload").slice(0, 200);
  if (sniffImageType(bytes) === null) {
    return json({ error: `Cannot read ${name}: not a PNG or JPEG file` }, 415);
  }
  const answer = await ctx.classifier.classify(dir, bytes, { name });
  if (!answer.ok) {
    // the run's folder path on this machine is not for the browser
    const response = json({ error: answer.error.replaceAll(dir, ctx.params.id) }, UPLOAD_STATUS[answer.kind]);
    if (answer.kind === "busy") response.headers.set("retry-after", "5");
    return response;
  }
  const { ok: _ok, ...body } = answer;
  return json(body);
}
