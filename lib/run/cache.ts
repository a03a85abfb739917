/**
 * The content-addressed stage cache, and what it promises: an entry is **immutable** (its files are made
 * read-only, and nothing writes through a link: a stage that continues in place gets private copies
 * first), **content-verified** (a hit re-hashes every file and the manifest against the SHA-256 sums
 * recorded when the entry was made; a damaged entry is dropped and rebuilt, never served) and **locked**
 * while it is built (a second builder is told who holds it).
 *
 * Layout of `<cacheDir>/<stage>/<key>/`: `files/…` (the stage's outputs), `manifest.json` (key, key parts,
 * outputs with their sizes and SHA-256, summary) and `manifest.sha256` (the SHA-256 of manifest.json's
 * bytes, so a change anywhere in the entry is seen). `<cacheDir>/<stage>/<key>.lock` exists while the
 * entry is built. An entry appears only by renaming a finished temporary folder.
 *
 * @example
 * ```ts
 * import { lookupCacheEntry } from "./cache.ts";
 * const found = await lookupCacheEntry("/tmp/cache", "fetch", "0f…");
 * if (found.state === "damaged") console.log(found.why);
 * ```
 * @module
 */
import { dirname, join } from "node:path";
import type { KeyParts, OutputFile, StageName } from "../contract/mod.ts";
import { canonicalJson, sha256File, sha256Hex, tempNameFor, writeFileWhole } from "../core/mod.ts";

/** `manifest.json` of a cache entry. */
export interface CacheManifest {
  stage: StageName;
  key: string;
  keyParts: KeyParts;
  outputs: OutputFile[];
  summary?: Record<string, unknown>;
  createdAt: string;
}

/** The name of the file holding the SHA-256 of an entry's manifest.json. */
export const MANIFEST_SEAL = "manifest.sha256";

/** What looking up a key gave. */
export type CacheLookup =
  | { state: "hit"; manifest: CacheManifest }
  | { state: "miss" }
  | { state: "damaged"; why: string };

/** The folder of a cache entry. */
export function cacheEntryDir(cacheDir: string, stage: StageName, key: string): string {
  return join(cacheDir, stage, key);
}

/** Every file below `dir`, relative, with `/` separators, sorted. Temporary files are skipped. */
export async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(join(dir, sub))) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(rel);
      else if (entry.isFile && !/\.tmp-\d+-[0-9a-f]+$/.test(entry.name)) files.push(rel);
    }
  };
  await walk("");
  return files.sort();
}

/** Sizes and SHA-256 of every file below `dir`. */
export async function hashOutputs(dir: string): Promise<OutputFile[]> {
  const files = await listFiles(dir);
  return await Promise.all(files.map(async (path) => {
    const full = join(dir, path);
    const { size } = await Deno.stat(full);
    return { path, bytes: size, sha256: await sha256File(full) };
  }));
}

/**
 * Look up and verify the entry for `key`: the manifest against its seal, the key against the key parts,
 * the file list against the manifest, and every file's SHA-256 against the one recorded. Reads every byte
 * of the entry (measured: see the README).
 *
 * @example
 * ```ts
 * const found = await lookupCacheEntry("/tmp/cache", "decode", "0f".repeat(32));
 * if (found.state === "hit") console.log(found.manifest.outputs.length);
 * ```
 */
