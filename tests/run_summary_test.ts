/** The end-of-run summary, from a run.json alone: the table printed and the object stored. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatRunSummary, summarizeRun } from "../lib/run/mod.ts";
import type { RunManifest } from "../lib/contract/mod.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

Deno.test("summarizeRun and formatRunSummary: stage times, best accuracy and epoch, figures, dashboard command", async () => {
  const root = await Deno.makeTempDir({ prefix: "summary_" });
  try {
    const run = await makeFixtureRun(join(root, "runs", "my run"));
    const manifest = JSON.parse(await Deno.readTextFile(join(run.dir, "run.json"))) as RunManifest;
    const train = manifest.stages.train!.summary as { bestAccuracy: number; bestEpoch: number };
    const summary = summarizeRun(run.dir, manifest);
    assert.deepEqual(summary.stages.map((s) => s.stage), [
      "fetch",
      "decode",
      "augment",
      "train",
      "evaluate",
      "visualize",
    ]);
    assert.equal(summary.bestAccuracy, train.bestAccuracy);
    assert.equal(summary.bestEpoch, train.bestEpoch);
    assert.ok(summary.figures.includes(join(run.dir, "visualize", "curves.svg")), summary.figures.join());
    assert.equal(summary.dashboard, `deno task dashboard --runs ${join(root, "runs")}`);
    assert.equal(summary.url, "http://127.0.0.1:8000/runs/my%20run");
    const text = formatRunSummary(summary);
    const lines = text.split("\n");
    assert.equal(lines[0], "summary:");
    assert.match(lines[1], /^ {2}fetch {6}done +\S+$/);
    assert.match(
      text,
      new RegExp(`best test accuracy ${(train.bestAccuracy * 100).toFixed(1)} % at epoch ${train.bestEpoch}`),
    );
    assert.ok(
      text.includes(`figures in ${join(run.dir, "visualize")}/: `) && text.includes("curves.svg"),
      text,
    );
    assert.ok(lines.every((l) => l.length < 200), "short lines");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
