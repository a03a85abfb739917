/**
 * The model: the ResNet builder, the backend and adapter choice, the WebGPU kernels, checkpoint I/O and inference over batches. Knows nothing of runs or training.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./batch_norm.ts";
export * from "./checkpoint.ts";
export * from "./predict.ts";
export * from "./resnet.ts";
export * from "./webgpu_kernels.ts";
