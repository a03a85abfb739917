import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { batchNormTraining, besselFactor, ReferenceBatchNormalization } from "../lib/model/batch_norm.ts";
import { buildResNet } from "../lib/model/resnet.ts";
import { loadModel, saveCheckpoint } from "../lib/model/checkpoint.ts";
import { seededRandom } from "./fixtures/make_run.ts";

await tf.setBackend("cpu");

/** Per-channel mean and biased variance of NHWC values, in float64. */
function channelMoments(values: Float32Array, channels: number): { mean: number[]; variance: number[] } {
  const n = values.length / channels;
  const mean = new Array(channels).fill(0), variance = new Array(channels).fill(0);
  for (let i = 0; i < values.length; i++) mean[i % channels] += values[i] / n;
  for (let i = 0; i < values.length; i++) variance[i % channels] += (values[i] - mean[i % channels]) ** 2 / n;
  return { mean, variance };
}

Deno.test("batch norm: the moving variance follows PyTorch/MindSpore (unbiased), the output tfjs (biased)", async () => {
  const [b, h, w, c] = [4, 3, 3, 5];
  const random = seededRandom(3);
  const values = Float32Array.from({ length: b * h * w * c }, () => random() * 4 - 1);
  const x = tf.tensor4d(values, [b, h, w, c]);
  const momentum = 0.9, epsilon = 1e-5;
  const ours = new ReferenceBatchNormalization({ momentum, epsilon });
  const stock = tfl.layers.batchNormalization({ momentum, epsilon });
  const yOurs = ours.apply(x, { training: true }) as tf.Tensor;
  const yStock = stock.apply(x, { training: true }) as tf.Tensor;

  const n = b * h * w;
  const { mean, variance } = channelMoments(values, c);
  const [, , movingMean, movingVar] = await Promise.all(ours.getWeights().map((t) => t.data()));
  const [, , stockMean, stockVar] = await Promise.all(stock.getWeights().map((t) => t.data()));
  for (let ch = 0; ch < c; ch++) {
    // PyTorch: running = (1 − 0.1) · running + 0.1 · batch, with the variance times n / (n − 1); start 0 and 1.
    const wantMean = momentum * 0 + (1 - momentum) * mean[ch];
    const wantVar = momentum * 1 + (1 - momentum) * variance[ch] * n / (n - 1);
    assert.ok(Math.abs(movingMean[ch] - wantMean) < 1e-6, `moving mean ${ch}`);
    assert.ok(
      Math.abs(movingVar[ch] - wantVar) < 1e-6,
      `moving variance ${ch}: ${movingVar[ch]} vs ${wantVar}`,
    );
    assert.ok(Math.abs(stockMean[ch] - wantMean) < 1e-6);
    // tfjs-layers' own rule differs by exactly the Bessel factor: the test tells the two apart.
    const stockWant = momentum * 1 + (1 - momentum) * variance[ch];
    assert.ok(Math.abs(stockVar[ch] - stockWant) < 1e-6);
    assert.ok(Math.abs(movingVar[ch] - stockVar[ch]) > 1e-3);
  }
  // The training output normalizes with the biased batch variance, exactly as tfjs-layers does.
  assert.deepEqual(await yOurs.data(), await yStock.data());
  tf.dispose([x, yOurs, yStock]);
  assert.equal(besselFactor(1), 1);
  assert.equal(besselFactor(36), 36 / 35);
});

Deno.test("batch norm: the ResNet builder uses it, and a saved model loads back with it", async () => {
  const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
  const bns = model.layers.filter((l) => l.getClassName() === "BatchNormalization");
  assert.ok(bns.length > 0);
  assert.ok(bns.every((l) => l instanceof ReferenceBatchNormalization));
  const dir = await Deno.makeTempDir({ prefix: "bn-ckpt-" });
  try {
    await saveCheckpoint(`${dir}/ckpt`, model);
    const loaded = await loadModel(`${dir}/ckpt`);
    const loadedBns = loaded.layers.filter((l) => l.getClassName() === "BatchNormalization");
    assert.equal(loadedBns.length, bns.length);
    assert.ok(loadedBns.every((l) => l instanceof ReferenceBatchNormalization));
    loaded.dispose();
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("batch norm: the written-out gradient (PyTorch's formula) matches autodiff through the moments", () => {
  const [b, h, w, c] = [3, 4, 4, 8];
  const random = seededRandom(7);
  const x = tf.tensor4d(Float32Array.from({ length: b * h * w * c }, () => random() * 3 - 1), [b, h, w, c]);
  const gamma = tf.tensor1d(Float32Array.from({ length: c }, () => random() + 0.5));
  const beta = tf.tensor1d(Float32Array.from({ length: c }, () => random() - 0.5));
  // a loss that weighs every output differently, so that no gradient term cancels
  const weights = tf.tensor4d(Float32Array.from({ length: b * h * w * c }, () => random() * 2 - 1), [
    b,
    h,
    w,
    c,
  ]);
  const epsilon = 1e-3;
  const autodiff = (x: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, bt, g, epsilon), weights));
  };
  const written = (x: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) =>
    tf.sum(tf.mul(batchNormTraining(x, g, bt, { epsilon }), weights));
  const expected = tf.grads(autodiff)([x, gamma, beta]);
  const actual = tf.grads(written)([x, gamma, beta]);
  // the forward is the same ops: the same bits
  assert.deepEqual(written(x, gamma, beta).dataSync(), autodiff(x, gamma, beta).dataSync());
  for (const [i, name] of ["x", "gamma", "beta"].entries()) {
    const e = expected[i].dataSync(), a = actual[i].dataSync();
    const scale = Math.max(...e.map(Math.abs));
    const err = Math.max(...a.map((v, j) => Math.abs(v - e[j])));
    assert.ok(err <= 1e-5 * scale, `d${name}: max error ${err} against a largest value ${scale}`);
  }
  // the moments handed to onMoments are the batch's
  let seen: number[] = [];
  tf.tidy(() =>
    batchNormTraining(x, gamma, beta, { epsilon, onMoments: (m) => void (seen = [...m.dataSync()]) })
  );
  const { mean } = channelMoments(x.dataSync() as Float32Array, c);
  seen.forEach((m, i) => assert.ok(Math.abs(m - mean[i]) < 1e-5, `mean of channel ${i}`));
  tf.dispose([x, gamma, beta, weights, ...expected, ...actual]);
});
