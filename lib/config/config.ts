/**
 * The one typed config that holds every hyperparameter of a run, and the presets.
 *
 * Every field is overridable from the command line (see `pipeline/main.ts`) and is written whole into the
 * run's `run.json`, so a run can always be repeated from its manifest.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const config = resolveConfig("quick", { epochs: 1 });
 * console.log(config.batchSize); // 128
 * ```
 * @module
 */
import { TUTORIAL_MEAN, TUTORIAL_STD } from "../data/mod.ts";
import type { Arch } from "../model/mod.ts";
import type { Backend, KernelPolicy } from "../webgpu/mod.ts";

/** The official address of the CIFAR-10 binary archive. `CIFAR10_URL` overrides it. */
export const OFFICIAL_DATA_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/** Names of the presets. */
export const PRESET_NAMES = ["seed", "quick", "smoke"] as const;
/** One preset's name. */
export type PresetName = typeof PRESET_NAMES[number];

/** Every hyperparameter of a run. Units are in the comments. */
export interface PipelineConfig {
  /** Which preset this config started from. */
  preset: PresetName;
  /** Where the archive comes from: http(s)://, file:// or a path. */
  dataUrl: string;
  /** Seed of every random choice: initializers, shuffles, crops, flips (integer). */
  seed: number;

  // data
  /** Use the first N records of the train split (records); null for all 50,000. */
  trainLimit: number | null;
  /** Use the first N records of the test split (records); null for all 10,000. */
  testLimit: number | null;

  // augment
  /** RandomCrop zero padding on each side (pixels). */
  cropPadding: number;
  /** RandomHorizontalFlip probability (0..1). */
  flipProbability: number;
  /** Normalize mean per channel, RGB, on the [0,1] scale (the tutorial's values). */
  mean: [number, number, number];
  /** Normalize std per channel, RGB, on the [0,1] scale (the tutorial's values, not the measured ones). */
  std: [number, number, number];

  // model
  /** Network family. */
  arch: Arch;
  /** Base width (channels of the stem and first stage, doubling each stage); null for the family's own (64). */
  width: number | null;
  /** Number of output classes (classes). */
  numClasses: number;
  /** Pretrained weights: a URL or path to a safetensors file or MindSpore checkpoint, or null. */
  pretrained: string | null;

  // train
  /** tfjs backend. */
  backend: Backend;
  /**
   * Convolution kernels on webgpu: `auto` (`cpu` on a software adapter, `gpu` on a hardware one), `cpu`,
   * `gpu`, or tfjs's `stock` ones (for comparison); `project` is another name of `cpu`.
   */
  kernels: KernelPolicy;
  /** Training epochs (epochs). */
  epochs: number;
  /** Training batch size (images). */
  batchSize: number;
  /** Evaluation batch size (images). */
  evalBatchSize: number;
  /** Cosine schedule start learning rate (per step, SGD units). */
  lrMax: number;
  /** Cosine schedule end learning rate. */
  lrMin: number;
  /** Epochs over which the cosine decays (epochs); the tutorial uses the number of epochs. */
  decayEpochs: number;
  /** SGD momentum (0..1). */
  momentum: number;
  /** Print a log line every N steps (steps), and at the last step of each epoch. */
  logEvery: number;
  /** Stop each epoch after this many steps (steps); null for the whole split. For smoke tests only. */
  maxStepsPerEpoch: number | null;

  // visualize
  /** Number of test predictions in the prediction grid (images). */
  grid: number;
}

/** The tutorial's recipe: all data, ResNet50, batch 256, 5 epochs, Momentum 0.9, cosine 1e-3 → 1e-5. */
export const SEED_PRESET: PipelineConfig = {
  preset: "seed",
  dataUrl: OFFICIAL_DATA_URL,
  seed: 1,
  trainLimit: null,
  testLimit: null,
  cropPadding: 4,
  flipProbability: 0.5,
  mean: [...TUTORIAL_MEAN],
  std: [...TUTORIAL_STD],
  arch: "resnet50",
  width: null,
  numClasses: 10,
  pretrained: null,
  backend: "webgpu",
  kernels: "auto",
  epochs: 5,
  batchSize: 256,
  evalBatchSize: 256,
  lrMax: 1e-3,
  lrMin: 1e-5,
  decayEpochs: 5,
  momentum: 0.9,
  logEvery: 100,
  maxStepsPerEpoch: null,
  grid: 6,
};

/**
 * A run that learns for real on a 2-core CPU with no GPU (WebGPU on llvmpipe), end to end in about 12
 * minutes: the tutorial's recipe (augmentation, normalization, Momentum 0.9, per-epoch cosine, softmax
 * cross-entropy, conv init) on a network of the same family narrowed to base width 16 (ResNet18's Building
 * Blocks, the ImageNet stem), all 50,000 training images for 7 epochs at batch 128 and lr 0.05 → 1e-4,
 * scored on all 10,000 test images. Chosen by measurement against the PyTorch peer (docs/training.md).
 */
export const QUICK_PRESET: PipelineConfig = {
  ...SEED_PRESET,
  preset: "quick",
  arch: "resnet18",
  width: 16,
  trainLimit: null,
  testLimit: null,
  epochs: 7,
  decayEpochs: 7,
  batchSize: 128,
  evalBatchSize: 250,
  lrMax: 0.05,
  lrMin: 1e-4,
  logEvery: 50,
  grid: 12,
};

/** The tests' preset: a tiny network on a handful of images, seconds per stage. */
export const SMOKE_PRESET: PipelineConfig = {
  ...SEED_PRESET,
  preset: "smoke",
  arch: "tiny",
  trainLimit: 64,
  testLimit: 32,
  epochs: 2,
  decayEpochs: 2,
  batchSize: 16,
  evalBatchSize: 32,
  logEvery: 1,
  grid: 6,
};

/** The presets by name. */
export const PRESETS: Record<PresetName, PipelineConfig> = {
  seed: SEED_PRESET,
  quick: QUICK_PRESET,
  smoke: SMOKE_PRESET,
};

/**
 * A preset with overrides applied. `decayEpochs` follows `epochs` unless it is overridden itself.
 *
 * @example
 * ```ts
 * resolveConfig("seed", { epochs: 1 }).decayEpochs; // 1
 * ```
 */
export function resolveConfig(preset: PresetName, overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  const base = PRESETS[preset];
  const config: PipelineConfig = { ...base, ...overrides, preset };
  if (overrides.epochs !== undefined && overrides.decayEpochs === undefined) {
    config.decayEpochs = overrides.epochs;
  }
  return config;
}
