/**
 * The run's figures, drawn without a browser: the sample grid and the prediction grid (SVG, and PNG rendered
 * from the same SVG, titles included), loss and accuracy curves and the confusion matrix (SVG). The dashboard
 * draws its downloads with the same functions.
 *
 * @example
 * ```ts
 * import { confusionSvg, CORRECT_COLOR, predictionTitle } from "./figures.ts";
 * predictionTitle(["cat", "dog"], { label: 0, pred: 1 }); // "Pred: dog / True: cat"
 * const svg = confusionSvg([[3, 1], [0, 4]], ["cat", "dog"]);
 * ```
 * @module
 */
import { encodePng, type RasterImage } from "./png.ts";
import { type GridLayout, gridLayout, scaleTile } from "./image_grid.ts";
import { rasterizeSvg } from "./raster.ts";
import type { EpochPoint, StepPoint } from "../contract/mod.ts";
import { svgDocument, svgElement, type SvgMarkup, svgNumber } from "./svg.ts";
import {
  CORRECT_COLOR,
  formatAccuracyTick,
  heatColor,
  niceDomain,
  predictionColor,
  predictionTitle,
  SERIES_COLORS,
  WRONG_COLOR,
} from "./style.ts";

export { CORRECT_COLOR, predictionColor, predictionTitle, SERIES_COLORS, WRONG_COLOR };

/**
 * Tiles per row of a grid of `count` images: the tutorial's 2 × 3 for six, up to 6 per row for more.
 *
 * @example
 * ```ts
 * gridColumns(6); // 3
 * gridColumns(12); // 6
 * ```
 */
export function gridColumns(count: number): number {
  if (count <= 3) return Math.max(1, count);
  if (count <= 6) return 3;
  return 6;
}

/** A figure drawn as SVG with titles, and as PNG rendered from that SVG (titles included). */
export interface GridFigure {
  /** {@linkcode image}, encoded as PNG. */
  png: Uint8Array;
  /** The SVG rendered to RGB pixels, one pixel per SVG unit. */
  image: RasterImage;
  /** The tiles with their titles, as an SVG file. */
  svg: string;
  /** Where each tile lies in the grid below the figure's title. */
  layout: GridLayout;
  /** Height of the figure's title above the grid: a tile's pixels start at `layout.cells[i].y + top`. */
  top: number;
}

/** One titled tile. */
export interface TitledTile {
  /** 32 × 32 × 3 uint8 HWC pixels. */
  pixels: Uint8Array;
  /** Title above the tile. */
  title: string;
  /** Colour of the title and the frame (`#rrggbb`). */
  color: string;
  /** Attributes for the tile's `<g>` in the SVG (e.g. `data-index`). */
  data?: Record<string, string | number>;
}

const TITLE_FONT = 11;

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The figure's title band above a grid, in SVG units (pixels of the PNG). */
export const GRID_HEADER = 28;

/**
 * A grid of titled tiles: an SVG that embeds each tile, frames it and draws its title, and the same SVG
 * rendered to a PNG (by resvg, with the DejaVu Sans font: see {@linkcode rasterizeSvg}), so the PNG carries
 * the titles too.
 *
 * @example
 * ```ts
 * const pixels = new Uint8Array(32 * 32 * 3);
 * const figure = await titledGrid([{ pixels, title: "cat", color: "#000000" }], { title: "Samples" });
 * await Deno.writeFile("samples.png", figure.png);
 * ```
 */
export async function titledGrid(
  tiles: TitledTile[],
  options: { title: string; columns?: number; scale?: number; frame?: number },
): Promise<GridFigure> {
  const longest = Math.max(0, ...tiles.map((t) => t.title.length));
  const layout = gridLayout(tiles.length, {
    columns: options.columns ?? gridColumns(tiles.length),
    scale: options.scale ?? 5,
    frame: options.frame ?? 3,
    gap: 10,
    titleHeight: TITLE_FONT + 8,
    minCellWidth: Math.ceil(longest * TITLE_FONT * 0.62),
  });
  const header = GRID_HEADER;
  const cells = tiles.map((tile, i) => {
    const { x, y } = layout.cells[i];
    const f = layout.frame;
    const png = encodePng(scaleTile(tile.pixels, 1));
    return svgElement(
      "g",
      { class: "tile", ...tile.data },
      svgElement("rect", {
        x: x - f,
        y: header + y - f,
        width: layout.tileSize + 2 * f,
        height: layout.tileSize + 2 * f,
        fill: f > 0 ? tile.color : "none",
      }),
      svgElement("image", {
        x,
        y: header + y,
        width: layout.tileSize,
        height: layout.tileSize,
        preserveAspectRatio: "none",
        style: "image-rendering:pixelated;image-rendering:crisp-edges",
        href: `data:image/png;base64,${base64(png)}`,
      }),
      svgElement("text", {
        class: "title",
        x: x + layout.tileSize / 2,
        y: header + y - f - 6,
        "text-anchor": "middle",
        "font-size": TITLE_FONT,
        fill: tile.color,
      }, tile.title),
    );
  });
  const svg = svgDocument(layout.width, layout.height + header, [
    svgElement(
      "text",
      { x: 10, y: 19, "font-size": 14, "font-weight": "bold", fill: "#222222" },
      options.title,
    ),
    ...cells,
  ], { title: options.title });
  const image = await rasterizeSvg(svg);
  return { png: encodePng(image), image, svg, layout, top: header };
}

