/**
 * The curves' axes: accuracy scaled to the data, every step loss inside the loss axis, the legend on its
 * own row under the title.
 */
import assert from "node:assert/strict";
import { type CurveSeries, curvesSvg, niceDomain } from "../lib/figures/mod.ts";

const epoch = (e: number, meanLoss: number, testAccuracy: number) => ({
  epoch: e,
  meanLoss,
  testAccuracy,
  lr: null,
  seconds: null,
  imagesPerSecond: null,
});

function panel(svg: string, kind: string) {
  const m = new RegExp(
    `class="panel ${kind}" data-top="([^"]+)" data-height="([^"]+)" data-y-domain="([^",]+),([^"]+)"`,
  ).exec(svg);
  assert.ok(m, `panel ${kind}`);
  const [top, height, lo, hi] = m.slice(1).map(Number);
  return { top, height, lo, hi };
}

Deno.test("niceDomain: round, holds every value, clamped", () => {
  assert.deepEqual(niceDomain([0.06, 0.1], { clamp: [0, 1], minSpan: 0.04 }), [0.05, 0.11]);
  assert.deepEqual(niceDomain([], { clamp: [0, 1] }), [0, 1]);
  const [lo, hi] = niceDomain([0.97, 0.99, 1], { clamp: [0, 1], minSpan: 0.04 });
  assert.ok(lo < 0.97 && hi === 1);
  const [a, b] = niceDomain([2.31, 1.62, 2.9], { clamp: [0, Infinity] });
  assert.ok(a <= 1.62 && b >= 2.9 && a >= 0);
  assert.deepEqual(niceDomain([0.1], { clamp: [0, 1], minSpan: 0.04 }), [0.07, 0.13]);
});

Deno.test("curves.svg: accuracy axis fits 6 % vs 10 %; step losses stay inside the loss axis; legend below the title", () => {
  const steps = [[1, 1, 3.4], [1, 2, 1.2], [2, 1, 2.0], [2, 2, 0.9]].map(([e, step, loss]) => ({
    epoch: e,
    step,
    loss,
    lr: null,
    imagesPerSecond: null,
    time: null,
  }));
  const series: CurveSeries[] = [
    { label: "run-a", epochs: [epoch(1, 2.3, 0.06), epoch(2, 1.45, 0.1)], steps },
    { label: "run-b", epochs: [epoch(1, 2.2, 0.08), epoch(2, 1.6, 0.09)] },
  ];
  const svg = curvesSvg(series, { title: "Training curves (resnet50, 2 epochs) with a long title" });
  const acc = panel(svg, "accuracy");
  assert.ok(acc.lo >= 0.04 && acc.hi <= 0.12, `accuracy axis ${acc.lo}..${acc.hi}, not 0..1`);
  const ys = [...svg.matchAll(/class="point accuracy" cx="[^"]+" cy="([^"]+)"/g)].map((m) => Number(m[1]));
  const spread = Math.max(...ys) - Math.min(...ys);
  assert.ok(spread > acc.height / 3, `6 % and 10 % are far apart (${spread} px of ${acc.height})`);

  const loss = panel(svg, "loss");
  const path = /class="curve loss" data-series="run-a \(steps\)" d="([^"]+)"/.exec(svg)![1];
  const pathYs = [...path.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
  assert.equal(pathYs.length, 4);
  for (const y of pathYs) {
    assert.ok(y >= loss.top - 1e-6 && y <= loss.top + loss.height + 1e-6, `step loss at y ${y}`);
  }

  const titleY = Number(/<text x="20" y="([\d.]+)" font-size="15"/.exec(svg)![1]);
  const legendYs = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="12" height="10"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(legendYs.length, 2);
  for (const y of legendYs) assert.ok(y > titleY + 4, `legend (y ${y}) below the title (baseline ${titleY})`);
  assert.ok(Math.max(...legendYs) + 10 < acc.top - 20, "legend above the panel titles");
});
