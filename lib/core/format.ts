/**
 * Number and time formats shared by the log lines, the dashboard's pages and its islands. No imports, so the
 * islands' browser bundle may include it.
 *
 * @example
 * ```ts
 * import { formatDuration, formatPercent, formatSeconds } from "./format.ts";
 * formatPercent(0.4678); // "46.8%"
 * formatSeconds(185); // "3m05s"
 * formatDuration(3725); // "1h02m"
 * ```
 * @module
 */

/**
 * Seconds as "1h02m", "3m05s" or "12s"; "?" for a negative or non-finite value.
 *
 * @example
 * ```ts
 * formatDuration(65); // "1m05s"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/**
 * Bytes as megabytes with one decimal ("170.1 MB"); "?" when unknown.
 *
 * @example
 * ```ts
 * formatMegabytes(170_052_171); // "170.1 MB"
 * ```
 */
export function formatMegabytes(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? "?" : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A share in [0, 1] as a percentage with one decimal; "–" for null. */
export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "–"
    : `${(value * 100).toFixed(1)}%`;
}

/** Seconds as "0.4 s" under ten seconds, else as {@linkcode formatDuration} does; "–" for null. */
export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value) || value < 0) return "–";
  return value < 10 ? `${value.toFixed(1)} s` : formatDuration(value);
}

/** Bytes as B, KB, MB or GB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1000, i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** An ISO time as "2026-11-28 11:46" (UTC); "–" for null or garbage. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "–";
  return new Date(t).toISOString().slice(0, 16).replace("T", " ");
}

/**
 * A count with its noun, singular for exactly one: "1 epoch", "2 epochs", "0 steps".
 *
 * @example
 * ```ts
 * plural(1, "epoch"); // "1 epoch"
 * plural(3, "entry", "entries"); // "3 entries"
 * ```
 */
export function plural(count: number, noun: string, many = `${noun}s`): string {
  return `${count.toLocaleString("en-US")} ${count === 1 ? noun : many}`;
}

/**
 * A run's or stage's status as a badge says it: the word itself, or more where the word alone misleads
 * ("stopped" is a run marked running whose process is gone).
 *
 * @example
 * ```ts
 * statusLabel("stopped"); // "stopped (process gone)"
 * statusLabel("done"); // "done"
 * ```
 */
export function statusLabel(status: string): string {
  return status === "stopped" ? "stopped (process gone)" : status;
}
