/**
 * One real browser test: Debian's Chromium driven by playwright-core opens the run page of a smoke run and
 * checks that the prediction grid shows real images with blue/red titles, that uPlot draws the curves, that
 * the prediction island reacts to a click on the confusion matrix, and that a running run's page updates
 * without a reload. It saves a screenshot of the run page (see SCREENSHOT).
 *
 * Chromium missing is a failure, said loudly; `SKIP_BROWSER=1` skips the test with a loud line instead.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";
import { createApp } from "../app.ts";
import { ensureClientBundle } from "../lib/dashboard/client_bundle.ts";
import { CORRECT_COLOR, WRONG_COLOR } from "../lib/figures/style.ts";
import { hexToRgb } from "../lib/figures/image_grid.ts";
import { decodePng, encodePng } from "../lib/figures/png.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";
import { smokeRunForBrowser } from "./fixtures/smoke_run.ts";
import { dataTest } from "./fixtures/shared_data.ts";

/** Where Debian puts Chromium; `CHROMIUM_PATH` overrides it. */
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
/** The launch flags measured to work here (see /work/shared/GUIDE.md, "Browser tests"). */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/**
 * Where the screenshot of the run page goes: a temporary file, or `SCREENSHOT_PATH` (e.g.
 * `SCREENSHOT_PATH=/tmp/smoke.png deno test -A --unstable-webgpu tests/browser_test.ts`), so the test suite
 * never changes the working tree. docs/dashboard.png, the quick run's page, is made by tools/screenshot.ts.
 */
const SCREENSHOT = Deno.env.get("SCREENSHOT_PATH") ??
  join(Deno.makeTempDirSync({ prefix: "screenshot-" }), "run.png");

const skip = Deno.env.get("SKIP_BROWSER") === "1";
if (skip) {
  console.warn(
    "\n" + "!".repeat(78) +
      "\n!!! SKIPPED: tests/browser_test.ts (SKIP_BROWSER=1): the dashboard was NOT checked in a browser\n" +
      "!".repeat(78) + "\n",
  );
}

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const rgb = (hex: string) => `rgb(${hexToRgb(hex).join(", ")})`;

