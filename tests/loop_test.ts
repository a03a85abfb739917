import assert from "node:assert/strict";
import { resolveConfig } from "../lib/config/config.ts";
import { trainParams } from "../lib/train/loop.ts";

Deno.test("trainParams holds what changes training and not what only changes the log", () => {
  const seed = trainParams(resolveConfig("seed"));
  assert.equal(seed.arch, "resnet50");
  assert.equal(seed.batchSize, 256);
  assert.deepEqual(trainParams(resolveConfig("seed", { logEvery: 7 })), seed);
  assert.notDeepEqual(trainParams(resolveConfig("seed", { seed: 2 })), seed);
  assert.notDeepEqual(trainParams(resolveConfig("seed", { backend: "cpu" })), seed);
});
