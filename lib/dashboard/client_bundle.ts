/**
 * The dashboard's island bundle, `static/client.js`, built by `deno bundle --platform browser` from
 * `islands/client.ts`. The file is committed, and its first line records a stamp: the SHA-256 of the
 * islands' local sources, the npm packages they pull in and the JSX settings. The dashboard checks the stamp when it starts
 * and rebuilds the bundle only when the sources changed, so a fresh clone serves the committed bundle and an
 * edited island is rebuilt without a separate step. uPlot's stylesheet is copied beside it.
 *
 * @example
 * ```ts
 * import { ensureClientBundle } from "./client_bundle.ts";
 * const result = await ensureClientBundle();
 * console.log(result.rebuilt ? "bundle rebuilt" : "bundle up to date");
 * ```
 * @module
 */
import { canonicalJson, PROJECT_ROOT, sha256Hex, writeFileAtomic } from "../core/mod.ts";
import { join, relative } from "node:path";

/** The bundle's entry, relative to the project root. */
export const BUNDLE_ENTRY = "islands/client.ts";
/** The bundle, relative to the project root. */
export const BUNDLE_OUTPUT = "static/client.js";
/** uPlot's stylesheet as served, relative to the project root. */
export const UPLOT_CSS_OUTPUT = "static/uplot.min.css";
/** The prefix of the bundle's first line, followed by the stamp. */
export const STAMP_PREFIX = "// islands-sha256: ";

interface DenoInfo {
  modules?: { kind?: string; local?: string; npmPackage?: string; specifier?: string }[];
  npmPackages?: Record<string, { name?: string; localPath?: string }>;
}

async function denoInfo(root: string): Promise<DenoInfo> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", BUNDLE_ENTRY],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${BUNDLE_ENTRY} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * The stamp of the islands' current sources: SHA-256 over each local module's path and contents, the
 * ids (name@version) of the npm packages in the graph and deno.json's compilerOptions.
 *
 * @example
 * ```ts
 * const stamp = await bundleSourceStamp();
 * ```
 */
export async function bundleSourceStamp(root: string = PROJECT_ROOT): Promise<string> {
  const info = await denoInfo(root);
  const local: Record<string, string> = {};
  const npm: string[] = [];
  for (const m of info.modules ?? []) {
    if (m.local && m.specifier?.startsWith("file:")) {
      local[relative(root, m.local).split("\\").join("/")] = await sha256Hex(await Deno.readFile(m.local));
    } else if (m.npmPackage) npm.push(m.npmPackage);
  }
  // The JSX settings change the output too (with "precompile" the islands silently do not hydrate).
  let compilerOptions: unknown = null;
  try {
    compilerOptions = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))).compilerOptions ?? null;
  } catch {
    compilerOptions = null;
  }
  return await sha256Hex(canonicalJson({ local, npm: npm.sort(), compilerOptions }));
}

/**
 * The stamp recorded in the first line of `static/client.js`, or null when it has none or is missing.
 *
 * @example
 * ```ts
 * await recordedBundleStamp(); // "3f2a…" or null
 * ```
 */
export async function recordedBundleStamp(root: string = PROJECT_ROOT): Promise<string | null> {
  try {
    const text = await Deno.readTextFile(join(root, BUNDLE_OUTPUT));
    const first = text.slice(0, text.indexOf("\n"));
    return first.startsWith(STAMP_PREFIX) ? first.slice(STAMP_PREFIX.length).trim() : null;
  } catch {
    return null;
  }
}

/**
 * Build `static/client.js` now (minified), stamp it and copy uPlot's CSS beside it.
 *
 * @example
 * ```ts
 * await buildClientBundle();
 * ```
 */
export async function buildClientBundle(root: string = PROJECT_ROOT): Promise<string> {
  const stamp = await bundleSourceStamp(root);
  const tmp = join(root, `static/.client-${Deno.pid}.js`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "--minify", "-o", tmp, BUNDLE_ENTRY],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  try {
    if (!out.success) {
      throw new Error(`deno bundle ${BUNDLE_ENTRY} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const code = await Deno.readTextFile(tmp);
    await writeFileAtomic(join(root, BUNDLE_OUTPUT), `${STAMP_PREFIX}${stamp}\n${code}`);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  const info = await denoInfo(root);
  const uplot = Object.values(info.npmPackages ?? {}).find((p) => p.name === "uplot");
  if (uplot?.localPath) {
    const css = await Deno.readTextFile(join(uplot.localPath, "dist/uPlot.min.css"));
    await writeFileAtomic(join(root, UPLOT_CSS_OUTPUT), css);
  }
  return stamp;
}

/** What {@linkcode ensureClientBundle} did. */
export interface EnsureBundleResult {
  /** Whether the bundle was (re)built. */
  rebuilt: boolean;
  /** The stamp of the bundle now in place (null when it could not be computed). */
  stamp: string | null;
  /** Why it was rebuilt, or why the check could not be done. */
  reason: string;
}

/**
 * Rebuild `static/client.js` when its stamp does not match the islands' sources (or `force`). When the
 * stamp cannot be computed (no `deno info`, offline) an existing bundle is kept and the reason returned.
 *
 * @example
 * ```ts
 * const { rebuilt, reason } = await ensureClientBundle();
 * ```
 */
export async function ensureClientBundle(
  options: { root?: string; force?: boolean } = {},
): Promise<EnsureBundleResult> {
  const root = options.root ?? PROJECT_ROOT;
  const recorded = await recordedBundleStamp(root);
  let current: string;
  try {
    current = await bundleSourceStamp(root);
  } catch (err) {
    if (recorded !== null) {
      return {
        rebuilt: false,
        stamp: recorded,
        reason: `kept the committed bundle: ${(err as Error).message}`,
      };
    }
    throw err;
  }
  let cssPresent = true;
  try {
    await Deno.stat(join(root, UPLOT_CSS_OUTPUT));
  } catch {
    cssPresent = false;
  }
  if (!options.force && recorded === current && cssPresent) {
    return { rebuilt: false, stamp: current, reason: "up to date" };
  }
  const reason = options.force
    ? "forced"
    : recorded === null
    ? `${BUNDLE_OUTPUT} is missing`
    : recorded !== current
    ? "the islands changed"
    : `${UPLOT_CSS_OUTPUT} is missing`;
  const stamp = await buildClientBundle(root);
  return { rebuilt: true, stamp, reason };
}
