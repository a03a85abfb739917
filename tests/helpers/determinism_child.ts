/**
 * One process of the determinism test (tests/determinism_test.ts): train ResNet50 for two steps on
 * generated batches and print the losses, a SHA-256 of every weight (moving statistics included) and of the
 * optimizer's slots, and how many float-atomic programs ran, as one JSON line.
 *
 * ```sh
 * deno run -A --unstable-webgpu tests/helpers/determinism_child.ts straight 4 auto
 * deno run -A --unstable-webgpu tests/helpers/determinism_child.ts resume 4 auto /tmp/ckpt
 * ```
 * `straight` trains two steps; `resume` trains one, saves a checkpoint (weights and optimizer slots), builds
 * a fresh model and optimizer from it and trains the second step there.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  atomicProgramsRun,
  buildResNet,
  determinismCounters,
  type KernelPolicy,
  loadModel,
  loadOptimizerState,
  saveCheckpoint,
  selectBackend,
} from "../../lib/model/mod.ts";
import { createTrainStep, disposeOptimizer } from "../../lib/train/mod.ts";
import { syntheticBatch } from "../../lib/data/mod.ts";
import { sha256Hex } from "../../lib/core/mod.ts";

const [mode, batchArg, policy, dir] = Deno.args;
const batch = Number(batchArg);
const info = await selectBackend("webgpu", { stage: "test", kernels: policy as KernelPolicy });
const batches = [0, 1].map((seed) => syntheticBatch(batch, seed, { label: (k) => (k + seed) % 10 }));
const lr = 0.05;

let model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
let optimizer = tf.train.momentum(lr, 0.9);
const losses: number[] = [];
losses.push(await createTrainStep(model, optimizer, 10)(batches[0]));
if (mode === "resume") {
  await saveCheckpoint(dir, model, { optimizer });
  disposeOptimizer(optimizer);
  model.dispose();
  model = await loadModel(dir);
  optimizer = tf.train.momentum(lr, 0.9);
  await loadOptimizerState(dir, model, optimizer);
}
losses.push(await createTrainStep(model, optimizer, 10)(batches[1]));

async function digest(tensors: tf.Tensor[]): Promise<string> {
  const parts = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), offset);
    offset += p.byteLength;
  }
  return await sha256Hex(bytes);
}
const weights = await digest(model.weights.map((w) => w.read()));
const slots = await digest((await optimizer.getWeights()).map((w) => w.tensor));
console.log(JSON.stringify({
  mode,
  kernels: info.kernels,
  losses,
  weights,
  slots,
  atomicPrograms: atomicProgramsRun(),
  counters: determinismCounters(),
}));
