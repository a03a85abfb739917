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
import { statusLabel } from "@/lib/core/mod.ts";

/** A status badge. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{statusLabel(status)}</span>;
}