/**
 * The tutorial's prediction grid: each test image titled "Pred: X / True: Y", blue when right, red when wrong.
 *
 * @example
 * ```ts
 * const pixels = new Uint8Array(32 * 32 * 3);
 * const classes = ["airplane", "automobile", "bird", "cat"];
 * const figure = await predictionGrid([{ pixels, index: 0, label: 3, pred: 3, confidence: 0.9 }], classes);
 * ```
 */
export function predictionGrid(
  items: { pixels: Uint8Array; index: number; label: number; pred: number; confidence: number }[],
  classes: readonly string[],
): Promise<GridFigure> {
  const right = items.filter((i) => i.pred === i.label).length;
  return titledGrid(
    items.map((item) => ({
      pixels: item.pixels,
      title: predictionTitle(classes, item),
      color: predictionColor(item),
      data: {
        "data-index": item.index,
        "data-label": item.label,
        "data-pred": item.pred,
        "data-confidence": item.confidence.toFixed(4),
      },
    })),
    {
      title: `Predictions on ${items.length} test images: ${right} right (blue), ${
        items.length - right
      } wrong (red)`,
    },
  );
}

/**
 * The grid of augmented training images, titled with their class names.
 *
 * @example
 * ```ts
 * const pixels = new Uint8Array(32 * 32 * 3);
 * const classes = ["airplane", "automobile", "bird", "cat"];
 * const figure = await sampleGrid([{ pixels, label: 3 }], classes);
 * ```
 */
export function sampleGrid(
  items: { pixels: Uint8Array; label: number }[],
  classes: readonly string[],
): Promise<GridFigure> {
  return titledGrid(
    items.map((item, i) => ({
      pixels: item.pixels,
      title: classes[item.label] ?? `#${item.label}`,
      color: "#222222",
      data: { "data-sample": i, "data-label": item.label },
    })),
    { title: `${items.length} augmented training images (de-normalized)`, frame: 0 },
  );
}

/** One run's curves, for {@linkcode curvesSvg}. */
export interface CurveSeries {
  /** Legend label (a run id). */
  label: string;
  epochs: EpochPoint[];
  /** Per-step losses, drawn faint behind the epoch means. */
  steps?: StepPoint[];
}

