import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { describeAdapter, formatAdapter, selectBackend } from "../lib/model/backend.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { activeKernelSet, projectKernelsActive } from "../lib/model/webgpu_kernels.ts";
import { isSoftwareAdapter, resolveKernelPolicy } from "../lib/model/kernel_policy.ts";

Deno.test("formatAdapter names the adapter and says whether it is a software fallback", () => {
  const llvmpipe = {
    name: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "65541",
    architecture: "",
    device: "0",
    isFallbackAdapter: true,
  };
  assert.equal(
    formatAdapter(llvmpipe),
    "llvmpipe (LLVM 15.0.6, 256 bits), vendor 65541, software fallback adapter",
  );
  assert.equal(
    formatAdapter({
      name: "NVIDIA H200",
      vendor: "nvidia",
      architecture: "hopper",
      device: "",
      isFallbackAdapter: false,
    }),
    "NVIDIA H200, vendor nvidia, hopper, hardware adapter",
  );
  assert.equal(formatAdapter(null), "cpu backend (no WebGPU adapter in use)");
});

Deno.test("selectBackend('cpu') makes cpu tfjs's backend and reports no adapter", async () => {
  const info = await selectBackend("cpu");
  assert.deepEqual(info, { backend: "cpu", adapter: null, kernels: "stock", kernelPolicy: "auto" });
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("with no WebGPU adapter, selectBackend('webgpu') fails with one line pointing at --backend cpu", async () => {
  const gpu = navigator.gpu;
  if (!gpu) {
    // Deno without --unstable-webgpu: the same kind of one-line error
    await assert.rejects(() => selectBackend("webgpu"), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /--backend cpu/);
      return true;
    });
    return;
  }
  const original = gpu.requestAdapter;
  Object.defineProperty(gpu, "requestAdapter", { value: () => Promise.resolve(null), configurable: true });
  try {
    assert.equal(await describeAdapter(), null);
    await assert.rejects(() => selectBackend("webgpu", { stage: "train" }), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.stage, "train");
      assert.match(err.toLine(), /^error: \[train\] No WebGPU adapter found; .*use --backend cpu$/);
      return true;
    });
  } finally {
    Object.defineProperty(gpu, "requestAdapter", { value: original, configurable: true, writable: true });
  }
});

Deno.test({
  name: "describeAdapter reports this machine's adapter",
  ignore: !navigator.gpu,
  fn: async () => {
    const adapter = await describeAdapter();
    if (!adapter) {
      console.error("\n!!! backend_test: this machine has no WebGPU adapter !!!\n");
      return;
    }
    assert.ok(adapter.name.length > 0);
    assert.equal(typeof adapter.isFallbackAdapter, "boolean");
  },
});

Deno.test("the kernel policy resolves per adapter: auto is cpu on software adapters, gpu on hardware ones", () => {
  const adapter = (name: string, isFallbackAdapter: boolean, vendor = "") => ({
    name,
    vendor,
    isFallbackAdapter,
  });
  const h200 = adapter("NVIDIA H200", false, "nvidia");
  const llvmpipe = adapter("llvmpipe (LLVM 15.0.6, 256 bits)", true);
  assert.equal(resolveKernelPolicy("auto", h200), "gpu");
  assert.equal(resolveKernelPolicy("auto", llvmpipe), "cpu");
  // software by name even where the adapter does not say it is a fallback
  for (
    const name of [
      "llvmpipe (LLVM 15.0.6, 256 bits)",
      "Lavapipe",
      "SwiftShader Device (Subzero)",
      "Microsoft Basic Render Driver (WARP)",
    ]
  ) {
    assert.ok(isSoftwareAdapter(adapter(name, false)), name);
    assert.equal(resolveKernelPolicy("auto", adapter(name, false)), "cpu", name);
  }
  for (
    const name of ["NVIDIA H200", "AMD Radeon RX 7900 XTX", "Apple M2", "Intel(R) Arc(tm) A770 Graphics"]
  ) {
    assert.ok(!isSoftwareAdapter(adapter(name, false)), name);
  }
  // explicit sets win; project is another name of cpu; no adapter (cpu backend) is always stock
  assert.equal(resolveKernelPolicy("cpu", h200), "cpu");
  assert.equal(resolveKernelPolicy("gpu", llvmpipe), "gpu");
  assert.equal(resolveKernelPolicy("stock", h200), "stock");
  assert.equal(resolveKernelPolicy("project", h200), "cpu");
  assert.equal(resolveKernelPolicy("cpu-v1", llvmpipe), "cpu-v1");
  assert.equal(resolveKernelPolicy("auto", null), "stock");
  assert.throws(
    () => resolveKernelPolicy("fast" as "auto", h200),
    /^Error: Unknown kernel policy "fast"; use one of auto, cpu, cpu-v1, gpu, stock, project$/,
  );
});

Deno.test({
  name:
    "selectBackend('webgpu') registers the set the policy resolves to (auto on this adapter and on a faked H200)",
  ignore: !navigator.gpu || !(await navigator.gpu.requestAdapter()),
  fn: async () => {
    const gpu = navigator.gpu;
    const original = gpu.requestAdapter;
    try {
      const info = await selectBackend("webgpu");
      assert.equal(tf.getBackend(), "webgpu");
      assert.equal(info.kernelPolicy, "auto");
      assert.equal(info.kernels, resolveKernelPolicy("auto", info.adapter));
      assert.equal(activeKernelSet(), info.kernels);
      assert.ok((info.limits?.maxComputeInvocationsPerWorkgroup ?? 0) >= 64, JSON.stringify(info.limits));
      const stock = await selectBackend("webgpu", { kernels: "stock" });
      assert.equal(stock.kernels, "stock");
      assert.equal(projectKernelsActive(), false);
      assert.equal((await selectBackend("webgpu", { kernels: "project" })).kernels, "cpu");
      assert.equal(activeKernelSet(), "cpu");
      // a hardware adapter, faked: tfjs's backend is already up, so only the policy reads this description
      const fake = {
        info: { description: "NVIDIA H200", vendor: "nvidia", architecture: "hopper", device: "" },
        isFallbackAdapter: false,
      };
      Object.defineProperty(gpu, "requestAdapter", {
        value: () => Promise.resolve(fake),
        configurable: true,
      });
      const h200 = await selectBackend("webgpu");
      assert.equal(h200.adapter?.name, "NVIDIA H200");
      assert.equal(h200.kernels, "gpu");
      assert.equal(activeKernelSet(), "gpu");
    } finally {
      Object.defineProperty(gpu, "requestAdapter", { value: original, configurable: true, writable: true });
      await selectBackend("webgpu", { kernels: "stock" });
      await selectBackend("cpu");
    }
  },
});
