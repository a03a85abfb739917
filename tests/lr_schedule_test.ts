import assert from "node:assert/strict";
import { cosineDecayLr, cosineDecaySteps } from "../lib/train/lr_schedule.ts";

const tutorial = { lrMax: 1e-3, lrMin: 1e-5, decayEpochs: 5 };

function close(actual: number, expected: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= 1e-15, `${what}: ${actual} != ${expected}`);
}

Deno.test("cosineDecayLr matches MindSpore's formula at epochs 0..4 of the tutorial", () => {
  // lr = min + 0.5·(max − min)·(1 + cos(π·e/5)), written out by hand per epoch
  const delta = 1e-3 - 1e-5;
  const expected = [
    1e-5 + 0.5 * delta * (1 + 1), // cos 0
    1e-5 + 0.5 * delta * (1 + 0.8090169943749475), // cos(π/5)
    1e-5 + 0.5 * delta * (1 + 0.30901699437494745), // cos(2π/5)
    1e-5 + 0.5 * delta * (1 - 0.30901699437494734), // cos(3π/5)
    1e-5 + 0.5 * delta * (1 - 0.8090169943749473), // cos(4π/5)
  ];
  for (let e = 0; e < 5; e++) close(cosineDecayLr(e, tutorial), expected[e], `epoch ${e}`);
  assert.equal(cosineDecayLr(0, tutorial), 1e-3);
  // 1e-5 + 0.000495 · 0.1909830056250527
  close(cosineDecayLr(4, tutorial), 1.0453658778440109e-4, "last epoch");
  // decreasing over the run
  for (let e = 1; e < 5; e++) assert.ok(cosineDecayLr(e, tutorial) < cosineDecayLr(e - 1, tutorial));
});

Deno.test("cosineDecayLr reaches lrMin at decayEpochs and stays there", () => {
  close(cosineDecayLr(5, tutorial), 1e-5, "epoch 5");
  close(cosineDecayLr(9, tutorial), 1e-5, "epoch 9");
  close(cosineDecayLr(1, { lrMax: 1, lrMin: 0, decayEpochs: 2 }), 0.5, "half way");
});

Deno.test("cosineDecayLr rejects bad input", () => {
  assert.throws(() => cosineDecayLr(-1, tutorial), RangeError);
  assert.throws(() => cosineDecayLr(0.5, tutorial), RangeError);
  assert.throws(() => cosineDecayLr(0, { ...tutorial, decayEpochs: 0 }), RangeError);
});

Deno.test("cosineDecaySteps is constant within an epoch, like cosine_decay_lr's per-step list", () => {
  const lrs = cosineDecaySteps(10, { ...tutorial, stepsPerEpoch: 2 });
  assert.equal(lrs.length, 10);
  for (let i = 0; i < 10; i++) assert.equal(lrs[i], cosineDecayLr(Math.floor(i / 2), tutorial));
  assert.equal(lrs[0], lrs[1]);
  assert.notEqual(lrs[1], lrs[2]);
});
