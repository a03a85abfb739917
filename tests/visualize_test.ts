/**
 * The visualize stage and its drawing modules, checked by decoding what they write: PNG sizes and pixels,
 * SVG titles and their colours, curve points and confusion counts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SAMPLE_GRID, visualizeStage } from "../pipeline/visualize.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { createLogger } from "../lib/core/log.ts";
import type { PipelineConfig } from "../lib/config/config.ts";
import type { StageContext } from "../lib/run/stage.ts";
import { decodePng, encodePng, pixelAt, type RasterImage } from "../lib/figures/png.ts";
import { gridLayout, hexToRgb } from "../lib/figures/image_grid.ts";
import { GRID_HEADER, gridColumns, niceTicks } from "../lib/figures/figures.ts";
import { rasterizeSvg } from "../lib/figures/raster.ts";
import { CORRECT_COLOR, predictionTitle, WRONG_COLOR } from "../lib/figures/style.ts";
import { parseEvaluation, parseMetricsJsonl, parseRunManifest } from "../lib/contract/mod.ts";
import { IMAGE_BYTES } from "../lib/data/cifar_format.ts";
import { escapeXml, svgElement } from "../lib/figures/svg.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

function contextFor(runDir: string, config: PipelineConfig, out: string, lines: string[] = []): StageContext {
  return {
    config,
    dir: out,
    runDir,
    cacheDir: join(runDir, ".cache"),
    input: (stage) => join(runDir, stage),
    resume: false,
    log: createLogger({ write: (l) => lines.push(l), tty: false }),
  };
}

/** The `<g class="tile" ...>` groups of a grid SVG: attributes, title text and fill, embedded PNG. */
function svgTiles(svg: string) {
  const tiles = [...svg.matchAll(/<g class="tile"([^>]*)>(.*?)<\/g>/g)];
  return tiles.map(([, attrs, body]) => {
    const attr = (name: string, text: string) => new RegExp(`${name}="([^"]*)"`).exec(text)?.[1];
    const title = /<text class="title"([^>]*)>([^<]*)<\/text>/.exec(body)!;
    const href = /href="data:image\/png;base64,([^"]+)"/.exec(body)![1];
    return {
      index: Number(attr("data-index", attrs)),
      label: Number(attr("data-label", attrs)),
      pred: Number(attr("data-pred", attrs)),
      fill: attr("fill", title[1]),
      title: title[2].replace(/&amp;/g, "&"),
      png: Uint8Array.from(atob(href), (c) => c.charCodeAt(0)),
    };
  });
}

function tileOf(all: Uint8Array, index: number): Uint8Array {
  return all.subarray(index * IMAGE_BYTES, (index + 1) * IMAGE_BYTES);
}

Deno.test("png: encode then decode gives the same RGB pixels", () => {
  const data = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  const image = decodePng(encodePng({ width: 2, height: 2, channels: 3, data }));
  assert.equal(image.width, 2);
  assert.equal(image.height, 2);
  assert.deepEqual(image.data, data);
  assert.deepEqual(pixelAt(image, 1, 1), [10, 20, 30]);
  assert.throws(
    () => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) }),
    /needs 12 bytes/,
  );
});

Deno.test("figure style: the tutorial's title and two named colours", () => {
  assert.equal(predictionTitle(["airplane", "cat"], { pred: 0, label: 1 }), "Pred: airplane / True: cat");
  assert.deepEqual(hexToRgb(CORRECT_COLOR), [31, 79, 209]);
  assert.deepEqual(hexToRgb(WRONG_COLOR), [214, 39, 40]);
  assert.equal(gridColumns(6), 3);
  assert.equal(gridColumns(2), 2);
  assert.equal(gridColumns(12), 6);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(escapeXml(`<a href="x">&`), "&lt;a href=&quot;x&quot;&gt;&amp;");
  assert.equal(svgElement("text", { x: 1.005, hidden: false }, "a<b").markup, '<text x="1">a&lt;b</text>');
});

