/**
 * Run a classifier over labelled batches in inference mode (batch norm uses its moving statistics) and
 * count what it got right: accuracy, per-class accuracy, the confusion matrix and, if asked, every image's
 * predicted class and probabilities.
 *
 * @example
 * ```ts
 * import type * as tfl from "@tensorflow/tfjs-layers";
 * import { type SplitData, testBatches } from "../data/mod.ts";
 * declare const model: tfl.LayersModel;
 * declare const data: SplitData;
 * const options = { batchSize: 256, mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] };
 * import { evaluateBatches } from "./predict.ts";
 * const result = await evaluateBatches(model, testBatches(data, options), { numClasses: 10 });
 * console.log(result.accuracy, result.confusion[3][5]); // cats taken for dogs
 * ```
 * @module
 */
import type { Batch } from "../data/mod.ts";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/** One image's prediction. */
export interface Prediction {
  /** Index of the image in its split. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class (the first of equal maxima). */
  pred: number;
  /** Softmax probability of the predicted class. */
  confidence: number;
  /** Softmax probabilities of every class. */
  probs: number[];
}

/** What {@linkcode evaluateBatches} counted. */
export interface EvaluationResult {
  /** Images seen. */
  count: number;
  /** Images predicted right. */
  correct: number;
  /** correct / count (0 when count is 0). */
  accuracy: number;
  /** `confusion[true][pred]` = images. */
  confusion: number[][];
  /** Per true class: images, right ones, and their ratio. */
  perClass: { count: number; correct: number; accuracy: number }[];
  /** Every image's prediction, in the order seen (only with `keepPredictions`). */
  predictions: Prediction[];
}

/** Options of {@linkcode evaluateBatches}. */
export interface EvaluateOptions {
  /** Classes of the head. */
  numClasses: number;
  /** Keep each image's prediction and probabilities. */
  keepPredictions?: boolean;
  /** Called after each batch with the images seen so far. */
  onBatch?: (seen: number) => void;
}

/**
 * Evaluate `model` on every batch of `batches`, in inference mode.
 *
 * @example
 * ```ts
 * import type * as tfl from "@tensorflow/tfjs-layers";
 * import type { Batch } from "../data/mod.ts";
 * declare const model: tfl.LayersModel;
 * declare const batches: ReadableStream<Batch>;
 * const { accuracy, perClass } = await evaluateBatches(model, batches, { numClasses: 10, keepPredictions: true });
 * ```
 */
export async function evaluateBatches(
  model: tfl.LayersModel,
  batches: ReadableStream<Batch> | AsyncIterable<Batch>,
  options: EvaluateOptions,
): Promise<EvaluationResult> {
  const k = options.numClasses;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const predictions: Prediction[] = [];
  const [h, w, c] = inputShapeOf(model);
  let count = 0;
  for await (const batch of batches as AsyncIterable<Batch>) {
    if (batch.size === 0) continue;
    const probsT = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, h, w, c]);
      return tf.softmax(model.predict(x) as tf.Tensor);
    });
    let probs: Float32Array;
    try {
      probs = await probsT.data() as Float32Array;
    } finally {
      probsT.dispose();
    }
    for (let i = 0; i < batch.size; i++) {
      const row = probs.subarray(i * k, (i + 1) * k);
      let pred = 0;
      for (let j = 1; j < k; j++) if (row[j] > row[pred]) pred = j;
      const label = batch.y[i];
      if (label < 0 || label >= k) {
        throw new RangeError(`label ${label} of image ${batch.indices[i]} is not < ${k}`);
      }
      confusion[label][pred]++;
      if (options.keepPredictions) {
        predictions.push({
          index: batch.indices[i],
          label,
          pred,
          confidence: row[pred],
          probs: Array.from(row),
        });
      }
    }
    count += batch.size;
    options.onBatch?.(count);
  }
  return { ...summarizeConfusion(confusion), predictions };
}

/**
 * Count, accuracy and per-class accuracy from a confusion matrix (`confusion[true][pred]`).
 *
 * @example
 * ```ts
 * summarizeConfusion([[3, 1], [0, 4]]).accuracy; // 0.875
 * ```
 */
export function summarizeConfusion(confusion: number[][]): Omit<EvaluationResult, "predictions"> {
  const perClass = confusion.map((row, i) => {
    const n = row.reduce((a, b) => a + b, 0);
    return { count: n, correct: row[i], accuracy: n > 0 ? row[i] / n : 0 };
  });
  const count = perClass.reduce((a, p) => a + p.count, 0);
  const correct = perClass.reduce((a, p) => a + p.correct, 0);
  return { count, correct, accuracy: count > 0 ? correct / count : 0, confusion, perClass };
}

/**
 * The evaluation of a list of predictions (e.g. ones saved with a checkpoint): the same result
 * {@linkcode evaluateBatches} gives for the batches that produced them.
 *
 * @example
 * ```ts
 * const r = evaluatePredictions([{ index: 0, label: 1, pred: 1, confidence: 0.9, probs: [0.1, 0.9] }], 2);
 * r.accuracy; // 1
 * ```
 */
export function evaluatePredictions(predictions: Prediction[], numClasses: number): EvaluationResult {
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (const p of predictions) {
    if (!(p.label >= 0 && p.label < numClasses && p.pred >= 0 && p.pred < numClasses)) {
      throw new RangeError(
        `prediction of image ${p.index} has label ${p.label}, pred ${p.pred}: not < ${numClasses}`,
      );
    }
    confusion[p.label][p.pred]++;
  }
  return { ...summarizeConfusion(confusion), predictions };
}

/** The model's input image shape [H, W, C]. */
export function inputShapeOf(model: tfl.LayersModel): [number, number, number] {
  const shape = model.inputs[0].shape;
  const [h, w, c] = shape.slice(1);
  if (shape.length !== 4 || !h || !w || !c) {
    throw new Error(`expected an NHWC image model, got input [${shape}]`);
  }
  return [h, w, c];
}