/**
 * Nice round tick values covering `[min, max]`.
 *
 * @example
 * ```ts
 * niceTicks(0, 1, 5); // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const decimals = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const out: number[] = [];
  for (let k = Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++) {
    out.push(Number((k * step).toFixed(decimals)) + 0);
  }
  return out;
}

interface PanelSeries {
  color: string;
  points: [number, number][];
  width: number;
  opacity?: number;
  markers?: boolean;
  label?: string;
}

function panel(
  box: { x: number; y: number; w: number; h: number },
  options: {
    title: string;
    xLabel: string;
    xDomain: [number, number];
    yDomain: [number, number];
    series: PanelSeries[];
    yFormat: (v: number, spacing: number) => string;
    kind: string;
  },
): SvgMarkup {
  const { x, y, w, h } = box;
  const [x0, x1] = options.xDomain, [y0, y1] = options.yDomain;
  const sx = (v: number) => x + ((v - x0) / (x1 - x0 || 1)) * w;
  const sy = (v: number) => y + h - ((v - y0) / (y1 - y0 || 1)) * h;
  const parts: SvgMarkup[] = [
    svgElement("text", {
      x: x + w / 2,
      y: y - 10,
      "text-anchor": "middle",
      "font-size": 13,
      "font-weight": "bold",
    }, options.title),
    svgElement("rect", { x, y, width: w, height: h, fill: "none", stroke: "#999999" }),
  ];
  const yTicks = niceTicks(y0, y1, 5);
  const spacing = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  for (const t of yTicks) {
    parts.push(
      svgElement("line", { x1: x, x2: x + w, y1: sy(t), y2: sy(t), stroke: "#e5e5e5" }),
      svgElement(
        "text",
        { x: x - 6, y: sy(t) + 4, "text-anchor": "end", "font-size": 10, fill: "#555555" },
        options.yFormat(t, spacing),
      ),
    );
  }
  const xTicks = niceTicks(x0, x1, Math.min(10, Math.max(1, x1 - x0))).filter((t) => Number.isInteger(t));
  for (const t of xTicks) {
    parts.push(
      svgElement("line", { x1: sx(t), x2: sx(t), y1: y + h, y2: y + h + 4, stroke: "#999999" }),
      svgElement("text", {
        x: sx(t),
        y: y + h + 16,
        "text-anchor": "middle",
        "font-size": 10,
        fill: "#555555",
      }, String(t)),
    );
  }
  parts.push(
    svgElement(
      "text",
      { x: x + w / 2, y: y + h + 32, "text-anchor": "middle", "font-size": 11 },
      options.xLabel,
    ),
  );
  for (const s of options.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([px, py], i) => `${i === 0 ? "M" : "L"}${svgNumber(sx(px))},${svgNumber(sy(py))}`)
      .join("");
    parts.push(svgElement("path", {
      class: `curve ${options.kind}`,
      "data-series": s.label,
      d,
      fill: "none",
      stroke: s.color,
      "stroke-width": s.width,
      "stroke-opacity": s.opacity,
    }));
    if (s.markers) {
      for (const [px, py] of s.points) {
        parts.push(
          svgElement("circle", {
            class: `point ${options.kind}`,
            cx: sx(px),
            cy: sy(py),
            r: 3,
            fill: s.color,
          }),
        );
      }
    }
  }
  return svgElement("g", {
    class: `panel ${options.kind}`,
    "data-top": y,
    "data-height": h,
    "data-y-domain": `${y0},${y1}`,
  }, ...parts);
}

function stepPoints(steps: StepPoint[]): [number, number][] {
  const perEpoch = new Map<number, number>();
  for (const s of steps) perEpoch.set(s.epoch, Math.max(perEpoch.get(s.epoch) ?? 0, s.step));
  return steps.map((s) => [s.epoch - 1 + s.step / (perEpoch.get(s.epoch) || 1), s.loss]);
}

/**
 * Loss and accuracy per epoch, side by side; several series are overlaid (run comparison).
 *
 * @example
 * ```ts
 * const svg = curvesSvg([{ label: "run-a", epochs: [{ epoch: 1, meanLoss: 2.1, testAccuracy: 0.33,
 *   lr: null, seconds: null, imagesPerSecond: null }] }]);
 * ```
 */
