/**
 * The run-folder contract: the types of every file a run folder holds (run.json, decode/meta.json, the
 * metrics log, evaluation.json, …), their tolerant parsers, the checkpoint paths and random access into the
 * image files. Defined once: the stages that write these files and the dashboard that reads them import
 * them from here. Writes nothing.
 *
 * @module
 */
export * from "./image_file.ts";
export * from "./run_folder.ts";
