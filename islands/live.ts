/**
 * The live state of a run still training, shared by the islands of a page: one poller per run fetches
 * `/api/runs/:id/live` every two seconds while the run's status is "running" and publishes it as a signal.
 *
 * @example
 * ```ts
 * import type { LiveSnapshot } from "./types.ts";
 * declare const initialSnapshot: LiveSnapshot;
 * import { liveRun } from "./live.ts";
 * const state = liveRun("quick", initialSnapshot);
 * console.log(state.value.status);
 * ```
 * @module
 */
import { type Signal, signal } from "@preact/signals";
import type { LiveSnapshot } from "./types.ts";

/** Milliseconds between polls. */
export const POLL_MS = 2000;

const runs = new Map<string, Signal<LiveSnapshot>>();

/**
 * The signal holding run `runId`'s live state, starting from `initial`. In a browser, and while the run is
 * running, it polls the server and stops once the run is done or failed.
 */
export function liveRun(runId: string, initial: LiveSnapshot): Signal<LiveSnapshot> {
  // On the server every render starts afresh: nothing is shared between requests.
  if (typeof document === "undefined") return signal(initial);
  const known = runs.get(runId);
  if (known) return known;
  const state = signal(initial);
  runs.set(runId, state);
  if (initial.status === "running") {
    const poll = async () => {
      try {
        const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/live`, { cache: "no-store" });
        if (res.ok) state.value = await res.json();
      } catch {
        // The server may be restarting: try again at the next tick.
      }
      if (state.value.status === "running") setTimeout(poll, POLL_MS);
    };
    setTimeout(poll, POLL_MS);
  }
  return state;
}
