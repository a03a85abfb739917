/**
 * Training: the loop, the lr schedule and the metrics log.
 *
 * @module
 */
export * from "./lr_schedule.ts";
export * from "./metrics_log.ts";
export * from "./train_loop.ts";
