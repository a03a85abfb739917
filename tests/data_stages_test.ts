import assert from "node:assert/strict";
import { codeDigestsOf } from "../lib/run/code_graph.ts";
import { join } from "node:path";
import { createAugmentPlan, readAugmentPlan } from "../lib/data/augment_plan.ts";
import { ChannelStats } from "../lib/data/channel_stats.ts";
import { OFFICIAL_SHA256, RECORD_BYTES, TRAIN_FILES } from "../lib/data/cifar_format.ts";
import { resolveConfig } from "../lib/config/config.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { sha256File } from "../lib/core/hash.ts";
import { augmentStage } from "../pipeline/augment.ts";
import { decodeStage } from "../pipeline/decode.ts";
import { createFetchStage, fetchStage } from "../pipeline/fetch.ts";
import {
  makeBatchFiles,
  makeCifarArchive,
  makeContext,
  referenceImage,
  sumsOf,
  tempRunDir,
  writeFiles,
} from "./fixtures/data_fixtures.ts";
import { serveBytes } from "./fixtures/http_fixture.ts";

const FILES = makeBatchFiles(3, 4); // 15 train, 4 test records
const SUMS = await sumsOf(FILES);
const FAST = { attempts: 2, delayMs: () => 1, idleTimeoutMs: 500 };

