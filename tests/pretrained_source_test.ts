import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { PipelineError } from "../lib/core/errors.ts";
import { sha256Hex } from "../lib/core/hash.ts";
import {
  importPretrained,
  MINDSPORE_RESNET50_URL,
  PRETRAINED_ALIASES,
  resolvePretrained,
} from "../lib/weights/pretrained_source.ts";
import { buildResNet, namedWeights } from "../lib/model/resnet.ts";
import { encodeSafetensors } from "../lib/weights/safetensors.ts";
import { exportNamedTensors } from "../lib/weights/weight_import.ts";

await tf.setBackend("cpu");

async function assertRejectsOneLine(fn: () => Promise<unknown>, pattern: RegExp) {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof PipelineError, `expected PipelineError, got ${err}`);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

/** A local HTTP server for one test: `routes` maps a path to a body (or a status), and requests are counted. */
function serve(routes: Record<string, Uint8Array | number | ReadableStream<Uint8Array>>) {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    const route = routes[path];
    if (route === undefined) return new Response("not found", { status: 404 });
    if (typeof route === "number") return new Response("no", { status: route });
    if (route instanceof ReadableStream) {
      return new Response(route, { headers: { "content-length": "1000" } });
    }
    return new Response(route as Uint8Array<ArrayBuffer>);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { base, hits, close: () => server.shutdown() };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...(await listFiles(join(dir, e.name))).map((n) => `${e.name}/${n}`));
    else out.push(e.name);
  }
  return out.sort();
}

Deno.test("the word 'mindspore' is the tutorial's checkpoint URL", async () => {
  assert.equal(PRETRAINED_ALIASES.mindspore, MINDSPORE_RESNET50_URL);
  assert.match(MINDSPORE_RESNET50_URL, /^https:\/\/.*\/resnet50_224_new\.ckpt$/);
  const cacheDir = await Deno.makeTempDir();
  try {
    const asked: string[] = [];
    const body = new Uint8Array([1, 2, 3]);
    const fakeFetch = (input: string | URL | Request) => {
      asked.push(String(input));
      return Promise.resolve(new Response(body));
    };
    const resolved = await resolvePretrained("mindspore", { cacheDir, fetch: fakeFetch as typeof fetch });
    assert.deepEqual(asked, [MINDSPORE_RESNET50_URL]);
    assert.equal(resolved.url, MINDSPORE_RESNET50_URL);
    assert.match(resolved.path, /pretrained\/[0-9a-f]{16}\/resnet50_224_new\.ckpt$/);
    assert.equal(resolved.sha256, await sha256Hex(body));
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a local path or file:// URL resolves as is, hashed; a missing one is one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "w.safetensors");
    const bytes = new Uint8Array([9, 8, 7, 6]);
    await Deno.writeFile(path, bytes);
    const byPath = await resolvePretrained(path);
    assert.deepEqual(byPath, {
      source: path,
      url: null,
      path,
      sha256: await sha256Hex(bytes),
      bytes: 4,
      cached: false,
    });
    const byUrl = await resolvePretrained(pathToFileURL(path).href);
    assert.equal(byUrl.path, path);
    await assertRejectsOneLine(
      () => resolvePretrained(join(dir, "nope.ckpt")),
      /^Cannot find pretrained weights .*nope\.ckpt/,
    );
    await assertRejectsOneLine(() => resolvePretrained(dir), /not a file$/);
    await assertRejectsOneLine(
      () => resolvePretrained(path, { expectedSha256: "0".repeat(64) }),
      /^Cannot use pretrained weights .*: SHA-256 [0-9a-f]{64}, expected 0{64}$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an http download lands in the cache atomically with its SHA-256, and is served from there next time", async () => {
  const cacheDir = await Deno.makeTempDir();
  const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 2654435761) >>> 24);
  const server = serve({ "/models/w.ckpt": body, "/gone.ckpt": 404 });
  try {
    const url = `${server.base}/models/w.ckpt`;
    const first = await resolvePretrained(url, { cacheDir });
    assert.equal(first.cached, false);
    assert.equal(first.bytes, body.length);
    assert.equal(first.sha256, await sha256Hex(body));
    assert.deepEqual(await Deno.readFile(first.path), body);
    const record = JSON.parse(await Deno.readTextFile(join(dirname(first.path), "source.json")));
    assert.equal(record.url, url);
    assert.equal(record.sha256, first.sha256);
    assert.equal(record.bytes, body.length);

    const second = await resolvePretrained(url, { cacheDir });
    assert.equal(second.cached, true);
    assert.equal(second.path, first.path);
    assert.deepEqual(server.hits, ["/models/w.ckpt"], "no second request");

    // a damaged cache entry is noticed and downloaded again
    await Deno.writeFile(first.path, new Uint8Array(10));
    const third = await resolvePretrained(url, { cacheDir });
    assert.equal(third.cached, false);
    assert.deepEqual(await Deno.readFile(third.path), body);

    await assertRejectsOneLine(
      () => resolvePretrained(`${server.base}/gone.ckpt`, { cacheDir }),
      /^Cannot download pretrained weights http:\/\/127\.0\.0\.1:\d+\/gone\.ckpt: HTTP 404/,
    );
    await assertRejectsOneLine(
      () =>
        resolvePretrained(url.replace("w.ckpt", "w.ckpt?v=2"), { cacheDir, expectedSha256: "f".repeat(64) }),
      /SHA-256 [0-9a-f]{64}, expected f{64}$/,
    );
    const files = await listFiles(join(cacheDir, "pretrained"));
    assert.ok(files.every((f) => !f.includes(".tmp-")), `no temporary files left: ${files}`);
    assert.equal(files.filter((f) => f.endsWith("w.ckpt")).length, 1, "the refused download left no file");
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a download cut short leaves nothing in the cache", async () => {
  const cacheDir = await Deno.makeTempDir();
  const cut = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(100)); // the server promised 1000 bytes
      controller.close();
    },
  });
  const server = serve({ "/cut.ckpt": cut });
  try {
    await assertRejectsOneLine(
      () => resolvePretrained(`${server.base}/cut.ckpt`, { cacheDir }),
      /^Cannot download pretrained weights http:\/\/127\.0\.0\.1:\d+\/cut\.ckpt: /,
    );
    const files = await listFiles(join(cacheDir, "pretrained")).catch(() => []);
    assert.deepEqual(files, [], "nothing left");
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("importPretrained downloads a safetensors file and sets every weight but the head", async () => {
  const cacheDir = await Deno.makeTempDir();
  const source = buildResNet("tiny", { numClasses: 10, seed: 1 });
  const bytes = encodeSafetensors(await exportNamedTensors(source, "torch"));
  const server = serve({ "/tiny.safetensors": bytes });
  try {
    const model = buildResNet("tiny", { numClasses: 10, seed: 2 });
    const head = await namedWeights(model).get("fc/kernel")!.data();
    const report = await importPretrained(model, `${server.base}/tiny.safetensors`, { cacheDir });
    assert.equal(report.source.sha256, await sha256Hex(bytes));
    assert.equal(report.format, "safetensors");
    assert.equal(report.head.imported, false);
    assert.deepEqual(
      await namedWeights(model).get("layer4.0.norm3/moving_variance")!.data(),
      await namedWeights(source).get("layer4.0.norm3/moving_variance")!.data(),
    );
    assert.deepEqual(await namedWeights(model).get("fc/kernel")!.data(), head);
    model.dispose();
  } finally {
    source.dispose();
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});
