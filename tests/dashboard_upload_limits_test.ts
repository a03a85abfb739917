/**
 * What an upload to the "classify an image" box may cost (docs/dashboard-limits.md): a decompression bomb
 * is refused by its header before any child starts, the children run a bounded number at a time, and a
 * child past its time is stopped.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../app.ts";
import { encodePng } from "../lib/figures/mod.ts";
import { UPLOAD_LIMITS, UploadClassifier } from "../lib/dashboard/mod.ts";
import { makeModelRun } from "./fixtures/model_run.ts";
import { pngBomb } from "./fixtures/png_bomb.ts";

const ID = "model";

async function withRun(fn: (runs: string) => Promise<void>) {
  const runs = await Deno.makeTempDir({ prefix: "dashboard-upload-" });
  try {
    await makeModelRun(join(runs, ID), { arch: "tiny" });
    await fn(runs);
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
}

function post(app: ReturnType<typeof createApp>, body: Uint8Array, name = "grey.png") {
  return app.request(`/api/runs/${ID}/classify?name=${name}`, {
    method: "POST",
    headers: { "content-type": "image/png" },
    body: body as BodyInit,
  });
}

const grey = encodePng({ width: 40, height: 30, channels: 3, data: new Uint8Array(40 * 30 * 3).fill(90) });

Deno.test("a 16000 × 16000 PNG upload is refused in under a second, with under 200 MB more memory and no child", async () => {
  await withRun(async (runs) => {
    const classifier = new UploadClassifier();
    const app = createApp({ runsDir: runs, classifier });
    const bomb = await pngBomb({ width: 16000, height: 16000 });
    const rss0 = Deno.memoryUsage().rss;
    const t0 = performance.now();
    const res = await post(app, bomb, "bomb.png");
    const body = await res.json();
    const ms = performance.now() - t0;
    const grew = Deno.memoryUsage().rss - rss0;
    console.log(
      `PNG bomb (${bomb.length} bytes, 16000×16000): ${res.status} in ${ms.toFixed(0)} ms, ` +
        `rss +${(grew / 1e6).toFixed(1)} MB, ${classifier.started} children`,
    );
    assert.equal(res.status, 413);
    assert.equal(
      body.error,
      `Cannot read bomb.png: 16000×16000 is over ${UPLOAD_LIMITS.maxMegapixels} megapixels`,
    );
    assert.ok(ms < 1000, `${ms} ms`);
    assert.ok(grew < 200e6, `rss grew by ${grew} bytes`);
    assert.equal(classifier.started, 0, "no classify child started");
  });
});

Deno.test("concurrent uploads are capped: two children at a time, two waiting, the rest told to come back", async () => {
  await withRun(async (runs) => {
    const classifier = new UploadClassifier({ maxChildren: 2, maxWaiting: 2 });
    const app = createApp({ runsDir: runs, classifier });
    const responses = await Promise.all(Array.from({ length: 8 }, () => post(app, grey)));
    const statuses = responses.map((r) => r.status);
    const bodies = await Promise.all(responses.map((r) => r.json()));
    console.log(`8 uploads at once: ${statuses.join(" ")}; at most ${classifier.peak} children at a time`);
    assert.deepEqual([...statuses].sort(), [200, 200, 200, 200, 503, 503, 503, 503]);
    for (const [i, res] of responses.entries()) {
      if (res.status === 503) {
        assert.equal(res.headers.get("retry-after"), "5");
        assert.match(bodies[i].error, /^2 pictures are being classified and 2 wait; try again in a moment$/);
      } else assert.equal(bodies[i].top.length, 3);
    }
    assert.equal(classifier.peak, 2);
    assert.equal(classifier.started, 4);
    assert.equal(classifier.active, 0);
  });
});

Deno.test("a classify child that runs past its time is stopped and the upload answered 504", async () => {
  await withRun(async (runs) => {
    const classifier = new UploadClassifier({ timeoutMs: 200 });
    const app = createApp({ runsDir: runs, classifier });
    const t0 = performance.now();
    const res = await post(app, grey);
    const ms = performance.now() - t0;
    assert.equal(res.status, 504);
    assert.equal(
      (await res.json()).error,
      "Cannot classify grey.png: it took longer than 0.2 s and was stopped",
    );
    assert.ok(ms < 5000, `answered after ${ms} ms`);
    assert.equal(classifier.active, 0);
  });
});
