/**
 * Reads whose cost is bounded whatever a run folder holds: a whole file only up to a size limit, and a
 * line-by-line file one chunk at a time with every line cut off at a length limit. The dashboard serves
 * many requests from one event loop, so no read may hold it for long, and no file (a 50 MB run.json, a
 * 60 MB line without a newline) may cost more than its limit in time or memory.
 *
 * @example
 * ```ts
 * import { readTextBounded } from "./bounded_read.ts";
 * const read = await readTextBounded("runs/a/run.json", { maxBytes: 4_000_000 });
 * if (read.state === "ok") console.log(JSON.parse(read.text).status);
 * ```
 * @module
 */

/** What {@linkcode readTextBounded} gave. */
export type BoundedText =
  | { state: "ok"; text: string }
  | { state: "missing" }
  /** The file holds more than the limit (`bytes` is its size, as far as it was read); nothing was parsed. */
  | { state: "too-large"; bytes: number };

/**
 * Read the text of the regular file `path` if it holds at most `options.maxBytes` bytes. The size is
 * checked before reading, and the read stops one byte past the limit, so a file that grows meanwhile still
 * costs no more than the limit.
 *
 * @example
 * ```ts
 * const read = await readTextBounded("runs/a/train/train.json", { maxBytes: 1_000_000 });
 * read.state; // "ok", "missing" or "too-large"
 * ```
 */
export async function readTextBounded(path: string, options: { maxBytes: number }): Promise<BoundedText> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return { state: "missing" };
  }
  try {
    const info = await file.stat();
    if (!info.isFile) return { state: "missing" };
    if (info.size > options.maxBytes) return { state: "too-large", bytes: info.size };
    const buffer = new Uint8Array(options.maxBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > options.maxBytes) return { state: "too-large", bytes: Math.max(filled, info.size) };
    return { state: "ok", text: new TextDecoder().decode(buffer.subarray(0, filled)) };
  } catch {
    return { state: "missing" };
  } finally {
    file.close();
  }
}

/** One piece of a line-by-line read (see {@linkcode boundedLines}). */
export type LinePiece =
  /** A complete line within the limit, without its newline; `bytes` counts the newline. */
  | { kind: "line"; text: string; bytes: number }
  /** A complete line over the limit: skipped unread; `bytes` counts the newline. */
  | { kind: "long"; bytes: number }
  /** Text after the last newline (a line still being written), within the limit. */
  | { kind: "partial"; text: string }
  /** Text after the last newline, over the limit. */
  | { kind: "partial-long"; bytes: number };

function joinParts(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The lines of a byte stream, in order, each searched for once: a line's bytes are kept only up to
 * `options.maxLineBytes`, and a longer one is reported as `long` (its length alone) and never decoded, so
 * time is linear in the stream's length and memory bounded by the limit. The stream is read one chunk per
 * turn of the event loop.
 *
 * @example
 * ```ts
 * const file = await Deno.open("runs/a/train/metrics.jsonl");
 * for await (const piece of boundedLines(file.readable, { maxLineBytes: 65_536 })) {
 *   if (piece.kind === "line") console.log(piece.text);
 * }
 * ```
 */
export async function* boundedLines(
  stream: ReadableStream<Uint8Array>,
  options: { maxLineBytes: number },
): AsyncGenerator<LinePiece> {
  const max = options.maxLineBytes;
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let kept = 0; // bytes of the current line held in parts
  let skipping = false; // the current line is over the limit: only its length is counted
  let skipped = 0;
  for await (const chunk of stream) {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(10, from);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(from, end);
      if (skipping) skipped += piece.length;
      else if (kept + piece.length > max) {
        skipping = true;
        skipped = kept + piece.length;
        parts = [];
        kept = 0;
      } else if (piece.length > 0) {
        parts.push(piece.slice()); // a copy: the stream may reuse its chunk
        kept += piece.length;
      }
      if (nl < 0) break;
      if (skipping) yield { kind: "long", bytes: skipped + 1 };
      else yield { kind: "line", text: decoder.decode(joinParts(parts, kept)), bytes: kept + 1 };
      parts = [];
      kept = 0;
      skipping = false;
      skipped = 0;
      from = nl + 1;
    }
  }
  if (skipping) yield { kind: "partial-long", bytes: skipped };
  else if (kept > 0) yield { kind: "partial", text: decoder.decode(joinParts(parts, kept)) };
}
