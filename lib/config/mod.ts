/**
 * The one typed config of a run (every hyperparameter, with units) and its presets.
 *
 * @module
 */
export * from "./config.ts";
