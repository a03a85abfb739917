/**
 * The augmented training images with their class names, as real images served by the dashboard.
 *
 * @example
 * ```tsx
 * import { SampleGrid } from "./SampleGrid.tsx";
 * declare const classes: string[];
 * export const grid = <SampleGrid runId="quick" labels={[3, 8]} classes={classes} />;
 * ```
 * @module
 */

/** Props of {@linkcode SampleGrid}. */
export interface SampleGridProps {
  runId: string;
  /** The label of each sample, in file order. */
  labels: number[];
  classes: string[];
}

/** The sample grid. */
export function SampleGrid({ runId, labels, classes }: SampleGridProps) {
  return (
    <div class="sample-grid">
      {labels.map((label, i) => (
        <figure key={i} class="sample" data-sample={i}>
          <img
            src={`/api/runs/${encodeURIComponent(runId)}/images/sample/${i}.png`}
            width={96}
            height={96}
            alt={classes[label] ?? `class ${label}`}
          />
          <figcaption>{classes[label] ?? `#${label}`}</figcaption>
        </figure>
      ))}
    </div>
  );
}
