/**
 * Expected faults: one clear line naming the stage, the file and what is wrong, and no stack trace.
 *
 * @example
 * ```ts
 * import { PipelineError } from "./errors.ts";
 * throw new PipelineError("decode", "Cannot decode record 17 of test_batch.bin: label must be < 10, got 12");
 * ```
 * @module
 */

/** A fault the user can act on. `pipeline/main.ts` prints `error: [stage] message` and exits 1. */
export class PipelineError extends Error {
  /** The stage (or "config", "dashboard") where the fault was found. */
  readonly stage: string;
  /** Process exit code. */
  readonly exitCode: number;

  constructor(stage: string, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = "PipelineError";
    this.stage = stage;
    this.exitCode = options.exitCode ?? 1;
  }

  /** The one line printed for this fault. */
  toLine(): string {
    return `error: [${this.stage}] ${this.message}`;
  }
}

/** A bad command line: printed as one line, exit 2. */
export class UsageError extends PipelineError {
  constructor(message: string) {
    super("usage", message, { exitCode: 2 });
    this.name = "UsageError";
  }
}
