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

Deno.test("chwToHwc works on words: the same bytes as the reference at any offset, short arrays as before", () => {
  // Records at odd offsets in one buffer (as in a file chunk), and output views at offsets that are not a
  // multiple of 4: the word loop must give the reference's bytes whatever the alignment.
  const records = makeRecords(5, 9);
  for (let i = 0; i < 5; i++) {
    const chw = records.subarray(i * RECORD_BYTES + 1, (i + 1) * RECORD_BYTES);
    const shift = i % 4;
    const out = new Uint8Array(IMAGE_BYTES + 8).subarray(shift, shift + IMAGE_BYTES);
    assert.equal(chwToHwc(chw, out), out);
    assert.deepEqual(out, referenceImage(records, i));
  }
  // Shorter than an image (here R and the first G byte): missing input reads as 0, output past the end is dropped (the byte loop's way).
  const short = chwToHwc(new Uint8Array(1025).fill(7));
  assert.deepEqual(Array.from(short.subarray(0, 6)), [7, 7, 0, 7, 0, 0]);
  assert.deepEqual(Array.from(short.subarray(IMAGE_BYTES - 3)), [7, 0, 0]);
  const chw = records.subarray(1, RECORD_BYTES);
  const small = chwToHwc(chw, new Uint8Array(10));
  assert.deepEqual(small, referenceImage(records, 0).subarray(0, 10));
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
