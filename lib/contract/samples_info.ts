/**
 * `augment/samples.json`: which train images `augment/samples.u8` holds (epoch 0's first batch, as the
 * network sees them). The augment stage writes a {@linkcode SamplesJson}; {@linkcode parseSamplesInfo} reads
 * it back as a {@linkcode SamplesInfo}.
 *
 * @example
 * ```ts
 * import { parseSamplesInfo } from "./samples_info.ts";
 * const parsed = parseSamplesInfo(JSON.parse(await Deno.readTextFile("runs/a/augment/samples.json")));
 * if (parsed.ok) console.log(parsed.value.labels);
 * ```
 * @module
 */
import { count, isObject, type Parsed } from "./parsed.ts";

/** `augment/samples.json`, as the augment stage writes it. */
export interface SamplesJson {
  /** Images in `samples.u8`. */
  count: number;
  /** The epoch (0-based) whose first batch they are. */
  epoch: number;
  /** Each sample's index in the train split. */
  indices: number[];
  /** Each sample's label. */
  labels: number[];
}

/** `augment/samples.json` as readers see it: the samples, whatever epoch they come from. */
export type SamplesInfo = Omit<SamplesJson, "epoch">;

/**
 * Parse `augment/samples.json`.
 *
 * @example
 * ```ts
 * parseSamplesInfo({ count: 1, indices: [4], labels: [3] }).ok; // true
 * ```
 */
export function parseSamplesInfo(json: unknown): Parsed<SamplesInfo> {
  if (!isObject(json)) return { ok: false, problem: "samples.json is not a JSON object" };
  const labels = Array.isArray(json.labels) ? json.labels.map(count) : null;
  if (!labels || labels.some((l) => l === null)) {
    return { ok: false, problem: "samples.json has no list of integer labels" };
  }
  const n = count(json.count) ?? labels.length;
  const indices = Array.isArray(json.indices) ? json.indices.map((i) => count(i) ?? -1) : [];
  const notes = n !== labels.length ? [`samples.json says count ${n} but lists ${labels.length} labels`] : [];
  const used = Math.min(n, labels.length);
  return {
    ok: true,
    value: { count: used, indices: indices.slice(0, used), labels: (labels as number[]).slice(0, used) },
    notes,
  };
}
