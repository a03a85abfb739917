/**
 * A screenshot of a run's dashboard page, as a person sees it in Chromium: the dashboard is served over
 * `--runs` on 127.0.0.1, the page of `--run` is opened, its islands hydrate, and the page from the top through
 * the first rows of the prediction grid is saved as `--out` (PNG). The README's `docs/dashboard.png` is made
 * with it from the quick preset's run.
 *
 * ```sh
 * deno run -A tools/screenshot.ts --runs runs --run quick --out docs/dashboard.png
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { createApp } from "../app.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "runs" },
    run: { type: "string", default: "quick" },
    out: { type: "string", default: "docs/dashboard.png" },
    chromium: { type: "string", default: Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium" },
  },
});
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  createApp({ runsDir: values.runs }).fetch,
);
const browser = await chromium.launch({
  executablePath: values.chromium,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const response = await page.goto(
    `http://127.0.0.1:${server.addr.port}/runs/${encodeURIComponent(values.run)}`,
  );
  if (!response?.ok()) throw new Error(`screenshot: /runs/${values.run} answered ${response?.status()}`);
  await page.waitForSelector('[data-island="PredictionExplorer"][data-hydrated="true"]');
  await page.waitForSelector('[data-island="CurvesChart"][data-hydrated="true"]');
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>("figure.pred img, figure.sample img")]
      .every((img) => img.complete && img.naturalWidth > 0)
  );
  const top = await page.$eval("#predictions", (el) => el.getBoundingClientRect().top + globalThis.scrollY);
  await page.screenshot({
    path: values.out,
    fullPage: true,
    clip: { x: 0, y: 0, width: 1280, height: Math.ceil(top + 620) },
  });
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
  await server.shutdown();
}
