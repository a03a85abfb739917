import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../lib/webgpu/backend.ts";
import { registerKernelSet, unregisterKernelSet } from "../lib/webgpu/kernel_sets.ts";
import { disposeOptimizer, momentumOptimizer } from "../lib/train/mod.ts";

await selectBackend("webgpu", { stage: "test", kernels: "stock" });

/** Three Momentum steps on variables of awkward sizes; the values and slots after each step. */
async function threeSteps(make: () => tf.MomentumOptimizer): Promise<Float32Array[]> {
  const shapes = [[10], [64], [3, 3, 8, 8], []];
  const vars = shapes.map((s, i) => tf.variable(tf.randomUniform(s, -1, 1, "float32", i + 1), true, `w${i}`));
  const optimizer = make();
  const out: Float32Array[] = [];
  try {
    for (let step = 0; step < 3; step++) {
      if (step === 2) optimizer.setLearningRate(0.05);
      const grads = vars.map((v, i) => ({
        name: v.name,
        tensor: tf.randomUniform(v.shape, -1, 1, "float32", 10 * step + i),
      }));
      optimizer.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
      for (const v of vars) out.push(await v.data() as Float32Array);
    }
    const slots = await optimizer.getWeights();
    assert.deepEqual(slots.slice(1).map((s) => s.name), vars.map((v) => `${v.name}/momentum`));
    for (const s of slots.slice(1)) out.push(await s.tensor.data() as Float32Array);
    slots[0].tensor.dispose(); // the iteration count, a fresh scalar
    return out;
  } finally {
    disposeOptimizer(optimizer);
    tf.dispose(vars);
  }
}

Deno.test("the fused Momentum update (cpu set) gives tfjs's values and slots, learning-rate changes included", async () => {
  const before = tf.memory().numTensors;
  const expected = await threeSteps(() => tf.train.momentum(0.1, 0.9));
  const stockLeak = tf.memory().numTensors - before;
  registerKernelSet("cpu");
  try {
    const tensorsBefore = tf.memory().numTensors;
    const actual = await threeSteps(() => momentumOptimizer(0.1, 0.9));
    // live tensors afterwards: as many as with tfjs's own optimizer
    assert.equal(
      tf.memory().numTensors - tensorsBefore,
      stockLeak,
      `the fused update leaks tensors (stock: ${stockLeak})`,
    );
    assert.equal(actual.length, expected.length);
    for (const [i, e] of expected.entries()) {
      const scale = Math.max(1e-6, ...e.map(Math.abs));
      const err = Math.max(0, ...actual[i].map((v, j) => Math.abs(v - e[j])));
      assert.ok(err <= 1e-6 * scale, `array ${i}: max error ${err} against ${scale}`);
    }
  } finally {
    unregisterKernelSet();
  }
});
