/**
 * The run page and the live poll of a run whose metrics.jsonl has 2,000,000 step lines.
 *
 * ```sh
 * deno run -A bench/dashboard_bench.ts
 * ```
 * @module
 */
import { join } from "node:path";
import { createApp } from "../app.ts";
const runsDir = await Deno.makeTempDir({ prefix: "dash-bench-" });
// A run still training: run.json and train/metrics.jsonl (the page says what else is missing).
const runDir = join(runsDir, "r");
await Deno.mkdir(join(runDir, "train"), { recursive: true });
await Deno.writeTextFile(
  join(runDir, "run.json"),
  JSON.stringify({ version: 1, id: "r", status: "running", preset: "smoke", config: {}, stages: {} }),
);
const path = join(runDir, "train", "metrics.jsonl");
const start = JSON.stringify({ type: "start", epochs: 1, stepsPerEpoch: 2_000_000, batchSize: 256 });
const f = await Deno.open(path, { write: true, create: true, truncate: true });
const enc = new TextEncoder();
await f.write(enc.encode(start + "\n"));
const n = 2_000_000;
let chunk = "";
for (let i = 1; i <= n; i++) {
  chunk += `{"type":"step","epoch":1,"step":${i},"globalStep":${i},"loss":${
    2 - i / n
  },"lr":0.001,"imagesPerSecond":1.5,"tensors":860,"time":"2026-12-01T22:00:00.000Z"}\n`;
  if (i % 50_000 === 0) {
    await f.write(enc.encode(chunk));
    chunk = "";
  }
}
f.close();
console.log(`metrics.jsonl: ${((await Deno.stat(path)).size / 1e6).toFixed(0)} MB, ${n} step lines`);
const app = createApp({ runsDir });
let peak = Deno.memoryUsage().rss;
const base = peak;
const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);
for (const url of [`/runs/r`, `/api/runs/r/live`]) {
  const t = performance.now();
  const body = await (await app.request(url)).text();
  console.log(
    `${url}: ${(body.length / 1e3).toFixed(0)} KB in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
}
clearInterval(sampler);
console.log(`peak RSS growth: ${((peak - base) / 1e6).toFixed(0)} MB`);
await Deno.remove(runsDir, { recursive: true });
