/**
 * The stage cache seen from outside the runner: list its entries (stage, key, size, age, the runs that use
 * them) and prune the ones no kept run uses. Reads the layout tolerantly: `<cache>/<stage>/<key>/` with
 * `manifest.json` and `files/`; anything else (lock files, `latest.json`, temporary folders, unknown stages)
 * is left alone. A run uses an entry when its `run.json` records that stage with that key.
 *
 * An entry is removed by first renaming it away (so a runner never sees half of it), then deleting it. The
 * run folders keep their own hard links to the files, so pruning never breaks a run folder; it only means
 * the next run with that key recomputes.
 *
 * @example
 * ```ts
 * import { listCache, pruneCache, runsUsingCache } from "./cache_index.ts";
 * const usage = await runsUsingCache("runs");
 * const entries = await listCache("/tmp/cache", usage);
 * const removed = await pruneCache(entries, { olderThanSeconds: 30 * 86400 });
 * console.log(entries.length, removed.length);
 * ```
 * @module
 */
import { join } from "node:path";
import { parseRunManifest, STAGE_NAMES } from "../contract/mod.ts";

/** One cache entry. */
export interface CacheEntry {
  /** The stage. */
  stage: string;
  /** The cache key (hex SHA-256). */
  key: string;
  /** The entry's folder. */
  dir: string;
  /** Bytes of every file in it. */
  bytes: number;
  /** Files in it. */
  files: number;
  /** When it was made: the manifest's `createdAt`, else the folder's modification time; null if neither. */
  createdAt: Date | null;
  /** Ids (folder names) of the runs whose run.json uses it. */
  usedBy: string[];
}

/** Stage/key → the runs (folder names) whose run.json records that key. */
export type CacheUsage = Map<string, string[]>;

const KEY = /^[0-9a-f]{16,128}$/;

async function readDirSafe(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return [];
    throw err;
  }
}

async function sizeOf(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0, files = 0;
  for (const e of await readDirSafe(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      const sub = await sizeOf(path);
      bytes += sub.bytes;
      files += sub.files;
    } else if (e.isFile) {
      bytes += (await Deno.stat(path)).size;
      files++;
    }
  }
  return { bytes, files };
}

/**
 * Which cache entries the runs in `runsDirs` use (each a folder of run folders; a run folder itself works
 * too). Unreadable run.json files are skipped.
 *
 * @example
 * ```ts
 * const usage = await runsUsingCache("runs");
 * usage.get("train/3f2a…"); // ["2026-12-01T10-00-00Z-quick"]
 * ```
 */
export async function runsUsingCache(...runsDirs: string[]): Promise<CacheUsage> {
  const usage: CacheUsage = new Map();
  const add = async (runDir: string, id: string) => {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
    } catch {
      return;
    }
    const parsed = parseRunManifest(json);
    if (!parsed.ok) return;
    for (const [stage, record] of Object.entries(parsed.value.stages ?? {})) {
      if (!record || typeof record.key !== "string") continue;
      const k = `${stage}/${record.key}`;
      const list = usage.get(k) ?? [];
      if (!list.includes(id)) list.push(id);
      usage.set(k, list);
    }
  };
  for (const runsDir of runsDirs) {
    const own = await Deno.stat(join(runsDir, "run.json")).then(() => true, () => false);
    if (own) await add(runsDir, runsDir.replace(/\/+$/, "").split("/").pop() ?? runsDir);
    for (const e of await readDirSafe(runsDir)) {
      if (e.isDirectory) await add(join(runsDir, e.name), e.name);
    }
  }
  return usage;
}

/**
 * How many run folders `dir` holds (itself, or its sub-folders, with a run.json this project can read);
 * null when `dir` is not a folder. `cache prune` refuses a kept folder with none: a typo in `--keep-runs`
 * would otherwise remove every entry.
 *
 * @example
 * ```ts
 * await countRunFolders("runs"); // 3
 * await countRunFolders("rnus"); // null
 * ```
 */
