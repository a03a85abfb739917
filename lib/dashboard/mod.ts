/**
 * What the dashboard reads runs through: the run reader, CSV, and the island bundle.
 *
 * @module
 */
export * from "./client_bundle.ts";
export * from "./csv.ts";
export * from "./run_reader.ts";
export * from "./compare.ts";
