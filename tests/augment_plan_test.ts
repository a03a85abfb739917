import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AugmentPlanParams,
  createAugmentPlan,
  decodeAugmentPlan,
  encodeAugmentPlan,
  epochDigests,
  planEpoch,
  readAugmentPlan,
} from "../lib/data/augment_plan.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { tempRunDir } from "./fixtures/data_fixtures.ts";

const PARAMS: AugmentPlanParams = { seed: 1, epochs: 3, count: 5000, cropPadding: 4, flipProbability: 0.5 };

Deno.test("the plan is a pure function of its params, epoch by epoch", () => {
  const a = createAugmentPlan(PARAMS);
  const b = createAugmentPlan(PARAMS);
  assert.deepEqual(a, b);
  const longer = createAugmentPlan({ ...PARAMS, epochs: 5 });
  assert.deepEqual(
    longer.perEpoch.slice(0, 3),
    a.perEpoch,
    "epoch e does not depend on the number of epochs",
  );
  assert.deepEqual(planEpoch(PARAMS, 2), a.perEpoch[2]);
  const other = createAugmentPlan({ ...PARAMS, seed: 2 });
  assert.notDeepEqual(other.perEpoch[0].order, a.perEpoch[0].order);
});

Deno.test("every epoch has its own global shuffle", () => {
  const plan = createAugmentPlan(PARAMS);
  for (const epoch of plan.perEpoch) {
    assert.deepEqual(
      Array.from(epoch.order).sort((x, y) => x - y),
      Array.from({ length: PARAMS.count }, (_, i) => i),
    );
  }
  assert.notDeepEqual(plan.perEpoch[0].order, plan.perEpoch[1].order);
  assert.notDeepEqual(plan.perEpoch[1].order, plan.perEpoch[2].order);
  assert.notDeepEqual(plan.perEpoch[0].cropX, plan.perEpoch[1].cropX);
});

Deno.test("crop offsets are uniform over 0..2·pad and flips follow the probability", () => {
  const { cropX, cropY, flip } = planEpoch(PARAMS, 0);
  const counts = new Array(9).fill(0);
  for (let i = 0; i < PARAMS.count; i++) {
    assert.ok(cropX[i] <= 8 && cropY[i] <= 8 && flip[i] <= 1);
    counts[cropX[i]]++;
  }
  for (const c of counts) assert.ok(Math.abs(c - PARAMS.count / 9) < 120, `crop counts ${counts}`);
  const flips = flip.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(flips - 2500) < 150, `flips ${flips}`);
  const none = planEpoch({ ...PARAMS, cropPadding: 0, flipProbability: 0 }, 0);
  assert.ok(
    none.cropX.every((v) => v === 0) && none.cropY.every((v) => v === 0) && none.flip.every((v) => v === 0),
  );
  assert.ok(planEpoch({ ...PARAMS, flipProbability: 1 }, 0).flip.every((v) => v === 1));
});

Deno.test("plan.bin round-trips, and readAugmentPlan reads it from the stage folder", async () => {
  const plan = createAugmentPlan({ ...PARAMS, count: 1001, seed: 2 ** 40 + 3 });
  const bytes = encodeAugmentPlan(plan);
  assert.equal(bytes.length, 40 + 3 * Math.ceil((7 * 1001) / 4) * 4);
  assert.deepEqual(decodeAugmentPlan(bytes), plan);
  const dir = await tempRunDir();
  await Deno.writeFile(join(dir, "plan.bin"), bytes);
  assert.deepEqual(await readAugmentPlan(dir), plan);
});

Deno.test("decodeAugmentPlan rejects a damaged plan with one line", async () => {
  const bytes = encodeAugmentPlan(createAugmentPlan({ ...PARAMS, count: 10 }));
  const check = (data: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => decodeAugmentPlan(data, { file: "plan.bin" }),
      (err: unknown) => err instanceof PipelineError && err.stage === "augment" && pattern.test(err.message),
    );
  check(bytes.slice(0, bytes.length - 4), /^Cannot read plan\.bin: length \d+ bytes, expected \d+$/);
  check(bytes.slice(0, 10), /shorter than the 40-byte header/);
  const magic = bytes.slice();
  magic[0] = 0;
  check(magic, /bad magic/);
  const order = bytes.slice();
  new DataView(order.buffer).setUint32(40, 99, true);
  check(order, /epoch 0 position 0 names image 99 of 10/);
  await assert.rejects(() => readAugmentPlan("/nonexistent-dir"), /Cannot read \/nonexistent-dir\/plan\.bin/);
});

Deno.test("epochDigests are stable and differ between epochs", async () => {
  const plan = createAugmentPlan(PARAMS);
  const digests = await epochDigests(plan);
  assert.equal(digests.length, 3);
  assert.equal(new Set(digests).size, 3);
  assert.deepEqual(await epochDigests(createAugmentPlan(PARAMS)), digests);
});
