/**
 * What every run-folder parser returns, and the tolerant field readers they share: a parser takes what
 * `JSON.parse` gave and either returns a well-formed value, with notes about anything it had to drop, or
 * says in one line why the file cannot be used.
 *
 * @example
 * ```ts
 * import { finite, type Parsed } from "./parsed.ts";
 * const parsed: Parsed<number> = { ok: true, value: finite(0.5) ?? 0, notes: [] };
 * ```
 * @module
 */

/** A parse result: a usable value with notes, or one line saying why the file cannot be used. */
export type Parsed<T> = { ok: true; value: T; notes: string[] } | { ok: false; problem: string };

/** The same fields, each of which a reader may find missing (null). */
export type Nullable<T> = { [K in keyof T]: T[K] | null };

/**
 * Whether `v` is a plain JSON object (not null, not an array).
 *
 * @example
 * ```ts
 * isObject({}); // true
 * isObject([1]); // false
 * ```
 */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * `v` when it is a finite number, else null.
 *
 * @example
 * ```ts
 * finite(NaN); // null
 * ```
 */
export function finite(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * `v` when it is a count (a safe integer ≥ 0), else null.
 *
 * @example
 * ```ts
 * count(-1); // null
 * ```
 */
export function count(v: unknown): number | null {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/**
 * `v` when it is a 1-based epoch (or step) number: an integer from 1 to `max`; else null.
 *
 * @example
 * ```ts
 * ordinal(0, 10); // null
 * ```
 */
export function ordinal(v: unknown, max: number): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= max ? v : null;
}

/**
 * `v` when it is a string, else null.
 *
 * @example
 * ```ts
 * text(3); // null
 * ```
 */
export function text(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/**
 * `v` when it is a non-empty list of class names, else null.
 *
 * @example
 * ```ts
 * classList(["cat", "dog"]); // ["cat", "dog"]
 * ```
 */
export function classList(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === "string") ? v as string[] : null;
}
