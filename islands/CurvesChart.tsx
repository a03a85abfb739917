/**
 * Loss and accuracy per epoch drawn with uPlot: one run (live while it trains) or several overlaid.
 *
 * @example
 * ```tsx
 * import CurvesChart from "./CurvesChart.tsx";
 * import type { CurveData, LiveSnapshot } from "./types.ts";
 * declare const curve: CurveData;
 * declare const snapshot: LiveSnapshot;
 * export const one = <CurvesChart series={[curve]} />;
 * export const live = <CurvesChart series={[]} live={{ runId: "quick", initial: snapshot }} />;
 * ```
 * @module
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { formatAccuracyTick, niceDomain, SERIES_COLORS } from "@/lib/figures/style.ts";
import { liveRun } from "./live.ts";
import type { CurveData, LiveSnapshot } from "./types.ts";

/** Props of {@linkcode CurvesChart}. */
export interface CurvesChartProps {
  /** The curves to draw (ignored when `live` is given). */
  series: CurveData[];
  /** Follow one run's live state instead. */
  live?: { runId: string; initial: LiveSnapshot };
  /** Height of each chart in pixels (default 240). */
  height?: number;
}

function stepX(curve: CurveData, epoch: number, step: number): number {
  const perEpoch = curve.stepsPerEpoch ??
    Math.max(1, ...curve.steps.filter((s) => s.epoch === epoch).map((s) => s.step));
  return epoch - 1 + step / perEpoch;
}

type Column = (number | null)[];

/** Align several (x, y) lists on one sorted x axis, as uPlot wants. */
function align(lists: [number, number][][]): [number[], ...Column[]] {
  const xs = [...new Set(lists.flatMap((l) => l.map(([x]) => x)))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const columns = lists.map((l) => {
    const col: Column = new Array(xs.length).fill(null);
    for (const [x, y] of l) col[at.get(x)!] = y;
    return col;
  });
  return [xs, ...columns];
}

function chartOptions(
  kind: "loss" | "accuracy",
  series: uPlot.Series[],
  width: number,
  height: number,
): uPlot.Options {
  return {
    width,
    height,
    title: kind === "loss" ? "Training loss" : "Test accuracy",
    // Both axes fit the data (accuracy within 0–100 %, loss from 0 up), so 6 % vs 10 % is not a flat line.
    scales: {
      x: { time: false },
      y: {
        range: (_u, min, max) =>
          kind === "accuracy"
            ? niceDomain([min, max], { clamp: [0, 1], minSpan: 0.04 })
            : niceDomain([min, max], { clamp: [0, Infinity] }),
      },
    },
    axes: [
      { label: "epoch", values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : "")) },
      kind === "accuracy"
        ? {
          values: (_u, vals) =>
            vals.map((v) => formatAccuracyTick(v, vals.length > 1 ? vals[1] - vals[0] : 1)),
        }
        : {},
    ],
    series: [{ label: "epoch" }, ...series],
    legend: { show: true },
  };
}

function buildCharts(el: HTMLElement, curves: CurveData[], height: number): uPlot[] {
  const width = Math.max(280, Math.floor((el.clientWidth || 900) / 2) - 16);
  const lossLists: [number, number][][] = [], lossSeries: uPlot.Series[] = [];
  const accLists: [number, number][][] = [], accSeries: uPlot.Series[] = [];
  curves.forEach((c, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    if (c.steps.length) {
      lossLists.push(c.steps.map((s) => [stepX(c, s.epoch, s.step), s.loss]));
      lossSeries.push({
        label: `${c.label} step loss`,
        stroke: color + "59",
        width: 1,
        spanGaps: true,
        points: { show: false },
      });
    }
    lossLists.push(c.epochs.filter((e) => e.meanLoss !== null).map((e) => [e.epoch, e.meanLoss!]));
    lossSeries.push({
      label: `${c.label} mean loss`,
      stroke: color,
      width: 2,
      spanGaps: true,
      points: { show: true, size: 6 },
    });
    accLists.push(c.epochs.filter((e) => e.testAccuracy !== null).map((e) => [e.epoch, e.testAccuracy!]));
    accSeries.push({
      label: `${c.label} accuracy`,
      stroke: color,
      width: 2,
      spanGaps: true,
      points: { show: true, size: 6 },
    });
  });
  const lossEl = el.querySelector<HTMLElement>("[data-chart=loss]")!;
  const accEl = el.querySelector<HTMLElement>("[data-chart=accuracy]")!;
  return [
    new uPlot(chartOptions("loss", lossSeries, width, height), align(lossLists) as uPlot.AlignedData, lossEl),
    new uPlot(
      chartOptions("accuracy", accSeries, width, height),
      align(accLists) as uPlot.AlignedData,
      accEl,
    ),
  ];
}

/** Two uPlot charts side by side: loss (step and epoch means) and test accuracy per epoch. */
export default function CurvesChart({ series, live, height = 240 }: CurvesChartProps) {
  const curves = live ? [liveRun(live.runId, live.initial).value.curve] : series;
  const root = useRef<HTMLDivElement>(null);
  const key = JSON.stringify(curves);
  useEffect(() => {
    const el = root.current;
    if (!el) return;
    for (const c of el.querySelectorAll("[data-chart]")) c.replaceChildren();
    const charts = buildCharts(el, curves, height);
    el.dataset.drawn = String(curves.reduce((n, c) => n + c.epochs.length + c.steps.length, 0));
    return () => charts.forEach((c) => c.destroy());
  }, [key, height]);
  const epochs = Math.max(0, ...curves.map((c) => c.epochs.length));
  return (
    <div class="curves" ref={root}>
      {epochs === 0 && curves.every((c) => c.steps.length === 0) && (
        <p class="empty">No epochs recorded yet.</p>
      )}
      <div class="chart-row">
        <div class="chart" data-chart="loss" />
        <div class="chart" data-chart="accuracy" />
      </div>
    </div>
  );
}
