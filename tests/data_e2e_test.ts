import assert from "node:assert/strict";
import { join } from "node:path";
import { readSplit, trainBatches } from "../lib/data/batches.ts";
import { readAugmentPlan } from "../lib/data/augment_plan.ts";
import { OFFICIAL_SHA256 } from "../lib/data/cifar_format.ts";
import { sha256File } from "../lib/core/hash.ts";
import { augmentStage } from "../pipeline/augment.ts";
import { decodeStage } from "../pipeline/decode.ts";
import { fetchStage } from "../pipeline/fetch.ts";
import { makeContext, tempRunDir } from "./fixtures/data_fixtures.ts";
import { dataTest, SHARED_ARCHIVE } from "./fixtures/shared_data.ts";

dataTest({
  name: "end to end on the real archive: fetch (official sums) → decode → augment",
  fn: async () => {
    const runDir = await tempRunDir();
    try {
      const overrides = { dataUrl: SHARED_ARCHIVE, trainLimit: null, testLimit: null };

      // fetch: streamed, verified, and without holding the 170 MB archive in memory.
      const fetchCtx = await makeContext("fetch", runDir, overrides);
      const rssBefore = Deno.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss), 20);
      try {
        await fetchStage.run(fetchCtx);
      } finally {
        clearInterval(sampler);
      }
      console.log(`fetch: peak RSS growth ${((rssPeak - rssBefore) / 1e6).toFixed(0)} MB`);
      assert.ok(rssPeak - rssBefore < 120e6, `RSS grew by ${rssPeak - rssBefore} bytes`);
      for (const [name, sum] of Object.entries(OFFICIAL_SHA256)) {
        assert.equal(await sha256File(join(fetchCtx.dir, name)), sum, name);
      }

      // decode: every record, with the known first labels and channel statistics.
      const decodeCtx = await makeContext("decode", runDir, overrides);
      await decodeStage.run(decodeCtx);
      const train = await readSplit(decodeCtx.dir, "train");
      const test = await readSplit(decodeCtx.dir, "test");
      assert.equal(train.count, 50_000);
      assert.equal(test.count, 10_000);
      assert.deepEqual(Array.from(test.labels.subarray(0, 10)), [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
      assert.deepEqual(Array.from(train.labels.subarray(0, 10)), [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
      const perClass = new Array(10).fill(0);
      for (const label of train.labels) perClass[label]++;
      assert.deepEqual(perClass, new Array(10).fill(5000));
      const meta = JSON.parse(await Deno.readTextFile(join(decodeCtx.dir, "meta.json")));
      assert.equal(meta.classes.join(" "), "airplane automobile bird cat deer dog frog horse ship truck");
      const round = (v: number[]) => v.map((x) => Number(x.toFixed(4)));
      assert.deepEqual(round(meta.stats.measured.mean), [0.4914, 0.4822, 0.4465]);
      assert.deepEqual(round(meta.stats.measured.std), [0.247, 0.2435, 0.2616]);
      assert.deepEqual(meta.stats.tutorial.std, [0.2023, 0.1994, 0.201]);

      // augment: the plan for all 50,000 images, and a first batch from it.
      const augmentCtx = await makeContext("augment", runDir, overrides);
      await augmentStage.run(augmentCtx);
      const plan = await readAugmentPlan(augmentCtx.dir);
      assert.equal(plan.count, 50_000);
      const reader = trainBatches(train, plan, {
        epoch: 1,
        batchSize: 256,
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2023, 0.1994, 0.2010],
      }).getReader();
      const { value } = await reader.read();
      await reader.cancel();
      assert.equal(value?.size, 256);
      assert.deepEqual(Array.from(value!.indices), Array.from(plan.perEpoch[1].order.subarray(0, 256)));
    } finally {
      await Deno.remove(runDir, { recursive: true });
    }
  },
});
