/**
 * The dashboard as a Hono app, in Fresh's layout: pages in `routes/` rendered with Preact on the server,
 * islands in `islands/` hydrated by `static/client.js`. Tests call `createApp(...).request(path)` without a
 * socket; `main.ts` serves it.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 * const app = createApp({ runsDir: "runs" });
 * const res = await app.request("/api/runs");
 * console.log(res.status, await res.json());
 * ```
 * @module
 */
import { Hono } from "hono";
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import App from "@/routes/_app.tsx";
import NotFound from "@/routes/_404.tsx";
import * as indexPage from "@/routes/index.tsx";
import * as runPage from "@/routes/runs/[id].tsx";
import * as runFiles from "@/routes/runs/[id]/files/[...path].ts";
import * as comparePage from "./routes/compare.tsx";
import * as apiRuns from "@/routes/api/runs.ts";
import * as apiRun from "@/routes/api/runs/[id].ts";
import * as apiLive from "@/routes/api/runs/[id]/live.ts";
import * as apiImages from "@/routes/api/runs/[id]/images/[set]/[file].ts";
import * as apiDownload from "@/routes/api/runs/[id]/download/[name].ts";
import * as apiCompare from "@/routes/api/compare/[name].ts";
import * as apiClassify from "@/routes/api/runs/[id]/classify.ts";
import { resolveInside, UploadClassifier } from "@/lib/dashboard/mod.ts";
import { type AnyVNode, CONTENT_TYPES, PAGE_CSP, type RouteContext, type RouteHandler } from "./utils.ts";

/** The routes, Fresh-style: URL pattern → module under `routes/`. */
export const ROUTES: readonly [pattern: string, handler: RouteHandler][] = [
  ["/", indexPage.GET],
  ["/compare", comparePage.GET],
  ["/runs/:id", runPage.GET],
  ["/runs/:id/files/*", runFiles.GET],
  ["/api/runs", apiRuns.GET],
  ["/api/runs/:id", apiRun.GET],
  ["/api/runs/:id/live", apiLive.GET],
  ["/api/runs/:id/images/:set/:file", apiImages.GET],
  ["/api/runs/:id/download/:name", apiDownload.GET],
  ["/api/compare/:name", apiCompare.GET],
];

/** The routes that take a POST body. */
export const POST_ROUTES: readonly [pattern: string, handler: RouteHandler][] = [
  ["/api/runs/:id/classify", apiClassify.POST],
];

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  /** The folder that holds the run folders. */
  runsDir: string;
  /** The folder served under /static/ (default: this project's static/). */
  staticDir?: string;
  /**
   * The host names a request's Host header may carry: loopback names by default (localhost, *.localhost,
   * 127.x.x.x, ::1), which stops DNS rebinding; more names, or "any" for a dashboard bound to every
   * address on purpose (`--host 0.0.0.0`).
   */
  allowedHosts?: readonly string[] | "any";
  /**
   * What runs the "classify an image" box: by default one with lib/dashboard's UPLOAD_LIMITS (children
   * at once, waiting uploads, timeout, megapixels).
   */
  classifier?: UploadClassifier;
}

/**
 * Whether `name` (a host name or address, without port or brackets) is a loopback name.
 *
 * @example
 * ```ts
 * isLoopbackName("127.0.0.1"); // true
 * isLoopbackName("evil.example"); // false
 * ```
 */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return n === "localhost" || n.endsWith(".localhost") || n === "::1" || /^127(\.\d{1,3}){3}$/.test(n);
}

/** The host name of a Host header value: no port, no IPv6 brackets, lower case. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") > 0 ? h.indexOf("]") : undefined);
  const colon = h.lastIndexOf(":");
  return colon >= 0 && h.indexOf(":") === colon ? h.slice(0, colon) : h;
}

function htmlResponse(page: AnyVNode, title: string, status: number): Response {
  const body = "<!DOCTYPE html>" + renderToString(h(App, { title, children: page }));
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": PAGE_CSP,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    },
  });
}

/**
 * The dashboard app. It reads run folders only through `lib/dashboard/` (the run reader) and never writes.
 *
 * @example
 * ```ts
 * const app = createApp({ runsDir: "runs" });
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, app.fetch);
 * ```
 */
export function createApp(options: AppOptions): Hono {
  const runsDir = options.runsDir;
  const staticDir = options.staticDir ?? new URL("./static", import.meta.url).pathname;
  const app = new Hono();
  const allowed = options.allowedHosts ?? [];
  const classifier = options.classifier ?? new UploadClassifier();

  // DNS rebinding: a page of another site that resolves its name to 127.0.0.1 must not read the runs.
  app.use("*", async (c, next) => {
    if (allowed !== "any") {
      const header = c.req.header("host") ?? new URL(c.req.url).host;
      const name = hostName(header);
      if (!isLoopbackName(name) && !allowed.map((a) => a.toLowerCase()).includes(name)) {
        return new Response(`forbidden: Host ${JSON.stringify(header)} is not served here (see --host)\n`, {
          status: 403,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }
    }
    await next();
  });

  const context = (req: Request, params: Record<string, string>): RouteContext => {
    const url = new URL(req.url);
    const ctx: RouteContext = {
      req,
      url,
      params,
      runsDir,
      classifier,
      render: (page, o) => htmlResponse(page, o.title, o.status ?? 200),
      notFound: (what) =>
        url.pathname.startsWith("/api/")
          ? new Response(`not found: ${what}\n`, {
            status: 404,
            headers: { "content-type": "text/plain; charset=utf-8" },
          })
          : htmlResponse(h(NotFound, { what }), "Not found", 404),
    };
    return ctx;
  };

  for (const [pattern, handler] of ROUTES) {
    app.get(pattern, (c) => handler(context(c.req.raw, c.req.param() as Record<string, string>)));
  }
  for (const [pattern, handler] of POST_ROUTES) {
    app.post(pattern, (c) => handler(context(c.req.raw, c.req.param() as Record<string, string>)));
  }

  app.get("/static/:file", async (c) => {
    const file = c.req.param("file");
    const ext = file.slice(file.lastIndexOf(".") + 1);
    const path = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file) && CONTENT_TYPES[ext]
      ? await resolveInside(staticDir, [file])
      : null;
    if (path === null) return context(c.req.raw, {}).notFound(`static file ${file}`);
    try {
      return new Response(await Deno.readFile(path), {
        headers: {
          "content-type": CONTENT_TYPES[ext],
          "x-content-type-options": "nosniff",
          "cache-control": "no-cache",
        },
      });
    } catch {
      return context(c.req.raw, {}).notFound(`static file ${file}`);
    }
  });

  app.notFound((c) => context(c.req.raw, {}).notFound(`page ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    // A bug, not a run's fault: the reader turns every file problem into a note. Say what broke.
    console.error(`dashboard: ${c.req.method} ${c.req.path}: ${err.stack ?? err}`);
    return new Response(`internal error: ${err.message}\n`, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  });
  return app;
}
