/**
 * An append-only JSON-lines log (`train/metrics.jsonl`): one event a line, written as it happens, so a
 * dashboard can follow a live run. Each event goes out in one write of one complete line.
 *
 * @example
 * ```ts
 * import { MetricsLog } from "./metrics_log.ts";
 * const log = await MetricsLog.open("/tmp/run/train/metrics.jsonl");
 * await log.append({ type: "step", epoch: 1, step: 1, loss: 2.301 });
 * log.close();
 * ```
 * @module
 */
import { dirname } from "node:path";
import { WriteError } from "../core/mod.ts";

/** Options of {@linkcode MetricsLog.open}. */
export interface MetricsLogOptions {
  /**
   * Keep only the first `truncateTo` bytes of an existing log (a resumed run drops the lines written after
   * its checkpoint); by default an existing log is kept whole and appended to.
   */
  truncateTo?: number;
  /** Start with an empty log (a fresh run). */
  truncate?: boolean;
}

/** An open JSON-lines log of `Line` events (the training loop's are the contract's `MetricsLine`s). */
export class MetricsLog<Line extends object = Record<string, unknown>> {
  #file: Deno.FsFile;
  #bytes: number;
  #encoder = new TextEncoder();
  /** The log's path. */
  readonly path: string;

  private constructor(path: string, file: Deno.FsFile, bytes: number) {
    this.path = path;
    this.#file = file;
    this.#bytes = bytes;
  }

  /**
   * Open (creating it and its folder if needed) the log at `path`.
   *
   * @example
   * ```ts
   * const log = await MetricsLog.open("metrics.jsonl", { truncate: true });
   * ```
   */
  static async open<Line extends object = Record<string, unknown>>(
    path: string,
    options: MetricsLogOptions = {},
  ): Promise<MetricsLog<Line>> {
    await Deno.mkdir(dirname(path), { recursive: true });
    const file = await Deno.open(path, { read: true, write: true, create: true });
    try {
      let size = (await file.stat()).size;
      const keep = options.truncate ? 0 : options.truncateTo;
      if (keep !== undefined && keep < size) {
        await file.truncate(keep);
        size = keep;
      }
      await file.seek(size, Deno.SeekMode.Start);
      return new MetricsLog<Line>(path, file, size);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Bytes in the log so far: what a resumed run truncates to. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Append one event as one line. */
  async append(event: Line): Promise<void> {
    const line = this.#encoder.encode(JSON.stringify(event) + "\n");
    let written = 0;
    try {
      while (written < line.length) written += await this.#file.write(line.subarray(written));
    } catch (err) {
      throw new WriteError(this.path, err);
    }
    this.#bytes += line.length;
  }

  /** Close the file. */
  close(): void {
    this.#file.close();
  }
}

/**
 * Read a JSON-lines log back as objects (complete lines only).
 *
 * @example
 * ```ts
 * const events = await readMetricsLog("metrics.jsonl");
 * events.filter((e) => e.type === "step").length;
 * ```
 */
export async function readMetricsLog(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  const end = text.lastIndexOf("\n");
  if (end < 0) return [];
  return text.slice(0, end).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}