export async function countRunFolders(dir: string): Promise<number | null> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) return null;
  } catch {
    return null;
  }
  const isRun = async (runDir: string) => {
    try {
      return parseRunManifest(JSON.parse(await Deno.readTextFile(join(runDir, "run.json")))).ok;
    } catch {
      return false;
    }
  };
  if (await isRun(dir)) return 1;
  let count = 0;
  for (const e of await readDirSafe(dir)) {
    if (e.isDirectory && await isRun(join(dir, e.name))) count++;
  }
  return count;
}

/**
 * Every entry of the cache at `cacheDir`, oldest first, with the runs of `usage` that use it.
 *
 * @example
 * ```ts
 * const entries = await listCache("/tmp/cache", await runsUsingCache("runs"));
 * ```
 */
export async function listCache(cacheDir: string, usage: CacheUsage = new Map()): Promise<CacheEntry[]> {
  const entries: CacheEntry[] = [];
  for (const stageEntry of await readDirSafe(cacheDir)) {
    if (!stageEntry.isDirectory || !(STAGE_NAMES as readonly string[]).includes(stageEntry.name)) continue;
    const stageDir = join(cacheDir, stageEntry.name);
    for (const e of await readDirSafe(stageDir)) {
      if (!e.isDirectory || !KEY.test(e.name)) continue; // latest.json, locks, .tmp- folders
      const dir = join(stageDir, e.name);
      let createdAt: Date | null = null;
      try {
        const manifest = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
        const t = Date.parse(manifest?.createdAt);
        if (Number.isFinite(t)) createdAt = new Date(t);
      } catch {
        // no readable manifest: use the folder's time
      }
      if (!createdAt) createdAt = (await Deno.stat(dir)).mtime;
      const { bytes, files } = await sizeOf(dir);
      entries.push({
        stage: stageEntry.name,
        key: e.name,
        dir,
        bytes,
        files,
        createdAt,
        usedBy: usage.get(`${stageEntry.name}/${e.name}`) ?? [],
      });
    }
  }
  return entries.sort((a, b) =>
    (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) || a.dir.localeCompare(b.dir)
  );
}

/** Options of {@linkcode pruneCache}. */
export interface PruneOptions {
  /** Remove only entries at least this old (seconds); all unused entries when absent. */
  olderThanSeconds?: number;
  /** "Now", for tests. */
  now?: Date;
  /** List what would go, remove nothing. */
  dryRun?: boolean;
}

/**
 * Remove every entry that no run uses (`usedBy` empty) and, with `olderThanSeconds`, is at least that old.
 * Returns the removed entries.
 *
 * @example
 * ```ts
 * const usage = await runsUsingCache("runs");
 * const gone = await pruneCache(await listCache("/tmp/cache", usage), { olderThanSeconds: 2_592_000 });
 * ```
 */
export async function pruneCache(
  entries: readonly CacheEntry[],
  options: PruneOptions = {},
): Promise<CacheEntry[]> {
  const now = (options.now ?? new Date()).getTime();
  const removed: CacheEntry[] = [];
  for (const entry of entries) {
    if (entry.usedBy.length > 0) continue;
    const age = entry.createdAt ? (now - entry.createdAt.getTime()) / 1000 : Infinity;
    if (options.olderThanSeconds !== undefined && age < options.olderThanSeconds) continue;
    if (!options.dryRun) {
      const away = `${entry.dir}.prune-${Deno.pid}`;
      await Deno.rename(entry.dir, away);
      await Deno.remove(away, { recursive: true });
    }
    removed.push(entry);
  }
  return removed;
}

/**
 * Parse an age such as `30d`, `12h`, `90m`, `45s` or `2w` into seconds; null when it is not one.
 *
 * @example
 * ```ts
 * parseAge("30d"); // 2592000
 * ```
 */
export function parseAge(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  if (!m) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as "s" | "m" | "h" | "d" | "w"];
  return Number(m[1]) * unit;
}