dataTest({
  name: "browser: the run page in Chromium: image grid, chart, islands and live updates",
  ignore: skip,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!chromiumPresent()) {
      throw new Error(
        `\n${"!".repeat(78)}\n!!! Chromium is not at ${CHROMIUM}: the browser test cannot run.\n` +
          `!!! Install it (apt-get install -y chromium), set CHROMIUM_PATH, or set SKIP_BROWSER=1 to skip.\n${
            "!".repeat(78)
          }`,
      );
    }
    await ensureClientBundle();
    const { runsDir, id } = await smokeRunForBrowser();
    const live = await makeFixtureRun(join(runsDir, "live"), { status: "running", epochs: 3, testCount: 8 });
    const predictions = JSON.parse(await Deno.readTextFile(join(runsDir, id, "evaluate/predictions.json")));
    const classes: string[] = predictions.classes;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createApp({ runsDir }).fetch,
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const errors: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(`${base}/runs/${id}`);
      await page.waitForSelector('[data-island="PredictionExplorer"][data-hydrated="true"]');
      await page.waitForSelector('[data-island="CurvesChart"][data-hydrated="true"]');

      // The grid: real images (32×32 PNGs), titles "Pred: X / True: Y", blue when right, red when wrong.
      await page.waitForFunction(() =>
        [...document.querySelectorAll<HTMLImageElement>("figure.pred img, figure.sample img")]
          .every((img) => img.complete && img.naturalWidth > 0)
      );
      const grid = await page.$$eval("figure.pred", (figs) =>
        figs.map((f) => {
          const img = f.querySelector("img") as HTMLImageElement | null;
          const caption = f.querySelector("figcaption")!;
          return {
            label: Number(f.getAttribute("data-label")),
            pred: Number(f.getAttribute("data-pred")),
            text: caption.textContent,
            color: getComputedStyle(caption).color,
            width: img?.naturalWidth ?? 0,
          };
        }));
      assert.equal(grid.length, Math.min(24, predictions.items.length));
      for (const g of grid) {
        assert.equal(g.text, `Pred: ${classes[g.pred]} / True: ${classes[g.label]}`);
        assert.equal(g.color, g.pred === g.label ? rgb(CORRECT_COLOR) : rgb(WRONG_COLOR));
        assert.equal(g.width, 32, "a real 32×32 image");
      }
      const kinds = new Set(
        predictions.items.slice(0, 24).map((p: { label: number; pred: number }) => p.label === p.pred),
      );
      assert.equal(new Set(grid.map((g) => g.pred === g.label)).size, kinds.size);
      assert.ok(
        await page.$$eval("figure.sample img", (imgs) => imgs.length) > 0,
        "sample grid shows images",
      );

      // The chart draws: uPlot's canvases hold the series' blue.
      await page.waitForSelector(".curves[data-drawn]");
      const [r, g, b] = hexToRgb(CORRECT_COLOR);
      const painted = await page.$$eval("[data-chart] canvas", (canvases, [r, g, b]) =>
        canvases.map((c) => {
          const canvas = c as HTMLCanvasElement;
          const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (
              Math.abs(data[i] - r) < 30 && Math.abs(data[i + 1] - g) < 30 && Math.abs(data[i + 2] - b) < 30
            ) n++;
          }
          return n;
        }), [r, g, b]);
      assert.equal(painted.length, 2, "a loss chart and an accuracy chart");
      for (const n of painted) assert.ok(n > 50, `chart painted ${n} series pixels`);

      // The screenshot: the page from the top through the confusion matrix and the first rows of the grid.
      const top = await page.$eval(
        "#predictions",
        (el) => el.getBoundingClientRect().top + globalThis.scrollY,
      );
      await page.evaluate(() => globalThis.scrollTo(0, 0));
      await Deno.mkdir(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({
        path: SCREENSHOT,
        fullPage: true,
        clip: { x: 0, y: 0, width: 1280, height: Math.ceil(top + 620) },
      });
      const shot = decodePng(await Deno.readFile(SCREENSHOT));
      assert.equal(shot.width, 1280);

      // The island reacts: a confusion-matrix cell shows exactly its images, most confident first.
      const counts = new Map<string, number>();
      for (const p of predictions.items) {
        counts.set(`${p.label},${p.pred}`, (counts.get(`${p.label},${p.pred}`) ?? 0) + 1);
      }
      const cells = [...counts].sort((a, b) => {
        const offA = a[0].split(",")[0] !== a[0].split(",")[1],
          offB = b[0].split(",")[0] !== b[0].split(",")[1];
        return Number(offB) - Number(offA) || b[1] - a[1];
      });
      const [[cellKey, cellCount]] = cells;
      const [t, p] = cellKey.split(",");
      await page.click(`button.cell[data-true="${t}"][data-pred="${p}"]`);
      await page.waitForSelector(`.explorer-count[data-selected="${cellCount}"]`);
      const shown = await page.$$eval("figure.pred", (figs) =>
        figs.map((f) => ({
          label: f.getAttribute("data-label"),
          pred: f.getAttribute("data-pred"),
          confidence: Number(f.getAttribute("data-confidence")),
        })));
      assert.equal(shown.length, Math.min(cellCount, 24));
      for (const s of shown) assert.deepEqual([s.label, s.pred], [t, p]);
      for (let i = 1; i < shown.length; i++) {
        assert.ok(shown[i - 1].confidence >= shown[i].confidence, "most confident first");
      }
      assert.equal(
        await page.$eval(
          `button.cell[data-true="${t}"][data-pred="${p}"]`,
          (b) => b.classList.contains("selected"),
        ),
        true,
      );
      await page.locator(".island-PredictionExplorer .filters").getByRole("button", { name: "clear" })
        .click();
      await page.check('input[name="wrong"]');
      const wrong = predictions.items.filter((x: { label: number; pred: number }) =>
        x.label !== x.pred
      ).length;
      await page.waitForSelector(`.explorer-count[data-selected="${wrong}"]`);
      assert.equal(await page.$$eval("figure.pred.right", (f) => f.length), 0);

      // "Classify an image": an uploaded PNG comes back as the top-3 classes with bars, the same answer as
      // the API's; a file that is not an image is one line in the box.
      await page.waitForSelector('[data-island="ClassifyBox"][data-hydrated="true"]');
      const upload = join(runsDir, "upload.png");
      const pixels = new Uint8Array(50 * 40 * 3).map((_, i) => (i * 37) % 256);
      await Deno.writeFile(upload, encodePng({ width: 50, height: 40, channels: 3, data: pixels }));
      await page.setInputFiles(".classify-box input[type=file]", upload);
      await page.waitForSelector(".classify-top li:nth-child(3)");
      const answer = await page.$$eval(".classify-top li", (lis) =>
        lis.map((li) => ({
          cls: li.querySelector(".class")!.textContent,
          p: li.querySelector(".p")!.textContent,
          bar: (li.querySelector(".bar") as HTMLElement).getBoundingClientRect().width,
        })));
      const api = await (await fetch(`${base}/api/runs/${id}/classify?name=upload.png`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: await Deno.readFile(upload),
      })).json();
      assert.deepEqual(
        answer.map((a) => [a.cls, a.p]),
        api.top.map((
          s: { class: string; probability: number },
        ) => [s.class, `${(s.probability * 100).toFixed(1)} %`]),
      );
      for (const a of answer) assert.ok(a.bar > 0, `a bar for ${a.cls}`);
      assert.ok(answer[0].bar >= answer[2].bar, "bars by probability");
      assert.match(
        await page.textContent(".classify-answer p") ?? "",
        /upload\.png \(50×40, seen as 32×32\)/,
      );
      const notImage = join(runsDir, "notes.png");
      await Deno.writeTextFile(notImage, "not a picture");
      await page.setInputFiles(".classify-box input[type=file]", notImage);
      await page.waitForSelector(".classify-error");
      assert.equal(
        await page.textContent(".classify-error"),
        "Cannot read notes.png: not a PNG or JPEG file",
      );
      errors.splice(0, errors.length, ...errors.filter((e) => !/status of 415/.test(e)));

      // A run still training updates without a reload when metrics.jsonl grows.
      await page.goto(`${base}/runs/live`);
      await page.waitForSelector('[data-island="RunMonitor"][data-hydrated="true"]');
      const before = await page.textContent(".run-monitor .progress");
      const drawnBefore = Number(await page.getAttribute(".curves", "data-drawn"));
      await Deno.writeTextFile(
        join(live.dir, "train/metrics.jsonl"),
        '3,"step":3,"loss":1.25,"lr":0.0001}\n{"type":"step","epoch":3,"step":4,"loss":1.125,"lr":0.0001}\n',
        { append: true },
      );
      await page.waitForFunction(
        () => document.querySelector(".run-monitor .progress")?.textContent?.includes("loss 1.125"),
        undefined,
        { timeout: 8000 },
      );
      assert.notEqual(before, await page.textContent(".run-monitor .progress"));
      await page.waitForFunction(
        (n) => Number(document.querySelector(".curves")?.getAttribute("data-drawn")) > n,
        drawnBefore,
      );
      assert.deepEqual(errors, [], "no errors in the page");
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(runsDir, { recursive: true });
    }
  },
});
