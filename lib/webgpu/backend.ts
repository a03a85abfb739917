/**
 * Choose the tfjs backend (WebGPU by default, cpu for comparisons) and describe the WebGPU adapter.
 *
 * @example
 * ```ts
 * import { formatAdapter, selectBackend } from "./backend.ts";
 * const info = await selectBackend("webgpu");
 * console.log(formatAdapter(info.adapter)); // "llvmpipe (LLVM 15.0.6, 256 bits), software fallback adapter"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import { PipelineError } from "../core/mod.ts";
import { registerKernelSet } from "./kernel_sets.ts";
import { type KernelPolicy, type KernelSet, resolveKernelPolicy } from "./kernel_policy.ts";

/** The tfjs backends a run may train on. */
export const BACKENDS = ["webgpu", "cpu"] as const;
/** One tfjs backend. */
export type Backend = typeof BACKENDS[number];

/** What the WebGPU adapter says about itself. */
export interface AdapterDescription {
  /** The adapter's human-readable name (`GPUAdapterInfo.description`, else its device id). */
  name: string;
  /** `GPUAdapterInfo.vendor` (may be a PCI id or empty). */
  vendor: string;
  /** `GPUAdapterInfo.architecture` (often empty). */
  architecture: string;
  /** `GPUAdapterInfo.device` (often a PCI id or empty). */
  device: string;
  /** Whether it is a software fallback (llvmpipe, lavapipe, SwiftShader): slow. */
  isFallbackAdapter: boolean;
}

/** The backend a run computes on, and its adapter (null for the cpu backend). */
export interface BackendInfo {
  backend: Backend;
  adapter: AdapterDescription | null;
  /** The webgpu backend's convolution kernels the policy resolved to (always "stock" on cpu). */
  kernels: KernelSet;
  /** The kernel policy asked for (`--kernels`). */
  kernelPolicy: KernelPolicy;
  /** The adapter's limits the `gpu` kernels size their tiles from (null for the cpu backend). */
  limits?: Record<string, number> | null;
}

/**
 * Ask `navigator.gpu` for an adapter and describe it; null when WebGPU is missing (no `--unstable-webgpu`)
 * or no adapter exists.
 *
 * @example
 * ```ts
 * const adapter = await describeAdapter();
 * if (adapter?.isFallbackAdapter) console.log("software WebGPU: slow");
 * ```
 */
export async function describeAdapter(): Promise<AdapterDescription | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info as GPUAdapterInfo & { description?: string; isFallbackAdapter?: boolean };
  const legacyFallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    name: info.description || info.device || info.vendor || "unknown adapter",
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFallback ?? false),
  };
}

/**
 * The kernel set `policy` resolves to for `backend` on this machine's adapter, without starting tfjs:
 * `"stock"` on the cpu backend or when no adapter exists. The train stage puts it in its cache key, so a
 * run resolved to `gpu` on one machine is not taken from the cache on a machine that resolves to `cpu`.
 *
 * @example
 * ```ts
 * await resolveKernelSetFor("webgpu", "auto"); // "cpu" on llvmpipe, "gpu" on an H200
 * ```
 */
export async function resolveKernelSetFor(backend: Backend, policy: KernelPolicy): Promise<KernelSet> {
  if (backend !== "webgpu") return "stock";
  ensureRuntimeDir();
  return resolveKernelPolicy(policy, await describeAdapter());
}

/**
 * One line for the log: the adapter's name and whether it is a software fallback.
 *
 * @example
 * ```ts
 * formatAdapter(null); // "cpu backend (no WebGPU adapter in use)"
 * ```
 */
export function formatAdapter(adapter: AdapterDescription | null): string {
  if (!adapter) return "cpu backend (no WebGPU adapter in use)";
  const parts = [adapter.name];
  if (adapter.vendor && adapter.vendor !== adapter.name) parts.push(`vendor ${adapter.vendor}`);
  if (adapter.architecture) parts.push(adapter.architecture);
  parts.push(adapter.isFallbackAdapter ? "software fallback adapter" : "hardware adapter");
  return parts.join(", ");
}

