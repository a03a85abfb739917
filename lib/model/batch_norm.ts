/**
 * Batch normalization whose moving variance follows the reference frameworks. tfjs-layers updates the moving
 * variance with the batch's biased variance (divided by n); PyTorch (`torch.nn.BatchNorm2d`) and MindSpore
 * (`nn.BatchNorm2d`, the tutorial's framework) update it with the unbiased one, n / (n − 1) times that, where
 * n = batch × height × width is the number of values per channel. The normalization itself (forward and
 * gradients) uses the biased variance in all three and is unchanged here: this layer computes it with the very
 * ops tfjs-layers uses (`tf.moments`, `tf.batchNorm`), so losses at the same weights stay the same.
 *
 * With a kernel set registered that has fused training programs (the `cpu` sets of lib/webgpu), training
 * mode runs {@linkcode batchNormTraining}: the same forward, and the gradient written out as PyTorch writes
 * it, in two fused WebGPU programs. Other sets keep tfjs's autodiff, so that the throughput bench compares
 * each set with its own.
 *
 * The class is registered under tfjs's own name, "BatchNormalization", so a saved model (model.json) loads
 * with this update rule, and code that asks a layer's class name (weight import and export) sees a batch
 * norm as before.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { ReferenceBatchNormalization } from "./batch_norm.ts";
 * const bn = new ReferenceBatchNormalization({ momentum: 0.9, epsilon: 1e-5 });
 * bn.apply(tf.tensor4d([1, 2, 3, 4], [4, 1, 1, 1]), { training: true });
 * (await bn.getWeights()[3].data())[0]; // 0.9 · 1 + 0.1 · 1.6667 (unbiased variance of 1..4)
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { fusedBatchNormGradAvailable, type TrainingPrograms, trainingPrograms } from "../webgpu/mod.ts";

/** The constructor arguments of tfjs-layers' BatchNormalization. */
export type BatchNormArgs = Parameters<typeof tfl.layers.batchNormalization>[0];

// tfjs-layers exports the BatchNormalization class only through its factory; take the class from an instance.
const TfjsBatchNormalization = Object.getPrototypeOf(tfl.layers.batchNormalization({})).constructor as {
  new (args?: BatchNormArgs): tfl.layers.Layer;
};

/** What this layer reads of tfjs-layers' BatchNormalization (its public fields, untyped there). */
interface BatchNormFields {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tfl.LayerVariable | null;
  beta: tfl.LayerVariable | null;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/**
 * The Bessel factor n / (n − 1) that turns the biased variance of n values into the unbiased one (1 for n ≤ 1,
 * where PyTorch would divide by zero and this layer keeps the biased value).
 *
 * @example
 * ```ts
 * besselFactor(4); // 1.3333333333333333
 * ```
 */
export function besselFactor(n: number): number {
  return n > 1 ? n / (n - 1) : 1;
}

/** Batch normalization with PyTorch's and MindSpore's moving-variance update (see the module docs). */
export class ReferenceBatchNormalization extends TfjsBatchNormalization {
  /** The serialization name: tfjs's own, so saved models load with this class. */
  static className = "BatchNormalization";

