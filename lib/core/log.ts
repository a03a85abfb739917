/**
 * Log lines and progress with rate and ETA: a live bar on a TTY, periodic plain lines otherwise.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger();
 * const bar = log.progress("fetch", { unit: "B" });
 * bar.update(1_000_000, 170_000_000);
 * bar.done();
 * ```
 * @module
 */
import { formatDuration, formatMegabytes } from "./format.ts";

/** A progress display for one long task. */
export interface Progress {
  /** Report `done` units of `total` (total may be unknown). `extra` is appended, e.g. "loss 2.301". */
  update(done: number, total?: number, extra?: string): void;
  /** Finish the display with a last line. */
  done(extra?: string): void;
}

/** Options of a progress display. */
export interface ProgressOptions {
  /** Unit of `done`: "B" prints bytes as MB and MB/s; anything else is printed as a count per second. */
  unit?: string;
  /**
   * Seconds left of the whole task this bar is one part of (e.g. the whole training run with its
   * evaluations, while the bar counts one epoch's images); when given, the line shows it as `run ETA`
   * instead of the bar's own ETA. Null while unknown.
   */
  eta?: () => number | null;
}

/** Where a stage's lines go. */
export interface Logger {
  /** A plain line. */
  info(line: string): void;
  /** A warning line. */
  warn(line: string): void;
  /** A progress display labelled `label`. */
  progress(label: string, options?: ProgressOptions): Progress;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Where lines are written; defaults to stdout. */
  write?: (line: string) => void;
  /** Live bar (true) or periodic plain lines (false); defaults to whether stdout is a terminal. */
  tty?: boolean;
  /** Seconds between plain progress lines when not on a TTY. */
  plainEverySeconds?: number;
  /** Silence everything (tests). */
  quiet?: boolean;
}

function formatAmount(n: number, unit: string): string {
  if (unit === "B") return formatMegabytes(n);
  return `${Math.round(n)} ${unit}`;
}

function formatRate(perSecond: number, unit: string): string {
  if (unit === "B") return `${(perSecond / 1e6).toFixed(1)} MB/s`;
  return `${perSecond.toFixed(perSecond < 10 ? 2 : 0)} ${unit}/s`;
}

/**
 * A logger writing to stdout (or `options.write`).
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const log = createLogger({ write: (l) => lines.push(l), tty: false });
 * log.info("hello");
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const encoder = new TextEncoder();
  const quiet = options.quiet ?? false;
  const write = options.write ?? ((line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n")));
  const tty = options.tty ?? (options.write === undefined && Deno.stdout.isTerminal());
  const plainEvery = (options.plainEverySeconds ?? 5) * 1000;
  let barOpen = false;
  const closeBar = () => {
    if (barOpen) {
      Deno.stdout.writeSync(encoder.encode("\n"));
      barOpen = false;
    }
  };
  const out = (line: string) => {
    if (quiet) return;
    closeBar();
    write(line);
  };
  return {
    info: out,
    warn: (line) => out(`warning: ${line}`),
    progress(label, progressOptions = {}) {
      const unit = progressOptions.unit ?? "items";
      const start = performance.now();
      let lastPlain = start;
      let last = { done: 0, total: undefined as number | undefined, extra: "" };
      // `final`: the task is over, so there is nothing left to estimate
      const render = (final = false) => {
        const elapsed = (performance.now() - start) / 1000;
        const rate = elapsed > 0 ? last.done / elapsed : 0;
        const parts = [label];
        if (last.total !== undefined && last.total > 0) {
          const pct = Math.min(100, (100 * last.done) / last.total);
          parts.push(
            `${formatAmount(last.done, unit)}/${formatAmount(last.total, unit)} (${pct.toFixed(0)}%)`,
          );
          const eta = rate > 0 ? (last.total - last.done) / rate : NaN;
          parts.push(formatRate(rate, unit));
          if (final) {
            // no ETA: the bar's own task is done (the next bar or line says what is left of the run)
          } else if (progressOptions.eta) {
            const runEta = progressOptions.eta();
            parts.push(`run ETA ${runEta === null ? "?" : formatDuration(runEta)}`);
          } else parts.push(`ETA ${formatDuration(eta)}`);
        } else {
          parts.push(formatAmount(last.done, unit), formatRate(rate, unit));
        }
        if (last.extra) parts.push(last.extra);
        return parts.join("  ");
      };
      return {
        update(done, total, extra = "") {
          last = { done, total, extra };
          if (quiet) return;
          const now = performance.now();
          if (tty) {
            Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${render()}`));
            barOpen = true;
          } else if (now - lastPlain >= plainEvery) {
            lastPlain = now;
            write(render());
          }
        },
        done(extra) {
          if (extra !== undefined) last.extra = extra;
          if (quiet) return;
          closeBar();
          const elapsed = (performance.now() - start) / 1000;
          write(`${render(true)}  done in ${formatDuration(elapsed)}`);
        },
      };
    },
  };
}
