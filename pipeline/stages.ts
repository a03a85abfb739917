/**
 * The pipeline's stages in the order data flows through them.
 * @module
 */
import type { StageDefinition } from "../lib/run/mod.ts";
import { fetchStage } from "./fetch.ts";
import { decodeStage } from "./decode.ts";
import { augmentStage } from "./augment.ts";
import { trainStage } from "./train.ts";
import { evaluateStage } from "./evaluate.ts";
import { visualizeStage } from "./visualize.ts";

/** fetch → decode → augment → train → evaluate → visualize. */
export const STAGES: readonly StageDefinition[] = [
  fetchStage,
  decodeStage,
  augmentStage,
  trainStage,
  evaluateStage,
  visualizeStage,
];
