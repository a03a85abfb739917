/**
 * Determinism for tfjs-webgpu: no float atomics. For a matmul with few output tiles and a long reduction
 * (the ResNet head's 16×2048 · 2048×10, a layer4 1×1 conv at small batch) tfjs-webgpu 4.22 picks its
 * split-K program, which adds each split's partial sums into the output with atomics in whatever order the
 * threads finish: the same inputs then give different bits from run to run. The guard wraps the backend's
 * `runWebGPUProgram` and runs such a program as the project's tiled GEMM with a two-pass split-K
 * (tiled_gemm.ts) instead. It also counts every other program that writes with atomics,
 * so a test can assert that training runs none.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { atomicProgramsRun, installDeterminismGuard } from "./deterministic_guard.ts";
 * await tf.setBackend("webgpu");
 * installDeterminismGuard(tf.backend());
 * atomicProgramsRun(); // 0
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Program, WebGPUBackendLike } from "./program.ts";
import { runTiledGemm } from "./tiled_gemm.ts";

/** The fields of tfjs's MatMulSplitKProgram the replacement reads. */
interface SplitKProgram extends Program {
  transposeA: boolean;
  transposeB: boolean;
}

const GUARDED = Symbol("deterministicGuard");
const counts = { replaced: 0, atomic: new Map<string, number>() };

/**
 * Make `backend` (tfjs's webgpu backend) run no float-atomic program: its split-K matmul becomes a
 * deterministic two-pass one. Idempotent; a no-op for other backends.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * installDeterminismGuard(tf.backend()); // the next head matmul gives the same bits every run
 * ```
 */
export function installDeterminismGuard(backend: tf.KernelBackend): void {
  const b = backend as unknown as WebGPUBackendLike & { [GUARDED]?: boolean };
  if (typeof b.runWebGPUProgram !== "function" || b[GUARDED]) return;
  const original = b.runWebGPUProgram.bind(b);
  b.runWebGPUProgram = (program, inputs, dtype, uniforms, output) => {
    if (program.atomic && program.shaderKey.startsWith("matMulSplitK") && inputs.length === 2 && output) {
      const p = program as SplitKProgram;
      const [a, bm] = inputs;
      const [, M, N] = p.outputShape;
      const K = p.transposeA ? a.shape[1] : a.shape[2];
      const out = runTiledGemm({
        runWebGPUProgram: original,
        disposeData: (id) => b.disposeData(id),
        device: b.device,
      }, {
        key: `mm_${p.transposeA}_${p.transposeB}`,
        M,
        N,
        K,
        inputs: [a, bm],
        variableNames: ["A", "B"],
        loadA: p.transposeA
          ? "return A[k * uniforms.gemmDims.x + m];"
          : "return A[m * uniforms.gemmDims.z + k];",
        loadB: p.transposeB
          ? "return B[n * uniforms.gemmDims.z + k];"
          : "return B[k * uniforms.gemmDims.y + n];",
        aFast: p.transposeA ? "m" : "k",
        bFast: p.transposeB ? "k" : "n",
        outputShape: [1, M, N],
        output,
      });
      if (out) {
        counts.replaced++;
        return out;
      }
    }
    if (program.atomic) {
      const name = program.shaderKey.split("_")[0];
      counts.atomic.set(name, (counts.atomic.get(name) ?? 0) + 1);
    }
    return original(program, inputs, dtype, uniforms, output);
  };
  b[GUARDED] = true;
}

/**
 * How many float-atomic programs tfjs ran since the guard was installed (or the last reset), by program
 * name; split-K matmuls the guard replaced are not among them.
 *
 * @example
 * ```ts
 * atomicProgramsRun(); // 0 after a ResNet training step
 * ```
 */
export function atomicProgramsRun(): number {
  return [...counts.atomic.values()].reduce((a, n) => a + n, 0);
}

/**
 * The guard's counters: split-K matmuls replaced, and the atomic programs that ran anyway, by name.
 *
 * @example
 * ```ts
 * const { replaced, atomic } = determinismCounters(); // e.g. { replaced: 2, atomic: {} }
 * ```
 */
export function determinismCounters(): { replaced: number; atomic: Record<string, number> } {
  return { replaced: counts.replaced, atomic: Object.fromEntries(counts.atomic) };
}

/**
 * Reset the guard's counters.
 *
 * @example
 * ```ts
 * resetDeterminismCounters();
 * ```
 */
export function resetDeterminismCounters(): void {
  counts.replaced = 0;
  counts.atomic.clear();
}
