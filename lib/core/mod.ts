/**
 * The ground floor: expected errors, atomic writes, hashing, log lines and formatters, paths, seeded random numbers. Imports nothing else of lib/.
 *
 * @module
 */
export * from "./atomic.ts";
export * from "./errors.ts";
export * from "./format.ts";
export * from "./hash.ts";
export * from "./lock.ts";
export * from "./log.ts";
export * from "./os_error.ts";
export * from "./paths.ts";
export * from "./process.ts";
export * from "./random.ts";
