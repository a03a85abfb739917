import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { buildResNet } from "../lib/model/resnet.ts";
import { createTrainStep, disposeOptimizer } from "../lib/train/mod.ts";
import {
  activeKernelSet,
  atomicProgramsRun,
  chooseTile,
  convTiles,
  type KernelSet,
  pipelineCensus,
  planGemm,
  registerKernelSet,
  resetDeterminismCounters,
  selectBackend,
  trainingPrograms,
  unregisterKernelSet,
} from "../lib/webgpu/mod.ts";
import { batchNormTraining } from "../lib/model/batch_norm.ts";

await selectBackend("webgpu", { stage: "test", kernels: "stock" });

/** Relative error bound: max |set − stock| / max |stock|. */
const REL_TOL = 1e-4;

/** A conv as ResNet50 runs it: input [h, w, ci], square kernel k, stride s, filters co, tfjs padding. */
interface ConvShape {
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  pad: "same" | "valid";
}

/** Every distinct conv of ResNet50 at 32×32 input, read from the model the pipeline trains. */
function resnet50ConvShapes(): ConvShape[] {
  const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
  const seen = new Map<string, ConvShape>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== "Conv2D") continue;
    const cfg = layer.getConfig() as {
      kernelSize: number[];
      strides: number[];
      padding: "same" | "valid";
      filters: number;
    };
    const [, h, w, ci] = (layer.input as unknown as { shape: number[] }).shape;
    const shape = { h, w, ci, co: cfg.filters, k: cfg.kernelSize[0], s: cfg.strides[0], pad: cfg.padding };
    seen.set(JSON.stringify(shape), shape);
  }
  model.dispose();
  return [...seen.values()];
}

function seeded(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.randomUniform(shape, -1, 1, "float32", seed) as tf.Tensor4D;
}

const device = (tf.backend() as unknown as { device: GPUDevice }).device;

/** `f`'s values; fails on any WebGPU validation error (a shader that does not compile writes nothing). */
async function checked(f: () => tf.Tensor): Promise<Float32Array> {
  device.pushErrorScope("validation");
  const t = f();
  const values = await t.data() as Float32Array;
  t.dispose();
  const error = await device.popErrorScope();
  assert.equal(error, null, `WebGPU validation error: ${error?.message}`);
  return values;
}

/**
 * Run `f` with `set`'s kernels, then with the stock ones; return [stock, set] values. The set runs first so
 * that an output buffer recycled from the stock run can never pass for the set's result.
 */
async function stockAndSet(set: KernelSet, f: () => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  registerKernelSet(set);
  try {
    const ours = await checked(f);
    unregisterKernelSet();
    const stock = await checked(f);
    return [stock, ours];
  } finally {
    unregisterKernelSet();
  }
}

function relativeError(stock: Float32Array, project: Float32Array): number {
  assert.equal(project.length, stock.length);
  let err = 0, scale = 0;
  for (let i = 0; i < stock.length; i++) {
    err = Math.max(err, Math.abs(project[i] - stock[i]));
    scale = Math.max(scale, Math.abs(stock[i]));
  }
  assert.ok(scale > 0, "stock result is all zeros: the check would prove nothing");
  return err / scale;
}

const SHAPES = resnet50ConvShapes();
// batch 3: the pixel blocks (16) do not divide every layer's batch × height × width, so tails are covered
const BATCH = 3;

