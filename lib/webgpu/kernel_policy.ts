/**
 * Which convolution kernels the webgpu backend runs: a policy asked for on the command line (`--kernels`)
 * and the kernel set it resolves to on the adapter at hand.
 *
 * - `cpu`: the kernels shaped for a software adapter (cpu/): shape-generic register-tiled implicit GEMMs
 *   (up to 8 rows × 32 channels per invocation, 8-lane workgroups, no workgroup memory), per-channel
 *   reductions, batch norm's gradient and the Momentum update as fused programs.
 * - `cpu-prev`: the same with every size written into the shader and tiles up to 32 × 32 (cpu_prev/):
 *   a pipeline per layer shape; kept so that the throughput bench can compare compile and step times.
 * - `gpu`: the kernels shaped for a hardware GPU (gpu_conv.ts): tiled workgroup-memory implicit GEMMs,
 *   split-K with a second summing pass for the filter gradient.
 * - `stock`: tfjs's own kernels.
 * - `auto` (the default): `cpu` on a software adapter (`isFallbackAdapter`, or a known software name:
 *   llvmpipe, lavapipe, SwiftShader, WARP), `gpu` on a hardware one.
 *
 * @example
 * ```ts
 * import { resolveKernelPolicy } from "./kernel_policy.ts";
 * const adapter = { name: "NVIDIA H200", vendor: "nvidia", architecture: "", device: "", isFallbackAdapter: false };
 * resolveKernelPolicy("auto", adapter); // "gpu"
 * ```
 * @module
 */

/** The kernel policies `--kernels` accepts. */
export const KERNEL_POLICIES = ["auto", "cpu", "cpu-prev", "gpu", "stock"] as const;
/** One kernel policy. */
export type KernelPolicy = typeof KERNEL_POLICIES[number];

/** The kernel sets a policy resolves to. */
export const KERNEL_SETS = ["cpu", "cpu-prev", "gpu", "stock"] as const;
/** One kernel set. */
export type KernelSet = typeof KERNEL_SETS[number];

/** The slice of an adapter description the policy reads. */
export interface AdapterIdentity {
  /** The adapter's name (`GPUAdapterInfo.description`). */
  name: string;
  /** `GPUAdapterInfo.vendor`. */
  vendor?: string;
  /** `GPUAdapterInfo.device`. */
  device?: string;
  /** Whether the adapter says it is a software fallback. */
  isFallbackAdapter: boolean;
}

/** Names of software WebGPU adapters, matched case-insensitively in the name, vendor or device. */
const SOFTWARE_NAMES = [/llvmpipe/i, /lavapipe/i, /swiftshader/i, /\bwarp\b/i, /microsoft basic render/i];

/**
 * Whether `adapter` is a software (CPU) adapter: it says so (`isFallbackAdapter`) or its name is a known
 * software renderer's (llvmpipe, lavapipe, SwiftShader, WARP).
 *
 * @example
 * ```ts
 * isSoftwareAdapter({ name: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: false }); // true
 * ```
 */
export function isSoftwareAdapter(adapter: AdapterIdentity): boolean {
  if (adapter.isFallbackAdapter) return true;
  const text = [adapter.name, adapter.vendor ?? "", adapter.device ?? ""].join(" ");
  return SOFTWARE_NAMES.some((re) => re.test(text));
}

/**
 * The kernel set `policy` means on `adapter`: `auto` picks `cpu` on a software adapter and `gpu` on a
 * hardware one; with no adapter (the cpu backend) every policy is `stock`.
 *
 * @example
 * ```ts
 * resolveKernelPolicy("auto", { name: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true }); // "cpu"
 * resolveKernelPolicy("cpu", null); // "stock" (no webgpu adapter: the cpu backend)
 * ```
 */
export function resolveKernelPolicy(policy: KernelPolicy, adapter: AdapterIdentity | null): KernelSet {
  if (!(KERNEL_POLICIES as readonly string[]).includes(policy)) {
    throw new Error(`Unknown kernel policy "${policy}"; use one of ${KERNEL_POLICIES.join(", ")}`);
  }
  if (!adapter) return "stock";
  if (policy === "auto") return isSoftwareAdapter(adapter) ? "cpu" : "gpu";
  return policy;
}
