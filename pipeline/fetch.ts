/**
 * The fetch stage (placeholder until its issue lands).
 * @module
 */
import type { StageDefinition } from "../lib/stage.ts";
import { PipelineError } from "../lib/errors.ts";

/** The fetch stage. */
export const fetchStage: StageDefinition = {
  name: "fetch",
  deps: [],
  code: [new URL(import.meta.url)],
  params: () => ({}),
  run() {
    return Promise.reject(new PipelineError("fetch", "the fetch stage is not built yet"));
  },
};