Deno.test("registerKernelSet('cpu') swaps the kernels in and unregisterKernelSet restores the stock ones", () => {
  const stock = tf.getKernel("Conv2DBackpropFilter", "webgpu")!.kernelFunc;
  const names = registerKernelSet("cpu", { flags: { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 32 } });
  assert.deepEqual(names, [
    "Conv2DBackpropFilter",
    "FusedConv2D",
    "Conv2D",
    "Conv2DBackpropInput",
    "Sum",
    "Mean",
    "FusedBatchNorm",
  ]);
  assert.equal(activeKernelSet(), "cpu");
  assert.ok(trainingPrograms(), "the cpu set brings fused training programs");
  assert.notEqual(tf.getKernel("Conv2DBackpropFilter", "webgpu")!.kernelFunc, stock);
  assert.equal(tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE"), 32);
  unregisterKernelSet();
  assert.equal(activeKernelSet(), "stock");
  assert.equal(trainingPrograms(), null);
  assert.equal(tf.getKernel("Conv2DBackpropFilter", "webgpu")!.kernelFunc, stock);
  assert.equal(tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE"), 15);
});

Deno.test("registerKernelSet('gpu') swaps the gpu kernels in; 'stock' puts tfjs's back", () => {
  const stock = tf.getKernel("FusedConv2D", "webgpu")!.kernelFunc;
  assert.deepEqual(registerKernelSet("gpu"), [
    "Conv2DBackpropFilter",
    "FusedConv2D",
    "Conv2D",
    "Conv2DBackpropInput",
  ]);
  assert.equal(activeKernelSet(), "gpu");
  const gpu = tf.getKernel("FusedConv2D", "webgpu")!.kernelFunc;
  assert.notEqual(gpu, stock);
  registerKernelSet("cpu");
  assert.equal(activeKernelSet(), "cpu");
  assert.notEqual(tf.getKernel("FusedConv2D", "webgpu")!.kernelFunc, gpu);
  assert.deepEqual(registerKernelSet("stock"), []);
  assert.equal(activeKernelSet(), "stock");
  assert.equal(tf.getKernel("FusedConv2D", "webgpu")!.kernelFunc, stock);
});

Deno.test("planGemm cuts a long reduction with few output tiles into splits, within the device's limits", () => {
  const limits = {
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupSizeY: 256,
    maxComputeWorkgroupStorageSize: 16384,
    maxStorageBufferBindingSize: 2 ** 27,
    maxComputeWorkgroupsPerDimension: 65535,
  };
  // the example: a layer1 1×1 conv's filter gradient (64→64) at batch 256, reduction 256·8·8
  const dw = planGemm(64, 64, 256 * 8 * 8, limits)!;
  assert.deepEqual(dw, { wg: 16, tile: 64, splits: 64, kPerSplit: 256 });
  // 64 workgroups of 256 invocations, each a 256-long reduction, instead of 4 × 16 invocations looping 16,384
  assert.equal(dw.splits * dw.wg * dw.wg, 16384);
  // a big forward GEMM needs no split
  assert.equal(planGemm(256 * 16 * 16, 64, 147, limits)!.splits, 1);
  // a device that allows only 64 invocations per workgroup gets 8 × 8 workgroups
  assert.equal(planGemm(64, 64, 1024, { ...limits, maxComputeInvocationsPerWorkgroup: 64 })!.wg, 8);
  // a device too small for either tiling: the stock kernel runs
  assert.equal(planGemm(64, 64, 1024, { ...limits, maxComputeWorkgroupStorageSize: 1024 }), null);
});

Deno.test("the head's split-K matmul (16×2048 · 2048×10) gives the same bits in 30 runs and matches the cpu backend", async () => {
  registerKernelSet("stock"); // installs the determinism guard
  const a = tf.randomUniform([16, 2048], -1, 1, "float32", 81);
  const b = tf.randomUniform([2048, 10], -1, 1, "float32", 82);
  const av = await a.data(), bv = await b.data();
  resetDeterminismCounters();
  try {
    const first = await checked(() => tf.matMul(a, b));
    for (let i = 1; i < 30; i++) {
      assert.deepEqual(await checked(() => tf.matMul(a, b)), first, `run ${i + 1}`);
    }
    assert.equal(atomicProgramsRun(), 0);
    // the reference product in float64
    const ref = new Float32Array(160);
    for (let m = 0; m < 16; m++) {
      for (let n = 0; n < 10; n++) {
        let sum = 0;
        for (let k = 0; k < 2048; k++) sum += av[m * 2048 + k] * bv[k * 10 + n];
        ref[m * 10 + n] = sum;
      }
    }
    assert.ok(
      relativeError(ref, first) <= REL_TOL,
      `head matmul: relative error ${relativeError(ref, first)}`,
    );
  } finally {
    tf.dispose([a, b]);
  }
});

Deno.test("gpu filter gradient with split-K (layer1 1×1 at batch 16: 4 splits) matches stock and repeats bit for bit", async () => {
  const x = seeded([16, 8, 8, 64], 91);
  const dy = seeded([16, 8, 8, 64], 92);
  const run = () =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: [1, 1],
      pad: "same",
      dataFormat: "NHWC",
      filterShape: [1, 1, 64, 64],
    }) as tf.Tensor;
  try {
    const limits = (tf.backend() as unknown as { device: GPUDevice }).device.limits;
    assert.ok(planGemm(64, 64, 16 * 8 * 8, limits)!.splits > 1, "this shape should be split");
    const [stock, ours] = await stockAndSet("gpu", run);
    assert.ok(relativeError(stock, ours) <= REL_TOL, `relative error ${relativeError(stock, ours)}`);
    registerKernelSet("gpu");
    assert.deepEqual(await checked(run), ours);
  } finally {
    unregisterKernelSet();
    tf.dispose([x, dy]);
  }
});

