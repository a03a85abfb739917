/**
 * Training: the loop (top to bottom), the step, the reporter and the checkpointer beside it, the lr
 * schedule, the metrics log, and the loop's interfaces.
 *
 * @module
 */
export * from "./checkpointer.ts";
export * from "./divergence.ts";
export * from "./loop.ts";
export * from "./lr_schedule.ts";
export * from "./metrics_log.ts";
export * from "./optimizer.ts";
export * from "./reporter.ts";
export * from "./step.ts";
export * from "./types.ts";