export function curvesSvg(series: CurveSeries[], options: { title?: string } = {}): string {
  const width = 860, height = 340 + Math.ceil(series.length / 5) * 16;
  const box = { w: 340, h: 220 };
  const maxEpoch = Math.max(
    1,
    ...series.flatMap((s) => s.epochs.map((e) => e.epoch)),
    ...series.flatMap((s) => s.steps?.map((p) => p.epoch) ?? []),
  );
  const losses = series.flatMap((s) => [
    ...s.epochs.map((e) => e.meanLoss).filter((v): v is number => v !== null),
    ...(s.steps ?? []).map((p) => p.loss),
  ]);
  // Every step loss and epoch mean inside the axis (none below it), and accuracy scaled to the data.
  const lossDomain = niceDomain(losses, { clamp: [0, Infinity] });
  const accuracies = series.flatMap((s) =>
    s.epochs.map((e) => e.testAccuracy).filter((v): v is number => v !== null)
  );
  const accuracyDomain = niceDomain(accuracies, { clamp: [0, 1], minSpan: 0.04 });
  const lossSeries: PanelSeries[] = [], accSeries: PanelSeries[] = [];
  series.forEach((s, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    if (s.steps?.length) {
      lossSeries.push({
        color,
        points: stepPoints(s.steps),
        width: 1,
        opacity: 0.35,
        label: `${s.label} (steps)`,
      });
    }
    lossSeries.push({
      color,
      width: 2,
      markers: true,
      label: s.label,
      points: s.epochs.filter((e) => e.meanLoss !== null).map((e) => [e.epoch, e.meanLoss!]),
    });
    accSeries.push({
      color,
      width: 2,
      markers: true,
      label: s.label,
      points: s.epochs.filter((e) => e.testAccuracy !== null).map((e) => [e.epoch, e.testAccuracy!]),
    });
  });
  // The legend goes on its own rows under the title, so it never overlaps the title.
  const legendRows = Math.ceil(series.length / 5);
  const top = 60 + legendRows * 16;
  const parts: SvgMarkup[] = [
    svgElement(
      "text",
      { x: 20, y: 22, "font-size": 15, "font-weight": "bold" },
      options.title ?? "Training curves",
    ),
    panel({ x: 70, y: top, ...box }, {
      title: "Mean training loss",
      xLabel: "epoch",
      xDomain: [0, maxEpoch],
      yDomain: lossDomain,
      series: lossSeries,
      yFormat: (v) => String(Number(v.toPrecision(3))),
      kind: "loss",
    }),
    panel({ x: 500, y: top, ...box }, {
      title: "Test accuracy",
      xLabel: "epoch",
      xDomain: [0, maxEpoch],
      yDomain: accuracyDomain,
      series: accSeries,
      yFormat: formatAccuracyTick,
      kind: "accuracy",
    }),
  ];
  series.forEach((s, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    const lx = 20 + (i % 5) * 165, ly = 42 + Math.floor(i / 5) * 16;
    parts.push(
      svgElement("rect", { x: lx, y: ly - 9, width: 12, height: 10, fill: color }),
      svgElement("text", { x: lx + 16, y: ly, "font-size": 11 }, s.label),
    );
  });
  if (series.every((s) => s.epochs.length === 0 && !s.steps?.length)) {
    parts.push(
      svgElement("text", {
        x: width / 2,
        y: height / 2,
        "text-anchor": "middle",
        "font-size": 14,
        fill: "#999999",
      }, "no epochs recorded yet"),
    );
  }
  return svgDocument(width, height, parts, { title: options.title ?? "Training curves" });
}

/**
 * The confusion matrix as a heat map: rows are true classes, columns predicted ones, shaded by the share of
 * the row, with the count in each cell.
 *
 * @example
 * ```ts
 * const svg = confusionSvg([[5, 1], [2, 4]], ["cat", "dog"]);
 * ```
 */
export function confusionSvg(
  matrix: number[][],
  classes: readonly string[],
  options: { title?: string } = {},
): string {
  const k = classes.length;
  const cell = 40, left = 100, top = 110;
  const width = left + k * cell + 30, height = top + k * cell + 50;
  const parts: SvgMarkup[] = [
    svgElement(
      "text",
      { x: 12, y: 22, "font-size": 15, "font-weight": "bold" },
      options.title ?? "Confusion matrix",
    ),
    svgElement(
      "text",
      { x: left + (k * cell) / 2, y: 44, "text-anchor": "middle", "font-size": 12 },
      "predicted class",
    ),
    svgElement("text", {
      x: 16,
      y: top + (k * cell) / 2,
      "text-anchor": "middle",
      "font-size": 12,
      transform: `rotate(-90 16 ${svgNumber(top + (k * cell) / 2)})`,
    }, "true class"),
  ];
  classes.forEach((name, i) => {
    parts.push(
      svgElement("text", {
        x: left - 6,
        y: top + i * cell + cell / 2 + 4,
        "text-anchor": "end",
        "font-size": 11,
      }, name),
      svgElement("text", {
        x: left + i * cell + cell / 2,
        y: top - 6,
        "font-size": 11,
        transform: `rotate(-45 ${svgNumber(left + i * cell + cell / 2)} ${top - 6})`,
      }, name),
    );
  });
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((n, j) => {
      const share = total > 0 ? n / total : 0;
      parts.push(
        svgElement("rect", {
          class: "cell",
          "data-true": i,
          "data-pred": j,
          "data-count": n,
          x: left + j * cell,
          y: top + i * cell,
          width: cell,
          height: cell,
          fill: heatColor(share),
          stroke: i === j ? "#222222" : "#ffffff",
        }),
        svgElement("text", {
          x: left + j * cell + cell / 2,
          y: top + i * cell + cell / 2 + 4,
          "text-anchor": "middle",
          "font-size": 11,
          fill: share > 0.5 ? "#ffffff" : "#222222",
        }, String(n)),
      );
    });
  });
  return svgDocument(width, height, parts, { title: options.title ?? "Confusion matrix" });
}
