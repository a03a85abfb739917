/**
 * The training's optimizer: tfjs's `MomentumOptimizer` (same slots, same checkpoints), whose update runs as
 * two fused WebGPU dispatches per variable when the registered kernel set has fused training programs (the
 * `cpu` sets of lib/webgpu), and as tfjs's own four kernels otherwise.
 *
 * @example
 * ```ts
 * import { momentumOptimizer } from "./optimizer.ts";
 * const optimizer = momentumOptimizer(1e-3, 0.9);
 * optimizer.setLearningRate(1e-4);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { trainingPrograms } from "../webgpu/mod.ts";

/** The fields of tfjs's MomentumOptimizer the fused update reads (private in its types). */
interface MomentumFields {
  accumulations: { originalName: string; variable: tf.Variable }[];
  m: tf.Scalar;
  c: tf.Scalar;
  useNesterov: boolean;
  incrementIterations(): void;
}

/** tfjs's MomentumOptimizer with the fused update (see the module docs). */
class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(variableGradients: Parameters<tf.MomentumOptimizer["applyGradients"]>[0]): void {
    const self = this as unknown as MomentumFields;
    const programs = trainingPrograms();
    if (!programs || self.useNesterov) return super.applyGradients(variableGradients);
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((item) => item.name)
      : Object.keys(variableGradients);
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      if (self.accumulations[i] == null) {
        self.accumulations[i] = {
          originalName: `${name}/momentum`,
          variable: tf.tidy(() => tf.variable(tf.zerosLike(value), false)),
        };
      }
      const accumulation = self.accumulations[i].variable;
      const gradient = Array.isArray(variableGradients)
        ? variableGradients[i].tensor
        : variableGradients[name];
      if (gradient == null) return;
      tf.tidy(() => {
        const [nextAccumulation, nextValue] = programs.momentumUpdate(value, accumulation, gradient, {
          momentum: self.m,
          negLearningRate: self.c,
        });
        accumulation.assign(nextAccumulation);
        value.assign(nextValue);
      });
    });
    self.incrementIterations();
  }
}

/**
 * A Momentum optimizer (SGD with momentum, no Nesterov), as `tf.train.momentum(learningRate, momentum)`.
 *
 * @example
 * ```ts
 * const optimizer = momentumOptimizer(1e-3, 0.9);
 * ```
 */
export function momentumOptimizer(learningRate: number, momentum: number): tf.MomentumOptimizer {
  return new FusedMomentumOptimizer(learningRate, momentum);
}
