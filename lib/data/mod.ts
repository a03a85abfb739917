/**
 * The data layer: the CIFAR-10 binary format, the archive fetch, the record stream, channel statistics, the seeded augment plan and batches. Knows nothing of the model.
 *
 * @module
 */
export * from "./archive_fetch.ts";
export * from "./augment_plan.ts";
export * from "./batches.ts";
export * from "./channel_stats.ts";
export * from "./cifar_format.ts";
export * from "./file_chunks.ts";
export * from "./record_stream.ts";
export * from "./split_limit.ts";
export * from "./synthetic_batch.ts";