Deno.test("run files: metrics.jsonl with a half-written last line, bad lines and a resumed epoch", () => {
  const text = [
    '{"type":"start","epochs":2,"stepsPerEpoch":2}',
    '{"type":"step","epoch":1,"step":1,"loss":2.3}',
    "not json",
    '{"type":"epoch","epoch":1,"meanLoss":2.2,"testAccuracy":0.3}',
    '{"type":"epoch","epoch":1,"meanLoss":2.1,"testAccuracy":0.31}',
    '{"type":"step","epoch":2,"st',
  ].join("\n");
  const m = parseMetricsJsonl(text);
  assert.equal(m.steps.length, 1);
  assert.equal(m.epochs.length, 1);
  assert.equal(m.epochs[0].meanLoss, 2.1);
  assert.equal(m.badLines, 1);
  assert.equal(m.partialLine, true);
  assert.equal(m.end, null);
  assert.equal(m.completeBytes, text.lastIndexOf("\n") + 1);
});

Deno.test("run files: evaluation and run.json parsers refuse or tolerate what they must", () => {
  const bad = parseEvaluation({ accuracy: 1, classes: ["a", "b"], confusion: [[1, 0]] });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.problem : "", /2×2 matrix/);
  const derived = parseEvaluation({ classes: ["a", "b"], confusion: [[3, 1], [0, 4]] });
  assert.ok(derived.ok);
  assert.equal(derived.value.accuracy, 7 / 8);
  assert.deepEqual(derived.value.perClass.map((p) => p.accuracy), [0.75, 1]);
  const old = parseRunManifest({
    status: "done",
    config: { preset: "quick", seed: 3 },
    stages: { fetch: {} },
  });
  assert.ok(old.ok);
  assert.equal(old.value.version, null);
  assert.equal(old.value.preset, "quick");
  assert.equal(old.value.stages.fetch?.status, "pending");
  assert.match(old.notes.join(), /older pipeline/);
  assert.equal(parseRunManifest([1, 2]).ok, false);
});

