import assert from "node:assert/strict";
import { resolveConfig } from "../lib/config/config.ts";
import { formatStepLine, trainParams } from "../lib/train/mod.ts";

Deno.test("formatStepLine prints the tutorial's log line", () => {
  assert.equal(
    formatStepLine(1, 5, 1, 196, 2.30127),
    "Epoch: [  1/  5], Steps: [  1/196], Train Loss: [2.301]",
  );
  assert.equal(
    formatStepLine(5, 5, 196, 196, 1.4949),
    "Epoch: [  5/  5], Steps: [196/196], Train Loss: [1.495]",
  );
});

Deno.test("trainParams holds what changes training and not what only changes the log", () => {
  const seed = trainParams(resolveConfig("seed"));
  assert.equal(seed.arch, "resnet50");
  assert.equal(seed.batchSize, 256);
  assert.deepEqual(trainParams(resolveConfig("seed", { logEvery: 7 })), seed);
  assert.notDeepEqual(trainParams(resolveConfig("seed", { seed: 2 })), seed);
  assert.notDeepEqual(trainParams(resolveConfig("seed", { backend: "cpu" })), seed);
});
