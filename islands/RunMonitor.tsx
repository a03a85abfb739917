/**
 * The run's status, training progress and stage table; updates itself while the run trains.
 *
 * @example
 * ```tsx
 * import RunMonitor from "./RunMonitor.tsx";
 * import type { LiveSnapshot } from "./types.ts";
 * declare const snapshot: LiveSnapshot;
 * export const monitor = <RunMonitor runId="quick" initial={snapshot} />;
 * ```
 * @module
 */
import { liveRun } from "./live.ts";
import { formatBytes, formatSeconds, statusLabel } from "@/lib/core/format.ts";
import type { LiveSnapshot } from "./types.ts";

/** Props of {@linkcode RunMonitor}. */
export interface RunMonitorProps {
  runId: string;
  initial: LiveSnapshot;
}

/** The live status line and the stage table. */
export default function RunMonitor({ runId, initial }: RunMonitorProps) {
  const live = liveRun(runId, initial).value;
  const p = live.progress;
  const finishedHere = initial.status === "running" && live.status !== "running";
  return (
    <div class="run-monitor" data-status={live.status}>
      <p class="status-line">
        <span class={`badge status-${live.status}`}>{statusLabel(live.status)}</span>
        {p && live.status === "running" && (
          <span class="progress">
            epoch {p.epoch}
            {p.epochs ? `/${p.epochs}` : ""} · step {p.step}
            {p.stepsPerEpoch ? `/${p.stepsPerEpoch}` : ""}
            {p.loss !== null ? ` · loss ${p.loss.toFixed(3)}` : ""}
          </span>
        )}
        {live.status === "running" && <span class="live-dot" title="updating every 2 s">live</span>}
        {finishedHere && (
          <span class="finished">
            The run has {live.status === "done" ? "finished" : "stopped"}: <a href="">reload</a>{" "}
            to see its evaluation.
          </span>
        )}
      </p>
      <table class="stages">
        <thead>
          <tr>
            <th>stage</th>
            <th>status</th>
            <th>time</th>
            <th>outputs</th>
            <th>cache key</th>
            <th>why it ran</th>
          </tr>
        </thead>
        <tbody>
          {live.stages.map((s) => (
            <tr key={s.name} data-stage={s.name}>
              <td>{s.name}</td>
              <td>
                <span class={`badge status-${s.status}`}>{s.status}</span>
                {s.error && <div class="error">{s.error}</div>}
              </td>
              <td title={s.startedAt ? `${s.startedAt} → ${s.finishedAt ?? "…"}` : undefined}>
                {formatSeconds(s.seconds)}
              </td>
              <td>
                {s.outputs > 0
                  ? `${s.outputs} file${s.outputs === 1 ? "" : "s"}, ${formatBytes(s.bytes)}`
                  : "–"}
              </td>
              <td>
                {s.key ? <code title={s.key}>{s.key.slice(0, 12)}</code> : "–"}
              </td>
              <td class="reason">{s.reason ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
