/**
 * A run's or stage's status as a coloured badge.
 *
 * @example
 * ```tsx
 * <StatusBadge status="running" />
 * ```
 * @module
 */

/** A status badge. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{status}</span>;
}
