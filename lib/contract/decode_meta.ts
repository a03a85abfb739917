/**
 * `decode/meta.json`: the class names, how many images each split holds, and the channel statistics. The
 * decode stage writes a {@linkcode DecodeMeta}; {@linkcode parseDecodeMeta} reads it back.
 *
 * @example
 * ```ts
 * import { parseDecodeMeta } from "./decode_meta.ts";
 * const parsed = parseDecodeMeta(JSON.parse(await Deno.readTextFile("runs/a/decode/meta.json")));
 * if (parsed.ok) console.log(parsed.value.classes);
 * ```
 * @module
 */
import type { ChannelStatsResult } from "../data/mod.ts";
import { classList, count, isObject, type Parsed } from "./parsed.ts";

/** `decode/meta.json`. */
export interface DecodeMeta {
  /** The ten class names, index = label. */
  classes: string[];
  /** Images decoded, and records the files held (`available` may be absent). */
  train: { count: number; available?: number };
  test: { count: number; available?: number };
  /** May be absent. */
  stats?: {
    /** Measured over the decoded train images, [0, 1] scale (population std over all pixels). */
    measured: ChannelStatsResult;
    /** The tutorial's Normalize constants, which the recipe keeps. */
    tutorial: { mean: readonly number[]; std: readonly number[] };
  };
}

/**
 * Parse `decode/meta.json`.
 *
 * @example
 * ```ts
 * parseDecodeMeta({ classes: ["a", "b"], train: { count: 2 }, test: { count: 1 } }).ok; // true
 * ```
 */
export function parseDecodeMeta(json: unknown): Parsed<DecodeMeta> {
  if (!isObject(json)) return { ok: false, problem: "meta.json is not a JSON object" };
  const classes = classList(json.classes);
  if (!classes) return { ok: false, problem: "meta.json has no list of class names" };
  const trainCount = isObject(json.train) ? count(json.train.count) : null;
  const testCount = isObject(json.test) ? count(json.test.count) : null;
  if (testCount === null) return { ok: false, problem: "meta.json has no test.count" };
  const notes = trainCount === null ? ["meta.json has no train.count"] : [];
  return {
    ok: true,
    value: {
      classes,
      train: { count: trainCount ?? 0 },
      test: { count: testCount },
      stats: json.stats as DecodeMeta["stats"],
    },
    notes,
  };
}
