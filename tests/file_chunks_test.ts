import assert from "node:assert/strict";
import { join } from "node:path";
import { fileChunks } from "../lib/data/file_chunks.ts";
import { makeRecords, tempRunDir } from "./fixtures/data_fixtures.ts";

Deno.test("fileChunks streams a file in chunks of the given size, each a buffer of its own", async () => {
  const dir = await tempRunDir();
  const bytes = makeRecords(5, 1); // 15,365 bytes
  const path = join(dir, "f.bin");
  await Deno.writeFile(path, bytes);
  const chunks = await Array.fromAsync(await fileChunks(path, { chunkBytes: 4096 }));
  assert.deepEqual(chunks.map((c) => c.length), [4096, 4096, 4096, 3077]);
  assert.equal(new Set(chunks.map((c) => c.buffer)).size, 4);
  const joined = new Uint8Array(bytes.length);
  chunks.reduce((at, chunk) => (joined.set(chunk, at), at + chunk.length), 0);
  assert.deepEqual(joined, bytes);
  assert.deepEqual(await Array.fromAsync(await fileChunks(path)), [bytes]);
  await Deno.writeFile(join(dir, "empty"), new Uint8Array(0));
  assert.deepEqual(await Array.fromAsync(await fileChunks(join(dir, "empty"))), []);
  await assert.rejects(() => fileChunks(join(dir, "missing")), Deno.errors.NotFound);
  await assert.rejects(() => fileChunks(path, { chunkBytes: 0 }), RangeError);
  // Cancelling closes the file (the test sanitizer would report a leaked resource otherwise).
  const reader = (await fileChunks(path, { chunkBytes: 10 })).getReader();
  await reader.read();
  await reader.cancel();
});