  /** Inference uses the moving statistics (as tfjs); training normalizes by the batch and updates them. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    if (!kwargs?.training) return super.call(inputs, kwargs);
    const self = this as unknown as BatchNormFields;
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const axis = self.axis >= 0 ? self.axis : self.axis + x.rank;
      const reduce = [...Array(x.rank).keys()].filter((a) => a !== axis);
      if (axis !== x.rank - 1) throw new Error("ReferenceBatchNormalization supports channels-last only");
      const n = reduce.reduce((p, a) => p * x.shape[a], 1);
      const decay = 1 - self.momentum;
      const programs = trainingPrograms();
      const update = (variable: tfl.LayerVariable, value: tf.Tensor, scale: number) => {
        const old = variable.read();
        variable.write(
          programs?.movingAverage
            ? programs.movingAverage(old, value, { decay, scale })
            : tf.sub(old, tf.mul(tf.sub(old, scale === 1 ? value : tf.mul(value, scale)), decay)),
        );
      };
      const updateMoving = (mean: tf.Tensor, variance: tf.Tensor) => {
        update(self.movingMean, mean, 1);
        update(self.movingVariance, variance, besselFactor(n));
      };
      // the written-out gradient belongs to the sets with fused programs: stock and gpu keep tfjs's autodiff
      if (self.gamma && self.beta && programs) {
        return batchNormTraining(x, self.gamma.read(), self.beta.read(), {
          epsilon: self.epsilon,
          onMoments: updateMoving,
          programs,
        });
      }
      const { mean, variance } = tf.moments(x, reduce);
      const normed = tf.batchNorm(x, mean, variance, self.beta?.read(), self.gamma?.read(), self.epsilon);
      updateMoving(mean, variance);
      return normed;
    });
  }
}

/**
 * Training-mode batch norm of channels-last `x` over every axis but the last, with the gradient written out
 * as PyTorch writes it (`native_batch_norm_backward`) instead of tfjs's autodiff through `tf.moments` and
 * `tf.batchNorm`:
 *
 *   x̂ = (x − μ)·σ⁻¹, dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·σ⁻¹·(dy − dβ/n − x̂·dγ/n)
 *
 * The forward is the very ops of before (`tf.moments`, then `tf.batchNorm`), so outputs and losses are the
 * same bits. The gradient is the same function; autodiff reached it through about twice as many full-size
 * elementwise passes (the gradients of the mean, the square and the subtraction inside the moments, each
 * over the whole activation), which on llvmpipe cost more than the convolutions' gradients. `onMoments`
 * receives the batch mean and biased variance (for the moving statistics); `programs` are the two fused
 * passes (lib/webgpu), used where they apply, else the gradient runs as tfjs ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const x = tf.randomNormal([4, 2, 2, 8]);
 * const y = batchNormTraining(x, tf.ones([8]), tf.zeros([8]), { epsilon: 1e-5 });
 * const loss = (t: tf.Tensor) => tf.sum(tf.square(batchNormTraining(t, tf.ones([8]), tf.zeros([8]), { epsilon: 1e-5 })));
 * const dx = tf.grad(loss)(x);
 * ```
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  options: {
    epsilon: number;
    onMoments?: (mean: tf.Tensor, variance: tf.Tensor) => void;
    programs?: Pick<TrainingPrograms, "moments" | "batchNormGradients"> | null;
  },
): tf.Tensor {
  const reduce = [...Array(x.rank - 1).keys()];
  const n = reduce.reduce((p, a) => p * x.shape[a], 1);
  const f = tf.customGrad((x, gamma, beta, save) => {
    const { mean, variance } = options.programs?.moments
      ? options.programs.moments(x as tf.Tensor)
      : tf.moments(x as tf.Tensor, reduce);
    options.onMoments?.(mean, variance);
    (save as tf.GradSaveFunc)([x as tf.Tensor, mean, variance, gamma as tf.Tensor]);
    const value = tf.batchNorm(
      x as tf.Tensor,
      mean,
      variance,
      beta as tf.Tensor,
      gamma as tf.Tensor,
      options.epsilon,
    );
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [x, mean, variance, gamma] = saved;
      const dbeta = tf.sum(dy, reduce);
      const programs = options.programs;
      if (programs && fusedBatchNormGradAvailable(x)) {
        // the two full-size passes as one WebGPU program each, their per-channel values inside them
        const { epsilon } = options;
        const { dgamma, dx } = programs.batchNormGradients(dy, x, {
          mean,
          variance,
          gamma,
          epsilon,
          dbeta,
          n,
        });
        return [dx, dgamma, dbeta];
      }
      const rstd = tf.rsqrt(tf.add(variance, options.epsilon));
      const xhat = tf.mul(tf.sub(x, mean), rstd);
      const dgamma = tf.sum(tf.mul(dy, xhat), reduce);
      const centered = tf.sub(tf.sub(dy, tf.div(dbeta, n)), tf.mul(xhat, tf.div(dgamma, n)));
      return [tf.mul(centered, tf.mul(gamma, rstd)), dgamma, dbeta];
    };
    return { value, gradFunc };
  });
  return f(x, gamma, beta);
}
// The class inherits Layer's static fromConfig, which the constructor type above does not spell out.
tf.serialization.registerClass(
  ReferenceBatchNormalization as unknown as tf.serialization.SerializableConstructor<
    tf.serialization.Serializable
  >,
);
