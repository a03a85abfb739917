/**
 * Inference with a finished run: its checkpoint with the normalization and class names it was trained
 * with, for `deno task classify`, `deno task export` and the dashboard's "classify an image" box.
 *
 * @module
 */
export * from "./run_model.ts";
