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

/**
 * A round axis range that holds every value: padded by a tenth of their span (at least `minSpan`), widened to
 * multiples of a 1-2-2.5-5 step, and clamped. Used for the accuracy axis (so 6 % against 10 % is not a
 * flat line at the bottom of 0–100 %) and the loss axis (so no step loss falls below it), in the SVG
 * figure and the dashboard's charts alike.
 *
 * @example
 * ```ts
 * niceDomain([0.06, 0.1], { clamp: [0, 1], minSpan: 0.04 }); // [0.05, 0.11]
 * niceDomain([], { clamp: [0, 1] }); // [0, 1]
 * ```
 */
export function niceDomain(
  values: readonly number[],
  options: { clamp?: [number, number]; minSpan?: number } = {},
): [number, number] {
  const [cmin, cmax] = options.clamp ?? [-Infinity, Infinity];
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [Number.isFinite(cmin) ? cmin : 0, Number.isFinite(cmax) ? cmax : 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  const span = Math.max(hi - lo, options.minSpan ?? 0) || Math.abs(hi) * 0.1 || 1;
  const mid = (lo + hi) / 2;
  lo = Math.min(lo, mid - span / 2) - span * 0.1;
  hi = Math.max(hi, mid + span / 2) + span * 0.1;
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const round = (v: number) => Number(v.toPrecision(12));
  lo = Math.max(cmin, round(Math.floor(lo / step) * step));
  hi = Math.min(cmax, round(Math.ceil(hi / step) * step));
  return hi > lo ? [lo, hi] : [lo, lo + step];
}

/**
 * An accuracy tick as a percentage with as many decimals as the tick spacing needs ("6%", "6.5%").
 *
 * @example
 * ```ts
 * formatAccuracyTick(0.065, 0.005); // "6.5%"
 * ```
 */
export function formatAccuracyTick(value: number, spacing: number): string {
  const decimals = Math.max(0, Math.min(2, -Math.floor(Math.log10(spacing * 100 || 1))));
  return `${(value * 100).toFixed(decimals)}%`;
}
