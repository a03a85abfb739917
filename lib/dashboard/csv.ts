/**
 * CSV text (RFC 4180: comma separated, CRLF line ends, fields quoted when they need it).
 *
 * @example
 * ```ts
 * import { toCsv } from "./csv.ts";
 * toCsv(["epoch", "loss"], [[1, 2.1], [2, null]]); // "epoch,loss\r\n1,2.1\r\n2,\r\n"
 * ```
 * @module
 */

/** One CSV cell; null and undefined are empty. */
export type CsvCell = string | number | boolean | null | undefined;

function field(value: CsvCell): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * A header row and data rows as CSV text.
 *
 * @example
 * ```ts
 * toCsv(["class"], [["a,b"]]); // 'class\r\n"a,b"\r\n'
 * ```
 */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return [header, ...rows].map((row) => row.map(field).join(",") + "\r\n").join("");
}
