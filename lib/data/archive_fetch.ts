/**
 * Fetches a `.tar.gz` archive from http(s)://, file:// or a path and writes the members it needs, verified,
 * into a folder, without ever holding the archive in memory:
 * source bytes → `DecompressionStream("gzip")` → modern-tar's streaming reader → one file per member,
 * hashed as it is written.
 *
 * - HTTP: bounded retries with backoff on network errors, 408/425/429 and 5xx; a connection that drops or
 *   stalls mid-body is resumed with `Range: bytes=N-` (`If-Range` guards a changed file). A server that
 *   ignores the range is read again from the start and the first N bytes are skipped, so the stream the
 *   gunzip sees is the same either way.
 * - Members are matched and written by their base name only (`cifar-10-batches-bin/test_batch.bin` →
 *   `test_batch.bin`); other entries are skipped, so a `..` or absolute name never escapes the folder.
 * - Each member goes to a temporary name and is renamed only after its SHA-256 matches; on any fault every
 *   file this call wrote is removed, so a failed fetch leaves nothing half-verified behind.
 * - Every expected fault is a {@linkcode PipelineError} with one line naming the file and the fault.
 *
 * @example
 * ```ts
 * import { fetchArchive } from "./archive_fetch.ts";
 * const result = await fetchArchive("../shared/data/cifar-10-binary.tar.gz", "/tmp/run/fetch");
 * result.members.map((m) => m.name); // ["batches.meta.txt", "data_batch_1.bin", …]
 * ```
 * @module
 */
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createTarDecoder, type ParsedTarEntry } from "modern-tar";
import {
  describeOsError,
  formatMegabytes,
  incrementalSha256,
  type Logger,
  PipelineError,
  tempNameFor,
} from "../core/mod.ts";
import { META_FILE, OFFICIAL_SHA256 } from "./cifar_format.ts";

/** How network faults are retried. */
export interface RetryOptions {
  /** Tries per request before giving up (default 4). The count restarts whenever bytes arrive. */
  attempts?: number;
  /** Milliseconds to wait before retry `n` (1-based). Default `500 · 2^(n-1)`: 0.5 s, 1 s, 2 s. */
  delayMs?: (retry: number) => number;
  /** A connection with no bytes for this long counts as dropped (ms, default 30,000). */
  idleTimeoutMs?: number;
}

/** Options of {@linkcode openArchiveSource}. */
export interface OpenSourceOptions {
  /** Retry policy for http(s) sources. */
  retry?: RetryOptions;
  /** The stage errors are reported for (default "fetch"). */
  stage?: string;
}

/** An opened archive: its bytes as a stream, and its size when known. */
export interface ArchiveSource {
  /** The raw (compressed) bytes, resumed transparently after network faults. */
  readable: ReadableStream<Uint8Array>;
  /** Size in bytes, when the server or file system says. */
  total: number | undefined;
  /** How the source is named in messages (the URL or the path). */
  label: string;
  /** How many times the download was resumed after a fault (0 for files). */
  readonly resumes: number;
}

/** Options of {@linkcode fetchArchive}. */
export interface FetchArchiveOptions extends OpenSourceOptions {
  /** Base name → hex SHA-256 each member must have. Default: the official sums of the six CIFAR-10 files. */
  expected?: Readonly<Record<string, string>>;
  /** Base names that must be in the archive. Default: the keys of `expected` and `batches.meta.txt`. */
  members?: readonly string[];
  /** Where progress goes (bytes, rate, ETA). */
  log?: Logger;
}

/** One member written by {@linkcode fetchArchive}. */
export interface FetchedMember {
  /** Base name, also its file name in the folder. */
  name: string;
  /** Size in bytes. */
  bytes: number;
  /** Hex SHA-256 of the contents. */
  sha256: string;
  /** Whether the contents were checked against an expected sum. */
  verified: boolean;
}

/** What {@linkcode fetchArchive} did. */
export interface FetchArchiveResult {
  /** The source as named in messages. */
  source: string;
  /** Compressed bytes read. */
  archiveBytes: number;
  /** The members written, sorted by name. */
  members: FetchedMember[];
  /** Downloads resumed after a network fault. */
  resumes: number;
}

const DEFAULT_ATTEMPTS = 4;
const defaultDelay = (retry: number) => 500 * 2 ** (retry - 1);
const DEFAULT_IDLE_MS = 30_000;
const RETRYABLE_STATUS = new Set([408, 425, 429]);

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

