/**
 * The dashboard through the imported app (no socket): pages, API, downloads, images, live updates,
 * robustness against half-written, running, old and broken run folders, and path traversal.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../app.ts";
import { PAGE_CSP } from "../utils.ts";
import { DOWNLOADS } from "../routes/api/runs/[id]/download/[name].ts";
import { decodePng } from "../lib/figures/png.ts";
import { IMAGE_BYTES } from "../lib/data/cifar_format.ts";
import { CORRECT_COLOR, WRONG_COLOR } from "../lib/figures/style.ts";
import { listRuns, resolveInside } from "../lib/dashboard/run_reader.ts";
import { BUNDLE_OUTPUT, ensureClientBundle, recordedBundleStamp } from "../lib/dashboard/client_bundle.ts";
import { PROJECT_ROOT } from "../lib/core/paths.ts";
import { parseDashboardArgs } from "../main.ts";
import { UsageError } from "../lib/core/errors.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

const SECRET = "TOP-SECRET-OUTSIDE-THE-RUNS-FOLDER";

/** Run folders in every state the dashboard must survive. */
async function makeRunsFolder(root: string) {
  const runs = join(root, "runs");
  const done = await makeFixtureRun(join(runs, "done"), { testCount: 40, epochs: 3 });
  await makeFixtureRun(join(runs, "other"), {
    testCount: 24,
    epochs: 2,
    seed: 11,
    config: { batchSize: 32 },
    createdAt: "2026-01-02T03:04:05.000Z",
  });
  await makeFixtureRun(join(runs, "live"), { status: "running", epochs: 3, testCount: 16 });

  // Older version: no version/env, no record of evaluate/visualize, predictions and figures missing.
  await makeFixtureRun(join(runs, "old"), { testCount: 16, visualize: false });
  const oldManifest = JSON.parse(await Deno.readTextFile(join(runs, "old/run.json")));
  delete oldManifest.version;
  delete oldManifest.env;
  delete oldManifest.stages.evaluate;
  delete oldManifest.stages.visualize;
  await Deno.writeTextFile(join(runs, "old/run.json"), JSON.stringify(oldManifest));
  await Deno.remove(join(runs, "old/evaluate/predictions.json"));

  // Half written: run.json cut mid-write, only decode there.
  await makeFixtureRun(join(runs, "half"), { testCount: 8, visualize: false });
  const halfText = await Deno.readTextFile(join(runs, "half/run.json"));
  await Deno.writeTextFile(join(runs, "half/run.json"), halfText.slice(0, halfText.length / 2));
  for (const stage of ["fetch", "augment", "train", "evaluate"]) {
    await Deno.remove(join(runs, "half", stage), { recursive: true });
  }

  // No run.json at all, only decode/meta.json.
  await Deno.mkdir(join(runs, "bare/decode"), { recursive: true });
  await Deno.writeTextFile(
    join(runs, "bare/decode/meta.json"),
    JSON.stringify({ classes: ["a", "b"], test: { count: 0 } }),
  );

  // Broken files everywhere.
  await makeFixtureRun(join(runs, "broken"), { testCount: 12, visualize: false });
  const b = (rel: string) => join(runs, "broken", rel);
  await Deno.writeTextFile(
    b("evaluate/evaluation.json"),
    JSON.stringify({ classes: ["a", "b", "c"], confusion: [[1]] }),
  );
  const preds = JSON.parse(await Deno.readTextFile(b("evaluate/predictions.json")));
  preds.items.push({ index: "x" }, null, { index: 999, label: 1, pred: 2, confidence: 0.9 });
  await Deno.writeTextFile(b("evaluate/predictions.json"), JSON.stringify(preds));
  await Deno.writeTextFile(
    b("train/metrics.jsonl"),
    '{"type":"step","epoch":1,"step":1,"loss":2}\ngarbage\n[1]\n{"type":',
  );
  await Deno.writeTextFile(b("train/train.json"), JSON.stringify({ epochs: "nope" }));
  const images = await Deno.readFile(b("decode/test_images.u8"));
  await Deno.writeFile(b("decode/test_images.u8"), images.subarray(0, Math.floor(IMAGE_BYTES * 5.5)));
  await Deno.writeTextFile(b("augment/samples.json"), JSON.stringify({ count: 6, labels: ["cat"] }));
  const brokenManifest = JSON.parse(await Deno.readTextFile(b("run.json")));
  brokenManifest.stages.train = "weird";
  brokenManifest.stages.decode.outputs = [{ nope: 1 }];
  await Deno.writeTextFile(b("run.json"), JSON.stringify(brokenManifest));

  // Not runs: an empty folder, a hidden one, and a symlinked run that lives outside.
  await Deno.mkdir(join(runs, "empty"));
  await makeFixtureRun(join(runs, ".hidden"), { testCount: 4, visualize: false });
  const outside = join(root, "outside");
  await makeFixtureRun(join(outside, "escaped"), { testCount: 4, visualize: false });
  await Deno.writeTextFile(join(outside, "secret.txt"), SECRET);
  await Deno.writeTextFile(join(root, "secret.txt"), SECRET);
  await Deno.symlink(join(outside, "escaped"), join(runs, "escape"));
  // Inside a run: a symlink out (refused) and one to a sibling file (allowed).
  await Deno.symlink(join(outside, "secret.txt"), join(runs, "done/visualize/leak.txt"));
  await Deno.symlink("curves.svg", join(runs, "done/visualize/alias.svg"));
  return { runs, done };
}

