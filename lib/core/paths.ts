/**
 * Where things are: the project's root folder and the default stage cache.
 *
 * @example
 * ```ts
 * import { defaultCacheDir, PROJECT_ROOT } from "./paths.ts";
 * console.log(PROJECT_ROOT, defaultCacheDir());
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";

/** The project root (the folder holding deno.json), without a trailing slash. */
export const PROJECT_ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/**
 * The default stage cache: `$XDG_CACHE_HOME/resnet-cifar-deno`, else `~/.cache/resnet-cifar-deno`.
 *
 * @example
 * ```ts
 * defaultCacheDir(); // "/home/me/.cache/resnet-cifar-deno"
 * ```
 */
export function defaultCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return `${xdg || `${home}/.cache`}/resnet-cifar-deno`;
}
