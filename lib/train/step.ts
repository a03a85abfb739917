/**
 * The training step, as in airbench: forward in training mode, mean softmax cross-entropy, gradients,
 * Momentum update, one loss value read back.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { buildResNet } from "../model/mod.ts";
 * import { syntheticBatch } from "../data/mod.ts";
 * import { createTrainStep, disposeOptimizer } from "./step.ts";
 * const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
 * const optimizer = tf.train.momentum(1e-3, 0.9);
 * const step = createTrainStep(model, optimizer, 10);
 * console.log(await step(syntheticBatch(4, 1)));
 * disposeOptimizer(optimizer);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Batch } from "../data/mod.ts";
import { inputShapeOf } from "../model/mod.ts";

/**
 * One training step: forward in training mode (batch norm on batch statistics, moving statistics updated),
 * mean sparse softmax cross-entropy, gradients, Momentum update. Returns the batch's loss. Every tensor it
 * makes is disposed; the optimizer's slots follow `model.trainableWeights` order (checkpoints rely on it).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { buildResNet } from "../model/mod.ts";
 * import { syntheticBatch } from "../data/mod.ts";
 * const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
 * const batch = syntheticBatch(4, 1);
 * const step = createTrainStep(model, tf.train.momentum(1e-3, 0.9), 10);
 * const loss = await step(batch);
 * ```
 */
export function createTrainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  numClasses: number,
): (batch: Batch) => Promise<number> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const [h, w, c] = inputShapeOf(model);
  return async (batch) => {
    if (batch.x.length !== batch.size * h * w * c || batch.y.length !== batch.size) {
      throw new Error(`batch of ${batch.size} has ${batch.x.length} pixels and ${batch.y.length} labels`);
    }
    const x = tf.tensor4d(batch.x, [batch.size, h, w, c]);
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(batch.y, "int32"), numClasses), "float32"));
    try {
      const loss = optimizer.minimize(
        () => {
          const logits = model.apply(x, { training: true }) as tf.Tensor;
          return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        },
        true,
        vars,
      )!;
      try {
        return (await loss.data())[0];
      } finally {
        loss.dispose();
      }
    } finally {
      tf.dispose([x, y]);
    }
  };
}

/**
 * Dispose an optimizer whole. tfjs's `MomentumOptimizer.dispose()` forgets the learning-rate scalar its
 * parent class keeps (one tensor leaked per optimizer), so dispose that too.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * disposeOptimizer(tf.train.momentum(1e-3, 0.9));
 * ```
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  const c = (optimizer as unknown as { c?: tf.Tensor }).c;
  optimizer.dispose();
  if (c && !c.isDisposed) c.dispose();
}
