/**
 * Per-class test accuracy as a table with bars.
 *
 * @example
 * ```tsx
 * import { PerClassTable } from "./PerClassTable.tsx";
 * export const table = <PerClassTable rows={[{ class: "cat", accuracy: 0.4, count: 1000 }]} />;
 * ```
 * @module
 */
import type { ClassAccuracy } from "@/lib/contract/mod.ts";
import { formatPercent } from "@/lib/core/mod.ts";

/** The per-class table. */
export function PerClassTable({ rows }: { rows: ClassAccuracy[] }) {
  return (
    <table class="per-class">
      <thead>
        <tr>
          <th>class</th>
          <th>accuracy</th>
          <th>images</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.class} data-class={r.class}>
            <td>{r.class}</td>
            <td class="bar-cell">
              <span class="bar" style={{ width: `${Math.round(r.accuracy * 100)}%` }} />
              <span class="bar-label">{formatPercent(r.accuracy)}</span>
            </td>
            <td class="num">{r.count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
