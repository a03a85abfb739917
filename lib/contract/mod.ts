/**
 * The run-folder contract: one file here per file a run folder holds (run.json, decode/meta.json,
 * augment/samples.json, train/train.json, train/metrics.jsonl, the checkpoints, evaluate/evaluation.json and
 * predictions.json, the image files): the type its writer satisfies, the view its readers get, and a
 * tolerant parser between them. Defined once: the stages that write these files and the dashboard that reads
 * them import them from here. Writes nothing.
 *
 * @module
 */
export * from "./checkpoint_paths.ts";
export * from "./checkpoint_scores.ts";
export * from "./decode_meta.ts";
export * from "./epoch_record.ts";
export * from "./evaluation.ts";
export * from "./image_file.ts";
export * from "./metrics.ts";
export type { Parsed } from "./parsed.ts";
export * from "./predictions.ts";
export * from "./run_manifest.ts";
export * from "./samples_info.ts";
export * from "./train_summary.ts";
