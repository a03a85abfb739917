/**
 * `deno task cache [--cache-dir DIR] [--runs DIR]`: the stage cache's entries (stage, key, size, age, the
 * runs that use them) and its total size. `deno task cache prune [--older-than 30d] [--keep-runs DIR]...
 * [--dry-run]` removes every entry that no run in the kept folders uses (and, with `--older-than`, that is
 * at least that old).
 *
 * @example
 * ```sh
 * deno task cache
 * deno task cache prune --older-than 30d --keep-runs runs
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { defaultCacheDir, formatBytes, formatDuration, PipelineError, UsageError } from "../lib/core/mod.ts";
import {
  type CacheEntry,
  countRunFolders,
  listCache,
  parseAge,
  pruneCache,
  runsUsingCache,
} from "../lib/run/mod.ts";

const HELP = `Usage: deno task cache [list] [--cache-dir DIR] [--runs DIR]...
       deno task cache prune [--older-than AGE] [--keep-runs DIR]... [--dry-run] [--cache-dir DIR]

  list                  every entry: stage, key, size, age, the runs that use it; the total size
  prune                 remove the entries that no kept run uses
  --cache-dir DIR       the stage cache (default $XDG_CACHE_HOME/resnet-cifar-deno)
  --runs DIR            run folders to look for users in (default runs; repeatable)
  --keep-runs DIR       prune: the runs to keep (default runs; repeatable; a run folder itself works too)
  --older-than AGE      prune: only entries at least this old (30d, 12h, 90m, 2w)
  --dry-run             prune: say what would go, remove nothing
  --help                this text`;

function age(entry: CacheEntry, now: number): string {
  if (!entry.createdAt) return "?";
  const s = Math.max(0, (now - entry.createdAt.getTime()) / 1000);
  if (s >= 86400) return `${Math.floor(s / 86400)}d`;
  return s >= 60 ? formatDuration(s) : `${Math.round(s)}s`;
}

/**
 * The listing's table.
 *
 * @example
 * ```ts
 * import { listCache, runsUsingCache } from "../lib/run/mod.ts";
 * console.log(formatCacheTable(await listCache("/tmp/cache", await runsUsingCache("runs"))));
 * ```
 */
export function formatCacheTable(entries: readonly CacheEntry[], now = Date.now()): string {
  const rows = entries.map((e) => [
    e.stage,
    e.key.slice(0, 12),
    formatBytes(e.bytes),
    age(e, now),
    e.usedBy.length ? e.usedBy.join(", ") : "(no run)",
  ]);
  const head = ["stage", "key", "size", "age", "used by"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  const total = entries.reduce((a, e) => a + e.bytes, 0);
  const unused = entries.filter((e) => e.usedBy.length === 0);
  return [
    line(head),
    ...rows.map(line),
    `total ${formatBytes(total)} in ${entries.length} entr${entries.length === 1 ? "y" : "ies"}; ` +
    `${unused.length} used by no run (${formatBytes(unused.reduce((a, e) => a + e.bytes, 0))})`,
  ].join("\n");
}

/** Run `deno task cache` for `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          "cache-dir": { type: "string" },
          runs: { type: "string", multiple: true },
          "keep-runs": { type: "string", multiple: true },
          "older-than": { type: "string" },
          "dry-run": { type: "boolean" },
          help: { type: "boolean" },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message.split("\n")[0]} (see --help)`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const command = positionals[0] ?? "list";
    if (positionals.length > 1 || !["list", "prune"].includes(command)) {
      throw new UsageError(`unknown cache command "${positionals.join(" ")}": use list or prune`);
    }
    const cacheDir = values["cache-dir"] ?? defaultCacheDir();
    for (
      const [flag, dirs] of [
        ["cache-dir", [cacheDir]],
        ["runs", values.runs ?? []],
        ["keep-runs", values["keep-runs"] ?? []],
      ] as const
    ) {
      const empty = dirs.find((d) => d.trim() === "");
      if (empty !== undefined) throw new UsageError(`--${flag} must name a folder, got "${empty}"`);
    }
    if (command === "list") {
      if (values["older-than"] || values["keep-runs"] || values["dry-run"]) {
        throw new UsageError("--older-than, --keep-runs and --dry-run go with prune");
      }
      const entries = await listCache(cacheDir, await runsUsingCache(...(values.runs ?? ["runs"])));
      console.log(`cache ${cacheDir}`);
      console.log(formatCacheTable(entries));
      return 0;
    }
    if (values.runs) throw new UsageError("prune takes --keep-runs, not --runs");
    let olderThanSeconds: number | undefined;
    if (values["older-than"] !== undefined) {
      const s = parseAge(values["older-than"]);
      if (s === null) {
        throw new UsageError(
          `--older-than must be a number and s|m|h|d|w, e.g. 30d; got "${values["older-than"]}"`,
        );
      }
      olderThanSeconds = s;
    }
    const keep = values["keep-runs"] ?? ["runs"];
    for (const dir of keep) {
      const runs = await countRunFolders(dir);
      if (runs === null || runs === 0) {
        const what = values["keep-runs"] ? `--keep-runs ${dir}` : `the default --keep-runs ${dir}`;
        throw new UsageError(
          `${what} ${runs === null ? "is not a folder" : "holds no run folder (no run.json)"}: ` +
            `prune would remove every entry as used by no run; name the folder of your runs ` +
            `(to empty the whole cache, delete ${cacheDir})`,
        );
      }
    }
    const entries = await listCache(cacheDir, await runsUsingCache(...keep));
    const removed = await pruneCache(entries, { olderThanSeconds, dryRun: values["dry-run"] });
    const verb = values["dry-run"] ? "would remove" : "removed";
    const now = Date.now();
    for (const e of removed) {
      console.log(`${verb} ${e.stage}/${e.key.slice(0, 12)} (${formatBytes(e.bytes)}, ${age(e, now)} old)`);
    }
    const freed = removed.reduce((a, e) => a + e.bytes, 0);
    const kept = entries.length - removed.length;
    console.log(
      `${verb} ${removed.length} entr${removed.length === 1 ? "y" : "ies"} (${
        formatBytes(freed)
      }); kept ${kept} ` +
        `(used by the runs in ${keep.join(", ")}${
          olderThanSeconds !== undefined ? ` or newer than ${values["older-than"]}` : ""
        })`,
    );
    return 0;
  } catch (err) {
    if (err instanceof PipelineError) {
      console.error(err.toLine());
      return err.exitCode;
    }
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    console.error(`error: [cache] ${why}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
