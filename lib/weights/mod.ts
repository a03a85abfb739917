/**
 * Pretrained weights: safetensors and MindSpore checkpoint readers, the name mapping onto the builder's layers, the `--pretrained` sources.
 *
 * @module
 */
export * from "./mindspore_checkpoint.ts";
export * from "./pretrained_source.ts";
export * from "./safetensors.ts";
export * from "./torch_export.ts";
export * from "./weight_import.ts";
