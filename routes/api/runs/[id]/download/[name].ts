/**
 * `GET /api/runs/:id/download/:name`: a run's curves and metrics to save, as CSV or SVG:
 * `curves.csv` (per epoch), `steps.csv` (per step), `curves.svg`, `per-class.csv`, `confusion.csv`,
 * `confusion.svg`, `predictions.csv`.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * await createApp({ runsDir: "runs" }).request("/api/runs/quick/download/curves.csv");
 * ```
 * @module
 */
import { download, type RouteContext } from "@/utils.ts";
import { readRun, type RunView, toCsv } from "@/lib/dashboard/mod.ts";
import { confusionSvg, curvesSvg } from "@/lib/figures/mod.ts";

const CSV = "text/csv; charset=utf-8";
const SVG = "image/svg+xml";

/** Each download: what it needs and how it is made (null when the run lacks what it needs). */
export const DOWNLOADS: Record<string, (view: RunView) => { body: string; type: string } | null> = {
  "curves.csv": (v) =>
    v.epochs.length === 0 ? null : {
      type: CSV,
      body: toCsv(
        ["epoch", "meanLoss", "testAccuracy", "lr", "seconds", "imagesPerSecond"],
        v.epochs.map((e) => [e.epoch, e.meanLoss, e.testAccuracy, e.lr, e.seconds, e.imagesPerSecond]),
      ),
    },
  "steps.csv": (v) =>
    !v.metrics?.steps.length ? null : {
      type: CSV,
      body: toCsv(
        ["epoch", "step", "loss", "lr", "imagesPerSecond", "time"],
        v.metrics.steps.map((s) => [s.epoch, s.step, s.loss, s.lr, s.imagesPerSecond, s.time]),
      ),
    },
  "curves.svg": (v) =>
    v.epochs.length === 0 && !v.metrics?.steps.length ? null : {
      type: SVG,
      body: curvesSvg([{ label: v.id, epochs: v.epochs, steps: v.metrics?.steps }], {
        title: `Training curves: ${v.id}`,
      }),
    },
  "per-class.csv": (v) =>
    v.evaluation === null ? null : {
      type: CSV,
      body: toCsv(
        ["class", "accuracy", "count"],
        v.evaluation.perClass.map((p) => [p.class, p.accuracy, p.count]),
      ),
    },
  "confusion.csv": (v) =>
    v.evaluation === null ? null : {
      type: CSV,
      body: toCsv(
        ["true \\ predicted", ...v.evaluation.classes],
        v.evaluation.confusion.map((row, i) => [v.evaluation!.classes[i], ...row]),
      ),
    },
  "confusion.svg": (v) =>
    v.evaluation === null ? null : {
      type: SVG,
      body: confusionSvg(v.evaluation.confusion, v.evaluation.classes, {
        title: `Confusion matrix: ${v.id}`,
      }),
    },
  "predictions.csv": (v) =>
    v.predictions === null ? null : {
      type: CSV,
      body: toCsv(
        ["index", "label", "pred", "trueClass", "predictedClass", "confidence", "correct"],
        v.predictions.items.map((p) => [
          p.index,
          p.label,
          p.pred,
          v.predictions!.classes[p.label],
          v.predictions!.classes[p.pred],
          p.confidence,
          p.label === p.pred,
        ]),
      ),
    },
};

/** GET /api/runs/:id/download/:name. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const { id, name } = ctx.params;
  const make = Object.hasOwn(DOWNLOADS, name) ? DOWNLOADS[name] : undefined;
  if (!make) return ctx.notFound(`download ${name}`);
  const view = await readRun(ctx.runsDir, id);
  if (view === null) return ctx.notFound(`run ${id}`);
  const made = make(view);
  if (made === null) return ctx.notFound(`${name} for run ${id} (the run has no data for it yet)`);
  return download(made.body, `${id}-${name}`, made.type);
}
