/**
 * What `--out` may name: a new folder, an empty one, or a run folder of this project (one holding a
 * run.json this project wrote). Anything else is refused with one line and exit 2 before anything in it is
 * touched, so the pipeline never deletes a file it did not make.
 *
 * @example
 * ```ts
 * import { checkOutDir } from "./out_dir.ts";
 * await checkOutDir("runs/a"); // throws a usage error for a folder of someone else's files
 * ```
 * @module
 */
import { join } from "node:path";
import { PipelineError } from "../core/mod.ts";

/** The run folder's lock file (held while a pipeline process works in it). */
export const RUN_LOCK = ".lock";

function refuse(message: string): never {
  throw new PipelineError("usage", message, { exitCode: 2 });
}

/**
 * Refuse an `--out` that is empty text, a file, or a folder that is neither empty nor a run folder.
 * A path whose parent is not a folder passes: creating it fails later with the OS's reason.
 *
 * @example
 * ```ts
 * await checkOutDir(""); // throws: --out must name a folder
 * ```
 */
export async function checkOutDir(runDir: string): Promise<void> {
  if (runDir.trim() === "") refuse(`--out must name a folder, got ""`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(runDir);
  } catch {
    return; // new (or not creatable: ensureWritableDir says why)
  }
  if (!info.isDirectory) refuse(`--out ${runDir} is a file, not a folder; nothing was changed`);
  const names: string[] = [];
  for await (const entry of Deno.readDir(runDir)) names.push(entry.name);
  const own = names.filter((n) => n !== RUN_LOCK && !/^run\.json\.tmp-/.test(n));
  if (own.length === 0) return; // empty, or another process is just starting here (the lock says who)
  let manifest: unknown = undefined;
  try {
    manifest = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound) && !(err instanceof SyntaxError)) throw err;
    const shown = own.sort().slice(0, 3).join(", ") + (own.length > 3 ? ", …" : "");
    refuse(
      err instanceof SyntaxError
        ? `--out ${runDir} holds a run.json that is not valid JSON; not a run folder, nothing was changed`
        : `--out ${runDir} is not empty and not a run folder (no run.json; it holds ${shown}); ` +
          `choose a new or empty folder, nothing was changed`,
    );
  }
  const m = manifest as Record<string, unknown> | null;
  const isRun = typeof m === "object" && m !== null && typeof m.version === "number" &&
    typeof m.stages === "object" && m.stages !== null;
  if (!isRun) {
    refuse(
      `--out ${runDir} holds a run.json this pipeline did not write (no version or stages); nothing was changed`,
    );
  }
}
