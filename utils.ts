/**
 * What the dashboard's routes share, in Fresh 2's shape: the route context and handler types, the content
 * types and page policy, and the response helpers. A leaf: it imports no route and not `app.ts`, so routes
 * import it and `app.ts` imports the routes, without a circle.
 *
 * @example
 * ```ts
 * import { json, type RouteContext } from "@/utils.ts";
 * export function GET(_ctx: RouteContext): Response {
 *   return json({ ok: true });
 * }
 * ```
 * @module
 */
import type { VNode } from "preact";
import type { UploadClassifier } from "@/lib/dashboard/mod.ts";

/** Any Preact element. */
// deno-lint-ignore no-explicit-any
export type AnyVNode = VNode<any>;

/** What a route handler is given. */
export interface RouteContext {
  req: Request;
  url: URL;
  /** Route parameters, URL-decoded. */
  params: Record<string, string>;
  /** The folder that holds the run folders. */
  runsDir: string;
  /** The dashboard's one upload classifier (bounded children, timeouts). */
  classifier: UploadClassifier;
  /** A full HTML page around `page`. */
  render(page: AnyVNode, options: { title: string; status?: number }): Response;
  /** The 404 page (or a one-line text for `/api/` paths). */
  notFound(what: string): Response;
}

/** A route module's `GET`. */
export type RouteHandler = (ctx: RouteContext) => Response | Promise<Response>;

/** Content types of the files the dashboard serves, by extension. */
export const CONTENT_TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  json: "application/json; charset=utf-8",
  jsonl: "text/plain; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  ico: "image/x-icon",
};

/** The Content-Security-Policy of the HTML pages: only this origin's scripts, no inline script. */
export const PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

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