Deno.test(`ResNet50 has the conv shapes the kernels are checked on (${SHAPES.length} distinct)`, () => {
  // stem 7×7/2, 1×1 and 3×3 convs, stride-2 3×3 convs and stride-2 1×1 down-samples
  assert.ok(SHAPES.some((s) => s.k === 7 && s.s === 2 && s.ci === 3));
  assert.ok(SHAPES.some((s) => s.k === 3 && s.s === 2));
  assert.ok(SHAPES.some((s) => s.k === 1 && s.s === 2));
  assert.ok(SHAPES.some((s) => s.h === 1 && s.k === 3));
  assert.equal(SHAPES.length, 23);
});

// cpu-prev is checked against cpu, bit for bit, below
for (const set of ["cpu", "gpu"] as const) {
  Deno.test(`${set} conv forward (FusedConv2D, with and without bias + relu) matches stock on every ResNet50 conv`, async () => {
    for (const [i, s] of SHAPES.entries()) {
      const x = seeded([BATCH, s.h, s.w, s.ci], 10 + i);
      const filter = seeded([s.k, s.k, s.ci, s.co], 20 + i);
      const bias = tf.randomUniform([s.co], -1, 1, "float32", 30 + i) as tf.Tensor1D;
      try {
        const plain = await stockAndSet(set, () => tf.fused.conv2d({ x, filter, strides: s.s, pad: s.pad }));
        const e1 = relativeError(...plain);
        assert.ok(e1 <= REL_TOL, `${set} forward ${JSON.stringify(s)}: relative error ${e1}`);
        const fused = await stockAndSet(
          set,
          () => tf.fused.conv2d({ x, filter, strides: s.s, pad: s.pad, bias, activation: "relu" }),
        );
        const e2 = relativeError(...fused);
        assert.ok(e2 <= REL_TOL, `${set} forward+bias+relu ${JSON.stringify(s)}: relative error ${e2}`);
      } finally {
        tf.dispose([x, filter, bias]);
      }
    }
  });

  Deno.test(`${set} filter gradient (Conv2DBackpropFilter) matches stock on every ResNet50 conv`, async () => {
    for (const [i, s] of SHAPES.entries()) {
      const x = seeded([BATCH, s.h, s.w, s.ci], 40 + i);
      const outH = s.pad === "same" ? Math.ceil(s.h / s.s) : Math.floor((s.h - s.k) / s.s) + 1;
      const outW = s.pad === "same" ? Math.ceil(s.w / s.s) : Math.floor((s.w - s.k) / s.s) + 1;
      const dy = seeded([BATCH, outH, outW, s.co], 50 + i);
      try {
        const [stock, ours] = await stockAndSet(
          set,
          () =>
            tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
              strides: [s.s, s.s],
              pad: s.pad,
              dataFormat: "NHWC",
              filterShape: [s.k, s.k, s.ci, s.co],
            }) as tf.Tensor,
        );
        const e = relativeError(stock, ours);
        assert.ok(e <= REL_TOL, `${set} filter gradient ${JSON.stringify(s)}: relative error ${e}`);
      } finally {
        tf.dispose([x, dy]);
      }
    }
  });

  Deno.test(`${set} input gradient (Conv2DBackpropInput) matches stock on every ResNet50 conv`, async () => {
    for (const [i, s] of SHAPES.entries()) {
      const outH = s.pad === "same" ? Math.ceil(s.h / s.s) : Math.floor((s.h - s.k) / s.s) + 1;
      const outW = s.pad === "same" ? Math.ceil(s.w / s.s) : Math.floor((s.w - s.k) / s.s) + 1;
      const dy = seeded([BATCH, outH, outW, s.co], 60 + i);
      const filter = seeded([s.k, s.k, s.ci, s.co], 70 + i);
      try {
        const [stock, ours] = await stockAndSet(
          set,
          () =>
            tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
              strides: [s.s, s.s],
              pad: s.pad,
              dataFormat: "NHWC",
              inputShape: [BATCH, s.h, s.w, s.ci],
            }) as tf.Tensor,
        );
        const e = relativeError(stock, ours);
        assert.ok(e <= REL_TOL, `${set} input gradient ${JSON.stringify(s)}: relative error ${e}`);
      } finally {
        tf.dispose([dy, filter]);
      }
    }
  });
}

