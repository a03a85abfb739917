/**
 * The visualize stage (placeholder until its issue lands).
 * @module
 */
import type { StageDefinition } from "../lib/stage.ts";
import { PipelineError } from "../lib/errors.ts";

/** The visualize stage. */
export const visualizeStage: StageDefinition = {
  name: "visualize",
  deps: ["decode", "augment", "train", "evaluate"],
  code: [new URL(import.meta.url)],
  params: () => ({}),
  run() {
    return Promise.reject(new PipelineError("visualize", "the visualize stage is not built yet"));
  },
};
