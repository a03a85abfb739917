/**
 * The augment stage (placeholder until its issue lands).
 * @module
 */
import type { StageDefinition } from "../lib/stage.ts";
import { PipelineError } from "../lib/errors.ts";

/** The augment stage. */
export const augmentStage: StageDefinition = {
  name: "augment",
  deps: ["decode"],
  code: [new URL(import.meta.url)],
  params: () => ({}),
  run() {
    return Promise.reject(new PipelineError("augment", "the augment stage is not built yet"));
  },
};