function dataProps(html: string, island: string): Record<string, unknown> {
  const m = new RegExp(`data-island="${island}" data-props="([^"]*)"`).exec(html);
  assert.ok(m, `island ${island} is on the page`);
  const text = m[1].replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(
    /&amp;/g,
    "&",
  );
  return JSON.parse(text);
}

const RUN_IDS = ["done", "other", "live", "old", "half", "bare", "broken"];

Deno.test("dashboard", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "dashboard-test-" });
  try {
    const { runs, done } = await makeRunsFolder(root);
    const app = createApp({ runsDir: runs });
    const get = (path: string) => app.request(path);

    await t.step("the list of runs: status, preset, best accuracy, date; nothing outside", async () => {
      const res = await get("/");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-security-policy"), PAGE_CSP);
      const html = await res.text();
      for (const id of RUN_IDS) assert.match(html, new RegExp(`data-run="${id}"`));
      assert.doesNotMatch(html, /data-run="(escape|empty|\.hidden)"/);
      assert.match(html, /<span class="badge status-running">running<\/span>/);
      assert.match(html, /older run\.json \(no version\)/);
      assert.match(html, /run\.json is not valid JSON \(half written\?\)/);
      assert.match(html, /run\.json is missing/);
      const list = await (await get("/api/runs")).json();
      const row = list.find((r: { id: string }) => r.id === "done");
      const train = JSON.parse(await Deno.readTextFile(join(done.dir, "train/train.json")));
      assert.equal(row.bestAccuracy, train.bestAccuracy);
      assert.equal(row.preset, "smoke");
      assert.equal(row.status, "done");
      assert.equal(
        list[list.length - 1].id === "other" || list.some((r: { id: string }) => r.id === "other"),
        true,
      );
      assert.equal(list.find((r: { id: string }) => r.id === "other").createdAt, "2026-01-02T03:04:05.000Z");
    });

    await t.step(
      "the run page: config, stages with keys and timings, curves, evaluation, grids",
      async () => {
        const html = await (await get("/runs/done")).text();
        const manifest = JSON.parse(await Deno.readTextFile(join(done.dir, "run.json")));
        assert.ok(html.includes(manifest.stages.train.key.slice(0, 12)), "train's cache key");
        assert.match(html, /<tr data-key="batchSize"><th>batchSize<\/th><td><code>16<\/code>/);
        assert.match(html, /data-island="CurvesChart"/);
        assert.match(html, /data-stage="visualize"/);
        const evaluation = JSON.parse(await Deno.readTextFile(join(done.dir, "evaluate/evaluation.json")));
        assert.match(
          html,
          new RegExp(`Test accuracy <b class="accuracy">${(evaluation.accuracy * 100).toFixed(1)}%`),
        );
        assert.equal([...html.matchAll(/<tr data-class="/g)].length, 10);
        // The prediction grid is rendered on the server (then hydrated) with coloured titles.
        const figures = [...html.matchAll(/<figure class="pred (right|wrong)"[^>]*>.*?<\/figure>/g)];
        assert.equal(figures.length, 24);
        for (const [fig, kind] of figures) {
          const color = kind === "right" ? CORRECT_COLOR : WRONG_COLOR;
          assert.match(
            fig,
            new RegExp(`<figcaption style="color:\\s*${color};?">Pred: \\w+ / True: \\w+</figcaption>`),
          );
          assert.match(fig, /<img src="\/api\/runs\/done\/images\/test\/\d+\.png"/);
        }
        const props = dataProps(html, "PredictionExplorer") as {
          predictions: { index: number[] };
          classes: string[];
        };
        assert.equal(props.predictions.index.length, 40);
        assert.equal(props.classes.length, 10);
        assert.equal([...html.matchAll(/<figure class="sample"/g)].length, 6);
        for (const f of ["samples.png", "predictions.svg", "curves.svg", "confusion.svg"]) {
          assert.ok(html.includes(`/runs/done/files/visualize/${f}`), f);
        }
        const curve = dataProps(html, "CurvesChart") as { series: { epochs: unknown[]; steps: unknown[] }[] };
        assert.equal(curve.series[0].epochs.length, 3);
        assert.equal(curve.series[0].steps.length, 12);
      },
    );

    await t.step("test and sample images are real PNGs encoded from the .u8 files", async () => {
      const testImages = await Deno.readFile(join(done.dir, "decode/test_images.u8"));
      const res = await get("/api/runs/done/images/test/7.png");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      const png = decodePng(await res.bytes());
      assert.equal(png.width, 32);
      assert.deepEqual(png.data, testImages.subarray(7 * IMAGE_BYTES, 8 * IMAGE_BYTES));
      const big = decodePng(await (await get("/api/runs/done/images/test/7.png?scale=3")).bytes());
      assert.equal(big.width, 96);
      const samples = await Deno.readFile(join(done.dir, "augment/samples.u8"));
      const sample = decodePng(await (await get("/api/runs/done/images/sample/2.png")).bytes());
      assert.deepEqual(sample.data, samples.subarray(2 * IMAGE_BYTES, 3 * IMAGE_BYTES));
      for (
        const bad of [
          "test/40.png",
          "test/-1.png",
          "test/1.jpg",
          "test/abc.png",
          "train/0.png",
          "test/0.png?scale=9",
        ]
      ) {
        assert.equal((await get(`/api/runs/done/images/${bad}`)).status, 404, bad);
      }
    });

    await t.step("curves and metrics download as CSV and SVG", async () => {
      const csv = await get("/api/runs/done/download/curves.csv");
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get("content-disposition") ?? "", /attachment; filename="done-curves\.csv"/);
      const lines = (await csv.text()).trim().split("\r\n");
      assert.equal(lines[0], "epoch,meanLoss,testAccuracy,lr,seconds,imagesPerSecond");
      assert.equal(lines.length, 4);
      assert.equal(
        (await (await get("/api/runs/done/download/steps.csv")).text()).trim().split("\r\n").length,
        13,
      );
      const confusion = (await (await get("/api/runs/done/download/confusion.csv")).text()).trim().split(
        "\r\n",
      );
      assert.equal(confusion.length, 11);
      const evaluation = JSON.parse(await Deno.readTextFile(join(done.dir, "evaluate/evaluation.json")));
      assert.deepEqual(confusion[4].split(",").slice(1).map(Number), evaluation.confusion[3]);
      const svg = await get("/api/runs/done/download/curves.svg");
      assert.equal(svg.headers.get("content-type"), "image/svg+xml");
      assert.equal([...(await svg.text()).matchAll(/class="point accuracy"/g)].length, 3);
      const cm = await (await get("/api/runs/done/download/confusion.svg")).text();
      assert.equal([...cm.matchAll(/class="cell"/g)].length, 100);
      const predCsv = (await (await get("/api/runs/done/download/predictions.csv")).text()).trim().split(
        "\r\n",
      );
      assert.equal(predCsv.length, 41);
      assert.equal((await get("/api/runs/done/download/secrets.csv")).status, 404);
      assert.equal((await get("/api/runs/done/download/constructor")).status, 404);
      assert.equal((await get("/api/runs/live/download/confusion.csv")).status, 404);
    });

    await t.step("comparison: config diff, curves overlaid, metrics side by side, downloads", async () => {
      const html = await (await get("/compare?run=done&run=other")).text();
      const differ = /<tbody class="differ">(.*?)<\/tbody>/.exec(html)![1];
      for (const key of ["seed", "epochs", "batchSize", "testLimit"]) {
        assert.match(differ, new RegExp(`data-key="${key}"`));
      }
      assert.doesNotMatch(differ, /data-key="arch"/);
      assert.match(html, /settings are the same/);
      const chart = dataProps(html, "CurvesChart") as { series: { label: string }[] };
      assert.deepEqual(chart.series.map((s) => s.label), ["done", "other"]);
      assert.match(html, /<tr data-metric="best accuracy">/);
      assert.match(html, /<tr data-metric="accuracy: cat">/);
      const metrics = await (await get("/api/compare/metrics.csv?run=done&run=other")).text();
      assert.match(metrics.split("\r\n")[0], /^metric,done,other$/);
      const svg = await (await get("/api/compare/curves.svg?runs=done,other")).text();
      assert.match(svg, /data-series="done"/);
      assert.match(svg, /data-series="other"/);
      const picker = await (await get("/compare?run=done&run=nope")).text();
      assert.match(picker, /No such run: nope/);
      assert.match(picker, /Pick two or more runs/);
      assert.equal((await get("/api/compare/curves.svg?run=nope")).status, 404);
    });

    await t.step("a run still training: live endpoint follows metrics.jsonl as it grows", async () => {
      const html = await (await get("/runs/live")).text();
      assert.match(html, /train\/train\.json is not written yet: training is still going/);
      assert.match(
        html,
        /evaluate\/evaluation\.json is missing: no confusion matrix or per-class accuracy \(the run has not got there yet\)/,
      );
      const chart = dataProps(html, "CurvesChart") as { live?: { runId: string } };
      assert.equal(chart.live?.runId, "live");
      const before = await (await get("/api/runs/live/live")).json();
      assert.equal(before.status, "running");
      assert.equal(before.curve.epochs.length, 2);
      // The writer finishes its half line and appends an epoch.
      const path = join(runs, "live/train/metrics.jsonl");
      await Deno.writeTextFile(
        path,
        '3,"step":2,"loss":1.5}\n{"type":"epoch","epoch":3,"meanLoss":1.4,"testAccuracy":0.7,"lr":0.0001}\n',
        { append: true },
      );
      const after = await (await get("/api/runs/live/live")).json();
      assert.equal(after.curve.epochs.length, 3);
      assert.deepEqual(after.progress, { epoch: 3, step: 2, stepsPerEpoch: 4, epochs: 3, loss: 1.5 });
      assert.equal(after.stages.find((s: { name: string }) => s.name === "train").status, "running");
    });

    await t.step(
      "half-written, old, bare and broken runs render what exists and say what is missing",
      async () => {
        const half = await (await get("/runs/half")).text();
        assert.match(
          half,
          /run\.json is not valid JSON \(half written\?\): no status, config or stage records/,
        );
        assert.match(half, /train\/metrics\.jsonl is missing/);
        assert.match(half, /<figure class="sample"|No samples/);
        const old = await (await get("/runs/old")).text();
        assert.match(old, /written by an older pipeline/);
        assert.match(old, /evaluate\/predictions\.json is missing: no prediction grid/);
        assert.match(old, /run\.json has no record of the evaluate stage/);
        assert.match(old, /Test accuracy <b class="accuracy">/);
        const bare = await (await get("/runs/bare")).text();
        assert.match(bare, /run\.json is missing: no status, config or stage records/);
        const broken = await (await get("/runs/broken")).text();
        assert.match(broken, /evaluation\.json: confusion must be a 3×3 matrix of counts/);
        assert.match(broken, /predictions\.json: 2 malformed items skipped/);
        assert.match(broken, /8 predictions point past the 5 test images/);
        assert.match(broken, /train\/metrics\.jsonl: 2 unreadable lines skipped/);
        assert.match(broken, /train\.json has no list of epochs/);
        assert.match(broken, /samples\.json has no list of integer labels/);
        assert.match(broken, /<div class="no-image">no image<\/div>/);
        assert.equal(
          (await get("/api/runs/broken/images/test/5.png")).status,
          404,
          "partial image is not served",
        );
        assert.equal((await get("/api/runs/broken/images/test/4.png")).status, 200);
      },
    );

    await t.step("no route answers 500 for any run folder", async () => {
      const paths = ["/", "/compare", `/compare?${RUN_IDS.map((id) => `run=${id}`).join("&")}`];
      for (const name of ["curves.svg", "curves.csv", "metrics.csv"]) {
        paths.push(`/api/compare/${name}?${RUN_IDS.map((id) => `run=${id}`).join("&")}`);
      }
      for (const id of [...RUN_IDS, "empty", "missing-run"]) {
        paths.push(
          `/runs/${id}`,
          `/api/runs/${id}`,
          `/api/runs/${id}/live`,
          `/api/runs/${id}/images/test/0.png`,
          `/api/runs/${id}/images/sample/0.png`,
          `/runs/${id}/files/run.json`,
          `/runs/${id}/files/visualize/curves.svg`,
          ...Object.keys(DOWNLOADS).map((n) => `/api/runs/${id}/download/${n}`),
        );
      }
      for (const path of paths) {
        const res = await get(path);
        assert.ok(res.status === 200 || res.status === 404, `${path} answered ${res.status}`);
        await res.body?.cancel();
      }
      for (const id of RUN_IDS) assert.equal((await get(`/runs/${id}`)).status, 200, id);
      assert.equal((await get("/runs/empty")).status, 200);
      assert.equal((await get("/runs/missing-run")).status, 404);
    });

    await t.step("only files inside the runs folder are served", async () => {
      const ok = await get("/runs/done/files/visualize/samples.png");
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("content-type"), "image/png");
      assert.match(ok.headers.get("content-security-policy") ?? "", /sandbox/);
      assert.equal(decodePng(await ok.bytes()).channels, 3);
      assert.equal((await get("/runs/done/files/visualize/alias.svg")).status, 200, "symlink inside is fine");
      const attacks = [
        "/runs/done/files/../../secret.txt",
        "/runs/done/files/%2e%2e/%2e%2e/secret.txt",
        "/runs/done/files/%2E%2E/%2E%2E/%2E%2E/secret.txt",
        "/runs/done/files/..%2f..%2fsecret.txt",
        "/runs/done/files/..%2F..%2F..%2Fsecret.txt",
        "/runs/done/files/visualize%2f..%2f..%2f..%2fsecret.txt",
        "/runs/done/files/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/runs/done/files/..%5c..%5csecret.txt",
        `/runs/done/files/${encodeURIComponent(join(root, "secret.txt"))}`,
        `/runs/done/files/${join(root, "secret.txt")}`,
        "/runs/done/files//etc/passwd",
        "/runs/done/files/%2fetc%2fpasswd",
        "/runs/done/files/visualize/leak.txt",
        "/runs/done/files/visualize/%00curves.svg",
        "/runs/done/files/visualize",
        "/runs/done/files/",
        "/runs/..%2foutside/files/secret.txt",
        "/runs/%2e%2e/files/secret.txt",
        "/runs/escape",
        "/runs/escape/files/run.json",
        "/runs/.hidden",
        "/api/runs/escape",
        "/api/runs/escape/images/test/0.png",
        "/api/runs/..%2foutside%2fescaped/images/test/0.png",
        "/api/runs/escape/live",
        "/static/..%2f..%2fsecret.txt",
        "/static/%2e%2e%2fdeno.json",
        "/static/../deno.json",
        "/runs/done/files/%ZZ",
      ];
      for (const path of attacks) {
        const res = await get(path);
        const body = await res.text();
        assert.equal(res.status, 404, `${path} answered ${res.status}`);
        assert.ok(!body.includes(SECRET), `${path} leaked the secret`);
      }
      assert.equal(await resolveInside(runs, ["done", "..", "..", "secret.txt"]), null);
      assert.equal(await resolveInside(runs, ["/etc"]), null);
      assert.notEqual(await resolveInside(runs, ["done", "run.json"]), null);
      assert.deepEqual((await listRuns(runs)).map((r) => r.id).sort(), [...RUN_IDS].sort());
    });

    await t.step("static files and security headers", async () => {
      const js = await get("/static/client.js");
      assert.equal(js.status, 200);
      assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.match(await js.text(), /^\/\/ islands-sha256: [0-9a-f]{64}\n/);
      assert.equal((await get("/static/uplot.min.css")).status, 200);
      assert.equal((await get("/static/style.css")).status, 200);
      assert.equal((await get("/static/nope.js")).status, 404);
      const notFound = await get("/no/such/page");
      assert.equal(notFound.status, 404);
      assert.match(await notFound.text(), /Not found/);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("dashboard: static/client.js matches the islands' sources (rebuilt here when stale)", async () => {
  const result = await ensureClientBundle();
  assert.equal(await recordedBundleStamp(), result.stamp);
  const bundle = await Deno.readTextFile(join(PROJECT_ROOT, BUNDLE_OUTPUT));
  assert.ok(bundle.length < 200_000, `bundle is ${bundle.length} bytes`);
  assert.doesNotMatch(bundle, /tensorflow|tfjs-core/i, "islands never pull in tfjs");
  assert.match(bundle, /data-island|dataset\.island|\.island\b/);
});

Deno.test("dashboard: command line defaults to loopback:8000 and the runs folder", () => {
  assert.deepEqual(parseDashboardArgs([]), { port: 8000, host: "127.0.0.1", runs: "runs", build: false });
  assert.deepEqual(parseDashboardArgs(["--port", "0", "--runs", "/tmp/r", "--host", "::1"]), {
    port: 0,
    host: "::1",
    runs: "/tmp/r",
    build: false,
  });
  assert.equal(parseDashboardArgs(["--help"]), "help");
  assert.throws(() => parseDashboardArgs(["--port", "http"]), UsageError);
  assert.throws(() => parseDashboardArgs(["--port", "70000"]), /--port must be an integer/);
  assert.throws(() => parseDashboardArgs(["--nope"]), UsageError);
});
