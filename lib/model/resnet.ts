/**
 * The ResNet family as the MindSpore tutorial defines it, built with the tfjs layers API.
 *
 * - Building Block (two 3×3 convs, expansion 1) for ResNet18/34; Bottleneck (1×1, 3×3, 1×1, expansion 4,
 *   stride on the 3×3 conv as in torchvision's "v1.5") for ResNet50/101/152.
 * - The ImageNet stem, kept at 32×32: 7×7 stride-2 conv, BN, ReLU, 3×3 stride-2 max-pool.
 * - Global average pooling and a Dense head.
 * - Conv weights from Normal(0, 0.02), down-sample BN gamma from Normal(1, 0.02), convs without bias,
 *   BN epsilon 1e-5 and momentum 0.9 (the keras convention for MindSpore's/PyTorch's 0.1); the moving variance
 *   is updated with the unbiased batch variance, as PyTorch and MindSpore do (`batch_norm.ts`).
 * - `tiny` is the same builder with Bottleneck blocks [1, 1, 1, 1] and base width 8, for tests.
 *
 * Every layer is named after its place in the tutorial's MindSpore network, so a checkpoint is legible and
 * imported weights find their layer: `conv1`, `norm`, `layer1.0.conv1`, `layer1.0.norm1`, …,
 * `layer1.0.down_sample.0` (conv), `layer1.0.down_sample.1` (BN), `fc`. Weights are named
 * `<layer>/kernel`, `<layer>/gamma`, `<layer>/beta`, `<layer>/moving_mean`, `<layer>/moving_variance`,
 * `fc/kernel`, `fc/bias`.
 *
 * Every initializer is seeded from the run's seed and the layer's name, so a network is the same whatever
 * order it is built in, on any backend.
 *
 * @example
 * ```ts
 * import { buildResNet, countTrainableParams } from "./resnet.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
 * countTrainableParams(model); // 23_528_522
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ReferenceBatchNormalization } from "./batch_norm.ts";
import { CHANNELS, IMAGE_SIZE } from "../data/mod.ts";

/** The two residual block types of the tutorial. */
export type BlockType = "basic" | "bottleneck";

/** The shape of one ResNet: its block type, blocks per stage and the first stage's width. */
export interface ResNetSpec {
  /** Building Block (expansion 1) or Bottleneck (expansion 4). */
  block: BlockType;
  /** Number of blocks in each of the four stages. */
  stages: readonly [number, number, number, number];
  /** Channels of the stem and of the first stage's inner convs (64 in the paper); doubles each stage. */
  width: number;
}

/** Network families the model builder knows. `tiny` is the same builder, narrow and shallow, for tests. */
export const ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "tiny"] as const;
/** One network family. */
export type Arch = typeof ARCHS[number];

/** Every network family the builder knows. */
export const RESNET_SPECS: Readonly<Record<Arch, ResNetSpec>> = {
  resnet18: { block: "basic", stages: [2, 2, 2, 2], width: 64 },
  resnet34: { block: "basic", stages: [3, 4, 6, 3], width: 64 },
  resnet50: { block: "bottleneck", stages: [3, 4, 6, 3], width: 64 },
  resnet101: { block: "bottleneck", stages: [3, 4, 23, 3], width: 64 },
  resnet152: { block: "bottleneck", stages: [3, 8, 36, 3], width: 64 },
  tiny: { block: "bottleneck", stages: [1, 1, 1, 1], width: 8 },
};

/** Output channels of a block relative to its inner width. */
export const EXPANSION: Readonly<Record<BlockType, number>> = { basic: 1, bottleneck: 4 };

/** CIFAR-10 images: 32 × 32 × 3, NHWC. */
export const CIFAR_INPUT_SHAPE: readonly [number, number, number] = [IMAGE_SIZE, IMAGE_SIZE, CHANNELS];

/** Batch-norm epsilon (MindSpore's and PyTorch's default). */
export const BN_EPSILON = 1e-5;
/** Batch-norm moving-average momentum, keras convention (MindSpore's/PyTorch's 0.1 is 1 − 0.9). */
export const BN_MOMENTUM = 0.9;
/** Standard deviation of the conv weights' and down-sample gammas' Normal initializers. */
export const INIT_SIGMA = 0.02;

/**
 * How stride-2 windows are padded.
 * - `"same"`: TensorFlow/MindSpore 'same' padding (the extra row/column goes at the bottom/right).
 * - `"torch"`: explicit symmetric zero padding (`<layer>.pad`, a ZeroPadding2D) before a 'valid' conv or
 *   pool, as PyTorch pads: the stem conv by 3, the max-pool by 1, each stride-2 3×3 conv by 1. With it,
 *   torchvision weights give torchvision's logits.
 */
export type PaddingMode = "same" | "torch";

