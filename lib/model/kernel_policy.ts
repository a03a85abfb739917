/**
 * Which convolution kernels the webgpu backend runs: a policy asked for on the command line (`--kernels`)
 * and the kernel set it resolves to on the adapter at hand.
 *
 * - `cpu`: the kernels shaped for a software adapter (lib/model/kernels/cpu_kernels.ts): register tiles
 *   of up to 32 rows × 32 channels per invocation, 8-lane workgroups, no workgroup memory.
 * - `cpu-v1`: the software-adapter kernels of round 1 (16 rows × 4 channels per invocation), kept so that
 *   the throughput bench can compare. `project`, their name before the `gpu` set, is accepted as an alias of
 *   `cpu`.
 * - `gpu`: the kernels shaped for a hardware GPU (lib/model/kernels/gpu_kernels.ts): tiled
 *   workgroup-memory implicit GEMMs, split-K with a second summing pass for the filter gradient.
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

/** The kernel policies `--kernels` accepts (`project` is the old name of `cpu`). */
export const KERNEL_POLICIES = ["auto", "cpu", "cpu-v1", "gpu", "stock", "project"] as const;
/** One kernel policy. */
export type KernelPolicy = typeof KERNEL_POLICIES[number];

/** The kernel sets a policy resolves to. */
export const KERNEL_SETS = ["cpu", "cpu-v1", "gpu", "stock"] as const;
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
 * hardware one; `project` is `cpu`; with no adapter (the cpu backend) every policy is `stock`.
 *
 * @example
 * ```ts
 * resolveKernelPolicy("auto", { name: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true }); // "cpu"
 * resolveKernelPolicy("project", null); // "stock" (no webgpu adapter: the cpu backend)
 * ```
 */
export function resolveKernelPolicy(policy: KernelPolicy, adapter: AdapterIdentity | null): KernelSet {
  if (!(KERNEL_POLICIES as readonly string[]).includes(policy)) {
    throw new Error(`Unknown kernel policy "${policy}"; use one of ${KERNEL_POLICIES.join(", ")}`);
  }
  if (!adapter) return "stock";
  if (policy === "project") return "cpu";
  if (policy === "auto") return isSoftwareAdapter(adapter) ? "cpu" : "gpu";
  return policy;
}
