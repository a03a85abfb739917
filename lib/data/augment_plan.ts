/**
 * The seeded augmentation plan: for every epoch a global shuffle of the train split and, for every image,
 * a RandomCrop offset (pad `cropPadding` with zeros, crop 32) and a RandomHorizontalFlip decision.
 *
 * The plan is a pure function of `(seed, epochs, count, cropPadding, flipProbability)`, and each epoch's part
 * depends only on `(seed, epoch, count, cropPadding, flipProbability)`, so a resumed run replays exactly the
 * same randomness. Epoch `e` draws from `new Rng(seed, "augment/epoch/<e>")`, in this order: the permutation
 * (Fisher–Yates), then for image 0, 1, …, count-1: crop top (`int(2·pad+1)`), crop left (`int(2·pad+1)`),
 * flip (`next() < flipProbability`).
 *
 * `plan.bin` layout, little-endian:
 * ```
 * 0   "CAPL" magic            4   u32 version (1)      8  f64 seed
 * 16  u32 epochs              20  u32 count            24 u32 cropPadding    28 u32 reserved (0)
 * 32  f64 flipProbability
 * 40  per epoch: order u32[count], cropY u8[count], cropX u8[count], flip u8[count], zero pad to 4 bytes
 * ```
 *
 * @example
 * ```ts
 * import { createAugmentPlan, encodeAugmentPlan, decodeAugmentPlan } from "./augment_plan.ts";
 * const plan = createAugmentPlan({ seed: 1, epochs: 2, count: 100, cropPadding: 4, flipProbability: 0.5 });
 * plan.perEpoch[1].order.length; // 100
 * decodeAugmentPlan(encodeAugmentPlan(plan)).perEpoch[0].cropX[7] === plan.perEpoch[0].cropX[7]; // true
 * ```
 * @module
 */
import { join } from "node:path";
import { describeOsError, PipelineError, Rng, sha256Hex } from "../core/mod.ts";

/** The file name of the encoded plan in the augment stage's folder. */
export const PLAN_FILE = "plan.bin";
const MAGIC = 0x4c504143; // "CAPL" read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 40;

/** What a plan is derived from. */
export interface AugmentPlanParams {
  /** The run's seed (safe integer). */
  seed: number;
  /** Number of epochs planned. */
  epochs: number;
  /** Images in the train split. */
  count: number;
  /** RandomCrop zero padding per side (pixels, 0..127). */
  cropPadding: number;
  /** RandomHorizontalFlip probability (0..1). */
  flipProbability: number;
}

/** One epoch of the plan. Crop and flip arrays are indexed by image index, not by position in `order`. */
export interface EpochPlan {
  /** The epoch's global shuffle: position → image index. */
  order: Uint32Array;
  /** Crop top offset in the padded image per image, 0..2·pad (pad + dy). */
  cropY: Uint8Array;
  /** Crop left offset in the padded image per image, 0..2·pad. */
  cropX: Uint8Array;
  /** 1 where the cropped image is flipped left-right, else 0. */
  flip: Uint8Array;
}

/** A whole plan: its params and one {@linkcode EpochPlan} per epoch. */
export interface AugmentPlan extends AugmentPlanParams {
  /** `perEpoch[e]` is epoch `e` (0-based). */
  perEpoch: EpochPlan[];
}

function checkParams(params: AugmentPlanParams): void {
  const { seed, epochs, count, cropPadding, flipProbability } = params;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  if (!Number.isInteger(epochs) || epochs < 0) {
    throw new RangeError(`epochs must be an integer ≥ 0, got ${epochs}`);
  }
  if (!Number.isInteger(count) || count < 0 || count > 2 ** 32 - 1) {
    throw new RangeError(`count must be an integer ≥ 0, got ${count}`);
  }
  if (!Number.isInteger(cropPadding) || cropPadding < 0 || cropPadding > 127) {
    throw new RangeError(`cropPadding must be an integer in 0..127, got ${cropPadding}`);
  }
  if (!(flipProbability >= 0 && flipProbability <= 1)) {
    throw new RangeError(`flipProbability must be in 0..1, got ${flipProbability}`);
  }
}

/**
 * Epoch `epoch`'s part of the plan, on its own (what {@linkcode createAugmentPlan} computes for each epoch).
 *
 * @example
 * ```ts
 * const e3 = planEpoch({ seed: 7, epochs: 5, count: 10, cropPadding: 4, flipProbability: 0.5 }, 3);
 * e3.order.length; // 10
 * ```
 */
export function planEpoch(params: AugmentPlanParams, epoch: number): EpochPlan {
  checkParams(params);
  const { count, cropPadding, flipProbability } = params;
  const rng = new Rng(params.seed, `augment/epoch/${epoch}`);
  const order = rng.permutation(count);
  const cropY = new Uint8Array(count);
  const cropX = new Uint8Array(count);
  const flip = new Uint8Array(count);
  const span = 2 * cropPadding + 1;
  for (let i = 0; i < count; i++) {
    cropY[i] = rng.int(span);
    cropX[i] = rng.int(span);
    flip[i] = rng.next() < flipProbability ? 1 : 0;
  }
  return { order, cropY, cropX, flip };
}

/**
 * The plan for all epochs.
 *
 * @example
 * ```ts
 * const plan = createAugmentPlan({ seed: 1, epochs: 5, count: 50_000, cropPadding: 4, flipProbability: 0.5 });
 * plan.perEpoch.length; // 5
 * ```
 */