/** Options of {@linkcode buildResNet}. */
export interface BuildResNetOptions {
  /** Classes of the Dense head. */
  numClasses: number;
  /** Seed of every initializer (integer). */
  seed: number;
  /** Input image shape [height, width, channels]; defaults to CIFAR's [32, 32, 3]. */
  inputShape?: readonly [number, number, number];
  /** Padding of stride-2 windows; defaults to `"same"` (the tutorial's). */
  padding?: PaddingMode;
  /** Base width instead of the family's (null or absent: the family's own). */
  width?: number | null;
}

/**
 * A 32-bit seed for one initializer from the run's seed and the layer's name (FNV-1a), so that each layer
 * draws its own stream whatever the order of building.
 *
 * @example
 * ```ts
 * layerSeed(1, "conv1") === layerSeed(1, "conv1"); // true
 * ```
 */
export function layerSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  const text = `${seed}:${name}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Build a ResNet of the family `arch` with a `numClasses` head. The model's outputs are logits.
 *
 * @example
 * ```ts
 * const tiny = buildResNet("tiny", { numClasses: 10, seed: 7 });
 * tiny.getLayer("layer1.0.down_sample.1"); // the first block's down-sample BN
 * ```
 */
export function buildResNet(arch: Arch, options: BuildResNetOptions): tfl.LayersModel {
  const spec = RESNET_SPECS[arch];
  if (!spec) throw new Error(`Unknown ResNet arch "${arch}"; known: ${Object.keys(RESNET_SPECS).join(", ")}`);
  return buildResNetFromSpec({ ...spec, width: options.width ?? spec.width }, { ...options, name: arch });
}

/**
 * Build a ResNet from an explicit spec (for custom depths and widths); {@linkcode buildResNet} names the
 * families.
 *
 * @example
 * ```ts
 * buildResNetFromSpec({ block: "basic", stages: [1, 1, 1, 1], width: 4 }, { numClasses: 10, seed: 1 });
 * ```
 */
export function buildResNetFromSpec(
  spec: ResNetSpec,
  options: BuildResNetOptions & { name?: string },
): tfl.LayersModel {
  const b = new Builder({ seed: options.seed, padding: options.padding ?? "same", block: spec.block });
  const [blocks1, blocks2, blocks3, blocks4] = spec.stages;
  const input = tfl.input({ shape: [...(options.inputShape ?? CIFAR_INPUT_SHAPE)], name: "input" });

  let x = b.stem(input, spec.width);
  x = b.stack(x, "layer1", spec.width, blocks1, 1);
  x = b.stack(x, "layer2", spec.width * 2, blocks2, 2);
  x = b.stack(x, "layer3", spec.width * 4, blocks3, 2);
  x = b.stack(x, "layer4", spec.width * 8, blocks4, 2);
  x = apply(tfl.layers.globalAveragePooling2d({ name: "avg_pool" }), x);
  const logits = b.head(x, options.numClasses);

  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? "resnet" });
}

/** A layer applied to one symbolic tensor (the one cast the layers API needs, in one place). */
function apply(layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}

/** Layer factories that share the seed, the padding mode and the block type. */
class Builder {
  #seed: number;
  #padding: PaddingMode;
  #block: BlockType;

  constructor(options: { seed: number; padding: PaddingMode; block: BlockType }) {
    this.#seed = options.seed;
    this.#padding = options.padding;
    this.#block = options.block;
  }

  /** The ImageNet stem, kept at 32×32: conv1 (7×7/2), norm, relu, max_pool (3×3/2). */
  stem(x: tfl.SymbolicTensor, width: number): tfl.SymbolicTensor {
    x = this.relu(this.bn(this.conv(x, "conv1", width, 7, 2), "norm"), "relu");
    const torch = this.#padding === "torch";
    if (torch) x = this.pad(x, "max_pool", 1);
    const pool = { poolSize: 3, strides: 2, name: "max_pool" } as const;
    return apply(tfl.layers.maxPooling2d({ ...pool, padding: torch ? "valid" : "same" }), x);
  }

  /** One stage, `layerN`: `blocks` residual blocks, the first with `stride` and a down-sample if needed. */
  stack(x: tfl.SymbolicTensor, name: string, channel: number, blocks: number, stride: number) {
    const outChannels = channel * EXPANSION[this.#block];
    for (let i = 0; i < blocks; i++) {
      const s = i === 0 ? stride : 1;
      const downSample = i === 0 && (s !== 1 || x.shape.at(-1) !== outChannels);
      x = this.#block === "bottleneck"
        ? this.bottleneck(x, `${name}.${i}`, channel, s, downSample)
        : this.basic(x, `${name}.${i}`, channel, s, downSample);
    }
    return x;
  }

  /** The head as MindSpore's nn.Dense and torch.nn.Linear: U(−1/√fanIn, 1/√fanIn) for kernel and bias. */
  head(x: tfl.SymbolicTensor, numClasses: number): tfl.SymbolicTensor {
    const bound = 1 / Math.sqrt(x.shape.at(-1) as number);
    const uniform = (name: string) =>
      tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: layerSeed(this.#seed, name) });
    return apply(
      tfl.layers.dense({
        units: numClasses,
        name: "fc",
        kernelInitializer: uniform("fc/kernel"),
        biasInitializer: uniform("fc/bias"),
      }),
      x,
    );
  }

  conv(x: tfl.SymbolicTensor, name: string, filters: number, kernel: number, stride: number) {
    let pad: "same" | "valid" = "same";
    if (kernel === 1) pad = "valid"; // a 1×1 window never needs padding; 'valid' is what both frameworks do
    else if (this.#padding === "torch" && stride > 1) {
      x = this.pad(x, name, Math.floor(kernel / 2));
      pad = "valid";
    }
    const seed = layerSeed(this.#seed, `${name}/kernel`);
    return apply(
      tfl.layers.conv2d({
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: pad,
        useBias: false,
        name,
        kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: INIT_SIGMA, seed }),
      }),
      x,
    );
  }

  pad(x: tfl.SymbolicTensor, name: string, amount: number) {
    return apply(tfl.layers.zeroPadding2d({ padding: amount, name: `${name}.pad` }), x);
  }

  bn(x: tfl.SymbolicTensor, name: string, gammaNormal = false) {
    const seed = layerSeed(this.#seed, `${name}/gamma`);
    return apply(
      new ReferenceBatchNormalization({
        axis: -1,
        momentum: BN_MOMENTUM,
        epsilon: BN_EPSILON,
        name,
        gammaInitializer: gammaNormal
          ? tfl.initializers.randomNormal({ mean: 1, stddev: INIT_SIGMA, seed })
          : "ones",
      }),
      x,
    );
  }

  relu(x: tfl.SymbolicTensor, name: string) {
    return apply(tfl.layers.reLU({ name }), x);
  }

  shortcut(x: tfl.SymbolicTensor, prefix: string, filters: number, stride: number) {
    const conv = this.conv(x, `${prefix}.down_sample.0`, filters, 1, stride);
    return this.bn(conv, `${prefix}.down_sample.1`, true);
  }

  add(a: tfl.SymbolicTensor, b: tfl.SymbolicTensor, prefix: string) {
    return apply(tfl.layers.add({ name: `${prefix}.add` }), [a, b]);
  }

  /** Bottleneck: 1×1 → 3×3 (stride) → 1×1 (×4), each with BN; ReLU after the first two and after the add. */
  bottleneck(x: tfl.SymbolicTensor, prefix: string, channel: number, stride: number, downSample: boolean) {
    const identity = downSample ? this.shortcut(x, prefix, channel * 4, stride) : x;
    let y = this.conv(x, `${prefix}.conv1`, channel, 1, 1);
    y = this.relu(this.bn(y, `${prefix}.norm1`), `${prefix}.relu1`);
    y = this.conv(y, `${prefix}.conv2`, channel, 3, stride);
    y = this.relu(this.bn(y, `${prefix}.norm2`), `${prefix}.relu2`);
    y = this.conv(y, `${prefix}.conv3`, channel * 4, 1, 1);
    y = this.bn(y, `${prefix}.norm3`);
    return this.relu(this.add(y, identity, prefix), `${prefix}.relu`);
  }

  /**
   * Building Block: 3×3 (stride) → 3×3, each with its own BN (`norm1`, `norm2`; the tutorial reuses one BN
   * cell for both, which we do not copy: two convs need two sets of statistics).
   */
  basic(x: tfl.SymbolicTensor, prefix: string, channel: number, stride: number, downSample: boolean) {
    const identity = downSample ? this.shortcut(x, prefix, channel, stride) : x;
    let y = this.conv(x, `${prefix}.conv1`, channel, 3, stride);
    y = this.relu(this.bn(y, `${prefix}.norm1`), `${prefix}.relu1`);
    y = this.conv(y, `${prefix}.conv2`, channel, 3, 1);
    y = this.bn(y, `${prefix}.norm2`);
    return this.relu(this.add(y, identity, prefix), `${prefix}.relu`);
  }
}

/**
 * Number of trainable parameters (conv kernels, BN gammas and betas, the head), as PyTorch counts
 * `requires_grad` parameters; BN moving statistics are not counted.
 *
 * @example
 * ```ts
 * countTrainableParams(buildResNet("resnet50", { numClasses: 10, seed: 1 })); // 23_528_522
 * ```
 */
export function countTrainableParams(model: tfl.LayersModel): number {
  let total = 0;
  for (const w of model.trainableWeights) total += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  return total;
}

/**
 * The model's weights as `name → tensor` with their saved names (`layer1.0.conv1/kernel`, …), trainable and
 * not. The tensors are the model's own variables: read them, do not dispose them.
 *
 * @example
 * ```ts
 * const model = buildResNet("tiny", { numClasses: 10, seed: 1 });
 * const weights = namedWeights(model);
 * weights.get("fc/bias")!.shape; // [10]
 * ```
 */
export function namedWeights(model: tfl.LayersModel): Map<string, tf.Variable> {
  const map = new Map<string, tf.Variable>();
  for (const w of model.weights) map.set(w.originalName, w.read() as tf.Variable);
  return map;
}
