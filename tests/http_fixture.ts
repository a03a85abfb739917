/**
 * A test HTTP server on 127.0.0.1 (Deno.serve on port 0) that serves one body and can misbehave on cue:
 * answer error statuses, drop the connection part-way, stall, and answer (or ignore) Range requests.
 *
 * @example
 * ```ts
 * import { serveBytes } from "./http_fixture.ts";
 * await using server = serveBytes(new Uint8Array(10), { plan: [{ dropAfter: 4 }] });
 * await fetch(server.url); // the first response drops after 4 bytes; later ones are whole
 * ```
 * @module
 */

/** What the server does for one request (by arrival order); later requests use the last-but-default. */
export interface RequestPlan {
  /** Answer this status with a short text body instead of the data. */
  status?: number;
  /** Send this many body bytes, then drop the connection. */
  dropAfter?: number;
  /** Send this many body bytes, then send nothing more (until the server closes). */
  stallAfter?: number;
}

/** Options of {@linkcode serveBytes}. */
export interface ServeOptions {
  /** One entry per request in arrival order; requests past the end are served normally. */
  plan?: RequestPlan[];
  /** Whether Range requests get 206 (true, default) or the whole body with 200. */
  ranges?: boolean;
  /** Bytes per body chunk (default 16 KiB). */
  chunkBytes?: number;
  /** The ETag header (default a fixed strong tag). */
  etag?: string;
}

/** A running fixture server. */
export interface FixtureServer extends AsyncDisposable {
  /** The URL of the body (`http://127.0.0.1:PORT/archive.tar.gz`). */
  url: string;
  /** Each request's Range and If-Range headers, in arrival order. */
  requests: { range: string | null; ifRange: string | null }[];
  /** Stops the server (and releases stalled responses). */
  close(): Promise<void>;
}

/**
 * Serves `body` at `/archive.tar.gz` on 127.0.0.1 with a random free port; any other path is 404.
 *
 * @example
 * ```ts
 * await using server = serveBytes(bytes, { plan: [{ status: 503 }] }); // one 503, then the body
 * ```
 */
export function serveBytes(body: Uint8Array, options: ServeOptions = {}): FixtureServer {
  const plan = options.plan ?? [];
  const ranges = options.ranges ?? true;
  const chunkBytes = options.chunkBytes ?? 16 * 1024;
  const etag = options.etag ?? '"fixture-1"';
  const requests: FixtureServer["requests"] = [];
  const closing = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError: () => new Response("error", { status: 500 }),
  }, (request) => {
    if (new URL(request.url).pathname !== "/archive.tar.gz") {
      return new Response("not found", { status: 404 });
    }
    const step = plan[requests.length] ?? {};
    const range = request.headers.get("range");
    requests.push({ range, ifRange: request.headers.get("if-range") });
    if (step.status !== undefined) return new Response(`status ${step.status}`, { status: step.status });
    let start = 0;
    const match = range?.match(/^bytes=(\d+)-$/);
    const partial = ranges && match !== null && match !== undefined;
    if (partial) start = Number(match![1]);
    const data = body.subarray(start);
    const limit = step.dropAfter ?? step.stallAfter ?? Infinity;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= data.length) {
          controller.close();
          return;
        }
        if (sent >= limit) {
          if (step.stallAfter !== undefined) await closing.promise;
          controller.error(new Error("dropped by the fixture"));
          return;
        }
        const end = Math.min(data.length, sent + chunkBytes, limit);
        controller.enqueue(data.slice(sent, end));
        sent = end;
      },
    });
    const headers = new Headers({
      "content-type": "application/gzip",
      "content-length": String(data.length),
      etag,
    });
    if (ranges) headers.set("accept-ranges", "bytes");
    if (partial) headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
    return new Response(stream, { status: partial ? 206 : 200, headers });
  });
  const close = async () => {
    closing.resolve();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/archive.tar.gz`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A URL on 127.0.0.1 where nothing listens (connections are refused). */
export function refusedUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}/archive.tar.gz`;
}
