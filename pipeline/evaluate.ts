/**
 * The evaluate stage (placeholder until its issue lands).
 * @module
 */
import type { StageDefinition } from "../lib/stage.ts";
import { PipelineError } from "../lib/errors.ts";

/** The evaluate stage. */
export const evaluateStage: StageDefinition = {
  name: "evaluate",
  deps: ["decode", "train"],
  code: [new URL(import.meta.url)],
  params: () => ({}),
  run() {
    return Promise.reject(new PipelineError("evaluate", "the evaluate stage is not built yet"));
  },
};