Deno.test("cpu Sum and Mean over every axis but the channels give stock's bits; other reductions fall back", async () => {
  // batch norm's shapes (NHWC, and a Dense layer's [batch, features]), with and without keepDims; row counts
  // on both sides of tfjs's 4,096 and 32,768 thresholds, and fewer rows than its partial sums
  const cases: { shape: number[]; axis: number[]; keepDims: boolean }[] = [
    { shape: [16, 16, 16, 64], axis: [0, 1, 2], keepDims: false },
    { shape: [64, 16, 16, 8], axis: [0, 1, 2], keepDims: false },
    { shape: [16, 1, 1, 2048], axis: [0, 1, 2], keepDims: false },
    { shape: [3, 8, 8, 64], axis: [0, 1, 2], keepDims: true },
    { shape: [5, 2, 2, 1024], axis: [0, 1, 2], keepDims: false },
    // the axes in another order: tfjs sums in that order, so this one falls back to it
    { shape: [2, 16, 16, 64], axis: [2, 0, 1], keepDims: false },
    { shape: [200, 12], axis: [0], keepDims: false },
    // handled by stock: the last axis reduced, a channel count not divisible by 4
    { shape: [3, 8, 8, 64], axis: [3], keepDims: false },
    { shape: [3, 4, 4, 10], axis: [0, 1, 2], keepDims: true },
  ];
  for (const [i, c] of cases.entries()) {
    const x = tf.randomUniform(c.shape, -1, 1, "float32", 110 + i);
    try {
      for (const op of ["sum", "mean"] as const) {
        const [stock, cpu] = await stockAndSet("cpu", () => tf[op](x, c.axis, c.keepDims));
        // the same additions in the same order: the same bits (batch norm's gradient needs it, see cpu_reduce.ts)
        assert.deepEqual(cpu, stock, `cpu ${op} ${JSON.stringify(c)}: not the same bits as stock`);
        registerKernelSet("cpu");
        const shape = tf[op](x, c.axis, c.keepDims);
        unregisterKernelSet();
        assert.deepEqual(
          shape.shape,
          tf[op](x, c.axis, c.keepDims).shape,
          `${op} ${JSON.stringify(c)}: shape`,
        );
      }
    } finally {
      x.dispose();
    }
  }
});

for (const set of ["cpu", "cpu-prev"] as const) {
  Deno.test(`batch norm's fused WebGPU gradient (${set}) matches autodiff through tf.moments and tf.batchNorm`, async () => {
    // ResNet50's channel counts at a small batch, a row count that does not fill the last row block (3·5·5 =
    // 75), and 10 channels (not divisible by 4: the tfjs-ops fallback)
    for (const [i, shape] of [[3, 8, 8, 64], [5, 2, 2, 1024], [3, 5, 5, 12], [2, 3, 3, 10]].entries()) {
      const c = shape[3];
      const x = tf.randomUniform(shape, -1, 2, "float32", 120 + i);
      const gamma = tf.randomUniform([c], 0.5, 1.5, "float32", 130 + i);
      const beta = tf.randomUniform([c], -0.5, 0.5, "float32", 140 + i);
      const weights = tf.randomUniform(shape, -1, 1, "float32", 150 + i);
      const epsilon = 1e-3;
      const autodiff = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, b, g, epsilon), weights));
      };
      const expected = tf.grads(autodiff)([x, gamma, beta]);
      registerKernelSet(set);
      const programs = trainingPrograms();
      const fused = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(batchNormTraining(x, g, b, { epsilon, programs }), weights));
      const actual = tf.grads(fused)([x, gamma, beta]);
      try {
        for (const [j, name] of ["x", "gamma", "beta"].entries()) {
          const e = relativeError(
            await expected[j].data() as Float32Array,
            await actual[j].data() as Float32Array,
          );
          assert.ok(e <= REL_TOL, `${set} d${name} of ${shape}: relative error ${e}`);
        }
      } finally {
        unregisterKernelSet();
        tf.dispose([x, gamma, beta, weights, ...expected, ...actual]);
      }
    }
  });
}

