/**
 * Atomic writes: write to a temporary name beside the target, then rename, so a killed run never leaves a
 * half-written file behind.
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

/** A temporary name beside `path`, unique to this process and call. */
export function tempNameFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
  return `${path}.tmp-${Deno.pid}-${rand}`;
}

/** Write bytes or text to `path` atomically; creates the parent folder. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Write JSON (2-space indented) to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
