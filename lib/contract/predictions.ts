/**
 * `evaluate/predictions.json`: every test image's prediction. The evaluate stage writes a
 * {@linkcode PredictionsJson} (with each image's class probabilities); {@linkcode parsePredictions} reads it
 * back as {@linkcode Predictions}, without the probabilities, which nothing downstream needs.
 *
 * @example
 * ```ts
 * import { parsePredictions } from "./predictions.ts";
 * const parsed = parsePredictions(JSON.parse(await Deno.readTextFile("runs/a/evaluate/predictions.json")));
 * if (parsed.ok) console.log(parsed.value.items.length);
 * ```
 * @module
 */
import { classList, count, finite, isObject, type Parsed } from "./parsed.ts";

/** One test image's prediction, with the probability of every class. */
export interface ScoredPrediction {
  /** Index of the image in `decode/test_images.u8`. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  pred: number;
  /** Probability the model gave its predicted class (0..1). */
  confidence: number;
  /** Probability of each class. */
  probs: number[];
}

/** `evaluate/predictions.json`, as the evaluate stage writes it. */
export interface PredictionsJson {
  classes: string[];
  items: ScoredPrediction[];
}

/** One test image's prediction, as readers see it. */
export type PredictionItem = Omit<ScoredPrediction, "probs">;

/** `evaluate/predictions.json` as readers see it: the per-class `probs` are dropped. */
export interface Predictions {
  classes: PredictionsJson["classes"];
  items: PredictionItem[];
}

/**
 * Parse `evaluate/predictions.json`. Malformed items are skipped and counted in the notes.
 *
 * @example
 * ```ts
 * parsePredictions({ classes: ["a", "b"], items: [{ index: 0, label: 1, pred: 1, confidence: 0.9 }] }).ok;
 * ```
 */
export function parsePredictions(json: unknown): Parsed<Predictions> {
  if (!isObject(json)) return { ok: false, problem: "predictions.json is not a JSON object" };
  const classes = classList(json.classes);
  if (!classes) return { ok: false, problem: "predictions.json has no list of class names" };
  if (!Array.isArray(json.items)) return { ok: false, problem: "predictions.json has no list of items" };
  const k = classes.length;
  const items: PredictionItem[] = [];
  for (const item of json.items) {
    if (!isObject(item)) continue;
    const index = count(item.index), label = count(item.label), pred = count(item.pred);
    let confidence = finite(item.confidence);
    if (confidence === null && Array.isArray(item.probs) && pred !== null) {
      confidence = finite(item.probs[pred]);
    }
    if (index === null || label === null || pred === null || label >= k || pred >= k) continue;
    items.push({ index, label, pred, confidence: confidence ?? 0 });
  }
  const dropped = json.items.length - items.length;
  return {
    ok: true,
    value: { classes, items },
    notes: dropped > 0 ? [`predictions.json: ${dropped} malformed items skipped`] : [],
  };
}