Deno.test("cpu batch norm programs and kernel give the bits of the tfjs ops they replace, and cpu-prev's gradients", async () => {
  // rows on both sides of tfjs's partial-sum thresholds (64 · 8 · 8 = 4,096; 128 · 16 · 16 = 32,768), fewer
  // rows than partials (the tfjs fallback), and a Dense-like [batch, features]
  for (
    const [i, shape] of [[64, 8, 8, 64], [128, 16, 16, 16], [3, 5, 5, 12], [16, 1, 1, 256], [300, 8]]
      .entries()
  ) {
    const c = shape.at(-1)!;
    const axes = shape.slice(0, -1).map((_, k) => k);
    const x = tf.randomUniform(shape, -1, 2, "float32", 160 + i);
    const dy = tf.randomUniform(shape, -1, 1, "float32", 170 + i);
    const gamma = tf.randomUniform([c], 0.5, 1.5, "float32", 180 + i);
    const old = tf.randomUniform([c], 0, 1, "float32", 190 + i);
    const n = x.size / c, epsilon = 1e-5, decay = 1 - 0.9;
    const values = async (ts: tf.Tensor[]) =>
      await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
    try {
      // stock: tf.moments and the moving averages as tfjs-layers writes them
      const ref = tf.moments(x, axes);
      const refMoving = [
        tf.sub(old, tf.mul(tf.sub(old, ref.mean), decay)),
        tf.sub(old, tf.mul(tf.sub(old, tf.mul(ref.variance, n / (n - 1))), decay)),
      ];
      const beta = tf.randomUniform([c], -0.5, 0.5, "float32", 200 + i);
      const normed = tf.batchNorm(x, ref.mean, ref.variance, beta, gamma, epsilon);
      const expected = await values([ref.mean, ref.variance, ...refMoving, normed]);
      // dβ by stock's Sum (cpu-prev's compiles a shader per shape, 80 s for the largest here)
      const dbeta = tf.sum(dy, axes);
      registerKernelSet("cpu-prev");
      const saved = { mean: ref.mean, variance: ref.variance, gamma, epsilon, dbeta, n };
      const prev = trainingPrograms()!.batchNormGradients(dy, x, saved);
      const prevGrads = await values([prev.dgamma, prev.dx]);
      registerKernelSet("cpu");
      const p = trainingPrograms()!;
      const got = p.moments!(x);
      const moving = [
        p.movingAverage!(old, got.mean, { decay, scale: 1 }),
        p.movingAverage!(old, got.variance, { decay, scale: n / (n - 1) }),
      ];
      const ourNormed = tf.batchNorm(x, ref.mean, ref.variance, beta, gamma, epsilon);
      assert.deepEqual(
        await values([got.mean, got.variance, ...moving, ourNormed]),
        expected,
        `moments, moving averages, normalized ${shape}`,
      );
      const ours = p.batchNormGradients(dy, x, saved);
      assert.deepEqual(await values([ours.dgamma, ours.dx]), prevGrads, `gradients of ${shape}`);
      tf.dispose([ref.mean, ref.variance, ...refMoving, dbeta, prev.dgamma, prev.dx, got.mean, got.variance]);
      tf.dispose([...moving, ours.dgamma, ours.dx, beta, normed, ourNormed]);
    } finally {
      unregisterKernelSet();
      tf.dispose([x, dy, gamma, old]);
    }
  }
});

