/**
 * The model: the ResNet builder, batch normalization, checkpoint I/O and inference over batches. Knows
 * nothing of runs or training; the backend and its kernels are lib/webgpu.
 *
 * @module
 */
export * from "./batch_norm.ts";
export * from "./checkpoint.ts";
export * from "./predict.ts";
export * from "./resnet.ts";