/**
 * Mesa's GL/EGL probing prints "error: XDG_RUNTIME_DIR is invalid or not set" on machines without a login
 * session (CI, containers), which reads like a fault of ours. Give it a private folder before the first
 * adapter request, as a login session would.
 */
function ensureRuntimeDir(): void {
  if (Deno.env.get("XDG_RUNTIME_DIR")) return;
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/resnet-cifar-deno-runtime-${Deno.uid() ?? "user"}`;
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Only cosmetic: Mesa then prints its warning.
  }
}

/** Options of {@linkcode selectBackend}. */
export interface SelectBackendOptions {
  /** The stage named in errors (default "train"). */
  stage?: string;
  /**
   * On webgpu, which convolution kernels to run (kernel_policy.ts): `auto` (default) picks `cpu`
   * on a software adapter (4–20× faster than tfjs's there) and `gpu` on a hardware one; `stock` is tfjs's.
   */
  kernels?: KernelPolicy;
}

/**
 * Make `backend` tfjs's active backend and describe what it runs on. For `"webgpu"` with no adapter it
 * throws one clear line pointing at `--backend cpu`; with one, it swaps in the kernel set that
 * `options.kernels` resolves to on that adapter (`auto`: `cpu` on software, `gpu` on hardware).
 *
 * @example
 * ```ts
 * const { backend, adapter } = await selectBackend("cpu");
 * ```
 */
export async function selectBackend(
  backend: Backend,
  options: SelectBackendOptions = {},
): Promise<BackendInfo> {
  const stage = options.stage ?? "train";
  if (backend === "cpu") {
    if (tf.getBackend() !== "cpu") await quietly(() => tf.setBackend("cpu"));
    await tf.ready();
    return { backend, adapter: null, kernels: "stock", kernelPolicy: options.kernels ?? "auto" };
  }
  if (backend !== "webgpu") throw new PipelineError(stage, `Unknown backend "${backend}"; use webgpu or cpu`);
  if (!(globalThis.navigator as Navigator | undefined)?.gpu) {
    throw new PipelineError(
      stage,
      "WebGPU is not available in this Deno: run with --unstable-webgpu (the deno tasks do), or use --backend cpu",
    );
  }
  ensureRuntimeDir();
  const adapter = await describeAdapter();
  if (!adapter) {
    throw new PipelineError(
      stage,
      "No WebGPU adapter found; install a Vulkan/GL driver (Mesa's llvmpipe works) or use --backend cpu",
    );
  }
  if (tf.getBackend() !== "webgpu") {
    const ok = await quietly(() => tf.setBackend("webgpu"));
    if (!ok) {
      throw new PipelineError(
        stage,
        `tfjs could not start its WebGPU backend on ${adapter.name}; use --backend cpu`,
      );
    }
  }
  await tf.ready();
  const kernelPolicy = options.kernels ?? "auto";
  const kernels = resolveKernelPolicy(kernelPolicy, adapter);
  registerKernelSet(kernels);
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  const limits: Record<string, number> = {};
  for (const key of LIMITS_REPORTED) {
    const value = device?.limits?.[key];
    if (typeof value === "number") limits[key] = value;
  }
  return { backend, adapter, kernels, kernelPolicy, limits };
}

/** The device limits {@linkcode selectBackend} reports (the ones the `gpu` kernels size their tiles from). */
const LIMITS_REPORTED = [
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
] as const;

/**
 * Run `fn` with tfjs's "install tfjs-node" advice silenced: it cannot apply under Deno. The cpu backend
 * prints it on its first write, so mark that write as done.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const result = await fn();
  const cpu = tf.findBackend("cpu") as (tf.KernelBackend & { firstUse?: boolean }) | null;
  if (cpu && "firstUse" in cpu) cpu.firstUse = false;
  return result;
}