export function createAugmentPlan(params: AugmentPlanParams): AugmentPlan {
  checkParams(params);
  const perEpoch = Array.from({ length: params.epochs }, (_, e) => planEpoch(params, e));
  return { ...pickParams(params), perEpoch };
}

function pickParams(p: AugmentPlanParams): AugmentPlanParams {
  return {
    seed: p.seed,
    epochs: p.epochs,
    count: p.count,
    cropPadding: p.cropPadding,
    flipProbability: p.flipProbability,
  };
}

function epochSectionBytes(count: number): number {
  return Math.ceil((7 * count) / 4) * 4;
}

/**
 * The plan as bytes (the `plan.bin` layout in the module doc).
 *
 * @example
 * ```ts
 * encodeAugmentPlan(createAugmentPlan({ seed: 1, epochs: 1, count: 4, cropPadding: 4, flipProbability: 0.5 }))
 *   .length; // 40 + 28
 * ```
 */
export function encodeAugmentPlan(plan: AugmentPlan): Uint8Array {
  checkParams(plan);
  const section = epochSectionBytes(plan.count);
  const bytes = new Uint8Array(HEADER_BYTES + section * plan.epochs);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setFloat64(8, plan.seed, true);
  view.setUint32(16, plan.epochs, true);
  view.setUint32(20, plan.count, true);
  view.setUint32(24, plan.cropPadding, true);
  view.setFloat64(32, plan.flipProbability, true);
  plan.perEpoch.forEach((e, i) => {
    const base = HEADER_BYTES + i * section;
    const n = plan.count;
    for (let k = 0; k < n; k++) view.setUint32(base + 4 * k, e.order[k], true);
    bytes.set(e.cropY, base + 4 * n);
    bytes.set(e.cropX, base + 5 * n);
    bytes.set(e.flip, base + 6 * n);
  });
  return bytes;
}

/**
 * Parses `plan.bin` bytes.
 *
 * @param options `file` names the file in errors.
 * @throws {PipelineError} ("augment") on a wrong magic, version or length.
 *
 * @example
 * ```ts
 * const bytes = await Deno.readFile("runs/quick/augment/plan.bin");
 * decodeAugmentPlan(bytes, { file: "plan.bin" }).epochs; // 2
 * ```
 */
export function decodeAugmentPlan(bytes: Uint8Array, options: { file?: string } = {}): AugmentPlan {
  const file = options.file ?? PLAN_FILE;
  const fail = (what: string) => new PipelineError("augment", `Cannot read ${file}: ${what}`);
  if (bytes.length < HEADER_BYTES) {
    throw fail(`${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw fail("not an augment plan (bad magic)");
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw fail(`unknown plan version ${version}`);
  const params: AugmentPlanParams = {
    seed: view.getFloat64(8, true),
    epochs: view.getUint32(16, true),
    count: view.getUint32(20, true),
    cropPadding: view.getUint32(24, true),
    flipProbability: view.getFloat64(32, true),
  };
  try {
    checkParams(params);
  } catch (err) {
    throw fail((err as Error).message);
  }
  const n = params.count;
  const section = epochSectionBytes(n);
  const expected = HEADER_BYTES + section * params.epochs;
  if (bytes.length !== expected) throw fail(`length ${bytes.length} bytes, expected ${expected}`);
  const span = 2 * params.cropPadding;
  const perEpoch: EpochPlan[] = [];
  for (let e = 0; e < params.epochs; e++) {
    const base = HEADER_BYTES + e * section;
    const order = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      order[k] = view.getUint32(base + 4 * k, true);
      if (order[k] >= n) throw fail(`epoch ${e} position ${k} names image ${order[k]} of ${n}`);
    }
    const cropY = bytes.slice(base + 4 * n, base + 5 * n);
    const cropX = bytes.slice(base + 5 * n, base + 6 * n);
    const flip = bytes.slice(base + 6 * n, base + 7 * n);
    for (let k = 0; k < n; k++) {
      if (cropY[k] > span || cropX[k] > span || flip[k] > 1) {
        throw fail(`epoch ${e} image ${k} is out of range`);
      }
    }
    perEpoch.push({ order, cropY, cropX, flip });
  }
  return { ...params, perEpoch };
}

/**
 * Reads and parses `<augmentDir>/plan.bin`.
 *
 * @example
 * ```ts
 * const plan = await readAugmentPlan("runs/quick/augment");
 * plan.perEpoch[0].order[0]; // the first image of epoch 0
 * ```
 */
export async function readAugmentPlan(augmentDir: string): Promise<AugmentPlan> {
  const path = join(augmentDir, PLAN_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new PipelineError("augment", `Cannot read ${path}: ${describeOsError(err)}`, { cause: err });
  }
  return decodeAugmentPlan(bytes, { file: path });
}

/**
 * Hex SHA-256 of each epoch's section of the encoded plan (written to `augment.json`, so two runs can be
 * compared epoch by epoch).
 *
 * @example
 * ```ts
 * const plan = createAugmentPlan({ seed: 1, epochs: 2, count: 10, cropPadding: 4, flipProbability: 0.5 });
 * (await epochDigests(plan)).length; // 2
 * ```
 */
export async function epochDigests(plan: AugmentPlan): Promise<string[]> {
  const bytes = encodeAugmentPlan(plan);
  const section = epochSectionBytes(plan.count);
  const digests: string[] = [];
  for (let e = 0; e < plan.epochs; e++) {
    const start = HEADER_BYTES + e * section;
    digests.push(await sha256Hex(bytes.subarray(start, start + section)));
  }
  return digests;
}
