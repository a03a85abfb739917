/**
 * The train stage (placeholder until its issue lands).
 * @module
 */
import type { StageDefinition } from "../lib/stage.ts";
import { PipelineError } from "../lib/errors.ts";

/** The train stage. */
export const trainStage: StageDefinition = {
  name: "train",
  deps: ["decode", "augment"],
  code: [new URL(import.meta.url)],
  params: () => ({}),
  run() {
    return Promise.reject(new PipelineError("train", "the train stage is not built yet"));
  },
};
