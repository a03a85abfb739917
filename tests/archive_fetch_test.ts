import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fetchArchive, type FetchArchiveOptions } from "../lib/data/archive_fetch.ts";
import { META_FILE } from "../lib/data/cifar_format.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { sha256File } from "../lib/core/hash.ts";
import { createLogger } from "../lib/core/log.ts";
import {
  makeArchive,
  makeBatchFiles,
  makeCifarArchive,
  sumsOf,
  tempRunDir,
} from "./fixtures/data_fixtures.ts";
import { refusedUrl, serveBytes } from "./fixtures/http_fixture.ts";

const FILES = makeBatchFiles(3, 4);
const SUMS = await sumsOf(FILES);
const ARCHIVE = await makeCifarArchive(FILES);
const FAST = { attempts: 3, delayMs: () => 1, idleTimeoutMs: 300 };
const OPTIONS: FetchArchiveOptions = { expected: SUMS, retry: FAST };

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Asserts the fetch fails with one line matching `pattern`, and leaves nothing in `dest`. */
async function assertFetchFails(
  run: () => Promise<unknown>,
  pattern: RegExp,
  dest?: string,
): Promise<PipelineError> {
  const started = performance.now();
  const err = await run().then(() => undefined, (e) => e);
  assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${err}`);
  assert.equal(err.stage, "fetch");
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes("\n"), "one line");
  assert.ok(performance.now() - started < 10_000, "ends within seconds");
  if (dest) assert.deepEqual(await listDir(dest), [], "no files left behind");
  return err;
}

async function assertAllMembers(dest: string): Promise<void> {
  assert.deepEqual(await listDir(dest), [...FILES.keys()].sort());
  for (const [name, sum] of Object.entries(SUMS)) assert.equal(await sha256File(join(dest, name)), sum);
  assert.equal(
    await Deno.readTextFile(join(dest, META_FILE)),
    new TextDecoder().decode(FILES.get(META_FILE)),
  );
}

async function writeArchive(bytes: Uint8Array): Promise<string> {
  const dir = await tempRunDir();
  const path = join(dir, "archive.tar.gz");
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("fetchArchive unpacks a path source by base name, verifies, and skips other entries", async () => {
  const source = await writeArchive(ARCHIVE);
  const dest = join(await tempRunDir(), "fetch");
  const result = await fetchArchive(source, dest, OPTIONS);
  await assertAllMembers(dest);
  assert.equal(result.archiveBytes, ARCHIVE.length);
  assert.equal(result.resumes, 0);
  assert.deepEqual(result.members.map((m) => m.name), [...FILES.keys()].sort());
  assert.ok(
    result.members.filter((m) => m.name.endsWith(".bin")).every((m) =>
      m.verified && m.sha256 === SUMS[m.name]
    ),
  );
  assert.equal(result.members.find((m) => m.name === META_FILE)?.verified, false);
});

Deno.test("fetchArchive reads file:// URLs and reports progress in bytes", async () => {
  const source = await writeArchive(ARCHIVE);
  const dest = join(await tempRunDir(), "fetch");
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), tty: false, plainEverySeconds: 0 });
  await fetchArchive(pathToFileURL(source).href, dest, { ...OPTIONS, log });
  await assertAllMembers(dest);
  assert.ok(lines.some((line) => /^fetch .*MB.*MB\/s.*done in/.test(line)), lines.join("\n"));
});

Deno.test("fetchArchive skips an unwanted entry before a large member without stalling", async () => {
  // modern-tar 0.8.6 stalls when a body with data is cancelled and the next entry spans several chunks;
  // the real archive has readme.html (88 bytes) before the 30 MB test_batch.bin.
  const files = makeBatchFiles(3, 100); // test_batch.bin: 307 kB, after readme.html
  const sums = await sumsOf(files);
  const dest = join(await tempRunDir(), "fetch");
  const source = await writeArchive(await makeCifarArchive(files));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("stalled")), 5000);
  });
  try {
    await Promise.race([fetchArchive(source, dest, { expected: sums }), timeout]);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(await sha256File(join(dest, "test_batch.bin")), sums["test_batch.bin"]);
});

Deno.test("fetchArchive downloads over HTTP", async () => {
  await using server = serveBytes(ARCHIVE);
  const dest = join(await tempRunDir(), "fetch");
  const result = await fetchArchive(server.url, dest, OPTIONS);
  await assertAllMembers(dest);
  assert.equal(server.requests.length, 1);
  assert.equal(result.archiveBytes, ARCHIVE.length);
});

Deno.test("fetchArchive resumes a dropped connection with a Range request", async () => {
  await using server = serveBytes(ARCHIVE, {
    chunkBytes: 4096,
    plan: [{ dropAfter: 20_000 }, { dropAfter: 10_000 }],
  });
  const dest = join(await tempRunDir(), "fetch");
  const result = await fetchArchive(server.url, dest, OPTIONS);
  await assertAllMembers(dest);
  assert.equal(result.resumes, 2);
  assert.deepEqual(server.requests.map((r) => r.range), [null, "bytes=20000-", "bytes=30000-"]);
  assert.equal(server.requests[1].ifRange, '"fixture-1"');
});

Deno.test("fetchArchive resumes from a server without ranges by skipping what it has", async () => {
  await using server = serveBytes(ARCHIVE, {
    ranges: false,
    chunkBytes: 4096,
    plan: [{ dropAfter: 24_576 }],
  });
  const dest = join(await tempRunDir(), "fetch");
  const result = await fetchArchive(server.url, dest, OPTIONS);
  await assertAllMembers(dest);
  assert.equal(result.resumes, 1);
  assert.equal(server.requests[1].range, "bytes=24576-");
});

Deno.test("fetchArchive resumes a stalled connection after the idle timeout", async () => {
  await using server = serveBytes(ARCHIVE, { chunkBytes: 4096, plan: [{ stallAfter: 8192 }] });
  const dest = join(await tempRunDir(), "fetch");
  const result = await fetchArchive(server.url, dest, OPTIONS);
  await assertAllMembers(dest);
  assert.equal(result.resumes, 1);
  assert.equal(server.requests[1].range, "bytes=8192-");
});

Deno.test("fetchArchive retries 5xx answers with backoff, then succeeds", async () => {
  await using server = serveBytes(ARCHIVE, { plan: [{ status: 503 }, { status: 500 }] });
  const dest = join(await tempRunDir(), "fetch");
  const waits: number[] = [];
  await fetchArchive(server.url, dest, {
    ...OPTIONS,
    retry: { ...FAST, delayMs: (n) => (waits.push(n), 1) },
  });
  await assertAllMembers(dest);
  assert.equal(server.requests.length, 3);
  assert.deepEqual(waits, [1, 2]);
});

Deno.test("fetchArchive gives up on a persistent 5xx after the bounded retries", async () => {
  await using server = serveBytes(ARCHIVE, { plan: Array(10).fill({ status: 503 }) });
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    () => fetchArchive(server.url, dest, OPTIONS),
    /^Cannot download http:\/\/127\.0\.0\.1:\d+\/archive\.tar\.gz: HTTP 503 Service Unavailable \(after 3 attempts\)$/,
    dest,
  );
  assert.equal(server.requests.length, 3);
});

Deno.test("fetchArchive fails at once on HTTP 404", async () => {
  await using server = serveBytes(ARCHIVE);
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    () => fetchArchive(server.url.replace("archive", "missing"), dest, OPTIONS),
    /^Cannot download http:\/\/.*\/missing\.tar\.gz: HTTP 404 Not Found$/,
    dest,
  );
});

Deno.test("fetchArchive gives up on a refused connection after the bounded retries", async () => {
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    () => fetchArchive(refusedUrl(), dest, OPTIONS),
    /^Cannot download http:\/\/127\.0\.0\.1:\d+\/archive\.tar\.gz: connection refused \(after 3 attempts\)$/,
    dest,
  );
});

Deno.test("fetchArchive gives up when the connection keeps dropping without progress", async () => {
  await using server = serveBytes(ARCHIVE, {
    chunkBytes: 4096,
    plan: [{ dropAfter: 8192 }, ...Array(10).fill({ dropAfter: 0 })],
  });
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    () => fetchArchive(server.url, dest, OPTIONS),
    /^Cannot download .*: the connection dropped at 0\.0 MB of 0\.1 MB \(after 3 attempts\)$/,
    dest,
  );
  assert.equal(server.requests.length, 3, "the try that made progress counts as the first of three");
});

Deno.test("fetchArchive rejects a truncated gzip stream", async () => {
  const source = await writeArchive(ARCHIVE.slice(0, ARCHIVE.length - 100));
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    () => fetchArchive(source, dest, OPTIONS),
    /^Cannot unpack .*archive\.tar\.gz: corrupt or truncated gzip data/,
    dest,
  );
});

Deno.test("fetchArchive rejects a truncated download served as complete", async () => {
  await using server = serveBytes(ARCHIVE.slice(0, ARCHIVE.length >> 1));
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    () => fetchArchive(server.url, dest, OPTIONS),
    /corrupt or truncated gzip data/,
    dest,
  );
});

Deno.test("fetchArchive rejects corrupt gzip data and data that is not gzip", async () => {
  const corrupt = ARCHIVE.slice();
  for (let i = 10; i < 16; i++) corrupt[i] ^= 0x5a; // the first deflate block header
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    async () => fetchArchive(await writeArchive(corrupt), dest, OPTIONS),
    /corrupt or truncated gzip/,
    dest,
  );
  const text = new TextEncoder().encode("<html>not an archive</html>");
  const plain = await writeArchive(text);
  await assertFetchFails(
    () => fetchArchive(plain, dest, OPTIONS),
    /gzip data \(invalid gzip header\)$/,
    dest,
  );
});

Deno.test("fetchArchive rejects a tar that ends early inside valid gzip", async () => {
  const tar = await makeArchive([...FILES].map(([name, data]) => ({ name, data })), { gzip: false });
  const cut = await new Response(
    new Blob([tar.slice(0, 20_000)]).stream().pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    async () => fetchArchive(await writeArchive(cut), dest, OPTIONS),
    /^Cannot unpack .*: the tar data ends early \(truncated archive\)$/,
    dest,
  );
});

Deno.test("fetchArchive names a missing member", async () => {
  const files = new Map(FILES);
  files.delete("test_batch.bin");
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    async () => fetchArchive(await writeArchive(await makeCifarArchive(files)), dest, OPTIONS),
    /^Cannot unpack .*archive\.tar\.gz: the archive has no test_batch\.bin$/,
    dest,
  );
});

Deno.test("fetchArchive rejects a checksum mismatch and leaves nothing behind", async () => {
  const dest = join(await tempRunDir(), "fetch");
  const expected = { ...SUMS, "data_batch_2.bin": "0".repeat(64) };
  await assertFetchFails(
    async () => fetchArchive(await writeArchive(ARCHIVE), dest, { ...OPTIONS, expected }),
    /^Cannot verify data_batch_2\.bin from .*archive\.tar\.gz: SHA-256 is [0-9a-f]{64}, expected 0{64}$/,
    dest,
  );
  // A good run afterwards, into the same folder, works.
  await fetchArchive(await writeArchive(ARCHIVE), dest, OPTIONS);
  await assertAllMembers(dest);
});

Deno.test("fetchArchive writes members by base name only: .. and absolute paths never escape", async () => {
  const root = await tempRunDir();
  const dest = join(root, "a", "b", "fetch");
  const entries = [...FILES].map(([name, data], i) => ({
    name: i % 2 === 0 ? `../../../${name}` : `/tmp/${name}`,
    data,
  }));
  entries.push({ name: "../../escape.txt", data: new TextEncoder().encode("x") });
  await fetchArchive(await writeArchive(await makeArchive(entries)), dest, OPTIONS);
  await assertAllMembers(dest);
  assert.deepEqual(await listDir(join(root, "a", "b")), ["fetch"]);
  assert.deepEqual(await listDir(root), ["a"]);
});

Deno.test("fetchArchive ignores links and directories that carry a member's name", async () => {
  const entries = [...FILES].filter(([name]) => name !== "test_batch.bin").map(([name, data]) => ({
    name,
    data,
  }));
  entries.push({ name: "test_batch.bin", type: "symlink", linkname: "/etc/passwd" } as never);
  entries.push({ name: "x/test_batch.bin/", type: "directory" } as never);
  const dest = join(await tempRunDir(), "fetch");
  await assertFetchFails(
    async () => fetchArchive(await writeArchive(await makeArchive(entries)), dest, OPTIONS),
    /the archive has no test_batch\.bin$/,
    dest,
  );
});

Deno.test("fetchArchive reports a missing source and an unwritable destination", async () => {
  const root = await tempRunDir();
  await assertFetchFails(
    () => fetchArchive(join(root, "nope.tar.gz"), join(root, "fetch"), OPTIONS),
    /^Cannot open .*nope\.tar\.gz: no such file or directory$/,
  );
  const blocker = join(root, "file");
  await Deno.writeTextFile(blocker, "not a folder");
  await assertFetchFails(
    async () => fetchArchive(await writeArchive(ARCHIVE), join(blocker, "fetch"), OPTIONS),
    /^Cannot write .*\/file\/fetch: not a directory$/,
  );
});