class StallError extends Error {
  constructor(ms: number) {
    super(`no data for ${(ms / 1000).toFixed(1)} s`);
  }
}

/** Parses `Content-Range: bytes START-END/TOTAL`. */
function parseContentRange(value: string | null): { start: number; total: number | undefined } | undefined {
  const match = value?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i);
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === "*" ? undefined : Number(match[3]) };
}

/** An HTTP download that resumes itself after network faults. */
class HttpSource {
  #url: string;
  #stage: string;
  #attempts: number;
  #delay: (retry: number) => number;
  #idleMs: number;
  #offset = 0;
  #skip = 0;
  #total: number | undefined;
  #validator: string | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #abort: AbortController | undefined;
  #failures = 0;
  #resumes = 0;

  constructor(url: string, options: OpenSourceOptions) {
    this.#url = url;
    this.#stage = options.stage ?? "fetch";
    this.#attempts = Math.max(1, options.retry?.attempts ?? DEFAULT_ATTEMPTS);
    this.#delay = options.retry?.delayMs ?? defaultDelay;
    this.#idleMs = options.retry?.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  }

  get total(): number | undefined {
    return this.#total;
  }

  get resumes(): number {
    return this.#resumes;
  }

  /** Connects (with retries); faults such as HTTP 404 surface here. */
  open(): Promise<void> {
    return this.#connect();
  }

  readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: (why) => {
        this.#abort?.abort(why);
      },
    }, { highWaterMark: 0 });
  }

  /** Counts a failure; throws the final error after the last attempt, else waits the backoff. */
  async #fail(why: string): Promise<void> {
    this.#failures++;
    if (this.#failures >= this.#attempts) {
      const where = this.#offset > 0
        ? ` at ${formatMegabytes(this.#offset)} of ${formatMegabytes(this.#total)}`
        : "";
      const tries = this.#attempts > 1 ? ` (after ${this.#failures} attempts)` : "";
      throw new PipelineError(this.#stage, `Cannot download ${this.#url}: ${why}${where}${tries}`);
    }
    await sleep(this.#delay(this.#failures));
  }

  /** Runs `work` with an abort controller that fires when `idleMs` passes first. */
  async #withIdleTimeout<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = this.#abort!;
    const timer = setTimeout(() => abort.abort(new StallError(this.#idleMs)), this.#idleMs);
    try {
      return await work(abort.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async #connect(): Promise<void> {
    for (;;) {
      this.#abort = new AbortController();
      const headers = new Headers({ "accept-encoding": "identity" });
      if (this.#offset > 0) {
        headers.set("range", `bytes=${this.#offset}-`);
        if (this.#validator) headers.set("if-range", this.#validator);
      }
      let response: Response;
      try {
        response = await this.#withIdleTimeout((signal) => fetch(this.#url, { headers, signal }));
      } catch (err) {
        if (err instanceof TypeError && !/fetch failed|error sending request/i.test(err.message)) {
          throw new PipelineError(this.#stage, `Cannot download ${this.#url}: ${err.message}`, {
            cause: err,
          });
        }
        await this.#fail(describeOsError(err));
        continue;
      }
      const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
      if (response.ok && response.body) {
        if (this.#offset > 0 && response.status === 206) {
          const range = parseContentRange(response.headers.get("content-range"));
          if (!range || range.start !== this.#offset) {
            await response.body.cancel();
            await this.#fail(`the server answered a range request with a bad Content-Range`);
            continue;
          }
          this.#total ??= range.total;
          this.#skip = 0;
        } else {
          // A full body: the first response, or a server that ignored the range (skip what we have).
          this.#skip = this.#offset;
          const length = Number(response.headers.get("content-length") ?? NaN);
          if (Number.isFinite(length)) this.#total = length;
          const etag = response.headers.get("etag");
          this.#validator = etag && !etag.startsWith("W/")
            ? etag
            : response.headers.get("last-modified") ?? undefined;
        }
        this.#reader = response.body.getReader();
        return;
      }
      await response.body?.cancel();
      if (response.status >= 500 || RETRYABLE_STATUS.has(response.status)) {
        await this.#fail(status);
        continue;
      }
      throw new PipelineError(this.#stage, `Cannot download ${this.#url}: ${status}`);
    }
  }

  async #read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    for (;;) {
      const result = await this.#withIdleTimeout(() => this.#reader!.read());
      if (result.done || this.#skip === 0) return result;
      if (result.value.length <= this.#skip) {
        this.#skip -= result.value.length;
        continue;
      }
      const value = result.value.subarray(this.#skip);
      this.#skip = 0;
      return { done: false, value };
    }
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#read();
        if (result.done && this.#total !== undefined && this.#offset < this.#total) {
          throw new Error("the connection closed early");
        }
      } catch (err) {
        this.#abort?.abort();
        await this.#fail(
          err instanceof StallError || /closed early/.test(String(err))
            ? (err as Error).message
            : describeOsError(err),
        );
        this.#resumes++;
        await this.#connect();
        continue;
      }
      if (result.done) {
        controller.close();
        return;
      }
      this.#offset += result.value.length;
      this.#failures = 0;
      controller.enqueue(result.value);
      return;
    }
  }
}

/**
 * Opens an archive source: `http://…`/`https://…` (with retries and resume), `file://…`, or a file path.
 *
 * @throws {PipelineError} when the file is missing, or the server refuses for good (e.g. HTTP 404).
 *
 * @example
 * ```ts
 * const source = await openArchiveSource("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
 * console.log(source.total); // 170052171
 * await source.readable.cancel();
 * ```
 */
export async function openArchiveSource(
  source: string,
  options: OpenSourceOptions = {},
): Promise<ArchiveSource> {
  const stage = options.stage ?? "fetch";
  if (/^https?:\/\//i.test(source)) {
    const http = new HttpSource(source, options);
    await http.open();
    return {
      readable: http.readable(),
      total: http.total,
      label: source,
      get resumes() {
        return http.resumes;
      },
    };
  }
  const path = /^file:/i.test(source) ? fileURLToPath(source) : resolve(source);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (err) {
    throw new PipelineError(stage, `Cannot open ${path}: ${describeOsError(err)}`, { cause: err });
  }
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    throw new PipelineError(stage, `Cannot open ${path}: not a file`);
  }
  return { readable: file.readable, total: info.size, label: path, resumes: 0 };
}

/** Re-raises a stream's errors as `map(err)`. */
function mapErrors<T>(stream: ReadableStream<T>, map: (err: unknown) => unknown): ReadableStream<T> {
  const reader = stream.getReader();
  return new ReadableStream<T>({
    async pull(controller) {
      let result: ReadableStreamReadResult<T>;
      try {
        result = await reader.read();
      } catch (err) {
        throw map(err);
      }
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    cancel: (why) => reader.cancel(why),
  }, { highWaterMark: 0 });
}

/** Counts bytes going through, reporting at most every 100 ms and once at the end. */
function byteCounter(report: (bytes: number) => void): TransformStream<Uint8Array, Uint8Array<ArrayBuffer>> {
  let bytes = 0;
  let last = 0;
  return new TransformStream({
    transform(chunk, controller) {
      bytes += chunk.length;
      const now = performance.now();
      if (now - last >= 100) {
        last = now;
        report(bytes);
      }
      controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
    },
    flush: () => report(bytes),
  });
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
}

/** Streams one entry to a temporary file, verifies it, then renames it into place. */
async function writeMember(
  entry: ParsedTarEntry,
  path: string,
  expected: string | undefined,
  context: { stage: string; label: string },
): Promise<FetchedMember> {
  const name = basename(path);
  const tmp = tempNameFor(path);
  const writeError = (err: unknown) =>
    new PipelineError(context.stage, `Cannot write ${path}: ${describeOsError(err)}`, { cause: err });
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  } catch (err) {
    await entry.body.cancel().catch(() => {});
    throw writeError(err);
  }
  const hash = incrementalSha256();
  let bytes = 0;
  let renamed = false;
  try {
    for await (const chunk of entry.body) {
      hash.update(chunk);
      bytes += chunk.length;
      try {
        await writeAll(file, chunk);
      } catch (err) {
        throw writeError(err);
      }
    }
    file.close();
    if (bytes !== entry.header.size) {
      throw new PipelineError(
        context.stage,
        `Cannot unpack ${name} from ${context.label}: it ends after ${bytes} of ${entry.header.size} bytes`,
      );
    }
    const sha256 = hash.digestHex();
    if (expected !== undefined && sha256 !== expected) {
      throw new PipelineError(
        context.stage,
        `Cannot verify ${name} from ${context.label}: SHA-256 is ${sha256}, expected ${expected}`,
      );
    }
    try {
      await Deno.rename(tmp, path);
    } catch (err) {
      throw writeError(err);
    }
    renamed = true;
    return { name, bytes, sha256, verified: expected !== undefined };
  } finally {
    try {
      file.close();
    } catch { /* already closed */ }
    if (!renamed) await Deno.remove(tmp).catch(() => {});
  }
}

/** A one-line error for a fault met while reading the archive's entries. */
function unpackError(err: unknown, stage: string, label: string): PipelineError {
  if (err instanceof PipelineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/truncated/i.test(message)) {
    return new PipelineError(stage, `Cannot unpack ${label}: the tar data ends early (truncated archive)`, {
      cause: err,
    });
  }
  return new PipelineError(stage, `Cannot unpack ${label}: not a valid tar archive (${message})`, {
    cause: err,
  });
}

/**
 * Streams the archive at `source` through gunzip and a tar reader, and writes the needed members, verified,
 * into `destDir` by base name.
 *
 * @param source `http(s)://…`, `file://…` or a path to a `.tar.gz`.
 * @param destDir The folder members are written to (created if needed).
 * @throws {PipelineError} for every expected fault: unreachable or refusing source, corrupt or truncated
 *   gzip or tar, a missing member, a checksum mismatch, an unwritable folder. Nothing stays in `destDir`.
 *
 * @example
 * ```ts
 * // A test archive with its own sums:
 * await fetchArchive("/tmp/small.tar.gz", "/tmp/out", { expected: { "a.bin": "9f86d0…" }, members: ["a.bin"] });
 * ```
 */
export async function fetchArchive(
  source: string,
  destDir: string,
  options: FetchArchiveOptions = {},
): Promise<FetchArchiveResult> {
  const stage = options.stage ?? "fetch";
  const expected = options.expected ?? OFFICIAL_SHA256;
  const wanted = new Set(options.members ?? [...Object.keys(expected), META_FILE]);
  try {
    await Deno.mkdir(destDir, { recursive: true });
  } catch (err) {
    throw new PipelineError(stage, `Cannot write ${destDir}: ${describeOsError(err)}`, { cause: err });
  }
  const archive = await openArchiveSource(source, options);
  const { label } = archive;
  const progress = options.log?.progress(stage, { unit: "B" });
  let archiveBytes = 0;
  const counted = archive.readable.pipeThrough(byteCounter((bytes) => {
    archiveBytes = bytes;
    progress?.update(bytes, archive.total);
  }));
  const gunzipped = mapErrors(counted.pipeThrough(new DecompressionStream("gzip")), (err) => {
    if (err instanceof PipelineError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new PipelineError(stage, `Cannot unpack ${label}: corrupt or truncated gzip data (${message})`, {
      cause: err,
    });
  });
  const entries = gunzipped.pipeThrough(createTarDecoder({ strict: true }));
  const written = new Map<string, FetchedMember>();
  const cleanUp = () =>
    Promise.all([...written.keys()].map((name) => Deno.remove(join(destDir, name)).catch(() => {})));
  try {
    for await (const entry of entries) {
      const name = entry.header.name.split("/").filter((part) => part.length > 0).pop() ?? "";
      if ((entry.header.type ?? "file") !== "file" || !wanted.has(name)) {
        // Drained, not cancelled: modern-tar 0.8.6 stalls after a cancelled body that has data.
        for await (const _ of entry.body) { /* skip */ }
        continue;
      }
      const member = await writeMember(entry, join(destDir, name), expected[name], { stage, label });
      written.set(name, member);
    }
  } catch (err) {
    await cleanUp();
    throw unpackError(err, stage, label);
  }
  const missing = [...wanted].filter((name) => !written.has(name)).sort();
  if (missing.length > 0) {
    await cleanUp();
    throw new PipelineError(stage, `Cannot unpack ${label}: the archive has no ${missing.join(", ")}`);
  }
  progress?.done();
  return {
    source: label,
    archiveBytes,
    members: [...written.values()].sort((a, b) => a.name.localeCompare(b.name)),
    resumes: archive.resumes,
  };
}
