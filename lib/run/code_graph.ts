/**
 * A stage's code, derived from the module graph rather than listed by hand: every project file its module
 * runs through static imports, each by its SHA-256, and every npm package it reaches (directly or through
 * another package) by its locked version. The graph comes from `deno info --json`, Deno's own resolver, so
 * import maps and `@/` aliases resolve exactly as Deno sees them; type-only imports (`import type`) are left
 * out, since they cannot change what a stage computes.
 *
 * @example
 * ```ts
 * import { codeDigestsOf } from "./code_graph.ts";
 * const code = await codeDigestsOf(new URL("../../pipeline/train.ts", import.meta.url));
 * console.log(Object.keys(code)); // ["lib/core/errors.ts", …, "npm:@tensorflow/tfjs-core@4.22.0", …]
 * ```
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PipelineError, PROJECT_ROOT, sha256File } from "../core/mod.ts";

/** One module of `deno info --json`'s graph, the fields read here. */
export interface InfoModule {
  kind: "esm" | "npm" | "node" | string;
  specifier: string;
  npmPackage?: string;
  /** `code`: what the import runs; `type`: what a type-only import (or a types file) resolves to. */
  dependencies?: { specifier: string; code?: { specifier: string }; type?: { specifier: string } }[];
}

/** What `deno info --json` prints, the fields read here. */
export interface InfoGraph {
  modules: InfoModule[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { name: string; version: string; dependencies: string[] }>;
}

/** Options of {@linkcode codeDigestsOf}. */
export interface CodeGraphOptions {
  /** Paths in the result are relative to this folder (default: the project root). */
  root?: string;
  /** The config file Deno resolves imports with (default: `<root>/deno.json` where it exists). */
  config?: string;
}

/**
 * The module graph of `entry` as Deno resolves it (`deno info --json`), with `<root>/deno.json`'s import map
 * where it exists.
 *
 * @example
 * ```ts
 * const graph = await moduleGraph(new URL("../../pipeline/train.ts", import.meta.url));
 * console.log(graph.modules.length);
 * ```
 */
export async function moduleGraph(entry: URL, options: CodeGraphOptions = {}): Promise<InfoGraph> {
  const root = options.root ?? PROJECT_ROOT;
  const config = options.config ?? (await exists(`${root}/deno.json`) ? `${root}/deno.json` : undefined);
  const args = ["info", "--json", "--quiet", ...(config ? ["--config", config] : []), entry.href];
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new PipelineError("run", `Cannot read the module graph of ${fileURLToPath(entry)}: ${why}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as InfoGraph;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The code digests of a module: `{ "<path relative to root>": sha256, "npm:<name>@<version>": "<locked id>" }`, keys
 * sorted. Every file the module reaches through static imports is in it, and nothing else.
 *
 * @example
 * ```ts
 * const code = await codeDigestsOf(new URL("file:///work/main/pipeline/fetch.ts"));
 * code["lib/data/archive_fetch.ts"]; // "3f1c…"
 * ```
 */
export async function codeDigestsOf(
  entry: URL,
  options: CodeGraphOptions = {},
): Promise<Record<string, string>> {
  const root = options.root ?? PROJECT_ROOT;
  const graph = await moduleGraph(entry, options);
  const byUrl = new Map(graph.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => graph.redirects[s] ?? s;

  const files = new Set<string>();
  const packages = new Set<string>();
  const seen = new Set<string>();
  const queue = [resolve(entry.href)];
  while (queue.length) {
    const url = queue.pop()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const mod = byUrl.get(url);
    if (!mod) continue;
    if (mod.kind === "npm" && mod.npmPackage) packages.add(mod.npmPackage);
    if (mod.kind !== "esm") continue;
    if (url.startsWith("file:")) files.add(fileURLToPath(url));
    for (const dep of mod.dependencies ?? []) {
      // Only what runs: a type-only import (`import type`) cannot change a stage's outputs.
      if (dep.code) queue.push(resolve(dep.code.specifier));
    }
  }
  // A package's own dependencies are part of what runs: follow them through the lock's package table.
  const pkgQueue = [...packages];
  while (pkgQueue.length) {
    for (const dep of graph.npmPackages[pkgQueue.pop()!]?.dependencies ?? []) {
      if (!packages.has(dep)) packages.add(dep), pkgQueue.push(dep);
    }
  }

  const entries: [string, string][] = await Promise.all(
    [...files].map(async (path) => [relative(root, path), await sha256File(path)] as [string, string]),
  );
  for (const id of packages) {
    const pkg = graph.npmPackages[id];
    entries.push([pkg ? `npm:${pkg.name}@${pkg.version}` : `npm:${id}`, id]);
  }
  return Object.fromEntries(entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}
