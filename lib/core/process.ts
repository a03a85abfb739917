/**
 * Who a process is, in a form another process can check later: its pid, its host and (on Linux) its start
 * time from `/proc/<pid>/stat`, so a pid reused by a later process is not mistaken for the one recorded.
 *
 * @example
 * ```ts
 * import { currentProcess, processState } from "./process.ts";
 * const me = currentProcess();
 * processState(me); // "alive"
 * ```
 * @module
 */

/** A process as recorded in a lock file or run.json. */
export interface ProcessIdentity {
  pid: number;
  /** `Deno.hostname()` of the machine it runs on. */
  host: string;
  /** Clock ticks after boot at which it started (field 22 of `/proc/<pid>/stat`); null where unknown. */
  startTicks: number | null;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** The start time of `pid` in clock ticks after boot, or null (no such process, or no `/proc`). */
function startTicksOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/**
 * This process.
 *
 * @example
 * ```ts
 * currentProcess().pid === Deno.pid; // true
 * ```
 */
export function currentProcess(): ProcessIdentity {
  return { pid: Deno.pid, host: hostname(), startTicks: startTicksOf(Deno.pid) };
}

/**
 * Whether the recorded process still runs: "alive", "gone", or "unknown" (another host, or no way to
 * tell on this system).
 *
 * @example
 * ```ts
 * processState({ pid: 999999999, host: Deno.hostname(), startTicks: 1 }); // "gone"
 * ```
 */
export function processState(p: ProcessIdentity): "alive" | "gone" | "unknown" {
  if (p.host !== hostname()) return "unknown";
  if (Deno.build.os !== "linux") return "unknown";
  const ticks = startTicksOf(p.pid);
  if (ticks === null) return "gone";
  if (p.startTicks !== null && ticks !== p.startTicks) return "gone"; // the pid was reused
  return "alive";
}

/**
 * Parse a recorded identity from JSON; null when it is not one.
 *
 * @example
 * ```ts
 * parseProcessIdentity({ pid: 12, host: "h", startTicks: null })?.pid; // 12
 * ```
 */
export function parseProcessIdentity(v: unknown): ProcessIdentity | null {
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || typeof o.host !== "string") return null;
  const ticks = typeof o.startTicks === "number" && Number.isFinite(o.startTicks) ? o.startTicks : null;
  return { pid: o.pid as number, host: o.host, startTicks: ticks };
}
