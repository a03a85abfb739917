/**
 * Lock files: a run folder (or a cache entry being built) is held by one process at a time. The lock is a
 * small JSON file naming its holder (pid, host, process start time, since when, what for), created whole
 * and exclusively (written to a temporary name, then hard-linked into place, which fails when a lock is
 * there). A lock whose holder is gone (killed with -9, crashed) is stale: the next taker renames it away
 * and says so.
 *
 * @example
 * ```ts
 * import { acquireLock } from "./lock.ts";
 * const lock = await acquireLock("/tmp/run/.lock", { stage: "run", what: "run folder /tmp/run" });
 * try {
 *   // … work on /tmp/run …
 * } finally {
 *   await lock.release();
 * }
 * ```
 * @module
 */
import { dirname } from "node:path";
import { tempNameFor, writeFileWhole } from "./atomic.ts";
import { PipelineError } from "./errors.ts";
import { currentProcess, parseProcessIdentity, type ProcessIdentity, processState } from "./process.ts";

/** What a lock file holds. */
export interface LockInfo extends ProcessIdentity {
  /** When the lock was taken (ISO). */
  since: string;
  /** What the holder does, e.g. "deno task pipeline --out runs/a". */
  purpose: string;
}

/** A held lock. */
export interface Lock {
  /** The lock file. */
  readonly path: string;
  /** What the file says. */
  readonly info: LockInfo;
  /** Remove the lock file if it is still this lock's. */
  release(): Promise<void>;
  /** The same, synchronously (signal handlers, right before `Deno.exit`). */
  releaseSync(): void;
}

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /** The stage named in the error line ("run", "train", …). */
  stage: string;
  /** What is locked, for the error line: "the run folder runs/a". */
  what: string;
  /** What this process does with it (recorded in the file). */
  purpose?: string;
  /** Called with a one-line note when a stale lock is taken over. */
  onNote?: (line: string) => void;
  /** What to do about a live holder, for the error line (default: "wait for it to end, or use another folder"). */
  hint?: string;
}

/**
 * Read and parse a lock file; null when it is missing, or not a lock (damaged).
 *
 * @example
 * ```ts
 * const holder = await readLock("/tmp/run/.lock");
 * ```
 */
export async function readLock(path: string): Promise<LockInfo | null> {
  try {
    const json = JSON.parse(await Deno.readTextFile(path));
    const who = parseProcessIdentity(json);
    if (!who || typeof json.since !== "string") return null;
    return { ...who, since: json.since, purpose: typeof json.purpose === "string" ? json.purpose : "" };
  } catch {
    return null;
  }
}

async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = tempNameFor(path);
  await writeFileWhole(tmp, text);
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/**
 * Take the lock file `path`, or throw one line (exit 2) naming the live holder. A stale lock (its process
 * is gone) is taken over with a note through `onNote`.
 *
 * @example
 * ```ts
 * const lock = await acquireLock("/tmp/x.lock", { stage: "run", what: "the run folder /tmp/x" });
 * await lock.release();
 * ```
 */
export async function acquireLock(path: string, options: LockOptions): Promise<Lock> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const info: LockInfo = {
    ...currentProcess(),
    since: new Date().toISOString(),
    purpose: options.purpose ?? "",
  };
  const text = JSON.stringify(info) + "\n";
  const mine = (t: string | null) => t === text;
  const lock: Lock = {
    path,
    info,
    async release() {
      const now = await Deno.readTextFile(path).catch(() => null);
      if (mine(now)) await Deno.remove(path).catch(() => {});
    },
    releaseSync() {
      let now: string | null = null;
      try {
        now = Deno.readTextFileSync(path);
      } catch { /* gone already */ }
      if (mine(now)) {
        try {
          Deno.removeSync(path);
        } catch { /* gone already */ }
      }
    },
  };
  for (let attempt = 0; attempt < 8; attempt++) {
    if (await createExclusive(path, text)) return lock;
    const seen = await Deno.readTextFile(path).catch(() => null);
    if (seen === null) continue; // released meanwhile: try again
    const holder = await readLock(path);
    if (holder && processState(holder) !== "gone") {
      const elsewhere = holder.host !== info.host;
      const hint = elsewhere
        // a process on another machine cannot be checked from here: only a person can say it is gone
        ? `this machine (${info.host}) cannot see whether it still runs: wait for it to end, or, if no ` +
          `process on ${holder.host} uses it any more, remove ${path}`
        : options.hint ?? "wait for it to end, or use another folder";
      throw new PipelineError(
        options.stage,
        `${options.what} is locked by pid ${holder.pid}${elsewhere ? ` on ${holder.host}` : ""} since ` +
          `${holder.since}${holder.purpose ? ` (${holder.purpose})` : ""}; ${hint}`,
        { exitCode: 2 },
      );
    }
    // Stale (its process is gone) or damaged: move it away, and make sure it was the one we judged.
    const away = `${path}.stale-${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
    try {
      await Deno.rename(path, away);
    } catch {
      continue;
    }
    const moved = await Deno.readTextFile(away).catch(() => null);
    if (moved !== seen) {
      // Another process took it over between our read and our rename: give it back.
      await Deno.link(away, path).catch(() => {});
      await Deno.remove(away).catch(() => {});
      continue;
    }
    await Deno.remove(away).catch(() => {});
    options.onNote?.(
      holder
        ? `took over the stale lock of ${options.what}: pid ${holder.pid} (since ${holder.since}) is gone`
        : `took over the damaged lock file ${path}`,
    );
  }
  throw new PipelineError(options.stage, `Cannot take the lock ${path}: it keeps changing hands`, {
    exitCode: 2,
  });
}
