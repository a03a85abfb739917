/**
 * WebGPU for tfjs: the backend and adapter choice, the kernel sets that replace tfjs's convolutions,
 * reductions and training updates (one set per adapter kind), and the determinism guard. Knows nothing of
 * the network, of runs or of training loops.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./kernel_policy.ts";
export * from "./kernel_sets.ts";
export * from "./pipeline_census.ts";
export {
  CONV_KERNEL_NAMES,
  type ConvKernelName,
  OTHER_KERNEL_NAMES,
  type OtherKernelName,
  REDUCE_KERNEL_NAMES,
  type ReduceKernelName,
  type SetKernelName,
} from "./program.ts";
export {
  atomicProgramsRun,
  determinismCounters,
  installDeterminismGuard,
  resetDeterminismCounters,
} from "./deterministic_guard.ts";
export { type GemmPlan, planGemm } from "./tiled_gemm.ts";
export { convTiles, type Tile } from "./cpu/conv.ts";
export { fusedBatchNormGradAvailable } from "./cpu/batch_norm.ts";
export { chooseTile } from "./cpu_prev/conv.ts";
