/**
 * The dashboard's "classify an image" route and the run page's edge cases: run folders named with spaces or
 * accents, an invalid evaluation file said to be invalid, one status badge.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../app.ts";
import { encodePng } from "../lib/figures/mod.ts";
import { MAX_UPLOAD_BYTES } from "../lib/dashboard/mod.ts";
import { makeModelRun } from "./fixtures/model_run.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

const ID = "été run 1";

Deno.test("dashboard: classify an uploaded image; bounded, images only; odd folder names; invalid evaluation", async (t) => {
  const runs = await Deno.makeTempDir({ prefix: "dashboard-classify-" });
  try {
    await makeModelRun(join(runs, ID), { arch: "tiny" });
    await makeFixtureRun(join(runs, "no-checkpoint"), { visualize: false });
    await Deno.writeTextFile(join(runs, "no-checkpoint", "evaluate", "evaluation.json"), "{ half");
    await Deno.remove(join(runs, "no-checkpoint", "train", "checkpoints"), { recursive: true }).catch(
      () => {},
    );
    const app = createApp({ runsDir: runs });
    const enc = encodeURIComponent(ID);
    const png = encodePng({ width: 40, height: 30, channels: 3, data: new Uint8Array(40 * 30 * 3).fill(90) });
    const post = (id: string, body: Uint8Array, type = "image/png") =>
      app.request(`/api/runs/${encodeURIComponent(id)}/classify?name=grey.png`, {
        method: "POST",
        headers: { "content-type": type },
        body: body as BodyInit,
      });

    await t.step("a folder named with spaces and accents is listed and opens", async () => {
      const list = await (await app.request("/")).text();
      assert.ok(list.includes(`data-run="${ID}"`), "listed");
      assert.ok(list.includes(`href="/runs/${enc}"`), "linked, encoded");
      const page = await app.request(`/runs/${enc}`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /data-island="ClassifyBox"/);
      assert.match(html, /Classify an image/);
      assert.ok(html.includes(`<h1>${ID}</h1>`), "the title has no second badge");
      assert.equal(html.match(/class="status-line"><span class="badge status-done">/g)?.length, 1);
      assert.equal((await app.request(`/runs/${encodeURIComponent(".hidden")}`)).status, 404);
      assert.equal((await app.request(`/runs/${encodeURIComponent("../x")}`)).status, 404);
    });

    await t.step("POST a PNG: top-3 classes with probabilities", async () => {
      const res = await post(ID, png);
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.file, "grey.png");
      assert.equal(body.width, 40);
      assert.equal(body.top.length, 3);
      assert.ok(body.top[0].probability >= body.top[1].probability);
      assert.ok(body.top.every((s: { class: string }) => typeof s.class === "string"));
    });

    await t.step("anything else is refused with one line", async () => {
      const text = await post(ID, new TextEncoder().encode("hello"), "text/plain");
      assert.equal(text.status, 415);
      assert.match((await text.json()).error, /send a PNG or JPEG/);
      const fake = await post(ID, new TextEncoder().encode("hello"));
      assert.equal(fake.status, 415);
      assert.equal((await fake.json()).error, "Cannot read grey.png: not a PNG or JPEG file");
      const big = await post(ID, new Uint8Array(MAX_UPLOAD_BYTES + 1));
      assert.equal(big.status, 413);
      assert.match((await big.json()).error, /over 2 MB/);
      const none = await post("no-checkpoint", png);
      assert.equal(none.status, 409);
      const why = (await none.json()).error;
      assert.match(why, /^Cannot load no-checkpoint\/train\/checkpoints\/best/);
      assert.ok(!why.includes(runs), "no server path in the answer");
      assert.equal((await post("absent", png)).status, 404);
    });

    await t.step("compare says which runs it leaves out past 8", async () => {
      const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
      const html = await (await app.request(`/compare?runs=${[ID, "no-checkpoint", ...ids].join(",")}`))
        .text();
      assert.match(html, /A comparison shows at most 8 runs; left out: r6, r7, r8, r9\./);
      const few = await (await app.request(`/compare?runs=${ID},no-checkpoint`)).text();
      assert.doesNotMatch(few, /left out/);
    });

    await t.step("an evaluation file that exists but is invalid is said to be invalid", async () => {
      const html = await (await app.request("/runs/no-checkpoint")).text();
      assert.match(html, /evaluate\/evaluation\.json is invalid/);
      assert.doesNotMatch(html, /Not evaluated yet/);
      assert.match(html, /No best checkpoint yet/);
    });
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});
