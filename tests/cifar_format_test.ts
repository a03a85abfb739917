import assert from "node:assert/strict";
import { dataTest, SHARED_SUMS } from "./fixtures/shared_data.ts";
import {
  chwToHwc,
  IMAGE_BYTES,
  OFFICIAL_SHA256,
  parseClassNames,
  RECORD_BYTES,
  TEST_FILES,
  TRAIN_FILES,
} from "../lib/data/cifar_format.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { makeRecords, META_TEXT, referenceImage } from "./fixtures/data_fixtures.ts";

Deno.test("record layout constants", () => {
  assert.equal(RECORD_BYTES, 3073);
  assert.equal(IMAGE_BYTES, 3072);
  assert.deepEqual(Object.keys(OFFICIAL_SHA256).sort(), [...TRAIN_FILES, ...TEST_FILES].sort());
  for (const sum of Object.values(OFFICIAL_SHA256)) assert.match(sum, /^[0-9a-f]{64}$/);
});

dataTest({
  name: "the embedded sums are the ones in ../shared/data/SHA256SUMS",
  needs: [SHARED_SUMS],
  fn: async () => {
    const text = await Deno.readTextFile(SHARED_SUMS);
    for (const [name, sum] of Object.entries(OFFICIAL_SHA256)) {
      assert.ok(text.includes(`${sum}  cifar-10-batches-bin/${name}`), name);
    }
  },
});

Deno.test("chwToHwc interleaves the R, G, B planes row-major", () => {
  const records = makeRecords(2, 4);
  for (const i of [0, 1]) {
    const chw = records.subarray(i * RECORD_BYTES + 1, (i + 1) * RECORD_BYTES);
    assert.deepEqual(chwToHwc(chw), referenceImage(records, i));
  }
  const chw = new Uint8Array(IMAGE_BYTES);
  chw[33] = 10; // R of (y 1, x 1)
  chw[1024 + 33] = 20;
  chw[2048 + 33] = 30;
  assert.deepEqual(Array.from(chwToHwc(chw).subarray(33 * 3, 33 * 3 + 3)), [10, 20, 30]);
});

Deno.test("parseClassNames reads ten names and rejects anything else", () => {
  assert.deepEqual(parseClassNames(META_TEXT), [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
  ]);
  assert.equal(parseClassNames(META_TEXT.replaceAll("\n", "\r\n")).length, 10);
  assert.throws(
    () => parseClassNames("a\nb\n", { file: "batches.meta.txt", stage: "fetch" }),
    (err: unknown) =>
      err instanceof PipelineError && err.stage === "fetch" &&
      err.message === "Cannot read batches.meta.txt: expected 10 class names, got 2",
  );
});
