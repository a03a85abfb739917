/**
 * The dashboard's "classify an image" box, server side: a bounded upload (PNG or JPEG, at most
 * {@linkcode MAX_UPLOAD_BYTES}) is handed to `deno task classify --json` (pipeline/classify.ts) in a child
 * process, which answers with the run's best checkpoint on tfjs's cpu backend. The dashboard itself never
 * loads tfjs (tests/layout_test.ts holds it to that); the price is a process start per upload (about 1 s
 * for the tiny network).
 *
 * @example
 * ```ts
 * import { classifyUpload } from "./upload_classifier.ts";
 * const answer = await classifyUpload("runs/quick", await Deno.readFile("cat.png"), { name: "cat.png" });
 * if (answer.ok) console.log(answer.top[0]);
 * ```
 * @module
 */
import { join } from "node:path";
import { PROJECT_ROOT } from "../core/mod.ts";

/** The largest upload the box accepts, in bytes (2 MB). */
export const MAX_UPLOAD_BYTES = 2_000_000;

/** What the classify command answered for an upload. */
export type UploadAnswer =
  | {
    ok: true;
    file: string;
    width: number;
    height: number;
    top: { class: string; index: number; probability: number }[];
  }
  /** `kind` "image": the picture could not be read; "run": the run cannot classify (no checkpoint, …). */
  | { ok: false; kind: "image" | "run"; error: string };

/**
 * Classify uploaded image bytes with the best checkpoint of the run in `runDir` (through
 * `pipeline/classify.ts --json` in a child process); every fault comes back as one line.
 *
 * @example
 * ```ts
 * declare const runDir: string, bytes: Uint8Array;
 * const answer = await classifyUpload(runDir, bytes, { name: "upload.jpg" });
 * ```
 */
export async function classifyUpload(
  runDir: string,
  bytes: Uint8Array,
  options: { name: string },
): Promise<UploadAnswer> {
  const tmpDir = await Deno.makeTempDir({ prefix: "dashboard-upload-" });
  const safe = options.name.replace(/[^A-Za-z0-9._-]/g, "_").slice(-80) || "upload";
  const file = join(tmpDir, safe);
  try {
    await Deno.writeFile(file, bytes);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        join(PROJECT_ROOT, "pipeline", "classify.ts"),
        "--json",
        "--run",
        runDir,
        file,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const rename = (s: string) => s.replaceAll(file, options.name);
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
      file: options.name,
      width: answer.width as number,
      height: answer.height as number,
      top: answer.top as { class: string; index: number; probability: number }[],
    };
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}