async function listDir(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

async function assertStageFails(stage: string, run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await run().then(() => undefined, (e) => e);
  assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${err}`);
  assert.equal(err.stage, stage);
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes("\n"));
}

async function archiveFile(files = FILES): Promise<string> {
  const path = join(await tempRunDir(), "cifar.tar.gz");
  await Deno.writeFile(path, await makeCifarArchive(files));
  return path;
}

Deno.test("stage definitions: params hold only what changes the outputs, code lists the files used", async () => {
  const config = resolveConfig("quick", { trainLimit: 256, testLimit: 256, epochs: 2 });
  assert.deepEqual(fetchStage.params(config), {});
  assert.deepEqual(fetchStage.params({ ...config, dataUrl: "https://mirror.example/x.tar.gz" }), {});
  assert.deepEqual(decodeStage.params(config), { trainLimit: 256, testLimit: 256 });
  assert.deepEqual(augmentStage.params(config), {
    seed: 1,
    epochs: 2,
    cropPadding: 4,
    flipProbability: 0.5,
    trainLimit: 256,
  });
  assert.deepEqual(decodeStage.deps, ["fetch"]);
  assert.deepEqual(augmentStage.deps, ["decode"]);
  for (const stage of [fetchStage, decodeStage, augmentStage]) {
    assert.ok(stage.module.pathname.endsWith(`pipeline/${stage.name}.ts`), stage.module.href);
    const code = await codeDigestsOf(stage.module);
    assert.ok(code[`pipeline/${stage.name}.ts`], Object.keys(code).join());
  }
  assert.ok((await codeDigestsOf(fetchStage.module))["lib/data/archive_fetch.ts"]);
  assert.ok((await codeDigestsOf(decodeStage.module))["lib/data/record_stream.ts"]);
  assert.ok((await codeDigestsOf(augmentStage.module))["lib/core/random.ts"]);
});

Deno.test("fetch stage writes the verified members into its folder", async () => {
  const runDir = await tempRunDir();
  const ctx = await makeContext("fetch", runDir, { dataUrl: await archiveFile() });
  const summary = await createFetchStage({ expected: SUMS }).run(ctx);
  assert.deepEqual(await listDir(ctx.dir), [...FILES.keys()].sort());
  for (const [name, sum] of Object.entries(SUMS)) assert.equal(await sha256File(join(ctx.dir, name)), sum);
  assert.equal((summary as { members: unknown[] }).members.length, 7);
});

Deno.test("fetch stage over HTTP, with a retried 503 and a resumed drop", async () => {
  await using server = serveBytes(await makeCifarArchive(FILES), {
    chunkBytes: 4096,
    plan: [{ status: 503 }, { dropAfter: 16_384 }],
  });
  const ctx = await makeContext("fetch", await tempRunDir(), { dataUrl: server.url });
  const summary = await createFetchStage({ expected: SUMS, retry: FAST }).run(ctx);
  assert.equal((summary as { resumes: number }).resumes, 1);
  assert.deepEqual(await listDir(ctx.dir), [...FILES.keys()].sort());
});

Deno.test("the real fetch stage checks the official sums: a foreign archive fails and leaves nothing", async () => {
  const ctx = await makeContext("fetch", await tempRunDir(), { dataUrl: await archiveFile() });
  await assertStageFails(
    "fetch",
    () => fetchStage.run(ctx),
    new RegExp(
      `^Cannot verify data_batch_1\\.bin from .*cifar\\.tar\\.gz: SHA-256 is [0-9a-f]{64}, expected ${
        OFFICIAL_SHA256["data_batch_1.bin"]
      }$`,
    ),
  );
  assert.deepEqual(await listDir(ctx.dir), []);
});

Deno.test("fetch stage rejects a class-name file without ten names", async () => {
  const files = new Map(FILES);
  files.set("batches.meta.txt", new TextEncoder().encode("cat\ndog\n"));
  const ctx = await makeContext("fetch", await tempRunDir(), { dataUrl: await archiveFile(files) });
  await assertStageFails(
    "fetch",
    () => createFetchStage({ expected: SUMS }).run(ctx),
    /^Cannot read batches\.meta\.txt from .*: expected 10 class names, got 2$/,
  );
  assert.deepEqual(await listDir(ctx.dir), []);
});

Deno.test("fetch stage reports HTTP 404 in one line", async () => {
  await using server = serveBytes(new Uint8Array(10));
  const ctx = await makeContext("fetch", await tempRunDir(), { dataUrl: server.url + ".missing" });
  await assertStageFails(
    "fetch",
    () => fetchStage.run(ctx),
    /^Cannot download .*\.missing: HTTP 404 Not Found$/,
  );
});

async function decodeFixture(overrides: Parameters<typeof makeContext>[2] = {}, files = FILES) {
  const runDir = await tempRunDir();
  await writeFiles(join(runDir, "fetch"), files);
  const ctx = await makeContext("decode", runDir, overrides);
  return { runDir, ctx };
}

Deno.test("decode stage writes HWC images, labels and meta.json, first N records file by file", async () => {
  const { ctx } = await decodeFixture({ trainLimit: 7, testLimit: null });
  const summary = await decodeStage.run(ctx);
  assert.deepEqual(await listDir(ctx.dir), [
    "meta.json",
    "test_images.u8",
    "test_labels.u8",
    "train_images.u8",
    "train_labels.u8",
  ]);
  const trainImages = await Deno.readFile(join(ctx.dir, "train_images.u8"));
  const trainLabels = await Deno.readFile(join(ctx.dir, "train_labels.u8"));
  assert.equal(trainLabels.length, 7);
  const sources = [0, 1, 2].flatMap((f) => [0, 1, 2].map((i) => [f, i])).slice(0, 7);
  sources.forEach(([f, i], k) => {
    const bytes = FILES.get(TRAIN_FILES[f])!;
    assert.equal(trainLabels[k], bytes[i * RECORD_BYTES]);
    assert.deepEqual(trainImages.subarray(k * 3072, (k + 1) * 3072), referenceImage(bytes, i));
  });
  const testLabels = await Deno.readFile(join(ctx.dir, "test_labels.u8"));
  assert.deepEqual(
    Array.from(testLabels),
    [0, 1, 2, 3].map((i) => FILES.get("test_batch.bin")![i * RECORD_BYTES]),
  );
  const meta = JSON.parse(await Deno.readTextFile(join(ctx.dir, "meta.json")));
  assert.equal(meta.classes[3], "cat");
  assert.deepEqual(meta.train, { count: 7, available: 15 });
  assert.deepEqual(meta.test, { count: 4, available: 4 });
  const stats = new ChannelStats();
  stats.addMany(trainImages, 7);
  assert.deepEqual(meta.stats.measured, stats.result());
  assert.deepEqual(meta.stats.tutorial, { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010] });
  assert.equal((summary as { train: number }).train, 7);
});

Deno.test("decode stage: a limit above what the files hold keeps them all", async () => {
  const { ctx } = await decodeFixture({ trainLimit: 64, testLimit: 32 });
  await decodeStage.run(ctx);
  assert.equal((await Deno.stat(join(ctx.dir, "train_labels.u8"))).size, 15);
  assert.equal((await Deno.stat(join(ctx.dir, "test_images.u8"))).size, 4 * 3072);
});

Deno.test("decode stage faults: bad length, bad label, missing file, missing class names", async () => {
  const badLength = new Map(FILES);
  badLength.set("data_batch_3.bin", new Uint8Array(3 * RECORD_BYTES + 2));
  await assertStageFails(
    "decode",
    async () => decodeStage.run((await decodeFixture({}, badLength)).ctx),
    /^Cannot decode data_batch_3\.bin: its length 9221 is not a multiple of the 3073-byte record \(2 bytes left over\)$/,
  );
  const badLabel = new Map(FILES);
  const test = FILES.get("test_batch.bin")!.slice();
  test[2 * RECORD_BYTES] = 200;
  badLabel.set("test_batch.bin", test);
  await assertStageFails(
    "decode",
    async () => decodeStage.run((await decodeFixture({}, badLabel)).ctx),
    /^Cannot decode record 2 of test_batch\.bin: label must be < 10, got 200$/,
  );
  const missing = new Map(FILES);
  missing.delete("data_batch_4.bin");
  await assertStageFails(
    "decode",
    async () => decodeStage.run((await decodeFixture({}, missing)).ctx),
    /^Cannot read .*\/fetch\/data_batch_4\.bin: no such file or directory$/,
  );
  const noMeta = new Map(FILES);
  noMeta.delete("batches.meta.txt");
  await assertStageFails(
    "decode",
    async () => decodeStage.run((await decodeFixture({}, noMeta)).ctx),
    /^Cannot read .*\/fetch\/batches\.meta\.txt: no such file or directory$/,
  );
});

async function augmentFixture(overrides: Parameters<typeof makeContext>[2] = {}) {
  const { runDir, ctx } = await decodeFixture({ trainLimit: null, ...overrides });
  await decodeStage.run(ctx);
  return await makeContext("augment", runDir, { trainLimit: null, ...overrides });
}

Deno.test("augment stage writes the seeded plan, its digests and de-normalized samples", async () => {
  const ctx = await augmentFixture({ epochs: 3, seed: 5 });
  const summary = await augmentStage.run(ctx);
  assert.deepEqual(await listDir(ctx.dir), ["augment.json", "plan.bin", "samples.json", "samples.u8"]);
  const plan = await readAugmentPlan(ctx.dir);
  assert.deepEqual(
    plan,
    createAugmentPlan({ seed: 5, epochs: 3, count: 15, cropPadding: 4, flipProbability: 0.5 }),
  );
  const info = JSON.parse(await Deno.readTextFile(join(ctx.dir, "augment.json")));
  assert.equal(info.perEpoch.length, 3);
  assert.deepEqual(
    info.perEpoch.map((e: { sha256: string }) => e.sha256),
    (summary as { digests: string[] }).digests,
  );
  const samples = JSON.parse(await Deno.readTextFile(join(ctx.dir, "samples.json")));
  assert.equal(samples.count, 15);
  assert.deepEqual(samples.indices, Array.from(plan.perEpoch[0].order));
  const images = await Deno.readFile(join(ctx.input("decode"), "train_images.u8"));
  const labels = await Deno.readFile(join(ctx.input("decode"), "train_labels.u8"));
  assert.deepEqual(samples.labels, samples.indices.map((i: number) => labels[i]));
  const pixels = await Deno.readFile(join(ctx.dir, "samples.u8"));
  assert.equal(pixels.length, 15 * 3072);
  // Each sample is its source image padded with zeros, cropped at the plan's offset and flipped if planned.
  samples.indices.forEach((i: number, k: number) => {
    const { cropY, cropX, flip } = plan.perEpoch[0];
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const sy = y + cropY[i] - 4;
        const sx = (flip[i] ? 31 - x : x) + cropX[i] - 4;
        const inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
        for (let c = 0; c < 3; c++) {
          const want = inside ? images[i * 3072 + (sy * 32 + sx) * 3 + c] : 0;
          assert.equal(pixels[k * 3072 + (y * 32 + x) * 3 + c], want);
        }
      }
    }
  });
});

Deno.test("augment stage: same seed → byte-identical outputs; another seed → another plan", async () => {
  const digest = (dir: string) =>
    Promise.all(["plan.bin", "samples.u8"].map((f) => sha256File(join(dir, f))));
  const a = await augmentFixture({ seed: 3 });
  await augmentStage.run(a);
  const b = await augmentFixture({ seed: 3 });
  await augmentStage.run(b);
  assert.deepEqual(await digest(a.dir), await digest(b.dir));
  const c = await augmentFixture({ seed: 4 });
  await augmentStage.run(c);
  assert.notDeepEqual((await digest(c.dir))[0], (await digest(a.dir))[0]);
});

Deno.test("augment stage reports a missing decode output in one line", async () => {
  const ctx = await makeContext("augment", await tempRunDir());
  await assertStageFails(
    "augment",
    () => augmentStage.run(ctx),
    /^Cannot read .*\/decode\/train_images\.u8: no such file or directory$/,
  );
});

Deno.test("decode and augment report an unwritable stage folder in one line", async () => {
  const { runDir, ctx } = await decodeFixture({ trainLimit: null });
  const blocker = join(runDir, "blocker");
  await Deno.writeTextFile(blocker, "a file, not a folder");
  await assertStageFails(
    "decode",
    () => decodeStage.run({ ...ctx, dir: join(blocker, "decode") }),
    /^Cannot write .*\/blocker\/decode\/train_images\.u8: not a directory$/,
  );
  await decodeStage.run(ctx);
  const augmentCtx = await makeContext("augment", runDir, { trainLimit: null });
  await assertStageFails(
    "augment",
    () => augmentStage.run({ ...augmentCtx, dir: join(blocker, "augment") }),
    /^Cannot write .*\/blocker\/augment\/plan\.bin: not a directory$/,
  );
});
