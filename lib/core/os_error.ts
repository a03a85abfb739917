/**
 * Short, human reasons for file-system and network errors, for one-line messages without the OS error
 * number, the syscall or a stack trace.
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

/**
 * The reason an I/O operation failed, in a few words ("permission denied", "connection refused", …).
 *
 * @example
 * ```ts
 * describeOsError(new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x'")); // "permission denied"
 * ```
 */
export function describeOsError(err: unknown): string {
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
