/**
 * Short, human reasons for file-system and network errors, for one-line messages without the OS error
 * number, the syscall or a stack trace; and the one line of a file that could not be written.
 *
 * @example
 * ```ts
 * import { describeOsError } from "./os_error.ts";
 * try {
 *   await Deno.readFile("/nope");
 * } catch (err) {
 *   describeOsError(err); // "no such file or directory"
 * }
 * ```
 * @module
 */
import { PipelineError } from "./errors.ts";

/**
 * A file that could not be written, as one line: "Cannot write runs/a/run.json: no space left on the
 * device". Its stage is "run" unless the writer knows better; the stage runner restamps it with the stage
 * that was running ({@linkcode writeFaultOf}).
 *
 * @example
 * ```ts
 * const err = new WriteError("runs/a/run.json", new Error("No space left on device (os error 28)"));
 * err.toLine(); // "error: [run] Cannot write runs/a/run.json: no space left on the device"
 * ```
 */
export class WriteError extends PipelineError {
  /** The file (or folder) that could not be written. */
  readonly path: string;
  /** Why, in a few words ({@linkcode describeOsError}). */
  readonly reason: string;

  constructor(path: string, cause: unknown, options: { stage?: string } = {}) {
    const reason = describeOsError(cause);
    super(options.stage ?? "run", `Cannot write ${path}: ${reason}`, { cause });
    this.name = "WriteError";
    this.path = path;
    this.reason = reason;
  }
}

/** OS error codes of a disk that cannot take a write: full, over quota, read-only, failing, file too big. */
const DISK_FAULTS = new Set(["ENOSPC", "EDQUOT", "EROFS", "EIO", "EFBIG"]);

/**
 * The one line of `stage` that a failed write is: a {@linkcode WriteError} restamped with `stage`, or an OS
 * error of a disk that cannot take a write (full, read-only, …) said without its trace; null for anything
 * else (a bug keeps its trace).
 *
 * @example
 * ```ts
 * const full = Object.assign(new Error("No space left on device (os error 28): writefile '/x'"), { code: "ENOSPC" });
 * writeFaultOf(full, "train")?.toLine(); // "error: [train] Cannot write: no space left on the device (writefile '/x')"
 * ```
 */
export function writeFaultOf(err: unknown, stage: string): PipelineError | null {
  if (err instanceof WriteError) {
    return err.stage === stage ? err : new WriteError(err.path, err.cause, { stage });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof Error) || typeof code !== "string" || !DISK_FAULTS.has(code)) return null;
  const where = /\(os error \d+\):\s*(.+)$/.exec(err.message.split("\n")[0])?.[1];
  return new PipelineError(stage, `Cannot write: ${describeOsError(err)}${where ? ` (${where})` : ""}`, {
    cause: err,
  });
}

/**
 * The reason an I/O operation failed, in a few words ("permission denied", "connection refused", …).
 *
 * @example
 * ```ts
 * describeOsError(new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x'")); // "permission denied"
 * ```
 */
export function describeOsError(err: unknown): string {
  if (err instanceof WriteError) return err.reason;
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotADirectory) return "not a directory";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  if (err instanceof Deno.errors.AlreadyExists) return "already exists";
  const message = err instanceof Error ? err.message : String(err);
  const text = `${message} ${String((err as Error)?.cause ?? "")}`;
  if (/no space left/i.test(text)) return "no space left on the device";
  if (/read-only file system/i.test(text)) return "read-only file system";
  if (/connection refused/i.test(text)) return "connection refused";
  if (/connection reset/i.test(text)) return "connection reset";
  if (/dns error|failed to lookup/i.test(text)) return "cannot resolve the host name";
  if (/error reading a body|connection closed|unexpected eof|incomplete/i.test(text)) {
    return "the connection dropped";
  }
  return message.split("\n")[0].replace(/\s*\(os error \d+\)/, "").replace(/: \w+ '.*$/, "");
}
