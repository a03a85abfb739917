/**
 * `evaluate/evaluation.json`: the best checkpoint's accuracy on the test split, per class and as a confusion
 * matrix. The evaluate stage writes an {@linkcode EvaluationJson}; {@linkcode parseEvaluation} reads it back
 * as an {@linkcode Evaluation}.
 *
 * @example
 * ```ts
 * import { parseEvaluation } from "./evaluation.ts";
 * const parsed = parseEvaluation(JSON.parse(await Deno.readTextFile("runs/a/evaluate/evaluation.json")));
 * if (parsed.ok) console.log(parsed.value.accuracy);
 * ```
 * @module
 */
import { classList, count, finite, isObject, type Parsed, text } from "./parsed.ts";

/** One row of `evaluation.json`'s `perClass`. */
export interface ClassAccuracy {
  /** Class name. */
  class: string;
  accuracy: number;
  count: number;
}

/** `evaluate/evaluation.json`, as the evaluate stage writes it. */
export interface EvaluationJson {
  accuracy: number;
  /** Test images scored. */
  count: number;
  /** Of them, predicted right. */
  correct: number;
  classes: string[];
  /** Run-folder path of the checkpoint scored. */
  checkpoint: string;
  perClass: ClassAccuracy[];
  /** `confusion[trueClass][predictedClass]` = count. */
  confusion: number[][];
}

/** `evaluate/evaluation.json` as readers see it: the checkpoint may be unnamed (null). */
export type Evaluation = Omit<EvaluationJson, "checkpoint"> & { checkpoint: string | null };

/**
 * Parse `evaluate/evaluation.json`. The confusion matrix must be square over the classes; per-class rows
 * may name their class or give its index. What is missing is derived from the matrix.
 *
 * @example
 * ```ts
 * parseEvaluation({ accuracy: 1, count: 1, classes: ["a"], perClass: [], confusion: [[1]] }).ok; // true
 * ```
 */
export function parseEvaluation(json: unknown): Parsed<Evaluation> {
  if (!isObject(json)) return { ok: false, problem: "evaluation.json is not a JSON object" };
  const classes = classList(json.classes);
  if (!classes) return { ok: false, problem: "evaluation.json has no list of class names" };
  const k = classes.length;
  const confusion = json.confusion;
  if (
    !Array.isArray(confusion) || confusion.length !== k ||
    !confusion.every((row) => Array.isArray(row) && row.length === k && row.every((c) => count(c) !== null))
  ) {
    return { ok: false, problem: `evaluation.json: confusion must be a ${k}×${k} matrix of counts` };
  }
  const matrix = confusion as number[][];
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, row, i) => a + row[i], 0);
  const notes: string[] = [];
  const perClass: ClassAccuracy[] = [];
  const rows = Array.isArray(json.perClass) ? json.perClass : [];
  for (const row of rows) {
    if (!isObject(row)) continue;
    const name = typeof row.class === "number" ? classes[row.class] : text(row.class);
    const acc = finite(row.accuracy), n = count(row.count);
    if (name !== undefined && name !== null && acc !== null && n !== null) {
      perClass.push({ class: name, accuracy: acc, count: n });
    }
  }
  if (perClass.length !== k) {
    // Derive from the matrix rather than show a partial table.
    if (rows.length > 0) {
      notes.push("evaluation.json: perClass was incomplete; derived from the confusion matrix");
    }
    perClass.length = 0;
    matrix.forEach((row, i) => {
      const n = row.reduce((a, b) => a + b, 0);
      perClass.push({ class: classes[i], accuracy: n > 0 ? row[i] / n : 0, count: n });
    });
  }
  const accuracy = finite(json.accuracy) ?? (total > 0 ? correct / total : 0);
  return {
    ok: true,
    value: {
      accuracy,
      count: count(json.count) ?? total,
      correct: count(json.correct) ?? correct,
      classes,
      checkpoint: text(json.checkpoint),
      perClass,
      confusion: matrix,
    },
    notes,
  };
}
