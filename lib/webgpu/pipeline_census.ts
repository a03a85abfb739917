/**
 * How many compute pipelines the webgpu backend has created, by kernel family, and a hook that hears of each
 * new one: what a first step spends its time on with a software adapter, where each pipeline's shader is
 * compiled to machine code on its first dispatch (about 0.1 s for a small shader, seconds for a large
 * register tile, on llvmpipe).
 *
 * The census wraps the backend's `runWebGPUProgram` (once; idempotent) and watches tfjs's pipeline cache
 * grow. A family is the program's kind, named from its key: the project's kernels by what they compute
 * ("conv forward", "batch norm", …), tfjs's own by their program name ("tfjs binary", …).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { pipelineCensus } from "./pipeline_census.ts";
 * await tf.setBackend("webgpu");
 * const census = pipelineCensus(tf.backend());
 * tf.square(tf.scalar(2)).dataSync();
 * census.total; // 1 or more
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Program } from "./program.ts";

/** The project's program kinds by the second part of their key (`cpu3_dw_8x8` → "conv filter gradient"). */
const PROJECT_FAMILIES: Record<string, string> = {
  conv: "conv forward",
  dw: "conv filter gradient",
  dx: "conv input gradient",
  dx4: "conv input gradient",
  dx1: "conv input gradient",
  wt: "filter transpose",
  colreduce: "Sum/Mean per channel",
  bn: "batch norm",
  momentum: "Momentum update",
};

/**
 * The family of a program from its key: the project's kinds (`cpu3_…` of the `cpu` set, `cpu2_…`, `bn_…`,
 * `momentum_…` of `cpu-prev`, `tgemm_…` of the tiled GEMM), else "tfjs " and tfjs's program name.
 *
 * @example
 * ```ts
 * programFamily("cpu3_conv_nobias_relu_8x8_r333"); // "conv forward"
 * programFamily("binary_8_1,1,1float32"); // "tfjs binary"
 * ```
 */
export function programFamily(key: string): string {
  const parts = key.split("_");
  if (parts[0] === "cpu3" || parts[0] === "cpu2") return PROJECT_FAMILIES[parts[1]] ?? parts[1];
  if (parts[0] === "bn" || parts[0] === "momentum") return PROJECT_FAMILIES[parts[0]];
  if (parts[0] === "tgemm") return parts[1] === "sum" ? "tiled GEMM split sum" : "tiled GEMM";
  return `tfjs ${parts[0]}`;
}

/** The pipelines created since the census began, and a hook for new ones. */
export interface PipelineCensus {
  /** Pipelines created in all. */
  total: number;
  /** Pipelines created per family. */
  byFamily: Map<string, number>;
  /** Called after each new pipeline is created (the shader compiles on its first dispatch). */
  onNew: ((family: string, total: number) => void) | null;
}

const CENSUS = Symbol("pipelineCensus");

interface Censused {
  [CENSUS]?: PipelineCensus;
  pipelineCache: Record<string, unknown>;
  runWebGPUProgram(program: Program, ...rest: unknown[]): tf.TensorInfo;
}

/**
 * The census of `backend` (tfjs's webgpu backend), started on first call: later calls return the same one.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const census = pipelineCensus(tf.backend());
 * census.onNew = (family, total) => console.log(`compiling ${family} (${total})`);
 * ```
 */
export function pipelineCensus(backend: tf.KernelBackend): PipelineCensus {
  const b = backend as unknown as Censused;
  if (b[CENSUS]) return b[CENSUS];
  const census: PipelineCensus = { total: 0, byFamily: new Map(), onNew: null };
  if (typeof b.runWebGPUProgram !== "function" || !b.pipelineCache) return census;
  const original = b.runWebGPUProgram.bind(b);
  b.runWebGPUProgram = (program, ...rest) => {
    const before = Object.keys(b.pipelineCache).length;
    const key = program.shaderKey;
    const out = original(program, ...rest);
    if (Object.keys(b.pipelineCache).length > before) {
      const family = programFamily(key);
      census.total++;
      census.byFamily.set(family, (census.byFamily.get(family) ?? 0) + 1);
      census.onNew?.(family, census.total);
    }
    return out;
  };
  b[CENSUS] = census;
  return census;
}
