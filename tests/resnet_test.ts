import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { selectBackend } from "../lib/webgpu/backend.ts";
import {
  BN_EPSILON,
  BN_MOMENTUM,
  buildResNet,
  countTrainableParams,
  layerSeed,
  namedWeights,
  RESNET_SPECS,
} from "../lib/model/resnet.ts";

// Shape and initializer checks need no GPU; the cpu backend keeps them fast and free of shader compiles.
await selectBackend("cpu");

function stats(values: Float32Array) {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

function withModel(model: tfl.LayersModel, fn: (model: tfl.LayersModel) => void | Promise<void>) {
  return (async () => {
    try {
      await fn(model);
    } finally {
      model.dispose();
    }
  })();
}

Deno.test("ResNet18 at width 16 has the PyTorch peer's 703,386 trainable parameters", async () => {
  // tools/torch_recipe.py --arch resnet18 --width 16 counts the same network
  await withModel(buildResNet("resnet18", { numClasses: 10, seed: 1, width: 16 }), (model) => {
    assert.equal(countTrainableParams(model), 703_386);
    assert.deepEqual(model.getLayer("conv1").getWeights()[0].shape, [7, 7, 3, 16]);
    assert.deepEqual(model.getLayer("fc").getWeights()[0].shape, [128, 10]);
  });
});

Deno.test("ResNet50 with a 10-class head has torchvision's 23,528,522 trainable parameters", async () => {
  await withModel(buildResNet("resnet50", { numClasses: 10, seed: 1 }), async (model) => {
    assert.equal(countTrainableParams(model), 23_528_522);
    // 53 convs, 53 BNs (each with moving mean and variance), and the head
    const convs = model.layers.filter((l) => l.getClassName() === "Conv2D");
    const bns = model.layers.filter((l) => l.getClassName() === "BatchNormalization");
    assert.equal(convs.length, 53);
    assert.equal(bns.length, 53);
    assert.equal(model.weights.length, 53 + 53 * 4 + 2);

    // the initializers: conv weights N(0, 0.02), down-sample gamma N(1, 0.02), other gammas 1, convs without bias
    const weights = namedWeights(model);
    const kernel = stats(await weights.get("layer3.0.conv2/kernel")!.data() as Float32Array);
    assert.ok(Math.abs(kernel.mean) < 1e-3, `conv mean ${kernel.mean}`);
    assert.ok(Math.abs(kernel.std - 0.02) < 5e-4, `conv std ${kernel.std}`);
    const gammaDown = stats(await weights.get("layer4.0.down_sample.1/gamma")!.data() as Float32Array);
    assert.ok(Math.abs(gammaDown.mean - 1) < 3e-3, `down-sample gamma mean ${gammaDown.mean}`);
    assert.ok(Math.abs(gammaDown.std - 0.02) < 3e-3, `down-sample gamma std ${gammaDown.std}`);
    const gamma = await weights.get("layer4.0.norm1/gamma")!.data();
    assert.ok(gamma.every((v) => v === 1));
    assert.ok(convs.every((l) => l.weights.length === 1), "convs have no bias");
    const bnConfig = bns[0].getConfig();
    assert.equal(bnConfig.epsilon, BN_EPSILON);
    assert.equal(bnConfig.momentum, BN_MOMENTUM);

    const y = tf.tidy(() => model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor);
    assert.deepEqual(y.shape, [2, 10]);
    y.dispose();
    assert.deepEqual(model.getLayer("layer4.2.relu").outputShape, [null, 1, 1, 2048]);
    assert.deepEqual(model.getLayer("max_pool").outputShape, [null, 8, 8, 64]);
  });
});

Deno.test("layers are named after their place in the tutorial's MindSpore ResNet", async () => {
  await withModel(buildResNet("resnet50", { numClasses: 10, seed: 1 }), (model) => {
    const names = new Set(model.layers.map((l) => l.name));
    const expected = [
      "conv1",
      "norm",
      "max_pool",
      "layer1.0.conv1",
      "layer1.0.norm1",
      "layer1.0.conv2",
      "layer1.0.norm2",
      "layer1.0.conv3",
      "layer1.0.norm3",
      "layer1.0.down_sample.0",
      "layer1.0.down_sample.1",
      "layer2.3.conv3",
      "layer3.5.norm2",
      "layer4.0.down_sample.0",
      "layer4.2.norm3",
      "avg_pool",
      "fc",
    ];
    for (const name of expected) assert.ok(names.has(name), `missing layer ${name}`);
    for (const name of ["layer1.1.down_sample.0", "layer3.6.conv1", "layer4.3.conv1"]) {
      assert.ok(!names.has(name), `unexpected layer ${name}`);
    }
    const weightNames = model.weights.map((w) => w.originalName);
    assert.deepEqual(weightNames.slice(0, 3), ["conv1/kernel", "norm/gamma", "norm/beta"]);
    for (
      const name of ["norm/moving_mean", "layer1.0.down_sample.1/moving_variance", "fc/kernel", "fc/bias"]
    ) {
      assert.ok(weightNames.includes(name), name);
    }
    assert.deepEqual(model.trainableWeights.slice(-2).map((w) => w.originalName), ["fc/kernel", "fc/bias"]);
    // the stride sits on the bottleneck's 3×3 conv (v1.5)
    assert.deepEqual((model.getLayer("layer2.0.conv1").getConfig() as { strides: number[] }).strides, [1, 1]);
    assert.deepEqual((model.getLayer("layer2.0.conv2").getConfig() as { strides: number[] }).strides, [2, 2]);
  });
});

Deno.test("Building Block families match torchvision's parameter counts", async () => {
  await withModel(buildResNet("resnet18", { numClasses: 10, seed: 1 }), (model) => {
    assert.equal(countTrainableParams(model), 11_181_642);
    assert.ok(model.layers.some((l) => l.name === "layer2.0.down_sample.0"));
    assert.ok(
      !model.layers.some((l) => l.name === "layer1.0.down_sample.0"),
      "no projection where shapes agree",
    );
  });
  await withModel(buildResNet("resnet34", { numClasses: 10, seed: 1 }), (model) => {
    assert.equal(countTrainableParams(model), 21_289_802);
  });
});

Deno.test("the same seed gives the same network; another seed, another one", async () => {
  const a = buildResNet("tiny", { numClasses: 10, seed: 5 });
  const b = buildResNet("tiny", { numClasses: 10, seed: 5 });
  const c = buildResNet("tiny", { numClasses: 10, seed: 6 });
  try {
    assert.equal(RESNET_SPECS.tiny.block, "bottleneck");
    const wa = namedWeights(a), wb = namedWeights(b), wc = namedWeights(c);
    for (const [name, t] of wa) {
      assert.deepEqual(await t.data(), await wb.get(name)!.data(), name);
    }
    assert.notDeepEqual(await wa.get("conv1/kernel")!.data(), await wc.get("conv1/kernel")!.data());
    // each layer draws its own stream
    assert.notDeepEqual(
      (await wa.get("layer1.0.conv1/kernel")!.data()).slice(0, 8),
      (await wa.get("layer2.0.conv1/kernel")!.data()).slice(0, 8),
    );
    assert.notEqual(layerSeed(1, "conv1/kernel"), layerSeed(2, "conv1/kernel"));
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

Deno.test("padding 'torch' pads stride-2 windows symmetrically, as PyTorch does", () => {
  const torch = buildResNet("tiny", { numClasses: 10, seed: 3, padding: "torch" });
  const same = buildResNet("tiny", { numClasses: 10, seed: 3 });
  try {
    const names = torch.layers.map((l) => l.name);
    for (const pad of ["conv1.pad", "max_pool.pad", "layer2.0.conv2.pad"]) {
      assert.ok(names.includes(pad), pad);
    }
    assert.ok(!names.includes("layer1.0.conv2.pad"), "stride-1 convs keep 'same'");
    assert.ok(!same.layers.some((l) => l.name.endsWith(".pad")));
    // same weights under the same names: a torch-padded model can load a 'same' model's weights
    assert.deepEqual(
      torch.weights.map((w) => w.originalName),
      same.weights.map((w) => w.originalName),
    );
    assert.equal(countTrainableParams(torch), countTrainableParams(same));

    // the stem conv equals conv2d over an input zero-padded by 3 on every side
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, "float32", 11);
    const kernel = namedWeights(torch).get("conv1/kernel")!;
    const stem = tf.tidy(() =>
      tf.conv2d(tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]]) as tf.Tensor4D, kernel as tf.Tensor4D, 2, "valid")
    );
    const probe = tfl.model({
      inputs: torch.inputs,
      outputs: torch.getLayer("conv1").output as tfl.SymbolicTensor,
    });
    const out = probe.predict(x) as tf.Tensor;
    assert.deepEqual(out.shape, [1, 16, 16, 8]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(out, stem))).dataSync()[0]);
    assert.ok(diff < 1e-6, `stem differs by ${diff}`);
    tf.dispose([x, stem, out]);

    const logits = tf.tidy(() => torch.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor);
    assert.deepEqual(logits.shape, [1, 10]);
    logits.dispose();
  } finally {
    torch.dispose();
    same.dispose();
  }
});