Deno.test("visualize: writes the tutorial's figures, checked by decoding them", async () => {
  const root = await Deno.makeTempDir({ prefix: "visualize-test-" });
  try {
    const run = await makeFixtureRun(join(root, "run"), {
      testCount: 40,
      epochs: 3,
      sampleCount: 9,
      visualize: false,
    });
    const out = join(run.dir, "visualize");
    const lines: string[] = [];
    const summary = await visualizeStage.run(contextFor(run.dir, run.config, out, lines));
    assert.deepEqual(visualizeStage.params(run.config), { grid: 6 });
    assert.deepEqual(visualizeStage.deps, ["decode", "augment", "train", "evaluate"]);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      "confusion.svg",
      "curves.svg",
      "predictions.png",
      "predictions.svg",
      "samples.png",
      "samples.svg",
    ]);
    const testImages = await Deno.readFile(join(run.dir, "decode/test_images.u8"));

    // Prediction grid, SVG: six titles "Pred: X / True: Y", blue when right and red when wrong.
    const first6 = run.predictions.slice(0, 6);
    const predictionSvg = await Deno.readTextFile(join(out, "predictions.svg"));
    const tiles = svgTiles(predictionSvg);
    assert.equal(tiles.length, 6);
    // The same document with only the tiles' titles left: what the title bands of the PNG must show.
    const titleAlone = await rasterizeSvg(
      predictionSvg.replace(/<(rect|image) [^>]*\/>/g, (m) => m.startsWith("<rect width=") ? m : ""),
    );
    tiles.forEach((tile, i) => {
      const p = first6[i];
      assert.equal(tile.index, p.index);
      assert.equal(tile.title, `Pred: ${run.classes[p.pred]} / True: ${run.classes[p.label]}`);
      assert.equal(tile.fill, p.pred === p.label ? CORRECT_COLOR : WRONG_COLOR);
      const embedded = decodePng(tile.png);
      assert.equal(embedded.width, 32);
      assert.deepEqual(embedded.data, tileOf(testImages, p.index));
    });
    assert.ok(
      first6.some((p) => p.pred === p.label) && first6.some((p) => p.pred !== p.label),
      "fixture mixes both",
    );
    assert.equal(summary?.gridRight, first6.filter((p) => p.pred === p.label).length);

    // Prediction grid, PNG: the SVG rendered, so each tile framed in its title's colour, pixels upscaled from
    // the test image, and above it the title "Pred: X / True: Y" drawn in blue (right) or red (wrong).
    const png = decodePng(await Deno.readFile(join(out, "predictions.png")));
    // Height does not depend on the cell width (which follows the longest title).
    const layout = gridLayout(6, { columns: 3, scale: 5, frame: 3, gap: 10, titleHeight: 19 });
    assert.equal(png.height, GRID_HEADER + layout.height);
    assert.equal(layout.rows, 2);
    const frameColors = [CORRECT_COLOR, WRONG_COLOR].map((c) => hexToRgb(c).join());
    const frames = blockCorners(png, 160 + 2 * 3, (rgb) => frameColors.includes(rgb.join()));
    assert.equal(frames.length, 6);
    const pitch = frames[1].x - frames[0].x;
    first6.forEach((p, i) => {
      const { x, y } = frames[i];
      const right = p.pred === p.label;
      assert.deepEqual(pixelAt(png, x, y), hexToRgb(right ? CORRECT_COLOR : WRONG_COLOR));
      assert.ok(
        blockIs(png, x + 3, y + 3, tileOf(testImages, p.index), 5),
        `tile ${i} is test image ${p.index}`,
      );
      // The title band: the 19 rows above the frame, across the cell.
      const band = { x: x + 83 - Math.floor(pitch / 2) + 5, y: y - 19, width: pitch - 10, height: 19 };
      const ink = inkIn(png, band, [CORRECT_COLOR, WRONG_COLOR, "#222222"]);
      const [own, other] = right
        ? [ink[CORRECT_COLOR], ink[WRONG_COLOR]]
        : [ink[WRONG_COLOR], ink[CORRECT_COLOR]];
      assert.ok(own >= 40, `title ${i}: ${own} pixels of ${right ? "blue" : "red"} ink`);
      assert.equal(other, 0, `title ${i}: no ink of the other colour`);
      assert.equal(ink.other, 0, `title ${i}: every drawn pixel is its colour over white`);
      // The band is that title's text: the same pixels as the title element drawn alone at its place.
      assert.deepEqual(
        crop(png, band),
        crop(titleAlone, band),
        `title ${i} reads "${tiles[i].title}"`,
      );
    });
    // Two titles of the same colour but other words differ in their pixels too.
    const wrongTiles = first6.flatMap((p, i) => p.pred !== p.label ? [i] : []);
    const bandOf = (i: number) => ({ x: frames[i].x - 2, y: frames[i].y - 19, width: 170, height: 19 });
    assert.notDeepEqual(crop(png, bandOf(wrongTiles[0])), crop(png, bandOf(wrongTiles[1])));

    // Sample grid: the augmented images as written by augment, titled with their class names.
    const samples = await Deno.readFile(join(run.dir, "augment/samples.u8"));
    const sampleInfo = JSON.parse(await Deno.readTextFile(join(run.dir, "augment/samples.json")));
    const sampleTiles = svgTiles(
      (await Deno.readTextFile(join(out, "samples.svg"))).replace(/data-sample="\d+" /g, ""),
    );
    assert.equal(sampleInfo.count, 9);
    assert.equal(sampleTiles.length, SAMPLE_GRID);
    assert.equal(SAMPLE_GRID, 6, "the tutorial's six");
    sampleTiles.forEach((tile, i) => {
      assert.equal(tile.title, run.classes[sampleInfo.labels[i]]);
      assert.deepEqual(decodePng(tile.png).data, tileOf(samples, i));
    });
    const samplePng = decodePng(await Deno.readFile(join(out, "samples.png")));
    const blocks = blockCorners(samplePng, 160);
    assert.equal(blocks.length, 6);
    blocks.forEach(({ x, y }, i) => {
      assert.ok(blockIs(samplePng, x, y, tileOf(samples, i), 5), `sample ${i}`);
      // Its class name above it, in the dark grey of the SVG's title.
      const ink = inkIn(samplePng, { x: x - 5, y: y - 19, width: 170, height: 19 }, ["#222222"]);
      assert.ok(ink["#222222"] >= 15 && ink.other === 0, `sample ${i}'s title: ${JSON.stringify(ink)}`);
    });

    // Curves: one point per epoch on each panel, accuracy placed by its value.
    const curves = await Deno.readTextFile(join(out, "curves.svg"));
    assert.equal([...curves.matchAll(/class="point accuracy"/g)].length, 3);
    assert.equal([...curves.matchAll(/class="point loss"/g)].length, 3);
    const ys = [...curves.matchAll(/class="point accuracy" cx="[^"]+" cy="([^"]+)"/g)].map((m) =>
      Number(m[1])
    );
    const accs = JSON.parse(await Deno.readTextFile(join(run.dir, "train/train.json"))).epochs.map(
      (e: { testAccuracy: number }) => e.testAccuracy,
    );
    // Accuracy panel: y = top + height * (1 - (accuracy - lo) / (hi - lo)), its axis fitted to the data.
    const [, top, height, lo, hi] =
      /class="panel accuracy" data-top="([^"]+)" data-height="([^"]+)" data-y-domain="([^",]+),([^"]+)"/
        .exec(curves)!.map(Number);
    assert.ok(lo <= Math.min(...accs) && hi >= Math.max(...accs) && hi - lo < 1, `domain ${lo}..${hi}`);
    ys.forEach((y, i) =>
      assert.ok(Math.abs(y - (top + height * (1 - (accs[i] - lo) / (hi - lo)))) < 0.02, `point ${i} at ${y}`)
    );

    // Confusion matrix: 100 cells with the evaluation's counts.
    const confusion = await Deno.readTextFile(join(out, "confusion.svg"));
    const cells = [
      ...confusion.matchAll(/class="cell" data-true="(\d+)" data-pred="(\d+)" data-count="(\d+)"/g),
    ];
    assert.equal(cells.length, 100);
    const evaluation = JSON.parse(await Deno.readTextFile(join(run.dir, "evaluate/evaluation.json")));
    for (const [, t, p, n] of cells) assert.equal(Number(n), evaluation.confusion[Number(t)][Number(p)]);
    assert.match(confusion, /accuracy \d+\.\d% on 40 images/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Top-left corners of the `side` × `side` blocks in a grid: non-white pixels whose left and upper neighbours
 * are white background, starting a run of `side` non-white pixels rightwards and downwards that white ends
 * (`accept` narrows which pixels may start a block), in reading order. Text, whose strokes are far shorter,
 * starts no block. */
function blockCorners(
  png: RasterImage,
  side: number,
  accept: (rgb: number[]) => boolean = () => true,
): { x: number; y: number }[] {
  assert.equal(png.channels, 3, "figures are RGB");
  const d = png.data, w = png.width;
  const isWhite = (x: number, y: number) => {
    if (x >= w || y >= png.height) return true;
    const o = (y * w + x) * 3;
    return d[o] === 255 && d[o + 1] === 255 && d[o + 2] === 255;
  };
  const run = (x: number, y: number, dx: number, dy: number) => {
    for (let k = 0; k < side; k++) if (isWhite(x + k * dx, y + k * dy)) return false;
    return isWhite(x + side * dx, y + side * dy);
  };
  const corners: { x: number; y: number }[] = [];
  for (let y = 1; y < png.height; y++) {
    for (let x = 1; x < w; x++) {
      if (isWhite(x, y) || !isWhite(x - 1, y) || !isWhite(x, y - 1)) continue;
      if (!run(x, y, 1, 0) || !run(x, y, 0, 1)) continue;
      const o = (y * w + x) * 3;
      if (accept([d[o], d[o + 1], d[o + 2]])) corners.push({ x, y });
    }
  }
  return corners.sort((a, b) => a.y - b.y || a.x - b.x);
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The RGB bytes of a box of `png`, row by row. */
function crop(png: RasterImage, box: Box): number[] {
  const out: number[] = [];
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) out.push(...pixelAt(png, x, y).slice(0, 3));
  }
  return out;
}

/**
 * Counts the drawn (non-white) pixels of a box by the colour they are anti-aliased from: a pixel is ink of
 * `#rrggbb` when it lies on the line from white to that colour (each channel 255 + a·(c − 255) for one
 * coverage a, within 4 levels) with a ≥ 0.5; `other` counts drawn pixels of none of `colors`.
 */
function inkIn(png: RasterImage, box: Box, colors: string[]): Record<string, number> & { other: number } {
  const counts: Record<string, number> = Object.fromEntries(colors.map((c) => [c, 0]));
  let other = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const p = pixelAt(png, x, y);
      if (p[0] === 255 && p[1] === 255 && p[2] === 255) continue;
      const match = colors.find((c) => {
        const rgb = hexToRgb(c);
        const k = rgb.reduce((best, v, i) => 255 - v > 255 - rgb[best] ? i : best, 0);
        const a = (255 - p[k]) / (255 - rgb[k]);
        return rgb.every((v, i) => Math.abs(255 + a * (v - 255) - p[i]) <= 4);
      });
      if (match === undefined) other++;
      else {
        const rgb = hexToRgb(match);
        const k = rgb.reduce((best, v, i) => 255 - v > 255 - rgb[best] ? i : best, 0);
        if ((255 - p[k]) / (255 - rgb[k]) >= 0.5) counts[match]++;
      }
    }
  }
  return { ...counts, other } as Record<string, number> & { other: number };
}

