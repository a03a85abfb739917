/**
 * Number and time formats shared by the dashboard's pages and islands. No imports.
 *
 * @example
 * ```ts
 * import { formatPercent, formatSeconds } from "./format.ts";
 * formatPercent(0.4678); // "46.8%"
 * formatSeconds(185); // "3m05s"
 * ```
 * @module
 */

/** A share in [0, 1] as a percentage with one decimal; "–" for null. */
export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "–"
    : `${(value * 100).toFixed(1)}%`;
}

/** Seconds as "0.4 s", "12 s", "3m05s" or "1h02m"; "–" for null. */
export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value) || value < 0) return "–";
  if (value < 10) return `${value.toFixed(1)} s`;
  const s = Math.round(value);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r} s`;
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
