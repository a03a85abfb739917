import assert from "node:assert/strict";
import { RECORD_BYTES } from "../lib/data/cifar_format.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { Rng } from "../lib/core/random.ts";
import { RecordStream } from "../lib/data/record_stream.ts";
import { makeRecords, referenceImage } from "./fixtures/data_fixtures.ts";

/** A stream of `bytes` cut into chunks of the given sizes (the rest as one last chunk). */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    if (offset >= bytes.length) break;
    chunks.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  if (offset < bytes.length) chunks.push(bytes.slice(offset));
  return ReadableStream.from(chunks);
}

async function decodeAll(stream: ReadableStream<Uint8Array>, file = "t.bin") {
  return await Array.fromAsync(stream.pipeThrough(new RecordStream({ file })));
}

function assertRecords(records: { label: number; image: Uint8Array }[], bytes: Uint8Array) {
  assert.equal(records.length, bytes.length / RECORD_BYTES);
  records.forEach((record, i) => {
    assert.equal(record.label, bytes[i * RECORD_BYTES]);
    assert.deepEqual(record.image, referenceImage(bytes, i));
  });
}

Deno.test("RecordStream decodes whatever the chunk boundaries", async () => {
  const bytes = makeRecords(7, 2);
  const rng = new Rng(4);
  for (let trial = 0; trial < 20; trial++) {
    const sizes = Array.from({ length: 200 }, () => 1 + rng.int(trial < 10 ? 400 : 9000));
    assertRecords(await decodeAll(chunked(bytes, sizes)), bytes);
  }
});

Deno.test("RecordStream: exact multiples, one-byte chunks, one chunk, and an empty stream", async () => {
  const bytes = makeRecords(4, 3);
  assertRecords(await decodeAll(chunked(bytes, [RECORD_BYTES, RECORD_BYTES, 2 * RECORD_BYTES])), bytes);
  assertRecords(await decodeAll(chunked(bytes, new Array(bytes.length).fill(1))), bytes);
  assertRecords(await decodeAll(chunked(bytes, [bytes.length])), bytes);
  assert.deepEqual(await decodeAll(ReadableStream.from<Uint8Array>([])), []);
});

Deno.test("RecordStream rejects a length that is not a multiple of 3,073", async () => {
  const bytes = makeRecords(2, 1);
  const extra = new Uint8Array(bytes.length + 5);
  extra.set(bytes);
  await assert.rejects(
    () => decodeAll(chunked(extra, [1000]), "data_batch_1.bin"),
    (err: unknown) =>
      err instanceof PipelineError && err.stage === "decode" &&
      err.message ===
        "Cannot decode data_batch_1.bin: its length 6151 is not a multiple of the 3073-byte record (5 bytes left over after 2 records)",
  );
  await assert.rejects(() => decodeAll(chunked(bytes.slice(0, 3072), [])), /left over after 0 records/);
});

Deno.test("RecordStream rejects a label above 9, naming the record and the file", async () => {
  const bytes = makeRecords(20, 1);
  bytes[17 * RECORD_BYTES] = 12;
  await assert.rejects(
    () => decodeAll(chunked(bytes, [5000, 7]), "test_batch.bin"),
    (err: unknown) =>
      err instanceof PipelineError &&
      err.message === "Cannot decode record 17 of test_batch.bin: label must be < 10, got 12",
  );
});

Deno.test("RecordStream decodes into a target buffer while it has room, then into new buffers", async () => {
  const bytes = makeRecords(9, 5);
  const target = new Uint8Array(4 * 3072 + 100); // room for 4 images
  const records = await Array.fromAsync(
    chunked(bytes, [2 * RECORD_BYTES + 7, 5000, 3 * RECORD_BYTES]).pipeThrough(new RecordStream({ target })),
  );
  assertRecords(records, bytes);
  records.forEach((record, k) => {
    assert.equal(record.image.buffer === target.buffer, k < 4, `record ${k}`);
    if (k < 4) assert.equal(record.image.byteOffset, k * 3072);
  });
  for (let k = 0; k < 4; k++) {
    assert.deepEqual(target.subarray(k * 3072, (k + 1) * 3072), referenceImage(bytes, k));
  }
  assert.ok(target.subarray(4 * 3072).every((v) => v === 0), "nothing written past the last whole slot");
});
