/**
 * What a run folder lacks, and softer remarks, as a visible notice.
 *
 * @example
 * ```tsx
 * import { Notes } from "./Notes.tsx";
 * export const notes = <Notes missing={["evaluate/evaluation.json is missing: no confusion matrix"]} notes={[]} />;
 * ```
 * @module
 */

/** Props of {@linkcode Notes}. */
export interface NotesProps {
  missing: string[];
  notes: string[];
}

/** A "what is missing" box, or nothing when the run is whole. */
export function Notes({ missing, notes }: NotesProps) {
  if (missing.length === 0 && notes.length === 0) return null;
  return (
    <aside class="notes">
      {missing.length > 0 && (
        <>
          <h3>What is missing</h3>
          <ul class="missing">
            {missing.map((m) => <li key={m}>{m}</li>)}
          </ul>
        </>
      )}
      {notes.length > 0 && (
        <ul class="remarks">
          {notes.map((n) => <li key={n}>{n}</li>)}
        </ul>
      )}
    </aside>
  );
}
