/**
 * The decode stage (placeholder until its issue lands).
 * @module
 */
import type { StageDefinition } from "../lib/stage.ts";
import { PipelineError } from "../lib/errors.ts";

/** The decode stage. */
export const decodeStage: StageDefinition = {
  name: "decode",
  deps: ["fetch"],
  code: [new URL(import.meta.url)],
  params: () => ({}),
  run() {
    return Promise.reject(new PipelineError("decode", "the decode stage is not built yet"));
  },
};
