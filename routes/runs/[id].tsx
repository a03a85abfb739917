/**
 * `/runs/:id`: one run: status and stages (live while it trains), curves, per-class accuracy, the confusion
 * matrix and prediction grid (an island), the sample grid, the figure files and the config. Whatever is
 * missing is said, and the rest is shown.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * const res = await createApp({ runsDir: "runs" }).request("/runs/quick");
 * ```
 * @module
 */
import type { RouteContext } from "@/utils.ts";
import { MAX_UPLOAD_BYTES, readRun, type RunView } from "@/lib/dashboard/mod.ts";
import { Island } from "@/components/Island.tsx";
import { Notes } from "@/components/Notes.tsx";
import { ConfigTable } from "@/components/ConfigTable.tsx";
import { PerClassTable } from "@/components/PerClassTable.tsx";
import { SampleGrid } from "@/components/SampleGrid.tsx";
import { liveSnapshot, predictionColumns } from "@/components/island_props.ts";
import { formatDate, formatPercent } from "@/lib/core/mod.ts";

function Downloads({ runId, names }: { runId: string; names: string[] }) {
  return (
    <p class="downloads">
      download:{" "}
      {names.map((n) => (
        <a key={n} href={`/api/runs/${encodeURIComponent(runId)}/download/${n}`} download>
          {n}
        </a>
      ))}
    </p>
  );
}

/** The run page. */
export default function RunPage({ view }: { view: RunView }) {
  const id = view.id;
  const m = view.manifest;
  const config = m?.config ?? {};
  const snapshot = liveSnapshot(id, {
    status: view.status,
    updatedAt: m?.updatedAt ?? null,
    stages: view.stages,
    epochs: view.epochs,
    metrics: view.metrics,
  });
  const enc = encodeURIComponent(id);
  return (
    <article class="run" data-run={id}>
      <h1>{id}</h1>
      <p class="meta">
        preset <b>{m?.preset ?? "–"}</b> · seed {m?.seed ?? "–"} · arch {String(config.arch ?? "–")} · created
        {" "}
        {formatDate(m?.createdAt)} · updated {formatDate(m?.updatedAt)} · best accuracy{" "}
        <b class="best">{formatPercent(view.bestAccuracy)}</b>
      </p>
      {m?.error && <p class="error">{m.error}</p>}
      <Notes missing={view.missing} notes={view.notes} />

      <section id="stages">
        <h2>Stages</h2>
        <Island name="RunMonitor" props={{ runId: id, initial: snapshot }} />
      </section>

      <section id="curves">
        <h2>Loss and accuracy</h2>
        <Island
          name="CurvesChart"
          props={view.status === "running"
            ? { series: [], live: { runId: id, initial: snapshot } }
            : { series: [snapshot.curve] }}
        />
        <Downloads runId={id} names={["curves.csv", "steps.csv", "curves.svg"]} />
      </section>

      <section id="evaluation">
        <h2>Evaluation</h2>
        {view.evaluation
          ? (
            <>
              <p>
                Test accuracy <b class="accuracy">{formatPercent(view.evaluation.accuracy)}</b> on{" "}
                {view.evaluation.count} images
                {view.evaluation.checkpoint ? ` (checkpoint ${view.evaluation.checkpoint})` : ""}.
              </p>
              <PerClassTable rows={view.evaluation.perClass} />
              <Downloads runId={id} names={["per-class.csv", "confusion.csv", "confusion.svg"]} />
            </>
          )
          : view.evaluationState === "invalid"
          ? <p class="empty invalid">evaluate/evaluation.json is invalid (see the notes above).</p>
          : <p class="empty">Not evaluated yet.</p>}
      </section>

      <section id="predictions">
        <h2>Test predictions</h2>
        {view.predictions
          ? (
            <>
              <p class="hint">
                Click a cell of the confusion matrix to see exactly those test images, most confident first.
              </p>
              <Island
                name="PredictionExplorer"
                props={{
                  runId: id,
                  classes: view.predictions.classes,
                  predictions: predictionColumns(view.predictions),
                  testImageCount: view.testImageCount,
                }}
              />
              <Downloads runId={id} names={["predictions.csv"]} />
            </>
          )
          : view.evaluation
          ? <img class="figure" src={`/api/runs/${enc}/download/confusion.svg`} alt="confusion matrix" />
          : <p class="empty">No predictions yet.</p>}
      </section>

      <section id="classify">
        <h2>Classify an image</h2>
        {view.hasBestCheckpoint
          ? <Island name="ClassifyBox" props={{ runId: id, maxBytes: MAX_UPLOAD_BYTES }} />
          : <p class="empty">No best checkpoint yet (train/checkpoints/best): nothing to classify with.</p>}
      </section>

      <section id="samples">
        <h2>Augmented training samples</h2>
        {view.samples && view.sampleImageCount > 0
          ? (
            <SampleGrid
              runId={id}
              labels={view.samples.labels.slice(0, view.sampleImageCount)}
              classes={view.classes}
            />
          )
          : <p class="empty">No samples.</p>}
      </section>

      <section id="figures">
        <h2>Figure files</h2>
        {view.figures.length
          ? (
            <ul class="figures">
              {view.figures.map((f) => (
                <li key={f}>
                  <a href={`/runs/${enc}/files/visualize/${encodeURIComponent(f)}`}>
                    <img src={`/runs/${enc}/files/visualize/${encodeURIComponent(f)}`} alt={f} />
                    <span>visualize/{f}</span>
                  </a>
                </li>
              ))}
            </ul>
          )
          : <p class="empty">No figure files (the visualize stage has not run).</p>}
      </section>

      <section id="config">
        <h2>Config</h2>
        <ConfigTable config={config} />
        {m && Object.keys(m.env).length > 0 && (
          <ConfigTable config={m.env as Record<string, unknown>} caption="environment" />
        )}
      </section>
    </article>
  );
}

/** GET /runs/:id. */
export async function GET(ctx: RouteContext): Promise<Response> {
  const view = await readRun(ctx.runsDir, ctx.params.id);
  if (view === null) return ctx.notFound(`run ${ctx.params.id}`);
  return ctx.render(<RunPage view={view} />, { title: view.id });
}
