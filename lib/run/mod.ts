/**
 * Runs: the stage interface, the runner and its content-addressed cache, the code graph behind stage keys,
 * and the one owner of run.json (`RunRecord`).
 *
 * @module
 */
export * from "./cache.ts";
export * from "./code_graph.ts";
export * from "./manifest.ts";
export * from "./cache_index.ts";
export * from "./run_summary.ts";
export * from "./out_dir.ts";
export * from "./run_record.ts";
export * from "./runner.ts";
export * from "./stage.ts";
