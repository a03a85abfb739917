/**
 * The test predictions as real images with filters: only the wrong ones, by true or predicted class, sorted
 * by the model's confidence. Clicking a cell of the confusion matrix shows exactly the images in that cell,
 * most confident first (for an off-diagonal cell: the most confident mistakes).
 *
 * @example
 * ```tsx
 * import PredictionExplorer from "./PredictionExplorer.tsx";
 * import type { PredictionColumns } from "./types.ts";
 * declare const classes: string[];
 * declare const columns: PredictionColumns;
 * export const grid = (
 *   <PredictionExplorer runId="quick" classes={classes} predictions={columns} testImageCount={10000} />
 * );
 * ```
 * @module
 */
import { useSignal } from "@preact/signals";
import { heatColor, predictionColor, predictionTitle } from "@/lib/figures/style.ts";
import type { PredictionColumns } from "./types.ts";

/** Props of {@linkcode PredictionExplorer}. */
export interface PredictionExplorerProps {
  runId: string;
  classes: string[];
  predictions: PredictionColumns;
  /** Images in decode/test_images.u8; predictions past it show no picture. */
  testImageCount: number;
  /** Images shown before "show more" (default 24). */
  pageSize?: number;
}

/** How the grid is ordered. */
export type SortOrder = "index" | "confident" | "unsure";

interface Item {
  index: number;
  label: number;
  pred: number;
  confidence: number;
}

/** The confusion matrix over the predictions, the grid, and the controls that filter it. */
export default function PredictionExplorer(props: PredictionExplorerProps) {
  const { runId, classes, predictions, testImageCount } = props;
  const pageSize = props.pageSize ?? 24;
  const onlyWrong = useSignal(false);
  const trueClass = useSignal(-1);
  const predClass = useSignal(-1);
  const sort = useSignal<SortOrder>("index");
  const shown = useSignal(pageSize);

  const items: Item[] = predictions.index.map((index, i) => ({
    index,
    label: predictions.label[i],
    pred: predictions.pred[i],
    confidence: predictions.confidence[i],
  }));
  const k = classes.length;
  const matrix = classes.map(() => new Array<number>(k).fill(0));
  for (const it of items) if (it.label < k && it.pred < k) matrix[it.label][it.pred]++;
  const rowTotals = matrix.map((row) => row.reduce((a, b) => a + b, 0));

  const selected = items.filter((it) =>
    (!onlyWrong.value || it.pred !== it.label) &&
    (trueClass.value < 0 || it.label === trueClass.value) &&
    (predClass.value < 0 || it.pred === predClass.value)
  );
  if (sort.value === "confident") selected.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  else if (sort.value === "unsure") selected.sort((a, b) => a.confidence - b.confidence || a.index - b.index);
  const visible = selected.slice(0, shown.value);

  const pickCell = (t: number, p: number) => {
    trueClass.value = t;
    predClass.value = p;
    onlyWrong.value = false;
    sort.value = "confident";
    shown.value = pageSize;
  };
  const reset = () => {
    trueClass.value = -1;
    predClass.value = -1;
    onlyWrong.value = false;
    sort.value = "index";
    shown.value = pageSize;
  };
  const describe = [
    onlyWrong.value ? "wrong only" : null,
    trueClass.value >= 0 ? `true ${classes[trueClass.value]}` : null,
    predClass.value >= 0 ? `predicted ${classes[predClass.value]}` : null,
    sort.value === "confident"
      ? "most confident first"
      : sort.value === "unsure"
      ? "least confident first"
      : null,
  ].filter(Boolean).join(", ");

  return (
    <div class="explorer">
      <div class="confusion-wrap">
        <table class="confusion" aria-label="confusion matrix: rows are true classes, columns predicted">
          <thead>
            <tr>
              <th class="corner">true ↓ / pred →</th>
              {classes.map((c) => <th key={c} class="pred-head" title={`predicted ${c}`}>{c}</th>)}
            </tr>
          </thead>
          <tbody>
            {matrix.map((row, i) => (
              <tr key={classes[i]}>
                <th class="true-head">{classes[i]}</th>
                {row.map((n, j) => {
                  const share = rowTotals[i] ? n / rowTotals[i] : 0;
                  const isSel = trueClass.value === i && predClass.value === j;
                  return (
                    <td key={j}>
                      <button
                        type="button"
                        class={`cell${i === j ? " diag" : ""}${isSel ? " selected" : ""}`}
                        data-true={i}
                        data-pred={j}
                        data-count={n}
                        title={`true ${classes[i]}, predicted ${classes[j]}: ${n}`}
                        style={{
                          background: heatColor(share),
                          color: share > 0.5 ? "#fff" : "#222",
                        }}
                        disabled={n === 0}
                        onClick={() => pickCell(i, j)}
                      >
                        {n}
                      </button>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="explorer-main">
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            <input
              type="checkbox"
              name="wrong"
              checked={onlyWrong.value}
              onChange={(e) => {
                onlyWrong.value = (e.target as HTMLInputElement).checked;
                shown.value = pageSize;
              }}
            />{" "}
            only wrong
          </label>
          <label>
            true{" "}
            <select
              name="true"
              value={String(trueClass.value)}
              onChange={(e) => {
                trueClass.value = Number((e.target as HTMLSelectElement).value);
                shown.value = pageSize;
              }}
            >
              <option value="-1">any</option>
              {classes.map((c, i) => <option key={c} value={String(i)}>{c}</option>)}
            </select>
          </label>
          <label>
            predicted{" "}
            <select
              name="pred"
              value={String(predClass.value)}
              onChange={(e) => {
                predClass.value = Number((e.target as HTMLSelectElement).value);
                shown.value = pageSize;
              }}
            >
              <option value="-1">any</option>
              {classes.map((c, i) => <option key={c} value={String(i)}>{c}</option>)}
            </select>
          </label>
          <label>
            order{" "}
            <select
              name="sort"
              value={sort.value}
              onChange={(e) => (sort.value = (e.target as HTMLSelectElement).value as SortOrder)}
            >
              <option value="index">test order</option>
              <option value="confident">most confident first</option>
              <option value="unsure">least confident first</option>
            </select>
          </label>
          <button type="button" onClick={reset}>clear</button>
        </form>
        <p class="explorer-count" data-selected={selected.length}>
          Showing {visible.length} of {selected.length} test images{describe ? ` (${describe})` : ""}.
        </p>
        <div class="pred-grid">
          {visible.map((it) => {
            const title = predictionTitle(classes, it);
            const right = it.pred === it.label;
            return (
              <figure
                key={it.index}
                class={`pred ${right ? "right" : "wrong"}`}
                data-index={it.index}
                data-label={it.label}
                data-pred={it.pred}
                data-confidence={it.confidence}
              >
                {it.index < testImageCount
                  ? (
                    <img
                      src={`/api/runs/${encodeURIComponent(runId)}/images/test/${it.index}.png`}
                      width={96}
                      height={96}
                      alt={title}
                    />
                  )
                  : <div class="no-image">no image</div>}
                <figcaption style={{ color: predictionColor(it) }}>{title}</figcaption>
                <span class="confidence">#{it.index} · {(it.confidence * 100).toFixed(1)}%</span>
              </figure>
            );
          })}
        </div>
        {visible.length < selected.length && (
          <button type="button" class="more" onClick={() => (shown.value += pageSize)}>
            show {Math.min(pageSize, selected.length - visible.length)} more
          </button>
        )}
      </div>
    </div>
  );
}
