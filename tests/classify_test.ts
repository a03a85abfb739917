/**
 * `deno task classify` and what it is made of: PNG/JPEG decoding, the area resize, the run's network with
 * the test batches' normalization, the CLI's text and JSON output and its one-line faults.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as jpeg from "jpeg-js";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { decodeImage, encodePng, ImageInputError, resizeRgb, sniffImageType } from "../lib/figures/mod.ts";
import { classifyBytes, classifyImages, openRunModel } from "../lib/infer/mod.ts";
import { testBatches } from "../lib/data/mod.ts";
import { selectBackend } from "../lib/webgpu/mod.ts";
import { makeModelRun } from "./fixtures/model_run.ts";

await selectBackend("cpu");

const ROOT = new URL("..", import.meta.url).pathname;

/** A w × h RGB picture: left half red, right half blue, a green stripe along the top row. */
function picture(w: number, h: number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      if (x < w / 2) data[o] = 200;
      else data[o + 2] = 180;
      if (y === 0) data[o + 1] = 255;
    }
  }
  return data;
}

Deno.test("decodeImage reads PNG (RGB, RGBA over white) and JPEG by signature; junk is one line naming the file", () => {
  const rgb = encodePng({ width: 3, height: 2, channels: 3, data: picture(3, 2) });
  assert.equal(sniffImageType(rgb), "png");
  assert.deepEqual(decodeImage(rgb, "a.png").data, picture(3, 2));

  const rgba = encodePng({ width: 1, height: 1, channels: 4, data: new Uint8Array([0, 0, 0, 0]) });
  assert.deepEqual(Array.from(decodeImage(rgba, "t.png").data), [255, 255, 255], "transparent → white");

  const w = 40, h = 24;
  const rgbaPixels = new Uint8Array(w * h * 4);
  const src = picture(w, h);
  for (let i = 0; i < w * h; i++) {
    rgbaPixels.set(src.subarray(i * 3, i * 3 + 3), i * 4);
    rgbaPixels[i * 4 + 3] = 255;
  }
  const jpg = new Uint8Array(jpeg.encode({ width: w, height: h, data: rgbaPixels }, 95).data);
  assert.equal(sniffImageType(jpg), "jpeg");
  const decoded = decodeImage(jpg, "b.jpg");
  assert.equal(decoded.width, w);
  assert.equal(decoded.height, h);
  const at = (x: number, y: number) =>
    Array.from(decoded.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
  const [r, , b] = at(5, 10);
  assert.ok(r > 180 && b < 30, `left is red after JPEG: ${at(5, 10)}`);

  assert.throws(() => decodeImage(new TextEncoder().encode("not a picture"), "notes.txt"), {
    name: "ImageInputError",
    message: "Cannot read notes.txt: not a PNG or JPEG file",
  });
  const cut = jpg.subarray(0, 40);
  assert.throws(() => decodeImage(cut, "cut.jpg"), (err: unknown) => {
    assert.ok(err instanceof ImageInputError);
    assert.match(err.message, /^Cannot read cut\.jpg as JPEG: /);
    assert.ok(!err.message.includes("\n"));
    return true;
  });
});

Deno.test("resizeRgb: area average when shrinking (exact means), linear when enlarging, any aspect to a square", () => {
  // 64 × 64 of 2 × 2 blocks: each output pixel is the block's mean
  const w = 64;
  const data = new Uint8Array(w * w * 3);
  for (let y = 0; y < w; y++) {
    for (let x = 0; x < w; x++) data[(y * w + x) * 3] = (x % 2) * 100 + (y % 2) * 50; // 0, 100, 50, 150
  }
  const small = resizeRgb({ width: w, height: w, channels: 3, data }, 32);
  assert.equal(small.data.length, 32 * 32 * 3);
  for (let i = 0; i < 32 * 32; i++) assert.equal(small.data[i * 3], 75);

  // 96 × 48 (3:1.5) → 32 × 32: halves stay halves
  const wide = resizeRgb({ width: 96, height: 48, channels: 3, data: picture(96, 48) }, 32);
  assert.deepEqual(Array.from(wide.data.subarray((16 * 32 + 3) * 3, (16 * 32 + 3) * 3 + 3)), [200, 0, 0]);
  assert.deepEqual(Array.from(wide.data.subarray((16 * 32 + 28) * 3, (16 * 32 + 28) * 3 + 3)), [0, 0, 180]);
  // the one-pixel green top row of 48 covers 1 of the 1.5 source rows of the first output row
  assert.equal(wide.data[1], 170);

  // 2 × 1 → 32 × 32: linear between the two pixels, clamped at the edges
  const big = resizeRgb({ width: 2, height: 1, channels: 3, data: new Uint8Array([0, 0, 0, 200, 0, 0]) }, 32);
  assert.equal(big.data[0], 0);
  assert.equal(big.data[31 * 3], 200);
  const mid = big.data[16 * 3];
  assert.ok(mid > 90 && mid < 120, `the middle is in between: ${mid}`);
  // an already 32 × 32 picture is unchanged
  const same = picture(32, 32);
  assert.deepEqual(resizeRgb({ width: 32, height: 32, channels: 3, data: same }, 32).data, same);
});

Deno.test("classifyImages normalizes as the test batches do and gives the model's own softmax", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_" });
  try {
    await makeModelRun(join(dir, "run"), { arch: "tiny" });
    const run = await openRunModel(join(dir, "run"));
    assert.equal(run.checkpoint, "best");
    assert.equal(run.padding, "same");
    assert.equal(run.classes[3], "cat");
    const tile = picture(32, 32);
    const [scores] = classifyImages(run, [{ width: 32, height: 32, channels: 3, data: tile }], { top: 10 });
    assert.equal(scores.length, 10);
    assert.ok(Math.abs(scores.reduce((a, s) => a + s.probability, 0) - 1) < 1e-5);
    // the same tile through testBatches (the evaluate stage's path)
    const batches = testBatches({ images: tile, labels: new Uint8Array([0]), count: 1 }, {
      batchSize: 1,
      mean: run.mean,
      std: run.std,
    });
    const [batch] = await Array.fromAsync(batches);
    const expected = tf.tidy(() =>
      tf.softmax(run.model.predict(tf.tensor4d(batch.x, [1, 32, 32, 3])) as tf.Tensor).dataSync()
    );
    for (const s of scores) assert.equal(s.probability, expected[s.index]);
    assert.ok(scores[0].probability >= scores[1].probability);
    // the last checkpoint is another network
    const last = await openRunModel(join(dir, "run"), { checkpoint: "last" });
    const answer = classifyBytes(last, encodePng({ width: 32, height: 32, channels: 3, data: tile }), {
      name: "t.png",
    });
    assert.notDeepEqual(answer.top.map((s) => s.probability), scores.slice(0, 3).map((s) => s.probability));
    run.model.dispose();
    last.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function classifyCli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "pipeline/classify.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deno task classify: top-3 per file, --json, a bad file is one line and the others still classify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_cli_" });
  try {
    const runDir = join(dir, "run");
    await makeModelRun(runDir, { arch: "tiny" });
    const png = join(dir, "wide.png");
    await Deno.writeFile(png, encodePng({ width: 48, height: 40, channels: 3, data: picture(48, 40) }));
    const jpg = join(dir, "photo.jpg");
    const rgba = new Uint8Array(100 * 60 * 4).fill(128);
    await Deno.writeFile(jpg, new Uint8Array(jpeg.encode({ width: 100, height: 60, data: rgba }, 90).data));
    const bad = join(dir, "broken.jpg");
    await Deno.writeFile(bad, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));

    const text = await classifyCli(["--run", runDir, png, bad, jpg]);
    assert.equal(text.code, 1, text.stderr);
    const errors = text.stderr.trim().split("\n");
    assert.equal(errors.length, 1, text.stderr);
    assert.match(errors[0], /^error: \[classify\] Cannot read .*broken\.jpg as JPEG: /);
    const blocks = text.stdout.trim().split(/\n(?=\S)/);
    assert.equal(blocks.length, 2, text.stdout);
    assert.match(
      blocks[0],
      /wide\.png \(48×40\):\n {2}1\. \w+ +\d+\.\d %\n {2}2\. \w+ +\d+\.\d %\n {2}3\. \w+ +\d+\.\d %$/,
    );
    assert.match(blocks[1], /photo\.jpg \(100×60\):/);

    const json = await classifyCli(["--run", runDir, "--json", png, bad]);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.length, 2);
    assert.equal(parsed[0].width, 48);
    assert.equal(parsed[0].top.length, 3);
    assert.ok(parsed[0].top[0].probability >= parsed[0].top[2].probability);
    assert.ok(typeof parsed[0].top[0].class === "string");
    assert.match(parsed[1].error, /broken\.jpg/);

    const none = await classifyCli(["--run", join(dir, "absent"), png]);
    assert.equal(none.code, 1);
    assert.match(none.stderr.trim(), /^error: \[classify\] Cannot read .*absent\/run\.json: no such file$/);
    const usage = await classifyCli(["--run", runDir]);
    assert.equal(usage.code, 2);
    assert.equal(usage.stderr.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