/** Whether the `scale`× block at (x, y) of `png` is the 32 × 32 image `src`, pixel for pixel. */
function blockIs(png: RasterImage, x: number, y: number, src: Uint8Array, scale: number): boolean {
  for (let sy = 0; sy < 32; sy++) {
    for (let sx = 0; sx < 32; sx++) {
      const o = (sy * 32 + sx) * 3;
      const p = pixelAt(png, x + sx * scale + scale - 1, y + sy * scale + scale - 1);
      if (p[0] !== src[o] || p[1] !== src[o + 1] || p[2] !== src[o + 2]) return false;
    }
  }
  return true;
}

Deno.test("visualize: --grid N draws N predictions; a grid larger than the test set is clamped", async () => {
  const root = await Deno.makeTempDir({ prefix: "visualize-test-" });
  try {
    const run = await makeFixtureRun(join(root, "run"), { testCount: 14, visualize: false, seed: 5 });
    const out12 = join(root, "out12");
    await visualizeStage.run(contextFor(run.dir, { ...run.config, grid: 12 }, out12));
    const tiles = svgTiles(await Deno.readTextFile(join(out12, "predictions.svg")));
    assert.equal(tiles.length, 12);
    assert.deepEqual(tiles.map((t) => t.index), run.predictions.slice(0, 12).map((p) => p.index));
    const png = decodePng(await Deno.readFile(join(out12, "predictions.png")));
    assert.equal(
      png.height,
      GRID_HEADER + gridLayout(12, { columns: 6, scale: 5, frame: 3, gap: 10, titleHeight: 19 }).height,
    );

    const lines: string[] = [];
    const out99 = join(root, "out99");
    const summary = await visualizeStage.run(contextFor(run.dir, { ...run.config, grid: 99 }, out99, lines));
    assert.equal(summary?.grid, 14);
    assert.ok(lines.some((l) => /only 14 predictions for a grid of 99/.test(l)), lines.join("\n"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("visualize: a missing or broken input is one clear PipelineError", async () => {
  const root = await Deno.makeTempDir({ prefix: "visualize-test-" });
  try {
    const run = await makeFixtureRun(join(root, "run"), { testCount: 8, visualize: false });
    await Deno.remove(join(run.dir, "evaluate/predictions.json"));
    await assert.rejects(
      () => visualizeStage.run(contextFor(run.dir, run.config, join(root, "o1"))),
      (err: unknown) =>
        err instanceof PipelineError && err.stage === "visualize" &&
        err.message === "Cannot read evaluate/predictions.json: it does not exist",
    );
    await Deno.writeTextFile(join(run.dir, "evaluate/predictions.json"), '{"classes": ["a"], "items": [');
    await assert.rejects(
      () => visualizeStage.run(contextFor(run.dir, run.config, join(root, "o2"))),
      /Cannot read evaluate\/predictions.json: .*JSON/,
    );
    await Deno.writeTextFile(
      join(run.dir, "evaluate/predictions.json"),
      JSON.stringify({ classes: run.classes, items: [{ index: 500, label: 1, pred: 1, confidence: 0.5 }] }),
    );
    await assert.rejects(
      () => visualizeStage.run(contextFor(run.dir, run.config, join(root, "o3"))),
      /Cannot read decode\/test_images.u8: image 500 lies past the end/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