Deno.test("chooseTile takes the largest register tile that still gives every core work", () => {
  // layer1 at batch 64: 4,096 pixels × 64 channel groups: the largest tile, 32 rows × 8 vec4s
  assert.deepEqual(chooseTile(4096, 64, { rowOptions: [32, 16, 8, 4] }), { rows: 32, vec4s: 8 });
  // layer4 at batch 64: 64 pixels × 128 groups; 32 × 8 would leave 32 invocations, fewer than 64
  assert.deepEqual(chooseTile(64, 128, { rowOptions: [32, 16, 8, 4] }), { rows: 32, vec4s: 4 });
  // nothing reaches 64 invocations: the grid with the most
  assert.deepEqual(chooseTile(4, 2, { rowOptions: [4] }), { rows: 4, vec4s: 1 });
});

Deno.test("convTiles: 8 rows (16 on tiny images) × up to 8 vec4s, never set by the batch", () => {
  const conv = (ci: number, co: number, hw: number, s = 1) => ({
    inChannels: ci,
    outChannels: co,
    inHeight: hw,
    inWidth: hw,
    outHeight: Math.ceil(hw / s),
    outWidth: Math.ceil(hw / s),
    strideHeight: s,
    strideWidth: s,
  });
  assert.deepEqual(convTiles(conv(64, 256, 8)), {
    forward: { rows: 8, vec4s: 8 },
    filterGrad: { rows: 8, vec4s: 8 },
    inputGrad: { rows: 8, vec4s: 8 },
  });
  // the stem: 3 input channels are the filter gradient's rows and the input gradient's scalar columns
  assert.deepEqual(convTiles(conv(3, 16, 32, 2)), {
    forward: { rows: 8, vec4s: 4 },
    filterGrad: { rows: 3, vec4s: 4 },
    inputGrad: { rows: 8, vec4s: 3 },
  });
  assert.deepEqual(convTiles(conv(12, 8, 8)).filterGrad, { rows: 4, vec4s: 2 });
  // ResNet50's last stage: 1 × 1 and 2 × 2 images (a stride-2 input gradient counts pixels per phase)
  assert.equal(convTiles(conv(512, 512, 1)).forward.rows, 16);
  assert.equal(convTiles(conv(1024, 2048, 2, 2)).inputGrad.rows, 16);
  assert.equal(convTiles(conv(256, 256, 4, 2)).forward.rows, 16);
  assert.equal(convTiles(conv(256, 256, 4, 2)).inputGrad.rows, 16);
  assert.equal(convTiles(conv(128, 128, 4)).inputGrad.rows, 8);
});

// The cpu set's sums run in the same order as cpu-prev's: the same bits. At batch 16 these layers get
// cpu-prev's large tiles (32 × 8 and 32 × 4 vec4s) that batch 3 never does, and the stride-2 3×3 conv's
// filter gradient skips padded taps in the cpu set where cpu-prev multiplies them by zero.
const LARGE_TILE_SHAPES: ConvShape[] = [
  { h: 8, w: 8, ci: 64, co: 256, k: 1, s: 1, pad: "valid" },
  { h: 4, w: 4, ci: 128, co: 128, k: 3, s: 1, pad: "same" },
  { h: 8, w: 8, ci: 128, co: 128, k: 3, s: 2, pad: "same" },
  { h: 32, w: 32, ci: 3, co: 64, k: 7, s: 2, pad: "same" },
];
Deno.test("cpu kernels give the same bits as cpu-prev's large tiles, and match stock (batch 16)", async () => {
  const B = 16;
  for (const [i, s] of LARGE_TILE_SHAPES.entries()) {
    const outH = s.pad === "same" ? Math.ceil(s.h / s.s) : Math.floor((s.h - s.k) / s.s) + 1;
    const x = seeded([B, s.h, s.w, s.ci], 80 + i);
    const filter = seeded([s.k, s.k, s.ci, s.co], 90 + i);
    const dy = seeded([B, outH, outH, s.co], 100 + i);
    const attrs = { strides: [s.s, s.s], pad: s.pad, dataFormat: "NHWC" };
    const calls: Record<string, () => tf.Tensor> = {
      forward: () => tf.fused.conv2d({ x, filter, strides: s.s, pad: s.pad, activation: "relu" }),
      "filter gradient": () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          ...attrs,
          filterShape: [s.k, s.k, s.ci, s.co],
        }) as tf.Tensor,
      "input gradient": () =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
          ...attrs,
          inputShape: [B, s.h, s.w, s.ci],
        }) as tf.Tensor,
    };
    try {
      for (const [what, f] of Object.entries(calls)) {
        const [stock, cpu] = await stockAndSet("cpu", f);
        const [, prev] = await stockAndSet("cpu-prev", f);
        const e = relativeError(stock, cpu);
        assert.ok(e <= REL_TOL, `cpu ${what} ${JSON.stringify(s)}: relative error ${e}`);
        assert.deepEqual(cpu, prev, `cpu ${what} ${JSON.stringify(s)}: not the same bits as cpu-prev`);
      }
    } finally {
      tf.dispose([x, filter, dy]);
    }
  }
});

