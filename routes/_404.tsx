/**
 * The page for anything that is not there.
 *
 * @example
 * ```tsx
 * import NotFound from "./_404.tsx";
 * export const page = <NotFound what="run ../x" />;
 * ```
 * @module
 */

/** Props of {@linkcode NotFound}. */
export interface NotFoundProps {
  /** What was asked for. */
  what: string;
}

/** "Not found", with a way back. */
export default function NotFound({ what }: NotFoundProps) {
  return (
    <section class="not-found">
      <h1>Not found</h1>
      <p>
        There is no {what} here. <a href="/">Back to the runs</a>.
      </p>
    </section>
  );
}
