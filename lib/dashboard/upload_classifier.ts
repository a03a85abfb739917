/**
 * The dashboard's "classify an image" box, server side: a bounded upload (PNG or JPEG, at most
 * {@linkcode MAX_UPLOAD_BYTES}) is handed to `deno task classify --json` (pipeline/classify.ts) in a child
 * process, which answers with the run's best checkpoint on tfjs's cpu backend. The dashboard itself never
 * loads tfjs (tests/layout_test.ts holds it to that); the price is a process start per upload (about 1 s
 * for the tiny network).
 *
 * What an upload may cost is bounded (docs/dashboard-limits.md): its size is read from its header before
 * any child starts, and one over {@linkcode UPLOAD_LIMITS}' megapixels is refused at once; at most
 * `maxChildren` children run at a time, `maxWaiting` more uploads wait for one, any further upload is told
 * to come back; and a child that takes longer than `timeoutMs` is killed.
 *
 * @example
 * ```ts
 * import { UploadClassifier } from "./upload_classifier.ts";
 * const classifier = new UploadClassifier();
 * const answer = await classifier.classify("runs/quick", await Deno.readFile("cat.png"), { name: "cat.png" });
 * if (answer.ok) console.log(answer.top[0]);
 * ```
 * @module
 */
import { join } from "node:path";
import { PROJECT_ROOT } from "../core/mod.ts";
import { checkImageSize, ImageInputError, readImageHeader } from "../figures/mod.ts";

/** The largest upload the box accepts, in bytes (2 MB). */
export const MAX_UPLOAD_BYTES = 2_000_000;

/** The bounds of {@linkcode UploadClassifier} by default. */
export const UPLOAD_LIMITS = {
  /**
   * The largest picture classified, in megapixels: 4096 × 4096 fits, and what decoding it may take (its
   * RGBA pixels, their RGB copy) stays near 16 × 7 = 112 MB whatever a 2 MB file claims.
   */
  maxMegapixels: 16,
  /** Classify children running at once (one per core of a 2-core machine). */
  maxChildren: 2,
  /** Uploads waiting for a child; past them, 503 and come back later. */
  maxWaiting: 4,
  /** A child running longer is killed, and the upload answered 504 (milliseconds). */
  timeoutMs: 60_000,
};

/** Options of {@linkcode UploadClassifier}: any of {@linkcode UPLOAD_LIMITS}. */
export type UploadClassifierOptions = Partial<typeof UPLOAD_LIMITS>;

/** What the classify command answered for an upload. */
export type UploadAnswer =
  | {
    ok: true;
    file: string;
    width: number;
    height: number;
    top: { class: string; index: number; probability: number }[];
  }
  /**
   * `kind` "image": the picture cannot be read; "too-large": it has too many pixels; "run": the run cannot
   * classify (no checkpoint, …); "busy": every child is taken and the queue is full; "timeout": the child
   * took too long and was killed.
   */
  | { ok: false; kind: "image" | "too-large" | "run" | "busy" | "timeout"; error: string };

/** The HTTP status for each kind of refusal. */
export const UPLOAD_STATUS: Record<Exclude<UploadAnswer, { ok: true }>["kind"], number> = {
  image: 415,
  "too-large": 413,
  run: 409,
  busy: 503,
  timeout: 504,
};

/**
 * Classifies uploads in child processes, a bounded number at a time. One per dashboard.
 *
 * @example
 * ```ts
 * const classifier = new UploadClassifier({ maxChildren: 1, timeoutMs: 30_000 });
 * declare const runDir: string, bytes: Uint8Array;
 * const answer = await classifier.classify(runDir, bytes, { name: "upload.jpg" });
 * console.log(classifier.peak); // children that ran at once, at most 1
 * ```
 */
export class UploadClassifier {
  readonly limits: typeof UPLOAD_LIMITS;
  #active = 0;
  #peak = 0;
  #started = 0;
  #waiting: (() => void)[] = [];

  constructor(options: UploadClassifierOptions = {}) {
    this.limits = { ...UPLOAD_LIMITS, ...options };
  }

  /** Children running now. */
  get active(): number {
    return this.#active;
  }

  /** The most children that ran at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Children started so far. */
  get started(): number {
    return this.#started;
  }

  /**
   * Classify uploaded image bytes with the best checkpoint of the run in `runDir`; every fault, and every
   * refusal, comes back as one line.
   */
  async classify(runDir: string, bytes: Uint8Array, options: { name: string }): Promise<UploadAnswer> {
    try {
      checkImageSize(readImageHeader(bytes, options.name), {
        name: options.name,
        maxMegapixels: this.limits.maxMegapixels,
      });
    } catch (err) {
      if (!(err instanceof ImageInputError)) throw err;
      const tooLarge = /megapixels$/.test(err.message);
      return { ok: false, kind: tooLarge ? "too-large" : "image", error: err.message };
    }
    if (!(await this.#acquire())) {
      return {
        ok: false,
        kind: "busy",
        error: `${this.#active} pictures are being classified and ${this.#waiting.length} wait; ` +
          `try again in a moment`,
      };
    }
    try {
      return await this.#runChild(runDir, bytes, options.name);
    } finally {
      this.#release();
    }
  }

  /** Take a child's slot, waiting in the queue if it has room; false when it has none. */
  async #acquire(): Promise<boolean> {
    if (this.#active < this.limits.maxChildren) this.#active++;
    else if (this.#waiting.length < this.limits.maxWaiting) {
      // the slot is handed over by #release: the count of children does not change
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else return false;
    this.#peak = Math.max(this.#peak, this.#active);
    return true;
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }

  async #runChild(runDir: string, bytes: Uint8Array, name: string): Promise<UploadAnswer> {
    const tmpDir = await Deno.makeTempDir({ prefix: "dashboard-upload-" });
    const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").slice(-80) || "upload";
    const file = join(tmpDir, safe);
    try {
      await Deno.writeFile(file, bytes);
      const timeout = AbortSignal.timeout(this.limits.timeoutMs);
      const timedOut: UploadAnswer = {
        ok: false,
        kind: "timeout",
        error: `Cannot classify ${name}: it took longer than ${
          this.limits.timeoutMs / 1000
        } s and was stopped`,
      };
      this.#started++;
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          join(PROJECT_ROOT, "pipeline", "classify.ts"),
          "--json",
          "--max-megapixels",
          String(this.limits.maxMegapixels),
          "--run",
          runDir,
          file,
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
        signal: timeout,
      }).output().catch((err) => {
        if (timeout.aborted) return null;
        throw err;
      });
      if (out === null || timeout.aborted) return timedOut;
      const rename = (s: string) => s.replaceAll(file, name);
      let answers: unknown;
      try {
        answers = JSON.parse(new TextDecoder().decode(out.stdout));
      } catch {
        const line = new TextDecoder().decode(out.stderr).trim().split("\n").filter(Boolean).at(-1) ?? "";
        return {
          ok: false,
          kind: "run",
          error: rename(line.replace(/^error: \[\w+\] /, "")) || `classify exited with ${out.code}`,
        };
      }
      const [answer] = answers as Record<string, unknown>[];
      if (typeof answer?.error === "string") return { ok: false, kind: "image", error: rename(answer.error) };
      return {
        ok: true,
        file: name,
        width: answer.width as number,
        height: answer.height as number,
        top: answer.top as { class: string; index: number; probability: number }[],
      };
    } finally {
      await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    }
  }
}