Deno.test("cpu kernels are shape-generic: a second batch size and other layers compile no new conv pipelines", async () => {
  const census = pipelineCensus(tf.backend());
  const convFamilies = ["conv forward", "conv filter gradient", "conv input gradient", "filter transpose"];
  const convPipelines = () => convFamilies.reduce((n, f) => n + (census.byFamily.get(f) ?? 0), 0);
  const model = buildResNet("tiny", { numClasses: 10, seed: 4 });
  const optimizer = tf.train.momentum(0.01, 0.9);
  registerKernelSet("cpu");
  try {
    const step = createTrainStep(model, optimizer, 10);
    const batch = (size: number) => ({
      size,
      x: new Float32Array(size * 32 * 32 * 3).map((_, i) => Math.sin(i)),
      y: Int32Array.from({ length: size }, (_, i) => i % 10),
      indices: Uint32Array.from({ length: size }, (_, i) => i),
    });
    await step(batch(4));
    const afterFirst = convPipelines();
    // tiny's convs: stem 3→8, 1×1 and 3×3 at 8 to 64 channels, stride-2 convs and down-samples; their tiles
    // need a handful of pipelines, not one per layer, pass and shape
    assert.ok(afterFirst > 0 && afterFirst <= 10, `conv pipelines after one step: ${afterFirst}`);
    await step(batch(6));
    await step(batch(3));
    assert.equal(convPipelines(), afterFirst, "a new batch size compiled new conv pipelines");
  } finally {
    unregisterKernelSet();
    disposeOptimizer(optimizer);
    model.dispose();
  }
});

for (const set of ["cpu", "gpu"] as const) {
  Deno.test(`training a tiny ResNet with the ${set} kernels follows the stock loss curve`, async () => {
    const batch = {
      size: 8,
      x: tf.randomUniform([8 * 32 * 32 * 3], -1, 1, "float32", 5).dataSync() as Float32Array,
      y: Int32Array.from({ length: 8 }, (_, i) => (i * 3) % 10),
      indices: Uint32Array.from({ length: 8 }, (_, i) => i),
    };
    const curves: number[][] = [];
    const tensorCounts: number[][] = [];
    for (const ours of [false, true]) {
      registerKernelSet(ours ? set : "stock");
      const model = buildResNet("tiny", { numClasses: 10, seed: 3 });
      // lr 0.1 so that five steps move the weights visibly and the curve is a real check
      const optimizer = tf.train.momentum(0.1, 0.9);
      try {
        const step = createTrainStep(model, optimizer, 10);
        const losses: number[] = [];
        const counts: number[] = [];
        for (let i = 0; i < 5; i++) {
          losses.push(await step(batch));
          counts.push(tf.memory().numTensors);
        }
        curves.push(losses);
        tensorCounts.push(counts);
      } finally {
        disposeOptimizer(optimizer);
        model.dispose();
        unregisterKernelSet();
      }
    }
    const [stock, project] = curves;
    assert.ok(stock[4] < stock[0], `stock loss should fall over five steps on one batch: ${stock}`);
    for (let i = 0; i < stock.length; i++) {
      assert.ok(
        Math.abs(project[i] - stock[i]) <= 1e-3 * Math.abs(stock[i]),
        `step ${i + 1}: ${set} loss ${project[i]} vs stock ${stock[i]}`,
      );
    }
    // live tensors constant from the second step on (the first creates the momentum slots)
    for (const counts of tensorCounts) assert.deepEqual(counts.slice(1), Array(4).fill(counts[1]));
  });
}