export async function lookupCacheEntry(
  cacheDir: string,
  stage: StageName,
  key: string,
): Promise<CacheLookup> {
  const entryDir = cacheEntryDir(cacheDir, stage, key);
  let manifestBytes: Uint8Array;
  try {
    manifestBytes = await Deno.readFile(join(entryDir, "manifest.json"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      try {
        await Deno.stat(entryDir);
        return { state: "damaged", why: "manifest.json is missing" };
      } catch {
        return { state: "miss" };
      }
    }
    return { state: "damaged", why: `manifest.json cannot be read (${(err as Error).message})` };
  }
  const seal = await Deno.readTextFile(join(entryDir, MANIFEST_SEAL)).catch(() => null);
  if (seal === null) {
    return { state: "damaged", why: `${MANIFEST_SEAL} is missing (an entry of an older version?)` };
  }
  if (seal.trim() !== await sha256Hex(manifestBytes)) {
    return { state: "damaged", why: `manifest.json does not match ${MANIFEST_SEAL}` };
  }
  let manifest: CacheManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch {
    return { state: "damaged", why: "manifest.json is not valid JSON" };
  }
  if (manifest.key !== key || await sha256Hex(canonicalJson(manifest.keyParts)) !== key) {
    return { state: "damaged", why: "manifest.json is for another key" };
  }
  const filesDir = join(entryDir, "files");
  let present: string[];
  try {
    present = await listFiles(filesDir);
  } catch {
    present = [];
  }
  const recorded = manifest.outputs.map((o) => o.path).sort();
  const extra = present.filter((p) => !recorded.includes(p));
  const absent = recorded.filter((p) => !present.includes(p));
  if (absent.length) return { state: "damaged", why: `files/${absent[0]} is missing` };
  if (extra.length) return { state: "damaged", why: `files/${extra[0]} is not in the manifest` };
  for (const out of manifest.outputs) {
    const path = join(filesDir, out.path);
    const { size } = await Deno.stat(path);
    if (size !== out.bytes) {
      return { state: "damaged", why: `files/${out.path} holds ${size} bytes, ${out.bytes} were recorded` };
    }
  }
  const sums = await Promise.all(manifest.outputs.map((o) => sha256File(join(filesDir, o.path))));
  const bad = manifest.outputs.findIndex((o, i) => sums[i] !== o.sha256);
  if (bad >= 0) {
    return { state: "damaged", why: `files/${manifest.outputs[bad].path} differs from its recorded SHA-256` };
  }
  return { state: "hit", manifest };
}

/** Remove a (damaged) entry: renamed away first, so no reader sees it half removed. */
export async function dropCacheEntry(cacheDir: string, stage: StageName, key: string): Promise<void> {
  const dir = cacheEntryDir(cacheDir, stage, key);
  const away = tempNameFor(`${dir}.dropped`);
  try {
    await Deno.rename(dir, away);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  await Deno.remove(away, { recursive: true });
}

/** Hard-link `from` to `to`, or copy where a link is impossible (another file system). */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  await Deno.mkdir(dirname(to), { recursive: true });
  try {
    await Deno.link(from, to);
  } catch {
    await Deno.copyFile(from, to);
  }
}

async function makeReadOnly(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const { mode } = await Deno.stat(path);
  await Deno.chmod(path, (mode ?? 0o644) & 0o555);
}

/**
 * Store a finished stage's folder `dir` as the entry of `manifest.key`: its files are linked (or copied)
 * into a temporary folder with the manifest and its seal, made read-only, and the folder renamed into
 * place. The run folder's files are the same inodes, so they become read-only too.
 *
 * @example
 * ```ts
 * const found = await lookupCacheEntry("/tmp/cache", "decode", "0f".repeat(32));
 * if (found.state === "hit") await storeCacheEntry("/tmp/other-cache", "runs/a/decode", found.manifest);
 * ```
 */
export async function storeCacheEntry(cacheDir: string, dir: string, manifest: CacheManifest): Promise<void> {
  const final = cacheEntryDir(cacheDir, manifest.stage, manifest.key);
  const tmp = tempNameFor(final);
  try {
    for (const out of manifest.outputs) {
      const to = join(tmp, "files", out.path);
      await linkOrCopy(join(dir, out.path), to);
      await makeReadOnly(to);
    }
    const text = JSON.stringify(manifest, null, 2) + "\n";
    const bytes = new TextEncoder().encode(text);
    await writeFileWhole(join(tmp, "manifest.json"), bytes);
    await writeFileWhole(join(tmp, MANIFEST_SEAL), (await sha256Hex(bytes)) + "\n");
    await makeReadOnly(join(tmp, "manifest.json"));
    await makeReadOnly(join(tmp, MANIFEST_SEAL));
    await dropCacheEntry(cacheDir, manifest.stage, manifest.key);
    await Deno.rename(tmp, final);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}

/**
 * Put a verified entry's files into the run folder's stage folder `dir` (emptied first), as hard links.
 *
 * @example
 * ```ts
 * const found = await lookupCacheEntry("/tmp/cache", "fetch", "0f".repeat(32));
 * if (found.state === "hit") await materializeCacheEntry("/tmp/cache", found.manifest, "runs/a/fetch");
 * ```
 */
export async function materializeCacheEntry(
  cacheDir: string,
  manifest: CacheManifest,
  dir: string,
): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const files = join(cacheEntryDir(cacheDir, manifest.stage, manifest.key), "files");
  for (const out of manifest.outputs) await linkOrCopy(join(files, out.path), join(dir, out.path));
}

/**
 * Copy-on-write before a stage continues in place (`--resume`): every file below `dir` that is shared
 * with another path (a hard link into the cache or another run folder) or read-only is replaced by a
 * private, writable copy (written beside it, then renamed over it), so nothing the stage writes can reach
 * a cache entry. Returns how many files were copied.
 *
 * @example
 * ```ts
 * await detachFiles("runs/a/train");
 * ```
 */
export async function detachFiles(dir: string): Promise<number> {
  let files: string[];
  try {
    files = await listFiles(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  let copied = 0;
  for (const rel of files) {
    const path = join(dir, rel);
    const info = await Deno.lstat(path);
    if (!info.isFile) continue;
    const shared = (info.nlink ?? 1) > 1;
    const readOnly = info.mode !== null && (info.mode & 0o200) === 0;
    if (!shared && !readOnly) continue;
    const tmp = tempNameFor(path);
    try {
      await Deno.copyFile(path, tmp);
      await Deno.chmod(tmp, 0o644);
      await Deno.rename(tmp, path);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
    copied++;
  }
  return copied;
}
