/**
 * Colours and titles shared by the figures (SVG) and the dashboard's islands, so the picture files and the
 * pages agree. No imports: islands bundle this file as is.
 *
 * @example
 * ```ts
 * import { CORRECT_COLOR, predictionColor, predictionTitle } from "./style.ts";
 * predictionTitle(["airplane", "cat"], { pred: 0, label: 1 }); // "Pred: airplane / True: cat"
 * predictionColor({ pred: 1, label: 1 }) === CORRECT_COLOR; // true
 * ```
 * @module
 */

/** Colour of a prediction's title and frame when the model was right (the tutorial's blue). */
export const CORRECT_COLOR = "#1f4fd1";
/** Colour of a prediction's title and frame when the model was wrong (the tutorial's red). */
export const WRONG_COLOR = "#d62728";

/**
 * The title of one prediction, as the tutorial's grid shows it.
 *
 * @example
 * ```ts
 * predictionTitle(["airplane", "cat"], { pred: 0, label: 1 }); // "Pred: airplane / True: cat"
 * ```
 */
export function predictionTitle(classes: readonly string[], item: { label: number; pred: number }): string {
  return `Pred: ${classes[item.pred] ?? `#${item.pred}`} / True: ${classes[item.label] ?? `#${item.label}`}`;
}

/**
 * {@linkcode CORRECT_COLOR} when the prediction is right, else {@linkcode WRONG_COLOR}.
 *
 * @example
 * ```ts
 * predictionColor({ pred: 2, label: 3 }); // "#d62728"
 * ```
 */
export function predictionColor(item: { label: number; pred: number }): string {
  return item.pred === item.label ? CORRECT_COLOR : WRONG_COLOR;
}

/** Colours of the series of overlaid curves (one per run), in order. */
export const SERIES_COLORS: readonly string[] = [
  "#1f4fd1",
  "#e8710a",
  "#188038",
  "#9334e6",
  "#d01884",
  "#12a4af",
  "#7f7f7f",
  "#b06000",
];

/**
 * The confusion-matrix colour ramp, white to dark blue for a share in [0, 1]; the SVG figure and the
 * dashboard's matrix both use it.
 *
 * @example
 * ```ts
 * heatColor(0); // "#ffffff"
 * ```
 */
export function heatColor(share: number): string {
  const t = Math.max(0, Math.min(1, share));
  const from = [255, 255, 255], to = [8, 48, 107];
  return "#" + from.map((f, i) => Math.round(f + (to[i] - f) * t).toString(16).padStart(2, "0")).join("");
}
