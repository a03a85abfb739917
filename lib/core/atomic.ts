/**
 * Writing files: whole (a failure is one {@linkcode WriteError} line naming the file) and atomic (write to a
 * temporary name beside the target, then rename, so a killed run never leaves a half-written file behind).
 * Every write goes through {@linkcode writeFileWhole} or {@linkcode writeFileAtomic}, so a test can make any
 * of them fail ({@linkcode injectWriteFault}) as a full disk would.
 *
 * @example
 * ```ts
 * import { writeFileAtomic, writeJsonAtomic } from "./atomic.ts";
 * await writeJsonAtomic("/tmp/run/run.json", { status: "done" });
 * await writeFileAtomic("/tmp/run/weights.bin", new Uint8Array(8));
 * ```
 * @module
 */
import { dirname } from "node:path";
import { WriteError } from "./os_error.ts";

/** A temporary name beside `path`, unique to this process and call. */
export function tempNameFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
  return `${path}.tmp-${Deno.pid}-${rand}`;
}

/** Given a path about to be written: the error that write fails with, or null to let it through. */
export type WriteFault = (path: string) => Error | null;

let fault: WriteFault | null = null;

/**
 * Make writes fail as a test says (null: as the disk says). `inject` sees the path of every write made
 * through this module and returns the error to throw, or null.
 *
 * @example
 * ```ts
 * const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * injectWriteFault((path) => path.endsWith("run.json") ? full : null);
 * // … every write of a run.json now fails with "no space left on the device"
 * injectWriteFault(null);
 * ```
 */
export function injectWriteFault(inject: WriteFault | null): void {
  fault = inject;
}

async function write(path: string, data: Uint8Array | string, target: string): Promise<void> {
  const injected = fault?.(target);
  if (injected) throw injected;
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
}

/**
 * Write bytes or text to `path` in place (a file inside a folder that is itself swapped in whole, like a
 * checkpoint's); a failure is a {@linkcode WriteError} naming `path`.
 *
 * @example
 * ```ts
 * await writeFileWhole("/tmp/ckpt.tmp-1/weights.bin", new Uint8Array(8));
 * ```
 */
export async function writeFileWhole(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await write(path, data, path);
  } catch (err) {
    throw new WriteError(path, err);
  }
}

/**
 * Write bytes or text to `path` atomically; creates the parent folder. A failure leaves `path` as it was and
 * is a {@linkcode WriteError} naming it.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/tmp/run/plan.bin", new Uint8Array(8));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempNameFor(path);
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await write(tmp, data, path);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new WriteError(path, err);
  }
}

/**
 * Write JSON (2-space indented) to `path` atomically.
 *
 * @example
 * ```ts
 * await writeJsonAtomic("/tmp/run/train.json", { epochs: [] });
 * ```
 */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
