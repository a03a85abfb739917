/**
 * A run's or stage's status as a coloured badge.
 *
 * @example
 * ```tsx
 * import { StatusBadge } from "./StatusBadge.tsx";
 * export const badge = <StatusBadge status="running" />;
 * ```
 * @module
 */

/** What a badge says for a status, where it is more than the word itself. */
const LABELS: Record<string, string> = {
  stopped: "stopped (process gone)",
};

/** A status badge. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{LABELS[status] ?? status}</span>;
}
