/**
 * A run's resolved config (and environment) as a two-column table.
 *
 * @example
 * ```tsx
 * import { ConfigTable } from "./ConfigTable.tsx";
 * export const table = <ConfigTable config={{ epochs: 5, batchSize: 256 }} />;
 * ```
 * @module
 */

/** A config value as text. */
export function configValue(value: unknown): string {
  if (value === undefined) return "–";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** Props of {@linkcode ConfigTable}. */
export interface ConfigTableProps {
  config: Record<string, unknown>;
  caption?: string;
}

/** The key/value table. */
export function ConfigTable({ config, caption }: ConfigTableProps) {
  const keys = Object.keys(config);
  if (keys.length === 0) return <p class="empty">No config recorded.</p>;
  return (
    <table class="config">
      {caption && <caption>{caption}</caption>}
      <tbody>
        {keys.map((k) => (
          <tr key={k} data-key={k}>
            <th>{k}</th>
            <td>
              <code>{configValue(config[k])}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
