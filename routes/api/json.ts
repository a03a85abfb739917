/**
 * Response helpers of the API routes.
 *
 * @example
 * ```ts
 * import { json, download } from "./json.ts";
 * json({ ok: true });
 * download("a,b\r\n", "run-curves.csv", "text/csv; charset=utf-8");
 * ```
 * @module
 */

/** A JSON response that is never cached. */
export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/** A file to save: `content-disposition: attachment` with a safe file name. */
export function download(
  body: string | Uint8Array<ArrayBuffer>,
  filename: string,
  contentType: string,
): Response {
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, "_");
  return new Response(body, {
    headers: {
      "content-type": contentType,
      "content-disposition": `attachment; filename="${safe}"`,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    },
  });
}
